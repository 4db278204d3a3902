"""Preprocessing: stable ordering, sessions from gaps, filters repeated until stable, reports."""
import pandas as pd
import pytest

from zoo.datasets.prep import Report, filter_log, sessionize, sort_events
from zoo.errors import DataError


def frame(rows, columns=("SessionId", "ItemId", "Time")):
    return pd.DataFrame(rows, columns=list(columns)).astype({"Time": float})


def test_sort_is_natural_by_session_then_time_and_stable_on_ties():
    events = frame([("10", "a", 1), ("9", "b", 2), ("9", "c", 1), ("9", "d", 1), ("11", "e", 0)])
    assert sort_events(events)["ItemId"].tolist() == ["c", "d", "b", "a", "e"]
    events.loc[4, "SessionId"] = "x"  # not all digits: ids sort as text
    assert sort_events(events)["ItemId"].tolist() == ["a", "c", "d", "b", "e"]


def test_filter_counts_on_a_hand_example_repeat_until_stable():
    sessions = {"1": "ABC", "2": "AB", "3": "D", "4": "AE", "5": "BC"}
    events = frame([(s, item, t) for s, items in sessions.items() for t, item in enumerate(items)])
    filtered, report = filter_log(events, min_session_length=2, min_item_support=2)
    # Round 1 drops session 3 (one event) and item E (one event); session 4 is then [A], too short,
    # which only a second round drops.
    assert filtered.groupby("SessionId")["ItemId"].apply("".join).to_dict() == {"1": "ABC", "2": "AB", "5": "BC"}
    removed = [(r["step"], r["events_removed"], r["sessions_removed"], r["items_removed"]) for r in report.rows]
    assert removed == [
        ("sessions < 2 events (round 1)", 1, 1, 1),
        ("items < 2 events (round 1)", 1, 0, 1),
        ("sessions < 2 events (round 2)", 1, 1, 0),
        ("items < 2 events (round 2)", 0, 0, 0),
        ("sessions < 2 events (round 3)", 0, 0, 0),
        ("items < 2 events (round 3)", 0, 0, 0),
    ]
    assert report.rows[-1]["events"] == 7 and report.rows[-1]["sessions"] == 3 and report.rows[-1]["items"] == 3


def test_filter_needs_sessions():
    with pytest.raises(DataError, match="sessionize"):
        filter_log(frame([("u", "a", 1)], ("UserId", "ItemId", "Time")))


def test_sessionize_cuts_at_gaps_longer_than_the_limit():
    events = frame(
        [("u", "a", 0), ("v", "b", 50), ("u", "c", 100), ("u", "d", 1902), ("u", "e", 3702), ("u", "f", 1901)],
        ("UserId", "ItemId", "Time"),
    )
    sessions, report = sessionize(events, gap_seconds=1800)
    assert list(sessions.columns) == ["SessionId", "ItemId", "Time", "UserId"]
    # u: 0, 100 | 1901 (gap 1801), 1902, 3702 (gap 1800 exactly: same session) | v: 50
    assert sessions.groupby("SessionId")["ItemId"].apply("".join).to_dict() == {"1": "ac", "2": "fde", "3": "b"}
    assert sessions.groupby("SessionId")["UserId"].first().to_dict() == {"1": "u", "2": "u", "3": "v"}
    assert report.rows[0]["sessions"] == 3 and report.rows[0]["events_removed"] == 0


def test_sessionize_needs_users():
    with pytest.raises(DataError, match="user ids"):
        sessionize(frame([("1", "a", 1)]))


def test_report_format_is_a_table_with_a_line_per_step():
    report = Report()
    events = frame([("1", "a", 1), ("1", "b", 2)])
    report.add("load", None, events)
    report.add("drop", events, events.iloc[:1])
    lines = report.format().splitlines()
    assert lines[0].split() == ["step", "events", "sessions", "items", "-events", "-sessions", "-items"]
    assert lines[1].split() == ["load", "2", "1", "2"]
    assert lines[2].split() == ["drop", "1", "1", "1", "1", "0", "1"]
