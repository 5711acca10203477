"""Conditions: values ("customers in London"), numbers and comparisons ("price above
20", "more than 3 orders" as HAVING), either / both ("aged 30 or 40" → IN, "younger than 30
and older than 60" → INTERSECT), negation ("without orders" → NOT IN), dates ("last month") and
comparisons with an average ("older than average" → a subquery)."""

from __future__ import annotations

from dataclasses import replace

from servers.parser.domain import (
    Aggregate,
    ColumnKind,
    ColumnRef,
    Condition,
    Op,
    QueryPlan,
    Selection,
    TimeWindow,
    Unresolved,
)
from servers.parser.language import lexicon as lx
from servers.parser.language import money
from servers.parser.language.dates import DateWindow
from servers.parser.language.lexicon import UNIT_PIECES, UNIT_SIZES
from servers.parser.language.linking import Mention
from servers.parser.language.measures import measured_comparison
from servers.parser.language.numbers import SHORT_SCALES, Number
from servers.parser.language.prepared import Prepared
from servers.parser.language.reading import (
    Reading,
    best_table,
    count_cue,
    is_negated,
    numeric,
)
from servers.parser.language.roles import (
    Draft,
    Role,
    column_for_words,
    link_reference,
    reference,
    role_after,
    role_before,
    year_column,
)
from servers.parser.language.values import ValueMention
from servers.parser.language.words import lemma, raw_pieces, split_identifier


def value_conditions(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    conditions: list[tuple[ValueMention, Condition]] = []
    for value in reading.values:
        if value.quoted and any(
            w in lx.CONTAINS_WORDS for w in reading.words[max(0, value.start - 4) : value.start]
        ):
            role = role_before(roles, value.start, 6)
            column = role.column if role and role.column else prepared.name_columns.get(main)
            if column is not None:
                # "whose name contains 'x'" consumes the column; "the notes … which has
                # substring 'x'" still selects it (shop example: "the emails which contain 'ex'")
                if role and value.start - role.mention.end <= 3:
                    role.kind = "used"
                negated = is_negated(reading, value.start)
                conditions.append(
                    (
                        value,
                        Condition(
                            column,
                            Op.NOT_LIKE if negated else Op.LIKE,
                            (value.words,),
                            source=value.words,
                        ),
                    )
                )
                continue
        if not value.hits:
            # a quoted string no stored value matches: a part of the column named next to
            # it ("'Lo' in their name") — or, before it, the column it equals
            after = role_after(roles, value.end, 3)
            role = after or role_before(roles, value.start, 4)
            if role and role.column and value.quoted:
                role.kind = "used"
                text_column = not numeric(prepared, role.column)
                op = Op.LIKE if text_column and after is not None else Op.EQ
                if is_negated(reading, value.start):
                    op = Op.NOT_LIKE if op is Op.LIKE else Op.NE
                conditions.append(
                    (value, Condition(role.column, op, (value.words,), source=value.words))
                )
            continue
        hit = _choose_hit(value, roles, main, reading)
        negated = is_negated(reading, value.start)
        op = Op.NE if negated else Op.EQ
        conditions.append((value, Condition(hit.column, op, (hit.value,), source=value.words)))
        reading.scores.append(value.score)
        if value.score < 1:
            reading.notes.append(f'"{value.words}" read as the value {hit.value!r} of {hit.column}')
        else:
            reading.notes.append(f'"{value.words}" found as a value of {hit.column}')
        for role in roles:
            if (
                role.column is not None
                and role.kind in ("select", "count")
                and (
                    role.column == hit.column
                    and (
                        0 <= value.start - role.mention.end <= 3
                        or 0 <= role.mention.start - value.end <= 4
                    )
                    # "airline 'X'": the word just before names the value's column
                    or role.column.column == hit.column.column
                    and 0 <= value.start - role.mention.end <= 1
                )
            ):
                role.kind = "used"
    # two values of one column: "a or b" → either; "both a and b" → both (INTERSECT)
    merged: list[Condition] = []
    for k, (value, condition) in enumerate(conditions):
        prev = merged[-1] if merged else None
        if prev and prev.column == condition.column and prev.op == condition.op == Op.EQ:
            between = reading.words[conditions[k - 1][0].end : value.start]
            if "or" in between or reading.has("either") is not None:
                merged[-1] = Condition(
                    prev.column, Op.IN, prev.values + condition.values, source=prev.source
                )
                continue
            if "and" in between:
                # "both A and B" of a table the question is not about (customers who
                # ordered both X and Y): rows of each kind; "countries in Asia and
                # Europe": either value
                if reading.has("both") is not None or condition.column.table not in _entities(
                    prepared, roles, main
                ):
                    draft.intersect = Condition(
                        condition.column, Op.EQ, condition.values, source=condition.source
                    )
                else:
                    merged[-1] = Condition(
                        prev.column, Op.IN, prev.values + condition.values, source=prev.source
                    )
                continue
        merged.append(condition)
    draft.where.extend(merged)


def _choose_hit(value: ValueMention, roles: list[Role], main: str, reading: Reading):
    named = {
        role.column for role in roles if role.column and abs(role.mention.end - value.start) <= 4
    }
    named |= {
        role.column for role in roles if role.column and 0 <= role.mention.start - value.end <= 2
    }
    tables = {role.table for role in roles}

    def score(hit) -> float:
        return (
            (2 if hit.column in named else 0)
            + (1 if hit.column.table in tables else 0)
            + (0.5 if hit.column.table == main else 0)
        )

    return max(value.hits, key=score)


def number_conditions(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    words = reading.words
    before = len(draft.where)

    def add(column: ColumnRef, number: Number, op: Op) -> None:
        draft.where.append(_number_condition(column, _in_column_units(reading, column, number), op))
        for role in roles:  # "taller than 200 cm": the unit named the column, not an output
            if (
                role.column == column
                and role.kind == "select"
                and 0 <= role.mention.start - number.end <= 1
            ):
                role.kind = "used"

    for number in reading.numbers:
        # "top 5", "first 3", "5 highest"
        prev = words[number.start - 1] if number.start else ""
        nxt = words[number.end] if number.end < len(words) else ""
        # "the 3 countries with the fewest …": a count of rows before a ranking
        ranked_rows = (
            number.op is None
            and any(w in lx.SUPERLATIVES for w in words[number.end :])
            and any(r.kind == "table" and r.mention.start == number.end for r in roles)
        )
        if (
            prev in ("top", "first", "last", "bottom")
            or nxt in lx.SUPERLATIVES
            and number.op is None
            or ranked_rows
        ):
            if isinstance(number.value, int):
                draft.limit = number.value
                continue
        op = number.op or (Op.EQ if number.op is None else number.op)
        anchor = number.op_start if number.op_start is not None else number.start
        # a counted noun after the number: HAVING count(*)
        end = number.end
        if words[end : end + 2] in (
            ["or", "more"],
            ["or", "fewer"],
            ["or", "less"],
            ["or", "above"],
        ):
            end += 2
        counted = _counted_after(reading, roles, end, main)
        if number.op is not None and counted is not None:
            draft.having.append(_count_condition(number, op, counted))
            # "customers with more than 2 orders" groups customers; "cities with more
            # than 2 customers" groups the selected column (see finish)
            if counted != main:
                draft.group_entity = draft.group_entity or main
                draft.tables.append(counted)
            continue
        named = role_before(roles, anchor, 0, numeric_in=prepared)  # "unit price higher than 5"
        after = role_after(roles, number.end, 2)
        if (
            named is None
            and role_before(roles, anchor, 4, numeric_in=prepared) is None
            and not (after is not None and numeric(prepared, after.column))
        ):
            # "weigh more than 75 kg", "10 years of experience": the column whose name
            # carries the unit
            unit = unit_column(reading, prepared, number, [main, *[r.table for r in roles]])
            if unit is not None:
                add(unit, number, op)
                continue
        implied = None if named else _implied_column(reading, prepared, anchor, main, roles)
        if implied is None and not named and money.currency_after(words, number.end):
            # "between 10 and 20 dollars": the money column of the tables in play
            implied = money.money_column(prepared.schema, [main, *[r.table for r in roles]])
        if (
            implied is None
            and number.is_year
            and not any(r.column and anchor <= r.mention.start < number.start for r in roles)
            and role_before(roles, anchor, 2, numeric_in=prepared) is None
        ):
            # "after 2019", "in year 2021": a year column of the tables in play
            implied = year_column(prepared, main, roles, number.start)
            if implied is not None:
                for r in roles:
                    if (
                        r.column == implied
                        and r.kind == "select"
                        and 0 <= number.start - r.mention.end <= 3
                    ):
                        r.kind = "used"
        if implied is not None:
            add(implied, number, op)
            continue
        role = next(
            (
                r
                for r in roles
                if r.column
                and anchor <= r.mention.start < number.start
                and numeric(prepared, r.column)
            ),
            None,
        )
        role = role or role_before(roles, anchor, 4, numeric_in=prepared)
        if role is None or not numeric(prepared, role.column):
            after = role_after(roles, number.end, 2)
            role = after if after is not None and numeric(prepared, after.column) else None
        if role is None:
            implied = _implied_column(reading, prepared, anchor, main, roles)
            if implied is not None:
                add(implied, number, op)
                continue
        if role is None or role.column is None:
            if number.op is None and number.is_year:
                column = year_column(prepared, main, roles, number.start)
                if column:
                    draft.where.append(
                        Condition(column, Op.EQ, (number.value,), source=str(number.value))
                    )
            elif number.op is not None:
                if measured_comparison(
                    reading, prepared, draft, main, roles, number, op, _bounds(number, op)
                ):
                    continue  # "stores with revenue over 200": a measure of each group
                # "employees earning more than 70000": the word before the comparison,
                # by meaning, among the numeric columns in play — never dropped
                column = _numeric_by_meaning(reading, prepared, anchor, main, roles)
                if column is None:
                    phrase = " ".join(words[anchor : number.end])
                    raise Unresolved(
                        f'"{phrase}" compares no column', _numeric_names(prepared, main)
                    )
                reading.notes.append(
                    f'"{" ".join(words[anchor : number.end])}" compared with {column}'
                )
                add(column, number, op)
            continue
        if role.kind == "agg":
            # "whose average price is above 10": a condition on the group
            for aggregate in role.aggregates:
                draft.having.append(
                    Condition(
                        role.column,
                        op,
                        _bounds(number, op),
                        aggregate=aggregate,
                        source=str(number.value),
                    )
                )
            role.kind = "used"
            continue
        role.kind = "used"
        add(role.column, number, op)
    if reading.has("or") is not None or reading.has("either") is not None:
        draft.where[before:] = _either(draft.where[before:])
        pair = draft.where
        if (
            len(pair) == 2
            and pair[0].column == pair[1].column
            and not pair[0].subquery
            and not pair[1].subquery
            and _disjoint(pair[0], pair[1])
        ):
            # "older than 60 or younger than 30": either bound, never both
            draft.where_any = True
    elif draft.intersect is None:
        _both(draft, before)


def _both(draft: Draft, before: int) -> None:
    """ "hired before 2010 and after 2020", "in 2021 and 2022": two conditions on one column no
    row meets together ask for rows of each kind: an INTERSECT."""
    numbered = draft.where[before:]
    for a in range(len(numbered)):
        for b in range(a + 1, len(numbered)):
            x, y = numbered[a], numbered[b]
            if x.column != y.column or x.subquery or y.subquery:
                continue
            if _disjoint(x, y):
                draft.where.remove(y)
                draft.intersect = y
                return


def _disjoint(x: Condition, y: Condition) -> bool:
    if x.op is Op.EQ and y.op is Op.EQ:
        return x.values != y.values
    lower = {Op.GT, Op.GE}
    upper = {Op.LT, Op.LE}
    try:
        if x.op in lower and y.op in upper:
            return not x.values[0] < y.values[0]
        if x.op in upper and y.op in lower:
            return not y.values[0] < x.values[0]
    except TypeError:
        return False
    return False


def _either(conditions: list[Condition]) -> list[Condition]:
    """ "aged 32 or 33": equalities on one column become one IN."""
    out: list[Condition] = []
    for condition in conditions:
        prev = out[-1] if out else None
        if (
            prev
            and condition.op is Op.EQ
            and prev.op in (Op.EQ, Op.IN)
            and prev.column == condition.column
        ):
            out[-1] = Condition(
                prev.column, Op.IN, prev.values + condition.values, source=prev.source
            )
            continue
        out.append(condition)
    return out


def unit_column(
    reading: Reading, prepared: Prepared, number: Number, tables: list[str]
) -> ColumnRef | None:
    """The numeric column of `tables` (main first) whose name carries the unit said with
    the number: "75 kg" → weight_kg, "40 thousand dollars" → price_k, "20 %" → rate_pct."""
    pieces = _said_units(reading, number)
    if not pieces:
        return None
    kinds = {UNIT_SIZES[p][0] for p in pieces if p in UNIT_SIZES}
    found: list[ColumnRef] = []
    for table in dict.fromkeys(tables):
        info = prepared.schema.table(table)
        for column in info.columns if info else ():
            if not column.kind.numeric or column.primary_key:
                continue
            own = raw_pieces(column.name)
            # the unit itself, or another of its kind ("2 hours" → runtime_min)
            if pieces & own or kinds & {UNIT_SIZES[p][0] for p in own if p in UNIT_SIZES}:
                found.append(ColumnRef(table, column.name))
        if found:
            break
    if len(found) > 1:
        from servers.parser.language.synonyms import similarity

        context = " ".join(
            reading.words[max(0, (number.op_start or number.start) - 3) : number.start]
        )
        found.sort(key=lambda ref: -similarity(context, " ".join(split_identifier(ref.column))))
    return found[0] if found else None


def _said_units(reading: Reading, number: Number) -> set[str]:
    said = [w for w in reading.words[number.start : number.end] if w in UNIT_PIECES]
    said += [w for w in reading.words[number.end : number.end + 3] if w not in ("of", "a")][:2]
    return {p for w in said for p in UNIT_PIECES.get(lemma(w), UNIT_PIECES.get(w, ()))}


def _converted(reading: Reading, column: ColumnRef, number: Number) -> Number:
    """ "longer than 2 hours" against runtime_min is 120: a unit said with the number
    and another of its kind in the column's name."""
    said = [UNIT_SIZES[p] for p in _said_units(reading, number) if p in UNIT_SIZES]
    own = [UNIT_SIZES[p] for p in raw_pieces(column.column) if p in UNIT_SIZES]
    if not said or not own or said[0][0] != own[0][0] or said[0][1] == own[0][1]:
        return number
    factor = said[0][1] / own[0][1]

    def scale(value: float | None) -> float | None:
        if value is None:
            return None
        out = round(value * factor, 6)
        return int(out) if float(out).is_integer() else out

    return replace(number, value=scale(number.value), upper=scale(number.upper))


def _in_column_units(reading: Reading, column: ColumnRef, number: Number) -> Number:
    """ "40 thousand" compared with a column kept in thousands (price_k) is 40."""
    number = _converted(reading, column, number)
    pieces = raw_pieces(column.column)
    said = {SHORT_SCALES.get(w, w) for w in reading.words[number.start + 1 : number.end]}
    for word, divisor in (("thousand", 1000), ("million", 1_000_000), ("billion", 1_000_000_000)):
        if word in said and pieces & set(UNIT_PIECES[word]):
            upper = number.upper / divisor if number.upper is not None else None
            value = number.value / divisor
            return replace(
                number,
                value=int(value) if float(value).is_integer() else value,
                upper=int(upper) if upper is not None and float(upper).is_integer() else upper,
            )
    return number


def _bounds(number: Number, op: Op) -> tuple:
    return (number.value, number.upper) if op is Op.BETWEEN else (number.value,)


def _number_condition(column: ColumnRef, number: Number, op: Op) -> Condition:
    if op is Op.BETWEEN:
        return Condition(column, Op.BETWEEN, (number.value, number.upper), source="between")
    return Condition(column, op, (number.value,), source=str(number.value))


def _count_condition(number: Number, op: Op, table: str) -> Condition:
    values = (number.value, number.upper) if op is Op.BETWEEN else (number.value,)
    return Condition(ColumnRef(table, "*"), op, values, aggregate=Aggregate.COUNT)


def flag_conditions(reading: Reading, prepared: Prepared, draft: Draft, roles: list[Role]) -> None:
    """A yes/no column named beside what is asked ("official languages", "channels that
    have high definition") is a condition on its yes value — its no value when negated."""
    for k, role in enumerate(roles):
        if role.kind not in ("select", "count") or role.column not in prepared.flags:
            continue
        if role.kind == "count":
            # "how many official languages": the count passes to the noun it describes
            nxt = roles[k + 1] if k + 1 < len(roles) else None
            if nxt is None or nxt.mention.start != role.mention.end:
                continue
            nxt.kind = "count" if nxt.column is not None else nxt.kind
        others = [
            r for r in roles if r is not role and r.kind in ("select", "table", "agg", "count")
        ]
        if not others:
            continue  # "is it official?" asks for the flag itself
        yes, no = prepared.flags[role.column]
        value = no if is_negated(reading, role.mention.start) else yes
        role.kind = "used"
        draft.where.append(Condition(role.column, Op.EQ, (value,), source=role.mention.words))


_COMPARING = frozenset(
    "above over below under more less greater higher lower than of between exceeding average"
    " mean equal at".split()
)
_HAVING_VERBS = frozenset(
    "have has had with earn earns earned get gets got pay pays paid receive receives received"
    " charge charged carry carries carried".split()
)


def presence_conditions(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "loans that had a fine", "employees with no commission": a measure of the rows
    asked about, said after "a" or "no", is a condition on it being above zero or zero."""
    words = reading.words
    for role in roles:
        start = role.mention.start
        if role.kind != "select" or role.column is None or role.table != main or start < 2:
            continue
        column = prepared.schema.column(role.column)
        if column is None or not column.kind.numeric or column.primary_key:
            continue
        article, verb = words[start - 1], words[start - 2]
        if article not in ("a", "an", "any", "no") or verb not in _HAVING_VERBS | {"without"}:
            continue
        end = role.mention.end
        if any(n.start < end + 4 and n.end > end for n in reading.numbers) or any(
            w in _COMPARING for w in words[end : end + 3]
        ):
            continue  # "a salary above the average", "a fine of 5": compared, not present
        if not any(r is not role and r.kind in ("table", "select", "count") for r in roles) and (
            count_cue(reading) is None
        ):
            continue  # "what is a fine?" asks for the column itself
        negated = article == "no" or verb == "without" or is_negated(reading, start - 1)
        role.kind = "used"
        draft.where.append(
            Condition(role.column, Op.EQ if negated else Op.GT, (0,), source=role.mention.words)
        )


def _numeric_by_meaning(
    reading: Reading, prepared: Prepared, anchor: int, main: str, roles: list[Role]
) -> ColumnRef | None:
    from servers.parser.language.synonyms import similarity

    tables = {main, *(r.table for r in roles)}
    columns = [
        ColumnRef(t.name, c.name)
        for t in prepared.schema.tables
        if t.name in tables
        for c in t.columns
        if c.kind.numeric
        and not c.primary_key
        and not any(c.name in fk.columns for fk in t.foreign_keys)
    ]
    words = [
        w
        for w in reading.words[max(0, anchor - 2) : anchor]
        if w not in ("a", "an", "the", "with", "is", "are", "of")
    ]
    if not columns or not words:
        return None
    scored = [
        (similarity(" ".join(words), " ".join(prepared.index.column_words[ref])), ref)
        for ref in columns
    ]
    best, ref = max(scored, key=lambda item: item[0])
    return ref if best >= 0.25 else None


def _numeric_names(prepared: Prepared, main: str) -> list[str]:
    table = prepared.schema.table(main)
    return [f"{main}.{c.name}" for c in table.columns if c.kind.numeric][:5] if table else []


def _entities(prepared: Prepared, roles: list[Role], main: str) -> set[str]:
    """The tables whose rows the question lists: those of the selected columns, a
    foreign-key column standing for the table it refers to."""
    found: set[str] = set()
    for role in roles:
        if role.kind != "select" or role.column is None:
            continue
        table = prepared.schema.table(role.column.table)
        fk = (
            next((f for f in table.foreign_keys if role.column.column in f.columns), None)
            if table
            else None
        )
        found.add(fk.referenced_table if fk else role.column.table)
    return found or {main}


def _counted_after(reading: Reading, roles: list[Role], end: int, main: str) -> str | None:
    words = reading.words
    if end < len(words) and words[end] in ("time", "times"):
        return main
    for role in roles:
        # "more than 2 orders", or a column of another table named in the plural
        # ("more than 2 languages" where languages live in a table of their own)
        counted = role.kind == "table" or (
            role.column is not None
            and role.table != main
            and role.kind == "select"
            and reading.tokens[role.mention.end - 1].lower
            != reading.tokens[role.mention.end - 1].lemma
        )
        if counted and end <= role.mention.start <= end + 2:
            between = words[end : role.mention.start]
            if any(w in ("and", "or", "a", "an", "the", "than") for w in between):
                continue
            if role.column is not None:
                role.kind = "used"
            return role.table
    return None


def _implied_column(
    reading: Reading, prepared: Prepared, anchor: int, main: str, roles: list[Role]
) -> ColumnRef | None:
    """ "older than 30" → an age column of the tables in play."""
    for word in reading.words[max(0, anchor - 1) : anchor + 2]:
        nouns = lx.COMPARATIVE_NOUNS.get(word)
        if nouns:
            return column_for_words(prepared, nouns, [main, *[r.table for r in roles]])
    return None


def negations(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "customers without orders", "that never placed an order", "with no order": the
    main table's key NOT IN the keys the other table refers to."""
    words = reading.words
    for i, word in enumerate(words):
        if word not in lx.EXCLUDING_WORDS:
            continue
        # what is excluded: a table named after the negation, a column of one ("not
        # any orders shipped by …"), or a value stored in one ("have no orders pending")
        excluded: list[tuple[str, Mention | None]] = []
        for mention in reading.mentions:
            if i < mention.start <= i + 5:
                role = next((r for r in roles if r.mention is mention), None)
                table = best_table(mention) if mention.tables else (role.table if role else None)
                if table:
                    excluded.append((table, mention))
        for value in reading.values:
            if i < value.start <= i + 4 and value.hits:
                excluded.append((value.hits[0].column.table, None))
        for other, mention in excluded:
            if other == main:
                continue
            link_cols = reference(prepared, other, main)
            holder = other
            if link_cols is None:
                # through a link table: products never in an order (order_items holds both keys)
                holder, link_cols = link_reference(prepared, other, main)
            if link_cols is None:
                continue
            fk_column, key_column = link_cols
            # conditions on the excluded rows go into the subquery: "no order in 2024"
            inner = tuple(
                c for c in draft.where if c.column is not None and c.column.table in (other, holder)
            )
            draft.where = [c for c in draft.where if c not in inner]
            # the negation is spent on NOT IN: the excluded rows' own conditions are positive
            flip = {Op.NE: Op.EQ, Op.NOT_LIKE: Op.LIKE}
            inner = tuple(_positive(replace(c, op=flip.get(c.op, c.op)), prepared) for c in inner)
            sub = QueryPlan(
                select=(Selection(ColumnRef(holder, fk_column)),), where=inner, tables=(holder,)
            )
            draft.where.append(
                Condition(
                    ColumnRef(main, key_column),
                    Op.NOT_IN,
                    subquery=sub,
                    source=f"{word} {mention.words if mention else other}",
                )
            )
            for role in roles:
                if mention is not None and role.mention is mention:
                    role.kind = "used"
            return


def date_window(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    if not reading.dates:
        return
    window = reading.dates[0]
    for hit in reading.terms:
        metric = hit.term.metric
        if metric is not None and metric.time_column and "." in metric.time_column:
            table, column = metric.time_column.split(".", 1)
            draft.time_window = TimeWindow(
                ColumnRef(table, column), window.start, window.end, window.words
            )
            return
    # "hired since March": the temporal column named next to the window
    for role in roles:
        if role.column and role.kind == "select" and 0 <= window.first - role.mention.end <= 2:
            column = prepared.schema.column(role.column)
            if column is not None and column.kind.temporal:
                role.kind = "used"
                draft.time_window = TimeWindow(role.column, window.start, window.end, window.words)
                return
            if column is not None and column.kind is ColumnKind.INTEGER and _whole_years(window):
                # "born before 1910", "founded after 2002": a year kept as a number
                role.kind = "used"
                _year_bounds(draft, role.column, window)
                return
    # the table named nearest before the window ("customers who placed an order in
    # May" → the order's date), then the main table, then the others
    before = sorted(
        (m for m in reading.mentions if m.end <= window.first), key=lambda m: window.first - m.end
    )
    chosen = {id(role.mention): role.table for role in roles if role.table}

    def table_of(mention: Mention) -> str:
        # the table the mention was read as ("region" of sales, when sales is named),
        # not the first table that happens to have such a column
        return chosen.get(id(mention), mention.candidates[0].table)

    tables = [
        *[table_of(m) for m in before[:1]],
        main,
        *[table_of(m) for m in reading.mentions],
    ]
    column = None
    for table in dict.fromkeys(tables):
        column = next((ref for ref in prepared.temporal if ref.table == table), None)
        if column:
            break
    if column is None:
        _year_window(reading, prepared, draft, main, roles, window)
        return
    draft.time_window = TimeWindow(column, window.start, window.end, window.words)


def _year_window(
    reading: Reading,
    prepared: Prepared,
    draft: Draft,
    main: str,
    roles: list[Role],
    window: DateWindow,
) -> None:
    """No date column in play: whole years ("in 2024", "since 2020") compare with a
    year column; anything else cannot be placed and is refused, never dropped."""
    column = year_column(prepared, main, roles, window.first) if _whole_years(window) else None
    if column is None:
        # dates kept as text ('2025-05-01') compare as text
        text_date = column_for_words(
            prepared, ("date", "day", "time"), [main, *[r.table for r in roles]], numeric_only=False
        )
        if text_date is not None and not numeric(prepared, text_date):
            if window.start is not None:
                draft.where.append(
                    Condition(
                        text_date, Op.GE, (window.start.date().isoformat(),), source=window.words
                    )
                )
            if window.end is not None:
                draft.where.append(
                    Condition(
                        text_date, Op.LT, (window.end.date().isoformat(),), source=window.words
                    )
                )
            return
        raise Unresolved(
            f'"{window.words}" names a time but no date column is in play',
            [str(r) for r in prepared.temporal[:5]],
        )
    for role in roles:  # "born in 1990" where born names the year column: compared only
        if (
            role.column == column
            and role.kind == "select"
            and 0 <= window.first - role.mention.end <= 2
        ):
            role.kind = "used"
    _year_bounds(draft, column, window)


def _whole_years(window: DateWindow) -> bool:
    return all(
        edge is None or (edge.month, edge.day, edge.hour) == (1, 1, 0)
        for edge in (window.start, window.end)
    )


def _year_bounds(draft: Draft, column: ColumnRef, window: DateWindow) -> None:
    if window.start is not None:
        draft.where.append(Condition(column, Op.GE, (window.start.year,), source=window.words))
    if window.end is not None:
        draft.where.append(Condition(column, Op.LT, (window.end.year,), source=window.words))


def versus_average(
    reading: Reading, prepared: Prepared, draft: Draft, main: str, roles: list[Role]
) -> None:
    """ "above the average age", "older than average": compared with a subquery."""
    words = reading.words
    for i, word in enumerate(words):
        if word not in ("average", "mean"):
            continue
        lead = words[max(0, i - 3) : i]
        op = None
        for k in range(len(lead)):
            phrase = tuple(w for w in lead[k:] if w != "the")
            op = _comparison(phrase)
            if op:
                break
        if op is None:
            continue
        after = role_after(roles, i + 1, 1)
        column = after.column if after and numeric(prepared, after.column) else None
        if column is None:
            # "heavier than the average": the comparative opens the lead
            column = _implied_column(reading, prepared, i - len(lead) + 1, main, roles)
        if column is None:
            before = role_before(roles, i - len(lead), 4, numeric_in=prepared)
            column = before.column if before else None
        if column is None:
            continue
        if after is not None:
            after.kind = "used"
        for role in roles:  # "earn a salary above the average salary": compared, not selected
            if role.column == column and role.kind == "select" and 0 <= i - role.mention.end <= 5:
                role.kind = "used"
                draft.select = [
                    (p, sel) for p, sel in draft.select if sel.column != column or sel.aggregate
                ]
        for role in roles:  # the aggregate read from "average" is a comparison now
            if role.column == column and role.kind == "agg":
                role.kind = "used"
        draft.select = [
            (p, sel) for p, sel in draft.select if not (sel.column == column and sel.aggregate)
        ]
        sub = QueryPlan(select=(Selection(column, Aggregate.AVG),))
        draft.where.append(
            Condition(column, op, subquery=sub, source=" ".join(words[i - len(lead) : i + 2]))
        )
        return


def _comparison(phrase: tuple[str, ...]) -> Op | None:
    from servers.parser.language.numbers import COMPARISONS

    for words, op in COMPARISONS:
        if phrase == words:
            return op
    for word, op in (
        ("older", Op.GT),
        ("younger", Op.LT),
        ("larger", Op.GT),
        ("smaller", Op.LT),
        ("higher", Op.GT),
        ("lower", Op.LT),
        ("bigger", Op.GT),
        ("longer", Op.GT),
        ("shorter", Op.LT),
    ):
        if phrase[:1] == (word,):
            return op
    return None


def _positive(condition: Condition, prepared: Prepared) -> Condition:
    """A yes/no column's no value read from a negation that NOT IN has spent goes back
    to yes: "countries where English is not the official language"."""
    if condition.column in prepared.flags and condition.op is Op.EQ:
        yes, no = prepared.flags[condition.column]
        if condition.values == (no,):
            return replace(condition, values=(yes,))
    return condition
