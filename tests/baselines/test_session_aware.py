"""The baselines of the user protocol: V-SKNN_E's extended sessions, recent popularity by hand, and
every baseline ranked under the user protocol (the user's history before each test session)."""
import numpy as np
import pandas as pd
import pytest

from zoo import baselines
from zoo.baselines.session_aware_knn import extend
from zoo.evaluation import evaluate, evaluate_run, evaluate_users
from zoo.evaluation.users import user_past
from zoo.datasets.batches import order_sessions
from zoo.datasets.vocab import Vocabulary
from zoo.models.registry import BASELINES


def user_log(sessions, start=0):
    """(user, session items, start time in hours) -> an event frame; items a minute apart."""
    rows = [(f"{user}-{start + k}", item, 3600.0 * hour + 60 * t, user)
            for k, (user, items, hour) in enumerate(sessions) for t, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time", "UserId"])


def test_extend_prefixes_short_sessions_with_the_latest_past_items():
    histories = np.array([[7, -1, -1], [7, 8, 9], [7, -1, -1]])
    past = np.array([[1, 2, 3, 4], [1, 2, -1, -1], [-1, -1, -1, -1]])
    np.testing.assert_array_equal(extend(histories, past, 3), [[3, 4, 7], [7, 8, 9], [7, -1, -1]])
    np.testing.assert_array_equal(extend(histories, past, 5), [[1, 2, 3, 4, 7], [1, 2, 7, 8, 9], [7, -1, -1, -1, -1]])


def test_vsknn_e_is_vsknn_without_a_past_and_scores_the_extended_session_with_one():
    train = user_log([("a", "xy", 0), ("b", "zw", 1), ("c", "qx", 2)])
    vsknn, vocab, _ = baselines.fit("vsknn", train)
    aware, _, _ = baselines.fit("vsknn_e", train, ["extend_length=2"])
    session = np.array([vocab.encode(["q"])])
    np.testing.assert_array_equal(aware.score_sessions(session), vsknn.score_sessions(session))
    past = np.array([vocab.encode(["z"])])
    np.testing.assert_array_equal(aware.score_sessions(session, past=past),
                                  vsknn.score_sessions(np.array([vocab.encode(["z", "q"])])))
    assert aware.score_sessions(session, past=past)[0, vocab.encode(["w"])[0]] > 0  # from the user's past


def test_recent_pop_counts_the_hours_before_the_session_then_the_whole_log():
    # x clicked 3 times at hour 0, y twice at hour 5, z once at hour 5.5
    train = user_log([("a", "xxx", 0), ("b", "yy", 5), ("c", "z", 5.5)])
    model, vocab, _ = baselines.fit("recent_pop", train, ["hours=1"])
    history = np.array([vocab.encode(["x"])] * 3)
    scores = model.score_sessions(history, start_times=3600.0 * np.array([6.0, 0.5, 100.0]))
    x, y, z = vocab.encode(["x", "y", "z"])
    total = 6 + 1
    np.testing.assert_allclose(scores[0, [x, y, z]], [3 / total, 2 + 2 / total, 1 + 1 / total])  # [5h, 6h): y, z
    np.testing.assert_allclose(scores[1, [x, y, z]], [3 + 3 / total, 2 / total, 1 / total])
    np.testing.assert_allclose(scores[2], scores[0])  # after the log: its last hour, [4.5h, 5.5h] as [5h, 6h)
    np.testing.assert_allclose(model.score_sessions(history[:1])[0], scores[0])  # no time: after the log


def test_user_past_is_the_users_earlier_items_oldest_first_and_capped():
    log = user_log([("a", "xy", 0), ("b", "z", 1), ("a", "wq", 2), ("a", "y", 3)])
    items, users = Vocabulary.fit(log.ItemId), Vocabulary.fit(log.UserId)
    order = order_sessions(log, items, users)
    flat, begin, end = user_past(order)
    pasts = [items.decode(flat[b:e]).tolist() for b, e in zip(begin, end)]
    assert pasts == [[], [], ["x", "y"], ["x", "y", "w", "q"]]  # sessions in time order: a, b, a, a
    flat, begin, end = user_past(order, limit=3)
    assert items.decode(flat[begin[3]:end[3]]).tolist() == ["y", "w", "q"]


@pytest.mark.parametrize("name", BASELINES)
def test_every_baseline_runs_the_user_protocol_and_session_baselines_score_as_in_the_session_protocol(name):
    history = user_log([("a", "xyz", 0), ("b", "zyx", 1), ("a", "xzw", 2), ("c", "wzy", 3)])
    test = user_log([("a", "xyw", 4), ("b", "zw", 5), ("c", "yzx", 6)], start=10)
    model, vocab, _ = baselines.fit(name, history, ["epochs=2"] if name == "fpmc" else [])
    by_user = evaluate_run(model, test, vocab, "user", history=history, cutoffs=(1, 3))
    by_session = evaluate(model, test, vocab, cutoffs=(1, 3))
    assert by_user["protocol"] == "user" and by_user["events"] == by_session["events"] == 5
    assert by_user["by_earlier_sessions"]["2-4"]["events"] == 2 and by_user["by_earlier_sessions"]["1"]["events"] == 3
    if name != "vsknn_e":  # the only one that uses the user's earlier sessions
        for key in ("recall@1", "recall@3", "mrr@3"):
            assert by_user[key] == pytest.approx(by_session[key], rel=1e-12), key


def test_a_test_session_that_continues_a_history_session_is_scored_after_its_history_part():
    history = user_log([("a", "xy", 0), ("b", "yz", 1)])
    test = user_log([("a", "z", 0.5)]).assign(SessionId="a-0")  # the held-out end of session a-0: x y | z
    model, vocab, _ = baselines.fit("sr", history)
    metrics = evaluate_users(model, test, vocab, history, cutoffs=(1,))
    assert metrics["events"] == 1 and metrics["recall@1"] == 1.0  # y -> z, after the history's x y
    assert metrics["by_position"]["2"]["events"] == 1  # the prediction after the session's 2nd click


def test_a_baseline_with_nothing_to_rank_under_the_user_protocol_is_a_data_error():
    from zoo.errors import DataError

    history = user_log([("a", "xy", 0), ("b", "yz", 1)])
    test = user_log([("a", "z", 2), ("b", "x", 3)], start=10)  # one-click sessions: no target
    model, vocab, _ = baselines.fit("sr", history)
    with pytest.raises(DataError, match="nothing to rank"):
        evaluate_users(model, test, vocab, history)
