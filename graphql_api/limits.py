"""Bounds on the work one GraphQL document may cause, checked before anything runs.

strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` walk a fragment again at
every spread of it, so 40 fragments each spreading the previous one twice (3 KB) cost
them 2^40 steps and pin a worker for good (issue 16). Here every fragment is measured once
and its figures reused wherever it is spread: the check costs time linear in the document
(itself bounded by ``MaxTokensLimiter``) whatever the document expands to, and it runs
before graphql-core's validation and before any resolver.

Four figures are bounded per operation, all after fragment expansion:

* ``depth``: nesting of fields (introspection fields, whose depth the schema bounds, are
  left out, as ``QueryDepthLimiter`` does);
* ``aliases`` and ``fields``: how many aliased fields, and fields, the operation selects;
* ``cost``: fields weighted by how many times they may be resolved. A field with a
  ``first`` argument (a page) multiplies what its nodes or edges select by its page size
  (the argument or its variable, else the default page size), so a page of collections
  each with a page of items counts as the product of both. Any other field returning a
  list of objects multiplies what it selects by its size argument (``first``, ``limit``,
  ``buckets``) or, without one, by ``Limits.assumed_list_size`` (an item's assets, its
  links, a collection's providers); lists of scalars count as one field. Introspection
  is counted without multiplying: the schema bounds it;
* ``statements``: database statements it may run, weighted the same way (the fields
  whose resolvers are marked in ``graphql_api.statements``: root fields, aggregations,
  an item connection's ``totalCount``, the items of each collection), since the
  statement timeout bounds each one but not how many a document asks for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    is_object_type,
)
from strawberry.extensions import SchemaExtension

from graphql_api.context import Limits
from graphql_api.statements import runs_statement


@dataclass(frozen=True)
class Measure:
    """What a selection set costs once expanded (see the module docstring)."""

    depth: int = 0
    fields: int = 0
    aliases: int = 0
    cost: int = 0
    statements: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            max(self.depth, other.depth), self.fields + other.fields,
            self.aliases + other.aliases, self.cost + other.cost,
            self.statements + other.statements,
        )


# Fields of a connection repeated for each node of its page; the others (totalCount,
# pageInfo) are resolved once per connection.
_PER_NODE = frozenset({"nodes", "edges"})
# Arguments that bound how many entries a list field returns.
_SIZE_ARGUMENTS = ("first", "limit", "buckets")
Parts = tuple[Measure, Measure]
"""A selection set's measure resolved once, and the part resolved once per node of the
page of the connection it belongs to (nothing outside a connection)."""


def _is_connection(kind: GraphQLNamedType | None) -> bool:
    return kind is not None and kind.name.endswith("Connection")


class _Measurer:
    """Measures selection sets of one document; each fragment is measured once."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode,
        variables: Mapping[str, Any], limits: Limits,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.limits = limits
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, Parts] = {}
        self.in_progress: set[str] = set()

    def selection_set(
        self, node: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> Parts:
        once, per_node = Measure(), Measure()
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                measure = self.field(selection, parent)
                if _is_connection(parent) and selection.name.value in _PER_NODE:
                    per_node += measure
                else:
                    once += measure
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                parts = self.selection_set(selection.selection_set, kind)
            elif isinstance(selection, FragmentSpreadNode):
                parts = self.fragment(selection.name.value)
            once, per_node = once + parts[0], per_node + parts[1]
        return once, per_node

    def fragment(self, name: str) -> Parts:
        # Unknown and cyclic spreads count nothing here: validation refuses them next.
        if name in self.measured:
            return self.measured[name]
        if name in self.in_progress or name not in self.fragments:
            return Measure(), Measure()
        self.in_progress.add(name)
        definition = self.fragments[name]
        parts = self.selection_set(
            definition.selection_set, self.schema.get_type(definition.type_condition.name.value)
        )
        self.in_progress.discard(name)
        self.measured[name] = parts
        return parts

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        child = get_named_type(definition.type) if definition is not None else None
        once, per_node = self.selection_set(node.selection_set, child)
        inner = once + per_node
        introspection = node.name.value.startswith("__")
        depth = 0 if introspection or node.selection_set is None else inner.depth + 1
        if _is_connection(child):
            # A page: what its nodes select is resolved once per node of the page.
            times = self.size(node, definition, self.limits.default_page_size)
            cost = 1 + once.cost + times * per_node.cost
            statements = once.statements + times * per_node.statements
        else:
            times = self.list_length(node, definition, parent)
            cost = 1 + times * inner.cost
            statements = times * inner.statements
        return Measure(
            depth, inner.fields + 1, inner.aliases + (node.alias is not None), cost,
            runs_statement(definition) + statements,
        )

    def list_length(
        self, node: FieldNode, definition: GraphQLField | None,
        parent: GraphQLNamedType | None,
    ) -> int:
        """How many times what a field selects is resolved: once, or once per entry of
        the list of objects it returns (a connection's nodes count by its page size)."""
        if definition is None or parent is None or _is_connection(parent):
            return 1
        if parent.name.startswith("__"):
            return 1
        kind = get_nullable_type(definition.type)
        if not is_list_type(kind) or not is_object_type(get_named_type(kind)):
            return 1
        return self.size(node, definition, self.limits.assumed_list_size)

    def size(self, node: FieldNode, definition: GraphQLField | None, default: int) -> int:
        """The entries a field asks for through its size argument (its literal, or its
        variable's value), within the configured bounds (the resolver refuses what lies
        outside them); ``default`` without one."""
        names = [n for n in _SIZE_ARGUMENTS if definition is not None and n in definition.args]
        if not names:
            return default
        size = _default_of(definition, names[0], default)
        for argument in node.arguments or ():
            if argument.name.value != names[0]:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                size = int(value.value)
            elif isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                size = given if isinstance(given, int) else self.limits.max_page_size
        return min(max(size, 1), self.limits.max_page_size)


def _default_of(definition: GraphQLField | None, name: str, fallback: int) -> int:
    """The schema's default value of an integer argument, else ``fallback``."""
    argument = definition.args[name] if definition is not None else None
    default = argument.default_value if argument is not None else None
    return default if isinstance(default, int) and not isinstance(default, bool) else fallback


def measure_operations(
    schema: GraphQLSchema, document: DocumentNode,
    variables: Mapping[str, Any] | None, limits: Limits,
) -> dict[str, Measure]:
    """The measure of each operation of ``document``, by name ("" when anonymous)."""
    measurer = _Measurer(schema, document, variables or {}, limits)
    measures = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            name = definition.name.value if definition.name else ""
            once, per_node = measurer.selection_set(definition.selection_set, root)
            measures[name] = once + per_node
    return measures


COSTLY = "QUERY_TOO_COSTLY"
"""The code of an operation refused for its cost or its database statements."""


@dataclass(frozen=True)
class Problem:
    """Why an operation is refused: a message and its GraphQL error code."""

    message: str
    code: str


def limit_problem(measure: Measure, limits: Limits) -> Problem | None:
    """Why an operation of this measure is refused, or None when it is within limits."""
    checks = (
        (measure.depth, limits.max_depth, "depth", "GRAPHQL_VALIDATION_FAILED"),
        (measure.aliases, limits.max_aliases, "aliases", "GRAPHQL_VALIDATION_FAILED"),
        (measure.fields, limits.max_fields, "fields (after fragment expansion)",
         "GRAPHQL_VALIDATION_FAILED"),
        (measure.cost, limits.max_cost, "cost (fields times list and page sizes)", COSTLY),
        (measure.statements, limits.max_statements, "database statements", COSTLY),
    )
    for value, bound, what, code in checks:
        if value > bound:
            return Problem(f"the operation exceeds the limit of its {what}: {value} > {bound}",
                           code)
    return None


def cost_report(measure: Measure, limits: Limits) -> dict[str, int]:
    """The ``cost`` entry of a response's (or a refusal's) ``extensions``."""
    return {"requested": measure.cost, "maximum": limits.max_cost,
            "statements": measure.statements, "maximumStatements": limits.max_statements}


class DocumentLimits(SchemaExtension):
    """Refuse, before validation and execution, an operation whose measure exceeds the
    limits (``QUERY_TOO_COSTLY`` for its cost or statements, ``GRAPHQL_VALIDATION_FAILED``
    for the rest), and report the measure in the response's ``extensions.cost`` when the
    request's extensions ask for it (``{"cost": true}``) or ``Limits.report_cost`` is set."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.measure: Measure | None = None

    def on_validate(self) -> Iterator[None]:
        """Measure the document; a refusal set here skips graphql-core's validation."""
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            measures = measure_operations(
                context.schema._schema, document, context.variables, self.limits
            )
            for name, measure in measures.items():
                problem = limit_problem(measure, self.limits)
                if problem:
                    context.pre_execution_errors = [GraphQLError(problem.message, extensions={
                        "code": problem.code, "cost": cost_report(measure, self.limits),
                    })]
                    break
                if name == (context.operation_name or "") or len(measures) == 1:
                    self.measure = measure
        yield

    def get_results(self) -> dict[str, Any]:
        """``{"cost": ...}`` when asked for and measured, else nothing."""
        asked = (self.execution_context.operation_extensions or {}).get("cost") is True
        if self.measure is None or not (asked or self.limits.report_cost):
            return {}
        return {"cost": cost_report(self.measure, self.limits)}
