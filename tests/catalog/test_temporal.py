"""RFC 3339 date-times and the STAC datetime parameter (``catalog.temporal``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.errors import InvalidDatetime
from catalog.temporal import Interval, format_rfc3339, parse_interval, parse_rfc3339

T0 = datetime(2020, 7, 23, 0, 0, tzinfo=UTC)
T1 = datetime(2021, 1, 1, 0, 0, tzinfo=UTC)

VALID = {
    "zulu": ("2020-07-23T00:00:00Z", T0),
    "lower-case-t-and-z": ("2020-07-23t00:00:00z", T0),
    "space-separator": ("2020-07-23 00:00:00Z", T0),
    "positive-offset": ("2020-07-23T03:00:00+03:00", T0),
    "negative-offset": ("2020-07-22T16:00:00-08:00", T0),
    "negative-zero-offset": ("2020-07-23T00:00:00-00:00", T0),
    "one-fraction-digit": ("2020-07-23T00:00:00.5Z", T0.replace(microsecond=500000)),
    "six-fraction-digits": ("2020-07-23T00:00:00.012345Z", T0.replace(microsecond=12345)),
    "nine-fraction-digits-truncated": (
        "2020-07-23T00:00:00.012345678Z", T0.replace(microsecond=12345)
    ),
    "offset-crossing-midnight": ("2020-07-22T23:30:00-00:30", T0),
}


@pytest.mark.parametrize(("text", "expected"), VALID.values(), ids=VALID.keys())
def test_valid_date_time_parses_to_utc(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert (parsed, parsed.utcoffset()) == (expected, expected.utcoffset())


INVALID = {
    "date-only": "1985-04-12",
    "no-offset": "1985-12-12T23:20:50.52",
    "offset-without-colon": "1937-01-01T12:00:27.87+0100",
    "two-digit-year": "37-01-01T12:00:27.87Z",
    "five-digit-year": "21985-12-12T23:20:50.52Z",
    "month-13": "1985-13-12T23:20:50.52Z",
    "day-32": "1985-12-32T23:20:50.52Z",
    "february-30": "2021-02-30T00:00:00Z",
    "hour-25": "1985-12-01T25:20:50.52Z",
    "minute-60": "1985-12-01T00:60:50.52Z",
    "second-61": "1990-12-31T23:59:61Z",
    "dot-without-digits": "1985-04-12T23:20:50.Z",
    "comma-fraction": "1985-04-12T23:20:50,52Z",
    "word": "yesterday",
    "empty": "",
    "not-a-string": 20200101,
    "out-of-range-once-in-utc": "9999-12-31T23:59:59-12:00",
}


@pytest.mark.parametrize("value", INVALID.values(), ids=INVALID.keys())
def test_invalid_date_time_raises_invalid_datetime(value: object) -> None:
    with pytest.raises(InvalidDatetime):
        parse_rfc3339(value)


def test_error_names_the_field() -> None:
    with pytest.raises(InvalidDatetime, match=r"^start_datetime: "):
        parse_rfc3339("nope", field="start_datetime")


def test_format_writes_utc_with_z() -> None:
    moment = datetime(2020, 7, 23, 3, 0, 0, 120000, tzinfo=UTC)
    assert format_rfc3339(parse_rfc3339("2020-07-23T06:00:00.12+03:00")) == format_rfc3339(
        moment
    ) == "2020-07-23T03:00:00.120000Z"


INTERVALS = {
    "instant": ("2020-07-23T00:00:00Z", Interval(T0, T0)),
    "closed": ("2020-07-23T00:00:00Z/2021-01-01T00:00:00Z", Interval(T0, T1)),
    "closed-single-instant": ("2020-07-23T00:00:00Z/2020-07-23T00:00:00Z", Interval(T0, T0)),
    "open-start": ("../2021-01-01T00:00:00Z", Interval(None, T1)),
    "empty-start": ("/2021-01-01T00:00:00Z", Interval(None, T1)),
    "open-end": ("2020-07-23T00:00:00Z/..", Interval(T0, None)),
    "empty-end": ("2020-07-23T00:00:00Z/", Interval(T0, None)),
    "offsets-on-both-sides": (
        "2020-07-23T01:00:00+01:00/2020-12-31T23:00:00-01:00", Interval(T0, T1)
    ),
}


@pytest.mark.parametrize(("text", "expected"), INTERVALS.values(), ids=INTERVALS.keys())
def test_interval_forms_parse(text: str, expected: Interval) -> None:
    assert parse_interval(text) == expected


BAD_INTERVALS = {
    "both-open": "../..",
    "bare-slash": "/",
    "open-then-empty": "../",
    "empty-then-open": "/..",
    "end-before-start": "1986-04-12T23:20:50.52Z/1985-04-12T23:20:50.52Z",
    "three-parts": "/1984-04-12T23:20:50.52Z/1985-04-12T23:20:50.52Z",
    "trailing-slash-after-interval": "1984-04-12T23:20:50.52Z/1985-04-12T23:20:50.52Z/",
    "malformed-end": "2020-07-23T00:00:00Z/tomorrow",
    "blank": "  ",
}


@pytest.mark.parametrize("text", BAD_INTERVALS.values(), ids=BAD_INTERVALS.keys())
def test_bad_interval_raises_invalid_datetime(text: str) -> None:
    with pytest.raises(InvalidDatetime):
        parse_interval(text)
