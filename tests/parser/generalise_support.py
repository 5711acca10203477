"""Schemas of our own in naming styles the language side was not written against —
camelCase with unit suffixes (a library), snake_case with abbreviations (a sports
league), PascalCase / Title_Case (a clinic), and short codes with thousands (a fleet) —
with rows in SQLite, so a test asserts the rows a person would get back."""

from __future__ import annotations

from servers.parser.domain import ColumnKind, SchemaView
from tests.parser.language_support import Database, database, table

T, INT, N, D = ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.NUMBER, ColumnKind.DATE


# ------------------------------------------------------------------ library (camelCase)

LIBRARY = SchemaView(
    (
        table(
            "author",
            [("authorId", INT), ("fullName", T), ("bornYr", INT), ("nationality", T)],
            "authorId",
        ),
        table(
            "book",
            [
                ("bookId", INT),
                ("title", T),
                ("authorId", INT),
                ("pageCount", INT),
                ("pubYear", INT),
                ("genre", T),
                ("priceUsd", N),
            ],
            "bookId",
            [("authorId", "author", "authorId")],
        ),
        table(
            "member",
            [
                ("memberId", INT),
                ("firstName", T),
                ("lastName", T),
                ("birthYear", INT),
                ("homeCity", T),
                ("membershipType", T),
            ],
            "memberId",
        ),
        table(
            "loan",
            [
                ("loanId", INT),
                ("bookId", INT),
                ("memberId", INT),
                ("loanDate", D),
                ("fineAmt", N),
            ],
            "loanId",
            [("bookId", "book", "bookId"), ("memberId", "member", "memberId")],
        ),
    )
)

LIBRARY_ROWS = {
    "author": [
        (1, "Mira Holt", 1899, "British"),
        (2, "Tomas Brandt", 1935, "German"),
        (3, "Lena Ortiz", 1978, "Spanish"),
        (4, "Owen Park", 1905, "British"),
    ],
    "book": [
        (1, "Quiet Rivers", 1, 320, 1931, "fiction", 12.5),
        (2, "Cold Stars", 2, 540, 1970, "science", 20.0),
        (3, "The Salt Road", 3, 210, 2011, "fiction", 9.0),
        (4, "Winter Maps", 4, 880, 1950, "history", 31.0),
        (5, "Small Engines", 2, 150, 1982, "science", 7.5),
    ],
    "member": [
        (1, "Ivy", "Reed", 1990, "Leeds", "premium"),
        (2, "Noah", "Bell", 2004, "York", "standard"),
        (3, "Ruth", "Kim", 1961, "Leeds", "standard"),
        (4, "Sam", "Cole", 1985, "Bath", "premium"),
    ],
    "loan": [
        (1, 1, 1, "2025-01-05", 0.0),
        (2, 2, 1, "2025-02-11", 2.5),
        (3, 3, 2, "2025-03-01", 0.0),
        (4, 4, 3, "2025-03-15", 6.0),
        (5, 1, 4, "2025-04-02", 1.5),
        (6, 5, 1, "2025-05-20", 0.0),
    ],
}


def library() -> Database:
    return database(LIBRARY, LIBRARY_ROWS)


# ------------------------------------------------------- sports (snake_case, abbreviations)

SPORTS = SchemaView(
    (
        table(
            "league",
            [("league_id", INT), ("league_name", T), ("country", T)],
            "league_id",
        ),
        table(
            "team",
            [("team_id", INT), ("team_name", T), ("city", T), ("founded", INT), ("league_id", INT)],
            "team_id",
            [("league_id", "league", "league_id")],
        ),
        table(
            "player",
            [
                ("player_id", INT),
                ("fname", T),
                ("lname", T),
                ("team_id", INT),
                ("height_cm", INT),
                ("weight_kg", N),
                ("yrs_exp", INT),
                ("birth_yr", INT),
                ("total_points", INT),
            ],
            "player_id",
            [("team_id", "team", "team_id")],
        ),
    )
)

SPORTS_ROWS = {
    "league": [(1, "Northern League", "England"), (2, "Coastal League", "Spain")],
    "team": [
        (1, "Harbor Hawks", "Dover", 1921, 1),
        (2, "Valley Rams", "Leeds", 1965, 1),
        (3, "Bay Sharks", "Cadiz", 1948, 2),
    ],
    "player": [
        (1, "Ari", "Lund", 1, 201, 105.0, 12, 1990, 880),
        (2, "Ben", "Moss", 1, 188, 82.5, 3, 2003, 240),
        (3, "Cal", "Nye", 2, 195, 98.0, 30, 1975, 1500),
        (4, "Dev", "Oak", 3, 178, 71.0, 7, 1998, 410),
        (5, "Eli", "Pratt", 3, 210, 112.0, 1, 2005, 90),
    ],
}


def sports() -> Database:
    return database(SPORTS, SPORTS_ROWS)


# -------------------------------------------------------- clinic (PascalCase, Title_Case)

CLINIC = SchemaView(
    (
        table(
            "Patient",
            [
                ("PatientID", INT),
                ("Full_Name", T),
                ("Insurance_Status", T),
                ("Age", INT),
                ("Weight_Kg", N),
            ],
            "PatientID",
        ),
        table(
            "Drug",
            [("DrugID", INT), ("Drug_Name", T), ("Unit_Price_Usd", N), ("Form", T)],
            "DrugID",
        ),
        table(
            "Prescription",
            [("RxID", INT), ("PatientID", INT), ("DrugID", INT), ("Qty", INT)],
            "RxID",
            [("PatientID", "Patient", "PatientID"), ("DrugID", "Drug", "DrugID")],
        ),
    )
)

CLINIC_ROWS = {
    "Patient": [
        (1, "Hana Ito", "insured", 34, 61.0),
        (2, "Omar Diaz", "uninsured", 58, 92.5),
        (3, "Lea Novak", "insured", 71, 70.0),
        (4, "Raj Mehta", "uninsured", 22, 80.0),
    ],
    "Drug": [
        (1, "Amoxil", 0.8, "tablet"),
        (2, "Ventolin", 12.0, "inhaler"),
        (3, "Lipitor", 1.5, "tablet"),
    ],
    "Prescription": [(1, 1, 1, 20), (2, 2, 2, 1), (3, 2, 3, 30), (4, 3, 3, 60), (5, 4, 1, 14)],
}


def clinic() -> Database:
    return database(CLINIC, CLINIC_ROWS)


# ------------------------------------------------- fleet (short codes, thousands, types)

FLEET = SchemaView(
    (
        table(
            "depot",
            [("depot_no", INT), ("depot_name", T), ("depot_type", T), ("region", T)],
            "depot_no",
        ),
        table(
            "vehicle",
            [
                ("vehicle_no", INT),
                ("plate", T),
                ("vehicle_type", T),
                ("depot_no", INT),
                ("payload_kg", INT),
                ("list_price_k", N),
                ("mileage_km", INT),
            ],
            "vehicle_no",
            [("depot_no", "depot", "depot_no")],
        ),
    )
)

FLEET_ROWS = {
    "depot": [
        (1, "North Yard", "Center", "north"),
        (2, "East Gate", "Hub", "east"),
        (3, "South Point", "Center", "south"),
    ],
    "vehicle": [
        (1, "AB-101", "van", 1, 1200, 38.0, 52000),
        (2, "AB-102", "truck", 1, 9000, 95.0, 120000),
        (3, "CD-201", "van", 2, 1100, 41.5, 8000),
        (4, "CD-202", "car", 3, 400, 22.0, 61000),
        (5, "EF-301", "van", 3, 1300, 44.0, 30000),
    ],
}


def fleet() -> Database:
    return database(FLEET, FLEET_ROWS)


# ------------------------------------------- films (PascalCase with units in the names)

FILMS = SchemaView(
    (
        table(
            "Movie",
            [
                ("MovieID", INT),
                ("Title", T),
                ("ReleaseYr", INT),
                ("RuntimeMin", INT),
                ("BudgetUsdM", N),
                ("Rating", N),
            ],
            "MovieID",
        ),
        table(
            "Actor", [("ActorID", INT), ("Name", T), ("BirthYr", INT), ("Gender", T)], "ActorID"
        ),
        table(
            "Cast",
            [("MovieID", INT), ("ActorID", INT), ("RoleName", T)],
            "",
            [("MovieID", "Movie", "MovieID"), ("ActorID", "Actor", "ActorID")],
        ),
    )
)

FILMS_ROWS = {
    "Movie": [
        (1, "Red Sky", 1995, 130, 80.0, 7.1),
        (2, "Blue Moon", 2005, 95, 150.0, 6.2),
        (3, "Green Sea", 2019, 142, 40.0, 8.3),
    ],
    "Actor": [(1, "Kay Lee", 1960, "F"), (2, "Jon Roe", 1985, "M"), (3, "Ana Paz", 1992, "F")],
    "Cast": [(1, 1, "Lead"), (2, 2, "Villain"), (3, 3, "Lead"), (3, 1, "Mentor")],
}


def films() -> Database:
    return database(FILMS, FILMS_ROWS)


# ------------------------------------------------ staff (classic short column names)

STAFF = SchemaView(
    (
        table("dept", [("deptNo", INT), ("deptName", T), ("loc", T)], "deptNo"),
        table(
            "emp",
            [
                ("empNo", INT),
                ("empName", T),
                ("jobTitle", T),
                ("deptNo", INT),
                ("hireDt", D),
                ("salAmt", N),
                ("commPct", N),
            ],
            "empNo",
            [("deptNo", "dept", "deptNo")],
        ),
    )
)

STAFF_ROWS = {
    "dept": [(10, "Research", "Boston"), (20, "Sales", "Chicago")],
    "emp": [
        (1, "Kim", "Manager", 10, "2012-03-01", 9000.0, 0.0),
        (2, "Lu", "Clerk", 20, "2018-07-15", 3000.0, 12.5),
        (3, "Mo", "Analyst", 10, "2016-01-20", 6000.0, 0.0),
        (4, "Ng", "Salesman", 20, "2020-11-02", 4000.0, 15.0),
    ],
}


def staff() -> Database:
    return database(STAFF, STAFF_ROWS)


# ----------------------------------- clubs (dates of birth, *_yr, thousands, per-match counts)

CLUBS = SchemaView(
    (
        table(
            "club",
            [
                ("club_id", INT),
                ("club_name", T),
                ("founded_yr", INT),
                ("stadium_built", INT),
                ("town", T),
            ],
            "club_id",
        ),
        table(
            "coach",
            [
                ("coach_id", INT),
                ("coach_name", T),
                ("dob", D),
                ("club_id", INT),
                ("salary_k", N),
                ("place", T),
            ],
            "coach_id",
            [("club_id", "club", "club_id")],
        ),
        table(
            "match",
            [("match_id", INT), ("club_id", INT), ("match_date", D), ("goals", INT)],
            "match_id",
            [("club_id", "club", "club_id")],
        ),
    )
)

CLUBS_ROWS = {
    "club": [(1, "Rovers", 1888, 1920, "Derby"), (2, "United", 1902, 1999, "Hull")],
    "coach": [
        (1, "Ann", "1970-05-01", 1, 120.0, "Derby"),
        (2, "Bo", "1985-02-11", 2, 80.0, "Hull"),
    ],
    "match": [(1, 1, "2024-03-01", 2), (2, 1, "2024-04-01", 1), (3, 2, "2024-04-05", 3)],
}


def clubs() -> Database:
    return database(CLUBS, CLUBS_ROWS)
