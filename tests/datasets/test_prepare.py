"""The `zoo datasets prep` job as a library call: `prepare` on small frames, `write_prepared`."""
import json

import pandas as pd
import pytest

from zoo.datasets.prepare import check_options, prepare, write_prepared
from zoo.datasets.synth import generate
from zoo.errors import ConfigError, DataError

DAY = 86400


def frame(rows, columns=("SessionId", "ItemId", "Time")):
    return pd.DataFrame(rows, columns=list(columns)).astype({"Time": float})


def hand_log():
    """Sessions 1-3 on day 0; on day 2 session 4 (item y unseen in train) and session 5 (one event)."""
    return frame(
        [("1", "a", 0), ("1", "b", 1), ("1", "c", 2), ("2", "a", 10), ("2", "b", 11), ("3", "c", 20), ("3", "a", 21),
         ("3", "z", 22), ("4", "a", 200000), ("4", "b", 200001), ("4", "y", 200002), ("5", "q", 200003)]
    )


def test_time_split_puts_the_last_days_sessions_in_test_and_aligns_them_to_train():
    notes = []
    train, test, report = prepare(hand_log(), min_item_support=1, test_seconds=DAY, progress=notes.append)
    assert train["SessionId"].unique().tolist() == ["1", "2", "3"]
    assert train["ItemId"].tolist() == ["a", "b", "c", "a", "b", "c", "a", "z"]
    assert test.values.tolist() == [["4", "a", 200000.0], ["4", "b", 200001.0]]
    assert [(r["step"], r["events"], r["sessions"], r["items"], r["events_removed"]) for r in report.rows] == [
        ("load", 12, 5, 6, None),
        ("sessions < 2 events (round 1)", 11, 4, 5, 1),
        ("items < 1 events (round 1)", 11, 4, 5, 0),
        ("sessions < 2 events (round 2)", 11, 4, 5, 0),
        ("items < 1 events (round 2)", 11, 4, 5, 0),
        ("train", 8, 3, 4, 3),
        ("test: sessions ending in the last 86400 s", 3, 1, 3, None),
        ("test: items not in train", 2, 1, 2, 1),
        ("test: sessions < 2 events", 2, 1, 2, 0),
    ]
    assert notes == ["filtering", "splitting (time)"]


def test_time_split_of_a_synthetic_log_follows_the_rules():
    events = generate(n_users=60, n_items=50, n_topics=5, days=4, seed=1)
    train, test, _ = prepare(events, test_seconds=DAY, min_item_support=2)
    cut = events["Time"].max() - DAY
    assert (test.groupby("SessionId")["Time"].max() >= cut).all()
    assert (train.groupby("SessionId")["Time"].max() < cut).all()
    assert set(test["ItemId"]) <= set(train["ItemId"])
    assert test.groupby("SessionId").size().min() >= 2
    assert not set(train["SessionId"]) & set(test["SessionId"])


def test_user_log_is_deduped_sessionized_and_split_leave_one_out():
    events = frame([("u", "a", 0), ("u", "a", 0), ("u", "b", 10), ("u", "c", 5000), ("v", "a", 1), ("v", "c", 2),
                    ("v", "b", 3)], columns=("UserId", "ItemId", "Time"))
    notes = []
    train, test, report = prepare(events, split="leave-one-out", dedupe=True, sessionize_gap=float("inf"),
                                  min_item_support=1, progress=notes.append)
    assert train[["UserId", "ItemId"]].values.tolist() == [["u", "a"], ["u", "b"], ["v", "a"], ["v", "c"]]
    assert test[["UserId", "ItemId"]].values.tolist() == [["u", "c"], ["v", "b"]]
    assert [r["step"] for r in report.rows[:3]] == ["load", "duplicate events", "sessionize (gap inf s)"]
    assert report.rows[1]["events_removed"] == 1
    assert notes == ["making sessions", "filtering", "splitting (leave-one-out)"]


def test_split_none_returns_the_filtered_log_and_no_test():
    train, test, report = prepare(hand_log(), split="none", min_item_support=1)
    assert test is None
    assert train["SessionId"].unique().tolist() == ["1", "2", "3", "4"]
    assert report.rows[-1]["step"] == "items < 1 events (round 2)"


@pytest.mark.parametrize("options, error, message", [
    ({"min_item_support": 0, "min_session_length": 0}, ConfigError,
     "--min-session-length must be >= 1; --min-item-support must be >= 1"),
    ({"sessionize_gap": 60}, ConfigError, "--sessionize-gap is for logs without session ids"),
    ({"min_session_length": 9}, DataError, "log.tsv: no events left after filtering"),
    ({"min_item_support": 1, "min_session_length": 3}, DataError, "log.tsv: the test set is empty after the time"),
    ({"split": "last-session", "min_item_support": 1}, DataError, "no user ids"),
])
def test_errors_name_the_option_or_the_source(options, error, message):
    with pytest.raises(error, match=message):
        prepare(hand_log(), source="log.tsv", **options)


def test_check_options_lists_every_broken_rule_in_one_line():
    with pytest.raises(ConfigError, match="^--sessionize-gap must be > 0; --test-days must be > 0$"):
        check_options(sessionize_gap=0, test_days=-1)
    check_options(min_session_length=1, min_item_support=1, sessionize_gap=float("inf"), test_seconds=1)


def test_write_prepared_writes_the_sets_and_the_report(tmp_path):
    train, test, report = prepare(hand_log(), min_item_support=1)
    notes = []
    write_prepared(tmp_path / "out", train, test, report, {"split": "time"}, progress=notes.append)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["prep_report.json", "test.tsv", "train.tsv"]
    saved = json.loads((tmp_path / "out" / "prep_report.json").read_text())
    assert saved["options"] == {"split": "time"} and saved["steps"] == report.rows
    assert (saved["train"]["events"], saved["test"]["events"]) == (8, 2)
    assert pd.read_csv(tmp_path / "out" / "test.tsv", sep="\t", dtype=str)["ItemId"].tolist() == ["a", "b"]
    assert notes == [f"wrote train.tsv, test.tsv and prep_report.json to {tmp_path / 'out'}"]
