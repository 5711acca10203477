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
Besides them, which columns hold personal data: `pii` (masked for non-admins whatever
detection says) and `not_pii` (detected, but not personal data); see connector/pii.py.

Every SQL fragment is stored as validated on write: parsed with sqlglot, every table
and column checked against the schema, and every column written qualified
(`table.column`), so readers never resolve names again.

The file shape (`chatdb glossary set CONNECTION FILE.yaml`; glossary_from_mapping /
glossary_to_mapping / load_yaml / dump_yaml), every section optional:

    metrics:
      - name: revenue                      # required, unique among all terms
        table: orders                      # required: the base table
        expression: sum(total)             # required: an aggregate; columns of `table` may go unqualified
        filters: ["status <> 'cancelled'"] # optional: boolean conditions ANDed in
        time_column: order_date            # optional: what "last month" applies to
        description: Money from orders that were not cancelled
        synonyms: [sales, turnover]
    segments:
      - name: active customer
        table: customers
        condition: status = 'active'       # required: a boolean condition
        description: ...
        synonyms: [current customer]
    synonyms:                              # term: table or table.column
      client: customers
      wage: employees.salary
    relationships:                         # joins no foreign key declares
      - from: orders.customer_ref
        to: customers.id
      - from: [shipments.order_no, shipments.shop]   # several columns pair up in order
        to: [orders.order_no, orders.shop]
        name: shipment of order            # optional
    pii: [customers.notes]                 # personal data, masked for non-admins (connector/pii.py)
    not_pii: [suppliers.contact]           # detected as personal data, but is not

`version` is content_version(): a hash of that document, so it changes exactly when
the content does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from chatdb.connector.v1 import glossary_pb2


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
    # Personal data (connector/pii.py): "customers.email" masked for non-admins whatever
    # detection says; not_pii_columns: detected by name or values, but not personal data.
    pii_columns: tuple[str, ...] = ()
    not_pii_columns: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.metrics or self.segments or self.synonyms or self.relationships
                    or self.pii_columns or self.not_pii_columns)


# --------------------------------------------------------------------------- proto


def glossary_from_pb(pb: glossary_pb2.Glossary) -> Glossary:
    """The glossary of a Glossary message, `version` included (`update_time` is the
    store's, not content)."""
    return Glossary(
        metrics=tuple(Metric(
            name=m.name, table=m.table, expression=m.expression, filters=tuple(m.filters),
            time_column=m.time_column, description=m.description, synonyms=tuple(m.synonyms),
        ) for m in pb.metrics),
        segments=tuple(Segment(
            name=s.name, table=s.table, condition=s.condition, description=s.description,
            synonyms=tuple(s.synonyms),
        ) for s in pb.segments),
        synonyms=tuple(Synonym(term=s.term, target=s.target) for s in pb.synonyms),
        relationships=tuple(Relationship(
            from_table=r.from_table, from_columns=tuple(r.from_columns), to_table=r.to_table,
            to_columns=tuple(r.to_columns), name=r.name,
        ) for r in pb.relationships),
        version=pb.version,
        pii_columns=tuple(pb.pii_columns),
        not_pii_columns=tuple(pb.not_pii_columns),
    )


def glossary_to_pb(glossary: Glossary) -> glossary_pb2.Glossary:
    g = glossary
    return glossary_pb2.Glossary(
        metrics=[glossary_pb2.Metric(
            name=m.name, table=m.table, expression=m.expression, filters=m.filters, time_column=m.time_column,
            description=m.description, synonyms=m.synonyms,
        ) for m in g.metrics],
        segments=[glossary_pb2.Segment(
            name=s.name, table=s.table, condition=s.condition, description=s.description, synonyms=s.synonyms,
        ) for s in g.segments],
        synonyms=[glossary_pb2.Synonym(term=s.term, target=s.target) for s in g.synonyms],
        relationships=[glossary_pb2.Relationship(
            from_table=r.from_table, from_columns=r.from_columns, to_table=r.to_table, to_columns=r.to_columns,
            name=r.name,
        ) for r in g.relationships],
        version=g.version,
        pii_columns=g.pii_columns,
        not_pii_columns=g.not_pii_columns,
    )


# --------------------------------------------------------------------------- file shape


class GlossaryFormatError(ValueError):
    """A glossary file or mapping that does not have the documented shape. `field`
    names the entry ("metrics[0].expression"); the message is one line."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


_METRIC_KEYS = {"name", "table", "expression", "filters", "time_column", "description", "synonyms"}
_SEGMENT_KEYS = {"name", "table", "condition", "description", "synonyms"}
_RELATIONSHIP_KEYS = {"from", "to", "name"}
_TOP_KEYS = {"metrics", "segments", "synonyms", "relationships", "pii", "not_pii"}


def glossary_from_mapping(data: object) -> Glossary:
    """The glossary a YAML/JSON document describes (the shape in the module docstring).
    Only the shape is checked here; names are checked against a schema by the
    connector. Raises GlossaryFormatError naming the entry."""
    if data is None:
        return Glossary()
    top = _mapping(data, "", _TOP_KEYS)
    metrics = tuple(_metric(m, f"metrics[{i}]") for i, m in enumerate(_list(top.get("metrics"), "metrics")))
    segments = tuple(_segment(s, f"segments[{i}]") for i, s in enumerate(_list(top.get("segments"), "segments")))
    raw_synonyms = top.get("synonyms") or {}
    if not isinstance(raw_synonyms, Mapping):
        raise GlossaryFormatError("synonyms", "must be a mapping of term: table or table.column")
    synonyms = tuple(
        Synonym(_text(term, "synonyms", required=True), _text(target, f"synonyms[{term!r}]", required=True))
        for term, target in raw_synonyms.items()
    )
    relationships = tuple(
        _relationship(r, f"relationships[{i}]") for i, r in enumerate(_list(top.get("relationships"), "relationships"))
    )
    return Glossary(metrics, segments, synonyms, relationships,
                    pii_columns=_texts(top.get("pii"), "pii"), not_pii_columns=_texts(top.get("not_pii"), "not_pii"))


def glossary_to_mapping(glossary: Glossary) -> dict[str, Any]:
    """The YAML/JSON document of a glossary: what glossary_from_mapping reads back.
    Empty sections and empty optional fields are left out; `version` is not content."""
    out: dict[str, Any] = {}
    if glossary.metrics:
        out["metrics"] = [_drop_empty({
            "name": m.name, "table": m.table, "expression": m.expression, "filters": list(m.filters),
            "time_column": m.time_column, "description": m.description, "synonyms": list(m.synonyms),
        }) for m in glossary.metrics]
    if glossary.segments:
        out["segments"] = [_drop_empty({
            "name": s.name, "table": s.table, "condition": s.condition, "description": s.description,
            "synonyms": list(s.synonyms),
        }) for s in glossary.segments]
    if glossary.synonyms:
        out["synonyms"] = {s.term: s.target for s in glossary.synonyms}
    if glossary.relationships:
        out["relationships"] = [_drop_empty({
            "from": _ends(r.from_table, r.from_columns), "to": _ends(r.to_table, r.to_columns), "name": r.name,
        }) for r in glossary.relationships]
    if glossary.pii_columns:
        out["pii"] = list(glossary.pii_columns)
    if glossary.not_pii_columns:
        out["not_pii"] = list(glossary.not_pii_columns)
    return out


def content_version(glossary: Glossary) -> str:
    """A hash of the content, "" for an empty glossary: equal content, equal version,
    whatever order the YAML keys came in."""
    if glossary.empty:
        return ""
    canonical = json.dumps(glossary_to_mapping(glossary), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def with_version(glossary: Glossary) -> Glossary:
    return dataclasses.replace(glossary, version=content_version(glossary))


def load_yaml(text: str) -> Glossary:
    """A glossary from YAML text; GlossaryFormatError for bad YAML (with its line) or a
    bad shape. A term given twice is an error, not silently the last one."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise GlossaryFormatError("", f"not valid YAML: {exc.problem or exc}{where}") from None
    except yaml.YAMLError as exc:
        raise GlossaryFormatError("", f"not valid YAML: {exc}") from None
    return glossary_from_mapping(data)


def dump_yaml(glossary: Glossary) -> str:
    return yaml.safe_dump(glossary_to_mapping(glossary), sort_keys=False, allow_unicode=True, width=100)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _metric(data: object, where: str) -> Metric:
    m = _mapping(data, where, _METRIC_KEYS)
    return Metric(
        name=_text(m.get("name"), f"{where}.name", required=True),
        table=_text(m.get("table"), f"{where}.table", required=True),
        expression=_text(m.get("expression"), f"{where}.expression", required=True),
        filters=_texts(m.get("filters"), f"{where}.filters"),
        time_column=_text(m.get("time_column"), f"{where}.time_column"),
        description=_text(m.get("description"), f"{where}.description"),
        synonyms=_texts(m.get("synonyms"), f"{where}.synonyms"),
    )


def _segment(data: object, where: str) -> Segment:
    s = _mapping(data, where, _SEGMENT_KEYS)
    return Segment(
        name=_text(s.get("name"), f"{where}.name", required=True),
        table=_text(s.get("table"), f"{where}.table", required=True),
        condition=_text(s.get("condition"), f"{where}.condition", required=True),
        description=_text(s.get("description"), f"{where}.description"),
        synonyms=_texts(s.get("synonyms"), f"{where}.synonyms"),
    )


def _relationship(data: object, where: str) -> Relationship:
    r = _mapping(data, where, _RELATIONSHIP_KEYS)
    from_table, from_columns = _columns_of_one_table(r.get("from"), f"{where}.from")
    to_table, to_columns = _columns_of_one_table(r.get("to"), f"{where}.to")
    if len(from_columns) != len(to_columns):
        raise GlossaryFormatError(where, f"'from' has {len(from_columns)} columns and 'to' has {len(to_columns)}; "
                                  "they pair up one by one")
    return Relationship(from_table, from_columns, to_table, to_columns,
                        name=_text(r.get("name"), f"{where}.name"))


def _columns_of_one_table(value: object, where: str) -> tuple[str, tuple[str, ...]]:
    """"orders.customer_ref" or ["order_lines.order_no", "order_lines.shop"]."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise GlossaryFormatError(where, "is required: \"table.column\" or a list of them")
    tables, columns = set(), []
    for item in items:
        text = _text(item, where, required=True)
        table, dot, column = text.rpartition(".")
        if not dot or not table or not column:
            raise GlossaryFormatError(where, f"{text!r} must be written table.column")
        tables.add(table)
        columns.append(column)
    if len(tables) != 1:
        raise GlossaryFormatError(where, "all columns must belong to one table")
    return tables.pop(), tuple(columns)


def _ends(table: str, columns: tuple[str, ...]) -> str | list[str]:
    qualified = [f"{table}.{c}" for c in columns]
    return qualified[0] if len(qualified) == 1 else qualified


def _mapping(data: object, where: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise GlossaryFormatError(where, "must be a mapping" + (f" with keys {', '.join(sorted(keys))}" if where else
                                                               " with sections " + ", ".join(sorted(keys))))
    unknown = [str(k) for k in data if k not in keys]
    if unknown:
        raise GlossaryFormatError(where or unknown[0], f"unknown key {unknown[0]!r}; known: {', '.join(sorted(keys))}")
    return data


def _list(value: object, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise GlossaryFormatError(where, "must be a list")
    return value


def _text(value: object, where: str, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise GlossaryFormatError(where, "must be text")
    text = str(value).strip()
    if required and not text:
        raise GlossaryFormatError(where, "is required")
    return text


def _texts(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise GlossaryFormatError(where, "must be a list of text")
    return tuple(_text(v, f"{where}[{i}]", required=True) for i, v in enumerate(value))


def _drop_empty(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v not in ("", [], None)}
