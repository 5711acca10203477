"""A question's normal form, the key of the result cache and of accepted answers:
"Show me  all Customers from New York?" and "show me all customers from new york" are
one question. Case, runs of whitespace and punctuation go; numbers, decimal points and
signs inside numbers stay ("price > 3.5" ≠ "price > 35"), and so do letters of any
script. Comparison and percent signs stay too: "price > 3" and "price < 3" differ."""

from __future__ import annotations

import re
import unicodedata

# A decimal point or a minus between/before digits is part of the number, not punctuation.
_NUMBER = re.compile(r"(?<!\w)-?\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W_]+|[<>=!%]+", re.UNICODE)


def normalise(question: str) -> str:
    text = unicodedata.normalize("NFKC", question).casefold()
    out: list[str] = []
    pos = 0
    for match in _NUMBER.finditer(text):
        out.extend(_WORD.findall(text[pos : match.start()]))
        out.append(match.group())
        pos = match.end()
    out.extend(_WORD.findall(text[pos:]))
    return " ".join(out)
