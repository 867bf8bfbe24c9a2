"""What the OpenAPI document (``/api``) of stac-fastapi's routes lacks, added.

* Every ``{name}`` in a route's path is declared as a path parameter. stac-fastapi's
  aggregation extension serves ``/collections/{collection_id}/aggregate`` with the
  request model of ``/aggregate``, which has no ``collection_id``: the route works (the
  client reads the id from the path), but its operation names a path parameter it
  never declares.
* Every operation has an ``operationId`` of its own. A route served for GET and POST
  is one FastAPI route with one id, which both operations carried.

OpenAPI tools (schemathesis, validators, client generators) refuse a document with
either defect.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

import fastapi.routing
from fastapi import FastAPI, Path
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_parameterless_sub_dependant
from fastapi.params import Depends
from fastapi.routing import APIRoute

_TEMPLATE = re.compile(r"\{(\w+)(?::\w+)?\}")


def api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """The API routes among ``routes`` as requests are served by them: each has the
    ``path_format``, ``methods`` and ``dependant`` the request handler and the OpenAPI
    document use.

    Since FastAPI 0.140 an included router is kept as such and its routes are served
    through route contexts built from them, with dependants of their own: changing the
    original route's dependant changes nothing served.
    """
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:
        yield from (route for route in routes if isinstance(route, APIRoute))
        return
    for context in contexts(list(routes)):
        if isinstance(context.original_route, APIRoute):
            yield context


def declare_path_parameters(routes: Iterable[Any]) -> None:
    """Add a string path parameter to each route for each name in its path that no
    dependency of it declares."""
    for route in api_routes(routes):
        declared = _path_names(route.dependant)
        for name in _TEMPLATE.findall(route.path_format):
            if name not in declared:
                route.dependant.dependencies.append(get_parameterless_sub_dependant(
                    depends=Depends(_path_parameter(name)), path=route.path_format
                ))


def _path_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.path_params}
    for sub in dependant.dependencies:
        names |= _path_names(sub)
    return names


def _path_parameter(name: str) -> Callable[..., Any]:
    """A dependency taking the path parameter ``name`` (as a string) and nothing else."""

    async def path_parameter(**_: Any) -> None:
        return None

    description = name.replace("_", " ").capitalize().replace(" id", " ID")
    path_parameter.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                          annotation=Annotated[str, Path(description=description)])
    ])
    return path_parameter


def unique_operation_ids(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document give each operation an id of its own: an id
    shared by operations gets their method as a suffix."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _unique_ids(generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _unique_ids(document: dict[str, Any]) -> None:
    operations = [
        (method, operation)
        for path_item in document.get("paths", {}).values()
        for method, operation in path_item.items()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    seen: dict[str, int] = {}
    for _, operation in operations:
        seen[operation["operationId"]] = seen.get(operation["operationId"], 0) + 1
    for method, operation in operations:
        if seen[operation["operationId"]] > 1:
            operation["operationId"] = f"{operation['operationId']}_{method}"
