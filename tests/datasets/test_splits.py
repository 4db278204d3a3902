"""Splits on hand-made logs, and the alignment of test to train."""
import pandas as pd
import pytest

from zoo.datasets.splits import align_test, split_by_time, split_last_session, split_leave_one_out
from zoo.errors import DataError


def frame(rows, columns=("SessionId", "ItemId", "Time", "UserId")):
    return pd.DataFrame(rows, columns=list(columns)).astype({"Time": float})


def sessions_of(events):
    return sorted(events["SessionId"].unique())


def test_time_split_puts_sessions_ending_in_the_last_seconds_in_test_whole():
    events = frame(
        [("1", "a", 0, "u"), ("1", "b", 10, "u"), ("2", "a", 850, "u"), ("2", "b", 950, "u"), ("3", "c", 900, "v"),
         ("3", "a", 1000, "v"), ("4", "a", 880, "w"), ("4", "c", 899, "w")]
    )
    train, test, report = split_by_time(events, test_seconds=100)
    assert sessions_of(train) == ["1", "4"]
    assert sessions_of(test) == ["2", "3"]
    assert test["ItemId"].tolist() == ["a", "b", "c", "a"]
    assert [r["events"] for r in report.rows] == [4, 4]
    assert report.rows[0]["events_removed"] == 4


def test_last_session_split_keeps_users_with_one_session_in_train():
    events = frame(
        [("1", "a", 0, "u"), ("1", "b", 1, "u"), ("2", "a", 50, "u"), ("2", "c", 60, "u"), ("3", "b", 20, "u"),
         ("4", "a", 100, "v"), ("4", "b", 101, "v")]
    )
    train, test, _ = split_last_session(events)
    assert sessions_of(train) == ["1", "3", "4"]
    assert sessions_of(test) == ["2"]


def test_last_session_split_needs_users():
    with pytest.raises(DataError, match="user ids"):
        split_last_session(frame([("1", "a", 0)], ("SessionId", "ItemId", "Time")))


def test_leave_one_out_moves_the_last_event_of_each_sequence():
    events = frame(
        [("u", "a", 3, "u"), ("u", "b", 1, "u"), ("u", "c", 3, "u"), ("v", "d", 5, "v"), ("w", "e", 1, "w"),
         ("w", "f", 2, "w")]
    )
    train, test, _ = split_leave_one_out(events)
    assert train["ItemId"].tolist() == ["b", "a", "d", "e"]  # equal times keep file order: c is last
    assert test["ItemId"].tolist() == ["c", "f"]


def test_align_test_drops_unseen_items_then_short_sessions():
    train = frame([("1", "a", 0, "u"), ("1", "b", 1, "u"), ("1", "c", 2, "u")])
    test = frame(
        [("2", "a", 5, "u"), ("2", "x", 6, "u"), ("2", "b", 7, "u"), ("3", "a", 5, "v"), ("3", "y", 6, "v"),
         ("4", "z", 5, "w")]
    )
    same_train, aligned, report = align_test(train, test, min_session_length=2)
    assert same_train is train
    assert aligned["ItemId"].tolist() == ["a", "b"]
    removed = [(r["events_removed"], r["sessions_removed"], r["items_removed"]) for r in report.rows]
    assert removed == [(3, 1, 3), (1, 1, 0)]
