"""FROM / JOIN along foreign keys: the shortest path, link tables added between two
mentioned tables, the better of two foreign keys, and a clear error when tables are
not connected."""

from __future__ import annotations

import pytest

from servers.contracts.glossary import Relationship
from servers.parser.domain import ColumnRef, ForeignKeyInfo, SchemaView, TableInfo, Unresolved
from servers.parser.render.joins import join_path
from tests.parser.render_support import INT, SCHOOL, SHOP, TEXT, _col


def test_one_table_has_no_joins() -> None:
    tree = join_path(SHOP, ["customers"])
    assert tree.tables == ("customers",)
    assert tree.joins == ()


def test_direct_foreign_key() -> None:
    tree = join_path(SHOP, ["customers", "orders"])
    assert tree.tables == ("customers", "orders")
    assert tree.joins[0].on == ((ColumnRef("orders", "customer_id"), ColumnRef("customers", "id")),)


def test_link_table_between_two_mentioned_tables_is_added() -> None:
    tree = join_path(SCHOOL, ["students", "courses"])
    assert tree.tables == ("students", "enrollments", "courses")
    assert tree.joins[0].on == (
        (ColumnRef("enrollments", "student_id"), ColumnRef("students", "id")),
    )
    assert tree.joins[1].on == (
        (ColumnRef("courses", "id"), ColumnRef("enrollments", "course_id")),
    )


def test_three_tables_grow_one_tree_over_the_shortest_paths() -> None:
    tree = join_path(SHOP, ["customers", "products", "orders"])
    # products reaches customers through order_items and orders; orders is then already in.
    assert tree.tables == ("customers", "orders", "order_items", "products")


def test_no_path_names_both_tables_and_suggests_reachable_ones() -> None:
    with pytest.raises(Unresolved) as caught:
        join_path(SCHOOL, ["students", "rooms"])
    assert caught.value.what == "no foreign-key path between students and rooms"
    assert set(caught.value.suggestions) == {"enrollments", "courses"}


def test_unknown_table_is_unresolved() -> None:
    with pytest.raises(Unresolved, match="no table named pupils"):
        join_path(SCHOOL, ["pupils"])


def test_foreign_key_with_alike_names_wins() -> None:
    schema = SchemaView(
        tables=(
            TableInfo(
                "people", (_col("id", INT, True), _col("person_id", INT), _col("name", TEXT))
            ),
            TableInfo(
                "visits",
                (_col("id", INT, True), _col("referrer", INT), _col("person_id", INT)),
                # the unrelated key is declared first: declaration order must not win
                foreign_keys=(
                    ForeignKeyInfo(("referrer",), "people", ("id",)),
                    ForeignKeyInfo(("person_id",), "people", ("person_id",)),
                ),
            ),
        )
    )
    tree = join_path(schema, ["people", "visits"])
    assert tree.joins[0].on == (
        (ColumnRef("visits", "person_id"), ColumnRef("people", "person_id")),
    )


def test_shorter_path_wins_over_a_longer_one() -> None:
    schema = SchemaView(
        tables=(
            TableInfo("a", (_col("id", INT, True),)),
            TableInfo(
                "b",
                (_col("id", INT, True), _col("a_id", INT)),
                foreign_keys=(ForeignKeyInfo(("a_id",), "a", ("id",)),),
            ),
            TableInfo(
                "c",
                (_col("id", INT, True), _col("b_id", INT)),
                foreign_keys=(ForeignKeyInfo(("b_id",), "b", ("id",)),),
            ),
            TableInfo(
                "d",
                (_col("id", INT, True), _col("c_id", INT), _col("a_id", INT)),
                foreign_keys=(
                    ForeignKeyInfo(("c_id",), "c", ("id",)),
                    ForeignKeyInfo(("a_id",), "a", ("id",)),
                ),
            ),
        )
    )
    assert join_path(schema, ["a", "d"]).tables == ("a", "d")
    assert join_path(schema, ["b", "d"]).tables in {("b", "a", "d"), ("b", "c", "d")}
    assert join_path(schema, ["b", "d"]) == join_path(schema, ["b", "d"])  # deterministic


def test_glossary_relationship_joins_tables_without_a_foreign_key() -> None:
    relationship = Relationship("rooms", ("id",), "courses", ("id",))
    tree = join_path(SCHOOL, ["students", "rooms"], relationships=[relationship])
    assert tree.tables == ("students", "enrollments", "courses", "rooms")


def _table(name: str, *columns, pk: str = "", fks: tuple[ForeignKeyInfo, ...] = ()) -> TableInfo:
    return TableInfo(name, tuple(columns), primary_key=(pk,) if pk else (), foreign_keys=fks)


def test_undeclared_link_is_read_from_names_when_no_key_connects() -> None:
    schema = SchemaView(
        tables=(
            _table("teams", _col("id", INT, True), _col("name", TEXT), pk="id"),
            _table(
                "players", _col("id", INT, True), _col("team", INT), _col("name", TEXT), pk="id"
            ),
            _table("coaches", _col("code", TEXT, True), _col("teams_id", TEXT), pk="code"),
        )
    )
    tree = join_path(schema, ["players", "teams"])
    assert tree.joins[0].on == ((ColumnRef("teams", "id"), ColumnRef("players", "team")),)
    # a text column named after a table with a numeric key is no link
    with pytest.raises(Unresolved, match="no foreign-key path between coaches and teams"):
        join_path(schema, ["coaches", "teams"])


def test_declared_keys_win_over_links_read_from_names() -> None:
    schema = SchemaView(
        tables=(
            _table("teams", _col("id", INT, True), pk="id"),
            _table(
                "matches",
                _col("id", INT, True),
                _col("home_id", INT),
                pk="id",
                fks=(ForeignKeyInfo(("home_id",), "teams", ("id",)),),
            ),
            _table(
                "goals",
                _col("id", INT, True),
                _col("match_id", INT),
                _col("team_id", INT),
                pk="id",
                fks=(ForeignKeyInfo(("match_id",), "matches", ("id",)),),
            ),
        )
    )
    # goals.team_id would be one step, but the declared keys connect goals to teams
    assert join_path(schema, ["goals", "teams"]).tables == ("goals", "matches", "teams")


def test_a_column_named_after_a_table_with_a_role_in_front_joins_it_when_no_key_is_declared():
    from servers.parser.domain import ColumnInfo, ColumnKind, SchemaView, TableInfo
    from servers.parser.render.joins import join_path

    schema = SchemaView((
        TableInfo("stations", (ColumnInfo("stationcode", ColumnKind.TEXT, primary_key=True), ColumnInfo("town", ColumnKind.TEXT)),
                  primary_key=("stationcode",)),
        TableInfo("trips", (ColumnInfo("trip_no", ColumnKind.INTEGER, primary_key=True),
                            ColumnInfo("originstation", ColumnKind.TEXT), ColumnInfo("final_station", ColumnKind.TEXT)),
                  primary_key=("trip_no",)),
    ))
    tree = join_path(schema, ["trips", "stations"])
    assert set(tree.tables) == {"trips", "stations"}
