"""The user's words → Cargo's wire values (no network)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import pytest

from cargo_mcp.api.client import query_string
from cargo_mcp.api.requests import iso
from cargo_mcp.api.retry import RetryPolicy, parse_retry_after
from cargo_mcp.api.vocabulary import (
    InputError,
    executions_filter,
    filter_slugs,
    run_statuses,
    uuid_arg,
    when,
    when_read,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("words", "wire"),
    [
        (["finished"], ["success"]),
        (["completed", "succeeded"], ["success"]),
        (["failed", "Failure"], ["error"]),
        (["canceled"], ["cancelled"]),
        (["pending", "running", "error"], ["pending", "running", "error"]),
    ],
)
def test_status_synonyms(words: list[str], wire: list[str]) -> None:
    got, notes = run_statuses(words)
    assert got == wire
    assert bool(notes) == any(w.lower() not in wire for w in words)


def test_unknown_status_names_the_allowed_values() -> None:
    with pytest.raises(InputError, match=r"unknown run status 'broken'.*idle, pending, running, success, error"):
        run_statuses(["broken"])


def test_node_status_compiles_to_executions_filter() -> None:
    wire, notes = executions_filter(
        {"enrich": "failed", "score": "absent", "find": {"status": "error", "contains": "429"}}
    )
    assert wire == {
        "conjonction": "and",
        "groups": [
            {
                "conjonction": "and",
                "conditions": [
                    {"kind": "node", "nodeSlug": "enrich", "status": "error"},
                    {"kind": "node", "nodeSlug": "score", "status": "absent"},
                    {"kind": "node", "nodeSlug": "find", "status": "error", "value": "429"},
                ],
            }
        ],
    }
    assert notes == ["node_status enrich='failed' was read as 'error'"]


def test_node_status_takes_cargos_value_key_and_its_whole_filter() -> None:
    wire, _ = executions_filter({"find": {"status": "error", "value": "429"}})
    assert wire is not None and wire["groups"][0]["conditions"] == [
        {"kind": "node", "nodeSlug": "find", "status": "error", "value": "429"}
    ]
    raw = {"conjonction": "or", "groups": [{"conditions": [{"kind": "node", "nodeSlug": "a", "status": "error"}]}]}
    wire, notes = executions_filter(raw)
    assert wire == {
        "conjonction": "or",
        "groups": [{"conjonction": "and", "conditions": [{"kind": "node", "nodeSlug": "a", "status": "error"}]}],
    }
    assert filter_slugs(wire) == ["a"] and "executionsFilter" in notes[0]
    docs_shape = {"groups": [{"conditions": [{"kind": "node", "nodeSlug": "a", "operator": "error"}]}]}
    with pytest.raises(InputError, match=r"looks like Cargo's executionsFilter but groups\.0\.conditions\.0"):
        executions_filter(docs_shape)


def test_comma_separated_statuses_are_split() -> None:
    assert run_statuses(["success,error"])[0] == ["success", "error"]
    assert run_statuses(["failed, finished"])[0] == ["error", "success"]


@pytest.mark.parametrize("bad", ["done-ish", {"state": "error"}, 3])
def test_bad_node_status(bad: object) -> None:
    with pytest.raises(InputError, match="node_status"):
        executions_filter({"enrich": bad})


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("24h", "2026-11-23T12:00:00.000Z"),
        ("7d", "2026-11-17T12:00:00.000Z"),
        ("last 30 minutes", "2026-11-24T11:30:00.000Z"),
        ("2w ago", "2026-11-10T12:00:00.000Z"),
        ("today", "2026-11-24T00:00:00.000Z"),
        ("2026-11-01", "2026-11-01T00:00:00.000Z"),
        ("2026-11-01T08:30:00+02:00", "2026-11-01T06:30:00.000Z"),
        ("2026-11-01T08:30:00Z", "2026-11-01T08:30:00.000Z"),
    ],
)
def test_dates(text: str, iso: str) -> None:
    assert when(text, "created_after", NOW) == iso


def test_a_whole_day_as_the_upper_bound_includes_that_day() -> None:
    assert when("2026-11-01", "created_before", NOW) == "2026-11-02T00:00:00.000Z"
    assert when("yesterday", "created_after", NOW) == "2026-11-23T00:00:00.000Z"
    assert when("yesterday", "created_before", NOW) == "2026-11-24T00:00:00.000Z"
    assert when("today", "created_before", NOW) == "2026-11-25T00:00:00.000Z"
    assert when("2026-11-01T08:30:00Z", "created_before", NOW) == "2026-11-01T08:30:00.000Z"  # a time stays


def test_bad_date_says_what_to_send() -> None:
    with pytest.raises(InputError, match=r"created_after = 'last tuesday' is not a date.*ISO-8601.*'24h'"):
        when("last tuesday", "created_after", NOW)


@pytest.mark.parametrize("weekday", range(7))
def test_a_weekday_gets_its_date_and_today_in_the_error(weekday: int) -> None:
    name = calendar.day_name[weekday]
    for today in (NOW + timedelta(days=d) for d in range(7)):  # every weekday as today
        days = (today.date() - timedelta(days=k) for k in range(1, 8))
        day = next(d for d in days if d.weekday() == weekday)  # the last one before today
        with pytest.raises(InputError) as e:
            when(f"last {name.lower()}", "created_after", today)
        assert f"(today is {today:%A} {today.date().isoformat()} UTC)" in str(e.value)
        assert f"For last {name} send '{day.isoformat()}'." in str(e.value)
        assert when(day.isoformat(), "created_after", today).startswith(day.isoformat())  # what it says is accepted


def test_a_last_unit_gets_its_relative_age() -> None:
    for words, age in (("last week", "7d"), ("past hour", "1h"), ("last month", "30d")):
        with pytest.raises(InputError, match=rf"For the last {words.split()[1]} send '{age}'"):
            when(words, "created_after", NOW)
        assert when(age, "created_after", NOW) < iso(NOW)
    with pytest.raises(InputError) as e:
        when("soonish", "created_after", NOW)
    assert " For " not in str(e.value)


def test_a_part_of_a_day_gets_its_day() -> None:
    for words, day in (("last night", "yesterday"), ("Last  Night", "yesterday"), ("this morning", "today")):
        with pytest.raises(InputError, match=rf"For {' '.join(words.lower().split())} send '{day}' \(the whole day"):
            when(words, "created_after", NOW)
        assert when(day, "created_after", NOW)  # what it says is accepted


def test_a_relative_date_is_echoed_as_what_it_was_read_as() -> None:
    assert when_read("yesterday", "created_after", NOW) == (
        "2026-11-23T00:00:00.000Z",
        ["created_after 'yesterday' was read as 2026-11-23T00:00:00.000Z"],
    )
    assert when_read("2026-11-01", "created_before", NOW) == ("2026-11-02T00:00:00.000Z", [])


def test_uuid_check() -> None:
    assert uuid_arg(" 3F2B1C9E-8D7A-4B6C-9E5F-1A2B3C4D5E6F ", "x") == "3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f"
    with pytest.raises(InputError, match="batch_uuid must be a UUID"):
        uuid_arg("batch-42", "batch_uuid")


def test_query_string_matches_the_official_client() -> None:
    assert query_string({"workflowUuids": ["a", "b"], "isFinished": True, "x": None, "limit": 5}) == [
        ("workflowUuids[]", "a"),
        ("workflowUuids[]", "b"),
        ("isFinished", "true"),
        ("limit", "5"),
    ]


def test_retry_after_and_backoff() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Tue, 24 Nov 2026 12:00:30 GMT", NOW) == 30.0
    assert parse_retry_after("soon") is None
    policy = RetryPolicy(base_delay=1, max_delay=4)
    assert all(0 <= policy.backoff(a) <= min(4, 2 ** (a - 1)) for a in range(1, 8) for _ in range(20))
    assert policy.backoff(1, retry_after=30) == 30
