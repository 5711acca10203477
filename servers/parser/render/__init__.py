"""The parser's render side: a QueryPlan (domain.py) becomes a statement and a sentence.
Pure logic: no grpc, no driver; every function takes the plan and the SchemaView, and
raises domain.Unresolved for what the schema or the target cannot express.

    joins.py              join_path(schema, tables, relationships=()) → JoinTree: the
                          shortest foreign-key paths (links read from names only when
                          no declared key connects the tables)
    sql.py                render_sql(plan, schema, dialect, relationships=()) → str for
                          "postgres", "mysql" (MariaDB) or "sqlite"; build_query gives
                          the sqlglot tree
    names.py              identifiers quoted per dialect only when needed
    mongo.py              render_mongo(plan, schema) → MongoStatement (a find, or an
                          aggregation pipeline), Extended JSON documents
    mongo_expressions.py  glossary SQL fragments as MongoDB query documents and
                          accumulators
    explain.py            explain(plan, schema, relationships=()) → plain English

Rendering one plan takes ~0.05–0.3 ms (sqlglot's generator is most of it); glossary
fragments are parsed once per process and join graphs built once per schema.
"""

from servers.parser.render.explain import explain
from servers.parser.render.joins import JoinTree, join_path
from servers.parser.render.mongo import MongoStatement, render_mongo
from servers.parser.render.sql import build_query, render_sql

__all__ = [
    "JoinTree",
    "MongoStatement",
    "build_query",
    "explain",
    "join_path",
    "render_mongo",
    "render_sql",
]
