"""Numbers as digits and words, and comparisons."""

from servers.parser.domain import Op
from servers.parser.language.numbers import find_numbers
from servers.parser.language.words import tokenize
from tests.parser.language_support import flat, shop


def numbers(text: str):
    return [(n.value, n.op, n.upper) for n in find_numbers(tokenize(text))]


def test_numbers_in_words_and_digits():
    assert numbers("twenty-one cats, 5,000 dogs and 1.5 million fish") == [
        (21, None, None),
        (5000, None, None),
        (1500000.0, None, None),
    ]
    assert numbers("three hundred and two") == [(302, None, None)]


def test_comparison_words():
    assert numbers("more than 30") == [(30, Op.GT, None)]
    assert numbers("at least two") == [(2, Op.GE, None)]
    assert numbers("under 5") == [(5, Op.LT, None)]
    assert numbers("between 10 and 20") == [(10, Op.BETWEEN, 20)]
    assert numbers("3 or more") == [(3, Op.GE, None)]


def test_price_above_a_number():
    db = shop()
    assert sorted(flat(db.ask("List products with a price above 50"))) == [
        "Compiler Book",
        "Monitor",
    ]


def test_between_two_numbers():
    db = shop()
    assert sorted(flat(db.ask("Which products have a price between 10 and 50?"))) == [
        "Keyboard",
        "Mouse",
    ]


def test_a_comparative_names_its_column():
    db = shop()
    assert db.ask("How many customers are older than forty?") == [(3,)]


def test_ranges_and_lists_of_small_numbers():
    assert numbers("between one and two") == [(1, Op.BETWEEN, 2)]
    assert numbers("1 to 2") == [(1, Op.BETWEEN, 2)]
    assert numbers("from 5 to 10") == [(5, Op.BETWEEN, 10)]


def test_a_range_of_counted_rows_is_a_having():
    assert flat(shop().ask("Which customers have between 2 and 3 orders?")) == [
        "Ada Lovelace",
        "Grace Hopper",
    ]
