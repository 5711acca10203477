"""Numbers written as digits or words, and the comparison words in front of them.

"more than 30", "at least two", "between 10 and 20", "under 5,000", "1.5 million".
Each number found carries its token span and, when words before it say so, the
comparison it takes part in.
"""

from __future__ import annotations

from dataclasses import dataclass

from servers.parser.domain import Op
from servers.parser.language.words import Token

UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "once": 1,
    "twice": 2,
    "thrice": 3,
    "single": 1,
    "dozen": 12,
}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
SHORT_SCALES = {"k": "thousand", "m": "million", "mn": "million", "bn": "billion", "b": "billion"}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}

# Comparison phrases, longest first; matched on the lower-case words just before a number.
COMPARISONS: tuple[tuple[tuple[str, ...], Op], ...] = tuple(
    sorted(
        (
            (("more", "than"), Op.GT),
            (("greater", "than"), Op.GT),
            (("larger", "than"), Op.GT),
            (("higher", "than"), Op.GT),
            (("bigger", "than"), Op.GT),
            (("older", "than"), Op.GT),
            (("longer", "than"), Op.GT),
            (("heavier", "than"), Op.GT),
            (("taller", "than"), Op.GT),
            (("later", "than"), Op.GT),
            (("over",), Op.GT),
            (("above",), Op.GT),
            (("exceeding",), Op.GT),
            (("exceeds",), Op.GT),
            (("exceed",), Op.GT),
            (("exceeded",), Op.GT),
            (("after",), Op.GT),
            (("beyond",), Op.GT),
            (("less", "than"), Op.LT),
            (("fewer", "than"), Op.LT),
            (("smaller", "than"), Op.LT),
            (("lower", "than"), Op.LT),
            (("younger", "than"), Op.LT),
            (("shorter", "than"), Op.LT),
            (("earlier", "than"), Op.LT),
            (("lighter", "than"), Op.LT),
            (("cheaper", "than"), Op.LT),
            (("under",), Op.LT),
            (("below",), Op.LT),
            (("before",), Op.LT),
            (("at", "least"), Op.GE),
            (("no", "less", "than"), Op.GE),
            (("not", "less", "than"), Op.GE),
            (("no", "fewer", "than"), Op.GE),
            (("or", "more"), Op.GE),
            (("minimum", "of"), Op.GE),
            (("at", "most"), Op.LE),
            (("no", "more", "than"), Op.LE),
            (("not", "more", "than"), Op.LE),
            (("up", "to"), Op.LE),
            (("maximum", "of"), Op.LE),
            (("or", "less"), Op.LE),
            (("or", "after"), Op.GE),
            (("or", "later"), Op.GE),
            (("or", "before"), Op.LE),
            (("or", "earlier"), Op.LE),
            (("or", "older"), Op.GE),
            (("or", "younger"), Op.LE),
            (("or", "fewer"), Op.LE),
            (("equal", "to"), Op.EQ),
            (("exactly",), Op.EQ),
            (("not", "equal", "to"), Op.NE),
            (("other", "than"), Op.NE),
            (("more", "than", "or", "equal", "to"), Op.GE),
            (("greater", "than", "or", "equal", "to"), Op.GE),
            (("less", "than", "or", "equal", "to"), Op.LE),
        ),
        key=lambda item: -len(item[0]),
    )
)


@dataclass(frozen=True)
class Number:
    value: int | float
    start: int  # token index of the first word of the number
    end: int  # token index after the last
    op: Op | None = None  # the comparison in front of it
    op_start: int | None = None  # token index where the comparison words start
    upper: int | float | None = None  # BETWEEN's second bound
    is_year: bool = False


def _digits(text: str) -> int | float | None:
    text = text.lower().rstrip("stndrh") if text[-2:].lower() in ("st", "nd", "rd", "th") else text
    clean = text.replace(",", "")
    try:
        return int(clean)
    except ValueError:
        try:
            return float(clean)
        except ValueError:
            return None


def _word_number(tokens: list[Token], i: int) -> tuple[int | float, int] | None:
    """A number spelled in words from token i: (value, next index)."""
    total, current, j = 0, 0, i
    seen = False
    while j < len(tokens):
        word = tokens[j].lower
        if word in UNITS:
            current += UNITS[word]
        elif word in SCALES and seen:
            current = max(current, 1) * SCALES[word]
            if SCALES[word] >= 1000:
                total, current = total + current, 0
        elif (
            word == "and"
            and seen
            and tokens[j - 1].lower in SCALES  # "three hundred and two", not "one and two"
            and j + 1 < len(tokens)
            and tokens[j + 1].lower in UNITS
        ):
            j += 1
            continue
        elif word.replace("-", "") != word and all(part in UNITS for part in word.split("-")):
            current += sum(UNITS[part] for part in word.split("-"))
        else:
            break
        seen = True
        j += 1
    if not seen:
        return None
    return total + current, j


def _one_of_a_unit(tokens: list[Token], i: int) -> bool:
    from servers.parser.language.lexicon import UNIT_PIECES

    nxt = tokens[i + 1]
    after_comparison = i > 0 and tokens[i - 1].lower in ("than", "over", "under", "above", "below")
    return after_comparison and (nxt.lower in SCALES or nxt.lemma in UNIT_PIECES)


def find_numbers(tokens: list[Token]) -> list[Number]:
    numbers: list[Number] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        parsed: tuple[int | float, int] | None = None
        if token.is_number:
            value = _digits(token.lower)
            if value is not None:
                parsed = (value, i + 1)
                if i + 1 < len(tokens) and tokens[i + 1].lower in SCALES:
                    parsed = (value * SCALES[tokens[i + 1].lower], i + 2)
                elif (
                    i + 1 < len(tokens)
                    and tokens[i + 1].lower in SHORT_SCALES
                    and tokens[i + 1].start == token.end
                ):
                    # "50k", "1.5m", "2bn" written as one word
                    parsed = (value * SCALES[SHORT_SCALES[tokens[i + 1].lower]], i + 2)
        elif token.lower in ("a", "an") and i + 1 < len(tokens) and _one_of_a_unit(tokens, i):
            # "less than a dollar", "over a million", "more than an hour"
            value, j = 1, i + 1
            while j < len(tokens) and tokens[j].lower in SCALES:
                value, j = value * SCALES[tokens[j].lower], j + 1
            parsed = (value, j)
        elif token.lower in UNITS or "-" in token.lower:
            # "one" as a pronoun ("the one with…", "which one") is no number
            if (
                token.lower == "one"
                and i > 0
                and tokens[i - 1].lower
                in ("the", "which", "each", "every", "any", "no", "this", "that")
            ):
                parsed = None
            else:
                parsed = _word_number(tokens, i)
        if parsed is None:
            i += 1
            continue
        value, end = parsed
        if isinstance(value, float) and value.is_integer() and "." not in token.lower:
            value = int(value)
        is_year = (
            token.is_number
            and isinstance(value, int)
            and 1000 <= value <= 2100
            and "," not in token.lower
        )
        numbers.append(Number(value, i, end, is_year=is_year))
        i = end
    return _attach_comparisons(tokens, numbers)


def _attach_comparisons(tokens: list[Token], numbers: list[Number]) -> list[Number]:
    words = [token.lower for token in tokens]
    out: list[Number] = []
    skip: set[int] = set()
    for k, number in enumerate(numbers):
        if k in skip:
            continue
        # between A and B, from A to B, A to B
        ranged = number.start >= 1 and words[number.start - 1] in ("between", "from")
        if (
            (ranged or words[number.end : number.end + 1] == ["to"])
            and k + 1 < len(numbers)
            and numbers[k + 1].start == number.end + 1
            and words[number.end] in ("and", "to")
        ):
            upper = numbers[k + 1]
            out.append(
                Number(
                    number.value,
                    number.start,
                    upper.end,
                    Op.BETWEEN,
                    number.start - 1 if ranged else number.start,
                    upper.value,
                    number.is_year,
                )
            )
            skip.add(k + 1)
            continue
        op, op_start = None, None
        for phrase, phrase_op in COMPARISONS:
            n = len(phrase)
            begin = number.start - n
            # allow one filler word between phrase and number ("more than the 3", "over $ 5")
            for gap in (0, 1):
                if begin - gap >= 0 and tuple(words[begin - gap : number.start - gap]) == phrase:
                    op, op_start = phrase_op, begin - gap
                    break
            if op:
                break
        if op is None:
            # "3 or more", "5 or fewer" follow the number
            after = tuple(words[number.end : number.end + 2])
            for phrase, phrase_op in COMPARISONS:
                if phrase[0] == "or" and after == phrase:
                    op, op_start = phrase_op, number.start
        out.append(
            Number(number.value, number.start, number.end, op, op_start, None, number.is_year)
        )
    return out
