"""CSV datasets under the data directory, and inline records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.contracts.ml.datasets import from_records, load_csv
from servers.runtime.errors import InvalidArgument, NotFound


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    return root


def write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.write_text(text, encoding=encoding)


def test_load_csv_infers_column_types(data_dir: Path) -> None:
    write(data_dir / "sub" / "people.csv",
          "\ufeffid,score,active,name,mixed,empty\n"
          "1,2.5,true,Zoë,1,\n"
          "2,,FALSE,\"Smith, J\",x,\n"
          "-3,1e3,, ,2.5,\n"
          "\n"
          "4,7,True,,3,\n")
    dataset = load_csv(data_dir, "sub/people.csv")
    assert dataset.columns == ("id", "score", "active", "name", "mixed", "empty")
    assert dataset.rows == [
        (1, 2.5, True, "Zoë", "1", None),
        (2, None, False, "Smith, J", "x", None),
        (-3, 1000.0, None, " ", "2.5", None),
        (4, 7.0, True, None, "3", None),
    ]
    assert type(dataset.rows[3][1]) is float


def test_load_csv_header_only(data_dir: Path) -> None:
    write(data_dir / "h.csv", "a,b\n")
    dataset = load_csv(data_dir, "h.csv")
    assert dataset.columns == ("a", "b") and dataset.rows == []


@pytest.mark.parametrize("path", ["../secret.csv", "sub/../../secret.csv", "/etc/passwd", "", "link.csv"])
def test_load_csv_refuses_paths_outside_the_data_dir(data_dir: Path, path: str) -> None:
    write(data_dir.parent / "secret.csv", "a\n1\n")
    os.symlink(data_dir.parent / "secret.csv", data_dir / "link.csv")
    with pytest.raises(InvalidArgument) as info:
        load_csv(data_dir, path)
    assert [v.field for v in info.value.violations] == ["dataset.csv_path"]


def test_load_csv_missing_file_names_the_path(data_dir: Path) -> None:
    with pytest.raises(NotFound) as info:
        load_csv(data_dir, "sub/nope.csv")
    assert "sub/nope.csv" in info.value.message
    assert str(data_dir) not in info.value.message  # no server paths in messages


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a,b\n1,2\n3\n", "line 3: 1 cells"),
        ("a,a\n1,2\n", "appears twice"),
        ("a,\n1,2\n", "has no name"),
        ("", "no header"),
    ],
)
def test_load_csv_rejects_malformed_files(data_dir: Path, text: str, needle: str) -> None:
    write(data_dir / "bad.csv", text)
    with pytest.raises(InvalidArgument) as info:
        load_csv(data_dir, "bad.csv")
    assert needle in info.value.message
    assert [v.field for v in info.value.violations] == ["dataset.csv_path"]


def test_load_csv_rejects_non_utf8(data_dir: Path) -> None:
    write(data_dir / "latin.csv", "name\ncafé\n", encoding="latin-1")
    with pytest.raises(InvalidArgument, match="not UTF-8"):
        load_csv(data_dir, "latin.csv")


def test_load_csv_rejects_a_directory(data_dir: Path) -> None:
    with pytest.raises(InvalidArgument, match="not a file"):
        load_csv(data_dir, "sub")


def test_from_records_takes_the_union_of_keys_in_first_seen_order() -> None:
    dataset = from_records([{"b": 1, "a": "x"}, {"c": True}, {"a": "y", "b": 2}])
    assert dataset.columns == ("b", "a", "c")
    assert dataset.rows == [(1, "x", None), (None, None, True), (2, "y", None)]


def test_from_records_rejects_non_objects() -> None:
    with pytest.raises(InvalidArgument) as info:
        from_records([{"a": 1}, [1, 2]])  # type: ignore[list-item]
    assert [v.field for v in info.value.violations] == ["dataset.records[1]"]


# --- the pyarrow reader gives what the reference reader gives ------------------------------

TRICKY = (
    "i,f,f_null,words,when,stamp,clock,flag,padded,under,text,empty,big\n"
    "1,2.5,,nan,2024-01-01,2024-01-01 10:00:00,10:00,true, 7,1_000,\"a\nb\",,1\n"
    "-3,1e3,0.5,1.5,2024-02-29,2024-01-02T11:30:00,11:15,FALSE,8 ,2,Zoë,,2\n"
    "0,-.5,7,inf,2024-03-01,2024-01-03 00:00:00,00:00,,9,3,\"x, y\",,3\n"
)


def test_the_fast_reader_agrees_with_the_reference_reader(data_dir: Path) -> None:
    from servers.contracts.ml.datasets import _load_with_arrow, _load_with_csv_module, _read_header

    write(data_dir / "t.csv", TRICKY)
    path = data_dir / "t.csv"
    header = _read_header(path, "t.csv")
    fast = _load_with_arrow(path, header)
    reference = _load_with_csv_module(path, "t.csv", header, None)
    assert fast is not None
    assert fast.columns == reference.columns
    assert list(fast.rows) == list(reference.rows)
    for a, b in zip(fast.rows, reference.rows, strict=True):
        assert [type(v) for v in a] == [type(v) for v in b]
    assert fast.fingerprint() == reference.fingerprint()
    assert load_csv(data_dir, "t.csv").rows == reference.rows
    # Spot checks of the shared rules: words are not numbers, dates stay text.
    assert reference.rows[0][3] == "nan" and reference.rows[0][4] == "2024-01-01"
    assert reference.rows[1][7] is False and reference.rows[0][8] == 7


def test_whole_numeric_columns_come_back_as_arrays(data_dir: Path) -> None:
    import numpy as np

    rows = "\n".join(f"{i},{i / 4},c{i % 3}" for i in range(1000))
    write(data_dir / "n.csv", "a,b,label\n" + rows + "\n")
    dataset = load_csv(data_dir, "n.csv")
    a, b, label = dataset.column_values()
    assert isinstance(a, np.ndarray) and a.dtype == np.int64
    assert isinstance(b, np.ndarray) and b.dtype == np.float64
    assert label[:2] == ("c0", "c1")
    assert dataset.rows[5] == (5, 1.25, "c2") and type(dataset.rows[5][0]) is int
    reference = from_records([{"a": i, "b": i / 4, "label": f"c{i % 3}"} for i in range(1000)])
    assert dataset.fingerprint() == reference.fingerprint()
