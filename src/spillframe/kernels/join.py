"""Join kernels: key coercion, Daft-style output schema and a per-partition hash join.

Semantics:

- ``how`` is one of inner, left, right, outer, semi, anti, cross.
- Null keys never match (SQL); a row with any null key is still kept by the outer
  side(s) of left/right/outer joins and by ``anti``.
- Key pairs are cast to a common type first (:func:`common_key_type`); output key
  columns have that type.
- A key pair with the same name on both sides appears once, at the left position;
  for right/outer joins it is the coalesce of both sides. Keys with different names
  both stay. A right column whose name is taken is renamed ``prefix + name``
  (``"right.x"``), or ``name + suffix`` when ``suffix`` is given.
- semi/anti return the left table's rows (left schema, left order); every other
  join returns nullable fields. Row order is otherwise unspecified.

Acero joins the tables directly, building its hash table on the smaller side.
Payload types Acero cannot carry (lists, structs, maps, view types) take a slower
path: only row indices are joined, and the columns are gathered with ``take``.
A single-key semi/anti join is a membership filter (``is_in``) and keeps left order.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spillframe.kernels.sort import take_rows, take_values
from spillframe.types import common_key_type, without_view_types

__all__ = ["JOIN_HOWS", "common_key_type", "coerce_join_keys", "join_output_schema", "hash_join"]

JOIN_HOWS = ("inner", "left", "right", "outer", "semi", "anti", "cross")
_ACERO_JOIN = {
    "inner": "inner",
    "left": "left outer",
    "right": "right outer",
    "outer": "full outer",
    "semi": "left semi",
    "anti": "left anti",
}


def _check_join_args(
    left: pa.Schema, right: pa.Schema, left_on: list[str], right_on: list[str], how: str
) -> None:
    if how not in JOIN_HOWS:
        raise ValueError(f"unknown join type {how!r}; choose one of {', '.join(JOIN_HOWS)}")
    if how == "cross":
        if left_on or right_on:
            raise ValueError("a cross join takes no join keys")
        return
    if len(left_on) != len(right_on) or not left_on:
        raise ValueError(
            f"a {how} join needs the same positive number of left and right keys, got "
            f"{len(left_on)} and {len(right_on)}"
        )
    for side, schema, names in (("left", left, left_on), ("right", right, right_on)):
        for name in names:
            if schema.get_field_index(name) < 0:
                raise KeyError(f"no {side} join key {name!r} in [{', '.join(schema.names)}]")


def _key_types(
    left: pa.Schema, right: pa.Schema, left_on: list[str], right_on: list[str]
) -> list[pa.DataType]:
    types = []
    for lname, rname in zip(left_on, right_on, strict=True):
        ltype, rtype = left.field(lname).type, right.field(rname).type
        common = common_key_type(ltype, rtype)
        if common is None:
            raise TypeError(
                f"cannot join left key {lname!r} ({ltype}) with right key "
                f"{rname!r} ({rtype}): the types have no common type"
            )
        types.append(common)
    return types


def coerce_join_keys(
    left: pa.Table, right: pa.Table, left_on: list[str], right_on: list[str]
) -> tuple[pa.Table, pa.Table]:
    """Cast each key pair to :func:`common_key_type`.

    Parameters
    ----------
    left, right : pa.Table
        Join inputs (not modified).
    left_on, right_on : list of str
        Key pairs.

    Returns
    -------
    tuple of pa.Table
        ``(left, right)`` with the key columns cast (unchanged columns are shared).

    Raises
    ------
    TypeError
        A pair has no common type; the message names both columns and types.
    """
    types = _key_types(left.schema, right.schema, left_on, right_on)
    for lname, rname, kind in zip(left_on, right_on, types, strict=True):
        for side in ("left", "right"):
            table, name = (left, lname) if side == "left" else (right, rname)
            index = table.schema.get_field_index(name)
            if table.schema.field(index).type != kind:
                table = table.set_column(
                    index, table.schema.field(index).with_type(kind), table.column(index).cast(kind)
                )
            left, right = (table, right) if side == "left" else (left, table)
    return left, right


def _rename(name: str, taken: set[str], prefix: str, suffix: str | None) -> str:
    while name in taken:
        name = name + suffix if suffix is not None else prefix + name
    return name


def join_output_schema(
    left: pa.Schema,
    right: pa.Schema,
    left_on: list[str],
    right_on: list[str],
    how: str,
    prefix: str = "right.",
    suffix: str | None = None,
) -> pa.Schema:
    """Schema of :func:`hash_join` with the same arguments.

    Parameters
    ----------
    left, right : pa.Schema
        Input schemas.
    left_on, right_on : list of str
        Key pairs (empty for ``cross``).
    how : str
        One of :data:`JOIN_HOWS`.
    prefix, suffix : str
        Renaming of clashing right columns (``suffix`` wins when given).

    Returns
    -------
    pa.Schema
        semi/anti: ``left``. Otherwise the left columns, then the right columns
        (without keys merged into a same-named left key), all nullable.

    Raises
    ------
    TypeError
        A key pair has no common type.
    """
    _check_join_args(left, right, left_on, right_on, how)
    if how in ("semi", "anti"):
        return left
    types = _key_types(left, right, left_on, right_on)
    left_types = dict(zip(left_on, types, strict=True))
    right_types = dict(zip(right_on, types, strict=True))
    merged = {r for lname, r in zip(left_on, right_on, strict=True) if lname == r}
    fields = [f.with_type(left_types.get(f.name, f.type)).with_nullable(True) for f in left]
    taken = set(left.names)
    for field in right:
        if field.name in merged:
            continue
        name = _rename(field.name, taken, prefix, suffix)
        taken.add(name)
        kind = right_types.get(field.name, field.type)
        fields.append(field.with_name(name).with_type(kind).with_nullable(True))
    return pa.schema(fields)


def _keys_for_matching(table: pa.Table, on: list[str], tag: str) -> tuple[pa.Table, np.ndarray]:
    """Renamed, Acero-ready key columns plus row index ``tag``, and a has-no-null-key mask."""
    columns, valid = [], np.ones(table.num_rows, dtype=bool)
    for name in on:
        column = table.column(name)
        column = column.cast(without_view_types(column.type))
        if pa.types.is_floating(column.type):
            column = pc.add(column, pa.scalar(0.0, column.type))  # -0.0 matches 0.0
        if column.null_count:
            valid &= column.is_valid().to_numpy(zero_copy_only=False)
        columns.append(column)
    names = [f"{tag}_k{i}" for i in range(len(on))]
    keys = pa.Table.from_arrays(
        [*columns, pa.array(np.arange(table.num_rows))], names=[*names, tag]
    )
    return keys, valid


def _match_indices(
    left: pa.Table, right: pa.Table, left_on: list[str], right_on: list[str], how: str
) -> tuple[pa.Array, pa.Array | None]:
    """Row index pairs of the join (null index = no partner); right is None for semi/anti."""
    lkeys, lvalid = _keys_for_matching(left, left_on, "__l")
    rkeys, rvalid = _keys_for_matching(right, right_on, "__r")
    lkeys_nn, rkeys_nn = lkeys.filter(pa.array(lvalid)), rkeys.filter(pa.array(rvalid))
    empty = pa.array([], pa.int64())
    lidx, ridx = [empty], [empty]
    if lkeys_nn.num_rows and rkeys_nn.num_rows:
        joined = lkeys_nn.join(
            rkeys_nn,
            keys=lkeys.column_names[:-1],
            right_keys=rkeys.column_names[:-1],
            join_type=_ACERO_JOIN[how],
            use_threads=False,
            coalesce_keys=False,
        )
        lidx.append(joined.column("__l").combine_chunks())
        if how not in ("semi", "anti"):
            ridx.append(joined.column("__r").combine_chunks())
        left_alone, right_alone = np.flatnonzero(~lvalid), np.flatnonzero(~rvalid)
    else:  # nothing can match; skip Acero, which rejects some all-null key types
        left_alone, right_alone = np.arange(left.num_rows), np.arange(right.num_rows)
    if how in ("left", "outer", "anti"):
        lidx.append(pa.array(left_alone, pa.int64()))
        ridx.append(pa.nulls(len(left_alone), pa.int64()))
    if how in ("right", "outer"):
        lidx.append(pa.nulls(len(right_alone), pa.int64()))
        ridx.append(pa.array(right_alone, pa.int64()))
    lidx_all = pa.concat_arrays([a.cast(pa.int64()) for a in lidx])
    ridx_all = pa.concat_arrays([a.cast(pa.int64()) for a in ridx])
    return lidx_all, (None if how in ("semi", "anti") else ridx_all)


def _acero_carries(schema: pa.Schema) -> bool:
    """Whether Acero's hash join accepts every column of ``schema`` as payload
    (extension columns, e.g. ``DataType.python()``, come out of it emptied)."""
    return not any(
        pa.types.is_nested(t)
        or pa.types.is_null(t)
        or isinstance(t, pa.ExtensionType)
        or t != without_view_types(t)
        for t in schema.types
    )


def _normalized_keys(table: pa.Table, on: list[str]) -> pa.Table:
    """Float keys with ``-0.0`` made ``0.0``, so that the two match as they compare."""
    for name in dict.fromkeys(on):
        column = table.column(name)
        if pa.types.is_floating(column.type):
            index = table.schema.get_field_index(name)
            table = table.set_column(
                index, table.schema.field(index), pc.add(column, pa.scalar(0.0, column.type))
            )
    return table


def _semi_by_membership(
    left: pa.Table,
    coerced_left: pa.Table,
    right: pa.Table,
    left_on: str,
    right_on: str,
    how: str,
) -> pa.Table:
    """semi/anti on one key: the left rows whose key is (not) among the right keys."""
    keys = _normalized_keys(coerced_left, [left_on]).column(left_on)
    candidates = _normalized_keys(right, [right_on]).column(right_on).combine_chunks()
    found = pc.is_in(keys, value_set=candidates, skip_nulls=True)  # null never matches
    keep = found if how == "semi" else pc.invert(found)
    if all(t == without_view_types(t) for t in left.schema.types):
        return left.filter(keep)
    return take_rows(left, pc.indices_nonzero(keep))  # no filter kernel for view types


def _semi_on_left_hashes(
    left: pa.Table,
    coerced_left: pa.Table,
    right: pa.Table,
    left_on: list[str],
    right_on: list[str],
    how: str,
) -> pa.Table:
    """semi/anti with the hash table built on the (smaller) left keys: Acero's right
    semi/anti join of the right keys with the left keys and row numbers, then the left
    rows at those row numbers, in left order."""
    lkeys, _ = _keys_for_matching(coerced_left, left_on, "__l")
    rkeys, _ = _keys_for_matching(right, right_on, "__r")
    if (
        lkeys.num_rows == 0
        or rkeys.num_rows == 0
        or any(pa.types.is_null(t) for t in (*lkeys.schema.types, *rkeys.schema.types))
    ):
        return _semi_by_indices(left, coerced_left, right, left_on, right_on, how)
    found = (
        rkeys.drop_columns(["__r"])
        .join(
            lkeys,
            keys=rkeys.column_names[:-1],
            right_keys=lkeys.column_names[:-1],
            join_type=f"right {how}",
            use_threads=False,
        )
        .column("__l")
    )
    return take_rows(left, pa.array(np.sort(found.to_numpy())))


def _semi_by_indices(
    left: pa.Table,
    coerced_left: pa.Table,
    right: pa.Table,
    left_on: list[str],
    right_on: list[str],
    how: str,
) -> pa.Table:
    lidx, _ = _match_indices(coerced_left, right, left_on, right_on, how)
    return take_rows(left, pa.array(np.sort(lidx.to_numpy())))


_SWAPPED = {
    "inner": "inner",
    "left outer": "right outer",
    "right outer": "left outer",
    "full outer": "full outer",
}


def _join_direct(
    left: pa.Table,
    right: pa.Table,
    left_on: list[str],
    right_on: list[str],
    how: str,
    schema: pa.Schema,
) -> pa.Table:
    """Acero joins the (key-coerced) tables themselves; the smaller one is the build side.

    Right columns are renamed to their output names first; a right key merged into a
    same-named left key becomes a temporary column, coalesced in for right/outer joins.
    """
    left, right = _normalized_keys(left, left_on), _normalized_keys(right, right_on)
    merged = {lname for lname, rname in zip(left_on, right_on, strict=True) if lname == rname}
    kept_right = iter(schema.names[left.num_columns :])
    names = [f"__right_key_{n}" if n in merged else next(kept_right) for n in right.column_names]
    right_keys = [names[right.schema.get_field_index(n)] for n in right_on]
    right = right.rename_columns(names)
    join_type = _ACERO_JOIN[how]
    if left.num_rows >= right.num_rows:  # Acero hashes its right input
        joined = left.join(
            right,
            keys=left_on,
            right_keys=right_keys,
            join_type=join_type,
            use_threads=False,
            coalesce_keys=False,
        )
    else:
        joined = right.join(
            left,
            keys=right_keys,
            right_keys=left_on,
            join_type=_SWAPPED[join_type],
            use_threads=False,
            coalesce_keys=False,
        )
    columns = []
    for field in schema:
        column = joined.column(field.name)
        if field.name in merged and how in ("right", "outer"):
            column = pc.coalesce(column, joined.column(f"__right_key_{field.name}"))
        columns.append(column.cast(field.type) if column.type != field.type else column)
    return pa.Table.from_arrays(columns, schema=schema)


def _cross_indices(num_left: int, num_right: int) -> tuple[pa.Array, pa.Array]:
    lidx = np.repeat(np.arange(num_left, dtype=np.int64), num_right)
    ridx = np.tile(np.arange(num_right, dtype=np.int64), num_left)
    return pa.array(lidx), pa.array(ridx)


def hash_join(
    left: pa.Table,
    right: pa.Table,
    left_on: list[str],
    right_on: list[str],
    how: str,
    prefix: str = "right.",
    suffix: str | None = None,
) -> pa.Table:
    """Join two partitions on key equality.

    Parameters
    ----------
    left, right : pa.Table
        Co-partitioned inputs (not modified).
    left_on, right_on : list of str
        Key pairs (empty for ``cross``).
    how : str
        inner, left, right, outer, semi, anti or cross.
    prefix, suffix : str
        Renaming of clashing right columns, see :func:`join_output_schema`.

    Returns
    -------
    pa.Table
        Schema exactly ``join_output_schema(left.schema, right.schema, ...)``.

    Examples
    --------
    >>> l = pa.table({"k": [1, 2], "x": ["a", "b"]})
    >>> r = pa.table({"k": [2, 3], "x": ["c", "d"]})
    >>> hash_join(l, r, ["k"], ["k"], "inner").to_pylist()
    [{'k': 2, 'x': 'b', 'right.x': 'c'}]
    """
    schema = join_output_schema(left.schema, right.schema, left_on, right_on, how, prefix, suffix)
    if how == "cross":
        lidx, ridx = _cross_indices(left.num_rows, right.num_rows)
    else:
        coerced_left, right = coerce_join_keys(left, right, left_on, right_on)
        if how in ("semi", "anti") and left.num_rows < right.num_rows:
            return _semi_on_left_hashes(left, coerced_left, right, left_on, right_on, how)
        if how in ("semi", "anti") and len(left_on) == 1:
            return _semi_by_membership(left, coerced_left, right, left_on[0], right_on[0], how)
        if (
            how not in ("semi", "anti")
            and _acero_carries(coerced_left.schema)
            and _acero_carries(right.schema)
            and left.num_rows
            and right.num_rows
        ):
            return _join_direct(coerced_left, right, left_on, right_on, how, schema)
        if how in ("semi", "anti"):  # the left rows, uncast and in input order
            return _semi_by_indices(left, coerced_left, right, left_on, right_on, how)
        lidx, ridx = _match_indices(coerced_left, right, left_on, right_on, how)
        left = coerced_left
    merged = {lname for lname, rname in zip(left_on, right_on, strict=True) if lname == rname}
    columns = []
    for name in left.column_names:
        values = take_values(left.column(name), lidx)
        if name in merged and how in ("right", "outer"):
            values = pc.coalesce(values, take_values(right.column(name), ridx))
        columns.append(values)
    columns += [take_values(right.column(n), ridx) for n in right.column_names if n not in merged]
    return pa.Table.from_arrays(columns, schema=schema)
