"""STAC API extensions over HTTP (filter, sort, fields, query, free text, collection
search, aggregation, queryables, count), checked against the engine or the data."""

from __future__ import annotations

import pytest

from catalog.search import build_search, search


async def _engine_ids(loaded_sessions, **params) -> list[str]:
    async with loaded_sessions() as session:
        page = await search(session, build_search(limit=1000, **params))
    return [item["id"] for item in page.items]


@pytest.mark.parametrize(
    ("query", "engine"),
    [
        ("filter=gsd<1 AND naip:state='al'", {"filter": "gsd<1 AND naip:state='al'"}),
        ("filter=eo:cloud_cover BETWEEN 0 AND 5", {"filter": "eo:cloud_cover BETWEEN 0 AND 5"}),
        (
            "filter=NOT (gsd = 1)&collections=naip",
            {"filter": "NOT (gsd = 1)", "collections": ["naip"]},
        ),
        (
            "filter=platform IN ('landsat-8','sentinel-1a')",
            {"filter": "platform IN ('landsat-8','sentinel-1a')"},
        ),
        ("filter=id LIKE 'al_m_30085%'", {"filter": "id LIKE 'al_m_30085%'"}),
        ("sortby=-gsd,+id&collections=naip", {"sortby": "-gsd,+id", "collections": ["naip"]}),
        ('query={"gsd":{"lt":1}}&collections=naip', {"filter": "gsd < 1", "collections": ["naip"]}),
    ],
)
async def test_get_search_with_extensions_matches_the_engine(
    stac_client, loaded_sessions, query, engine
) -> None:
    body = (await stac_client.get(f"/search?limit=1000&{query}")).json()
    assert [f["id"] for f in body["features"]] == await _engine_ids(loaded_sessions, **engine)


async def test_post_search_with_cql2_json_and_sortby_matches_the_engine(
    stac_client, loaded_sessions
) -> None:
    cql = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 10]}
    sortby = [{"field": "eo:cloud_cover", "direction": "desc"}]
    body = (
        await stac_client.post("/search", json={"filter": cql, "sortby": sortby, "limit": 1000})
    ).json()
    expected = await _engine_ids(loaded_sessions, filter=cql, sortby=sortby)
    assert [f["id"] for f in body["features"]] == expected and expected


async def test_item_collection_filter_and_sort(stac_client, loaded_sessions) -> None:
    body = (
        await stac_client.get("/collections/naip/items?limit=1000&filter=gsd>0.5&sortby=-datetime")
    ).json()
    expected = await _engine_ids(
        loaded_sessions, collections=["naip"], filter="gsd>0.5", sortby="-datetime"
    )
    assert [f["id"] for f in body["features"]] == expected


async def test_unknown_sort_field_is_a_bad_request(stac_client) -> None:
    response = await stac_client.get("/search?sortby=no:such:field")
    assert response.status_code == 400 and response.json()["code"] == "INVALID_SORTBY"


async def test_fields_include_and_exclude(stac_client) -> None:
    body = (
        await stac_client.get("/search?collections=naip&limit=3&fields=properties.gsd,-assets")
    ).json()
    feature = body["features"][0]
    assert "assets" not in feature
    assert set(feature["properties"]) == {"gsd", "datetime"}
    assert feature["id"] and feature["geometry"]


async def test_free_text_matches_item_titles(stac_client, loaded_sessions) -> None:
    body = (await stac_client.get("/search?q=extended&limit=100")).json()
    async with loaded_sessions() as session:
        page = await search(session, build_search(limit=1000))
    everything = page.items
    expected = [
        i["id"] for i in everything
        if "extended" in " ".join(
            str(i["properties"].get(k, "")) for k in ("title", "description", "keywords")
        ).lower()
    ]
    assert sorted(f["id"] for f in body["features"]) == sorted(expected) and expected


async def test_count_gives_the_exact_number_matched(stac_client, loaded_sessions) -> None:
    body = (await stac_client.get("/search?collections=naip&limit=5&count=true")).json()
    assert body["numberMatched"] == 1000 and body["numberReturned"] == 5


async def test_collection_search_by_text_and_bbox(stac_client) -> None:
    by_text = (await stac_client.get("/collections?q=joplin")).json()
    by_box = (await stac_client.get("/collections?bbox=-94.7,37.0,-94.6,37.1&limit=100")).json()
    assert [c["id"] for c in by_text["collections"]] == ["joplin"]
    assert "joplin" in {c["id"] for c in by_box["collections"]}
    assert "planet-disaster-data" not in {c["id"] for c in by_box["collections"]}


async def test_collection_paging_reaches_every_collection(stac_client) -> None:
    seen, url = [], "/collections?limit=3"
    while url:
        body = (await stac_client.get(url)).json()
        seen += [c["id"] for c in body["collections"]]
        url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
    everything = (await stac_client.get("/collections?limit=1000")).json()
    assert seen == [c["id"] for c in everything["collections"]]


async def test_queryables_list_stored_properties_with_types(stac_client) -> None:
    body = (await stac_client.get("/collections/naip/queryables")).json()
    assert body["properties"]["gsd"]["type"] == "number"
    assert body["properties"]["naip:state"]["type"] == "string"
    assert "geometry" in body["properties"]


async def test_aggregate_counts_by_collection(stac_client, loaded_sessions) -> None:
    body = (
        await stac_client.get(
            "/aggregate?aggregations=total_count,collection_frequency&collections=naip,joplin"
        )
    ).json()
    total, frequency = body["aggregations"]
    assert total["value"] == 1030
    assert {b["key"]: b["frequency"] for b in frequency["buckets"]} == {"naip": 1000, "joplin": 30}


async def test_aggregate_datetime_frequency_by_year_sums_to_total(stac_client) -> None:
    body = (
        await stac_client.get(
            "/aggregate?aggregations=datetime_frequency&collections=naip&datetime_interval=year"
        )
    ).json()
    buckets = body["aggregations"][0]["buckets"]
    assert sum(b["frequency"] for b in buckets) == 1000
    assert all(b["key"].endswith("-01-01T00:00:00Z") for b in buckets)


async def test_unknown_aggregation_is_a_bad_request(stac_client) -> None:
    response = await stac_client.get("/aggregate?aggregations=nope")
    assert response.status_code == 400
