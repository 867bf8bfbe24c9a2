"""graphql-core's executor with a shortcut for leaf fields that only read their source.

graphql-core resolves every field of every object the same way: it builds a resolve
info and a path, calls the resolver through strawberry's wrappers (which build an
``Info`` and convert arguments), then completes the value through the generic
``complete_value``. For a page of 100 items with 4 assets each that is thousands of
resolutions of fields such as ``Asset.href`` or ``Asset.roles``, and the bulk of the
page's time (issue 17).

``LeafShortcut`` resolves a field in one step when nothing can tell the difference: a
scalar or enum field, or a list of them, without arguments, whose value is the source's
attribute (a strawberry field without resolver) or what a synchronous resolver taking
only ``self`` returns, with no field extension (permissions are field extensions) and no
middleware (schema extensions with a ``resolve`` hook). Its value is coerced as
graphql-core coerces it. Anything unusual (a null where the type forbids one, an error
raised by the resolver or the coercion, a value that is not a list where a list is
expected) is handed, again from the start, to graphql-core's own ``execute_field``,
which gives the error its message, path and null propagation: the shortcut itself
never produces an error. Aliases, fragments, ``@include``/``@skip`` and ``__typename``
are graphql-core's to collect: the shortcut only replaces how a collected field is
resolved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

Getter = Callable[[Any], Any]
Completer = Callable[[Any], Any]


class _Fallback(Exception):
    """The value needs graphql-core's own completion (an error, most likely)."""


_FALLBACK = _Fallback()


def _leaf_completer(kind: GraphQLLeafType, non_null: bool) -> Completer:
    coerce = kind.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _FALLBACK
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined or isinstance(value, Exception):
            raise _FALLBACK
        return coerced

    return complete


def _list_completer(item: Completer, non_null: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _FALLBACK
            return None
        if not isinstance(value, list | tuple):
            raise _FALLBACK  # generators, async iterables, strings: graphql-core's
        return [item(entry) for entry in value]

    return complete


def _completer(kind: GraphQLOutputType) -> Completer | None:
    """How to complete a value of ``kind`` at once; None when it is not a leaf or a
    list of leaves (objects select fields of their own)."""
    non_null = isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if isinstance(inner, GraphQLList):
        entry_kind = inner.of_type
        entry_non_null = isinstance(entry_kind, GraphQLNonNull)
        entry_inner = entry_kind.of_type if isinstance(entry_kind, GraphQLNonNull) else entry_kind
        if not isinstance(entry_inner, GraphQLLeafType):
            return None
        return _list_completer(_leaf_completer(entry_inner, entry_non_null), non_null)
    if isinstance(inner, GraphQLLeafType):
        return _leaf_completer(inner, non_null)
    return None


def _getter(field: GraphQLField) -> Getter | None:
    """How to read the field's value from its source at once; None when its resolver
    needs more than the source (arguments, ``info``), awaits, or is wrapped."""
    definition = field.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or definition.extensions:
        return None
    resolver = definition.base_resolver
    if resolver is None:
        read, name = definition.default_resolver, definition.python_name
        return lambda source: read(source, name)
    if (
        resolver.is_async or resolver.arguments or resolver.self_parameter is None
        or resolver.info_parameter or resolver.root_parameter or resolver.parent_parameter
    ):
        return None
    return resolver.wrapped_func


Resolve = Callable[[Any], Any]
"""A field's value, completed, from its source in one step (raises when it cannot)."""
_PLANS: dict[int, tuple[GraphQLField, Resolve | None]] = {}
"""One-step resolutions by field (its id; the field is kept, so the id stays its own): a
schema's fields never change once it is built."""


def _plan(field: GraphQLField) -> Resolve | None:
    """The field's one-step resolution, or None when graphql-core must resolve it."""
    known = _PLANS.get(id(field))
    if known is not None:
        return known[1]
    plan: Resolve | None = None
    getter, completer = _getter(field), _completer(field.type)
    if not field.args and getter is not None and completer is not None:
        plan = _compose(getter, completer)
    _PLANS[id(field)] = (field, plan)
    return plan


def _compose(getter: Getter, completer: Completer) -> Resolve:
    return lambda source: completer(getter(source))


@dataclass(frozen=True)
class _Split:
    """A selection set's fields in response order, each with its one-step resolution
    (None: graphql-core's), and the part graphql-core executes."""

    fields: tuple[tuple[str, Resolve | None], ...]
    rest: GroupedFieldSet


class LeafShortcut(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, resolving plain leaf fields in one step (see the
    module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Middleware must see every resolution: none is shortcut when there is any.
        manager = self.middleware_manager
        self._shortcut = manager is None or not manager.middlewares
        # graphql-core collects the fields of a selection set once per execution and
        # reuses that grouped field set for every object of a list: so is its split.
        self._splits: dict[int, tuple[GroupedFieldSet, _Split | None]] = {}

    def _split(self, parent_type: GraphQLObjectType, fields: GroupedFieldSet) -> _Split | None:
        known = self._splits.get(id(fields))
        if known is not None:
            return known[1]
        order: list[tuple[str, Resolve | None]] = []
        rest: GroupedFieldSet = {}
        for response_name, details in fields.items():
            node = details[0].node
            plan: Resolve | None = None
            if not node.arguments:
                if node.name.value == "__typename":
                    plan = _typename(parent_type.name)
                elif (field := parent_type.fields.get(node.name.value)) is not None:
                    plan = _plan(field)
            order.append((response_name, plan))
            if plan is None:
                rest[response_name] = details
        split = _Split(tuple(order), rest) if len(rest) < len(fields) else None
        self._splits[id(fields)] = (fields, split)
        return split

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """The fields of one object: those that can be resolved in one step at once,
        graphql-core's ``execute_fields`` for the others; in response order."""
        split = self._split(parent_type, grouped_field_set) if self._shortcut else None
        if split is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        done: dict[str, Any] = {}
        failed: list[str] = []
        for response_name, resolve in split.fields:
            if resolve is not None:
                try:
                    done[response_name] = resolve(source_value)
                except Exception:  # graphql-core resolves it again and reports it
                    failed.append(response_name)
        rest = split.rest
        if failed:
            rest = {name: details for name, details in grouped_field_set.items()
                    if name in rest or name in failed}
        if not rest:
            return done
        others = super().execute_fields(
            parent_type, source_value, path, rest, position_context
        )
        if self.is_awaitable(others):
            return _merged_later(split, done, others)
        return _merged(split, done, others)


    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """A list of objects whose selected fields are all resolved in one step (an
        item's assets), completed in one loop; anything else (or anything unusual in
        that loop) as graphql-core completes it."""
        if self._shortcut and isinstance(result, list):
            entry_type = return_type.of_type
            non_null = isinstance(entry_type, GraphQLNonNull)
            object_type = entry_type.of_type if non_null else entry_type
            if isinstance(object_type, GraphQLObjectType) and object_type.is_type_of is None:
                collected = self.collect_subfields(object_type, field_details_list)
                split = self._split(object_type, collected.grouped_field_set)
                if split is not None and not split.rest and not collected.new_defer_usages:
                    completed = _objects(split, result, non_null)
                    if completed is not None:
                        return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )


def _objects(split: _Split, values: list[Any], non_null: bool) -> list[Any] | None:
    """The completed objects, or None when one needs graphql-core (to report an error)."""
    fields = [(name, resolve) for name, resolve in split.fields if resolve is not None]
    completed: list[Any] = []
    try:
        for value in values:
            if value is None:
                if non_null:
                    return None
                completed.append(None)
            else:
                completed.append({name: resolve(value) for name, resolve in fields})
    except Exception:  # graphql-core completes them again and reports it
        return None
    return completed


def _typename(name: str) -> Resolve:
    return lambda source: name


def _merged(split: _Split, done: dict[str, Any], others: dict[str, Any]) -> dict[str, Any]:
    """Both parts of an object's fields, in response order."""
    merged = {}
    for response_name, _ in split.fields:
        if response_name in done:
            merged[response_name] = done[response_name]
        elif response_name in others:
            merged[response_name] = others[response_name]
    return merged


async def _merged_later(
    split: _Split, done: dict[str, Any], others: Awaitable[dict[str, Any]]
) -> dict[str, Any]:
    return _merged(split, done, await others)
