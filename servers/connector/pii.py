"""Personal data: which columns hold it, which result columns come from them, masking.

Detection, per connection, schema version and glossary version (`PersonalData`
caches it; a schema or glossary change is a new detection):

The rules (contracts/personal_data.py, shared with the parser):

- by name (`NAME_RULES`, on the column name split on case and underscores):
  person names (first_name, last_name, full_name, surname, customer_name,
  contact_name, contact; a bare `name` only in a table of people: customers, users,
  employees, …), e-mail, phone / mobile / tel / fax, postal address (address, street,
  address_line_1, postcode, postal_code, zip), date of birth, national ids (ssn,
  national_id, passport, tax_id, driver's licence), IP address. City, state, region
  and country alone are NOT personal data: they name places shared by many people and
  are what questions group by. A name ending in an id or a flag word (email_id,
  phone_verified, address_count, email_domain) and boolean columns are never matched.
- by sampled values: `SAMPLE_ROWS` rows of each table's text columns; a column
  is personal data when at least `VALUE_SHARE` of its non-null sampled values look
  like e-mail addresses, phone numbers (+ or separators, 7-15 digits; bare digit runs
  are ids, not phones), street addresses ("12 Baker Street") or IPv4 addresses.
- the glossary: `pii_columns` are personal data whatever detection says;
  `not_pii_columns` never are (a false positive switched off).

Lineage (`exposing`): a result column is masked when its expression reads a personal
column's value: the statement is qualified with sqlglot against the schema (stars
expanded, every column resolved to its table, through subqueries, CTEs and unions) and
each output's expression is walked. A personal column under count(), length() or a
predicate (=, LIKE, IN, IS NULL…) does not expose its value; under anything else
(min, max, lower, concat, CASE … THEN email) it does. A statement sqlglot cannot
qualify falls back to the result itself: a column named like a personal column, or
whose returned values look personal, is masked. MongoDB results are masked the same
way (by field name, then by values): documents have no lineage to follow.

Masking: a value becomes "***"; an e-mail address keeps its domain ("***@example.com")
— the organisation, useful to read an answer, never the person; NULL stays NULL. A
masked column's type becomes TEXT.

Pure logic but for `detect`, which samples through the function it is given (the
core's, over the connection's driver: no RPC, so no masking of its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from servers.contracts import personal_data as rules

from .domain import ColumnInfo, DataType, ResultColumn, SchemaInfo, TableInfo, Unsupported

MASK = "***"
SAMPLE_ROWS = 50
MAX_SAMPLED_TABLES = 200

# ------------------------------------------------------------------------- by name and value
# The rules themselves are shared with the parser: servers/contracts/personal_data.py.


def by_name(table: str, column: ColumnInfo | str, type_: DataType | None = None) -> str | None:
    """The category of personal data a column's name says it holds (never a boolean)."""
    name = column if isinstance(column, str) else column.name
    type_ = type_ if isinstance(column, str) else column.type
    if type_ is DataType.BOOLEAN:
        return None
    return rules.by_name(table, name)


def value_category(value: object) -> str | None:
    return rules.value_category(value.text if isinstance(value, Unsupported) else value)  # inet, say


def by_values(values: Iterable[object]) -> str | None:
    return rules.by_values(v.text if isinstance(v, Unsupported) else v for v in values)


# ------------------------------------------------------------------------- detection


@dataclass(frozen=True)
class Detected:
    """The personal columns of one connection: (table, column) lower-case → why."""

    columns: dict[tuple[str, str], str]

    def __bool__(self) -> bool:
        return bool(self.columns)

    def holds(self, table: str, column: str) -> bool:
        return (table.lower(), column.lower()) in self.columns

    def names(self) -> frozenset[str]:
        return frozenset(c for _, c in self.columns)


_SAMPLED_TYPES = {DataType.TEXT, DataType.OTHER}  # OTHER: inet, say

# (table, its columns to sample) → rows of those columns' values
Sampler = Callable[[TableInfo, tuple[ColumnInfo, ...]], Awaitable[Sequence[Sequence[Any]]]]


async def detect(schema: SchemaInfo, pii: Iterable[str], not_pii: Iterable[str], sample: Sampler,
                 concurrency: int = 4) -> Detected:
    """The personal columns of `schema`: by name, by sampled values, then the glossary's
    own `pii` / `not_pii` lists ("table.column") on top."""
    found: dict[tuple[str, str], str] = {}
    off = {tuple(c.lower().rsplit(".", 1)) for c in not_pii}
    to_sample: list[tuple[TableInfo, tuple[ColumnInfo, ...]]] = []
    for table in schema.tables:
        rest = []
        for column in table.columns:
            category = by_name(table.name, column)
            if category:
                found[(table.name.lower(), column.name.lower())] = f"{category} (by name)"
            elif column.type in _SAMPLED_TYPES:
                rest.append(column)
        if rest and len(to_sample) < MAX_SAMPLED_TABLES:
            to_sample.append((table, tuple(rest)))
    gate = asyncio.Semaphore(concurrency)

    async def one(table: TableInfo, columns: tuple[ColumnInfo, ...]) -> None:
        async with gate:
            rows = await sample(table, columns)
        for j, column in enumerate(columns):
            category = by_values(row[j] for row in rows if j < len(row))
            if category:
                found[(table.name.lower(), column.name.lower())] = f"{category} (by values)"

    await asyncio.gather(*(one(t, cols) for t, cols in to_sample))
    for text in pii:
        table, _, column = text.lower().rpartition(".")
        found[(table, column)] = "marked pii in the glossary"
    for key in off:
        found.pop(key, None)  # type: ignore[arg-type]
    return Detected(found)


def sample_sql(table: TableInfo, columns: Sequence[ColumnInfo], dialect: str, rows: int = SAMPLE_ROWS) -> str:
    """SELECT the columns FROM the table LIMIT rows, quoted for the dialect."""
    query = sqlglot.select(*(exp.column(c.name, quoted=True) for c in columns)).from_(
        exp.table_(table.name, db=table.schema or None, quoted=True)).limit(rows)
    return query.sql(dialect=dialect)


class PersonalData:
    """Detections per connection, reused while the schema and glossary versions hold;
    one detection at a time per connection (a burst of first questions samples once),
    and the lineage of recent statements."""

    def __init__(self, plans: int = 512) -> None:
        # connection key → (schema version, glossary version, detection)
        self._entries: dict[tuple, tuple[str, str, Detected]] = {}
        self._locks: dict[tuple, asyncio.Lock] = {}
        self._lineage: dict[tuple, list[bool] | None] = {}
        self._max_plans = plans
        self._versions: dict[int, tuple[SchemaInfo, str]] = {}

    def version_of(self, schema: SchemaInfo) -> str:
        """schema.fingerprint(), hashed once per introspected schema object."""
        known = self._versions.get(id(schema))
        if known is not None and known[0] is schema:
            return known[1]
        if len(self._versions) > 64:
            self._versions.clear()
        version = schema.fingerprint()
        self._versions[id(schema)] = (schema, version)
        return version

    async def get(self, key: tuple, schema_version: str, glossary_version: str,
                  compute: Callable[[], Awaitable[Detected]]) -> Detected:
        entry = self._entries.get(key)
        if entry is not None and entry[:2] == (schema_version, glossary_version):
            return entry[2]
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._entries.get(key)
            if entry is not None and entry[:2] == (schema_version, glossary_version):
                return entry[2]
            detected = await compute()
            self._entries[key] = (schema_version, glossary_version, detected)
            return detected

    def lineage(self, key: tuple, versions: tuple[str, str], sql: str, dialect: str, schema: SchemaInfo,
                detected: Detected) -> list[bool] | None:
        wanted = (key, versions, sql)
        if wanted in self._lineage:
            return self._lineage[wanted]
        flags = exposing(sql, dialect, schema, detected)
        if len(self._lineage) >= self._max_plans:
            self._lineage.pop(next(iter(self._lineage)))
        self._lineage[wanted] = flags
        return flags

    def invalidate(self, connection_id: str) -> None:
        for key in [k for k in self._entries if k[0] == connection_id]:
            del self._entries[key]
            self._locks.pop(key, None)
        self._lineage = {k: v for k, v in self._lineage.items() if k[0][0] != connection_id}


# ------------------------------------------------------------------------- lineage

_SAFE = (exp.Count, exp.Length, exp.Predicate, exp.Exists)


def exposing(sql: str, dialect: str, schema: SchemaInfo, detected: Detected) -> list[bool] | None:
    """For each output column of `sql`, whether it exposes a personal column's value;
    None when sqlglot cannot qualify the statement (the caller falls back)."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        if not isinstance(tree, exp.Query):
            return None
        tree = qualify(tree, schema=_schema_map(schema), dialect=dialect, validate_qualify_columns=False,
                       identify=False)
        root = build_scope(tree)
    except Exception:  # noqa: BLE001 - any failure to qualify means: use the fallback
        return None
    if root is None:
        return None
    try:
        return _outputs_expose(root, detected, 0)
    except _Unknown:
        return None


def _outputs_expose(scope: Scope, detected: Detected, depth: int) -> list[bool]:
    """Per output column of `scope`: whether it exposes a personal value; a set
    operation's column does when any branch's does."""
    if depth > 32:
        raise _Unknown
    if isinstance(scope.expression, exp.SetOperation):
        branches = [_outputs_expose(s, detected, depth + 1) for s in scope.set_operation_scopes]
        if len({len(b) for b in branches}) != 1:
            raise _Unknown
        return [any(flags) for flags in zip(*branches, strict=True)]
    outputs = _outputs(scope)
    if any(isinstance(p, exp.Star) or isinstance(p, exp.Column) and isinstance(p.this, exp.Star) for p in outputs):
        raise _Unknown  # a star qualify could not expand: a table the schema lacks
    return [_exposes(p, scope, detected, depth) for p in outputs]


class _Unknown(Exception):
    """A column whose source could not be resolved."""


def _schema_map(schema: SchemaInfo) -> dict[str, dict[str, dict[str, str]]]:
    out: dict[str, dict[str, dict[str, str]]] = {}
    for table in schema.tables:
        out.setdefault(table.schema or "", {})[table.name] = {c.name: "TEXT" for c in table.columns}
    if len(out) == 1 or "" in out:
        # one namespace: a flat map, so that unqualified and qualified names both resolve
        flat: dict[str, dict[str, str]] = {}
        for tables in out.values():
            flat.update(tables)
        return flat  # type: ignore[return-value]
    return out


def _outputs(scope: Scope) -> list[exp.Expression]:
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):
        return _outputs(scope.set_operation_scopes[0])
    return list(expression.selects) if isinstance(expression, exp.Select) else []


def _exposes(node: exp.Expression, scope: Scope, detected: Detected, depth: int) -> bool:
    if depth > 32:
        raise _Unknown
    own = scope.expression
    for column in node.find_all(exp.Column):
        if column.find_ancestor(exp.Query) is not own or _under_safe(column, node):
            continue  # a subquery's column is that subquery's business (below)
        if _column_exposes(column, scope, detected, depth):
            return True
    for sub in node.find_all(exp.Query):
        if sub.find_ancestor(exp.Query) is not own or _under_safe(sub, node):
            continue
        target = sub.this if isinstance(sub, exp.Subquery) else sub
        inner = next((s for s in scope.subquery_scopes if s.expression is target), None)
        if inner is None:
            raise _Unknown
        if any(_outputs_expose(inner, detected, depth + 1)):
            return True
    return False


def _under_safe(node: exp.Expression, top: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None and parent is not top.parent:
        if isinstance(parent, _SAFE):
            return True
        parent = parent.parent
    return False


def _column_exposes(column: exp.Column, scope: Scope, detected: Detected, depth: int) -> bool:
    if isinstance(column.this, exp.Star):
        raise _Unknown  # a star qualify could not expand
    source = scope.sources.get(column.table)
    if source is None:
        # a column of an outer query inside a correlated subquery, or an output alias
        # used in ORDER BY: look outwards
        outer = scope.parent
        while outer is not None and source is None:
            source = outer.sources.get(column.table)
            scope = outer
            outer = outer.parent
        if source is None:
            if not column.table:
                return False  # a bare name sqlglot left alone: an output alias, not a column
            raise _Unknown
    if isinstance(source, exp.Table):
        return detected.holds(source.name, column.name)
    if isinstance(source, Scope):
        index = next((i for i, p in enumerate(_outputs(source)) if p.alias_or_name == column.name), None)
        if index is None:
            raise _Unknown
        flags = _outputs_expose(source, detected, depth + 1)
        if index >= len(flags):
            raise _Unknown
        return flags[index]
    raise _Unknown


def fallback(columns: Sequence[ResultColumn], rows: Sequence[Sequence[Any]], detected: Detected,
             table_names: Iterable[str] = ()) -> list[bool]:
    """Masking without lineage: a result column named like a personal column (or like
    personal data by the name rules), or whose values look personal, is masked."""
    personal = detected.names()
    tables = list(table_names) or [""]
    out = []
    for j, c in enumerate(columns):
        name = c.name.lower()
        hit = name in personal or any(by_name(t, c.name, c.type) for t in tables)
        if not hit and rows:
            hit = by_values(row[j] for row in rows if j < len(row)) is not None
        out.append(hit)
    return out


# ------------------------------------------------------------------------- masking


@dataclass(frozen=True)
class MaskPlan:
    """Which result columns to mask (positions and names)."""

    positions: tuple[int, ...]
    names: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.positions)

    @classmethod
    def of(cls, columns: Sequence[ResultColumn], flags: Sequence[bool]) -> MaskPlan:
        positions = tuple(i for i, f in enumerate(flags) if f and i < len(columns))
        return cls(positions, tuple(columns[i].name for i in positions))

    def columns(self, columns: Sequence[ResultColumn]) -> tuple[ResultColumn, ...]:
        wanted = set(self.positions)
        return tuple(replace(c, type=DataType.TEXT) if i in wanted else c for i, c in enumerate(columns))

    def rows(self, rows: list[tuple]) -> list[tuple]:
        if not self.positions:
            return rows
        positions = self.positions
        out = []
        for row in rows:
            values = list(row)
            for i in positions:
                if i < len(values):
                    values[i] = mask_value(values[i])
            out.append(tuple(values))
        return out


def mask_value(value: object) -> object:
    """"***", or "***@domain" for an e-mail address; NULL stays NULL."""
    if value is None:
        return None
    if isinstance(value, str):
        local, at, domain = value.strip().rpartition("@")
        if at and local and domain and "." in domain and " " not in domain:
            return f"{MASK}@{domain.lower()}"
    return MASK


def note(names: Sequence[str]) -> str:
    """The sentence a response carries when it masked something."""
    return (f"personal data masked in column{'s' if len(names) > 1 else ''} {', '.join(names)} "
            "(only admins see it unmasked)")
