"""The validation split of `zoo tune` is carved from the training log alone, by `zoo datasets prep`'s rules."""
import math

import pandas as pd
import pytest

from zoo.datasets.io import load_events
from zoo.datasets.synth import generate
from zoo.errors import DataError
from zoo.tuning import carve_validation
from zoo.tuning.validation import keep_latest

DAY = 86400


def events_of(frame):
    return sorted(zip(frame.SessionId, frame.ItemId, frame.Time))


@pytest.fixture(scope="module")
def log():
    return generate(n_users=80, n_items=40, n_topics=4, days=6, seed=3)


def test_a_session_log_validates_on_the_sessions_ending_in_its_last_day(log):
    sessions = log.drop(columns="UserId")
    train, valid, rule = carve_validation(sessions)
    assert rule == "time"
    ends = sessions.groupby("SessionId")["Time"].max()
    last_day = set(ends.index[ends >= sessions.Time.max() - DAY])
    # trained on: exactly the sessions (of 2 or more events) that end before the last day
    rest = sessions[~sessions.SessionId.isin(last_day)]
    rest = rest[rest.groupby("SessionId")["SessionId"].transform("size") >= 2]
    assert events_of(train) == events_of(rest)
    # validated on: the last day's sessions, less the items never trained on, less sessions left shorter than 2
    expected = sessions[sessions.SessionId.isin(last_day) & sessions.ItemId.isin(set(train.ItemId))]
    expected = expected[expected.groupby("SessionId")["SessionId"].transform("size") >= 2]
    assert len(expected) > 0 and events_of(valid) == events_of(expected)
    assert not set(train.SessionId) & set(valid.SessionId)
    assert train.Time.max() < sessions.Time.max() - DAY <= valid.groupby("SessionId")["Time"].max().min()


def test_a_user_log_validates_on_each_users_last_session(log):
    train, valid, rule = carve_validation(log)
    assert rule == "last-session"
    log = log[log.groupby("SessionId")["SessionId"].transform("size") >= 2]  # prep drops them before the split
    starts = log.groupby("SessionId").agg(user=("UserId", "first"), start=("Time", "min"))
    last = starts.sort_values("start").groupby("user").tail(1)
    several = starts.groupby("user").size()
    expected = set(last.index[last.user.map(several) >= 2])
    assert events_of(train) == events_of(log[~log.SessionId.isin(expected)])
    held = log[log.SessionId.isin(expected) & log.ItemId.isin(set(train.ItemId))]
    held = held[held.groupby("SessionId")["SessionId"].transform("size") >= 2]
    assert len(held) > 0 and events_of(valid) == events_of(held)
    assert not set(train.SessionId) & set(valid.SessionId)


def test_the_split_can_be_chosen_and_an_impossible_one_is_refused(log):
    assert carve_validation(log, split="time")[2] == "time"
    one_day = log[log.Time < log.Time.min() + DAY / 2]
    with pytest.raises(DataError, match="cannot carve a validation split from .* the (train|validation) set is empty"):
        carve_validation(one_day, split="time")
    with pytest.raises(DataError, match="no user ids"):
        carve_validation(log.drop(columns="UserId"), split="last-session")


def test_a_training_fraction_keeps_the_latest_sessions_and_the_validation_they_can_score(log):
    train, valid, _ = carve_validation(log.drop(columns="UserId"))
    part, held = keep_latest(train, valid, 0.3)
    starts = train.groupby("SessionId")["Time"].min().sort_values()
    assert set(part.SessionId) == set(starts.index[-math.ceil(0.3 * len(starts)):])
    assert events_of(part) == events_of(train[train.SessionId.isin(set(part.SessionId))])  # whole sessions
    # the validation sessions, less the events of items the kept part lacks, less sessions left shorter than 2
    expected = valid[valid.ItemId.isin(set(part.ItemId))]
    expected = expected[expected.groupby("SessionId")["SessionId"].transform("size") >= 2]
    assert len(set(valid.ItemId) - set(part.ItemId)) > 0 and len(expected) > 0
    assert events_of(held) == events_of(expected)
    assert keep_latest(train, valid, 1.0) == (train, valid)
    old, new = [(1, "a", 0), (1, "b", 1)], [(2, "c", 2), (2, "d", 3)]
    frame = pd.DataFrame(old + new, columns=["SessionId", "ItemId", "Time"])
    with pytest.raises(DataError, match="--train-fraction 0.5 keeps no item of any validation session"):
        keep_latest(frame, pd.DataFrame([(3, "a", 4), (3, "b", 5)], columns=frame.columns), 0.5)


def test_rsc15_100k_carve_equals_the_references_train_tr_and_train_valid(shared_data):
    folder = shared_data / "rsc15-100k"
    train, valid, _ = carve_validation(load_events(folder / "yoochoose-clicks-100k_train_full.txt"))
    assert events_of(train) == events_of(load_events(folder / "yoochoose-clicks-100k_train_tr.txt"))
    assert events_of(valid) == events_of(load_events(folder / "yoochoose-clicks-100k_train_valid.txt"))

