"""The OpenAPI document at ``/api`` is one OpenAPI tools accept (every path parameter
declared, every operation id its own), and the routes it describes are the ones served:
the GET request classes are built on the event loop (``construct_inline``), not in
FastAPI's thread pool."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import fastapi.dependencies.utils
import pytest

OPERATIONS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


async def _document(client: Any) -> dict[str, Any]:
    response = await client.get("/api")
    assert response.status_code == 200
    return response.json()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items() if method in OPERATIONS
    ]


async def test_every_name_in_a_path_is_a_declared_path_parameter(stac_client) -> None:
    operations = _operations(await _document(stac_client))
    assert ("/collections/{collection_id}/aggregate", "post") in {
        (path, method) for path, method, _ in operations
    }
    for path, method, operation in operations:
        declared = sorted(
            p["name"] for p in operation.get("parameters", []) if p["in"] == "path"
        )
        assert declared == sorted(re.findall(r"\{(\w+)\}", path)), (method, path)
        assert all(p["required"] for p in operation.get("parameters", [])
                   if p["in"] == "path")


async def test_every_operation_id_is_its_own(stac_client) -> None:
    ids = Counter(op["operationId"] for _, _, op in _operations(await _document(stac_client)))
    assert [name for name, n in ids.items() if n > 1] == []
    assert len(ids) > 40


async def test_a_collection_path_parameter_reaches_the_route(stac_client) -> None:
    counted = await stac_client.get(
        "/collections/naip/aggregate", params={"aggregations": "total_count"}
    )
    missing = await stac_client.get(
        "/collections/no-such/aggregate", params={"aggregations": "total_count"}
    )
    assert counted.status_code == 200 and counted.json()["aggregations"][0]["value"] > 0
    assert missing.status_code == 404


@pytest.mark.parametrize("path", [
    "/collections/naip/items?limit=2",
    "/search?limit=2&bbox=-180,-90,180,90",
    "/collections/naip/aggregate?aggregations=total_count",
    "/collections?limit=2",
])
async def test_get_request_classes_are_built_on_the_event_loop(
    stac_client, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    handed_off: list[str] = []
    run_in_threadpool = fastapi.dependencies.utils.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        handed_off.append(getattr(func, "__name__", repr(func)))
        return await run_in_threadpool(func, *args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", counted)
    response = await stac_client.get(path)
    assert response.status_code == 200, response.text
    assert handed_off == []
