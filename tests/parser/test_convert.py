"""Parser converters: the connector's Schema proto into the parser's view, and a plan's
flat summary into ParsedQuery."""

from __future__ import annotations

import datetime as dt

from chatdb.connector.v1 import data_type_pb2, schema_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq

from servers.parser import convert
from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    Condition,
    Op,
    Ordering,
    QueryKind,
    QueryPlan,
    SchemaFlavour,
    Selection,
    TimeWindow,
    Understanding,
)


def test_schema_view_keeps_types_keys_and_comments():
    schema = schema_pb2.Schema(
        schema_version="abc",
        tables=[
            schema_pb2.Table(
                name="orders",
                kind=schema_pb2.TABLE_KIND_TABLE,
                primary_key=["id"],
                columns=[
                    schema_pb2.Column(name="id", type=data_type_pb2.DATA_TYPE_INTEGER, primary_key_ordinal=1),
                    schema_pb2.Column(name="total", type=data_type_pb2.DATA_TYPE_DECIMAL, comment="incl. tax"),
                    schema_pb2.Column(name="placed", type=data_type_pb2.DATA_TYPE_TIMESTAMP),
                    schema_pb2.Column(name="meta", type=data_type_pb2.DATA_TYPE_JSON),
                ],
                foreign_keys=[schema_pb2.ForeignKey(columns=["customer_id"], referenced_table="customers", referenced_columns=["id"])],
            )
        ],
    )
    view = convert.schema_view(schema, SchemaFlavour.MYSQL)
    orders = view.table("orders")
    assert [c.kind for c in orders.columns] == [ColumnKind.INTEGER, ColumnKind.NUMBER, ColumnKind.TIMESTAMP, ColumnKind.OTHER]
    assert orders.column("id").primary_key and orders.column("total").comment == "incl. tax"
    assert orders.foreign_keys[0].referenced_table == "customers"
    assert view.flavour is SchemaFlavour.MYSQL and view.version == "abc"


def test_a_schema_of_collections_is_mongodb():
    schema = schema_pb2.Schema(tables=[schema_pb2.Table(name="events", kind=schema_pb2.TABLE_KIND_COLLECTION)])
    assert convert.schema_view(schema, SchemaFlavour.POSTGRES).flavour is SchemaFlavour.MONGODB


def test_a_plan_is_summarised_into_the_entity_fields():
    customers_city = ColumnRef("customers", "city")
    plan = QueryPlan(
        select=(Selection(column=customers_city), Selection(column=ColumnRef("orders", "*"), aggregate=Aggregate.COUNT)),
        where=(Condition(ColumnRef("orders", "status"), Op.EQ, ("shipped",)),),
        group_by=(customers_city,),
        order_by=(Ordering(None, descending=True, aggregate=Aggregate.COUNT),),
        limit=5,
        time_window=TimeWindow(ColumnRef("orders", "ordered_at"), dt.datetime(2026, 11, 1), dt.datetime(2026, 12, 1), "last month"),
    )
    out = convert.parsed_query(
        "q", Understanding(QueryKind.TOP_N, plan, 0.8), statement=None, explanation="e",
        intent_confidence=0.8, intent_source="rules", used_fallback=True, elapsed_s=0.0123,
    )
    assert out.intent == pq.INTENT_TOP_N
    assert list(out.tables) == ["customers", "orders"]
    assert list(out.columns) == ["customers.city"]
    assert out.aggregations[0].function == pq.AGGREGATE_FUNCTION_COUNT and out.aggregations[0].column == "*"
    assert out.filters[0].column == "orders.status" and out.filters[0].values[0].text_value == "shipped"
    assert list(out.group_by) == ["customers.city"]
    assert out.order_by[0].direction == pq.SORT_DIRECTION_DESCENDING
    assert out.limit == 5
    assert out.time_range.expression == "last month" and out.time_range.start_time.ToDatetime() == dt.datetime(2026, 11, 1)
    assert out.parse_duration.ToTimedelta() == dt.timedelta(microseconds=12300)


def test_values_keep_their_types():
    assert convert.value_cell(3).int64_value == 3
    assert convert.value_cell(2.5).double_value == 2.5
    assert convert.value_cell(True).bool_value is True
    assert convert.value_cell(dt.date(2024, 5, 1)).date_value == "2024-05-01"
    assert convert.value_cell("x").text_value == "x"


def test_a_predictions_inputs_travel_as_equality_filters():
    understanding = Understanding(QueryKind.PREDICT, confidence=0.9, model_name="churn",
                                  predict_inputs={"age": 31, "city": "Lagos"})
    out = convert.parsed_query(
        "what would the churn model predict for age 31 in Lagos", understanding, statement=None, explanation="",
        intent_confidence=0.9, intent_source="rules", used_fallback=True, elapsed_s=0.0,
    )
    assert out.intent == pq.INTENT_PREDICT and out.model_name == "churn"
    assert [(f.column, f.operator) for f in out.filters] == [("age", pq.FILTER_OPERATOR_EQ), ("city", pq.FILTER_OPERATOR_EQ)]
    assert out.filters[0].values[0].int64_value == 31 and out.filters[1].values[0].text_value == "Lagos"
