"""What train / predict / model-status questions name, read against a small schema of
our own; names that do not exist are Unresolved with suggestions, never guessed."""

from __future__ import annotations

import pytest

from servers.parser.domain import (
    ColumnInfo,
    ColumnKind,
    ColumnRef,
    QueryKind,
    SchemaView,
    TableInfo,
    Unresolved,
)
from servers.parser.ml_questions import understand_ml

K = ColumnKind
SHOP = SchemaView(tables=(
    TableInfo("customers", (
        ColumnInfo("customer_id", K.INTEGER, primary_key=True), ColumnInfo("full_name", K.TEXT),
        ColumnInfo("age", K.INTEGER), ColumnInfo("city", K.TEXT), ColumnInfo("segment", K.TEXT),
        ColumnInfo("signupDate", K.DATE), ColumnInfo("balance", K.NUMBER),
    )),
    TableInfo("orders", (
        ColumnInfo("order_id", K.INTEGER, primary_key=True), ColumnInfo("customer_id", K.INTEGER),
        ColumnInfo("amount", K.NUMBER), ColumnInfo("status", K.TEXT), ColumnInfo("channel", K.TEXT),
    )),
))
TRAIN, PREDICT, STATUS = QueryKind.TRAIN, QueryKind.PREDICT, QueryKind.MODEL_STATUS


def test_train_names_target_and_table():
    u = understand_ml("train a model to predict segment from customers", TRAIN, SHOP)
    assert (u.kind, u.target, u.table, u.features) == (TRAIN, "segment", "customers", [])
    assert u.model_name  # a name is made up, and said so
    assert any("called" in note for note in u.notes)


def test_train_with_features_any_order_and_plurals():
    u = understand_ml("Fit a model on the customers table to predict segments using age, city & balance", TRAIN, SHOP)
    assert (u.target, u.table, u.features) == ("segment", "customers", ["age", "city", "balance"])
    u = understand_ml("train a model to predict segment from customers using age and city", TRAIN, SHOP)
    assert u.features == ["age", "city"]


def test_train_table_from_the_target_when_not_named():
    u = understand_ml("train a churn model to predict status", TRAIN, SHOP)
    assert (u.model_name, u.target, u.table) == ("churn", "status", "orders")


def test_train_model_name_given():
    u = understand_ml("train a model called big-spender to predict segment from customers", TRAIN, SHOP)
    assert u.model_name == "big-spender"
    assert understand_ml("retrain the churn model", TRAIN, SHOP).model_name == "churn"


def test_identifier_words_split_on_case():
    u = understand_ml("train a model to predict signup date from customers", TRAIN, SHOP)
    assert u.target == "signupDate"


def test_near_miss_links_and_unknown_target_is_unresolved_with_suggestions():
    assert understand_ml("train a model to predict segmnt from customers", TRAIN, SHOP).target == "segment"
    with pytest.raises(Unresolved) as caught:
        understand_ml("train a model to predict loyalty from customers", TRAIN, SHOP)
    assert "loyalty" in caught.value.what
    assert caught.value.suggestions and all(s.startswith("customers.") for s in caught.value.suggestions)


def test_unknown_table_and_feature_are_unresolved():
    with pytest.raises(Unresolved) as caught:
        understand_ml("train a model to predict segment from clients", TRAIN, SHOP)
    assert "clients" in caught.value.what and "customers" in caught.value.suggestions
    with pytest.raises(Unresolved) as caught:
        understand_ml("train a model to predict segment from customers using age and height", TRAIN, SHOP)
    assert "height" in caught.value.what


def test_predict_inputs_typed_and_places():
    u = understand_ml("what would the churn model predict for age 31 in Lagos", PREDICT, SHOP)
    assert u.model_name == "churn"
    assert u.predict_inputs == {"age": 31, "city": "Lagos"}
    assert isinstance(u.predict_inputs["age"], int)


def test_predict_several_forms():
    u = understand_ml("use the churn model on city = 'New York', age: 22 and balance 1200.5", PREDICT, SHOP)
    assert u.predict_inputs == {"city": "New York", "age": 22, "balance": 1200.5}
    u = understand_ml("predict segment for a customer aged 40", PREDICT, SHOP)
    assert u.target == "segment" and u.predict_inputs == {"age": 40}


def test_predict_place_found_by_sampled_values():
    schema = SchemaView(tables=(TableInfo("stores", (ColumnInfo("site", K.TEXT), ColumnInfo("size", K.INTEGER))),))
    samples = {ColumnRef("stores", "site"): ["Lagos", "Osaka"]}
    u = understand_ml("what would the footfall model predict for size 3 in Osaka", PREDICT, schema, samples=samples)
    assert u.predict_inputs == {"size": 3, "site": "Osaka"}
    u = understand_ml("what would the footfall model predict for size 3 in Osaka", PREDICT, schema)
    assert u.predict_inputs == {"size": 3}  # no column says it holds places: not guessed
    assert any("Osaka" in note for note in u.notes)


def test_predict_bounded_by_model_features_and_known_models():
    u = understand_ml("what would the churn model predict for age 31 and balance 5", PREDICT, SHOP,
                      model_features=["age"], models=["churn-v2", "churn"])
    assert u.model_name == "churn" and u.predict_inputs == {"age": 31}
    u = understand_ml("ask churn v2 about age 31", PREDICT, SHOP, models=["churn-v2", "churn"])
    assert u.model_name == "churn-v2"


def test_model_status_names_the_model():
    assert understand_ml("how is the churn model doing", STATUS, SHOP).model_name == "churn"
    assert understand_ml("what models do we have", STATUS, SHOP).model_name == ""


def test_other_kinds_are_refused():
    with pytest.raises(ValueError):
        understand_ml("how many customers", QueryKind.COUNT, SHOP)
