#!/usr/bin/env python3
"""Build ChatDB's own held-out NL→SQL benchmark in Spider's directory format.

    python3 bench/nl2sql_own/build.py          # rebuild databases/ and questions/

Standard library only, deterministic (seeded random): running it twice gives the same
files. Four invented databases, each in its own naming style so that schema linking is
tested on more than one convention:

    city_library  snake_case           branch, author, book, member, loan
    clinic        camelCase, abbrevs   Department, Doctor, Patient, Appointment, Prescription
    fleet         PascalCase, link tbl Depot, Vehicle, Driver, DriverVehicle, Shipment
    hoops_league  Title_Case           Team, Coach, Player, Game, Player_Stat

Questions are written by hand in source/<db_id>.txt (blocks of "Q: question" followed by
the gold SQL, blank line between blocks). This script runs every gold query on its
database (it must return rows), labels it with Spider's hardness rules (`hardness`,
a port of Spider's evaluation.py), and writes questions/<db_id>.json.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DB_IDS = ("city_library", "clinic", "fleet", "hoops_league")


# --------------------------------------------------------------------------- databases

def _date(rng: random.Random, y0: int, y1: int) -> str:
    return f"{rng.randint(y0, y1)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


FIRST = ["Amara", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines",
         "Jonas", "Keiko", "Liam", "Maren", "Nadia", "Oskar", "Paula", "Quentin", "Rosa",
         "Samir", "Tilda", "Umberto", "Vera", "Wendel", "Xenia", "Yusuf", "Zofia", "Anton",
         "Beatriz", "Cyril", "Dagny", "Emil", "Freya", "Gaspard", "Hanne", "Ivo", "Jolien"]
LAST = ["Abernathy", "Brandt", "Castellano", "Dufour", "Eklund", "Ferreira", "Gallo",
        "Halvorsen", "Ibarra", "Janssen", "Kowalczyk", "Lindqvist", "Moreau", "Novak",
        "Okafor", "Petrov", "Quist", "Rinaldi", "Sorensen", "Takeda", "Ueda", "Valdez",
        "Weiss", "Yilmaz", "Zeller", "Achterberg", "Bianchi", "Cardoso", "Delacroix"]


FEMALE = {"Amara", "Chloe", "Elena", "Greta", "Ines", "Keiko", "Maren", "Nadia", "Paula", "Rosa",
          "Tilda", "Vera", "Xenia", "Zofia", "Beatriz", "Dagny", "Freya", "Hanne", "Jolien"}


def _people(rng: random.Random, n: int) -> list[tuple[str, str]]:
    pairs = [(f, la) for f in FIRST for la in LAST]
    return rng.sample(pairs, n)


LIBRARY_SCHEMA = """
CREATE TABLE branch (
  branch_id INTEGER PRIMARY KEY, branch_name TEXT NOT NULL, city TEXT, opened_year INTEGER);
CREATE TABLE author (
  author_id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, nationality TEXT, birth_year INTEGER);
CREATE TABLE book (
  book_id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER REFERENCES author(author_id),
  genre TEXT, publication_year INTEGER, page_count INTEGER);
CREATE TABLE member (
  member_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, city TEXT, join_date TEXT,
  membership_type TEXT);
CREATE TABLE loan (
  loan_id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES book(book_id),
  member_id INTEGER REFERENCES member(member_id), branch_id INTEGER REFERENCES branch(branch_id),
  loan_date TEXT, return_date TEXT, late_fee REAL);
"""


def build_library(con: sqlite3.Connection, rng: random.Random) -> None:
    con.executescript(LIBRARY_SCHEMA)
    branches = [(1, "Central", "Lyon", 1962), (2, "Riverside", "Lyon", 1998),
                (3, "Northgate", "Porto", 1975), (4, "Old Town", "Ghent", 1931),
                (5, "Harbour", "Porto", 2011), (6, "Hillcrest", "Tampere", 2004)]
    con.executemany("INSERT INTO branch VALUES (?,?,?,?)", branches)
    nations = ["French", "Portuguese", "Belgian", "Finnish", "Nigerian", "Japanese", "Chilean"]
    authors = [(i + 1, f"{f} {la}", rng.choice(nations), rng.randint(1890, 1990))
               for i, (f, la) in enumerate(_people(rng, 20))]
    con.executemany("INSERT INTO author VALUES (?,?,?,?)", authors)
    adjs = ["Silent", "Amber", "Hollow", "Northern", "Paper", "Velvet", "Broken", "Distant",
            "Salt", "Iron", "Quiet", "Seventh", "Winter", "Glass", "Crooked"]
    nouns = ["Orchard", "Lantern", "Harbour", "Archive", "Meridian", "Garden", "Voyage",
             "Cartographer", "Tide", "Staircase", "Almanac", "Observatory", "Chorus", "Ledger"]
    titles = rng.sample([f"The {a} {n}" for a in adjs for n in nouns], 60)
    genres = ["mystery", "fantasy", "history", "science", "poetry", "romance", "biography"]
    # authors 19 and 20 have no books: "authors without books" must have an answer
    books = [(i + 1, t, rng.randint(1, 18), rng.choice(genres), rng.randint(1950, 2023),
              rng.randint(90, 900)) for i, t in enumerate(titles)]
    con.executemany("INSERT INTO book VALUES (?,?,?,?,?,?)", books)
    cities = ["Lyon", "Porto", "Ghent", "Tampere", "Bilbao"]
    kinds = ["standard", "student", "senior"]
    members = [(i + 1, f, la, rng.choice(cities), _date(rng, 2015, 2024), rng.choice(kinds))
               for i, (f, la) in enumerate(_people(rng, 50))]
    con.executemany("INSERT INTO member VALUES (?,?,?,?,?,?)", members)
    loans = []
    for i in range(150):
        # the last books and members never appear in a loan (negation questions)
        loan_date = _date(rng, 2021, 2024)
        y, m, d = (int(x) for x in loan_date.split("-"))
        returned = rng.random() < 0.85
        ret = f"{y}-{min(m + 1, 12):02d}-{d:02d}" if returned else None
        fee = round(rng.choice([0, 0, 0, 0.5, 1.0, 2.5, 4.0]), 2) if returned else 0
        loans.append((i + 1, rng.randint(1, 52), rng.randint(1, 44), rng.randint(1, 6),
                      loan_date, ret, fee))
    con.executemany("INSERT INTO loan VALUES (?,?,?,?,?,?,?)", loans)


CLINIC_SCHEMA = """
CREATE TABLE Department (
  deptId INTEGER PRIMARY KEY, deptName TEXT NOT NULL, floorNo INTEGER);
CREATE TABLE Doctor (
  docId INTEGER PRIMARY KEY, fname TEXT, lname TEXT, deptId INTEGER REFERENCES Department(deptId),
  yrsExp INTEGER, salary INTEGER);
CREATE TABLE Patient (
  patId INTEGER PRIMARY KEY, fname TEXT, lname TEXT, dob TEXT, sex TEXT, city TEXT, insurer TEXT);
CREATE TABLE Appointment (
  apptId INTEGER PRIMARY KEY, patId INTEGER REFERENCES Patient(patId),
  docId INTEGER REFERENCES Doctor(docId), apptDate TEXT, status TEXT, fee REAL);
CREATE TABLE Prescription (
  rxId INTEGER PRIMARY KEY, apptId INTEGER REFERENCES Appointment(apptId), drugName TEXT,
  dosageMg INTEGER, refills INTEGER);
"""


def build_clinic(con: sqlite3.Connection, rng: random.Random) -> None:
    con.executescript(CLINIC_SCHEMA)
    depts = [(1, "Cardiology", 3), (2, "Pediatrics", 1), (3, "Dermatology", 2),
             (4, "Orthopedics", 2), (5, "Neurology", 4), (6, "Oncology", 5)]
    con.executemany("INSERT INTO Department VALUES (?,?,?)", depts)
    # Oncology (6) has no doctors yet
    doctors = [(i + 1, f, la, rng.randint(1, 5), rng.randint(1, 35),
                rng.randrange(90000, 260000, 500)) for i, (f, la) in enumerate(_people(rng, 15))]
    con.executemany("INSERT INTO Doctor VALUES (?,?,?,?,?,?)", doctors)
    cities = ["Leeds", "Bristol", "Cardiff", "Norwich", "York"]
    insurers = ["MediPlus", "CareOne", "Northwell", "Uninsured"]
    patients = [(i + 1, f, la, _date(rng, 1940, 2020), "F" if f in FEMALE else "M", rng.choice(cities),
                 rng.choice(insurers)) for i, (f, la) in enumerate(_people(rng, 60))]
    con.executemany("INSERT INTO Patient VALUES (?,?,?,?,?,?,?)", patients)
    statuses = ["completed"] * 6 + ["cancelled"] * 2 + ["no-show"]
    appts = [(i + 1, rng.randint(1, 54), rng.randint(1, 14), _date(rng, 2022, 2024),
              rng.choice(statuses), float(rng.choice([60, 80, 120, 150, 200, 250])))
             for i in range(150)]
    con.executemany("INSERT INTO Appointment VALUES (?,?,?,?,?,?)", appts)
    done = [a[0] for a in appts if a[4] == "completed"]
    drugs = [("ibuprofen", [200, 400]), ("amoxicillin", [250, 500]), ("atorvastatin", [10, 20]),
             ("metformin", [500, 850]), ("lisinopril", [5, 10]), ("sertraline", [50, 100]),
             ("cetirizine", [10])]
    rxs = []
    for i in range(80):
        name, doses = rng.choice(drugs)
        rxs.append((i + 1, rng.choice(done), name, rng.choice(doses), rng.randint(0, 3)))
    con.executemany("INSERT INTO Prescription VALUES (?,?,?,?,?)", rxs)


FLEET_SCHEMA = """
CREATE TABLE Depot (
  DepotID INTEGER PRIMARY KEY, DepotName TEXT, City TEXT, Capacity INTEGER);
CREATE TABLE Vehicle (
  VehicleID INTEGER PRIMARY KEY, PlateNo TEXT, Make TEXT, VehicleType TEXT, ModelYear INTEGER,
  MaxLoadKg INTEGER, DepotID INTEGER REFERENCES Depot(DepotID));
CREATE TABLE Driver (
  DriverID INTEGER PRIMARY KEY, FullName TEXT, HireYear INTEGER, LicenseClass TEXT,
  HourlyRate REAL, HomeCity TEXT);
CREATE TABLE DriverVehicle (
  DriverID INTEGER REFERENCES Driver(DriverID), VehicleID INTEGER REFERENCES Vehicle(VehicleID),
  AssignedSince TEXT, PRIMARY KEY (DriverID, VehicleID));
CREATE TABLE Shipment (
  ShipmentID INTEGER PRIMARY KEY, VehicleID INTEGER REFERENCES Vehicle(VehicleID), Origin TEXT,
  Destination TEXT, WeightKg INTEGER, Status TEXT, ShipDate TEXT);
"""


def build_fleet(con: sqlite3.Connection, rng: random.Random) -> None:
    con.executescript(FLEET_SCHEMA)
    depots = [(1, "North Yard", "Rotterdam", 40), (2, "Canal Hub", "Antwerp", 25),
              (3, "Ring Depot", "Cologne", 30), (4, "East Gate", "Dortmund", 15),
              (5, "Dune Point", "Calais", 10)]
    con.executemany("INSERT INTO Depot VALUES (?,?,?,?)", depots)
    types = {"van": (800, 1800), "box truck": (3000, 7500), "semi": (18000, 26000),
             "refrigerated truck": (5000, 12000)}
    makes = ["Volvo", "Iveco", "Scania", "Renault", "Mercedes", "DAF"]
    vehicles = []
    for i in range(25):
        vt = rng.choice(sorted(types))
        lo, hi = types[vt]
        plate = f"{rng.choice('BDGHKLNRTX')}{rng.choice('AEKMPSZ')}-{rng.randint(100, 999)}-{rng.choice('CFJVW')}"
        # depot 5 (Calais) gets no vehicles
        vehicles.append((i + 1, plate, rng.choice(makes), vt, rng.randint(2008, 2023),
                         rng.randrange(lo, hi, 100), rng.randint(1, 4)))
    con.executemany("INSERT INTO Vehicle VALUES (?,?,?,?,?,?,?)", vehicles)
    cities = ["Rotterdam", "Antwerp", "Cologne", "Dortmund", "Calais", "Lille", "Liege"]
    drivers = [(i + 1, f"{f} {la}", rng.randint(2005, 2023), rng.choice(["B", "C", "CE"]),
                round(rng.uniform(16, 31), 2), rng.choice(cities))
               for i, (f, la) in enumerate(_people(rng, 18))]
    con.executemany("INSERT INTO Driver VALUES (?,?,?,?,?,?)", drivers)
    pairs = set()
    while len(pairs) < 36:
        pairs.add((rng.randint(1, 16), rng.randint(1, 25)))  # drivers 17, 18 unassigned
    links = [(d, v, _date(rng, 2018, 2024)) for d, v in sorted(pairs)]
    con.executemany("INSERT INTO DriverVehicle VALUES (?,?,?)", links)
    statuses = ["delivered"] * 6 + ["in transit"] * 2 + ["delayed", "cancelled"]
    ships = []
    for i in range(120):
        o, d = rng.sample(cities, 2)
        v = rng.randint(1, 23)  # vehicles 24, 25 have never shipped
        cap = vehicles[v - 1][5]
        ships.append((i + 1, v, o, d, rng.randrange(100, cap, 50), rng.choice(statuses),
                      _date(rng, 2023, 2024)))
    con.executemany("INSERT INTO Shipment VALUES (?,?,?,?,?,?,?)", ships)


HOOPS_SCHEMA = """
CREATE TABLE Team (
  Team_ID INTEGER PRIMARY KEY, Team_Name TEXT, Home_City TEXT, Conference TEXT, Founded INTEGER,
  Arena_Capacity INTEGER);
CREATE TABLE Coach (
  Coach_ID INTEGER PRIMARY KEY, Name TEXT, Team_ID INTEGER REFERENCES Team(Team_ID),
  Since_Year INTEGER, Nationality TEXT);
CREATE TABLE Player (
  Player_ID INTEGER PRIMARY KEY, Name TEXT, Team_ID INTEGER REFERENCES Team(Team_ID),
  Position TEXT, Height_cm INTEGER, Birth_Year INTEGER, Nationality TEXT, Salary_K INTEGER);
CREATE TABLE Game (
  Game_ID INTEGER PRIMARY KEY, Season INTEGER, Game_Date TEXT,
  Home_Team_ID INTEGER REFERENCES Team(Team_ID), Away_Team_ID INTEGER REFERENCES Team(Team_ID),
  Home_Score INTEGER, Away_Score INTEGER);
CREATE TABLE Player_Stat (
  Game_ID INTEGER REFERENCES Game(Game_ID), Player_ID INTEGER REFERENCES Player(Player_ID),
  Points INTEGER, Rebounds INTEGER, Assists INTEGER, PRIMARY KEY (Game_ID, Player_ID));
"""


def build_hoops(con: sqlite3.Connection, rng: random.Random) -> None:
    con.executescript(HOOPS_SCHEMA)
    teams = [(1, "Marsh Herons", "Savannah", "East", 1971, 18200),
             (2, "Copper Foxes", "Tucson", "West", 1988, 15400),
             (3, "Harbor Seals", "Portland", "West", 1969, 19900),
             (4, "Granite Bears", "Concord", "East", 1994, 12800),
             (5, "Prairie Comets", "Wichita", "West", 2003, 14100),
             (6, "River Otters", "Richmond", "East", 1979, 16700),
             (7, "Desert Hawks", "Albuquerque", "West", 2010, 13300),
             (8, "Bay Gulls", "Norfolk", "East", 1985, 17500)]
    con.executemany("INSERT INTO Team VALUES (?,?,?,?,?,?)", teams)
    nats = ["USA", "USA", "USA", "Canada", "Serbia", "France", "Nigeria", "Australia", "Spain"]
    coaches = [(i + 1, f"{f} {la}", i + 1, rng.randint(2012, 2024), rng.choice(nats))
               for i, (f, la) in enumerate(_people(rng, 8))]
    con.executemany("INSERT INTO Coach VALUES (?,?,?,?,?)", coaches)
    heights = {"Guard": (180, 198), "Forward": (196, 208), "Center": (205, 221)}
    players = []
    for i, (f, la) in enumerate(_people(rng, 64)):
        pos = rng.choice(["Guard", "Guard", "Forward", "Forward", "Center"])
        lo, hi = heights[pos]
        players.append((i + 1, f"{f} {la}", i % 8 + 1, pos, rng.randint(lo, hi),
                        rng.randint(1988, 2004), rng.choice(nats), rng.randrange(900, 42000, 100)))
    con.executemany("INSERT INTO Player VALUES (?,?,?,?,?,?,?,?)", players)
    games = []
    for i in range(60):
        h, a = rng.sample(range(1, 9), 2)
        season = 2023 if i < 30 else 2024
        games.append((i + 1, season, _date(rng, season, season), h, a, rng.randint(88, 128),
                      rng.randint(85, 125)))
    con.executemany("INSERT INTO Game VALUES (?,?,?,?,?,?,?)", games)
    stats = []
    for g in games[:16]:
        for team in (g[3], g[4]):
            roster = [p for p in players if p[2] == team][:6]
            for p in roster[:rng.randint(4, 6)]:
                stats.append((g[0], p[0], rng.randint(0, 38), rng.randint(0, 15), rng.randint(0, 12)))
    con.executemany("INSERT INTO Player_Stat VALUES (?,?,?,?,?)", stats[:200])


BUILDERS = {"city_library": build_library, "clinic": build_clinic, "fleet": build_fleet,
            "hoops_league": build_hoops}


def build_database(db_id: str, path: Path) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA foreign_keys = ON")
    with con:
        BUILDERS[db_id](con, random.Random(f"chatdb-ownset-{db_id}"))
    bad = con.execute("PRAGMA foreign_key_check").fetchall()
    con.close()
    if bad:
        raise SystemExit(f"{db_id}: foreign key violations {bad[:3]}")


# --------------------------------------------------------------------------- hardness
# A port of Spider's difficulty rules (evaluation.py: count_component1, count_component2,
# count_others, eval_hardness) over the same parse shape process_sql.py builds. Only the
# parts the rules read are kept. Spider's quirks are kept on purpose, so that our labels
# mean what Spider dev's labels mean:
#   * `has_agg` reads element 0 of a condition, which is its NOT flag, so each NOT IN /
#     NOT LIKE in WHERE counts as an aggregation, and in HAVING the 'and'/'or' joiners
#     count too while HAVING count(*) > 1 itself counts nothing;
#   * only the outermost query is scored; a subquery or set operation adds 1 as "nested".
# The parser refuses what process_sql.py cannot parse (comma joins, IS NULL, EXISTS,
# CASE, functions other than the five aggregates), so gold SQL stays in Spider's grammar.

TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*"""
                   r"""(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\*))?|!=|<>|>=|<=|[=<>(),*;+\-/]""")
CLAUSE = {"from", "where", "group", "having", "order", "limit"}
SET_OPS = {"intersect", "union", "except"}
AGGS = {"max", "min", "count", "sum", "avg"}
ALLOWED_WORDS = AGGS | CLAUSE | SET_OPS | {
    "select", "distinct", "as", "join", "on", "and", "or", "not", "in", "like", "between",
    "by", "asc", "desc"}


@dataclass
class Cond:
    negated: bool
    like: bool
    nested: int


@dataclass
class Shape:
    """What Spider's hardness rules read from one SELECT (its process_sql dict)."""

    select_aggs: list[bool] = field(default_factory=list)
    table_units: int = 0
    from_conds: list[Cond | str] = field(default_factory=list)
    where: list[Cond | str] = field(default_factory=list)
    group_by: int = 0
    having: list[Cond | str] = field(default_factory=list)
    order_aggs: list[bool] = field(default_factory=list)
    limit: bool = False
    set_op: bool = False


def tokenize(sql: str) -> list[str]:
    out, pos = [], 0
    for m in TOKEN.finditer(sql):
        if sql[pos:m.start()].strip():
            raise ValueError(f"cannot tokenize {sql[pos:m.start()]!r}")
        tok = m.group()
        out.append(tok if tok[0] in "'\"" else tok.lower())
        pos = m.end()
    if sql[pos:].strip():
        raise ValueError(f"cannot tokenize {sql[pos:]!r}")
    while out and out[-1] == ";":
        out.pop()
    return out


def _split(toks: list[str], seps: set[str]) -> list[list[str]]:
    """Split at separators outside parentheses; a BETWEEN's AND is not a separator."""
    parts, cur, depth, between = [], [], 0, False
    for tok in toks:
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        if depth == 0 and tok in seps and not (tok == "and" and between):
            parts.append(cur)
            parts.append(tok)
            cur = []
            continue
        if depth == 0 and tok == "between":
            between = True
        elif depth == 0 and tok == "and":
            between = False
        cur.append(tok)
    parts.append(cur)
    return parts


def _nested_selects(toks: list[str]) -> int:
    depth, n = 0, 0
    for i, tok in enumerate(toks):
        if tok == "(":
            if depth == 0 and i + 1 < len(toks) and toks[i + 1] == "select":
                parse_shape(_inside(toks, i))
                n += 1
            depth += 1
        elif tok == ")":
            depth -= 1
    return n


def _inside(toks: list[str], open_at: int) -> list[str]:
    depth = 0
    for j in range(open_at, len(toks)):
        depth += toks[j] == "("
        depth -= toks[j] == ")"
        if depth == 0:
            return toks[open_at + 1:j]
    raise ValueError("unbalanced parentheses")


def _conditions(toks: list[str]) -> list[Cond | str]:
    out: list[Cond | str] = []
    for part in _split(toks, {"and", "or"}):
        if isinstance(part, str):
            out.append(part)
            continue
        top = [t for t, d in zip(part, _depths(part), strict=True) if d == 0]
        if not part or top[0] == "not":
            raise ValueError("Spider parses no leading NOT")
        out.append(Cond(negated="not" in top, like="like" in top, nested=_nested_selects(part)))
    return out


def _depths(toks: list[str]) -> list[int]:
    out, depth = [], 0
    for tok in toks:
        if tok == ")":
            depth -= 1
        out.append(depth)
        if tok == "(":
            depth += 1
    return out


def _is_agg(item: list[str]) -> bool:
    return len(item) > 1 and item[0] in AGGS and item[1] == "("


def _check_words(toks: list[str]) -> None:
    for i, tok in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if nxt == "(" and tok not in AGGS | {"in", "from", "(", "and", "or", "not", ","} | CLAUSE:
            if tok not in {"=", "<", ">", ">=", "<=", "!=", "<>", "+", "-", "*", "/"}:
                raise ValueError(f"Spider's grammar has no function {tok!r}")
        if tok in {"is", "exists", "case", "null", "having_", "cast"}:
            raise ValueError(f"Spider's grammar has no {tok!r}")


def parse_shape(toks: list[str]) -> Shape:
    """The clauses of the outermost SELECT in `toks` (a tokenized SELECT statement)."""
    _check_words(toks)
    if not toks or toks[0] != "select":
        raise ValueError("expected SELECT")
    clauses: dict[str, list[str]] = {"select": []}
    current, depth, shape = "select", 0, Shape()
    for i, tok in enumerate(toks[1:], start=1):
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        if depth == 0 and tok in SET_OPS:
            parse_shape(toks[i + 1:])
            shape.set_op = True
            break
        if depth == 0 and tok in CLAUSE:
            if tok in clauses:
                raise ValueError(f"two {tok} clauses")
            current = tok
            clauses[current] = []
            continue
        clauses[current].append(tok)
    if "from" not in clauses:
        raise ValueError("no FROM")
    items = clauses["select"][1:] if clauses["select"][:1] == ["distinct"] else clauses["select"]
    shape.select_aggs = [_is_agg(p) for p in _split(items, {","}) if not isinstance(p, str)]
    for n, part in enumerate(p for p in _split(clauses["from"], {"join"}) if not isinstance(p, str)):
        if "," in [t for t, d in zip(part, _depths(part), strict=True) if d == 0]:
            raise ValueError("Spider parses no comma joins")
        shape.table_units += 1
        if part and part[0] == "(":
            parse_shape(_inside(part, 0))
        if "on" in part:
            if n == 0:
                raise ValueError("ON without JOIN")
            if shape.from_conds:
                shape.from_conds.append("and")
            shape.from_conds += _conditions(part[part.index("on") + 1:])
    shape.where = _conditions(clauses["where"]) if "where" in clauses else []
    if "group" in clauses:
        shape.group_by = len([p for p in _split(clauses["group"][1:], {","})
                              if not isinstance(p, str)])
    shape.having = _conditions(clauses["having"]) if "having" in clauses else []
    if "order" in clauses:
        for item in _split(clauses["order"][1:], {","}):
            if isinstance(item, str):
                continue
            if item[-1] in ("asc", "desc"):
                item = item[:-1]
            operands = [p for p in _split(item, {"+", "-", "*", "/"}) if not isinstance(p, str)]
            shape.order_aggs += [_is_agg(p) for p in operands[:2]]
        if not shape.order_aggs:
            shape.order_aggs = [False]
    shape.limit = "limit" in clauses
    return shape


def _conds(units: list[Cond | str]) -> list[Cond]:
    return [u for u in units if isinstance(u, Cond)]


def component1(s: Shape) -> int:
    count = sum(bool(x) for x in (s.where, s.group_by, s.order_aggs, s.limit))
    count += max(s.table_units - 1, 0)
    count += (s.from_conds + s.where + s.having).count("or")
    count += sum(c.like for c in _conds(s.from_conds + s.where + s.having))
    return count


def component2(s: Shape) -> int:
    return sum(c.nested for c in _conds(s.from_conds + s.where + s.having)) + s.set_op


def others(s: Shape) -> int:
    aggs = sum(s.select_aggs) + sum(c.negated for c in _conds(s.where))
    aggs += sum(s.order_aggs)
    # Spider's has_agg over HAVING: a joiner string is truthy, a condition counts its NOT
    aggs += sum(True if isinstance(u, str) else u.negated for u in s.having)
    where_len = len(s.where)
    return (aggs > 1) + (len(s.select_aggs) > 1) + (where_len > 1) + (s.group_by > 1)


def hardness(sql: str) -> str:
    """Spider's easy / medium / hard / extra for one SQLite gold query."""
    s = parse_shape(tokenize(sql))
    c1, c2, co = component1(s), component2(s), others(s)
    if c1 <= 1 and co == 0 and c2 == 0:
        return "easy"
    if (co <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and co < 2 and c2 == 0):
        return "medium"
    if ((co > 2 and c1 <= 2 and c2 == 0) or (2 < c1 <= 3 and co <= 2 and c2 == 0)
            or (c1 <= 1 and co == 0 and c2 <= 1)):
        return "hard"
    return "extra"


# --------------------------------------------------------------------------- questions

@dataclass
class Example:
    question: str
    query: str


def read_source(path: Path) -> list[Example]:
    """Blocks of 'Q: question' then the gold SQL on the following lines."""
    out = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip()):
        lines = [ln for ln in block.splitlines() if not ln.startswith("#")]
        if not lines:
            continue
        if not lines[0].startswith("Q: ") or len(lines) < 2:
            raise SystemExit(f"{path.name}: malformed block {block[:60]!r}")
        out.append(Example(lines[0][3:].strip(), " ".join(ln.strip() for ln in lines[1:])))
    return out


def label(db_id: str, start: int) -> list[dict]:
    con = sqlite3.connect(HERE / "databases" / f"{db_id}.sqlite")
    rows = []
    for i, ex in enumerate(read_source(HERE / "source" / f"{db_id}.txt")):
        result = con.execute(ex.query).fetchall()
        if not result or all(v is None for r in result for v in r):
            raise SystemExit(f"{db_id}: gold query returns nothing: {ex.query}")
        rows.append({"dev_index": start + i, "db_id": db_id, "question": ex.question,
                     "query": ex.query, "hardness": hardness(ex.query)})
    con.close()
    return rows


def main() -> None:
    (HERE / "databases").mkdir(exist_ok=True)
    (HERE / "questions").mkdir(exist_ok=True)
    start = 0
    for db_id in DB_IDS:
        build_database(db_id, HERE / "databases" / f"{db_id}.sqlite")
        if not (HERE / "source" / f"{db_id}.txt").exists():
            continue
        rows = label(db_id, start)
        start += len(rows)
        text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
        (HERE / "questions" / f"{db_id}.json").write_text(text, encoding="utf-8")
        counts = {h: sum(r["hardness"] == h for r in rows) for h in ("easy", "medium", "hard", "extra")}
        print(db_id, len(rows), counts, file=sys.stderr)


if __name__ == "__main__":
    main()
