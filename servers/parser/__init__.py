"""The query parser: natural-language questions → an intermediate form → a statement for
the connection's dialect (PostgreSQL, MySQL) or a MongoDB find / aggregation."""
