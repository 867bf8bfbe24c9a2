"""Registered mosaic searches: a STAC search body kept under an id derived from it."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.errors import translate_db_errors
from catalog.db.models import MosaicSearch
from catalog.errors import InvalidInput, NotFound

MOSAIC_FIELDS = frozenset(
    {"collections", "ids", "bbox", "intersects", "datetime", "filter", "filter-lang", "query",
     "q"}
)
"""The search members a mosaic keeps; the order is always newest first."""


def check_mosaic_search(search: dict[str, Any]) -> bytes:
    """``search`` as canonical JSON, once its members are known and its text storable;
    ``InvalidInput`` otherwise."""
    unknown = set(search) - MOSAIC_FIELDS
    if unknown:
        shown = ", ".join(repr(name)[:40] for name in sorted(unknown)[:5])
        raise InvalidInput(
            f"a mosaic search takes {', '.join(sorted(MOSAIC_FIELDS))}; not {shown}"
        )
    try:
        canonical = orjson.dumps(search, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise InvalidInput("the mosaic search holds text that is not valid Unicode") from exc
    if b"\\u0000" in canonical:
        raise InvalidInput("the mosaic search holds a NUL character")
    return canonical


def mosaic_id(search: dict[str, Any]) -> str:
    """The id of a search: the same search always gets the same id."""
    return hashlib.sha256(check_mosaic_search(search)).hexdigest()[:32]


async def register_mosaic_search(session: AsyncSession, search: dict[str, Any]) -> str:
    """Keep ``search`` (its parameters already validated by the caller) and return its
    id; registering the same search again returns the same id."""
    ident = mosaic_id(search)
    query = (
        insert(MosaicSearch).values(id=ident, search=search)
        .on_conflict_do_nothing(index_elements=[MosaicSearch.id])
    )
    with translate_db_errors():
        await session.execute(query)
    return ident


async def get_mosaic_search(session: AsyncSession, ident: str) -> dict[str, Any]:
    """The search registered as ``ident``; ``NotFound`` when there is none."""
    query = select(MosaicSearch.search).where(MosaicSearch.id == ident)
    with translate_db_errors():
        search = (await session.execute(query)).scalar_one_or_none()
    if search is None:
        raise NotFound(f"no mosaic {ident!r}")
    return search
