"""Grouping: "for each", "per", "by", and the grouped entity's name."""

from tests.parser.language_support import hr, shop


def test_count_for_each_column_value():
    rows = shop().ask("Show the number of products in each category")
    assert sorted(rows, key=lambda r: str(r)) == sorted(
        [(1, "books"), (3, "hardware"), (1, "stationery")], key=lambda r: str(r)
    )


def test_count_per_entity_names_it():
    rows = shop().ask("How many orders does each customer have?")
    assert sorted(rows) == [("Ada Lovelace", 3), ("Alan Turing", 1), ("Grace Hopper", 2)]


def test_average_per_entity():
    rows = hr().ask("What is the average salary of employees in each department?")
    assert sorted(rows) == [("Engineering", 100000.0), ("Sales", 66000.0)]


def test_average_per_column():
    rows = shop().ask("average age of customers per city")
    assert sorted(rows, key=lambda r: r[1]) == [
        (38.5, "London"),
        (48.5, "New York"),
        (29.0, "Rotterdam"),
    ]


def test_most_common_value_of_a_column():
    # London and New York have two customers each, Rotterdam one
    assert shop().ask("What is the most common city of customers?")[0][0] in ("London", "New York")
    assert shop().ask("What is the least common city of customers?") == [("Rotterdam",)]


def test_count_of_the_main_table_groups_the_selected_column():
    rows = shop().ask("Which cities have at least 2 customers?")
    assert sorted(r[0] for r in rows) == ["London", "New York"]
