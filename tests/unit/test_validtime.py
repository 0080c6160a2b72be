"""Valid time: precisions, windows and impossible dates."""

from datetime import date

import pytest

from events.validtime import InvalidValidTime, ValidTime


@pytest.mark.parametrize("text,lo,hi,precision", [
    ("2024", date(2024, 1, 1), date(2024, 12, 31), "year"),
    ("2024-04", date(2024, 4, 1), date(2024, 4, 30), "month"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
    ("2023-02", date(2023, 2, 1), date(2023, 2, 28), "month"),
    ("2024-04-11", date(2024, 4, 11), date(2024, 4, 11), "day"),
    ("2023-11-29/2024-01-05", date(2023, 11, 29), date(2024, 1, 5), "range"),
    ("2015-12/2017", date(2015, 12, 1), date(2017, 12, 31), "range"),
])
def test_parse(text, lo, hi, precision):
    v = ValidTime.parse(text)
    assert (v.earliest, v.latest, v.precision, v.text) == (lo, hi, precision, text)
    assert v.certain == (precision == "day")


@pytest.mark.parametrize("text", ["2024-02-30", "2023-02-29", "2024-13", "2024-00", "0000", "24-01-01", "2024-1-1",
                                  "2024-05-01/2024-04-01", "soon", "", "2024-04-31"])
def test_impossible_dates_are_refused(text):
    with pytest.raises(InvalidValidTime):
        ValidTime.parse(text)


def test_unknown_is_unbounded():
    v = ValidTime.parse("unknown")
    assert v.precision == "unknown" and not v.certain and v.earliest < date(1000, 1, 1) < date(9000, 1, 1) < v.latest
