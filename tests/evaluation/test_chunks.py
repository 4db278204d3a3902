"""The catalogue in item chunks: full-ranking counts and top-k lists equal the whole score matrix's, ties included.

The models are small and untrained; groups of items share one vector and bias, so that their scores
tie exactly (in the same row and across chunks), and targets are drawn among them too.
"""
import itertools

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from zoo.datasets.batches import order_sessions, session_parallel_batches
from zoo.datasets.vocab import Vocabulary

import zoo
from zoo.errors import ConfigError
from zoo.evaluation import evaluate, evaluate_users, prefix_ranks, recommend, target_ranks
from zoo.evaluation.ranking import array_rank_counts, greater_equal, item_chunks, n_item_chunks, rank_counts
from zoo.evaluation.recommend import running_top_k
from zoo.models.registry import model_class

N_ITEMS = 1001  # chunks of 1000 leave a remainder of one item; of 7, 143 chunks
CHUNKS = (2, 3, 7, 64, 1000, 1001, 4096)  # the last two: one chunk, the whole matrix


def tied_model(name="gru4rec", n_items=N_ITEMS, seed=0, **options):
    """An untrained model whose items 0, 10, 20, ... and 1, 11, 21, ... (two groups) tie, row by row."""
    model = zoo.get_model(name, n_items=n_items, layers=[16], **options)
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n_items, 16)).astype(np.float32)
    bias = rng.standard_normal(n_items).astype(np.float32)
    for first in (0, 1):
        vectors[first::10], bias[first::10] = vectors[first], bias[first]
    model.item_vectors.assign(vectors)
    model.item_bias.assign(bias)
    return model


def test_chunks_cover_the_catalogue_and_none_is_one_item_wide():
    for n in (1, 2, 3, 10, 11, 1000, 1001, 1002):
        for size in (2, 3, 7, 10, 1000):
            bounds = item_chunks(n, size)
            assert len(bounds) == n_item_chunks(n, size) and bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
            assert all(stop - start >= 2 for start, stop in bounds) or n == 1
            assert max(stop - start for start, stop in bounds) <= size + 1


@pytest.mark.parametrize("batch", [1, 2, 5, 40])
def test_rank_counts_in_chunks_equal_the_whole_matrix(batch):
    model = tied_model()
    rng = np.random.default_rng(batch)
    hidden = tf.constant(rng.standard_normal((batch, 16)).astype(np.float32))
    targets = tf.constant(rng.choice([0, 1, 10, 21, 500, 999, 1000, 7], batch).astype(np.int32))
    whole = [c.numpy() for c in greater_equal(model.score_all(hidden), targets)]
    assert (whole[1] >= 1).all()  # the target counts itself
    if batch > 2:
        assert whole[1].max() > 1  # some targets tie with other items
    for size in CHUNKS:
        counted = tf.function(lambda h, t, size=size: rank_counts(model, h, t, size))(hidden, targets)
        for got, expected in zip(counted, whole):
            np.testing.assert_array_equal(got.numpy(), expected, err_msg=f"chunk size {size}")


def test_array_rank_counts_in_chunks_equal_the_whole_array():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 50, (6, N_ITEMS)).astype(np.float64)  # many ties
    targets = rng.integers(0, N_ITEMS, 6)
    whole = [c.numpy() for c in greater_equal(scores, targets)]
    for size in CHUNKS:
        for got, expected in zip(array_rank_counts(scores, targets, size), whole):
            np.testing.assert_array_equal(got, expected)


def random_log(n_items, n_sessions=60, seed=0, users=False):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sessions):
        for t in range(int(rng.integers(2, 9))):
            item = int(rng.choice([0, 1, 10, 11, 20]) if rng.random() < 0.3 else rng.integers(n_items))
            rows.append((f"s{s}", f"i{item}", s * 100.0 + t, f"u{s // 3}"))
    log = pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time", "UserId"])
    return log if users else log.drop(columns="UserId")


def vocabulary(n_items=N_ITEMS):
    return Vocabulary(np.array([f"i{j}" for j in range(n_items)], dtype=object), "str")


@pytest.mark.parametrize("ties", ["standard", "conservative", "median"])
def test_session_protocol_ranks_are_the_same_in_any_chunks(ties):
    model, vocab, test = tied_model(), vocabulary(), random_log(N_ITEMS)
    order = order_sessions(test, vocab)
    whole = target_ranks(model, session_parallel_batches(order, 16), ties, chunk_size=N_ITEMS)
    for size in (2, 7, 1000):
        np.testing.assert_array_equal(target_ranks(model, session_parallel_batches(order, 16), ties, chunk_size=size),
                                      whole)
    metrics = evaluate(model, test, vocab, cutoffs=(1, 20, 500), ties=ties, batch_size=16, chunk_size=N_ITEMS)
    assert evaluate(model, test, vocab, cutoffs=(1, 20, 500), ties=ties, batch_size=16, chunk_size=7) == metrics


def test_user_protocol_ranks_are_the_same_in_any_chunks():
    log, vocab = random_log(N_ITEMS, users=True), vocabulary()
    history, test = log[log.Time % 100 < 4], log[log.Time % 100 >= 4]
    users = Vocabulary.fit(log.UserId)
    for model, user_vocab in ((tied_model(), None), (tied_model("user_gru", n_users=len(users)), users)):
        whole = evaluate_users(model, test, vocab, history, user_vocab, cutoffs=(1, 20, 500), batch_size=8,
                               chunk_size=N_ITEMS)
        assert evaluate_users(model, test, vocab, history, user_vocab, cutoffs=(1, 20, 500), batch_size=8,
                              chunk_size=3) == whole


def test_pop_under_the_user_protocol_is_compared_in_chunks():
    # Pop has its own `score_all` (no item table): its whole score matrix is compared chunk by chunk
    log, vocab = random_log(N_ITEMS, users=True), vocabulary()
    history, test = log[log.Time % 100 < 4], log[log.Time % 100 >= 4]
    pop = model_class("pop")(N_ITEMS)
    pop.fit(order_sessions(history, vocab))
    whole = evaluate_users(pop, test, vocab, history, cutoffs=(1, 20), batch_size=8, chunk_size=N_ITEMS)
    assert evaluate_users(pop, test, vocab, history, cutoffs=(1, 20), batch_size=8, chunk_size=7) == whole


@pytest.mark.parametrize("name", ["pop", "sr", "fpmc"])
def test_baseline_prefix_ranks_are_the_same_in_any_chunks(name):
    train, test, vocab = random_log(N_ITEMS, 200, seed=1), random_log(N_ITEMS, 30, seed=2), vocabulary()
    model = model_class(name)(N_ITEMS, **({"epochs": 1} if name == "fpmc" else {}))
    model.fit(order_sessions(train, vocab))
    order = order_sessions(test, vocab)
    for ties in ("standard", "conservative"):
        whole = prefix_ranks(model, order, ties, batch_size=16, chunk_size=N_ITEMS)
        np.testing.assert_array_equal(prefix_ranks(model, order, ties, batch_size=16, chunk_size=7), whole)


def test_chunk_size_below_two_is_refused():
    model, vocab, test = tied_model(n_items=30), vocabulary(30), random_log(30)
    with pytest.raises(ConfigError, match="chunk size must be at least 2"):
        evaluate(model, test, vocab, chunk_size=1)
    with pytest.raises(ConfigError, match="chunk size must be at least 2"):
        recommend(model, vocab, ["i1"], chunk_size=0)


# --- recommend: a running top-k -------------------------------------------------------------------
@pytest.mark.parametrize("exclude_history", [False, True])
def test_recommend_in_chunks_gives_the_whole_rows_list(exclude_history):
    model, vocab = tied_model(), vocabulary()
    for history in (["i0", "i5"], ["i10", "i11", "i1"], ["i999", "i1000", "nope"]):
        for k in (1, 10, 150, N_ITEMS):
            whole = recommend(model, vocab, history, k, exclude_history, chunk_size=N_ITEMS)
            for size in (2, 7, 1000):
                got = recommend(model, vocab, history, k, exclude_history, chunk_size=size)
                assert got == whole, (history, k, size)
            ids = [i for i, _ in whole[0]]
            assert len(ids) == (min(k, N_ITEMS - len(set(history) - {"nope"})) if exclude_history else k)
            if exclude_history:
                assert not set(ids) & set(history)
    # the tie groups come out in index order, in chunks as whole
    top = [i for i, _ in recommend(model, vocab, ["i3"], N_ITEMS, chunk_size=7)[0]]
    group = [top.index(f"i{j}") for j in range(0, N_ITEMS, 10)]
    assert group == sorted(group) and group[-1] - group[0] == len(group) - 1


def test_recommend_in_chunks_for_personalized_models():
    users = Vocabulary(np.array(["u0", "u1"], dtype=object), "str")
    vocab = vocabulary()
    for name in ("user_gru", "hrnn"):
        model = tied_model(name, n_users=2)
        for user in ("u1", "unseen", None):
            kwargs = {"earlier_sessions": [["i4", "i5"], ["i6", "i7", "i8"]], "user": user, "users": users}
            whole = recommend(model, vocab, ["i1", "i2"], 20, chunk_size=N_ITEMS, **kwargs)
            assert recommend(model, vocab, ["i1", "i2"], 20, chunk_size=7, **kwargs) == whole


def test_running_top_k_keeps_argsorts_order():
    rng = np.random.default_rng(3)
    row = rng.integers(0, 5, 97).astype(np.float32)  # ties everywhere
    row[[4, 50]] = np.inf
    row[[7, 60]] = -np.inf
    for size in (2, 5, 33, 97):
        chunks = [(s, row[s:e]) for s, e in item_chunks(97, size)]
        for k in (1, 3, 50, 97):
            top, scores = running_top_k(chunks, k, excluded=[0, 1, 96])
            expected = row.copy()
            expected[[0, 1, 96]] = -np.inf
            order = np.argsort(-expected, kind="stable")[:min(k, int(np.isfinite(expected).sum()))]
            np.testing.assert_array_equal(top, order)
            np.testing.assert_array_equal(scores, expected[order])
