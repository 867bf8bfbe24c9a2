"""The root ``Mutation`` type: collections, items, uploads and catalog ingests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from catalog.errors import InvalidInput, ServiceUnavailable
from graphql_api.scalars import JSON
from graphql_api.types import Collection, Info, Job
from graphql_api.uploads import removed_on_error, safe_name, store_upload


@strawberry.input(description="A provider of a collection.")
class ProviderInput:
    name: str
    description: str | None = None
    roles: list[str] | None = None
    url: str | None = None


@strawberry.input(description="A collection as typed fields; the extent is kept by stacql.")
class CollectionInput:
    id: str
    description: str
    license: str = "other"
    title: str | None = None
    keywords: list[str] | None = None
    providers: list[ProviderInput] | None = None

    def as_stac(self) -> dict[str, Any]:
        """The STAC Collection document of this input (world extent until items arrive)."""
        doc: dict[str, Any] = {
            "type": "Collection",
            "stac_version": "1.1.0",
            "id": self.id,
            "description": self.description,
            "license": self.license,
            "extent": {
                "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                "temporal": {"interval": [[None, None]]},
            },
            "links": [],
        }
        if self.title is not None:
            doc["title"] = self.title
        if self.keywords is not None:
            doc["keywords"] = list(self.keywords)
        if self.providers is not None:
            doc["providers"] = [
                {k: v for k, v in vars(p).items() if v is not None} for p in self.providers
            ]
        return doc


def _document(stac: Any, input: CollectionInput | None) -> dict[str, Any]:
    if (stac is None) == (input is None):
        raise InvalidInput("give the collection either as `stac` JSON or as `input`")
    if input is not None:
        return input.as_stac()
    if not isinstance(stac, dict):
        raise InvalidInput("stac must be a STAC Collection JSON object")
    return stac


@strawberry.type(description="What an item upsert did.")
class UpsertItemsPayload:
    inserted: int
    updated: int
    unchanged: int
    ids: list[str]
    job_ids: list[str] = strawberry.field(
        description="Jobs queued to complete items whose raster in our storage lacks its "
        "metadata (as the STAC API queues them on its writes)."
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create a collection from typed fields or STAC JSON; `private` hides it "
        "from callers without a key that may read it."
    )
    async def create_collection(
        self,
        info: Info,
        stac: JSON | None = None,
        input: CollectionInput | None = None,
        private: bool = False,
    ) -> Collection:
        doc = _document(stac, input)
        principal = await info.context.principal()
        stored = await info.context.services.collections.create(principal, doc, private)
        return Collection(_doc=stored)

    @strawberry.mutation(
        description="Replace a collection (`stac` or `input`) or merge-patch it (`patch`, "
        "RFC 7396). Its items stay."
    )
    async def update_collection(
        self,
        info: Info,
        id: str,
        stac: JSON | None = None,
        input: CollectionInput | None = None,
        patch: JSON | None = None,
        private: bool | None = None,
    ) -> Collection:
        principal = await info.context.principal()
        collections = info.context.services.collections
        if private is not None and patch is None and stac is None and input is None:
            stored = await collections.set_private(principal, id, private)
        elif patch is not None:
            if stac is not None or input is not None:
                raise InvalidInput("give either a patch or a whole collection, not both")
            stored = await collections.patch(principal, id, patch, private)
        else:
            stored = await collections.replace(principal, id, _document(stac, input), private)
        return Collection(_doc=stored)

    @strawberry.mutation(description="Delete a collection with all its items and assets.")
    async def delete_collection(self, info: Info, id: str) -> bool:
        await info.context.services.collections.delete(await info.context.principal(), id)
        return True

    @strawberry.mutation(
        description="Insert or replace items given as STAC JSON, all or nothing. "
        "`collectionId` fills in items without a `collection`."
    )
    async def upsert_items(
        self, info: Info, items: list[JSON], collection_id: str | None = None
    ) -> UpsertItemsPayload:
        principal = await info.context.principal()
        written = await info.context.services.items.upsert(principal, items, collection_id)
        summary = written.summary
        return UpsertItemsPayload(
            inserted=summary.inserted, updated=summary.updated, unchanged=summary.unchanged,
            ids=written.ids, job_ids=written.jobs,
        )

    @strawberry.mutation(description="Delete one item and its assets.")
    async def delete_item(self, info: Info, collection_id: str, id: str) -> bool:
        principal = await info.context.principal()
        await info.context.services.items.delete(principal, collection_id, id)
        return True

    @strawberry.mutation(
        description="Store a raster (and an optional provider metadata sidecar such as a NAIP "
        "FGDC file) and queue the job that builds its item; returns the job at once. Into "
        "an item that exists, the upload adds or replaces the asset `assetKey` and keeps "
        "the rest of the item, unless `replaceItem` asks to replace the whole item; the "
        "job's result says which happened (`action`)."
    )
    async def upload_asset(
        self,
        info: Info,
        file: Upload,
        collection_id: str,
        item_id: str | None = None,
        asset_key: str = "data",
        roles: list[str] | None = None,
        sidecar: Upload | None = None,
        datetime: datetime | None = None,
        replace_item: bool = False,
    ) -> Job:
        services = info.context.services
        if services.store is None or services.jobs is None:
            raise ServiceUnavailable("uploads are not enabled on this server")
        request = await services.jobs.upload(
            await info.context.principal(), collection_id,
            safe_name(getattr(file, "filename", None), "raster.tif"), item_id=item_id,
            asset_key=asset_key, roles=roles, datetime=datetime, replace_item=replace_item,
        )
        upload = await store_upload(services, file, sidecar, request)
        async with removed_on_error(services, upload):
            record = await services.jobs.submit_upload(upload)
        return Job(_record=record)

    @strawberry.mutation(
        description="Queue the ingest of a static STAC catalog (or ndjson of items) at `href`; "
        "`collectionId` is given to items that name none."
    )
    async def ingest_catalog(
        self, info: Info, href: str, collection_id: str | None = None
    ) -> Job:
        jobs = info.context.services.jobs
        if jobs is None:
            raise ServiceUnavailable("catalog ingests are not enabled on this server")
        record = await jobs.ingest_catalog(await info.context.principal(), href, collection_id)
        return Job(_record=record)
