"""Glossary terms come first: metrics, segments and synonyms."""

from servers.contracts.glossary import Glossary, Metric, Segment, Synonym
from tests.parser.language_support import flat, shop

GLOSSARY = Glossary(
    metrics=(
        Metric(
            name="revenue",
            table="order_items",
            expression="sum(order_items.quantity * products.price)",
            filters=("orders.status <> 'cancelled'",),
            time_column="orders.ordered_on",
            synonyms=("sales",),
        ),
    ),
    segments=(Segment(name="londoners", table="customers", condition="customers.city = 'London'"),),
    synonyms=(Synonym(term="shopper", target="customers"),),
    version="1",
)


def test_a_metric_is_its_expression():
    db = shop(GLOSSARY)
    understanding = db.understand("What is the total revenue?")
    assert understanding.plan.select[0].expression.sql.startswith("sum(order_items.quantity")
    assert any("glossary" in note for note in understanding.notes)
    assert db.ask("What is the total revenue?") == [(45 + 40 + 180 + 180 + 20 + 60,)]


def test_a_segment_is_its_condition():
    db = shop(GLOSSARY)
    assert sorted(flat(db.ask("List the londoners"))) == ["Ada Lovelace", "Alan Turing"]


def test_a_synonym_names_its_table():
    db = shop(GLOSSARY)
    assert db.ask("How many shoppers are there?") == [(5,)]
