"""Distinct values of a connection's text columns, read through the connector, for value
linking ("New York" → the column that holds it).

Per column the most frequent values come first (GROUP BY … ORDER BY count(*) DESC), up
to `per_column`; values longer than `max_chars` are dropped (a question quotes names and
categories, not paragraphs). The statements are built with sqlglot and run read-only
through the connector like any other; a column that fails (a timeout on a huge table, a
permission) is skipped with a log line rather than failing the parse.

Values are read as the platform (no principal), unmasked: the connector masks personal
data for non-admin callers (connector/pii.py), and a masked value index could not link
a typed "alice@example.com" to the email column. The samples are shared by every caller
of the connection (cached per schema version), never returned to anyone, and read only
after the caller's own GetSchema passed the tenancy check.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

import sqlglot
from chatdb.connector.v1 import statement_pb2
from sqlglot import exp

from servers.contracts.clients import ConnectorClient
from servers.runtime import identity
from servers.runtime.errors import ChatDBError

from .domain import ColumnKind, ColumnRef, Samples, SchemaFlavour, SchemaView, TableInfo

log = logging.getLogger("chatdb.parser.samples")

_DIALECTS = {SchemaFlavour.POSTGRES: "postgres", SchemaFlavour.MYSQL: "mysql"}


def distinct_values_sql(table: str, column: str, *, schema_name: str, per_column: int, dialect: str) -> str:
    """SELECT column FROM table WHERE column IS NOT NULL GROUP BY column
    ORDER BY count(*) DESC LIMIT per_column — identifiers quoted as the dialect needs."""
    col = exp.column(column, quoted=True)
    query = (
        sqlglot.select(col)
        .from_(exp.table_(table, db=schema_name or None, quoted=True))
        .where(exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null())))
        .group_by(col.copy())
        .order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=True))
        .limit(per_column)
    )
    return query.sql(dialect=dialect)


def distinct_values_pipeline(column: str, per_column: int) -> str:
    return json.dumps(
        [
            {"$match": {column: {"$type": "string"}}},
            {"$group": {"_id": f"${column}", "n": {"$sum": 1}}},
            {"$sort": {"n": -1}},
            {"$limit": per_column},
        ]
    )


class ValueSampler:
    def __init__(self, client: ConnectorClient, *, per_column: int, max_chars: int, concurrency: int = 4) -> None:
        self.client = client
        self.per_column = per_column
        self.max_chars = max_chars
        self.concurrency = concurrency

    def _statement(self, schema: SchemaView, table: str, column: str, schema_name: str) -> statement_pb2.Statement:
        if schema.flavour is SchemaFlavour.MONGODB:
            return statement_pb2.Statement(
                mongo_aggregate=statement_pb2.MongoAggregate(
                    collection=table, pipeline=distinct_values_pipeline(column, self.per_column)
                )
            )
        sql = distinct_values_sql(
            table, column, schema_name=schema_name, per_column=self.per_column, dialect=_DIALECTS[schema.flavour]
        )
        return statement_pb2.Statement(sql=statement_pb2.SqlStatement(sql=sql))

    async def sample(self, connection_id: str, schema: SchemaView) -> Samples:
        """Values of every text column of `schema`, most frequent first."""
        gate = asyncio.Semaphore(self.concurrency)
        targets = [
            (table, column.name)
            for table in schema.tables
            for column in table.columns
            if column.kind is ColumnKind.TEXT
        ]

        async def one(table: TableInfo, column: str) -> tuple[ColumnRef, Sequence[str]]:
            table_name = table.name
            statement = self._statement(schema, table_name, column, table.schema_name)
            async with gate:
                try:
                    rows = await self.client.execute(connection_id, statement, max_rows=self.per_column)
                except ChatDBError as exc:
                    log.warning("value sampling skipped a column", extra={
                        "connection_id": connection_id, "column": f"{table_name}.{column}", "reason": str(exc)[:200]})
                    return ColumnRef(table_name, column), ()
            values = [row[0] for row in rows if isinstance(row[0], str) and 0 < len(row[0].strip()) <= self.max_chars]
            return ColumnRef(table_name, column), tuple(values)

        platform = identity.set_principal(None)  # unmasked: see the module docstring
        try:
            results = await asyncio.gather(*(one(table, column) for table, column in targets))
        finally:
            identity.reset_principal(platform)
        return {ref: values for ref, values in results if values}
