"""The training spec both sides check: its types, the tasks and algorithms, column kinds
and coercion, datasets, and the validation of a spec against a dataset.

The orchestrator (servers/training) validates a spec with these before it queues a job;
the worker (workers/ml_engine) trains from the same; prediction encodes records with the
same column rules (columns.py) as training did.
"""
