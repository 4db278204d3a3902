"""The synthetic log: deterministic, of the documented size, and sequential (Markov beats popularity)."""
import time

import numpy as np
import pandas as pd
import pytest

from zoo.datasets.prep import filter_log, sort_events
from zoo.datasets.splits import align_test, split_by_time, split_last_session
from zoo.datasets.synth import generate
from zoo.errors import ConfigError


@pytest.fixture(scope="module")
def log():
    start = time.perf_counter()
    events = generate()
    return events, time.perf_counter() - start


def test_default_size_span_and_speed(log):
    events, seconds = log
    assert seconds < 2
    assert 40_000 <= len(events) <= 100_000
    assert 1000 <= events["ItemId"].nunique() <= 2000
    assert list(events.columns) == ["SessionId", "ItemId", "Time", "UserId"]
    assert 29 < (events["Time"].max() - events["Time"].min()) / 86400 < 30.1
    assert events.equals(sort_events(events))
    starts = events.groupby("SessionId", sort=False)["Time"].min()
    assert starts.is_monotonic_increasing  # sessions are numbered by start time
    assert (events.groupby("SessionId")["UserId"].nunique() == 1).all()


def test_deterministic_by_seed():
    small = dict(n_users=200, n_items=300)
    assert generate(seed=1, **small).equals(generate(seed=1, **small))
    assert not generate(seed=1, **small).equals(generate(seed=2, **small))


def test_users_keep_their_tastes(log):
    history, last, _ = split_last_session(log[0])
    seen = history[["UserId", "ItemId"]].drop_duplicates()
    users = history["UserId"].unique()
    someone_else = dict(zip(users, np.roll(users, 1)))
    own = last.merge(seen, how="left", indicator=True)["_merge"].eq("both").mean()
    other = last.assign(UserId=last["UserId"].map(someone_else)).merge(seen, how="left", indicator=True)
    # the items of a user's last session were clicked by that user before far more often than by another
    assert own > 2 * other["_merge"].eq("both").mean()


def successor_pairs(events):
    same = events["SessionId"].to_numpy()[1:] == events["SessionId"].to_numpy()[:-1]
    items = events["ItemId"].to_numpy()
    return pd.DataFrame({"current": items[:-1][same], "next": items[1:][same]})


def test_a_first_order_markov_predictor_clearly_beats_popularity(log):
    events = filter_log(log[0])[0]
    train, test, _ = split_by_time(events, 86400)
    train, test, _ = align_test(train, test)
    counts = successor_pairs(train).value_counts().reset_index()  # sorted by count, descending
    top20 = counts.groupby("current").head(20)
    pairs = successor_pairs(test)
    markov = pairs.merge(top20, on=["current", "next"], how="left")["count"].notna().mean()
    popular = np.isin(pairs["next"], train["ItemId"].value_counts().index[:20]).mean()
    assert len(pairs) > 1000
    assert markov > 0.6
    assert markov > 2 * popular


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="n_items >= n_topics"):
        generate(n_items=3, n_topics=30)
