"""Parsed and validated documents kept between requests.

A client sends the same few documents again and again, with other variables: parsing
one and validating it against the schema took a quarter of graphql-core's time on a page
of 100 items (issue 17). ``DocumentCache`` keeps, by query text, the document parsed
once, and whether graphql-core's validation passed it; the document limits
(``graphql_api.limits``) still measure every request, since page sizes come from its
variables. Only documents that parsed and validated are kept (a refusal is computed
again each time), at most ``size`` of them, each at most ``max_query_chars`` long, the
least recently used dropped first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension


@dataclass
class Documents:
    """The documents of one schema, by query text (the document, and whether it passed
    validation)."""

    size: int = 512
    max_query_chars: int = 16_384
    entries: OrderedDict[str, tuple[DocumentNode, bool]] = field(default_factory=OrderedDict)

    def get(self, query: str) -> tuple[DocumentNode, bool] | None:
        """The entry of ``query`` (now the most recently used), if kept."""
        entry = self.entries.get(query)
        if entry is not None:
            self.entries.move_to_end(query)
        return entry

    def put(self, query: str, document: DocumentNode, valid: bool) -> None:
        """Keep ``query``'s document, dropping the least recently used past ``size``."""
        if len(query) > self.max_query_chars:
            return
        self.entries[query] = (document, valid)
        self.entries.move_to_end(query)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


class DocumentCache(SchemaExtension):
    """Skip parsing, and graphql-core's validation, of a document seen before (see the
    module docstring). Listed after ``DocumentLimits``, whose refusal it leaves alone."""

    def __init__(self, documents: Documents) -> None:
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        """The kept document of the query, if any; else keep what is parsed."""
        context = self.execution_context
        query = context.query
        entry = self.documents.get(query) if query and context.graphql_document is None else None
        if entry is not None:
            context.graphql_document = entry[0]
        yield
        if query and entry is None and context.graphql_document is not None:
            self.documents.put(query, context.graphql_document, False)

    def on_validate(self) -> Iterator[None]:
        """No validation of a document that passed it (unless a limit refused it)."""
        context = self.execution_context
        query, document = context.query, context.graphql_document
        entry = self.documents.get(query) if query else None
        known = entry is not None and entry[0] is document
        if known and entry[1] and context.pre_execution_errors is None:
            context.pre_execution_errors = []  # strawberry then skips validation
        yield
        if known and not entry[1] and context.pre_execution_errors == []:
            assert query is not None and document is not None
            self.documents.put(query, document, True)
