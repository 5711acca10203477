"""Ranking: superlatives and top-k — "the most orders" (a count per group), "the most
common city", "the oldest customer" (a column the adjective implies), "what is the
highest price" (MAX) against "which product has the highest price" (ORDER BY … LIMIT 1),
"in alphabetical order"."""

from __future__ import annotations

from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    Ordering,
    Selection,
)
from servers.parser.language import lexicon as lx
from servers.parser.language.prepared import Prepared
from servers.parser.language.reading import (
    Reading,
    numeric,
    superlative_before,
    wants_descending,
)
from servers.parser.language.roles import (
    Draft,
    Role,
    column_for_words,
)
from servers.parser.language.words import lemma, raw_pieces


def counted_superlative(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "the most orders", "the fewest members": group, order by count(*), limit 1."""
    words = reading.words
    for value in reading.values:
        # "the depot with the most vans": rows holding that value, counted per main row
        sup = superlative_before(words, value.start)
        table = value.hits[0].column.table if value.hits else main
        if sup in lx.COUNTING_SUPERLATIVES and table != main:
            draft.order_by.append(Ordering(None, lx.SUPERLATIVES[sup][0], Aggregate.COUNT))
            draft.limit = draft.limit or 1
            draft.group_entity = draft.group_entity or main
            draft.tables.append(table)
            return
    for role in roles:
        if role.kind not in ("table", "select"):
            continue
        sup = superlative_before(words, role.mention.start) if role.kind == "table" else None
        if sup not in lx.COUNTING_SUPERLATIVES:
            sup = None
        if (
            sup is None
            and role.mention.start >= 2
            and words[role.mention.start - 2 : role.mention.start]
            in (["number", "of"], ["amount", "of"])
        ):
            sup = superlative_before(words, role.mention.start - 2)
        if sup is None:
            continue
        descending = lx.SUPERLATIVES[sup][0]
        if role.kind == "select" and role.column is not None:
            if role.table == main:
                # "served the greatest number of terms": the column itself, highest first
                draft.order_by.append(Ordering(role.column, descending))
                draft.limit = draft.limit or 1
                role.kind = "used"
                return
            # "the largest number of orders": rows of the column's table, counted
        draft.order_by.append(Ordering(None, descending, Aggregate.COUNT))
        draft.limit = draft.limit or 1
        draft.group_entity = draft.group_entity or (main if role.table != main else None)
        if role.table != main:
            draft.tables.append(role.table)
        role.kind = "used"
        return


def most_common(reading: Reading, draft: Draft, roles: list[Role]) -> None:
    """ "the most common city": group by the column, most rows first."""
    words = reading.words
    for i in range(len(words) - 1):
        if words[i] in ("most", "least") and words[i + 1] in lx.FREQUENT_WORDS:
            near = [
                r
                for r in roles
                if r.column and r.kind == "select" and abs(r.mention.start - i) <= 6
            ]
            if not near:
                return
            role = min(near, key=lambda r: abs(r.mention.start - i))
            draft.order_by.append(Ordering(None, words[i] == "most", Aggregate.COUNT))
            draft.group_by.append(role.column)
            draft.limit = draft.limit or 1
            return


def wants_value(reading: Reading, roles: list[Role], role: Role) -> bool:
    """ "what is the highest price" asks for the value (MAX); "which product has the
    highest price" for the row (ORDER BY … LIMIT 1)."""
    others = [r for r in roles if r is not role and r.kind in ("select", "agg", "count", "group")]
    if others:
        return False
    first = reading.words[0] if reading.words else ""
    # a row named before the superlative ("the city with the largest population") is
    # what is asked for; without one the value is
    return first in ("what", "find", "give", "show", "return", "tell") and not any(
        r.kind in ("table", "used") and r.column is None and r.mention.start < role.mention.start
        for r in roles
    )


def _most_at_end(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> bool:
    """ "who is worth the most", "which product was ordered the least": the numeric
    column just named, or else the count of rows per main entity."""
    words = reading.words
    if len(words) < 2 or words[-1] not in ("most", "least") or words[-2] != "the":
        return False
    descending = words[-1] == "most"
    before = [
        r
        for r in roles
        if r.column and r.mention.end <= len(words) - 2 and numeric(prepared, r.column)
    ]
    if before and len(words) - 2 - before[-1].mention.end <= 2:
        role = before[-1]
        role.kind = "used"
        draft.select = [
            (p, sel) for p, sel in draft.select if sel.column != role.column or sel.aggregate
        ]
        draft.order_by.append(Ordering(role.column, descending))
    else:
        draft.order_by.append(Ordering(None, descending, Aggregate.COUNT))
        draft.group_entity = draft.group_entity or main
    draft.limit = draft.limit or 1
    return True


def _first_at_end(reading: Reading, prepared: Prepared, draft: Draft, roles: list[Role]) -> bool:
    """ "which team was founded first", "who joined last": the year or date just named,
    earliest (or latest) first, one row."""
    words = reading.words
    if len(words) < 2 or words[-1] not in ("first", "last", "earliest", "latest"):
        return False
    before = [r for r in roles if r.column and r.mention.end == len(words) - 1]
    if not before or not numeric(prepared, before[-1].column):
        return False
    role = before[-1]
    role.kind = "used"
    # "first" itself is no first name here
    spent = {role.column} | {r.column for r in roles if r.mention.start == len(words) - 1}
    draft.select = [(p, sel) for p, sel in draft.select if sel.column not in spent]
    draft.order_by.append(Ordering(role.column, words[-1] in ("last", "latest")))
    draft.limit = draft.limit or 1
    return True


def implied_superlative(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "the oldest customer" orders by an age column although no column is named."""
    if draft.order_by:
        return
    if _most_at_end(reading, prepared, draft, main, roles) or _first_at_end(
        reading, prepared, draft, roles
    ):
        return
    covered = {i for m in reading.mentions for i in range(m.start, m.end)}
    tables = [main, *[r.table for r in roles]]
    for i, word in enumerate(reading.words):
        found = lx.superlative(word) if i not in covered else None
        if found is None:
            continue
        descending, nouns = found
        column = None
        nxt = reading.words[i + 1] if i + 1 < len(reading.words) else ""
        if (
            nxt
            and i + 1 not in covered
            and (word in ("most", "least", "fewest") or _participle(nxt))
        ):
            # ("the best paid", "the highest rated": the participle names the column)
            # "the most visited" → a numeric column sharing the word's stem; "the fewest
            # residents" → a numeric column near it in meaning
            column = _column_by_stem(prepared, reading.words[i + 1], tables)
            if column is None:
                column = numeric_near(prepared, reading.words[i + 1], tables)
        if column is None and nouns:
            # "born most recently": the column named next to it, when it is of that kind
            near = [
                r.column
                for r in roles
                if r.column
                and numeric(prepared, r.column)
                and (0 <= i - r.mention.end <= 1 or 0 <= r.mention.start - i - 1 <= 1)
                and set(nouns) & set(prepared.index.column_words.get(r.column, ()))
            ]
            column = near[0] if near else column_for_words(prepared, nouns, tables)
        if column is None and word in ("oldest", "youngest", "newest"):
            # no age kept: the birth year or date of the rows asked about, else the year
            # or date they began ("the oldest team" → founded), earliest first for the oldest
            column = _own_column(prepared, main, ("birth", "bear"), temporal_too=True)
            column = column or _own_column(prepared, main, _BEGINNING_WORDS, temporal_too=True)
            if column is not None and not prepared.schema.column(column).kind.temporal:
                descending = not descending  # a year (dates are flipped below)
        if column is None and kinds_of(word):
            # "the longest movie" with runtime_min: a column kept in a unit of that kind
            column = _column_of_kind(prepared, kinds_of(word), tables)
        if column is None and word not in lx.COUNTING_SUPERLATIVES:
            # "the page count of the thickest book": the numeric column asked about
            column = _asked_numeric(prepared, draft, i)
        if column is None and "date" in nouns:
            # "the most recent order": the date column of the rows asked about
            column = next(
                (ref for t in dict.fromkeys(tables) for ref in prepared.temporal if ref.table == t),
                None,
            )
        if column is None:
            continue
        # ages grow as dates recede: the oldest is the earliest date
        kind = prepared.schema.column(column).kind
        if word in ("oldest", "youngest") and kind in (ColumnKind.DATE, ColumnKind.TIMESTAMP):
            descending = not descending
        if _asks_value(reading, draft, column, i):
            # "how tall is the tallest player", "the weight of the lightest player": the
            # value itself, not the row
            aggregate = Aggregate.MAX if descending else Aggregate.MIN
            draft.select = [(p, sel) for p, sel in draft.select if sel.column != column]
            draft.select.append((i, Selection(column, aggregate)))
            return
        draft.order_by.append(Ordering(column, descending))
        draft.limit = draft.limit or 1
        # "the most recently hired": the word that named the column is not an output
        # ("the weight of the lightest …" asks for it)
        draft.select = [
            (p, sel)
            for p, sel in draft.select
            if not (
                sel.column == column
                and not sel.aggregate
                and (
                    0 < p - i <= 3
                    or p < i
                    and all(w in ("most", "least", "the") for w in reading.words[p + 1 : i])
                )
            )
        ]
        return


_BEGINNING_WORDS = ("year", "found", "establish", "build", "open", "start", "release", "date")


def _own_column(
    prepared: Prepared, table: str, words: tuple[str, ...], temporal_too: bool
) -> ColumnRef | None:
    """A numeric (or, with temporal_too, date) column of `table` itself whose name holds
    one of `words`, in the words' order."""
    for word in words:
        for ref, forms in prepared.index.column_words.items():
            if ref.table != table or word not in forms:
                continue
            kind = prepared.schema.column(ref).kind
            if kind.numeric and "id" not in forms or temporal_too and kind.temporal:
                return ref
    return None


def kinds_of(word: str) -> tuple[str, ...]:
    return lx.SUPERLATIVE_KINDS.get(word, ())


def _column_of_kind(
    prepared: Prepared, kinds: tuple[str, ...], tables: list[str]
) -> ColumnRef | None:
    for table in dict.fromkeys(tables):
        info = prepared.schema.table(table)
        for column in info.columns if info else ():
            pieces = raw_pieces(column.name)
            if column.kind.numeric and any(
                lx.UNIT_SIZES.get(p, ("", 0))[0] in kinds for p in pieces
            ):
                return ColumnRef(table, column.name)
    return None


def _measure(prepared: Prepared, ref: ColumnRef) -> bool:
    """A numeric column that measures something: no key, no reference, no id."""
    table = prepared.schema.table(ref.table)
    column = prepared.schema.column(ref)
    return bool(
        table
        and column
        and column.kind.numeric
        and not column.primary_key
        and not any(ref.column in fk.columns for fk in table.foreign_keys)
        and "id" not in prepared.index.column_words.get(ref, ())
    )


def _participle(word: str) -> bool:
    """ "paid", "rated", "visited", "selling": an inflected verb form."""
    from lemminflect import getAllLemmas

    verb = getAllLemmas(word).get("VERB", ())
    return bool(verb) and verb[0] != word and word.endswith(("ed", "ing", "id", "ld", "wn"))


def _asked_numeric(prepared: Prepared, draft: Draft, at: int) -> ColumnRef | None:
    asked = [
        sel.column
        for p, sel in draft.select
        if p < at and sel.column and not sel.aggregated and _measure(prepared, sel.column)
    ]
    return asked[0] if len(asked) == 1 else None


def _asks_value(reading: Reading, draft: Draft, column: ColumnRef, at: int) -> bool:
    """ "how tall is the tallest …" (the adjective asked is the superlative's), or the
    one column selected is the one ranked ("what is the weight of the lightest …")."""
    words = reading.words
    if len(words) > 2 and words[0] == "how" and lemma(words[1]) == lemma(words[at]):
        return all((sel.column, sel.aggregate) == (column, None) for _, sel in draft.select)
    if words[:1] not in (["what"], ["find"], ["give"], ["show"], ["tell"], ["return"], ["when"]):
        return False
    return [(sel.column, sel.aggregate) for p, sel in draft.select] == [(column, None)] and all(
        p < at for p, _ in draft.select
    )


def numeric_near(
    prepared: Prepared, word: str, tables: list[str], threshold: float = 0.35
) -> ColumnRef | None:
    """The numeric column (no key) of `tables` nearest in meaning to `word`."""
    from servers.parser.language.synonyms import similarity

    candidates = [
        ref
        for ref, forms in prepared.index.column_words.items()
        if ref.table in tables and numeric(prepared, ref) and "id" not in forms
    ]
    scored = [
        (similarity(word, " ".join(prepared.index.column_words[ref])), ref) for ref in candidates
    ]
    best = max(scored, key=lambda item: item[0], default=None)
    return best[1] if best and best[0] >= threshold else None


def _column_by_stem(prepared: Prepared, word: str, tables: list[str]) -> ColumnRef | None:
    if len(word) < 6:
        return None
    stem = word[:6]
    for table in dict.fromkeys(tables):
        for ref, forms in prepared.index.column_words.items():
            if (
                ref.table == table
                and numeric(prepared, ref)
                and any(f.startswith(stem) for f in forms)
            ):
                return ref
    return None


def alphabetical(reading: Reading, draft: Draft) -> None:
    if draft.order_by or not any(w in ("alphabetical", "alphabetically") for w in reading.words):
        return
    for _, sel in draft.select:
        if sel.column and not sel.aggregated:
            draft.order_by.append(Ordering(sel.column, wants_descending(reading)))
            return
