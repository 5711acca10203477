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
from servers.parser.domain import ColumnRef, SchemaView, TableInfo, Unresolved


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


class _Graph:
    """Undirected adjacency: table → {neighbour: best edge}."""

    def __init__(self, tables: Iterable[TableInfo], relationships: Iterable[Relationship]) -> None:
        self.adjacent: dict[str, dict[str, Edge]] = {}
        self.names: set[str] = set()
        order = 0
        links: list[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = []
        for table in tables:
            self.names.add(table.name)
            self.adjacent.setdefault(table.name, {})
            for fk in table.foreign_keys:
                links.append((table.name, fk.columns, fk.referenced_table, fk.referenced_columns))
        for rel in relationships:
            links.append((rel.from_table, rel.from_columns, rel.to_table, rel.to_columns))
        for table, columns, other, other_columns in links:
            if other not in self.names or table == other:
                continue  # a reference outside the schema, or a self-reference: no join to derive
            rank = _alikeness(table, columns, other, other_columns) * 100_000 + order
            order += 1
            self._add(Edge(table, tuple(columns), other, tuple(other_columns), rank))

    def _add(self, edge: Edge) -> None:
        for e in (edge, edge.reversed()):
            current = self.adjacent.setdefault(e.table, {}).get(e.other)
            if current is None or e.rank < current.rank:
                self.adjacent[e.table][e.other] = e

    def path_to_tree(self, start: str, tree: set[str]) -> list[str] | None:
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
            for neighbour in sorted(self.adjacent.get(table, ())):
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
        path = graph.path_to_tree(name, in_tree)
        if path is None:
            reachable = sorted(_component(graph, main) - {main})
            raise Unresolved(
                f"no foreign-key path between {main} and {name}",
                suggestions=reachable[:10],
            )
        for known, new in itertools.pairwise(path):
            edge = graph.adjacent[new][known]
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
        for neighbour in graph.adjacent.get(queue.popleft(), ()):
            if neighbour not in seen:
                seen.add(neighbour)
                queue.append(neighbour)
    return seen
