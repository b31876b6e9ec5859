"""Type normalization at the scan: view types become the types every kernel supports."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from spillframe.errors import SourceError
from spillframe.types import normalize_type


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


def unify_file_schemas(
    schemas: Iterable[tuple[str, pa.Schema]], kind: str, reader: str
) -> pa.Schema:
    """Unify ``(path, schema)`` pairs in order (types widen where they differ); the
    first file that cannot be unified with the ones before it is named in the error,
    with ``reader``'s ``schema=`` as the fix. ``schemas`` must not be empty."""
    unified: pa.Schema | None = None
    first = ""
    for path, schema in schemas:
        if unified is None:
            unified, first = schema, path
            continue
        try:
            unified = pa.unify_schemas([unified, schema], promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(
                f"the schema of {kind} file {path!r} cannot be unified with {first!r}: "
                f"{exc}; pass schema= to {reader} to choose the types"
            ) from None
    assert unified is not None  # expand_paths never returns an empty list
    return unified
