"""Glossary fragments (SQL, parsed with sqlglot) as MongoDB documents: segment
conditions as query documents, metric measures as $group accumulators.

The glossary accepts for MongoDB connections only what translates: comparisons,
AND / OR / NOT, IN, IS NULL, BETWEEN, LIKE, arithmetic, and sum / avg / min / max /
count over fields. Anything else is Unresolved, naming the fragment. Columns are
written table.column in the glossary; the field is the column part.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

from servers.parser.domain import Unresolved
from servers.parser.render.fragments import parse_fragment

_QUERY_OPS: dict[type[exp.Expression], str] = {
    exp.EQ: "$eq",
    exp.NEQ: "$ne",
    exp.GT: "$gt",
    exp.GTE: "$gte",
    exp.LT: "$lt",
    exp.LTE: "$lte",
}
_FLIPPED = {"$eq": "$eq", "$ne": "$ne", "$gt": "$lt", "$gte": "$lte", "$lt": "$gt", "$lte": "$gte"}
_ARITHMETIC: dict[type[exp.Expression], str] = {
    exp.Add: "$add",
    exp.Sub: "$subtract",
    exp.Mul: "$multiply",
    exp.Div: "$divide",
}
_ACCUMULATORS: dict[type[exp.Expression], str] = {
    exp.Sum: "$sum",
    exp.Avg: "$avg",
    exp.Min: "$min",
    exp.Max: "$max",
}





def _refuse(sql: str, node: exp.Expression) -> Unresolved:
    return Unresolved(
        f"the glossary expression {sql!r} uses {node.key}, which MongoDB cannot run here"
    )


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        number = float(node.this)
        return int(number) if number.is_integer() and "." not in node.this else number
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -_literal(node.this)
    raise TypeError


def _is_literal(node: exp.Expression) -> bool:
    try:
        _literal(node)
    except TypeError:
        return False
    return True


def value(sql: str) -> Any:
    """A non-aggregate fragment as an aggregation expression ("$price", {"$multiply": …})."""
    return _value(parse_fragment(sql), sql)


def _value(node: exp.Expression, sql: str) -> Any:
    if isinstance(node, exp.Paren):
        return _value(node.this, sql)
    if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
        return f"${node.name}"
    if _is_literal(node):
        literal = _literal(node)
        # a string is a field path or an operator to $group / $project: keep it literal
        return {"$literal": literal} if isinstance(literal, str) else literal
    if type(node) in _ARITHMETIC:
        return {_ARITHMETIC[type(node)]: [_value(node.this, sql), _value(node.expression, sql)]}
    if isinstance(node, exp.Neg):
        return {"$multiply": [-1, _value(node.this, sql)]}
    raise _refuse(sql, node)


def accumulator(sql: str) -> Any:
    """A metric's measure (one aggregate at the top) as a $group accumulator."""
    node = parse_fragment(sql)
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Count):
        target = node.this
        if isinstance(target, exp.Star) or target is None:
            return {"$sum": 1}
        if isinstance(target, exp.Distinct):
            raise _refuse(sql, target)
        return {"$sum": {"$cond": [{"$gt": [_value(target, sql), None]}, 1, 0]}}
    if type(node) in _ACCUMULATORS:
        return {_ACCUMULATORS[type(node)]: _value(node.this, sql)}
    raise _refuse(sql, node)


def condition(sql: str) -> dict:
    """A segment's condition as a query document."""
    return _condition(parse_fragment(sql), sql)


def fields(sql: str) -> list[str]:
    """The fields a fragment reads, in order of first use."""
    return list(dict.fromkeys(c.name for c in parse_fragment(sql).find_all(exp.Column) if c.name))


def _field(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
        return node.name
    return None


def _condition(node: exp.Expression, sql: str) -> dict:
    if isinstance(node, exp.Paren):
        return _condition(node.this, sql)
    if isinstance(node, exp.And):
        return {"$and": [_condition(node.this, sql), _condition(node.expression, sql)]}
    if isinstance(node, exp.Or):
        return {"$or": [_condition(node.this, sql), _condition(node.expression, sql)]}
    if isinstance(node, exp.Not):
        return {"$nor": [_condition(node.this, sql)]}
    if type(node) in _QUERY_OPS:
        op = _QUERY_OPS[type(node)]
        left, right = node.this, node.expression
        if _field(left) and _is_literal(right):
            return {_field(left): {op: _literal(right)}}
        if _field(right) and _is_literal(left):
            return {_field(right): {_FLIPPED[op]: _literal(left)}}
        return {"$expr": {op: [_value(left, sql), _value(right, sql)]}}
    field = _field(node.this) if node.args.get("this") is not None else None
    if isinstance(node, exp.In) and field and all(_is_literal(e) for e in node.expressions):
        return {field: {"$in": [_literal(e) for e in node.expressions]}}
    if isinstance(node, exp.Is) and field and isinstance(node.expression, exp.Null):
        return {field: None}
    if isinstance(node, exp.Between) and field:
        low, high = node.args.get("low"), node.args.get("high")
        if low is not None and high is not None and _is_literal(low) and _is_literal(high):
            return {field: {"$gte": _literal(low), "$lte": _literal(high)}}
    if isinstance(node, (exp.Like, exp.ILike)) and field and _is_literal(node.expression):
        return {field: {"$regex": _like_to_regex(str(_literal(node.expression))), "$options": "i"}}
    if _field(node):
        return {_field(node): True}  # a boolean column on its own
    raise _refuse(sql, node)


def _like_to_regex(pattern: str) -> str:
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return "^" + "".join(parts) + "$"
