"""Training orchestrator: jobs of record in PostgreSQL, execution through arq."""
