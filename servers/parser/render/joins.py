"""FROM / JOIN from the schema's foreign keys: the tables a plan uses, connected along
the shortest foreign-key paths (undirected), so a statement never names a join the
schema does not have and link tables between two mentioned ones come in by themselves.

Deterministic: neighbours are visited in name order and, when two tables are linked by
several foreign keys, the one whose columns are named alike wins (orders.customer_id →
customers.customer_id before orders.referrer → customers.id).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from servers.contracts.glossary import Relationship
from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    ColumnRef,
    SchemaView,
    TableInfo,
    Unresolved,
)


@dataclass(frozen=True)
class Edge:
    """One way across a link: `table`.columns = `other`.other_columns."""

    table: str
    columns: tuple[str, ...]
    other: str
    other_columns: tuple[str, ...]
    rank: int  # lower is preferred: names alike, then declared order

    def reversed(self) -> Edge:
        return Edge(self.other, self.other_columns, self.table, self.columns, self.rank)


@dataclass(frozen=True)
class Join:
    """JOIN `table` ON each (new side, tree side) pair of columns."""

    table: str
    on: tuple[tuple[ColumnRef, ColumnRef], ...]


@dataclass(frozen=True)
class JoinTree:
    """The main table, then each joined table in the order it is joined."""

    main: str
    joins: tuple[Join, ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.main, *(join.table for join in self.joins))


def _singular(word: str) -> str:
    word = word.lower()
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _alikeness(table: str, columns: Sequence[str], other: str, other_columns: Sequence[str]) -> int:
    """0: the same names on both sides; 1: the column names the table it points to
    (customer_id → customers.id); 2: anything else."""
    if [c.lower() for c in columns] == [c.lower() for c in other_columns]:
        return 0
    stem = _singular(other)
    if all(stem in c.lower() or other.lower() in c.lower() for c in columns):
        return 1
    return 2


def _inferred_links(
    tables: Sequence[TableInfo],
) -> Iterable[tuple[str, tuple[str, ...], str, tuple[str, ...]]]:
    """Links no foreign key declares, read from names: a column named after another
    table (airline, customer_id, customerid, customer_<its key>), after it with a role
    in front (source_airport, destairport, home_team_id) or after that table's own key,
    pointing at its single-column primary key, of a compatible kind."""
    keys: dict[str, ColumnInfo] = {}
    for table in tables:
        primary = table.primary_key or tuple(c.name for c in table.columns if c.primary_key)
        column = table.column(primary[0]) if len(primary) == 1 else None
        if column is not None:
            keys[table.name] = column
    for table in tables:
        for column in table.columns:
            name = column.name.lower()
            for other, key in keys.items():
                if other == table.name or not _compatible(column.kind, key.kind):
                    continue
                stem, whole, key_name = _singular(other), other.lower(), key.name.lower()
                names = {
                    stem,
                    whole,
                    f"{stem}_id",
                    f"{stem}id",
                    f"{whole}_id",
                    f"{stem}_{key_name}",
                }
                if key_name != "id":
                    names.add(key_name)
                # a role before the name: source_airport, destairport, home_team_id
                role = any(
                    name.endswith(form) and len(name) - len(form) >= 3
                    for form in (stem, f"_{stem}", f"{stem}_id", f"{stem}id")
                )
                if name in names or (role and not column.primary_key):
                    yield table.name, (column.name,), other, (key.name,)


def _compatible(a: ColumnKind, b: ColumnKind) -> bool:
    if ColumnKind.OTHER in (a, b):
        return True
    return (a.numeric and b.numeric) or a is b


Adjacency = dict[str, dict[str, Edge]]


class _Graph:
    """Undirected adjacency, table → {neighbour: best edge}: `declared` over foreign keys
    and the glossary's relationships, `inferred` adds links read from names, used only
    when the declared ones connect nothing."""

    def __init__(self, tables: Sequence[TableInfo], relationships: Iterable[Relationship]) -> None:
        self.declared: Adjacency = {}
        self.names: set[str] = {table.name for table in tables}
        links: list[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = []
        for table in tables:
            self.declared.setdefault(table.name, {})
            for fk in table.foreign_keys:
                links.append((table.name, fk.columns, fk.referenced_table, fk.referenced_columns))
        for rel in relationships:
            links.append((rel.from_table, rel.from_columns, rel.to_table, rel.to_columns))
        self._link(self.declared, links, 0)
        self.inferred: Adjacency = {table: dict(edges) for table, edges in self.declared.items()}
        self._link(self.inferred, _inferred_links(tables), 1_000_000, only_new=True)

    def _link(
        self, adjacency: Adjacency, links: Iterable, base: int, only_new: bool = False
    ) -> None:
        for order, (table, columns, other, other_columns) in enumerate(links):
            if other not in self.names or table not in self.names or table == other:
                continue  # a reference outside the schema, or a self-reference: no join to derive
            if only_new and other in self.declared.get(table, {}):
                continue
            rank = base + _alikeness(table, columns, other, other_columns) * 100_000 + order
            edge = Edge(table, tuple(columns), other, tuple(other_columns), rank)
            for e in (edge, edge.reversed()):
                current = adjacency.setdefault(e.table, {}).get(e.other)
                if current is None or e.rank < current.rank:
                    adjacency[e.table][e.other] = e

    @staticmethod
    def path_to_tree(adjacency: Adjacency, start: str, tree: set[str]) -> list[str] | None:
        """Shortest path start → some tree table (BFS, neighbours in name order), as the
        list of tables from the tree side to start; None when there is none."""
        previous: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            table = queue.popleft()
            if table in tree:
                path = [table]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])  # type: ignore[arg-type]
                return path
            for neighbour in sorted(adjacency.get(table, ())):
                if neighbour not in previous:
                    previous[neighbour] = table
                    queue.append(neighbour)
        return None


# Graphs by schema identity: a SchemaView is immutable, and hashing one deeply on every
# call would cost more than the search itself.
_GRAPHS: dict[tuple[int, tuple[Relationship, ...]], tuple[SchemaView, _Graph]] = {}
_GRAPHS_MAX = 32


def _graph(schema: SchemaView, relationships: tuple[Relationship, ...]) -> _Graph:
    key = (id(schema), relationships)
    hit = _GRAPHS.get(key)
    if hit is not None and hit[0] is schema:
        return hit[1]
    graph = _Graph(schema.tables, relationships)
    if len(_GRAPHS) >= _GRAPHS_MAX:
        _GRAPHS.pop(next(iter(_GRAPHS)))
    _GRAPHS[key] = (schema, graph)
    return graph


def join_path(
    schema: SchemaView, tables: Sequence[str], relationships: Sequence[Relationship] = ()
) -> JoinTree:
    """The join tree over `tables` (the first is the main table): each next table is
    connected to the tree so far by its shortest foreign-key path, adding the tables on
    the way. Raises Unresolved when a table is unknown or no path exists."""
    if not tables:
        raise Unresolved("no table to read from")
    graph = _graph(schema, tuple(relationships))
    for name in tables:
        if name not in graph.names:
            raise Unresolved(f"no table named {name}", suggestions=sorted(graph.names)[:10])
    main = tables[0]
    in_tree: set[str] = {main}
    joins: list[Join] = []
    for name in tables[1:]:
        if name in in_tree:
            continue
        adjacency = graph.declared
        path = graph.path_to_tree(adjacency, name, in_tree)
        if path is None:
            adjacency = graph.inferred
            path = graph.path_to_tree(adjacency, name, in_tree)
        if path is None:
            reachable = sorted(_component(graph, main) - {main})
            raise Unresolved(
                f"no foreign-key path between {main} and {name}",
                suggestions=reachable[:10],
            )
        for known, new in itertools.pairwise(path):
            edge = adjacency[new][known]
            on = tuple(
                (ColumnRef(new, mine), ColumnRef(known, theirs))
                for mine, theirs in zip(edge.columns, edge.other_columns, strict=False)
            )
            joins.append(Join(new, on))
            in_tree.add(new)
    return JoinTree(main, tuple(joins))


def _component(graph: _Graph, start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for neighbour in graph.inferred.get(queue.popleft(), ()):
            if neighbour not in seen:
                seen.add(neighbour)
                queue.append(neighbour)
    return seen
