"""Valid time: precisions, windows and impossible dates."""

from datetime import date

import pytest

from events.validtime import InvalidValidTime, ValidTime, parse_date


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


@pytest.mark.parametrize("text", ["２０２４", "202⁴", "٢٠٢٤", "2024-0²", "10000", "2024-04-11T00:00", "2024/", "/2024",
                                  "2024-04-11/soon", "1900-02-29", "2024-W15"])
def test_other_digits_and_other_forms_are_refused(text):
    with pytest.raises(InvalidValidTime):
        ValidTime.parse(text)


@pytest.mark.parametrize("value", [2024, 2024.0, None, ["2024"], {"year": 2024}])
def test_only_text_and_dates_are_valid_times(value):
    with pytest.raises(InvalidValidTime, match="must be a string"):
        ValidTime.parse(value)


def test_a_calendar_date_and_a_valid_time_pass_as_themselves():
    v = ValidTime.parse(date(2024, 2, 29))
    assert (v.text, v.earliest, v.latest, v.precision, v.certain) == ("2024-02-29", date(2024, 2, 29),
                                                                      date(2024, 2, 29), "day", True)
    assert ValidTime.parse(v) is v
    assert str(ValidTime.parse("2015-12/2017")) == "2015-12/2017"


def test_surrounding_space_is_trimmed_from_the_text_kept():
    assert ValidTime.parse(" 2024-04 ").text == "2024-04"


def test_a_window_of_one_day_is_certain_and_its_sides_keep_their_precision():
    one = ValidTime.parse("2024-01-01/2024-01-01")
    assert (one.precision, one.certain) == ("range", True)
    wide = ValidTime.parse("2023/2024-02")
    assert (wide.earliest, wide.latest, wide.certain) == (date(2023, 1, 1), date(2024, 2, 29), False)


def test_the_first_and_last_years_are_bounded():
    assert ValidTime.parse("0001").earliest == date(1, 1, 1)
    assert ValidTime.parse("9999-12").latest == date(9999, 12, 31)


@pytest.mark.parametrize("value,expected", [("2024-04-11", date(2024, 4, 11)), (" 2024-04-11 ", date(2024, 4, 11)),
                                            (date(2020, 1, 2), date(2020, 1, 2))])
def test_parse_date_takes_full_dates(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value,message", [("2024-04", "full date"), ("2024", "full date"), ("2024-02-30", "no day 30"),
                                           ("unknown", "is not a date"), (20240411, "must be a date")])
def test_parse_date_refuses_anything_less_than_a_day(value, message):
    with pytest.raises(InvalidValidTime, match=message):
        parse_date(value)
