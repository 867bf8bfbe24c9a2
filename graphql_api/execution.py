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

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
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


Plan = tuple[Getter, Completer] | None
_PLANS: dict[int, tuple[GraphQLField, Plan]] = {}
"""Plans by field (its id; the field is kept, so the id stays its own): a schema's
fields never change once it is built."""


class LeafShortcut(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, resolving plain leaf fields in one step (see the
    module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Middleware must see every resolution: none is shortcut when there is any.
        manager = self.middleware_manager
        self._shortcut = manager is None or not manager.middlewares

    def _plan(self, parent_type: GraphQLObjectType, name: str) -> Plan:
        field = parent_type.fields.get(name)
        if field is None:
            return None
        known = _PLANS.get(id(field))
        if known is not None:
            return known[1]
        plan: Plan = None
        if not field.args:
            getter, completer = _getter(field), _completer(field.type)
            if getter is not None and completer is not None:
                plan = (getter, completer)
        _PLANS[id(field)] = (field, plan)
        return plan

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """The field resolved in one step when it can be, else graphql-core's way."""
        node = field_details_list[0].node
        if not node.arguments and self._shortcut:
            name = node.name.value
            if name == "__typename":
                return parent_type.name
            plan = self._plan(parent_type, name)
            if plan is not None:
                try:
                    return plan[1](plan[0](source))
                except Exception:  # graphql-core reports it below
                    pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )
