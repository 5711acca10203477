"""Generic English cue words and phrases, in one place. Nothing here names a table,
column or value of any particular database."""

from __future__ import annotations

from servers.parser.domain import Aggregate

# Words too generic to link a table or column by one word of a longer name.
GENERIC_NAME_WORDS = frozenset(
    "id name number date type code count value time year status detail info information of".split()
)

# Cue words that are never a mention of the schema by themselves.
NOT_SCHEMA_WORDS = frozenset(
    """number count average mean total sum maximum minimum max min many much sort
    sorted ascending descending alphabetical alphabetically distinct different unique
    most least highest lowest largest smallest big small large high low greatest fewest more
    less fewer greater top bottom first last all each every per what which who show list give
    find tell return how name record information detail result times time also there""".split()
) - {"name", "time", "first", "last", "result"}

COUNT_PHRASES = (
    ("how", "many"),
    ("number", "of"),
    ("count", "of"),
    ("count", "the"),
    ("count",),
    ("total", "number", "of"),
)

AGGREGATE_WORDS: dict[str, Aggregate] = {
    "average": Aggregate.AVG,
    "mean": Aggregate.AVG,
    "avg": Aggregate.AVG,
    "total": Aggregate.SUM,
    "sum": Aggregate.SUM,
    "combined": Aggregate.SUM,
    "overall": Aggregate.SUM,
    "maximum": Aggregate.MAX,
    "max": Aggregate.MAX,
    "minimum": Aggregate.MIN,
    "min": Aggregate.MIN,
}

# Superlatives: the word → (descending?, a column word it implies when no column is named)
SUPERLATIVES: dict[str, tuple[bool, tuple[str, ...]]] = {
    "most": (True, ()),
    "highest": (True, ()),
    "largest": (True, ("size", "area", "capacity", "population")),
    "biggest": (True, ("size", "area", "capacity")),
    "greatest": (True, ()),
    "maximum": (True, ()),
    "least": (False, ()),
    "fewest": (False, ()),
    "lowest": (False, ()),
    "smallest": (False, ("size", "area", "capacity", "population")),
    "minimum": (False, ()),
    "oldest": (True, ("age",)),
    "youngest": (False, ("age",)),
    "longest": (True, ("length", "duration", "long")),
    "shortest": (False, ("length", "duration", "height")),
    "tallest": (True, ("height",)),
    "heaviest": (True, ("weight",)),
    "lightest": (False, ("weight",)),
    "richest": (True, ("money", "wealth", "worth")),
    "poorest": (False, ("money", "wealth")),
    "cheapest": (False, ("price", "cost")),
    "expensive": (True, ("price", "cost")),
    "latest": (True, ("date", "year", "time")),
    "newest": (True, ("date", "year")),
    "recent": (True, ("date", "year", "time")),
    "recently": (True, ("date", "year", "time")),
    "earliest": (False, ("date", "year", "time")),
    "best": (True, ("rank", "score", "rating")),
    "worst": (False, ("score", "rating")),
    "top": (True, ()),
    "bottom": (False, ()),
    "fastest": (True, ("speed",)),
    "slowest": (False, ("speed",)),
    "farthest": (True, ("distance",)),
    "furthest": (True, ("distance",)),
    "closest": (False, ("distance",)),
}
# Adjectives whose superlative ranks from the low end ("the thinnest", "the nearest").
LOW_ADJECTIVES = frozenset(
    """thin light short small low few cheap young slow near close weak narrow shallow poor
    early soon quiet""".split()
)


def superlative(word: str) -> tuple[bool, tuple[str, ...]] | None:
    """A superlative: a known one with the column words it implies, or any other "-est"
    adjective ("thickest", "widest") with none — its column is the one asked about."""
    if word in SUPERLATIVES:
        return SUPERLATIVES[word]
    if len(word) < 6 or not word.endswith("est"):
        return None
    from lemminflect import getAllLemmas

    base = getAllLemmas(word).get("ADJ", ("",))[0]
    if not base or base == word:
        return None
    return (base not in LOW_ADJECTIVES, ())


# Comparatives met without a column: the column word they imply.
COMPARATIVE_NOUNS: dict[str, tuple[str, ...]] = {
    "older": ("age",),
    "younger": ("age",),
    "taller": ("height",),
    "shorter": ("height", "length"),
    "heavier": ("weight",),
    "lighter": ("weight",),
    "longer": ("length", "duration"),
    "cheaper": ("price", "cost"),
    "costlier": ("price", "cost"),
    "later": ("year", "date"),
    "earlier": ("year", "date"),
    "bigger": ("size", "area", "capacity"),
    "larger": ("size", "area", "capacity", "population"),
    "smaller": ("size", "area", "capacity", "population"),
    "faster": ("speed",),
    "slower": ("speed",),
}

DISTINCT_WORDS = frozenset({"distinct", "different", "unique"})
NEGATION_WORDS = frozenset(
    {"not", "no", "never", "without", "n't", "except", "excluding", "neither", "nor"}
)
ORDER_WORDS = frozenset(
    {"order", "ordered", "sort", "sorted", "ranked", "arranged", "ordering", "sorting"}
)
ORDER_FILLERS = frozenset(
    {
        "by",
        "of",
        "in",
        "the",
        "descending",
        "ascending",
        "decreasing",
        "increasing",
        "alphabetical",
        "alphabetically",
        "order",
        "their",
        "its",
        "from",
        "according",
        "to",
        "on",
    }
)
DESCENDING_WORDS = frozenset({"descending", "decreasing", "desc", "reverse", "descend"})
ASCENDING_WORDS = frozenset(
    {"ascending", "increasing", "asc", "alphabetical", "alphabetically", "lexicographic"}
)

# Words that drive the skeleton; never linked by meaning, never reported as unknown.
CUE_WORDS = frozenset(
    """how many much number count average mean total sum maximum minimum max min most least
    order ordered sort sorted ascending descending alphabetical alphabetically distinct different unique
    each per every top bottom first last all both either neither than more less fewer greater
    list show give find tell return display name names what which who where when whose
    also there their them those these equal between above below under over after before since
    without never not none no any some only same other another respectively along together
    and or including include includes included corresponding associated related
    have has had having do does did doing is are was were be been being get got
    value values result results information info detail details record records entry entries""".split()
)

# Superlatives that count rows when a table follows: "the most orders".
COUNTING_SUPERLATIVES = frozenset({"most", "least", "fewest"})

# Words that ask for a substring: "whose name contains 'ing'".
CONTAINS_WORDS = frozenset(
    {
        "contain",
        "contains",
        "containing",
        "include",
        "includes",
        "including",
        "like",
        "substring",
        "word",
        "letter",
        "letters",
        "string",
    }
)

# "the most common city": a count per value of the column.
FREQUENT_WORDS = frozenset(
    {"common", "commonly", "frequent", "popular", "frequently", "often", "usual"}
)

# Words that exclude the rows named after them: "customers without orders".
EXCLUDING_WORDS = frozenset({"without", "never", "no", "not", "n't", "none", "except", "excluding"})

# Words naming where a row is: "where is …" asks for such a column.
PLACE_WORDS = (
    "location",
    "hometown",
    "city",
    "place",
    "address",
    "country",
    "region",
    "venue",
    "town",
)

# A verb's lemma and the noun a column is named with: "born" meets birth_year, "died"
# death_date. Both ways, so "birth" meets a column named born_yr.
VERB_NOUNS: dict[str, tuple[str, ...]] = {
    "bear": ("birth",),
    "birth": ("bear",),
    "die": ("death",),
    "death": ("die",),
    "marry": ("marriage",),
    "found": ("foundation", "founding"),
    "establish": ("establishment",),
    "join": ("joining",),
    "hire": ("hiring",),
    "release": ("release",),
    "publish": ("publication",),
    "publication": ("publish",),
    "weigh": ("weight",),
}

# A unit said with a number → the pieces a column name carries it as ("75 kilograms" →
# weight_kg, "40 thousand" → price_k). Keys are lemmas and the short forms people type.
_UNITS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("kilogram", "kilo", "kg", "kgs"), ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms")),
    (("gram", "grams"), ("g", "gr", "gram", "grams")),
    (("pound", "lb", "lbs"), ("lb", "lbs", "pound", "pounds")),
    (("tonne", "ton"), ("t", "ton", "tons", "tonne", "tonnes")),
    (("centimetre", "centimeter", "cm"), ("cm", "centimeter", "centimetre", "centimeters")),
    (("millimetre", "millimeter", "mm"), ("mm",)),
    (("metre", "meter"), ("m", "meter", "metre", "meters", "metres")),
    (("kilometre", "kilometer", "km"), ("km", "kms", "kilometer", "kilometre", "kilometers")),
    (("mile", "miles"), ("mi", "mile", "miles")),
    (("foot", "feet", "ft"), ("ft", "feet", "foot")),
    (("inch", "inches"), ("inch", "inches")),
    (("dollar", "usd", "$", "buck"), ("usd", "dollar", "dollars")),
    (("euro", "eur"), ("eur", "euro", "euros")),
    (("thousand", "k"), ("k", "thousand", "thousands", "000s")),
    (("million", "mn"), ("m", "mn", "mil", "mio", "million", "millions")),
    (("billion", "bn"), ("b", "bn", "billion", "billions")),
    (("percent", "%", "percentage"), ("pct", "percent", "percentage", "perc")),
    (("year", "yr"), ("yr", "yrs", "year", "years")),
    (("month",), ("mo", "mos", "month", "months")),
    (("day",), ("day", "days")),
    (("hour", "hr"), ("hr", "hrs", "hour", "hours")),
    (("minute",), ("min", "mins", "minute", "minutes")),
    (("second",), ("sec", "secs", "second", "seconds")),
    (("litre", "liter"), ("l", "ltr", "liter", "litre", "liters", "litres")),
)
UNIT_PIECES: dict[str, tuple[str, ...]] = {
    word: pieces for words, pieces in _UNITS for word in words
}

# Units of one kind convert: a column's unit piece → (kind, size in the kind's base unit),
# so "2 hours" compares with runtime_min as 120.
_SIZES = (
    ("time", 1, ("sec", "secs", "second", "seconds")),
    ("time", 60, ("min", "mins", "minute", "minutes")),
    ("time", 3600, ("hr", "hrs", "hour", "hours")),
    ("time", 86400, ("day", "days")),
    ("length", 0.001, ("mm",)),
    ("length", 0.01, ("cm", "centimeter", "centimetre", "centimeters")),
    ("length", 1, ("meter", "metre", "meters", "metres")),
    ("length", 1000, ("km", "kms", "kilometer", "kilometre", "kilometers")),
    ("length", 0.3048, ("ft", "feet", "foot")),
    ("length", 0.0254, ("inch", "inches")),
    ("length", 1609.344, ("mi", "mile", "miles")),
    ("mass", 0.001, ("g", "gr", "gram", "grams")),
    ("mass", 1, ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms")),
    ("mass", 0.45359237, ("lb", "lbs", "pound", "pounds")),
    ("mass", 1000, ("ton", "tons", "tonne", "tonnes")),
)
UNIT_SIZES: dict[str, tuple[str, float]] = {
    piece: (kind, size) for kind, size, pieces in _SIZES for piece in pieces
}

# Superlatives whose column may be named only by its unit: "the longest movie" and a
# runtime kept in minutes, "the heaviest truck" and a load in kilograms.
SUPERLATIVE_KINDS: dict[str, tuple[str, ...]] = {
    "longest": ("length", "time"),
    "shortest": ("length", "time"),
    "tallest": ("length",),
    "farthest": ("length",),
    "furthest": ("length",),
    "closest": ("length",),
    "heaviest": ("mass",),
    "lightest": ("mass",),
}
