"""The demo: tooling that `make up` and `chatdb demo-data` use, not part of any service.

    data.py     the deterministic chatdb_demo data set and its loaders (PostgreSQL,
                MySQL/MariaDB, MongoDB)
    reader.py   the SELECT-only database user the demo connections log in as
    cli.py      the `chatdb demo-data` command (servers/cli.py wires it in)
"""
