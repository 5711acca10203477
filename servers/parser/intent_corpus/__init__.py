"""The intent classifier's training set, shipped with the project: templated and
paraphrased questions over made-up schemas of our own (never a benchmark's questions).

    schemas.py    the made-up databases (shop, hr, school, fleet, clinic, …)
    templates.py  question templates per intent label, time phrases, wrappers
    generate.py   generate(seed, per_label) → [Example(text, label, domain)]

`write_csv(path)` writes the corpus as the CSV the platform trains from: columns
`question` (the one text feature) and `intent` (the label).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from .generate import Example, generate
from .schemas import DOMAINS, HELD_OUT
from .templates import LABELS

TEXT_COLUMN = "question"
LABEL_COLUMN = "intent"

__all__ = ["DOMAINS", "HELD_OUT", "LABELS", "LABEL_COLUMN", "TEXT_COLUMN", "Example", "generate", "write_csv"]


def write_csv(path: Path, examples: Iterable[Example] | None = None) -> int:
    """Write `examples` (default: the whole corpus) to `path`; returns the row count."""
    rows = list(generate() if examples is None else examples)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([TEXT_COLUMN, LABEL_COLUMN])
        writer.writerows((e.text, e.label) for e in rows)
    tmp.replace(path)  # a reader (the worker) never sees half a file
    return len(rows)
