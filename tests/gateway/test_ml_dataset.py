"""What a training question reads and how a prediction's record is built: the pure parts
of gateway/ml_dataset.py and gateway/ml_answers.py."""

from __future__ import annotations

import pytest
import sqlglot
from chatdb.connector.v1 import connection_pb2, data_type_pb2, result_pb2, schema_pb2
from chatdb.parser.v1 import parsed_query_pb2 as pq
from chatdb.registry.v1 import model_version_pb2

from gateway import ml_dataset
from gateway.ml_answers import model_name_for, prediction_record
from servers.runtime.errors import InvalidArgument

PG = connection_pb2.CONNECTION_KIND_POSTGRES
MY = connection_pb2.CONNECTION_KIND_MYSQL
INT, TEXT, FLOAT, DATE = (data_type_pb2.DATA_TYPE_INTEGER, data_type_pb2.DATA_TYPE_TEXT,
                          data_type_pb2.DATA_TYPE_FLOAT, data_type_pb2.DATA_TYPE_DATE)


def customers(schema_name: str = "public") -> schema_pb2.Table:
    return schema_pb2.Table(name="Customers", schema_name=schema_name, primary_key=["id"], columns=[
        schema_pb2.Column(name="id", type=INT, primary_key_ordinal=1),
        schema_pb2.Column(name="age", type=INT),
        schema_pb2.Column(name="home city", type=TEXT),
        schema_pb2.Column(name="segment", type=TEXT),
        schema_pb2.Column(name="spend", type=FLOAT),
        schema_pb2.Column(name="joined", type=DATE),
    ])


def test_the_select_quotes_every_name_for_the_dialect():
    table = customers()
    schema = schema_pb2.Schema(database="shop", tables=[table])
    assert ml_dataset.select_columns(table, schema, PG, ["segment", "home city"]) == \
        'SELECT "segment", "home city" FROM "Customers"'
    assert ml_dataset.select_columns(table, schema, MY, ["segment", "home city"]) == \
        "SELECT `segment`, `home city` FROM `public`.`Customers`"
    own = customers(schema_name="shop")
    assert ml_dataset.select_columns(own, schema_pb2.Schema(database="shop", tables=[own]), MY, ["age"]) == \
        "SELECT `age` FROM `Customers`"


def test_a_hostile_name_stays_one_identifier():
    table = schema_pb2.Table(name='t"; DROP TABLE x; --', columns=[schema_pb2.Column(name="a", type=INT)])
    sql = ml_dataset.select_columns(table, schema_pb2.Schema(tables=[table]), PG, ["a"])
    parsed = sqlglot.parse(sql, read="postgres")
    assert len(parsed) == 1 and parsed[0].find(sqlglot.exp.Table).name == 't"; DROP TABLE x; --'


def test_without_features_every_column_but_the_key_is_read():
    columns = ml_dataset.training_columns(customers(), "segment", [])
    assert columns.read == ["segment", "age", "home city", "spend", "joined"] and columns.features == []
    assert columns.notes == ["learns from every column of Customers but id (its key)"]
    named = ml_dataset.training_columns(customers(), "SEGMENT", ["Age", "segment", "age"])
    assert (named.target, named.features, named.read) == ("segment", ["age"], ["segment", "age"])


def test_an_unknown_column_names_the_closest():
    with pytest.raises(InvalidArgument) as caught:
        ml_dataset.training_columns(customers(), "segmnt", [])
    assert "'segmnt'" in caught.value.message and "segment" in caught.value.message
    with pytest.raises(InvalidArgument) as caught:
        ml_dataset.training_columns(customers(), "segment", ["age", "cty"])
    assert caught.value.violations[0].field == "features[1]" and "home city" in caught.value.message


def test_the_task_follows_the_target():
    table = customers()
    column = {c.name: c for c in table.columns}
    assert ml_dataset.task_for(column["segment"], None, 20) == ml_dataset.CLASSIFICATION
    assert ml_dataset.task_for(column["spend"], None, 20) == ml_dataset.REGRESSION
    assert ml_dataset.task_for(column["age"], 3, 20) == ml_dataset.CLASSIFICATION
    assert ml_dataset.task_for(column["age"], 60, 20) == ml_dataset.REGRESSION
    with pytest.raises(InvalidArgument, match="date values"):
        ml_dataset.task_for(column["joined"], None, 20)
    assert ml_dataset.task_from_values([1, 0, 1, None], 20) == ml_dataset.CLASSIFICATION
    assert ml_dataset.task_from_values([1.5, 2.25, 3.0], 20) == ml_dataset.REGRESSION
    assert ml_dataset.task_from_values(["a", "b"], 20) == ml_dataset.CLASSIFICATION


def test_a_derived_model_name_follows_the_name_rule():
    assert model_name_for("Customers", "segment") == "customers-segment"
    assert model_name_for("2024 sales", "Total_Amount") == "sales-total-amount"


def test_the_record_takes_the_models_input_names_and_types():
    inputs = [model_version_pb2.TensorSpec(name="age", datatype="FP32"),
              model_version_pb2.TensorSpec(name="home_city", datatype="BYTES")]
    filters = [pq.Filter(column="customers.Age", operator=pq.FILTER_OPERATOR_EQ, values=[result_pb2.Cell(text_value="31")]),
               pq.Filter(column="home city", operator=pq.FILTER_OPERATOR_EQ, values=[result_pb2.Cell(text_value="Lagos")]),
               pq.Filter(column="plan", operator=pq.FILTER_OPERATOR_EQ, values=[result_pb2.Cell(int64_value=2)])]
    record, unused, missing = prediction_record(filters, inputs)
    assert record == {"age": 31.0, "home_city": "Lagos"} and unused == ["plan"] and missing == []
    assert prediction_record(filters[:1], inputs)[2] == ["home_city"]
