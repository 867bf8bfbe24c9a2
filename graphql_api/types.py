"""The GraphQL object types: collections, items, assets, jobs and their connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from strawberry import Private

from catalog.assets import AssetUrls
from catalog.jobs import JobRecord
from catalog.search import RowPage
from catalog.search.assets import AssetRow
from catalog.stac.links import with_collection_links, with_item_links
from catalog.temporal import parse_rfc3339
from graphql_api import item_filter as by
from graphql_api.context import Context
from graphql_api.execution import NotReady, at_once
from graphql_api.inputs import SortBy
from graphql_api.paced import now_or_later, now_or_later_all
from graphql_api.scalars import JSON, GeoJSON
from graphql_api.statements import STATEMENT

if TYPE_CHECKING:
    from graphql_api.item_search import ItemConnection

Info = strawberry.Info[Context, None]
R = TypeVar("R")


@strawberry.type(description="A link of a STAC document.")
class Link:
    rel: str
    href: str
    type: str | None = None
    title: str | None = None
    method: str | None = None

    @classmethod
    def of(cls, link: dict[str, Any]) -> Link:
        """The link of a STAC link object."""
        return cls(
            rel=str(link.get("rel", "")), href=str(link.get("href", "")),
            type=link.get("type"), title=link.get("title"), method=link.get("method"),
        )


def _links(links: list[dict[str, Any]]) -> list[Link]:
    return [Link.of(link) for link in links if isinstance(link, dict)]


@strawberry.type(description="An organization that captured, processed or hosts the data.")
class Provider:
    name: str
    description: str | None = None
    roles: list[str] | None = None
    url: str | None = None


@strawberry.type
class SpatialExtent:
    bbox: list[list[float]]


@strawberry.type
class TemporalExtent:
    interval: list[list[datetime | None]]


@strawberry.type(description="Where and when a collection's items are.")
class Extent:
    spatial: SpatialExtent
    temporal: TemporalExtent

    @classmethod
    def of(cls, extent: dict[str, Any]) -> Extent:
        """The extent of a STAC extent object."""
        spans = extent.get("temporal", {}).get("interval") or [[None, None]]
        return cls(
            spatial=SpatialExtent(bbox=extent.get("spatial", {}).get("bbox") or []),
            temporal=TemporalExtent(
                interval=[[None if v is None else parse_rfc3339(v) for v in s] for s in spans]
            ),
        )


@strawberry.type(description="A page position, in the Relay connection style.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="A file of an item (data, metadata, thumbnail...).")
class Asset:
    _row: Private[AssetRow]
    _urls: Private[AssetUrls | None] = None
    """The caller's rewriter of stored hrefs (None: hrefs as stored)."""

    @strawberry.field(description="The key of the asset in its item's assets.")
    def key(self) -> str:
        return self._row.key

    @strawberry.field
    def collection_id(self) -> str:
        return self._row.collection_id

    @strawberry.field
    def item_id(self) -> str:
        return self._row.item_id

    @strawberry.field(
        description="Where to GET the file: for a stored file, this API's asset URL (signed "
        "for the caller when it sent credentials); for an external one, its own URL."
    )
    def href(self) -> str:
        # Neither ``info`` nor an await: resolved in one step (graphql_api.execution).
        return str(self._public().get("href", ""))

    def _public(self) -> dict[str, Any]:
        asset, href = self._row.asset, self._row.asset.get("href")
        if self._urls is None or not isinstance(href, str):
            return asset
        row = self._row
        public = self._urls.href(row.collection_id, row.item_id, row.key, href)
        return asset if public == href else {**asset, "href": public}

    @strawberry.field(description="The media type (STAC `type`).")
    def media_type(self) -> str | None:
        return self._row.asset.get("type")

    @strawberry.field
    def title(self) -> str | None:
        return self._row.asset.get("title")

    @strawberry.field
    def description(self) -> str | None:
        return self._row.asset.get("description")

    @strawberry.field
    def roles(self) -> list[str]:
        return list(self._row.asset.get("roles") or [])

    @strawberry.field(description="Size in bytes (file extension), when known.")
    def size(self) -> float | None:
        size = self._row.asset.get("file:size")
        return float(size) if isinstance(size, int | float) else None

    @strawberry.field(description="Any field of the asset object, e.g. `raster:bands`.")
    def field(self, name: str) -> JSON | None:
        return self._row.asset.get(name)

    @strawberry.field(description="The STAC asset object, as the STAC API serves it.")
    def stac(self) -> JSON:
        return self._public()

    @strawberry.field(description="The item the asset belongs to.")
    async def item(self, info: Info) -> Item | None:
        row = await info.context.loaders.items.load((self._row.collection_id, self._row.item_id))
        return None if row is None else Item(_row=row)


@dataclass
class Loaded:
    """What a page of items loaded for their fields before they are completed
    (``graphql_api.item_search``), shared by its items; None: not loaded."""

    urls: AssetUrls | None = None
    """The caller's href rewriter (set with ``assets``)."""
    assets: dict[tuple[str, str], list[AssetRow]] | None = None
    """The assets of each item, by (collection id, item id)."""
    collections: dict[str, dict[str, Any] | None] | None = None
    """The collection documents by id (None: not visible to the caller)."""


@strawberry.type(description="A STAC item: one scene, tile or acquisition, and its assets.")
class Item:
    _row: Private[dict[str, Any]]
    _loaded: Private[Loaded | None] = None
    """What its page loaded: what the dataloaders hold (the page primed them)."""

    @strawberry.field
    def id(self) -> str:
        return self._row["id"]

    @strawberry.field
    def collection_id(self) -> str:
        return self._row["collection"]

    @strawberry.field(
        description="The nominal time: `properties.datetime`, or the start of the range."
    )
    def datetime(self) -> datetime:
        return self._row["datetime"]

    @strawberry.field(description="Start of the item's time range (its datetime for an instant).")
    def start_datetime(self) -> datetime:
        return self._row["start_datetime"]

    @strawberry.field(description="End of the item's time range (its datetime for an instant).")
    def end_datetime(self) -> datetime:
        return self._row["end_datetime"]

    @strawberry.field
    def geometry(self) -> GeoJSON | None:
        return self._row["geometry"]

    @strawberry.field
    def bbox(self) -> list[float] | None:
        return self._row["bbox"]

    @strawberry.field(description="All properties, as stored.")
    def properties(self) -> JSON:
        return self._row["properties"]

    @strawberry.field(description="One property, e.g. `eo:cloud_cover`; null when absent.")
    def property(self, name: str) -> JSON | None:
        return self._row["properties"].get(name)

    @strawberry.field
    def stac_version(self) -> str:
        return self._row["stac_version"]

    @strawberry.field
    def stac_extensions(self) -> list[str]:
        return list(self._row["stac_extensions"] or [])

    @strawberry.field(description="Links as the STAC API serves them (self, parent, ...).")
    def links(self, info: Info) -> list[Link]:
        doc = {"id": self._row["id"], "collection": self._row["collection"],
               "links": self._row["links"]}
        return _links(with_item_links(doc, info.context.base_url)["links"])

    @strawberry.field(description="The item exactly as the STAC API serves it.")
    def stac(self, info: Info) -> JSON:
        def served(urls: AssetUrls | None) -> dict[str, Any]:
            document = self._row["stac"] if urls is None else urls.item(self._row["stac"])
            return with_item_links(document, info.context.base_url)

        return now_or_later(info.context.asset_urls_now(), served)

    def _assets(self, info: Info, pick: Callable[[list[Asset]], R]) -> R | Awaitable[R]:
        """``pick`` applied to the item's assets (their hrefs rewritten for the caller), at
        once when its page loaded them (graphql_api.item_search)."""
        return now_or_later_all(
            (info.context.asset_urls_now(),
             info.context.loaders.assets.load((self._row["collection"], self._row["id"]))),
            lambda urls, rows: pick([Asset(_row=row, _urls=urls) for row in rows]),
        )

    def _loaded_assets(self, context: Context) -> list[Asset]:
        """``assets()``, from what the page loaded (``NotReady`` when it did not)."""
        loaded = self._loaded
        if loaded is None or loaded.assets is None:
            raise NotReady
        urls = loaded.urls
        return [Asset(_row=row, _urls=urls)
                for row in loaded.assets[(self._row["collection"], self._row["id"])]]

    def _loaded_collection(self, context: Context) -> Collection | None:
        """``collection()``, from what the page loaded (``NotReady`` when it did not)."""
        loaded = self._loaded
        if loaded is None or loaded.collections is None:
            raise NotReady
        return _collection_of(loaded.collections[self._row["collection"]])

    # ``at_once``: asked without arguments, resolved in one step from what the page
    # loaded (graphql_api.execution), without an ``Info`` per item.
    @strawberry.field(metadata=at_once(_loaded_assets))
    def assets(self, info: Info, roles: list[str] | None = None) -> list[Asset]:
        wanted = set(roles or ())
        return self._assets(info, lambda assets: [
            a for a in assets if not wanted or wanted & set(a._row.asset.get("roles") or ())
        ])

    @strawberry.field(description="One asset by key; null when the item has none by that key.")
    def asset(self, info: Info, key: str) -> Asset | None:
        return self._assets(info, lambda assets: next((a for a in assets if a._row.key == key),
                                                      None))

    @strawberry.field(metadata=at_once(_loaded_collection))
    def collection(self, info: Info) -> Collection | None:
        return now_or_later(info.context.loaders.collections.load(self._row["collection"]),
                            _collection_of)


def _collection_of(doc: dict[str, Any] | None) -> Collection | None:
    return None if doc is None else Collection(_doc=doc)


def _item_cursor(self: ItemEdge) -> str:
    # Encoded when first asked for: a page selecting only its nodes needs none.
    return self._page.cursors[self._index]


@strawberry.type
class ItemEdge:
    cursor: str = strawberry.field(resolver=_item_cursor)
    node: Item
    _page: Private[RowPage]
    _index: Private[int]


@strawberry.type
class AssetEdge:
    cursor: str
    node: Asset


@strawberry.type(description="A page of assets.")
class AssetConnection:
    edges: list[AssetEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Asset]:
        return [edge.node for edge in self.edges]


@strawberry.type(description="A set of items sharing a purpose, license and providers.")
class Collection:
    _doc: Private[dict[str, Any]]

    @strawberry.field
    def id(self) -> str:
        return self._doc["id"]

    @strawberry.field
    def title(self) -> str | None:
        return self._doc.get("title")

    @strawberry.field
    def description(self) -> str:
        return self._doc.get("description", "")

    @strawberry.field
    def license(self) -> str:
        return self._doc.get("license", "")

    @strawberry.field
    def keywords(self) -> list[str]:
        return [k for k in self._doc.get("keywords") or [] if isinstance(k, str)]

    @strawberry.field
    def providers(self) -> list[Provider]:
        return [
            Provider(name=p.get("name", ""), description=p.get("description"),
                     roles=p.get("roles"), url=p.get("url"))
            for p in self._doc.get("providers") or [] if isinstance(p, dict)
        ]

    @strawberry.field(description="Spatial and temporal extent, kept current with the items.")
    def extent(self) -> Extent:
        return Extent.of(self._doc.get("extent") or {})

    @strawberry.field
    def summaries(self) -> JSON | None:
        return self._doc.get("summaries")

    @strawberry.field
    def item_assets(self) -> JSON | None:
        return self._doc.get("item_assets")

    @strawberry.field
    def stac_version(self) -> str:
        return self._doc.get("stac_version", "")

    @strawberry.field
    def stac_extensions(self) -> list[str]:
        return list(self._doc.get("stac_extensions") or [])

    @strawberry.field(description="Links as the STAC API serves them.")
    def links(self, info: Info) -> list[Link]:
        return _links(with_collection_links(self._doc, info.context.base_url)["links"])

    @strawberry.field(description="The collection exactly as the STAC API serves it.")
    def stac(self, info: Info) -> JSON:
        return with_collection_links(self._doc, info.context.base_url)

    @strawberry.field(
        description="The collection's items; same arguments as `items`.",
        metadata=STATEMENT,
    )
    async def items(
        self,
        info: Info,
        match: Annotated[
            by.ItemFilter | None,
            strawberry.argument(description="Which items; leave out its `collections`."),
        ] = None,
        sort_by: list[SortBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        ids: by.OldList = None,
        bbox: by.OldBbox = None,
        intersects: by.OldGeometry = None,
        datetime: by.OldDatetime = None,
        filter: by.OldFilter = None,
        where: by.OldWhere = None,
        q: by.OldText = None,
    ) -> Annotated[ItemConnection, strawberry.lazy("graphql_api.item_search")]:
        from graphql_api.item_search import find_items, item_request

        terms = by.merged(
            match, collections=[self._doc["id"]], ids=ids, bbox=bbox,
            intersects=intersects, datetime=datetime, filter=filter, where=where, q=q,
        )
        request = await item_request(info, terms, sort_by, first, after)
        return await find_items(info, request)


@strawberry.type
class CollectionEdge:
    cursor: str
    node: Collection


@strawberry.type(description="A page of collections.")
class CollectionConnection:
    edges: list[CollectionEdge]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[Collection]:
        return [edge.node for edge in self.edges]


@strawberry.enum(description="Where a job is in its life.")
class JobStatus(Enum):
    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"


@strawberry.type(description="An upload or ingest request, followed until it ends.")
class Job:
    _record: Private[JobRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self._record.id))

    @strawberry.field
    def kind(self) -> str:
        return self._record.kind

    @strawberry.field
    def status(self) -> JobStatus:
        return JobStatus(self._record.status)

    @strawberry.field(description="Fraction done, from 0 to 1.")
    def progress(self) -> float:
        return self._record.progress

    @strawberry.field
    def message(self) -> str | None:
        return self._record.message

    @strawberry.field
    def error(self) -> str | None:
        return self._record.error

    @strawberry.field
    def params(self) -> JSON:
        return self._record.params

    @strawberry.field
    def result(self) -> JSON | None:
        return self._record.result

    @strawberry.field
    def created_at(self) -> datetime:
        return self._record.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self._record.updated_at

    @strawberry.field(description="The item the job made, once it has finished.")
    async def item(self, info: Info) -> Item | None:
        result = self._record.result or {}
        if "collection_id" not in result or "item_id" not in result:
            return None
        row = await info.context.loaders.items.load((result["collection_id"], result["item_id"]))
        return None if row is None else Item(_row=row)
