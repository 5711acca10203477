"""Superlatives and top-k: "the oldest", "the most expensive", "top 3", "the most …"."""

from tests.parser.language_support import flat, hr, shop


def test_oldest_orders_by_an_age_column():
    assert flat(shop().ask("Who is the oldest customer?")) == ["Barbara Liskov"]


def test_highest_named_column():
    assert flat(hr().ask("Which department has the highest budget?")) == ["Engineering"]


def test_top_k():
    assert flat(shop().ask("List the 3 most expensive products")) == [
        "Monitor",
        "Compiler Book",
        "Keyboard",
    ]


def test_most_counts_rows_per_group():
    assert flat(shop().ask("Which category has the most products?")) == ["hardware"]


def test_asking_for_the_value_gives_max():
    assert shop().ask("What is the highest price?") == [(180.0,)]


def test_the_row_of_the_cheapest():
    assert flat(shop().ask("Show the name of the cheapest product")) == ["Notebook"]


def test_the_most_at_the_end_ranks_by_the_column_just_named():
    assert flat(hr().ask("Which department has a budget that is the most?")) == ["Engineering"]


def test_the_most_at_the_end_without_a_column_counts_rows():
    assert flat(shop().ask("Which customer ordered the most?")) == ["Ada Lovelace"]


def test_a_number_of_rows_before_a_ranking_is_the_limit():
    assert flat(hr().ask("Show the 2 employees with the highest salary")) == ["Wei", "Maria"]


def test_most_recent_orders_by_the_date_column():
    assert shop().ask("Show the most recent order")[0][0] == 6


def test_top_k_by_a_count_of_other_rows():
    assert flat(shop().ask("top 2 customers by number of orders")) == [
        "Ada Lovelace",
        "Grace Hopper",
    ]


def test_who_was_most_recently_hired_names_the_person():
    assert flat(hr().ask("Who was hired most recently?")) == ["Amara"]
