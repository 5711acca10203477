"""A connection's glossary — its semantic layer — as both sides see it: the connector
validates and stores it (SetGlossary / GetGlossary), the parser matches its terms
before anything else.

Four kinds of entry, after WrenAI's MDL, Cube and dbt MetricFlow, cut to what
questions need:
- metric: a named measure over a base table ("revenue" = sum(order_items.price *
  order_items.quantity) where orders.status <> 'cancelled'), with a default time column;
- segment: a named filter ("active customer" = customers.status = 'active');
- synonym: a term for a column or a table ("client" → customers, "wage" → employees.salary);
- relationship: a join no foreign key declares.

Every SQL fragment is stored as validated on write: parsed with sqlglot, every table
and column checked against the schema, and every column written qualified
(`table.column`), so readers never resolve names again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    name: str
    table: str  # the base table the measure is counted over
    expression: str  # an aggregate, qualified: "sum(order_items.price * order_items.quantity)"
    filters: tuple[str, ...] = ()  # conditions ANDed in, qualified: "orders.status <> 'cancelled'"
    time_column: str = ""  # "orders.ordered_at": the column "last month" applies to
    description: str = ""
    synonyms: tuple[str, ...] = ()  # other words for the metric ("sales", "turnover")


@dataclass(frozen=True)
class Segment:
    name: str  # "active customer"
    table: str
    condition: str  # qualified: "customers.status = 'active'"
    description: str = ""
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Synonym:
    term: str  # "client"
    target: str  # "customers" (a table) or "customers.email" (a column)


@dataclass(frozen=True)
class Relationship:
    """from_table.from_columns = to_table.to_columns, a join no foreign key declares."""

    from_table: str
    from_columns: tuple[str, ...]
    to_table: str
    to_columns: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True)
class Glossary:
    metrics: tuple[Metric, ...] = ()
    segments: tuple[Segment, ...] = ()
    synonyms: tuple[Synonym, ...] = ()
    relationships: tuple[Relationship, ...] = ()
    version: str = ""  # a hash of the content: caches key on it
    pii_columns: tuple[str, ...] = field(default=())  # "customers.email": masked for non-admins (operations issue)

    @property
    def empty(self) -> bool:
        return not (self.metrics or self.segments or self.synonyms or self.relationships)
