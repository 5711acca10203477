"""Two more schemas of our own: films (PascalCase, units and scales in the names) and
staff (the classic short names: empNo, salAmt, commPct, hireDt, loc)."""

import pytest

from tests.parser.generalise_support import films, staff
from tests.parser.language_support import flat


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which movies are longer than 120 minutes?", ["Green Sea", "Red Sky"]),
        ("How many movies were released before 2000?", [1]),
        ("Which movies had a budget over 100 million dollars?", ["Blue Moon"]),
        ("What is the runtime of the longest movie?", [142]),
        ("Who is the oldest actor?", ["Kay Lee"]),
        ("Who is the youngest actress?", ["Ana Paz"]),
        ("Which actors were born after 1980?", ["Ana Paz", "Jon Roe"]),
        ("How many female actors are there?", [2]),
        ("Which movies did Kay Lee act in?", ["Green Sea", "Red Sky"]),
        ("What is the average rating of movies released after 2000?", [7.25]),
        ("Which movie has the highest budget?", ["Blue Moon"]),
        ("How many actors appeared in Green Sea?", [2]),
        ("What role did Jon Roe play in Blue Moon?", ["Villain"]),
        ("Which pictures are rated above 7?", ["Green Sea", "Red Sky"]),
    ],
)
def test_films(question, expected):
    assert sorted(flat(films().ask(question))) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many employees were hired after 2015?", [3]),
        (
            "What is the average salary in each department?",
            [("Research", 7500.0), ("Sales", 3500.0)],
        ),
        ("Which employees earn a commission above 10 percent?", ["Lu", "Ng"]),
        ("List employees whose job title is Manager", ["Kim"]),
        ("Which employees work in Boston?", ["Kim", "Mo"]),
        ("What is the total salary of the research department?", [15000.0]),
        ("Who earns the highest salary?", ["Kim"]),
        ("How many clerks are there?", [1]),
        ("List the employees hired in 2016", ["Mo"]),
        ("What is the salary of the best paid employee?", [9000.0]),
        ("Which employees earn more than 5000?", ["Kim", "Mo"]),
        ("Which staff were employed after 2017?", ["Lu", "Ng"]),
        ("Who has the largest salary?", ["Kim"]),
        ("Show the names of employees located in Chicago", ["Lu", "Ng"]),
    ],
)
def test_staff(question, expected):
    assert sorted(flat(staff().ask(question))) == expected


def test_classic_short_names_link_exactly():
    db = staff()
    understanding = db.understand("What is the average commission?")
    assert not any("meaning" in note for note in understanding.notes)
    assert db.ask("What is the average commission?") == [(6.875,)]
    assert db.ask("What is the highest salary?") == [(9000.0,)]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which coaches were born before 1980?", ["Ann"]),
        ("How many coaches were born in 1985?", [1]),
        ("Which clubs were founded before 1900?", ["Rovers"]),
        ("Which clubs had their stadium built after 1950?", ["United"]),
        ("How many matches did each club play?", [("Rovers", 2), ("United", 1)]),
        ("How many matches has each club played?", [("Rovers", 2), ("United", 1)]),
        ("Which coaches earn more than 100 thousand?", ["Ann"]),
        ("How many goals did Rovers score?", [3]),
        ("Which club scored the most goals?", ["Rovers"]),
        ("What is the total number of goals scored by United?", [3]),
        ("Which coaches were born after 1975 and coach United?", ["Bo"]),
    ],
)
def test_clubs(question, expected):
    from tests.parser.generalise_support import clubs

    assert sorted(flat(clubs().ask(question))) == expected


def _orders():
    from servers.parser.domain import ColumnKind, SchemaView
    from tests.parser.language_support import database, table

    t, i, n, d = ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.NUMBER, ColumnKind.DATE
    schema = SchemaView(
        (
            table(
                "customer_tbl",
                [
                    ("CustID", i),
                    ("CustName", t),
                    ("Email_Addr", t),
                    ("CreditLimitUSD", n),
                    ("IsActive", t),
                ],
                "CustID",
            ),
            table(
                "tblOrderHeader",
                [("OrderNo", i), ("CustID", i), ("OrderDt", d), ("TotalAmt", n), ("ShipStatus", t)],
                "OrderNo",
                [("CustID", "customer_tbl", "CustID")],
            ),
        )
    )
    rows = {
        "customer_tbl": [
            (1, "Acme", "a@x.com", 5000.0, "Y"),
            (2, "Bolt", "b@x.com", 1500.0, "N"),
            (3, "Crux", "c@x.com", 9000.0, "Y"),
        ],
        "tblOrderHeader": [
            (10, 1, "2025-01-02", 250.0, "shipped"),
            (11, 1, "2025-02-03", 75.5, "pending"),
            (12, 3, "2025-05-30", 900.0, "shipped"),
        ],
    }
    return database(schema, rows)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many customers are there?", [3]),
        ("Which customers are active?", ["Acme", "Crux"]),
        ("How many orders did each customer place?", [("Acme", 2), ("Crux", 1)]),
        ("What is the total amount of all orders?", [1225.5]),
        ("Which customers have a credit limit above 4000 dollars?", ["Acme", "Crux"]),
        ("How many orders are pending?", [1]),
        ("Which customer placed the most orders?", ["Acme"]),
        ("Which customers have no orders?", ["Bolt"]),
        ("What is the average order amount?", [408.5]),
    ],
)
def test_prefixed_and_suffixed_table_names(question, expected):
    assert sorted(flat(_orders().ask(question))) == expected
