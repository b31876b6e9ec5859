"""Type normalization at the scan: view types become the types every kernel supports."""

from __future__ import annotations

import pyarrow as pa


def normalize_type(dtype: pa.DataType) -> pa.DataType:
    """``string_view`` -> ``string`` and ``binary_view`` -> ``binary``, also inside lists
    and structs; other types pass through unchanged.

    pyarrow's compute kernels do not all accept view types yet, so spillframe casts
    them once where data enters a plan.
    """
    if dtype == pa.string_view():
        return pa.string()
    if dtype == pa.binary_view():
        return pa.binary()
    if pa.types.is_list(dtype):
        return pa.list_(normalize_type(dtype.value_type))
    if pa.types.is_large_list(dtype):
        return pa.large_list(normalize_type(dtype.value_type))
    if pa.types.is_struct(dtype):
        return pa.struct([f.with_type(normalize_type(f.type)) for f in dtype])
    return dtype


def normalize_schema(schema: pa.Schema) -> pa.Schema:
    """The schema with every field's type normalized (see :func:`normalize_type`)."""
    return pa.schema([f.with_type(normalize_type(f.type)) for f in schema])


def normalize_table(table: pa.Table) -> pa.Table:
    """Cast a table to its normalized schema, without schema metadata (no copy when
    nothing changes).

    Metadata such as pandas' index description would otherwise leak into
    ``schema()`` and into files written from the DataFrame.
    """
    target = normalize_schema(table.schema.remove_metadata())
    if target.equals(table.schema, check_metadata=True):
        return table
    if target.equals(table.schema):
        return table.replace_schema_metadata(None)
    return table.cast(target)
