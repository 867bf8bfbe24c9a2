"""Item templates learnt from a batch: each item, put back together from its template
and what it keeps, is the item it was (``catalog.ingest.templates``)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from catalog.ingest.templates import MIN_ITEMS, Template, fit, learn_templates

EXTENSIONS = ["https://stac-extensions.github.io/eo/v1.1.0/schema.json"]


def _asset(n: int, name: str, **members: Any) -> dict[str, Any]:
    return {"href": f"https://x.test/{n}/{name}.tif", **members}


def _hydrated(template: Template, assets: dict[str, Any], extensions: Any) -> tuple[Any, Any]:
    """What PostgreSQL's ``stacql_item_assets`` / ``stacql_item_extensions`` serve: each
    stored asset over its template's members (JSONB's ``||``), as JSON text."""
    shared = json.loads(template.json)
    served = {k: {**shared["assets"].get(k, {}), **a} for k, a in assets.items()}
    return served, shared.get("stac_extensions") if extensions is None else extensions


def _round_trip(items: list[tuple[dict[str, Any], list[str]]]) -> list[Any]:
    templates = learn_templates([a for a, _ in items], [e for _, e in items])
    fitted = []
    for assets, extensions in items:
        original = copy.deepcopy((assets, extensions))
        item = fit(templates, assets, extensions)
        fitted.append(item)
        if item is None:
            continue
        served = _hydrated(item.template, item.assets, item.stac_extensions)
        # As JSON text: 1, 1.0 and true are three values.
        assert json.dumps(served, sort_keys=True) == json.dumps(original, sort_keys=True)
        assert list(served[0]) == list(original[0])
    return fitted


def test_items_alike_keep_only_their_hrefs() -> None:
    items = [
        ({"data": _asset(n, "data", type="image/tiff", roles=["data"]),
          "thumb": _asset(n, "thumb", type="image/png", roles=["thumbnail"])}, EXTENSIONS)
        for n in range(20)
    ]
    fitted = _round_trip(items)
    assert all(f is not None and f.kept == 0 for f in fitted)
    assert fitted[3].assets == {"data": {"href": "https://x.test/3/data.tif"},
                                "thumb": {"href": "https://x.test/3/thumb.tif"}}
    assert fitted[3].stac_extensions is None
    assert len({f.template.id for f in fitted}) == 1


def test_values_json_tells_apart_are_kept() -> None:
    # The most common value of "scale" is 1; items with 1.0 or true keep theirs.
    values: list[Any] = [1] * 10 + [1.0, True, [1], {"a": 1}, None, "1"]
    items = [({"data": _asset(n, "data", scale=v)}, EXTENSIONS) for n, v in enumerate(values)]
    fitted = _round_trip(items)
    kept = [f.assets["data"].get("scale", "absent") for f in fitted if f is not None]
    assert kept == ["absent"] * 10 + [1.0, True, [1], {"a": 1}, None, "1"]


def test_items_of_two_kinds_get_a_template_each() -> None:
    bands = {
        "s2": [{"name": "B02"}, {"name": "B03"}],
        "landsat": [{"name": "SR_B2"}, {"name": "SR_B3"}],
    }
    items = [
        ({"visual": _asset(n, "visual", type="image/tiff", **{"eo:bands": bands[kind]})},
         EXTENSIONS)
        for n, kind in enumerate(["s2", "landsat"] * 20)
    ]
    fitted = _round_trip(items)
    assert all(f is not None and f.kept == 0 for f in fitted)
    assert len({f.template.id for f in fitted if f is not None}) == 2


def test_an_item_lacking_a_shared_member_is_stored_whole() -> None:
    items = [({"data": _asset(n, "data", type="image/tiff")}, EXTENSIONS) for n in range(300)]
    items.append(({"data": _asset(300, "data")}, EXTENSIONS))  # no type
    fitted = _round_trip(items)
    assert fitted[-1] is None
    assert all(f is not None for f in fitted[:-1])


def test_members_and_assets_not_shared_stay_in_the_item() -> None:
    items = [
        ({"data": _asset(n, "data", type="image/tiff", **{"file:size": 1000 + n}),
          **({"extra": _asset(n, "extra", title="only here")} if n == 5 else {})},
         EXTENSIONS if n % 2 else [*EXTENSIONS, "https://x.test/other.json"])
        for n in range(MIN_ITEMS * 2)
    ]
    fitted = _round_trip(items)
    assert fitted[5] is not None
    assert fitted[5].assets["extra"] == items[5][0]["extra"]
    assert fitted[5].assets["data"] == {"href": "https://x.test/5/data.tif", "file:size": 1005}


@pytest.mark.parametrize("count", [1, MIN_ITEMS - 1])
def test_few_items_are_stored_whole(count: int) -> None:
    items = [({"data": _asset(n, "data", type="image/tiff")}, EXTENSIONS) for n in range(count)]
    assert learn_templates([a for a, _ in items], [e for _, e in items]) == []


def test_items_sharing_nothing_have_no_template() -> None:
    items = [({f"k{n}": _asset(n, "data", title=str(n))}, [f"https://x.test/{n}.json"])
             for n in range(MIN_ITEMS * 2)]
    assert learn_templates([a for a, _ in items], [e for _, e in items]) == []


def test_the_same_shared_parts_give_the_same_template() -> None:
    def batch(start: int) -> list[Any]:
        items = [({"data": _asset(n, "data", type="image/tiff")}, EXTENSIONS)
                 for n in range(start, start + 50)]
        return learn_templates([a for a, _ in items], [e for _, e in items])

    first, second = batch(0), batch(1000)
    assert [t.id for t in first] == [t.id for t in second]
    assert first[0].json == json.dumps(
        {"assets": {"data": {"type": "image/tiff"}}, "stac_extensions": EXTENSIONS},
        separators=(",", ":"), sort_keys=True,
    )
