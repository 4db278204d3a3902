"""The baselines (`zoo.baselines`) on hand examples, their save/load round trip, `zoo train --model pop` end to end."""
import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from zoo import baselines, runs
from zoo.cli import main
from zoo.datasets.batches import order_sessions, session_parallel_batches
from zoo.errors import ConfigError, UserError
from zoo.evaluation import evaluate, prefix_ranks, target_ranks
from zoo.models.registry import BASELINES, list_models


def events(*sessions):
    """An event frame of the given sessions (strings of one-letter items), each starting after the last."""
    rows = [(k, item, 10 * k + t) for k, session in enumerate(sessions) for t, item in enumerate(session)]
    return pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"]).astype({"Time": float})


def fitted(name, train, *sets):
    model, vocab, _ = baselines.fit(name, train, sets)
    return model, vocab


def scores(model, vocab, *histories):
    """{item: score} for each history (a string of items)."""
    width = max(map(len, histories))
    padded = np.array([list(vocab.encode(list(h))) + [-1] * (width - len(h)) for h in histories])
    return [dict(zip(vocab.decode(np.arange(len(vocab))), row)) for row in model.score_sessions(padded)]


def test_every_baseline_is_listed_as_a_baseline():
    models = list_models()
    assert all(models[name].startswith("baseline:") for name in BASELINES)
    assert not any(description.startswith("baseline:") for name, description in models.items() if name not in BASELINES)


def test_pop_scores_the_training_counts():
    model, vocab = fitted("pop", events("xxy", "xz"))
    assert scores(model, vocab, "z", "yz") == [{"x": 3, "y": 1, "z": 1}] * 2


def test_spop_puts_the_sessions_repeated_item_first_then_global_popularity():
    model, vocab = fitted("spop", events("xxxy", "xyz", "zw"))  # counts x 4, y 2, z 2, w 1
    (s,) = scores(model, vocab, "wzw")
    assert sorted(s, key=s.get, reverse=True) == ["w", "z", "x", "y"]
    assert s["w"] == pytest.approx(2 + 1 / 5) and s["x"] == pytest.approx(4 / 5)


def test_sr_rule_weights_are_one_over_the_gap():
    train = events("xyz", "xz", "yx")
    (s,) = scores(*fitted("sr", train), "yx")  # rules from x: x->y 1, x->z 1/2 + 1
    assert s == pytest.approx({"x": 0, "y": 1, "z": 1.5})
    (s,) = scores(*fitted("sr", train, "steps=1"), "x")  # only adjacent pairs: x->y 1, x->z 1
    assert s == pytest.approx({"x": 0, "y": 1, "z": 1})
    (s,) = scores(*fitted("sr", train, "prune=1"), "x")  # the strongest rule of x only
    assert s == pytest.approx({"x": 0, "y": 0, "z": 1.5})


def test_sknn_neighbours_by_cosine_over_item_sets():
    train = events("xy", "xzw", "vu")  # sessions s0, s1, s2 in this time order
    (s,) = scores(*fitted("sknn", train), "xyx")  # h = {x, y}: sim s0 = 2/sqrt(2*2), s1 = 1/sqrt(2*3)
    c = 1 / np.sqrt(6)
    assert s == pytest.approx({"x": 1 + c, "y": 1, "z": c, "w": c, "v": 0, "u": 0})
    (s,) = scores(*fitted("sknn", train, "k=1"), "xy")  # the nearest, s0
    assert s == pytest.approx({"x": 1, "y": 1, "z": 0, "w": 0, "v": 0, "u": 0})
    (s,) = scores(*fitted("sknn", train, "sample_size=1"), "xy")  # the most recent candidate, s1
    assert s == pytest.approx({"x": c, "y": 0, "z": c, "w": c, "v": 0, "u": 0})


def test_vsknn_weights_the_sessions_items_by_linear_position_decay():
    model, vocab = fitted("vsknn", events("xy", "xzw"))
    (s,) = scores(model, vocab, "yx")  # weights y 1/2, x 1: sim s0 = 1.5/sqrt(2*2), s1 = 1/sqrt(2*3)
    c = 1 / np.sqrt(6)
    assert s == pytest.approx({"x": 0.75 + c, "y": 0.75, "z": c, "w": c})


def test_fpmc_learns_a_deterministic_chain_better_than_popularity():
    train = events(*["ab"] * 30, *["cdcdc"] * 20)  # after a always b; c is the most popular item
    test = events(*["ab"] * 5)
    vocab_pop = fitted("pop", train)
    fpmc = fitted("fpmc", train, "epochs=30")
    assert evaluate(*vocab_pop[:1], test, vocab_pop[1], cutoffs=(1,))["recall@1"] == 0
    assert evaluate(fpmc[0], test, fpmc[1], cutoffs=(1,))["recall@1"] == 1


class Stepped:
    """A baseline played the recurrent models' way, one item a step: its state is the session so far
    (item indices, -1 after the end), zeroed to -1 where a session starts; it scores that session."""

    def __init__(self, baseline, width):
        self.baseline, self.width = baseline, width

    def initial_states(self, batch_size):
        return [tf.fill((batch_size, self.width), -1)]

    @staticmethod
    def reset_states(states, reset):
        return [tf.where(reset[:, tf.newaxis], -tf.ones_like(states[0]), states[0])]

    def step(self, items, states, training=False):
        session = states[0]
        end = tf.reduce_sum(tf.cast(session >= 0, tf.int32), axis=1, keepdims=True)
        session = tf.where(tf.range(self.width)[tf.newaxis] == end, tf.cast(items, tf.int32)[:, tf.newaxis], session)
        return session, [session]

    def score_all(self, session):
        scores = tf.numpy_function(self.baseline.score_sessions, [session], tf.float64)
        return tf.reshape(scores, [-1, self.baseline.n_items])


@pytest.mark.parametrize("name", ["spop", "sr", "vsknn"])
def test_shared_ranking_the_baseline_loop_equals_the_recurrent_loop(name):
    # Baselines whose scores depend on the session so far: a prefix off by one event shows in the ranks.
    train, test = events("xxyz", "xyzw", "zzw", "wyx"), events("wyzx", "xyzzw", "zx", "yyxwz")
    model, vocab = fitted(name, train)
    order = order_sessions(test, vocab)
    for ties in ("standard", "conservative", "median"):
        by_prefix = prefix_ranks(model, order, ties, batch_size=3)
        by_step = target_ranks(Stepped(model, 5), session_parallel_batches(order, 2), ties)
        assert sorted(by_prefix) == sorted(by_step)


@pytest.mark.parametrize("name", BASELINES)
def test_save_and_load_round_trip(name, tmp_path):
    train = events("xyz", "xz", "yxw", "zwy")
    model, vocab = fitted(name, train, *(["epochs=2"] if name == "fpmc" else []))
    runs.save_run(tmp_path, model, vocab, {"model": name, "config": model.options}, [])
    run = runs.load_run(tmp_path)
    histories = np.array([[0, 1, -1], [2, 3, 1]])
    np.testing.assert_array_equal(run.model.score_sessions(histories), model.score_sessions(histories))
    assert run.vocab == vocab
    (tmp_path / "baseline.npz").write_bytes(b"not an npz")
    with pytest.raises(UserError, match="not a complete baseline run directory"):
        runs.load_run(tmp_path)


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="steps, prune"):
        baselines.fit("sr", events("xy"), ["window=3"])


def test_train_pop_then_evaluate_and_recommend_end_to_end(tmp_path, capsys):
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    events("xxyz", "xyzw", "zzw").to_csv(train, sep="\t", index=False)
    events("wyzx", "xyz").to_csv(test, sep="\t", index=False)
    out = tmp_path / "run"
    assert main(["train", "--model", "pop", "--train", str(train), "--test", str(test), "--out", str(out)]) in (0, None)
    assert sorted(p.name for p in out.iterdir()) == ["baseline.npz", "config.json", "metrics.json", "train_log.json",
                                                    "vocab.json"]
    capsys.readouterr()
    assert main(["evaluate", str(out), "--test", str(test), "--json", "--cutoffs", "1,2"]) in (0, None)
    printed = json.loads(capsys.readouterr().out)
    # counts x 3, y 2, z 4, w 2; targets y z x (conservative ranks 4, 1, 2) and y z (4, 1)
    assert printed["events"] == 5 and printed["recall@1"] == pytest.approx(2 / 5)
    assert printed["mrr@2"] == pytest.approx((0 + 1 + 1 / 2 + 0 + 1) / 5)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["recall@5"] == 1 and all(saved[key] == printed[key] for key in saved
                                          if key in printed and not key.startswith("by_"))
    assert main(["recommend", str(out), "--items", "x", "-k", "2", "--json"]) in (0, None)
    assert json.loads(capsys.readouterr().out)["items"] == ["z", "x"]
    assert main(["train", "--model", "pop", "--train", str(train), "--preset", "rsc15-xe-shared",
                 "--out", str(tmp_path / "other")]) == 2
