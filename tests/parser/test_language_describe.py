"""Questions about the schema itself are DESCRIBE: no statement runs."""

from servers.parser.domain import QueryKind
from tests.parser.language_support import shop


def test_describe_a_table():
    understanding = shop().understand("Describe the orders table")
    assert understanding.kind is QueryKind.DESCRIBE
    assert understanding.plan is None
    assert understanding.table == "orders"


def test_which_tables():
    understanding = shop().understand("Which tables are there?")
    assert (understanding.kind, understanding.table) == (QueryKind.DESCRIBE, "")


def test_a_question_about_rows_is_no_description():
    assert shop().understand("Which customers live in London?").kind is QueryKind.SELECT
