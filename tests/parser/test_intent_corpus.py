"""The intent corpus: the same rows for the same seed, every label equally represented,
no question twice (nor under two labels), and a CSV the platform can train from."""

from __future__ import annotations

import csv
from collections import Counter

from servers.parser.domain import QueryKind
from servers.parser.intent_corpus import (
    DOMAINS,
    HELD_OUT,
    LABEL_COLUMN,
    LABELS,
    TEXT_COLUMN,
    generate,
    write_csv,
)


def test_same_seed_same_corpus_and_another_seed_another():
    assert generate(seed=5) == generate(seed=5)
    assert generate(seed=5) != generate(seed=6)


def test_labels_are_the_intents_and_balanced():
    corpus = generate()
    counts = Counter(e.label for e in corpus)
    assert set(counts) == set(LABELS) == {k.value for k in QueryKind if k is not QueryKind.UNKNOWN}
    assert len(set(counts.values())) == 1  # exactly balanced
    assert 3000 <= len(corpus) <= 6000


def test_no_duplicate_rows_and_no_text_under_two_labels():
    corpus = generate()
    texts = [e.text.lower() for e in corpus]
    assert len(texts) == len(set(texts))


def test_every_domain_is_used_and_held_out_ones_exist():
    used = {e.domain for e in generate()}
    assert used == {d.name for d in DOMAINS}
    assert set(HELD_OUT) <= used


def test_noise_is_there_casing_and_typos():
    corpus = generate()
    assert any(e.text.isupper() for e in corpus)
    assert any(e.text[0].isupper() and not e.text.isupper() for e in corpus)
    assert any(e.text.endswith("?") for e in corpus)


def test_write_csv_round_trips(tmp_path):
    path = tmp_path / "sub" / "intent.csv"
    small = generate(per_label=20)
    assert write_csv(path, small) == len(small) == 20 * len(LABELS)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [TEXT_COLUMN, LABEL_COLUMN]
    assert [(r[TEXT_COLUMN], r[LABEL_COLUMN]) for r in rows] == [(e.text, e.label) for e in small]
