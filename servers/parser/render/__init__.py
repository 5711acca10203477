"""The parser's render side: a QueryPlan → FROM/JOIN along foreign keys (joins.py), a
statement per SQL dialect (sql.py), a MongoDB find or pipeline (mongo.py), and a
sentence of plain English saying what will run (explain.py)."""

from servers.parser.render.explain import explain
from servers.parser.render.joins import JoinTree, join_path
from servers.parser.render.mongo import MongoStatement, render_mongo
from servers.parser.render.sql import render_sql

__all__ = ["JoinTree", "MongoStatement", "explain", "join_path", "render_mongo", "render_sql"]
