"""zoo.evaluation: rank formulas, metrics, unknown items, and evaluation of a model whose scores are fixed.

The end-to-end tests zero the item vectors of a tiny GRU4Rec, so that every score is the item bias
whatever the session: the rank of each target is then known by hand.
"""
import numpy as np
import pandas as pd
import pytest

from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError, DataError
from zoo.evaluation import (evaluate, evaluate_fixed_negatives, evaluate_sampled, known_items, metrics_from_ranks,
                          ranks_from_counts, read_negatives)
from zoo.models.gru4rec import GRU4Rec


def recall_mrr(ranks, k):
    """Hand formulas: Recall@K = mean(rank <= K), MRR@K = mean(1/rank if rank <= K else 0)."""
    return (sum(r <= k for r in ranks) / len(ranks), sum(1 / r for r in ranks if r <= k) / len(ranks))


# --- ranks_from_counts ---------------------------------------------------------------------------
def test_ranks_from_counts_hand_example():
    # Scores [3, 7, 5, 5, 1], the target is one of the 5s: one score above it (7), two equal to it
    # (the target and the other 5). standard 1 + 1 = 2; conservative 1 + 2 = 3; median 2 + (2 - 1)/2.
    scores, target = np.array([3.0, 7.0, 5.0, 5.0, 1.0]), 5.0
    greater, equal = int((scores > target).sum()), int((scores == target).sum())
    assert (greater, equal) == (1, 2)
    assert ranks_from_counts(greater, equal, "standard") == 2
    assert ranks_from_counts(greater, equal, "conservative") == 3
    assert ranks_from_counts(greater, equal, "median") == 2.5


def test_ranks_from_counts_vectorized_and_without_ties():
    greater, equal = np.array([0, 4, 2]), np.array([1, 1, 5])
    np.testing.assert_array_equal(ranks_from_counts(greater, equal, "standard"), [1, 5, 3])
    np.testing.assert_array_equal(ranks_from_counts(greater, equal, "conservative"), [1, 5, 7])
    np.testing.assert_array_equal(ranks_from_counts(greater, equal, "median"), [1, 5, 5])
    # Without ties (equal == 1) the three modes agree; with ties standard <= median <= conservative.
    g, e = np.arange(6), np.array([1, 2, 3, 1, 4, 7])
    s, c, m = (ranks_from_counts(g, e, t) for t in ("standard", "conservative", "median"))
    assert np.all(s <= m) and np.all(m <= c)
    np.testing.assert_array_equal(s[e == 1], c[e == 1])
    np.testing.assert_allclose(m, (s + c) / 2)


def test_ranks_from_counts_unknown_mode():
    with pytest.raises(ConfigError, match="ties"):
        ranks_from_counts([0], [1], "optimistic")


# --- metrics_from_ranks --------------------------------------------------------------------------
def test_metrics_from_ranks_hand_example():
    # ranks 1, 3, 10: Recall@1 = 1/3, MRR@1 = 1/3; Recall@5 = 2/3, MRR@5 = (1 + 1/3) / 3 (10 counts 0).
    result = metrics_from_ranks([1, 3, 10], cutoffs=(1, 5))
    assert set(result) == {"recall@1", "mrr@1", "recall@5", "mrr@5"}
    assert result["recall@1"] == pytest.approx(1 / 3) and result["mrr@1"] == pytest.approx(1 / 3)
    assert result["recall@5"] == pytest.approx(2 / 3) and result["mrr@5"] == pytest.approx(4 / 9)


def test_metrics_from_ranks_sampled_prefix():
    # HR@5 = 2/3; NDCG@5 = (1/log2(1+1) + 1/log2(3+1) + 0) / 3 = (1 + 0.5) / 3 = 0.5.
    result = metrics_from_ranks([1, 3, 10], cutoffs=(5,), prefix="sampled_")
    assert set(result) == {"sampled_hr@5", "sampled_ndcg@5"}
    assert result["sampled_hr@5"] == pytest.approx(2 / 3)
    assert result["sampled_ndcg@5"] == pytest.approx(0.5)


def test_metrics_from_ranks_fractional_ranks_and_empty():
    result = metrics_from_ranks([1.5, 2.0], cutoffs=(1, 2))
    assert result["recall@1"] == 0.0 and result["recall@2"] == 1.0
    assert result["mrr@2"] == pytest.approx((1 / 1.5 + 1 / 2) / 2)
    assert metrics_from_ranks([], cutoffs=(5,)) == {"recall@5": 0.0, "mrr@5": 0.0}
    assert metrics_from_ranks([], cutoffs=(5,), prefix="sampled_") == {"sampled_hr@5": 0.0, "sampled_ndcg@5": 0.0}


# --- known_items ---------------------------------------------------------------------------------
ITEMS = ["a", "b", "c", "d", "e"]  # sorted vocabulary: a=0, b=1, c=2, d=3, e=4


def frame(rows):
    return pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"]).astype({"Time": "float64"})


TEST = frame([
    ("s1", "a", 1), ("s1", "b", 2), ("s1", "c", 3),                                     # targets b, c
    ("s2", "d", 4), ("s2", "e", 5), ("s2", "z", 6), ("s2", "a", 7), ("s2", "d", 8),   # z unknown; targets e, a, d
    ("s3", "z", 9), ("s3", "b", 10),                                                   # only b is left: too short
    ("s4", "c", 11),                                                                   # one event: too short
])


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.fit(ITEMS)


def test_known_items_drops_unknown_events_then_short_sessions(vocab):
    kept, counts = known_items(TEST, vocab)
    assert counts == {"dropped_unknown_item_events": 2, "dropped_short_sessions": 2}
    assert list(kept["SessionId"]) == ["s1"] * 3 + ["s2"] * 4
    assert list(kept["ItemId"]) == ["a", "b", "c", "d", "e", "a", "d"]  # s2 goes on without z


def test_known_items_nothing_to_drop(vocab):
    clean = frame([("x", "a", 1), ("x", "b", 2)])
    kept, counts = known_items(clean, vocab)
    assert counts == {"dropped_unknown_item_events": 0, "dropped_short_sessions": 0}
    pd.testing.assert_frame_equal(kept, clean)


# --- evaluate end to end with fixed scores -------------------------------------------------------
BIAS = [0.5, 2.0, 2.0, -1.0, 1.0]  # a, b, c, d, e


@pytest.fixture(scope="module")
def model():
    return GRU4Rec(n_items=len(ITEMS), layers=[4], batch_size=2, seed=0)


def fix_scores(model, bias):
    """Every score becomes bias[j], whatever the session."""
    model.item_vectors.assign(np.zeros(model.item_vectors.shape, np.float32))
    model.item_bias.assign(np.asarray(bias, np.float32))


# Targets kept after dropping: b, c (s1) and e, a, d (s2). With BIAS:
#   b, c (2.0): 0 above, 2 equal (b and c) -> standard 1, conservative 2, median 1.5
#   e (1.0): 2 above -> 3;  a (0.5): 3 above -> 4;  d (-1.0): 4 above -> 5   (no ties)
HAND_RANKS = {
    "standard": [1, 1, 3, 4, 5],
    "conservative": [2, 2, 3, 4, 5],
    "median": [1.5, 1.5, 3, 4, 5],
}


@pytest.mark.parametrize("ties", ["standard", "conservative", "median"])
def test_evaluate_with_fixed_scores(model, vocab, ties):
    fix_scores(model, BIAS)
    result = evaluate(model, TEST, vocab, cutoffs=(1, 2, 5), ties=ties, batch_size=2)
    ranks = HAND_RANKS[ties]
    for k in (1, 2, 5):
        recall, mrr = recall_mrr(ranks, k)
        assert result[f"recall@{k}"] == pytest.approx(recall), k
        assert result[f"mrr@{k}"] == pytest.approx(mrr), k
    assert result["events"] == 5 and result["sessions"] == 2 and result["ties"] == ties
    assert result["dropped_unknown_item_events"] == 2 and result["dropped_short_sessions"] == 2


def test_evaluate_defaults_to_conservative(model, vocab):
    fix_scores(model, BIAS)
    default = evaluate(model, TEST, vocab, cutoffs=(2,), batch_size=2)
    assert default["ties"] == "conservative"
    assert default["recall@2"] == pytest.approx(2 / 5) and default["mrr@2"] == pytest.approx((1 / 2 + 1 / 2) / 5)


def test_evaluate_batch_size_does_not_matter(model, vocab):
    fix_scores(model, BIAS)
    one = evaluate(model, TEST, vocab, cutoffs=(1, 2, 5), batch_size=1)
    many = evaluate(model, TEST, vocab, cutoffs=(1, 2, 5), batch_size=8)
    flat = {key: value for key, value in one.items() if key != "by_position"}
    assert flat == pytest.approx({key: many[key] for key in flat})
    for group, metrics in one["by_position"].items():
        assert metrics == pytest.approx(many["by_position"][group])


@pytest.mark.parametrize("ties, rank", [("standard", 1), ("conservative", 5), ("median", 3)])
def test_evaluate_all_scores_equal(model, vocab, ties, rank):
    # A model that scores every item the same: each target ties with all 5 items.
    fix_scores(model, np.zeros(len(ITEMS)))
    result = evaluate(model, TEST, vocab, cutoffs=(1, 5), ties=ties, batch_size=2)
    assert result["recall@1"] == (1.0 if rank == 1 else 0.0)
    assert result["recall@5"] == 1.0
    assert result["mrr@5"] == pytest.approx(1 / rank)


def test_evaluate_rejects_bad_arguments(model, vocab):
    with pytest.raises(ConfigError, match="ties"):
        evaluate(model, TEST, vocab, ties="pessimistic")
    with pytest.raises(ConfigError, match="cutoffs"):
        evaluate(model, TEST, vocab, cutoffs=(0, 5))
    with pytest.raises(ConfigError, match="cutoffs"):
        evaluate(model, TEST, vocab, cutoffs=())
    with pytest.raises(DataError, match="no test session"):
        evaluate(model, frame([("s", "z", 1), ("s", "y", 2), ("t", "a", 3)]), vocab)


# --- evaluate_sampled ----------------------------------------------------------------------------
# Case 0: target b (2.0) vs negatives a (0.5), c (2.0), d (-1.0): 0 above, c ties.
#   standard 1, conservative 2, median 1.5.
# Case 1: target e (1.0) vs negatives d (-1.0), a (0.5), b (2.0): 1 above, no tie -> 2 in every mode.
HISTORIES = [[0, 1, -1], [2, -1, -1]]
TARGETS = [1, 4]
NEGATIVES = [[0, 2, 3], [3, 0, 1]]


@pytest.mark.parametrize("ties, ranks", [("standard", [1, 2]), ("conservative", [2, 2]), ("median", [1.5, 2])])
def test_evaluate_sampled_with_fixed_scores(model, ties, ranks):
    fix_scores(model, BIAS)
    result = evaluate_sampled(model, HISTORIES, TARGETS, NEGATIVES, cutoffs=(1, 2, 4), ties=ties)
    for k in (1, 2, 4):
        hits = [r <= k for r in ranks]
        ndcg = [1 / np.log2(r + 1) if r <= k else 0.0 for r in ranks]
        assert result[f"sampled_hr@{k}"] == pytest.approx(np.mean(hits)), k
        assert result[f"sampled_ndcg@{k}"] == pytest.approx(np.mean(ndcg)), k
    assert result["sampled_mrr"] == pytest.approx(np.mean([1 / r for r in ranks]))
    assert result["sampled_cases"] == 2 and result["sampled_negatives"] == 3


def test_evaluate_sampled_all_equal(model):
    # Every candidate ties: conservative puts the target last of 1 + 3 candidates.
    fix_scores(model, np.full(len(ITEMS), 0.25))
    result = evaluate_sampled(model, HISTORIES, TARGETS, NEGATIVES, cutoffs=(1, 4))
    assert result["sampled_hr@1"] == 0.0 and result["sampled_hr@4"] == 1.0
    assert result["sampled_ndcg@4"] == pytest.approx(1 / np.log2(5))
    assert result["sampled_mrr"] == pytest.approx(0.25)


# --- fixed negatives per user (S3-Rec style sampled protocol) ------------------------------------
def test_read_negatives_and_bad_files(tmp_path):
    good = tmp_path / "sample.txt"
    good.write_text("u1 a b\nu2 c\n")
    assert read_negatives(good) == {"u1": ["a", "b"], "u2": ["c"]}
    bad = tmp_path / "bad.txt"
    bad.write_text("u1\n")
    with pytest.raises(DataError, match="at least one negative"):
        read_negatives(bad)
    with pytest.raises(DataError, match="cannot read"):
        read_negatives(tmp_path / "missing.txt")


def test_fixed_negatives_rank_each_user_target_against_its_negatives(model, vocab):
    fix_scores(model, BIAS)  # a 0.5, b 2.0, c 2.0, d -1.0, e 1.0
    history = frame([("1", "a", 1), ("1", "b", 2), ("2", "c", 3), ("3", "d", 4)]).assign(UserId=["u1", "u1", "u2", "u3"])
    test = frame([("1", "e", 5), ("2", "a", 6), ("3", "b", 7)]).assign(UserId=["u1", "u2", "u3"])
    negatives = {"u1": ["a", "d", "zz"], "u2": ["b", "e"], "u3": ["c", "d"]}
    got = evaluate_fixed_negatives(model, test, vocab, history, negatives, cutoffs=(1, 2), ties="conservative")
    # u1: e (1.0) vs a (0.5), d (-1.0) -> rank 1 ("zz" unknown: dropped, then 2 negatives for every case)
    # u2: a (0.5) vs b (2.0), e (1.0) -> rank 3;  u3: b (2.0) vs c (2.0), d -> tie, conservative rank 2
    ranks = np.array([1, 3, 2])
    assert got["sampled_hr@1"] == pytest.approx(np.mean(ranks <= 1))
    assert got["sampled_hr@2"] == pytest.approx(np.mean(ranks <= 2))
    assert got["sampled_ndcg@2"] == pytest.approx(np.mean(np.where(ranks <= 2, 1 / np.log2(ranks + 1), 0)))
    assert got["sampled_mrr"] == pytest.approx(np.mean(1 / ranks))
    assert (got["sampled_cases"], got["sampled_negatives"], got["sampled_dropped_negatives"]) == (3, 2, 1)
