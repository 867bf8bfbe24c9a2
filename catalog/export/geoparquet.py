"""stac-geoparquet files, written from ndjson and read back, in bounded memory.

The conversion is the ``stac-geoparquet`` library's: a first pass over the ndjson file
infers one Arrow schema for every item (items of one search may carry different
properties), a second converts chunk after chunk and writes each as a row group. Only
a chunk of items is in memory at a time. Collections of the items go into the file's
``stac-geoparquet`` metadata, so a load of the file can create them first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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

from catalog.errors import InvalidInput, InvalidStac

CHUNK_SIZE = 10_000
"""Items per Arrow batch (and Parquet row group)."""
METADATA_KEY = b"stac-geoparquet"


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
    # No schema given: the library infers it in a first pass over the file.
    reader = parse_stac_ndjson_to_arrow(source, chunk_size=chunk_size)

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
