"""The gateway's tables in the platform database (migrations/0001_gateway.sql): the
history of questions with their audit rows, conversations, feedback and accepted
answers. Protos (statement, parsed query, error) are stored as their bytes: the history
keeps exactly what Ask answered. Connection loss is Unavailable (runtime/pg.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg
from chatdb.connector.v1 import statement_pb2
from chatdb.parser.v1 import parsed_query_pb2
from google.rpc import status_pb2

from servers.runtime.pg import platform_errors

from .convert import statement_text
from .domain import (
    STATUS_SUCCEEDED,
    AcceptedAnswer,
    FeedbackRecord,
    QueryFilter,
    QueryRecord,
    Timings,
)

_COLUMNS = """q.query_id, q.question, q.normalised, q.connection_id, q.conversation_id, q.status, q.intent,
    q.statement, q.parsed, q.row_count, q.cached, q.source, q.reused_query_id, q.explanation, q.answer,
    q.error, q.principal, q.api_key_id, q.trace_id, q.parse_s, q.execute_s, q.total_s, q.create_time, q.tenant,
    f.verdict, f.corrected_statement, f.comment AS f_comment, f.principal AS f_principal, f.create_time AS f_time"""
_FROM = "gateway_queries q LEFT JOIN gateway_feedback f ON f.query_id = q.query_id"


def _bytes(message: Any) -> bytes | None:
    return None if message is None else message.SerializeToString()


def _record(row: asyncpg.Record) -> QueryRecord:
    feedback = None
    if row["verdict"] is not None:
        feedback = FeedbackRecord(
            verdict=row["verdict"],
            corrected_statement=statement_pb2.Statement.FromString(row["corrected_statement"])
            if row["corrected_statement"] is not None else None,
            comment=row["f_comment"],
            principal=row["f_principal"],
            create_time=row["f_time"],
        )
    return QueryRecord(
        query_id=row["query_id"],
        question=row["question"],
        normalised=row["normalised"],
        connection_id=row["connection_id"],
        conversation_id=row["conversation_id"],
        status=row["status"],
        intent=row["intent"],
        statement=statement_pb2.Statement.FromString(row["statement"]) if row["statement"] is not None else None,
        parsed=parsed_query_pb2.ParsedQuery.FromString(row["parsed"]) if row["parsed"] is not None else None,
        row_count=row["row_count"],
        cached=row["cached"],
        source=row["source"],
        reused_query_id=row["reused_query_id"],
        explanation=row["explanation"],
        answer=row["answer"],
        error=status_pb2.Status.FromString(row["error"]) if row["error"] is not None else None,
        principal=row["principal"],
        api_key_id=row["api_key_id"],
        trace_id=row["trace_id"],
        timings=Timings(row["parse_s"], row["execute_s"], row["total_s"]),
        create_time=row["create_time"],
        feedback=feedback,
        tenant=row["tenant"],
    )


class GatewayStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # ------------------------------------------------------------------ written in batches

    async def write(self, conversations: Sequence[tuple[str, str, dt.datetime, str]],
                    records: Sequence[QueryRecord]) -> None:
        """New conversations (id, principal, time, tenant) and finished questions with their
        audit rows, in one transaction. Idempotent: a retried batch that had committed
        changes nothing."""
        with platform_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                if conversations:
                    await conn.executemany(
                        "INSERT INTO gateway_conversations (conversation_id, principal, create_time, tenant) "
                        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        [(*c[:3], c[3] if len(c) > 3 else "") for c in conversations],
                    )
                if not records:
                    return
                inserted = await conn.fetch(
                    """INSERT INTO gateway_queries (query_id, question, normalised, connection_id, conversation_id,
                           status, intent, statement, parsed, row_count, cached, source, reused_query_id,
                           explanation, answer, error, principal, api_key_id, trace_id, parse_s, execute_s,
                           total_s, create_time, tenant)
                       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                           $6::smallint[], $7::integer[], $8::bytea[], $9::bytea[], $10::bigint[], $11::boolean[],
                           $12::smallint[], $13::text[], $14::text[], $15::text[], $16::bytea[], $17::text[],
                           $18::text[], $19::text[], $20::float8[], $21::float8[], $22::float8[], $23::timestamptz[],
                           $24::text[])
                       ON CONFLICT (query_id) DO NOTHING
                       RETURNING query_id""",
                    *zip(*[
                        (r.query_id, r.question, r.normalised, r.connection_id, r.conversation_id, r.status,
                         r.intent, _bytes(r.statement), _bytes(r.parsed), r.row_count, r.cached, r.source,
                         r.reused_query_id, r.explanation, r.answer, _bytes(r.error), r.principal, r.api_key_id,
                         r.trace_id, r.timings.parse_s, r.timings.execute_s, r.timings.total_s, r.create_time,
                         r.tenant)
                        for r in records
                    ], strict=True),
                )
                # The audit row goes with the history row, once: a replayed batch adds none.
                new = {row["query_id"] for row in inserted}
                audit = [
                    (r.create_time, r.principal, r.api_key_id, r.connection_id, r.query_id, r.question,
                     statement_text(r.statement), r.row_count,
                     "SUCCEEDED" if r.status == STATUS_SUCCEEDED else "FAILED", r.trace_id)
                    for r in records if r.query_id in new
                ]
                if audit:
                    await conn.executemany(
                        """INSERT INTO gateway_audit (event_time, principal, api_key_id, connection_id, query_id,
                               question, statement, row_count, status, trace_id)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
                        audit,
                    )

    # ------------------------------------------------------------------ reads

    async def get(self, query_id: str) -> QueryRecord | None:
        with platform_errors():
            row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM {_FROM} WHERE q.query_id = $1", query_id)
        return _record(row) if row else None

    async def conversation_tenant(self, conversation_id: str) -> str | None:
        """The conversation's tenant; None when it does not exist."""
        with platform_errors():
            return await self.pool.fetchval(
                "SELECT tenant FROM gateway_conversations WHERE conversation_id = $1", conversation_id)

    async def conversation_exists(self, conversation_id: str) -> bool:
        with platform_errors():
            return bool(await self.pool.fetchval(
                "SELECT 1 FROM gateway_conversations WHERE conversation_id = $1", conversation_id))

    async def last_answered(self, conversation_id: str) -> QueryRecord | None:
        """The conversation's newest answered question that has a parsed query."""
        with platform_errors():
            row = await self.pool.fetchrow(
                f"""SELECT {_COLUMNS} FROM {_FROM}
                    WHERE q.conversation_id = $1 AND q.status = $2 AND q.parsed IS NOT NULL
                    ORDER BY q.create_time DESC, q.query_id DESC LIMIT 1""",
                conversation_id, STATUS_SUCCEEDED,
            )
        return _record(row) if row else None

    async def list(self, where: QueryFilter, *, limit: int,
                   after: tuple[dt.datetime, str] | None = None, tenant: str | None = None) -> list[QueryRecord]:
        """Newest first; `after` is the (create_time, query_id) of the last row of the
        previous page (keyset paging: rows arriving meanwhile neither repeat nor shift);
        with `tenant`, only that tenant's questions and shared ones."""
        clauses, args = [], []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if tenant is not None:
            clauses.append(f"q.tenant IN ('', {arg(tenant)})")

        if where.connection_id:
            clauses.append(f"q.connection_id = {arg(where.connection_id)}")
        if where.status:
            clauses.append(f"q.status = {arg(where.status)}")
        if where.conversation_id:
            clauses.append(f"q.conversation_id = {arg(where.conversation_id)}")
        if where.start_time is not None:
            clauses.append(f"q.create_time >= {arg(where.start_time)}")
        if where.end_time is not None:
            clauses.append(f"q.create_time < {arg(where.end_time)}")
        if after is not None:
            clauses.append(f"(q.create_time, q.query_id) < ({arg(after[0])}, {arg(after[1])})")
        sql = (f"SELECT {_COLUMNS} FROM {_FROM}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
               + f" ORDER BY q.create_time DESC, q.query_id DESC LIMIT {arg(limit)}")
        with platform_errors():
            rows = await self.pool.fetch(sql, *args)
        return [_record(r) for r in rows]

    # ------------------------------------------------------------------ feedback

    async def save_feedback(self, query_id: str, feedback: FeedbackRecord, accepted: AcceptedAnswer) -> None:
        """The feedback (the latest replaces an earlier one) and the accepted pair it makes."""
        with platform_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    """INSERT INTO gateway_feedback (query_id, verdict, corrected_statement, comment, principal, create_time)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (query_id) DO UPDATE SET verdict = EXCLUDED.verdict,
                           corrected_statement = EXCLUDED.corrected_statement, comment = EXCLUDED.comment,
                           principal = EXCLUDED.principal, create_time = EXCLUDED.create_time""",
                    query_id, feedback.verdict, _bytes(feedback.corrected_statement), feedback.comment,
                    feedback.principal, feedback.create_time,
                )
                await conn.execute(
                    """INSERT INTO gateway_accepted (connection_id, normalised, statement, query_id, embedding)
                       VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (connection_id, normalised) DO UPDATE SET statement = EXCLUDED.statement,
                           query_id = EXCLUDED.query_id, embedding = EXCLUDED.embedding, create_time = now()""",
                    accepted.connection_id, accepted.normalised, accepted.statement.SerializeToString(),
                    accepted.query_id, list(accepted.embedding),
                )

    async def accepted(self, connection_id: str) -> list[AcceptedAnswer]:
        with platform_errors():
            rows = await self.pool.fetch(
                "SELECT normalised, statement, query_id, embedding FROM gateway_accepted WHERE connection_id = $1",
                connection_id,
            )
        return [
            AcceptedAnswer(connection_id, r["normalised"], statement_pb2.Statement.FromString(r["statement"]),
                           r["query_id"], tuple(r["embedding"] or ()))
            for r in rows
        ]

    async def failed_since(self, since: dt.datetime, limit: int = 100) -> list[QueryRecord]:
        with platform_errors():
            rows = await self.pool.fetch(
                f"""SELECT {_COLUMNS} FROM {_FROM} WHERE q.status = 2 AND q.create_time >= $1
                    ORDER BY q.create_time DESC, q.query_id DESC LIMIT $2""",
                since, limit,
            )
        return [_record(r) for r in rows]
