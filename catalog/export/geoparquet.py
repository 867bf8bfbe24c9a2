"""stac-geoparquet files, written from ndjson and read back, in bounded memory.

The schema is fixed before anything is written: a first pass over the ndjson file
infers one Arrow schema for every item (items of one search may carry different
properties, a later item a property no earlier one has). The pass parses each line and
gives the ``stac-geoparquet`` library's inference only one item of each *shape* (the
member names and JSON types, recursively): items of the same shape infer the same
types, so the schema is the one the library's full pass gives, at a fraction of its
cost. A second pass converts ``CHUNK_SIZE`` items at a time to Arrow with that schema
(the library's ``parse_stac_ndjson_to_arrow``) and writes each chunk as one Parquet row
group (``to_parquet``, a ``ParquetWriter``). Memory holds one chunk, whatever the number
of items. Collections of the items go into the file's ``stac-geoparquet`` metadata, so a
load of the file can create them first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from stac_geoparquet.arrow import (
    parse_stac_ndjson_to_arrow,
    stac_table_to_items,
    to_parquet,
)

# The documented ``schema=`` argument of parse_stac_ndjson_to_arrow takes one; 0.8 keeps
# the class in a private module (pyproject pins stac-geoparquet below 0.9).
from stac_geoparquet.arrow._schema.models import InferredSchema

from catalog.errors import InvalidInput, InvalidStac

CHUNK_SIZE = 10_000
"""Items per Arrow batch (and Parquet row group)."""
METADATA_KEY = b"stac-geoparquet"
SHAPES_KEPT = 100_000
"""Distinct item shapes remembered by the inference pass (past this, it forgets them
and infers from more items: slower, same schema, bounded memory)."""


def _shape(value: Any) -> Hashable:
    """The member names and JSON types of ``value``, recursively, in order: what Arrow's
    inference reads of it."""
    if isinstance(value, dict):
        return tuple((key, _shape(member)) for key, member in value.items())
    if isinstance(value, list):
        return ("[", *dict.fromkeys(_shape(member) for member in value))
    return type(value).__name__


def _wkb(value: Any) -> Hashable:
    # A geometry the library turns into WKB: binary whatever its GeoJSON type.
    return None if value is None else "wkb"


def _with_wkb(members: Mapping[str, Any]) -> Hashable:
    return tuple(
        (name, _wkb(value) if name == "proj:geometry" else _shape(value))
        for name, value in members.items()
    )


def _member_shape(key: str, member: Any) -> Hashable:
    if key == "geometry":
        return _wkb(member)
    if key == "properties" and isinstance(member, dict):
        return _with_wkb(member)
    if key == "assets" and isinstance(member, dict):
        return tuple(
            (name, _with_wkb(asset) if isinstance(asset, dict) else _shape(asset))
            for name, asset in member.items()
        )
    return _shape(member)


def item_shape(item: Mapping[str, Any]) -> Hashable:
    """The shape of an item, with the geometries the library stores as WKB (the item's,
    and ``proj:geometry`` of its properties and assets) reduced to their presence:
    items of one shape get the same Arrow types."""
    return tuple((key, _member_shape(key, member)) for key, member in item.items())


def infer_schema(source: Path, chunk_size: int = CHUNK_SIZE) -> pa.Schema:
    """The Arrow schema (before the library's transformations) that holds every item
    of the ndjson file ``source``: the library's inference over one item per shape,
    ``chunk_size`` items at a time."""
    inferred = InferredSchema()
    seen: set[Hashable] = set()
    kept: list[dict[str, Any]] = []
    with source.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            item = orjson.loads(line)
            shape = item_shape(item)
            if shape in seen:
                continue
            if len(seen) >= SHAPES_KEPT:
                seen.clear()
            seen.add(shape)
            kept.append(item)
            if len(kept) >= chunk_size:
                inferred.update_from_items(kept)
                kept = []
    if kept:
        inferred.update_from_items(kept)
    inferred.manual_updates()
    return inferred.inner


def ndjson_to_geoparquet(
    source: Path,
    target: Path,
    *,
    collections: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> None:
    """Write the items of the ndjson file ``source`` to ``target`` as stac-geoparquet;
    ``progress(n)`` is called with the number of items written so far."""
    schema = infer_schema(source, chunk_size)
    reader = parse_stac_ndjson_to_arrow(source, chunk_size=chunk_size, schema=schema)

    def counted() -> Iterator[pa.RecordBatch]:
        done = 0
        for batch in reader:
            yield batch
            done += batch.num_rows
            if progress is not None:
                progress(done)

    to_parquet(
        pa.RecordBatchReader.from_batches(reader.schema, counted()), target,
        collections=dict(collections) if collections else None,
    )


EMPTY_SCHEMA = pa.schema([
    ("type", pa.string()), ("stac_version", pa.string()), ("id", pa.string()),
    ("geometry", pa.binary()), ("collection", pa.string()),
    ("datetime", pa.timestamp("us", tz="UTC")),
])
"""Columns of an export that matched nothing (no schema can be inferred from no items)."""


def empty_geoparquet(target: Path) -> None:
    """Write a stac-geoparquet file of no items to ``target``."""
    to_parquet(EMPTY_SCHEMA.empty_table(), target)


def _open(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInput(f"{path}: not a readable Parquet file ({exc})") from exc


def geoparquet_collections(file: pq.ParquetFile) -> dict[str, dict[str, Any]]:
    """The collections a stac-geoparquet file's metadata holds, by id."""
    metadata = file.schema_arrow.metadata or {}
    raw = metadata.get(METADATA_KEY)
    if raw is None:
        return {}
    try:
        found = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    held = dict(found.get("collections") or {})
    if isinstance(found.get("collection"), dict) and "id" in found["collection"]:
        held.setdefault(found["collection"]["id"], found["collection"])
    return {k: v for k, v in held.items() if isinstance(v, dict)}


def geoparquet_documents(
    path: Path, chunk_size: int = CHUNK_SIZE
) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(kind, document, source) of a stac-geoparquet file: its collections (from the
    file's metadata), then its items, read one row group batch at a time."""
    file = _open(path)
    for collection_id, collection in geoparquet_collections(file).items():
        yield "collection", collection, f"{path}#collection={collection_id}"
    if file.metadata.num_rows == 0:
        return
    try:
        reader = pa.RecordBatchReader.from_batches(
            file.schema_arrow, file.iter_batches(batch_size=chunk_size)
        )
        for index, item in enumerate(stac_table_to_items(reader)):
            yield "item", item, f"{path}#{index}"
    except (pa.ArrowException, KeyError, ValueError) as exc:
        raise InvalidStac(f"{path}: not stac-geoparquet ({exc})") from exc
