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

Objects go the same way (issue 17): a field whose value is an object, or a list of
objects, of a type without ``is_type_of``, selecting (after fragments and directives)
only fields resolved in one step, without ``@defer``, is resolved and completed in one
step too, into the object's response dictionary: an item of a page, with its assets and
collection, is one dictionary built by one loop. A resolver that takes ``info`` only to
reach loaded data declares, with ``at_once``, what it returns when called without
arguments, from its source and the context; when that data is not loaded yet
(``NotReady``) or anything else goes wrong, the field goes to graphql-core, which calls
the resolver itself. A paced list (``graphql_api.paced``) is never completed in one
step: its pauses are the point.
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
    GraphQLString,
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


class NotReady(Exception):
    """Raised by an ``at_once`` value whose data is not loaded: graphql-core resolves
    the field."""


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

    if coerce is not GraphQLString.coerce_output_value:
        return complete

    def complete_string(value: Any) -> Any:
        # A str is its own String (graphql-core's coercion returns it): most leaves.
        return value if type(value) is str else complete(value)

    return complete_string


def _list_completer(item: Completer, non_null: bool, strings: bool = False) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _FALLBACK
            return None
        if not isinstance(value, list | tuple):
            raise _FALLBACK  # generators, async iterables, strings: graphql-core's
        if strings:  # as ``item`` would complete them, without a call for each str
            return [entry if type(entry) is str else item(entry) for entry in value]
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
        strings = entry_inner.coerce_output_value is GraphQLString.coerce_output_value
        return _list_completer(_leaf_completer(entry_inner, entry_non_null), non_null,
                               strings)
    if isinstance(inner, GraphQLLeafType):
        return _leaf_completer(inner, non_null)
    return None


AT_ONCE = "stacql.at_once"
AtOnce = Callable[[Any, Any], Any]
"""A field's value from its source and the request's context, as its resolver called
without arguments returns it; raises ``NotReady`` when it would have to wait."""


def at_once(value: AtOnce) -> dict[str, object]:
    """The ``metadata`` of a field whose resolver takes ``info`` (or arguments) but,
    called without arguments, returns ``value(source, context)`` at once when the data
    it reads is loaded: the field is then resolved in one step (module docstring)."""
    return {AT_ONCE: value}


def _definition(field: GraphQLField) -> StrawberryField | None:
    """The field's strawberry definition, when nothing (permissions...) wraps it."""
    definition = field.extensions.get("strawberry-definition")
    if not isinstance(definition, StrawberryField) or definition.extensions:
        return None
    return definition


def _getter(field: GraphQLField) -> Getter | None:
    """How to read the field's value from its source at once; None when its resolver
    needs more than the source (arguments, ``info``), awaits, or is wrapped."""
    definition = _definition(field)
    if definition is None or field.args:
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


def _at_once(field: GraphQLField) -> AtOnce | None:
    """The field's ``at_once`` declaration, if any."""
    definition = _definition(field)
    return None if definition is None else definition.metadata.get(AT_ONCE)


Resolve = Callable[[Any], Any]
"""A field's value, completed, from its source in one step (raises when it cannot)."""
_GETTERS: dict[int, tuple[GraphQLField, Getter | None]] = {}
"""Getters by field (its id; the field is kept, so the id stays its own): a schema's
fields never change once it is built."""


def _cached_getter(field: GraphQLField) -> Getter | None:
    known = _GETTERS.get(id(field))
    if known is None:
        known = _GETTERS[id(field)] = (field, _getter(field))
    return known[1]


def _compose(getter: Getter, completer: Completer) -> Resolve:
    return lambda source: completer(getter(source))


def _bound(value: AtOnce, context: Any) -> Getter:
    return lambda source: value(source, context)


def _object_completer(fields: tuple[tuple[str, Resolve], ...], non_null: bool) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _FALLBACK
            return None
        return {name: resolve(value) for name, resolve in fields}

    return complete


def _objects_completer(entry: Completer, non_null: bool) -> Completer:
    def complete(values: Any) -> Any:
        if values is None:
            if non_null:
                raise _FALLBACK
            return None
        if not isinstance(values, list | tuple) or getattr(values, "is_paced", False):
            raise _FALLBACK  # iterables and paced lists: graphql-core's
        return [entry(value) for value in values]

    return complete


@dataclass(frozen=True)
class _Split:
    """A selection set's fields in response order, each with its one-step resolution
    (None: graphql-core's), and the part graphql-core executes."""

    fields: tuple[tuple[str, Resolve | None], ...]
    rest: GroupedFieldSet

    @property
    def resolved(self) -> tuple[tuple[str, Resolve], ...]:
        """The fields resolved in one step, in response order."""
        return tuple((name, plan) for name, plan in self.fields if plan is not None)


class LeafShortcut(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, resolving plain fields in one step (see the
    module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Middleware must see every resolution: none is shortcut when there is any.
        manager = self.middleware_manager
        self._shortcut = manager is None or not manager.middlewares
        # graphql-core collects the fields of a selection set once per execution and
        # reuses that grouped field set for every object of a list: so is its split.
        self._splits: dict[int, tuple[GroupedFieldSet, _Split | None]] = {}
        self._entries: dict[tuple[int, int], tuple[Any, Completer | None]] = {}

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
                    plan = self._resolution(field, details)
            order.append((response_name, plan))
            if plan is None:
                rest[response_name] = details
        split = _Split(tuple(order), rest) if len(rest) < len(fields) else None
        self._splits[id(fields)] = (fields, split)
        return split

    def _resolution(self, field: GraphQLField, details: Any) -> Resolve | None:
        """The one-step resolution of ``field`` selected as ``details`` (without
        arguments), or None when graphql-core must resolve it."""
        getter = _cached_getter(field)
        if getter is None:
            value = _at_once(field)
            if value is None:
                return None
            getter = _bound(value, self.context_value)
        completer = _completer(field.type)
        if completer is None:
            completer = self._objects(field.type, details)
        return None if completer is None else _compose(getter, completer)

    def _objects(self, kind: GraphQLOutputType, details: Any) -> Completer | None:
        """How to complete a value of ``kind``, an object type or a list of one, whose
        selection (``details``) is resolved in one step; None when it is not."""
        inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if isinstance(inner, GraphQLList):
            entry = self._object(inner.of_type, details)
            return None if entry is None else _objects_completer(
                entry, isinstance(kind, GraphQLNonNull)
            )
        return self._object(kind, details)

    def _object(self, kind: GraphQLOutputType, details: Any) -> Completer | None:
        """How to complete one value of ``kind``, an object type (or None)."""
        known = self._entries.get((id(kind), id(details)))
        if known is not None:
            return known[1]
        non_null = isinstance(kind, GraphQLNonNull)
        inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        completer: Completer | None = None
        if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
            collected = self.collect_subfields(inner, details)
            split = self._split(inner, collected.grouped_field_set)
            if split is not None and not split.rest and not collected.new_defer_usages:
                completer = _object_completer(split.resolved, non_null)
        self._entries[(id(kind), id(details))] = ((kind, details), completer)
        return completer

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
        item's assets, a page's items), completed in one loop; anything else (a paced
        list, anything unusual in that loop) as graphql-core completes it."""
        if self._shortcut and isinstance(result, list) and not getattr(result, "is_paced",
                                                                         False):
            entry = self._object(return_type.of_type, field_details_list)
            if entry is not None:
                try:
                    return [entry(value) for value in result]
                except Exception:  # graphql-core completes them again and reports it
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )


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
