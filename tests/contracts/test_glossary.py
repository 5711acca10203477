"""The glossary file shape (servers/contracts/glossary.py): YAML in, the same YAML
out, a version that follows the content, and one clear error naming the entry for a
file that is not a glossary."""

from __future__ import annotations

import pytest

from servers.contracts.glossary import (
    Glossary,
    GlossaryFormatError,
    Relationship,
    Synonym,
    content_version,
    dump_yaml,
    glossary_from_pb,
    glossary_to_pb,
    load_yaml,
    with_version,
)

SHOP = """
metrics:
  - name: revenue
    table: order_items
    expression: sum(price * quantity)
    filters: ["orders.status <> 'cancelled'"]
    time_column: orders.ordered_at
    description: Money from orders that were not cancelled
    synonyms: [sales, turnover]
segments:
  - name: active customer
    table: customers
    condition: status = 'active'
synonyms:
  client: customers
  wage: employees.salary
relationships:
  - from: orders.customer_ref
    to: customers.id
  - from: [shipments.order_no, shipments.shop]
    to: [orders.order_no, orders.shop]
    name: shipment of order
"""


def test_yaml_reads_every_section():
    g = load_yaml(SHOP)
    assert g.metrics[0].filters == ("orders.status <> 'cancelled'",)
    assert g.metrics[0].synonyms == ("sales", "turnover") and g.metrics[0].time_column == "orders.ordered_at"
    assert g.segments[0].condition == "status = 'active'" and g.segments[0].synonyms == ()
    assert g.synonyms == (Synonym("client", "customers"), Synonym("wage", "employees.salary"))
    assert g.relationships == (
        Relationship("orders", ("customer_ref",), "customers", ("id",)),
        Relationship("shipments", ("order_no", "shop"), "orders", ("order_no", "shop"), name="shipment of order"),
    )


def test_yaml_round_trips_and_through_the_proto():
    g = with_version(load_yaml(SHOP))
    assert load_yaml(dump_yaml(g)) == load_yaml(SHOP)
    assert glossary_from_pb(glossary_to_pb(g)) == g


def test_version_follows_content_not_layout():
    reordered = """
synonyms: {wage: employees.salary, client: customers}
relationships:
  - {to: customers.id, from: orders.customer_ref}
  - {from: [shipments.order_no, shipments.shop], to: [orders.order_no, orders.shop], name: shipment of order}
segments: [{condition: status = 'active', table: customers, name: active customer}]
metrics:
  - {synonyms: [sales, turnover], name: revenue, table: order_items, expression: sum(price * quantity),
     filters: "orders.status <> 'cancelled'", time_column: orders.ordered_at,
     description: Money from orders that were not cancelled}
"""
    assert content_version(load_yaml(reordered)) == content_version(load_yaml(SHOP)) != ""
    assert content_version(load_yaml(SHOP.replace("turnover", "takings"))) != content_version(load_yaml(SHOP))
    assert content_version(Glossary()) == "" and load_yaml("") == Glossary() and load_yaml("{}") == Glossary()


@pytest.mark.parametrize(("text", "field", "problem"), [
    ("metrics: {name: revenue}", "metrics", "must be a list"),
    ("metrics: [{name: revenue, table: orders}]", "metrics[0].expression", "is required"),
    ("metrics: [{name: revenue, table: orders, expresion: sum(total)}]", "metrics[0]", "unknown key 'expresion'"),
    ("segments: [{name: x, table: t, condition: [a]}]", "segments[0].condition", "must be text"),
    ("synonyms: [client, customers]", "synonyms", "must be a mapping"),
    ("relationships: [{from: orders, to: customers.id}]", "relationships[0].from", "must be written table.column"),
    ("relationships: [{from: [a.x, b.y], to: [c.x, c.y]}]", "relationships[0].from", "one table"),
    ("relationships: [{from: a.x, to: [c.x, c.y]}]", "relationships[0]", "pair up"),
    ("metric: []", "metric", "unknown key 'metric'"),
    ("- just a list", "", "must be a mapping"),
    ("synonyms:\n  client: customers\n  client: accounts\n", "", "key 'client' is given twice"),
    ("metrics: [", "", "not valid YAML"),
])
def test_a_bad_file_names_the_entry(text, field, problem):
    with pytest.raises(GlossaryFormatError) as caught:
        load_yaml(text)
    assert caught.value.field == field
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_dump_leaves_out_what_is_empty():
    text = dump_yaml(load_yaml("synonyms: {client: customers}\nmetrics: [{name: n, table: t, expression: count(*)}]"))
    assert text == "metrics:\n- name: n\n  table: t\n  expression: count(*)\nsynonyms:\n  client: customers\n"


def test_pii_marks_round_trip_and_change_the_version():
    text = "pii: [customers.notes]\nnot_pii: [suppliers.contact]\n"
    glossary = load_yaml(text)
    assert glossary.pii_columns == ("customers.notes",) and glossary.not_pii_columns == ("suppliers.contact",)
    assert not glossary.empty  # a glossary of marks alone is stored
    assert load_yaml(dump_yaml(glossary)) == glossary
    assert glossary_from_pb(glossary_to_pb(glossary)) == glossary
    assert content_version(glossary) != content_version(load_yaml("pii: [customers.notes]\n"))
    with pytest.raises(GlossaryFormatError, match="pii"):
        load_yaml("pii: {customers: notes}\n")
