"""The parser's own vocabulary: the schema as the parser sees it, and the intermediate
form a question becomes before any statement exists.

The intermediate form (QueryPlan) says *what* is selected, aggregated, filtered,
grouped and ordered, with every column a real (table, column) of the schema. It says
nothing about FROM or JOIN: the renderers derive those from the shortest foreign-key
path between the tables the plan uses (IRNet's SemQL / NatSQL idea), so a plan can
never name a join that the schema does not have, and never a column that does not
exist. The language side (language/) builds plans; the render side (render/) turns a
plan into a statement per dialect and into English; convert.py turns both into protos.
Nothing here imports grpc, protobuf or a database driver.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# ----------------------------------------------------------------------------- schema


class ColumnKind(enum.Enum):
    """Engine-neutral column types, as coarse as the parser needs them."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"  # decimal / float
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    OTHER = "other"  # json, bytes, arrays, object ids…

    @property
    def numeric(self) -> bool:
        return self in (ColumnKind.INTEGER, ColumnKind.NUMBER)

    @property
    def temporal(self) -> bool:
        return self in (ColumnKind.DATE, ColumnKind.TIMESTAMP)


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: ColumnKind
    comment: str = ""
    primary_key: bool = False
    nullable: bool = True


@dataclass(frozen=True)
class ForeignKeyInfo:
    """columns of the owning table → referenced_columns of referenced_table."""

    columns: tuple[str, ...]
    referenced_table: str
    referenced_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKeyInfo, ...] = ()
    comment: str = ""
    schema_name: str = ""  # PostgreSQL schema / MySQL database / MongoDB database
    row_estimate: int = -1

    def column(self, name: str) -> ColumnInfo | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None


class SchemaFlavour(enum.Enum):
    """What statements the schema takes."""

    POSTGRES = "postgres"
    MYSQL = "mysql"
    MONGODB = "mongodb"


@dataclass(frozen=True)
class SchemaView:
    """A connection's schema as the parser uses it. `version` changes exactly when the
    content changes (the connector's schema_version), so caches key on it."""

    tables: tuple[TableInfo, ...]
    flavour: SchemaFlavour = SchemaFlavour.POSTGRES
    version: str = ""
    database: str = ""

    def table(self, name: str) -> TableInfo | None:
        for table in self.tables:
            if table.name == name:
                return table
        return None

    def column(self, ref: ColumnRef) -> ColumnInfo | None:
        table = self.table(ref.table)
        return table.column(ref.column) if table else None


# ------------------------------------------------------------------ intermediate form


@dataclass(frozen=True)
class ColumnRef:
    """A real column of the schema; column "*" stands for the whole row (COUNT(*))."""

    table: str
    column: str

    @property
    def star(self) -> bool:
        return self.column == "*"

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


class Aggregate(enum.Enum):
    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"


class Op(enum.Enum):
    EQ = "="
    NE = "<>"
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "like"  # case-insensitive containment; values hold the bare text, no wildcards
    NOT_LIKE = "not like"
    IN = "in"  # values, or a subquery
    NOT_IN = "not in"
    BETWEEN = "between"  # two values, inclusive
    IS_NULL = "is null"
    IS_NOT_NULL = "is not null"


# A literal from the question, already typed: text, numbers, booleans, dates.
Value = str | int | float | bool | dt.date | dt.datetime


@dataclass(frozen=True)
class Expression:
    """A computed expression that the glossary defines (a metric's measure such as
    "sum(order_items.price * order_items.quantity)", a segment's condition such as
    "customers.status = 'active'"). `sql` is validated against the schema when the
    glossary is written and parsed with sqlglot (dialect-neutral) when rendered;
    `tables` are the tables it reads, so the join can be derived."""

    sql: str
    tables: tuple[str, ...]
    aggregated: bool = False  # the expression already aggregates (a metric's measure)


@dataclass(frozen=True)
class Selection:
    """One output column: a column, an aggregate over one, or a glossary expression."""

    column: ColumnRef | None = None
    aggregate: Aggregate | None = None
    distinct: bool = False  # COUNT(DISTINCT column)
    expression: Expression | None = None
    alias: str = ""  # output name; empty: the renderer names it (count, avg_price…)

    @property
    def aggregated(self) -> bool:
        return self.aggregate is not None or bool(self.expression and self.expression.aggregated)


@dataclass(frozen=True)
class Condition:
    """column op values — or, with `subquery`, column op (SELECT …): IN / NOT IN for
    "without" / "never", a comparison against a scalar subquery for "above the average".
    With `aggregate` the condition is on an aggregate (HAVING); COUNT with column "*"
    is count(*). With `expression` the whole condition is a glossary segment."""

    column: ColumnRef | None
    op: Op
    values: tuple[Value, ...] = ()
    aggregate: Aggregate | None = None
    distinct: bool = False
    subquery: QueryPlan | None = None
    expression: Expression | None = None
    source: str = ""  # the words of the question it came from, for explanations


@dataclass(frozen=True)
class Ordering:
    column: ColumnRef | None  # None with an aggregate: order by that aggregate of the group
    descending: bool = False
    aggregate: Aggregate | None = None
    expression: Expression | None = None


class TimeGrain(enum.Enum):
    YEAR = "year"
    QUARTER = "quarter"
    MONTH = "month"
    WEEK = "week"
    DAY = "day"


@dataclass(frozen=True)
class TimeBucket:
    """Group by a date/timestamp column truncated to a grain ("revenue by month",
    "orders per year"): the renderer selects the truncated value first (named after the
    grain), groups by it and orders by it, oldest first, unless order_by says otherwise."""

    column: ColumnRef
    grain: TimeGrain


class SetOperator(enum.Enum):
    UNION = "union"  # "either … or …"
    INTERSECT = "intersect"  # "both … and …"
    EXCEPT = "except"  # "… but not …", "never"


@dataclass(frozen=True)
class TimeWindow:
    """A time window the question names, resolved against the request's clock:
    start inclusive, end exclusive; either may be open."""

    column: ColumnRef
    start: dt.datetime | None
    end: dt.datetime | None
    expression: str  # the words: "last month", "in 2024", "since March"


@dataclass(frozen=True)
class QueryPlan:
    """What a question asks of the database, before any statement exists.

    - `select`: output columns in order; empty means every column of `tables[0]`.
    - `where`: conditions combined with AND (or OR when `where_any`).
    - `group_by`: explicit grouping keys. When empty and `select` mixes plain and
      aggregated selections, the renderer groups by the plain ones.
    - `having`: conditions on aggregates.
    - `order_by`, `limit` (None: no limit), `distinct` (SELECT DISTINCT).
    - `tables`: tables the question mentions that must be part of the join even if no
      selected or filtered column comes from them (the first is the main table).
    - `set_operation` combines this plan with a second one (INTERSECT / UNION / EXCEPT).
    - `bucket` groups by a temporal column truncated to a grain (by month, per year).
    """

    select: tuple[Selection, ...] = ()
    where: tuple[Condition, ...] = ()
    where_any: bool = False
    group_by: tuple[ColumnRef, ...] = ()
    having: tuple[Condition, ...] = ()
    order_by: tuple[Ordering, ...] = ()
    limit: int | None = None
    distinct: bool = False
    tables: tuple[str, ...] = ()
    time_window: TimeWindow | None = None
    set_operation: tuple[SetOperator, QueryPlan] | None = None
    bucket: TimeBucket | None = None

    def referenced_tables(self) -> list[str]:
        """Every table this plan (not its subqueries or set partner) reads, main first."""
        seen: dict[str, None] = dict.fromkeys(self.tables)
        for selection in self.select:
            if selection.column:
                seen.setdefault(selection.column.table)
            if selection.expression:
                seen.update(dict.fromkeys(selection.expression.tables))
        for condition in (*self.where, *self.having):
            if condition.column:
                seen.setdefault(condition.column.table)
            if condition.expression:
                seen.update(dict.fromkeys(condition.expression.tables))
        for key in self.group_by:
            seen.setdefault(key.table)
        for ordering in self.order_by:
            if ordering.column:
                seen.setdefault(ordering.column.table)
            if ordering.expression:
                seen.update(dict.fromkeys(ordering.expression.tables))
        if self.time_window:
            seen.setdefault(self.time_window.column.table)
        if self.bucket:
            seen.setdefault(self.bucket.column.table)
        return list(seen)


class QueryKind(enum.Enum):
    """What a question asks for; mirrors the proto Intent."""

    SELECT = "select"
    COUNT = "count"
    AGGREGATE = "aggregate"
    TOP_N = "top_n"
    DISTINCT = "distinct"
    DESCRIBE = "describe"
    TRAIN = "train"
    PREDICT = "predict"
    MODEL_STATUS = "model_status"
    SYSTEM_STATUS = "system_status"
    ANOMALY = "anomaly"
    UNKNOWN = "unknown"

    @property
    def runs_a_statement(self) -> bool:
        return self in (QueryKind.SELECT, QueryKind.COUNT, QueryKind.AGGREGATE, QueryKind.TOP_N, QueryKind.DISTINCT)


@dataclass
class Understanding:
    """What the language side made of a question.

    `plan` is None when the question is not a database query (train, predict, status,
    describe). `notes` explain each link that was assumed (by meaning, by a near-miss
    spelling, by the glossary) in one line each. For TRAIN / PREDICT / MODEL_STATUS,
    `model_name`, `target`, `features` and `predict_inputs` carry what was named.
    """

    kind: QueryKind
    plan: QueryPlan | None = None
    confidence: float = 0.0
    notes: list[str] = field(default_factory=list)
    model_name: str = ""
    target: str = ""
    table: str = ""  # TRAIN, ANOMALY: the table the model learns from
    tables: list[str] = field(default_factory=list)  # DESCRIBE: the tables described
    explanation: str = ""  # for kinds that run no statement: what the answer is
    features: list[str] = field(default_factory=list)
    predict_inputs: dict[str, Value] = field(default_factory=dict)


class Unresolved(Exception):
    """A question that cannot be mapped onto the schema. `what` names the words that
    could not be resolved; `suggestions` the closest tables / columns ("customers.city")
    the parser knows. Never carries a guess that would run."""

    def __init__(self, what: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(what)
        self.what = what
        self.suggestions = list(suggestions)


# Distinct values sampled from a connection's text columns: what value linking searches.
Samples = Mapping[ColumnRef, Sequence[str]]
