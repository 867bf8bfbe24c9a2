"""Item templates: the members a batch's items share, stored once (migration 0020).

The items of a bulk load repeat most of each asset (media type, title, roles, bands)
and their ``stac_extensions``; that is about a third of a stored item. From the items
of one collection in a batch, ``learn_templates`` takes, for each asset key, the
members nearly every sampled asset of that key has, with their most common value, and
the most common ``stac_extensions`` (up to four templates, for items of several kinds).
An item then stores only its members that differ (``fit``); PostgreSQL puts the
template's back when it serves the item (``catalog.search.render``).

A template is keyed by a digest of its JSON, so the same shared parts give the same
row whichever batch found them, and a stored template never changes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

# Templates are learnt from a collection's first items in a batch: enough to find the
# common values, few enough to cost little beside encoding the batch.
SAMPLE_ITEMS = 64
# Fewer items of a collection in a batch (an item created through the API, a raster's
# item from a worker) are stored whole: a template per item would save nothing.
MIN_ITEMS = 8
# A member goes into a template when this share of the sampled assets of its key has it
# (an item without it then stores itself whole, or with another template).
SHARED = 0.9
# Templates of one collection in a batch, and the items scanned for those of other kinds.
MAX_TEMPLATES = 4
SCAN_ITEMS = 256
_HREF = "href"


def _canonical(value: Any) -> bytes:
    """JSON with sorted keys: equal for values JSONB stores as equal, and telling
    ``1`` from ``1.0`` and ``true``, which Python's ``==`` does not."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _strings_only(value: Any) -> bool:
    """True when ``value`` holds nothing but strings, in lists and objects: then Python's
    ``==`` against it is JSON's equality."""
    if isinstance(value, str):
        return True
    if isinstance(value, list):
        return all(_strings_only(v) for v in value)
    if isinstance(value, dict):
        return all(_strings_only(v) for v in value.values())
    return False


class _Member(NamedTuple):
    """A template's value of an asset member, and how to tell an item's value equal."""

    value: Any
    canonical: bytes | None  # None: the value holds only strings

    @classmethod
    def of(cls, value: Any) -> _Member:
        return cls(value, None if _strings_only(value) else _canonical(value))

    def equals(self, value: Any) -> bool:
        """Whether ``value`` is this value as JSON (``1`` is not ``1.0`` nor ``true``)."""
        if type(value) is not type(self.value) or value != self.value:
            return False
        return self.canonical is None or _canonical(value) == self.canonical


@dataclass(frozen=True)
class Template:
    """Shared parts of items: ``assets`` (asset key → members) and ``stac_extensions``
    (None when the items do not share one), ``json`` its stored text, ``id`` its key."""

    id: int
    json: str
    assets: dict[str, dict[str, _Member]]
    stac_extensions: _Member | None
    # The shared members as plain values, when all of them hold only strings (Python's
    # ``==`` is then JSON's): an item whose assets are these plus hrefs is told in one
    # comparison per asset.
    plain: dict[str, dict[str, Any]] | None = None

    def fits_exactly(self, assets: dict[str, Any], extensions: list[Any]) -> bool:
        """Whether the item is this template plus its hrefs, told quickly when it can
        be (False may only mean "not quickly")."""
        plain = self.plain
        if plain is None or self.stac_extensions is None:
            return False
        for key, asset in assets.items():
            members = plain.get(key)
            if (
                members is None or type(asset) is not dict
                or len(asset) != len(members) + 1 or _HREF not in asset
                or {n: v for n, v in asset.items() if n != _HREF} != members
            ):
                return False
        return extensions == self.stac_extensions.value

    @classmethod
    def of(cls, assets: dict[str, dict[str, Any]], extensions: list[Any] | None) -> Template:
        """The template of these shared parts."""
        body: dict[str, Any] = {"assets": assets}
        if extensions is not None:
            body["stac_extensions"] = extensions
        text = _canonical(body)
        digest = int.from_bytes(hashlib.sha256(text).digest()[:8], "big", signed=True)
        return cls(
            digest,
            text.decode(),
            {k: {m: _Member.of(v) for m, v in members.items()} for k, members in assets.items()},
            None if extensions is None else _Member.of(extensions),
            assets if _strings_only(body) else None,
        )


def _most_common(values: list[Any]) -> tuple[Any, int]:
    """The most common value (by its JSON) and how many times it occurs."""
    counts = Counter(_canonical(v) for v in values)
    text, count = counts.most_common(1)[0]
    return orjson.loads(text), count


def _shared_members(assets: list[dict[str, Any]]) -> dict[str, Any]:
    """The members, href aside, that nearly all of ``assets`` have (``SHARED``), with
    their most common value when at least two share it."""
    presence = Counter(name for asset in assets for name in asset)
    shared = {}
    for name in sorted(presence):
        if name == _HREF or presence[name] < SHARED * len(assets):
            continue
        value, count = _most_common([a[name] for a in assets if name in a])
        if count > 1:
            shared[name] = value
    return shared


def _learn(assets: Sequence[dict[str, Any]], extensions: Sequence[list[Any]]) -> Template | None:
    """The template of these items (a sample), or None when they share nothing."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for item_assets in assets:
        for key, asset in item_assets.items():
            if isinstance(asset, dict):
                by_key.setdefault(key, []).append(asset)
    shared_assets = {}
    for key, of_key in by_key.items():
        if len(of_key) > 1 and (members := _shared_members(of_key)):
            shared_assets[key] = members
    value, count = _most_common(list(extensions))
    shared_extensions = value if count > 1 and value else None
    if not shared_assets and shared_extensions is None:
        return None
    return Template.of(shared_assets, shared_extensions)


@dataclass(frozen=True)
class Fitted:
    """An item stored with a template: its assets and ``stac_extensions`` as kept in the
    row (None: the template's), and how many members it keeps besides its hrefs."""

    template: Template
    assets: dict[str, Any]
    stac_extensions: list[Any] | None
    kept: int


def learn_templates(
    assets: Sequence[dict[str, Any]], extensions: Sequence[list[Any]]
) -> list[Template]:
    """The templates of a collection's items in a batch, from their served assets
    objects and ``stac_extensions`` (in batch order): none below ``MIN_ITEMS`` items.

    The first is learnt from the first ``SAMPLE_ITEMS`` items. Items of another kind
    (another platform's bands, say) keep more members than the items it serves best;
    the next template is learnt from the first ``SAMPLE_ITEMS`` such items of the first
    ``SCAN_ITEMS``, and kept when it spares them at least a fifth of what they keep.
    """
    if len(assets) < MIN_ITEMS:
        return []
    scanned = range(min(len(assets), SCAN_ITEMS))
    # Members each item keeps with the best template so far (stored whole: all of them).
    kept = [_whole(assets[i]) for i in scanned]
    templates: list[Template] = []
    sample = list(scanned[:SAMPLE_ITEMS])
    while len(templates) < MAX_TEMPLATES and len(sample) >= MIN_ITEMS:
        learnt = _learn([assets[i] for i in sample], [extensions[i] for i in sample])
        if learnt is None:
            break
        with_learnt = [_count_kept(learnt, assets[i], extensions[i], kept[i]) for i in scanned]
        if templates and sum(with_learnt[i] for i in sample) > 0.8 * sum(kept[i] for i in sample):
            break
        templates.append(learnt)
        kept = [min(k, w) for k, w in zip(kept, with_learnt, strict=True)]
        # Members of their own (a checksum, a size) every item keeps with any template:
        # the next one is for the items keeping more than the best served.
        least = min(kept)
        sample = [i for i in scanned if kept[i] > least][:SAMPLE_ITEMS]
    return templates


def _whole(assets: dict[str, Any]) -> int:
    """The members an item stored whole keeps, its hrefs aside (and its extensions)."""
    return 1 + sum(len(a) - (_HREF in a) if isinstance(a, dict) else 1 for a in assets.values())


def fit(
    templates: Sequence[Template], assets: dict[str, Any], extensions: list[Any]
) -> Fitted | None:
    """The item with the template that leaves it the fewest members (the first of
    equals), or None when none fits."""
    for template in templates:
        if template.fits_exactly(assets, extensions):
            hrefs = {key: {_HREF: asset[_HREF]} for key, asset in assets.items()}
            return Fitted(template, hrefs, None, 0)
    best: Template | None = None
    fewest = _NO_FIT
    for template in templates:
        kept = _count_kept(template, assets, extensions, fewest)
        if kept < fewest:
            best, fewest = template, kept
            if not kept:
                break
    return None if best is None else dehydrate(best, assets, extensions)


# More members than any item keeps: no template fits yet.
_NO_FIT = 1 << 62


def _count_kept(
    template: Template, assets: dict[str, Any], extensions: list[Any], bound: int
) -> int:
    """How many members the item would keep with ``template``, or ``bound`` as soon as
    that is as many or the template does not fit. This runs for every
    item and template of a load, so it compares without building anything."""
    shared = template.stac_extensions
    kept = 0 if shared is not None and shared.equals(extensions) else 1
    for key, asset in assets.items():
        members = template.assets.get(key)
        if members is None:
            kept += len(asset) - 1 if isinstance(asset, dict) else 1
        elif not isinstance(asset, dict) or not members.keys() <= asset.keys():
            return bound
        else:
            for name, value in asset.items():
                member = members.get(name)
                if member is None:
                    kept += name != _HREF
                elif (
                    type(value) is not type(member.value) or value != member.value
                    or (member.canonical is not None and _canonical(value) != member.canonical)
                ):
                    kept += 1
        if kept >= bound:
            return bound
    return kept


def dehydrate(
    template: Template, assets: dict[str, Any], extensions: list[Any]
) -> Fitted | None:
    """The item's assets without the members its template gives them, and its
    ``stac_extensions`` (None when the template's); None when the template does not
    fit the item (an asset lacks a member the template would give it back)."""
    stored: dict[str, Any] = {}
    kept = 0
    for key, asset in assets.items():
        members = template.assets.get(key)
        if members is None:
            stored[key] = asset
            kept += len(asset) - 1 if isinstance(asset, dict) else 1
            continue
        if not isinstance(asset, dict) or not members.keys() <= asset.keys():
            return None
        stored[key] = {
            name: value for name, value in asset.items()
            if name not in members or not members[name].equals(value)
        }
        kept += len(stored[key]) - (_HREF in stored[key])
    same = template.stac_extensions is not None and template.stac_extensions.equals(extensions)
    return Fitted(template, stored, None if same else extensions, kept + (not same))
