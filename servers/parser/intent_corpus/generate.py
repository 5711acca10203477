"""Fill the templates over the made-up schemas, with the noise people type: wrappers
("please …", "… thanks"), casing, typos and punctuation. Deterministic for a seed:
one random.Random drives every choice, and the output is sorted by nothing but the
order of generation.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from .schemas import DOMAINS, Domain, Entity
from .templates import LABELS, NUMBER_WORDS, TEMPLATES, TIME_PHRASES, WRAPPERS


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    domain: str  # the schema it speaks of, so a test can hold a whole schema out


def generate(*, seed: int = 13, per_label: int = 450, domains: tuple[Domain, ...] = DOMAINS) -> list[Example]:
    """`per_label` distinct questions of every label (fewer only if the templates run
    dry), no text repeated across labels. Same seed, same list."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Example] = []
    for label in LABELS:
        made, attempts = 0, 0
        while made < per_label and attempts < per_label * 40:
            attempts += 1
            domain = rng.choice(domains)
            text = _noisy(rng, _fill(rng, rng.choice(TEMPLATES[label]), domain))
            key = text.lower()
            if key in seen:
                continue
            seen.add(key)
            out.append(Example(text, label, domain.name))
            made += 1
    return out


def _fill(rng: random.Random, template: str, domain: Domain) -> str:
    entity = _entity_for(rng, template, domain)
    texts = list(entity.texts)
    text_col = rng.choice(texts)
    other_text = rng.choice([t for t in texts if t != text_col] or texts)
    values = entity.texts[text_col]
    numbers = entity.numbers
    number = rng.choice(numbers)
    other_number = rng.choice([n for n in numbers if n != number] or numbers)
    low = rng.choice((5, 10, 18, 20, 25, 30, 40, 50, 100, 250, 1000, 5000))
    features = rng.sample([*numbers, *texts], k=min(len(numbers) + len(texts), rng.randint(2, 3)))
    slots = {
        "E": entity.plural,
        "e": entity.singular,
        "T": text_col,
        "T2": other_text,
        "V": rng.choice(values),
        "V2": rng.choice(values),
        "N": number,
        "N2": other_number,
        "D": rng.choice(entity.dates) if entity.dates else "date",
        "name": rng.choice(entity.names) if entity.names else rng.choice(values),
        "k": _count(rng),
        "big": str(low),
        "big2": str(low * rng.choice((2, 3, 10))),
        "time": rng.choice(TIME_PHRASES),
        "M": rng.choice(domain.models),
        "tgt": rng.choice(entity.targets) if entity.targets else text_col,
        "feats": _listing(rng, features),
        "num": _measure(rng),
        "num2": _measure(rng),
    }
    return template.format(**slots)


def _entity_for(rng: random.Random, template: str, domain: Domain) -> Entity:
    """An entity that has what the template needs (a target for {tgt}, a name for {name})."""
    candidates = list(domain.entities)
    if "{tgt}" in template:
        candidates = [e for e in candidates if e.targets] or candidates
    if "{name}" in template:
        candidates = [e for e in candidates if e.names] or candidates
    return rng.choice(candidates)


def _count(rng: random.Random) -> str:
    n = rng.randint(2, 10)
    return NUMBER_WORDS[n - 1] if rng.random() < 0.3 else str(n)


def _measure(rng: random.Random) -> str:
    return str(rng.choice((rng.randint(1, 99), rng.randint(100, 9000), round(rng.uniform(0, 10), 1))))


def _listing(rng: random.Random, words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    joiner = rng.choice((" and ", ", ", " & "))
    return ", ".join(words[:-1]) + joiner + words[-1] if joiner != ", " else ", ".join(words)


# --- noise ---------------------------------------------------------------------------

_NEIGHBOURS = {  # a few keyboard neighbours, for substitution typos
    "a": "sq", "e": "wr", "i": "uo", "o": "ip", "n": "bm", "s": "ad", "t": "ry", "r": "et", "l": "k", "m": "n",
    "u": "yi", "c": "xv", "d": "sf", "h": "gj", "p": "o",
}


def _noisy(rng: random.Random, question: str) -> str:
    text = rng.choice(WRAPPERS).format(question)
    if rng.random() < 0.18:
        text = _typo(rng, text)
    if rng.random() < 0.05:
        text = _typo(rng, text)
    ending = rng.random()
    if ending < 0.35:
        text += "?"
    elif ending < 0.42:
        text += "."
    elif ending < 0.45:
        text += "??"
    casing = rng.random()
    if casing < 0.22:
        text = text[0].upper() + text[1:]
    elif casing < 0.27:
        text = text.upper()
    elif casing < 0.31:
        text = string.capwords(text)
    return " ".join(text.split())


def _typo(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    choices = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not choices:
        return text
    i = rng.choice(choices)
    word = words[i]
    at = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:  # a letter dropped
        word = word[:at] + word[at + 1:]
    elif kind == 1:  # two letters swapped
        word = word[:at] + word[at + 1] + word[at] + word[at + 2:]
    elif kind == 2:  # a letter doubled
        word = word[:at] + word[at] + word[at:]
    else:  # a neighbouring key
        near = _NEIGHBOURS.get(word[at].lower())
        if near:
            word = word[:at] + rng.choice(near) + word[at + 1:]
    words[i] = word
    return " ".join(words)
