"""The ChatDB demo database: one deterministic data set, loaded into three back ends.

``generate(spec)`` builds every row in plain Python from ``random.Random(spec.seed)``;
it is the single source of truth, so PostgreSQL, MySQL/MariaDB and MongoDB hold exactly
the same data and the same seed always yields the same rows.  Money is computed in
integer cents and only turned into ``Decimal`` at the end, so totals are exact
(``orders.total`` is the sum of ``quantity * unit_price`` over the order's items).

Dates span the 36 calendar months ending with ``spec.today`` (default: the current
date), and every one of those months has orders and sales, so questions such as
"sales last month" always find rows.

Loaders (all async, no gRPC):

* ``load_postgres(admin_dsn, spec)``  - asyncpg, binary COPY (``copy_records_to_table``)
* ``load_mysql(host, port, user, password, spec)`` - aiomysql, multi-row INSERT batches
* ``load_mongo(db, spec)`` - motor (or mongomock-motor); one collection per table

Each (re)creates its database / collections and returns the row count per table as
read back from the server.  The SQL loaders leave a marker on the database they load
(``COMMENT ON DATABASE`` in PostgreSQL, the database ``COMMENT`` in MariaDB; MySQL has
no database comments and always reloads): the content checksum of the data set and its
schema.  A later load that finds the same checksum and the expected row counts leaves
the database alone instead of dropping it, so running ``make up`` again neither kills
other clients' sessions nor waits on their locks; ``force=True`` reloads regardless.  SQL is static text; the only identifier that is spliced in
is the database name, which is validated against ``^[A-Za-z_][A-Za-z0-9_]{0,62}$`` and
quoted.  All values travel through COPY or driver parameters.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import re
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate
from random import Random
from typing import Any, NamedTuple

__all__ = [
    "TABLES",
    "Counts",
    "checksum",
    "DemoData",
    "DemoSpec",
    "Table",
    "generate",
    "load_mongo",
    "load_mongo_url",
    "load_mysql",
    "load_postgres",
    "validate_identifier",
]

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Spec and result types
# ---------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def validate_identifier(name: object) -> str:
    """Return ``name`` if it is a safe SQL identifier, else raise ``ValueError``."""
    if not isinstance(name, str) or _IDENTIFIER.fullmatch(name) is None:
        raise ValueError(
            f"invalid database name {name!r}: must match ^[A-Za-z_][A-Za-z0-9_]{{0,62}}$"
        )
    return name


@dataclass(frozen=True)
class DemoSpec:
    seed: int = 42
    today: date | None = None  # None -> date.today() at generation time
    scale: float = 1.0  # multiplies every row count (1.0 -> ~53,000 rows)
    database: str = "chatdb_demo"

    def __post_init__(self) -> None:
        validate_identifier(self.database)
        if not (
            isinstance(self.scale, int | float) and math.isfinite(self.scale) and self.scale > 0
        ):
            raise ValueError(f"scale must be a positive finite number, got {self.scale!r}")
        if self.today is not None and (
            not isinstance(self.today, date) or isinstance(self.today, datetime)
        ):
            raise ValueError(f"today must be a datetime.date, got {self.today!r}")


class Table(NamedTuple):
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


DemoData = dict[str, Table]  # table name -> (columns, rows), in foreign-key load order


class Counts(dict[str, int]):
    """Row count per table as read back from the server; ``reloaded`` is False when the
    database already held this exact data set and was left as it was."""

    reloaded: bool = True

# Load order respects the foreign keys (employees only references itself).
TABLES: tuple[str, ...] = (
    "customers",
    "products",
    "orders",
    "order_items",
    "sales",
    "employees",
)

# fmt: off
COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id", "name", "email", "city", "state", "country", "signup_date", "segment",
    ),
    "products": ("product_id", "name", "category", "price"),
    "orders": ("order_id", "customer_id", "order_date", "status", "total"),
    "order_items": ("order_id", "product_id", "quantity", "unit_price"),
    "sales": ("sale_id", "region", "sale_date", "product_id", "amount", "quantity"),
    "employees": (
        "employee_id", "first_name", "last_name", "email", "department", "title", "region",
        "hire_date", "salary", "manager_id",
    ),
}

# Row counts at scale 1.0, and floors so that tiny scales still make sense
# (36 orders/sales = one per month; employees need a CEO plus a head and one person
# per department).
_BASE_COUNTS = {"customers": 2000, "products": 200, "orders": 12000, "sales": 8000,
                "employees": 300}
_MIN_COUNTS = {"customers": 20, "products": 20, "orders": 36, "sales": 36, "employees": 19}

# fmt: on

# ---------------------------------------------------------------------------------------
# Data pools
# ---------------------------------------------------------------------------------------

# fmt: off
FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Christopher", "Karen", "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty",
    "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly",
    "Andrew", "Emily", "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin",
    "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald",
    "Rebecca", "Jason", "Laura", "Edward", "Sharon", "Jeffrey", "Cynthia", "Ryan", "Kathleen",
    "Jacob", "Amy", "Gary", "Angela", "Nicholas", "Shirley", "Eric", "Anna", "Jonathan",
    "Brenda", "Stephen", "Pamela", "Larry", "Emma", "Justin", "Nicole", "Scott", "Helen",
    "Brandon", "Samantha", "Benjamin", "Katherine", "Samuel", "Christine", "Gregory",
    "Rachel", "Patrick", "Olivia", "Alexander", "Sophia", "Tyler", "Isabella", "Aaron", "Mia",
    "José", "Camila", "Nathan", "Priya", "Henry", "Aisha", "Zachary", "Mei", "Carlos",
    "Fatima", "Luis", "Ana", "Wei", "Grace", "Omar", "Chloé", "Raj", "Hannah", "Diego",
    "Lucía", "Kwame", "Yuki", "Ahmed", "Zoe",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
    "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward",
    "Richardson", "Watson", "Brooks", "Chavez", "Wood", "Bennett", "Gray", "Mendoza", "Ruiz",
    "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross",
    "Foster", "Chen", "Wang", "Shah", "Singh", "O'Brien", "O'Connor", "Müller", "Kowalski",
    "Okafor", "Tanaka", "Haddad", "Johansson",
)

EMAIL_DOMAINS = (
    "gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com",
    "icloud.com", "aol.com", "proton.me", "comcast.net",
)

# (city, state / province, country, relative weight ~ population)
CITIES = (
    ("New York", "New York", "United States", 20),
    ("Los Angeles", "California", "United States", 10),
    ("Chicago", "Illinois", "United States", 8),
    ("Houston", "Texas", "United States", 7),
    ("Phoenix", "Arizona", "United States", 5),
    ("Philadelphia", "Pennsylvania", "United States", 5),
    ("San Antonio", "Texas", "United States", 4),
    ("San Diego", "California", "United States", 4),
    ("Dallas", "Texas", "United States", 4),
    ("Austin", "Texas", "United States", 4),
    ("San Jose", "California", "United States", 3),
    ("San Francisco", "California", "United States", 4),
    ("Jacksonville", "Florida", "United States", 3),
    ("Miami", "Florida", "United States", 4),
    ("Tampa", "Florida", "United States", 2),
    ("Orlando", "Florida", "United States", 2),
    ("Columbus", "Ohio", "United States", 3),
    ("Cleveland", "Ohio", "United States", 2),
    ("Charlotte", "North Carolina", "United States", 3),
    ("Raleigh", "North Carolina", "United States", 2),
    ("Indianapolis", "Indiana", "United States", 3),
    ("Seattle", "Washington", "United States", 4),
    ("Denver", "Colorado", "United States", 3),
    ("Washington", "District of Columbia", "United States", 3),
    ("Boston", "Massachusetts", "United States", 4),
    ("Springfield", "Massachusetts", "United States", 1),
    ("Springfield", "Illinois", "United States", 1),
    ("Nashville", "Tennessee", "United States", 3),
    ("Detroit", "Michigan", "United States", 3),
    ("Portland", "Oregon", "United States", 3),
    ("Las Vegas", "Nevada", "United States", 3),
    ("Atlanta", "Georgia", "United States", 4),
    ("Minneapolis", "Minnesota", "United States", 3),
    ("Baltimore", "Maryland", "United States", 2),
    ("Milwaukee", "Wisconsin", "United States", 2),
    ("Albuquerque", "New Mexico", "United States", 2),
    ("Kansas City", "Missouri", "United States", 2),
    ("St. Louis", "Missouri", "United States", 2),
    ("Salt Lake City", "Utah", "United States", 2),
    ("Pittsburgh", "Pennsylvania", "United States", 2),
    ("New Orleans", "Louisiana", "United States", 2),
    ("Buffalo", "New York", "United States", 2),
    ("Rochester", "New York", "United States", 1),
    ("Sacramento", "California", "United States", 2),
    ("Richmond", "Virginia", "United States", 2),
    ("Newark", "New Jersey", "United States", 2),
    ("Hartford", "Connecticut", "United States", 1),
    ("Omaha", "Nebraska", "United States", 1),
    ("Boise", "Idaho", "United States", 1),
    ("Honolulu", "Hawaii", "United States", 1),
    ("Anchorage", "Alaska", "United States", 1),
    ("Toronto", "Ontario", "Canada", 3),
    ("Vancouver", "British Columbia", "Canada", 2),
    ("Montréal", "Quebec", "Canada", 2),
)

SEGMENTS = ("Consumer", "Corporate", "Home Office", "Small Business")
SEGMENT_WEIGHTS = (55, 25, 12, 8)

REGIONS = ("North", "South", "East", "West", "Central")
REGION_WEIGHTS = (20, 22, 25, 23, 10)

# category -> (brands, ((item, min_price_usd, max_price_usd), ...))
CATALOG = (
    ("Electronics", ("Voltix", "Nexon", "Auralite", "Pixelon", "Quantra"), (
        ("Wireless Mouse", 15, 60), ("Mechanical Keyboard", 50, 180),
        ("27-inch Monitor", 180, 450), ("Noise-Cancelling Headphones", 120, 400),
        ("Bluetooth Speaker", 30, 200), ("USB-C Hub", 20, 80), ("HD Webcam", 40, 150),
        ("Smartwatch", 150, 450), ("Tablet", 250, 900), ("Laptop", 600, 2200),
        ("Wireless Earbuds", 50, 250), ("External SSD 1TB", 60, 250),
    )),
    ("Furniture", ("Oakline", "Nordhaus", "Ridgewood", "Loftcraft", "Ashford"), (
        ("Ergonomic Office Chair", 120, 600), ("Standing Desk", 250, 800),
        ("Bookshelf", 60, 250), ("Filing Cabinet", 90, 300), ("Conference Table", 400, 1500),
        ("Desk Lamp", 20, 90), ("Sofa", 500, 1800), ("Coffee Table", 80, 400),
    )),
    ("Office Supplies", ("Papyra", "Inkwell", "Clipstone", "Deskmate", "Brightline"), (
        ("Copy Paper (Case)", 30, 60), ("Gel Pens (12-pack)", 5, 15), ("Stapler", 8, 30),
        ("Sticky Notes", 4, 12), ("Ring Binder", 3, 15), ("Spiral Notebook", 4, 20),
        ("Label Maker", 25, 80), ("Desk Organizer", 10, 40), ("Whiteboard", 25, 150),
        ("Paper Shredder", 50, 250),
    )),
    ("Clothing", ("Northpeak", "Urbanthread", "Bayside", "Kestrel", "Meridian"), (
        ("Cotton T-Shirt", 12, 35), ("Hoodie", 35, 80), ("Slim Jeans", 40, 120),
        ("Running Jacket", 60, 180), ("Wool Sweater", 50, 150), ("Sneakers", 60, 180),
        ("Baseball Cap", 15, 35), ("Rain Boots", 40, 110),
    )),
    ("Home & Kitchen", ("Hearthstone", "Copperleaf", "Kitchenry", "Dwell & Co", "Pureform"), (
        ("Coffee Maker", 40, 250), ("Blender", 35, 200), ("Chef's Knife", 25, 150),
        ("Nonstick Frying Pan", 25, 90), ("Air Fryer", 60, 200), ("Bath Towel Set", 25, 80),
        ("Vacuum Cleaner", 90, 600), ("Dinnerware Set", 40, 160),
    )),
    ("Sports & Outdoors", ("Trailblaze", "Summit", "Peakform", "Riverrun", "Ironclad"), (
        ("Yoga Mat", 20, 80), ("Adjustable Dumbbell Set", 40, 300), ("Camping Tent", 80, 450),
        ("Hiking Backpack", 50, 200), ("Insulated Water Bottle", 10, 40),
        ("Road Bike", 400, 2000), ("Tennis Racket", 40, 220), ("Sleeping Bag", 40, 200),
    )),
    ("Books", ("Harbor Press", "Lantern Books", "Quill House", "Bluebird", "Atlas & Co"), (
        ("Hardcover Novel", 18, 35), ("Paperback Novel", 9, 18), ("Cookbook", 20, 45),
        ("Programming Guide", 30, 70), ("Children's Picture Book", 8, 20),
        ("Travel Guide", 15, 30), ("Biography", 18, 35),
    )),
    ("Toys & Games", ("Playfield", "Tinkertown", "Brightkids", "Gamewise", "Wonderbox"), (
        ("Building Blocks Set", 20, 120), ("Board Game", 20, 60), ("Jigsaw Puzzle", 12, 35),
        ("Remote Control Car", 30, 120), ("Plush Bear", 10, 40), ("Card Game", 8, 25),
    )),
    ("Beauty & Personal Care", ("Lumiere", "Verdant", "Silkwood", "Aquaria", "Belle Rose"), (
        ("Daily Moisturizer", 10, 60), ("Shampoo", 6, 30), ("Electric Toothbrush", 30, 150),
        ("Hair Dryer", 30, 200), ("Sunscreen SPF 50", 8, 30), ("Eau de Parfum", 40, 150),
    )),
    ("Grocery", ("Green Valley", "Harvest Moon", "Sunfield", "Old Mill", "Blue Ridge"), (
        ("Ground Coffee", 8, 20), ("Green Tea (100 bags)", 6, 15), ("Extra Virgin Olive Oil", 10, 30),
        ("Dark Chocolate Bar", 3, 10), ("Trail Mix", 5, 14), ("Maple Syrup", 8, 22),
        ("Sparkling Water (12-pack)", 5, 12),
    )),
)
PRODUCT_VARIANTS = ("Pro", "Plus", "Mini", "Max", "Lite", "II", "XL", "Classic", "Eco", "Deluxe")

# department, relative head count, staff titles, staff salary range (USD)
DEPARTMENTS = (
    ("Sales", 30, ("Sales Representative", "Account Executive", "Senior Account Executive",
                   "Sales Development Representative"), (50_000, 110_000)),
    ("Engineering", 22, ("Software Engineer", "Senior Software Engineer", "QA Engineer",
                         "DevOps Engineer", "Data Engineer"), (85_000, 175_000)),
    ("Customer Support", 12, ("Support Specialist", "Senior Support Specialist",
                              "Technical Support Engineer"), (40_000, 75_000)),
    ("Marketing", 8, ("Marketing Specialist", "Content Strategist", "SEO Analyst",
                      "Brand Manager"), (55_000, 120_000)),
    ("Operations", 9, ("Operations Analyst", "Logistics Coordinator", "Warehouse Supervisor",
                       "Buyer"), (45_000, 95_000)),
    ("Finance", 6, ("Financial Analyst", "Accountant", "Senior Accountant",
                    "Payroll Specialist"), (60_000, 130_000)),
    ("Human Resources", 4, ("HR Generalist", "Recruiter", "Benefits Specialist"),
     (50_000, 100_000)),
    ("IT", 6, ("Systems Administrator", "IT Support Technician", "Network Engineer",
               "Security Analyst"), (55_000, 140_000)),
    ("Legal", 3, ("Paralegal", "Corporate Counsel", "Compliance Analyst"), (60_000, 180_000)),
)
COMPANY_EMAIL_DOMAIN = "chatdb-demo.com"

ORDER_STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled", "returned")

# Relative order volume per calendar month (Jan..Dec): holiday peak, January dip.
_SEASONALITY = (0.85, 0.85, 0.95, 1.0, 1.0, 0.95, 0.95, 1.0, 1.0, 1.05, 1.30, 1.55)
# Relative volume per hour of day (orders are placed mostly during the day / evening).
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 9, 8, 8, 8, 8, 8, 9, 10, 10, 8, 5, 2)
# fmt: on

_MONTHS = 36

# ---------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------


def _money(cents: int) -> Decimal:
    """Integer cents -> Decimal with exactly two places (e.g. 5000 -> Decimal('50.00'))."""
    return Decimal(cents).scaleb(-2)


def _first_of_month(d: date, shift: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + shift, 12)
    return date(y, m + 1, 1)


def _month_windows(today: date) -> list[tuple[date, date]]:
    """(first day, last day) of each of the 36 months ending with today's month;
    the current month ends at ``today``."""
    starts = [_first_of_month(today, k - (_MONTHS - 1)) for k in range(_MONTHS)]
    ends = [s - timedelta(days=1) for s in starts[1:]] + [today]
    return list(zip(starts, ends, strict=True))


def _month_weights(windows: list[tuple[date, date]]) -> list[float]:
    """Growth trend x seasonality x share of the month covered (the current month is
    only partly over)."""
    weights = []
    for k, (start, end) in enumerate(windows):
        full_days = (_first_of_month(start, 1) - start).days
        covered = (end - start).days + 1
        weights.append((100 + 2 * k) * _SEASONALITY[start.month - 1] * covered / full_days)
    return weights


def _spread_over_months(rng: Random, n: int, windows: list[tuple[date, date]]) -> list[date]:
    """n sorted dates; the first 36 draws pin one date into every month."""
    months = list(range(len(windows))) + rng.choices(
        range(len(windows)), weights=_month_weights(windows), k=n - len(windows)
    )
    out = []
    for k in months:
        start, end = windows[k]
        out.append(start + timedelta(days=rng.randrange((end - start).days + 1)))
    out.sort()
    return out


def _random_date(rng: Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _email_local(*parts: str) -> str:
    return ".".join("".join(ch for ch in p.lower() if ch.isascii() and ch.isalnum()) for p in parts)


def _unique(local: str, domain: str, seen: set[str]) -> str:
    email, n = f"{local}@{domain}", 1
    while email in seen:
        n += 1
        email = f"{local}{n}@{domain}"
    seen.add(email)
    return email


class _Weighted:
    """Weighted picker over ``values`` with integer weights; O(log n) per draw.
    (``random.choices`` rebuilds its cumulative table on every call, which dominates
    generation time for ~100,000 draws.)"""

    def __init__(self, values: Sequence[Any], weights: Sequence[int]) -> None:
        self.values = tuple(values)
        self.cum = tuple(accumulate(weights))

    def __call__(self, rng: Random, limit: int | None = None) -> Any:
        """Draw one value; with ``limit`` only from the first ``limit`` values."""
        hi = len(self.cum) if limit is None else limit
        i = bisect.bisect_right(self.cum, rng.random() * self.cum[hi - 1], 0, hi)
        return self.values[min(i, hi - 1)]


_PICK_HOUR = _Weighted(range(24), _HOUR_WEIGHTS)
_PICK_SEGMENT = _Weighted(SEGMENTS, SEGMENT_WEIGHTS)
_PICK_CITY = _Weighted(CITIES, [c[3] for c in CITIES])
_PICK_REGION = _Weighted(REGIONS, REGION_WEIGHTS)
_PICK_ITEMS_PER_ORDER = _Weighted((1, 2, 3, 4, 5, 6), (30, 25, 20, 12, 8, 5))
_PICK_DISCOUNT_PCT = _Weighted((0, 5, 10, 15, 20), (70, 12, 10, 5, 3))
_PICK_QTY_CHEAP = _Weighted((1, 2, 3, 4, 5, 6), (40, 25, 12, 9, 7, 7))  # under $20
_PICK_QTY_MID = _Weighted((1, 2, 3), (72, 21, 7))  # $20 - $200
_PICK_QTY_DEAR = _Weighted((1, 2), (92, 8))  # $200 and up
_PICK_SALE_QTY = _Weighted((1, 2, 3, 5, 10, 20, 50), (30, 20, 15, 15, 10, 6, 4))
_PICK_OLD_STATUS = _Weighted(("delivered", "cancelled", "returned"), (91, 5, 4))
# popularity of a customer / product (a few are bought from much more often)
_PICK_ACTIVITY = _Weighted((1, 2, 3, 4, 6, 9), (3, 2, 1, 1, 1, 1))


def _count(name: str, scale: float) -> int:
    return max(_MIN_COUNTS[name], round(_BASE_COUNTS[name] * scale))


def _gen_customers(rng: Random, n: int, today: date) -> list[tuple]:
    window_start = _first_of_month(today, -(_MONTHS - 1))
    # Half the customers signed up before the 3-year window, half during it, so every
    # order date has plenty of eligible (already signed-up) customers.
    before = n // 2
    signups = sorted(
        [
            _random_date(
                rng, window_start - timedelta(days=3 * 365), window_start - timedelta(days=1)
            )
            for _ in range(before)
        ]
        + [_random_date(rng, window_start, today) for _ in range(n - before)]
    )
    seen: set[str] = set()
    rows = []
    for cid, signup in enumerate(signups, start=1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, state, country, _ = _PICK_CITY(rng)
        style = rng.randrange(3)
        if style == 0:
            local = _email_local(first, last)
        elif style == 1:
            local = _email_local(first[0] + last)
        else:
            local = _email_local(first, last) + str(rng.randrange(10, 99))
        email = _unique(local, rng.choice(EMAIL_DOMAINS), seen)
        segment = _PICK_SEGMENT(rng)
        rows.append((cid, f"{first} {last}", email, city, state, country, signup, segment))
    return rows


def _gen_products(rng: Random, n: int) -> list[tuple]:
    seen: set[str] = set()
    rows = []
    for pid in range(1, n + 1):
        category, brands, items = CATALOG[(pid - 1) % len(CATALOG)]
        for _attempt in range(20):
            item, lo, hi = rng.choice(items)
            name = f"{rng.choice(brands)} {item}"
            if name not in seen:
                break
        n_variant = 0
        base = name
        while name in seen:
            variant = PRODUCT_VARIANTS[n_variant % len(PRODUCT_VARIANTS)]
            suffix = "" if n_variant < len(PRODUCT_VARIANTS) else f" {n_variant}"
            name = f"{base} {variant}{suffix}"
            n_variant += 1
        seen.add(name)
        # Skewed towards the cheap end of the item's range; prices end in .99 (or .49).
        r = rng.random()
        dollars = lo + int((hi - lo) * r * r)
        cents = dollars * 100 - 1 if (hi > 20 or rng.random() < 0.5) else dollars * 100 + 49
        rows.append((pid, name, category, _money(cents)))
    return rows


def _quantity(rng: Random, price_cents: int) -> int:
    if price_cents < 2_000:
        return _PICK_QTY_CHEAP(rng)
    if price_cents < 20_000:
        return _PICK_QTY_MID(rng)
    return _PICK_QTY_DEAR(rng)


def _order_status(rng: Random, age_days: int) -> str:
    if age_days <= 1:
        return rng.choice(("pending", "pending", "processing"))
    if age_days <= 4:
        return rng.choice(("processing", "shipped", "shipped"))
    if age_days <= 10:
        return rng.choice(("shipped", "shipped", "delivered"))
    return _PICK_OLD_STATUS(rng)


def _gen_orders(
    rng: Random,
    n: int,
    today: date,
    windows: list[tuple[date, date]],
    customers: list[tuple],
    products: list[tuple],
) -> tuple[list[tuple], list[tuple]]:
    signups = [c[6] for c in customers]
    pick_customer = _Weighted(
        range(1, len(customers) + 1), [_PICK_ACTIVITY(rng) for _ in customers]
    )
    pick_product = _Weighted(range(len(products)), [_PICK_ACTIVITY(rng) for _ in products])
    prices = [int(p[3] * 100) for p in products]

    orders, items = [], []
    for oid, day in enumerate(_spread_over_months(rng, n, windows), start=1):
        hour = _PICK_HOUR(rng)
        placed = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))
        # only customers who had signed up by then (customers are sorted by signup date)
        eligible = bisect.bisect_right(signups, day)
        customer_id = pick_customer(rng, eligible)
        n_items = _PICK_ITEMS_PER_ORDER(rng)
        chosen: list[int] = []
        while len(chosen) < n_items:
            p = pick_product(rng)
            if p not in chosen:
                chosen.append(p)
        total = 0
        for p in sorted(chosen):
            discount = _PICK_DISCOUNT_PCT(rng)
            unit = (prices[p] * (100 - discount) + 50) // 100
            qty = _quantity(rng, prices[p])
            total += qty * unit
            items.append((oid, p + 1, qty, _money(unit)))
        status = _order_status(rng, (today - day).days)
        orders.append((oid, customer_id, placed, status, _money(total)))
    return orders, items


def _gen_sales(
    rng: Random, n: int, windows: list[tuple[date, date]], products: list[tuple]
) -> list[tuple]:
    pick_product = _Weighted(range(len(products)), [_PICK_ACTIVITY(rng) for _ in products])
    prices = [int(p[3] * 100) for p in products]
    rows = []
    for sid, day in enumerate(_spread_over_months(rng, n, windows), start=1):
        p = pick_product(rng)
        region = _PICK_REGION(rng)
        qty = _PICK_SALE_QTY(rng)
        if prices[p] > 50_000:
            qty = min(qty, 5)
        discount = 0 if qty < 10 else rng.choice((5, 10, 15))  # volume discount
        amount = (qty * prices[p] * (100 - discount) + 50) // 100
        rows.append((sid, region, day, p + 1, _money(amount), qty))
    return rows


def _split(total: int, weights: list[int]) -> list[int]:
    """Largest-remainder split of ``total`` in proportion to integer ``weights``."""
    wsum = sum(weights)
    base = [total * w // wsum for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % wsum), i))
    for i in order[: total - sum(base)]:
        base[i] += 1
    return base


def _gen_employees(rng: Random, n: int, today: date) -> list[tuple]:
    seen: set[str] = set()
    rows: list[tuple] = []

    def hired(from_years_ago: float, to_years_ago: float) -> date:
        start = today - timedelta(days=round(365.25 * from_years_ago))
        return _random_date(rng, start, today - timedelta(days=round(365.25 * to_years_ago)))

    def salary(lo: int, hi: int) -> int:
        return lo + 500 * rng.randrange((hi - lo) // 500 + 1)

    def add(dept: str, title: str, hire_date: date, usd: int, manager: int | None) -> int:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = _unique(_email_local(first, last), COMPANY_EMAIL_DOMAIN, seen)
        region = "Central" if manager is None else rng.choice(REGIONS)  # HQ is Central
        eid = len(rows) + 1
        row = (eid, first, last, email, dept, title, region, hire_date, _money(usd * 100), manager)
        rows.append(row)
        return eid

    # IDs grow down the hierarchy, so every manager_id < employee_id (MySQL checks the
    # self-referencing foreign key row by row).
    ceo = add("Executive", "Chief Executive Officer", hired(16, 14), salary(320_000, 380_000), None)
    heads = [
        add(dept, f"VP of {dept}", hired(14, 2), salary(180_000, 260_000), ceo)
        for dept, *_ in DEPARTMENTS
    ]
    per_dept = _split(n - 1 - len(DEPARTMENTS), [d[1] for d in DEPARTMENTS])
    for (dept, _, titles, (lo, hi)), head, count in zip(DEPARTMENTS, heads, per_dept, strict=True):
        n_managers = min(count, -(-count // 9))  # ceil(count / 9): one manager per ~8 staff
        managers = [
            add(dept, f"{dept} Manager", hired(12, 1), salary(hi, hi + 45_000), head)
            for _ in range(n_managers)
        ]
        for _ in range(count - n_managers):
            add(dept, rng.choice(titles), hired(10, 0.02), salary(lo, hi), rng.choice(managers))
    return rows


def generate(spec: DemoSpec = DemoSpec()) -> DemoData:
    """Build the whole demo data set in memory. Pure and deterministic: the same spec
    (seed, today, scale) always gives identical rows."""
    today = spec.today or date.today()
    rng = Random(spec.seed)
    windows = _month_windows(today)
    customers = _gen_customers(rng, _count("customers", spec.scale), today)
    products = _gen_products(rng, _count("products", spec.scale))
    orders, items = _gen_orders(
        rng, _count("orders", spec.scale), today, windows, customers, products
    )
    sales = _gen_sales(rng, _count("sales", spec.scale), windows, products)
    employees = _gen_employees(rng, _count("employees", spec.scale), today)
    rows = {
        "customers": customers,
        "products": products,
        "orders": orders,
        "order_items": items,
        "sales": sales,
        "employees": employees,
    }
    return {name: Table(COLUMNS[name], rows[name]) for name in TABLES}


# Marker left on a loaded database: "chatdb-demo <checksum>".
_MARKER_PREFIX = "chatdb-demo "


def checksum(data: DemoData, *schema: str) -> str:
    """Content checksum of a generated data set and the DDL that holds it."""
    digest = hashlib.sha256()
    for text in schema:
        digest.update(text.encode())
    for name, (columns, rows) in data.items():
        digest.update(repr((name, columns)).encode())
        digest.update(repr(rows).encode())
    return "sha256:" + digest.hexdigest()


def _marker(data: DemoData, *schema: str) -> str:
    return _MARKER_PREFIX + checksum(data, *schema)


def _counts(counts: dict[str, int], reloaded: bool) -> Counts:
    result = Counts(counts)
    result.reloaded = reloaded
    return result


def _expected(data: DemoData) -> dict[str, int]:
    return {name: len(table.rows) for name, table in data.items()}


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------

# Tables with primary keys, NOT NULLs and CHECKs. Foreign keys, secondary indexes and
# comments are added after COPY: validating a foreign key with one join is much faster
# than checking it row by row during the load (~0.3 s instead of ~0.9 s in total).
_PG_TABLES = """
CREATE TABLE customers (
    customer_id  integer      PRIMARY KEY,
    name         varchar(100) NOT NULL,
    email        varchar(255) NOT NULL UNIQUE,
    city         varchar(100) NOT NULL,
    state        varchar(50)  NOT NULL,
    country      varchar(50)  NOT NULL,
    signup_date  date         NOT NULL,
    segment      varchar(20)  NOT NULL
);
CREATE TABLE products (
    product_id   integer       PRIMARY KEY,
    name         varchar(200)  NOT NULL UNIQUE,
    category     varchar(50)   NOT NULL,
    price        numeric(10,2) NOT NULL CHECK (price >= 0)
);
CREATE TABLE orders (
    order_id     integer       PRIMARY KEY,
    customer_id  integer       NOT NULL,
    order_date   timestamp     NOT NULL,
    status       varchar(20)   NOT NULL,
    total        numeric(12,2) NOT NULL CHECK (total >= 0)
);
CREATE TABLE order_items (
    order_id     integer       NOT NULL,
    product_id   integer       NOT NULL,
    quantity     integer       NOT NULL CHECK (quantity > 0),
    unit_price   numeric(10,2) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE TABLE sales (
    sale_id      integer       PRIMARY KEY,
    region       varchar(20)   NOT NULL,
    sale_date    date          NOT NULL,
    product_id   integer       NOT NULL,
    amount       numeric(12,2) NOT NULL CHECK (amount >= 0),
    quantity     integer       NOT NULL CHECK (quantity > 0)
);
CREATE TABLE employees (
    employee_id  integer       PRIMARY KEY,
    first_name   varchar(50)   NOT NULL,
    last_name    varchar(50)   NOT NULL,
    email        varchar(255)  NOT NULL UNIQUE,
    department   varchar(50)   NOT NULL,
    title        varchar(100)  NOT NULL,
    region       varchar(20)   NOT NULL,
    hire_date    date          NOT NULL,
    salary       numeric(10,2) NOT NULL CHECK (salary > 0),
    manager_id   integer
);
"""

_PG_KEYS_INDEXES_COMMENTS = """
ALTER TABLE orders ADD CONSTRAINT fk_orders_customer
    FOREIGN KEY (customer_id) REFERENCES customers (customer_id);
ALTER TABLE order_items ADD CONSTRAINT fk_order_items_order
    FOREIGN KEY (order_id) REFERENCES orders (order_id);
ALTER TABLE order_items ADD CONSTRAINT fk_order_items_product
    FOREIGN KEY (product_id) REFERENCES products (product_id);
ALTER TABLE sales ADD CONSTRAINT fk_sales_product
    FOREIGN KEY (product_id) REFERENCES products (product_id);
ALTER TABLE employees ADD CONSTRAINT fk_employees_manager
    FOREIGN KEY (manager_id) REFERENCES employees (employee_id);

CREATE INDEX idx_customers_city         ON customers (city);
CREATE INDEX idx_customers_signup_date  ON customers (signup_date);
CREATE INDEX idx_products_category      ON products (category);
CREATE INDEX idx_orders_customer_id     ON orders (customer_id);
CREATE INDEX idx_orders_order_date      ON orders (order_date);
CREATE INDEX idx_order_items_product_id ON order_items (product_id);
CREATE INDEX idx_sales_product_id       ON sales (product_id);
CREATE INDEX idx_sales_sale_date        ON sales (sale_date);
CREATE INDEX idx_sales_region           ON sales (region);
CREATE INDEX idx_employees_manager_id   ON employees (manager_id);
CREATE INDEX idx_employees_hire_date    ON employees (hire_date);

COMMENT ON TABLE customers IS 'Registered customers of the demo store, one row per customer';
COMMENT ON COLUMN customers.signup_date IS 'Date the customer created an account';
COMMENT ON COLUMN customers.segment IS 'Customer segment: Consumer, Corporate, Home Office or Small Business';
COMMENT ON COLUMN customers.state IS 'US state (or Canadian province) of the customer';
COMMENT ON TABLE products IS 'Product catalog';
COMMENT ON COLUMN products.price IS 'Current list price in USD';
COMMENT ON TABLE orders IS 'Customer orders; one row per order';
COMMENT ON COLUMN orders.order_date IS 'When the order was placed';
COMMENT ON COLUMN orders.status IS 'pending, processing, shipped, delivered, cancelled or returned';
COMMENT ON COLUMN orders.total IS 'Order total in USD: sum of quantity * unit_price over its order_items';
COMMENT ON TABLE order_items IS 'Line items of each order (one row per product in an order)';
COMMENT ON COLUMN order_items.unit_price IS 'Price charged per unit in USD, after any discount';
COMMENT ON TABLE sales IS 'Sales transactions by region and product';
COMMENT ON COLUMN sales.region IS 'Sales region: North, South, East, West or Central';
COMMENT ON COLUMN sales.amount IS 'Sale amount in USD';
COMMENT ON TABLE employees IS 'Company employees and their reporting lines';
COMMENT ON COLUMN employees.salary IS 'Annual base salary in USD';
COMMENT ON COLUMN employees.manager_id IS 'employee_id of the direct manager; NULL for the CEO';
"""


def _pg_ident(name: str) -> str:
    return '"' + validate_identifier(name) + '"'


async def _pg_loaded(admin: Any, admin_dsn: str, database: str, marker: str, expected: dict[str, int]) -> bool:
    """Whether ``database`` exists, carries ``marker`` and holds the expected row counts."""
    import asyncpg

    found = await admin.fetchval(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", database)
    if found != marker:
        return False
    conn = await asyncpg.connect(admin_dsn, database=database)
    try:
        for name, n in expected.items():
            if await conn.fetchval(f"SELECT count(*) FROM {_pg_ident(name)}") != n:
                return False
    except asyncpg.PostgresError:  # a table dropped or renamed since
        return False
    finally:
        await conn.close()
    return True


async def load_postgres(admin_dsn: str, spec: DemoSpec = DemoSpec(), *, force: bool = False) -> Counts:
    """(Re)create database ``spec.database`` on the server of ``admin_dsn`` (a DSN for a
    maintenance database such as ``postgres``), create the schema and COPY the rows in.
    A database that already holds this data set (same checksum marker, same row counts)
    is left as it is unless ``force``. Returns the row count per table, read back from
    the server."""
    import asyncpg

    db = _pg_ident(spec.database)
    data = generate(spec)
    marker = _marker(data, _PG_TABLES, _PG_KEYS_INDEXES_COMMENTS)
    expected = _expected(data)
    started = _time.perf_counter()

    admin = await asyncpg.connect(admin_dsn)
    try:
        if not force and await _pg_loaded(admin, admin_dsn, spec.database, marker, expected):
            log.info("PostgreSQL database %s already holds this data set; left as it is", spec.database)
            return _counts(expected, reloaded=False)
        # Each in its own statement: DROP/CREATE DATABASE cannot run in a transaction.
        await admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {db} ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await admin.close()

    conn = await asyncpg.connect(admin_dsn, database=spec.database)
    try:
        async with conn.transaction():
            await conn.execute(_PG_TABLES)
            for name in TABLES:
                columns, rows = data[name]
                await conn.copy_records_to_table(name, records=rows, columns=list(columns))
            await conn.execute(_PG_KEYS_INDEXES_COMMENTS)
        await conn.execute("ANALYZE")
        counts = {}
        for name in TABLES:
            counts[name] = await conn.fetchval(f"SELECT count(*) FROM {_pg_ident(name)}")
        # Last: a database whose load broke off carries no marker and is reloaded.
        await conn.execute(f"COMMENT ON DATABASE {db} IS {_pg_literal(marker)}")
    finally:
        await conn.close()

    log.info(
        "loaded %d rows into PostgreSQL database %s in %.2fs",
        sum(counts.values()),
        spec.database,
        _time.perf_counter() - started,
    )
    return _counts(counts, reloaded=True)


def _pg_literal(text: str) -> str:
    # The marker is "chatdb-demo sha256:<hex>": no quotes, but escape them anyway.
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------------------------------
# MySQL / MariaDB
# ---------------------------------------------------------------------------------------

_MYSQL_TABLE_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"

_MYSQL_TABLES = (
    f"""
CREATE TABLE customers (
    customer_id  INT           NOT NULL,
    name         VARCHAR(100)  NOT NULL,
    email        VARCHAR(255)  NOT NULL,
    city         VARCHAR(100)  NOT NULL,
    state        VARCHAR(50)   NOT NULL COMMENT 'US state (or Canadian province) of the customer',
    country      VARCHAR(50)   NOT NULL,
    signup_date  DATE          NOT NULL COMMENT 'Date the customer created an account',
    segment      VARCHAR(20)   NOT NULL COMMENT 'Customer segment: Consumer, Corporate, Home Office or Small Business',
    PRIMARY KEY (customer_id),
    UNIQUE KEY uq_customers_email (email),
    KEY idx_customers_city (city),
    KEY idx_customers_signup_date (signup_date)
) {_MYSQL_TABLE_OPTIONS} COMMENT='Registered customers of the demo store, one row per customer'
""",
    f"""
CREATE TABLE products (
    product_id   INT           NOT NULL,
    name         VARCHAR(200)  NOT NULL,
    category     VARCHAR(50)   NOT NULL,
    price        DECIMAL(10,2) NOT NULL COMMENT 'Current list price in USD',
    PRIMARY KEY (product_id),
    UNIQUE KEY uq_products_name (name),
    KEY idx_products_category (category),
    CONSTRAINT ck_products_price CHECK (price >= 0)
) {_MYSQL_TABLE_OPTIONS} COMMENT='Product catalog'
""",
    f"""
CREATE TABLE orders (
    order_id     INT           NOT NULL,
    customer_id  INT           NOT NULL,
    order_date   DATETIME      NOT NULL COMMENT 'When the order was placed',
    status       VARCHAR(20)   NOT NULL COMMENT 'pending, processing, shipped, delivered, cancelled or returned',
    total        DECIMAL(12,2) NOT NULL COMMENT 'Order total in USD: sum of quantity * unit_price over its order_items',
    PRIMARY KEY (order_id),
    KEY idx_orders_customer_id (customer_id),
    KEY idx_orders_order_date (order_date),
    CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id),
    CONSTRAINT ck_orders_total CHECK (total >= 0)
) {_MYSQL_TABLE_OPTIONS} COMMENT='Customer orders; one row per order'
""",
    f"""
CREATE TABLE order_items (
    order_id     INT           NOT NULL,
    product_id   INT           NOT NULL,
    quantity     INT           NOT NULL,
    unit_price   DECIMAL(10,2) NOT NULL COMMENT 'Price charged per unit in USD, after any discount',
    PRIMARY KEY (order_id, product_id),
    KEY idx_order_items_product_id (product_id),
    CONSTRAINT fk_order_items_order FOREIGN KEY (order_id) REFERENCES orders (order_id),
    CONSTRAINT fk_order_items_product FOREIGN KEY (product_id) REFERENCES products (product_id),
    CONSTRAINT ck_order_items_quantity CHECK (quantity > 0),
    CONSTRAINT ck_order_items_unit_price CHECK (unit_price >= 0)
) {_MYSQL_TABLE_OPTIONS} COMMENT='Line items of each order (one row per product in an order)'
""",
    f"""
CREATE TABLE sales (
    sale_id      INT           NOT NULL,
    region       VARCHAR(20)   NOT NULL COMMENT 'Sales region: North, South, East, West or Central',
    sale_date    DATE          NOT NULL,
    product_id   INT           NOT NULL,
    amount       DECIMAL(12,2) NOT NULL COMMENT 'Sale amount in USD',
    quantity     INT           NOT NULL,
    PRIMARY KEY (sale_id),
    KEY idx_sales_product_id (product_id),
    KEY idx_sales_sale_date (sale_date),
    KEY idx_sales_region (region),
    CONSTRAINT fk_sales_product FOREIGN KEY (product_id) REFERENCES products (product_id),
    CONSTRAINT ck_sales_amount CHECK (amount >= 0),
    CONSTRAINT ck_sales_quantity CHECK (quantity > 0)
) {_MYSQL_TABLE_OPTIONS} COMMENT='Sales transactions by region and product'
""",
    f"""
CREATE TABLE employees (
    employee_id  INT           NOT NULL,
    first_name   VARCHAR(50)   NOT NULL,
    last_name    VARCHAR(50)   NOT NULL,
    email        VARCHAR(255)  NOT NULL,
    department   VARCHAR(50)   NOT NULL,
    title        VARCHAR(100)  NOT NULL,
    region       VARCHAR(20)   NOT NULL,
    hire_date    DATE          NOT NULL,
    salary       DECIMAL(10,2) NOT NULL COMMENT 'Annual base salary in USD',
    manager_id   INT           NULL COMMENT 'employee_id of the direct manager; NULL for the CEO',
    PRIMARY KEY (employee_id),
    UNIQUE KEY uq_employees_email (email),
    KEY idx_employees_manager_id (manager_id),
    KEY idx_employees_hire_date (hire_date),
    CONSTRAINT fk_employees_manager FOREIGN KEY (manager_id) REFERENCES employees (employee_id),
    CONSTRAINT ck_employees_salary CHECK (salary > 0)
) {_MYSQL_TABLE_OPTIONS} COMMENT='Company employees and their reporting lines'
""",
)

_MYSQL_BATCH_ROWS = 5000  # rows per executemany call; aiomysql packs them into multi-row INSERTs


def _my_ident(name: str) -> str:
    return "`" + validate_identifier(name) + "`"


async def _mysql_loaded(cur: Any, database: str, marker: str, expected: dict[str, int]) -> bool:
    """Whether ``database`` exists, carries ``marker`` and holds the expected row counts."""
    import aiomysql

    try:
        await cur.execute(
            "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
    except aiomysql.Error:  # MySQL: no database comments, so never a marker
        return False
    found = await cur.fetchone()
    if found is None or found[0] != marker:
        return False
    try:
        for name, n in expected.items():
            await cur.execute(f"SELECT COUNT(*) FROM {_my_ident(database)}.{_my_ident(name)}")
            if (await cur.fetchone())[0] != n:
                return False
    except aiomysql.Error:  # a table dropped or renamed since
        return False
    return True


async def load_mysql(
    host: str, port: int, user: str, password: str, spec: DemoSpec = DemoSpec(), *, force: bool = False
) -> Counts:
    """(Re)create database ``spec.database`` on a MySQL/MariaDB server, create the
    InnoDB/utf8mb4 schema and insert the rows in multi-row INSERT batches. On MariaDB, a
    database that already holds this data set (same checksum marker, same row counts) is
    left as it is unless ``force``. Returns the row count per table, read back from the
    server."""
    import aiomysql

    db = _my_ident(spec.database)
    data = generate(spec)
    marker = _marker(data, *_MYSQL_TABLES)
    expected = _expected(data)
    started = _time.perf_counter()

    conn = await aiomysql.connect(
        host=host, port=int(port), user=user, password=password, charset="utf8mb4", autocommit=True
    )
    try:
        async with conn.cursor() as cur:
            # Strict mode: bad data is an error, not a silent truncation. Notes off: the
            # "database doesn't exist" note of DROP ... IF EXISTS would surface as a
            # Python warning.
            await cur.execute(
                "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
                "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
            )
            await cur.execute("SET SESSION sql_notes = 0")
            if not force and await _mysql_loaded(cur, spec.database, marker, expected):
                log.info("MySQL database %s already holds this data set; left as it is", spec.database)
                return _counts(expected, reloaded=False)
            await cur.execute(f"DROP DATABASE IF EXISTS {db}")
            await cur.execute(
                f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            await conn.select_db(spec.database)
            for ddl in _MYSQL_TABLES:
                await cur.execute(ddl)

            await conn.begin()
            for name in TABLES:
                columns, rows = data[name]
                insert = (
                    f"INSERT INTO {_my_ident(name)} ({', '.join(map(_my_ident, columns))}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))})"
                )
                for i in range(0, len(rows), _MYSQL_BATCH_ROWS):
                    await cur.executemany(insert, rows[i : i + _MYSQL_BATCH_ROWS])
            await conn.commit()

            counts = {}
            for name in TABLES:
                await cur.execute(f"SELECT COUNT(*) FROM {_my_ident(name)}")
                (counts[name],) = await cur.fetchone()
            # Last: a database whose load broke off carries no marker and is reloaded.
            try:
                await cur.execute(f"ALTER DATABASE {db} COMMENT %s", (marker,))
            except aiomysql.Error:  # MySQL has no database comments: it always reloads
                pass
    finally:
        conn.close()

    log.info(
        "loaded %d rows into MySQL database %s in %.2fs",
        sum(counts.values()),
        spec.database,
        _time.perf_counter() - started,
    )
    return _counts(counts, reloaded=True)


# ---------------------------------------------------------------------------------------
# MongoDB
# ---------------------------------------------------------------------------------------

# Secondary indexes per collection (foreign keys and dates), mirroring the SQL schema.
_MONGO_INDEXES = {
    "customers": ("city", "signup_date"),
    "products": ("category",),
    "orders": ("customer_id", "order_date"),
    "order_items": ("order_id", "product_id"),
    "sales": ("product_id", "sale_date", "region"),
    "employees": ("manager_id", "hire_date"),
}
_MONGO_BATCH_DOCS = 5000


def _mongo_value(value: Any) -> Any:
    # BSON has no date-only type: dates become midnight datetimes (naive = UTC).
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    # Money as float, not Decimal128: $sum/$avg over Decimal128 is awkward for the
    # natural-language query layer (results come back as Decimal128 objects, comparisons
    # with plain numeric literals need care, mongomock cannot aggregate them), while
    # two-decimal amounts of this size are represented well within double precision
    # (round(x, 2) gives back the exact cents).
    if isinstance(value, Decimal):
        return float(value)
    return value


def _mongo_documents(table: Table, with_id: bool) -> list[dict[str, Any]]:
    columns = table.columns
    docs = []
    for row in table.rows:
        doc = {col: _mongo_value(v) for col, v in zip(columns, row, strict=True)}
        if with_id:
            doc = {"_id": row[0], **doc}  # single-column primary key doubles as _id
        docs.append(doc)
    return docs


async def load_mongo(db: Any, spec: DemoSpec = DemoSpec()) -> dict[str, int]:
    """Load the data set into ``db``: a motor ``AsyncIOMotorDatabase`` (or a compatible
    object such as mongomock-motor's), a motor client (its ``spec.database`` database is
    used) or a MongoDB URL string.  One collection per table, dropped first; dates become
    ``datetime``, money becomes ``float``.  Returns the document count per collection."""
    if isinstance(db, str):
        return await load_mongo_url(db, spec)
    validate_identifier(spec.database)
    from motor.motor_asyncio import AsyncIOMotorClient

    if isinstance(db, AsyncIOMotorClient):
        db = db[spec.database]

    data = generate(spec)
    started = _time.perf_counter()
    counts = {}
    for name in TABLES:
        collection = db[name]
        await collection.drop()
        docs = _mongo_documents(data[name], with_id=name != "order_items")
        for i in range(0, len(docs), _MONGO_BATCH_DOCS):
            await collection.insert_many(docs[i : i + _MONGO_BATCH_DOCS], ordered=True)
        for field in _MONGO_INDEXES[name]:
            await collection.create_index(field)
        counts[name] = await collection.count_documents({})

    log.info(
        "loaded %d documents into MongoDB database %s in %.2fs",
        sum(counts.values()),
        spec.database,
        _time.perf_counter() - started,
    )
    return counts


async def load_mongo_url(url: str, spec: DemoSpec = DemoSpec()) -> dict[str, int]:
    """Connect to the MongoDB at ``url`` and load database ``spec.database``."""
    from motor.motor_asyncio import AsyncIOMotorClient

    client = AsyncIOMotorClient(url)
    try:
        return await load_mongo(client[validate_identifier(spec.database)], spec)
    finally:
        client.close()
