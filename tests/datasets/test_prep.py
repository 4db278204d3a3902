"""Preprocessing: stable ordering, sessions from gaps, filters repeated until stable, reports."""
import pandas as pd
import pytest

from zoo.datasets.prep import Report, filter_log, latest_sessions, sessionize, sort_events
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


def test_latest_sessions_keeps_whole_sessions_with_the_latest_starts():
    # starts: session 1 at 10, 2 at 0, 3 at 30, 4 at 20 (its second event is the log's last), 5 at 20
    events = frame([(1, "a", 10), (1, "b", 11), (2, "a", 0), (2, "c", 40), (3, "b", 30), (3, "c", 31),
                    (4, "a", 20), (4, "b", 50), (5, "c", 20), (5, "a", 21)])
    kept = {f: set(latest_sessions(events, f).SessionId) for f in (0.2, 0.4, 0.5, 1.0)}
    # ceil(0.2 * 5) = 1: the latest start; ceil(0.4 * 5) = 2: the tie at 20 goes to the later id, 5
    assert kept == {0.2: {3}, 0.4: {3, 5}, 0.5: {3, 4, 5}, 1.0: {1, 2, 3, 4, 5}}
    half = latest_sessions(events, 0.5)
    assert len(half) == 6 and list(half.SessionId) == [3, 3, 4, 4, 5, 5]  # whole, sorted by session then time
    hundred = frame([(s, "a", s) for s in range(100)])
    assert latest_sessions(hundred, 0.07).SessionId.tolist() == list(range(93, 100))  # 0.07 * 100 is 7.000...01 in floats
    for bad in (0, -0.5, 1.5):
        with pytest.raises(DataError, match=r"must be in \(0, 1\]"):
            latest_sessions(events, bad)
