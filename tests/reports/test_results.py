"""`zoo results`: the popularity baseline, the datasets as prepared for the table, the Markdown table."""
import pandas as pd
import pytest

from zoo.datasets.vocab import Vocabulary
from zoo.evaluation import evaluate_run
from zoo.baselines.pop import Pop
from zoo.reports.results import format_table, load_dataset
from zoo.training import item_counts

TRAIN = pd.DataFrame({"SessionId": ["a"] * 4 + ["b"] * 4, "ItemId": list("xxyz") + list("xyzw"),
                      "Time": [0, 1, 2, 3, 10, 11, 12, 13.0], "UserId": ["u"] * 4 + ["v"] * 4})
TEST = pd.DataFrame({"SessionId": ["c"] * 4, "ItemId": list("wyzx"), "Time": [20, 21, 22, 23.0], "UserId": ["u"] * 4})


@pytest.mark.parametrize("protocol", ["session", "user"])
def test_popularity_ranks_by_train_count_with_conservative_ties(protocol):
    vocab = Vocabulary.fit(TRAIN.ItemId)  # counts x 3, y 2, z 2, w 1
    metrics = evaluate_run(Pop(len(vocab), counts=item_counts(TRAIN, vocab)), TEST, vocab, protocol, history=TRAIN,
                           cutoffs=(1, 3))
    # targets y, z (count 2: tied with each other, below x: conservative rank 3) and x (rank 1)
    assert metrics["events"] == 3 and metrics["protocol"] == protocol
    assert metrics["recall@1"] == pytest.approx(1 / 3) and metrics["recall@3"] == pytest.approx(1.0)
    assert metrics["mrr@3"] == pytest.approx((1 / 3 + 1 / 3 + 1) / 3)


def test_format_table_adds_a_breakdown_table_for_the_datasets_that_have_one():
    groups = {"1": {"mrr@20": 0.25, "recall@20": 0.5, "events": 4}, "2": {"events": 0}}
    rows = [{"dataset": "d1", "model": "hrnn", "recall@20": 0.5, "mrr@20": 0.25, "by_position": groups,
             "by_earlier_sessions": {"0": {"mrr@20": 0.125, "recall@20": 0.25, "events": 3}}},
            {"dataset": "d2", "model": "gru4rec", "recall@20": 0.3, "mrr@20": 0.125}]
    lines = format_table(rows).splitlines()
    assert lines[-4:] == ["| model | click 1 | click 2 | earlier 0 |", "|---|---:|---:|---:|",
                          "| hrnn | 0.2500 | - | 0.1250 |", "| events | 4 | 0 | 3 |"]
    assert lines[-6].startswith("d1: MRR@20 by the prediction's position")


def test_format_table_has_a_line_per_model_and_three_columns_per_dataset():
    rows = [
        {"dataset": "d1", "model": "popularity", "recall@20": 0.1, "mrr@20": 0.05},
        {"dataset": "d1", "model": "gru4rec", "recall@20": 0.5, "mrr@20": 0.25, "events_per_s": 1234.4},
        {"dataset": "d2", "model": "gru4rec", "recall@20": 0.3, "mrr@20": 0.125, "events_per_s": 99.6},
    ]
    lines = format_table(rows).splitlines()
    assert lines[0] == "| model | d1 R@20 | d1 MRR@20 | d1 ev/s | d2 R@20 | d2 MRR@20 | d2 ev/s |"
    assert lines[2] == "| popularity | 0.1000 | 0.0500 | - |  |  |  |"
    assert lines[3] == "| gru4rec | 0.5000 | 0.2500 | 1234 | 0.3000 | 0.1250 | 100 |"


@pytest.mark.parametrize("name, protocol, test_users", [("ml-100k", "user", 364), ("lastfm", "user", 1090),
                                                        ("rsc15-100k", "session", 3416), ("globo", "user", 91722)])
def test_the_table_datasets_as_prepared(shared_data, name, protocol, test_users):
    train, test, got_protocol = load_dataset(name, str(shared_data))
    assert got_protocol == protocol and test.UserId.nunique() == test_users
    assert set(test.ItemId) <= set(train.ItemId)
    if name == "lastfm":  # leave-one-out: one held-out event per user, continuing the user's sequence
        assert len(test) == test_users and set(test.SessionId) <= set(train.SessionId)
    if name == "ml-100k":  # each user's last session: after all of that user's train sessions
        starts = pd.concat([train, test]).groupby("SessionId").Time.min()
        last = starts.groupby(pd.concat([train, test]).groupby("SessionId").UserId.first()).idxmax()
        assert set(test.SessionId) == set(last[test.UserId.unique()])
