"""Reading STAC documents from local files: static catalogs, ndjson, JSON, stac-geoparquet
and folders.

Everything here yields plain dicts tagged as collections or items; writing is the
loader's job. Static catalogs (a catalog.json or collection.json tree with relative
links) are walked with pystac; asset hrefs are made absolute and the structural links
(self, root, parent, child, item, collection) dropped, since the APIs write their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple

import orjson
import pystac

from catalog.errors import InvalidInput, InvalidStac
from catalog.stac.links import without_structural_links

DocumentKind = Literal["collection", "item"]
JSON_SUFFIXES = (".json", ".geojson")
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
PARQUET_SUFFIXES = (".parquet", ".geoparquet")


class SourceDocument(NamedTuple):
    """A STAC document read from ``source`` (a path, with a line number for ndjson).

    A named tuple: bulk loads make one per item, and it is cheaper to create."""

    kind: DocumentKind
    doc: dict[str, Any]
    source: str


def _kind_of(doc: Any, source: str) -> DocumentKind | None:
    if not isinstance(doc, dict):
        raise InvalidStac(f"{source}: expected a JSON object")
    kind = doc.get("type")
    if kind == "Feature":
        return "item"
    if kind == "Collection" or (kind is None and "extent" in doc and "license" in doc):
        return "collection"
    return None


def read_json(path: Path) -> Any:
    """Decode a JSON file; ``InvalidInput`` names the file when it is not JSON."""
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: malformed JSON ({exc})") from exc


def ndjson_documents(
    lines: Iterable[tuple[int, bytes]], path: Path | str
) -> Iterator[SourceDocument]:
    """Documents of numbered ndjson lines of ``path``, blank lines skipped."""
    for number, line in lines:
        if not line or line.isspace():
            continue
        source = f"{path}:{number}"
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{source}: malformed JSON ({exc})") from exc
        kind = _kind_of(doc, source)
        if kind is None:
            raise InvalidStac(f"{source}: neither a STAC item nor a collection")
        yield SourceDocument(kind, doc, source)


def iter_ndjson(path: Path) -> Iterator[SourceDocument]:
    """Documents of an ndjson file, one per non-empty line."""
    with path.open("rb") as handle:
        yield from ndjson_documents(enumerate(handle, start=1), path)


def _absolute_asset_hrefs(doc: dict[str, Any], base: Path) -> dict[str, Any]:
    assets = {}
    for key, asset in (doc.get("assets") or {}).items():
        href = asset.get("href") if isinstance(asset, dict) else None
        if isinstance(href, str) and "://" not in href and not href.startswith("/"):
            asset = {**asset, "href": str((base / href).resolve())}
        assets[key] = asset
    return {**doc, "assets": assets}


def _raw_document(stac_object: pystac.STACObject, fallback: Path) -> tuple[dict[str, Any], Path]:
    """The object's file exactly as written (pystac would migrate its fields)."""
    href = stac_object.get_self_href()
    path = Path(href) if href else fallback
    return read_json(path), path


def iter_static_catalog(path: Path) -> Iterator[SourceDocument]:
    """Collections and items of a static catalog rooted at ``path``, parents first.

    pystac walks the tree and resolves the relative links; each document is taken from
    its own file as written, with asset hrefs made absolute and structural links dropped.
    """
    try:
        root = pystac.read_file(str(path))
        if not isinstance(root, pystac.Catalog):
            raise InvalidStac(f"{path}: not a catalog or collection")
        for catalog, _, catalog_items in root.walk():
            if isinstance(catalog, pystac.Collection):
                doc, source = _raw_document(catalog, path)
                yield SourceDocument("collection", without_structural_links(doc), str(source))
            for item in catalog_items:
                doc, source = _raw_document(item, path)
                doc = _absolute_asset_hrefs(without_structural_links(doc), source.parent)
                if item.collection_id and not doc.get("collection"):
                    doc["collection"] = item.collection_id
                yield SourceDocument("item", doc, str(source))
    except (pystac.STACError, pystac.STACTypeError, OSError, ValueError, KeyError) as exc:
        raise InvalidStac(f"{path}: cannot read the static catalog ({exc})") from exc


def _linked_files(doc: dict[str, Any], base: Path) -> list[Path] | None:
    """Local files of the child and item links, or None when one is remote or missing."""
    targets = [
        link.get("href", "") for link in doc.get("links", [])
        if isinstance(link, dict) and link.get("rel") in ("child", "item")
    ]
    files = [(base / href).resolve() for href in targets if "://" not in href]
    if len(files) != len(targets) or not all(f.is_file() for f in files):
        return None
    return files


def _links_children(doc: dict[str, Any], base: Path) -> bool:
    """True when the document links to children or items that all exist beside it."""
    return bool(_linked_files(doc, base))


def _reachable(root: Path) -> set[Path]:
    """Every file a static catalog root reaches through child and item links."""
    seen: set[Path] = set()
    pending = [root.resolve()]
    while pending:
        current = pending.pop()
        doc = read_json(current)
        linked = _linked_files(doc, current.parent) if isinstance(doc, dict) else None
        for target in linked or []:
            if target not in seen and target != root.resolve():
                seen.add(target)
                pending.append(target)
    return seen


def iter_json_file(path: Path) -> Iterator[SourceDocument]:
    """Documents of one JSON file: a collection, an item, a FeatureCollection of items,
    or a whole static catalog when the file links to children."""
    doc = read_json(path)
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        for index, feature in enumerate(doc.get("features") or []):
            yield SourceDocument("item", feature, f"{path}#{index}")
        return
    if isinstance(doc, dict) and doc.get("type") in ("Catalog", "Collection") and (
        _links_children(doc, path.parent)
    ):
        yield from iter_static_catalog(path)
        return
    kind = _kind_of(doc, str(path))
    if kind is None:
        raise InvalidStac(f"{path}: not a STAC collection, item, item collection or catalog")
    yield SourceDocument(kind, doc, str(path))


def stac_files(path: Path) -> list[Path]:
    """The files ``load_path`` reads: ``path`` itself, or the STAC files under a folder.

    In a folder, the members of a static catalog are read through its root only.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InvalidInput(f"{path}: no such file or folder")
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and p.suffix in JSON_SUFFIXES + NDJSON_SUFFIXES + PARQUET_SUFFIXES
    )
    covered: set[Path] = set()
    for candidate in (p for p in files if p.name in ("catalog.json", "collection.json")):
        doc = read_json(candidate)
        if isinstance(doc, dict) and _links_children(doc, candidate.parent):
            covered |= _reachable(candidate)
    return [p for p in files if p.resolve() not in covered]


def iter_file(path: Path) -> Iterator[SourceDocument]:
    """Documents of one file, by its suffix."""
    if path.suffix in NDJSON_SUFFIXES:
        return iter_ndjson(path)
    if path.suffix in PARQUET_SUFFIXES:
        return iter_geoparquet(path)
    return iter_json_file(path)


def iter_geoparquet(path: Path) -> Iterator[SourceDocument]:
    """Documents of a stac-geoparquet file: the collections of its metadata, then its
    items, a row group batch at a time (pyarrow is imported only here)."""
    from catalog.export.geoparquet import geoparquet_documents

    for kind, doc, source in geoparquet_documents(path):
        yield SourceDocument(kind, doc, source)  # type: ignore[arg-type]
