"""Small synthetic datasets for the ML-engine tests (deterministic for a seed)."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_classification, make_regression

from servers.contracts.ml.spec import Dataset

COLORS = ("rouge", "vert", "bleu", "gris")


def classification_rows(n: int, seed: int, *, classes: int = 2) -> Dataset:
    """Four informative numeric columns, a categorical "colour" that carries signal, a
    bool and an int column, a few missing values, and a string target."""
    x, y = make_classification(
        n_samples=n, n_features=4, n_informative=4, n_redundant=0, n_classes=classes,
        class_sep=2.0, random_state=seed,
    )
    rng = np.random.default_rng(seed)
    names = ("x1", "x 2", "größe", "x4", "colour", "flag", "count", "label_text")
    rows = []
    for i in range(n):
        colour = COLORS[int(y[i]) % len(COLORS)] if rng.random() < 0.8 else str(rng.choice(COLORS))
        values = [float(v) for v in x[i]]
        if rng.random() < 0.03:
            values[int(rng.integers(4))] = None
        rows.append((*values, None if rng.random() < 0.03 else colour, bool(rng.random() < 0.5),
                     int(rng.integers(0, 10)), f"class-{int(y[i])}"))
    return Dataset(names, rows)


def regression_rows(n: int, seed: int) -> Dataset:
    x, y = make_regression(n_samples=n, n_features=4, n_informative=4, noise=2.0, random_state=seed)
    rng = np.random.default_rng(seed)
    offsets = {"north": 0.0, "south": 40.0, "east": -25.0}
    rows = []
    for i in range(n):
        region = str(rng.choice(list(offsets)))
        values = [float(v) for v in x[i]]
        if rng.random() < 0.03:
            values[int(rng.integers(4))] = None
        rows.append((*values, region, float(y[i] + offsets[region])))
    return Dataset(("a", "b", "c", "d", "region", "price"), rows)


# Topic words with accents, capitals, non-Latin scripts; shared filler and one-letter
# tokens (which scikit-learn's tokenizer drops and skl2onnx's default would keep).
TOPICS = {
    "sport": ["Équipe", "but", "match", "entraîneur", "Müller", "stade", "victoire", "Ελλάδα", "футбол"],
    "cuisine": ["crème", "brûlée", "café", "naïve", "recette", "Straße", "goût", "日本料理", "борщ"],
    "musique": ["chanson", "piano", "Orchestre", "mélodie", "Dvořák", "opéra", "концерт", "ÉCOUTE", "chœur"],
}
FILLER = ["le", "la", "de", "et", "a", "x", "é", "à", "l'", "d'un", "très", "C'est", "_", "1", "42"]


def text_rows(n: int, seed: int, *, topics: tuple[str, ...] = ("sport", "cuisine", "musique")) -> Dataset:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        topic = str(rng.choice(topics))
        other = str(rng.choice(topics))
        words = list(rng.choice(TOPICS[topic], size=4)) + list(rng.choice(TOPICS[other], size=1))
        words += list(rng.choice(FILLER, size=5))
        rng.shuffle(words)
        text = " ".join(str(w) for w in words) + str(rng.choice([".", "!", " ?", ""]))
        rows.append((text, topic, int(rng.integers(0, 100))))
    return Dataset(("texte", "sujet", "n"), rows)
