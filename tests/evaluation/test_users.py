"""The user protocol of `zoo.evaluation`: histories replayed per user, continued sessions, protocol choice."""
import numpy as np
import pandas as pd
import pytest

from zoo.datasets.vocab import Vocabulary
from zoo.errors import DataError
from zoo.evaluation import evaluate, evaluate_run, evaluate_users
from zoo.models.gru4rec import GRU4Rec
from zoo.models.gru4rec_concat import GRU4RecConcat
from zoo.models.hrnn import HRNN
from zoo.models.user_gru import UserGRU

ITEMS = Vocabulary.fit([f"i{k}" for k in range(10)])


def frame(rows, start=0.0):
    """Events from (session, user, [items]) rows; sessions start an hour apart from `start`, in row order."""
    return pd.DataFrame([
        {"SessionId": session, "ItemId": f"i{item}", "Time": start + 3600.0 * k + j, "UserId": user}
        for k, (session, user, items) in enumerate(rows) for j, item in enumerate(items)
    ])


HISTORY = frame([("s1", "ann", [1, 2, 3]), ("s2", "bob", [4, 5]), ("s3", "ann", [6, 7, 8]), ("s4", "cy", [2, 9])])
TEST = frame([("t1", "ann", [0, 1, 5]), ("t2", "bob", [3, 3]), ("t3", "dan", [7, 8])], start=1e5)
# (played items, session starts, target, user) of every ranked test event, by hand
CASES = [
    ([1, 2, 3, 6, 7, 8, 0], [3, 6], 1, "ann"), ([1, 2, 3, 6, 7, 8, 0, 1], [3, 6], 5, "ann"),
    ([4, 5, 3], [2], 3, "bob"), ([7], [], 8, "dan"),
]


def mean_reciprocal_rank(model, users=None, cases=CASES):
    """1 / conservative rank of each case's target after `model` plays the case, averaged."""
    reciprocal = []
    for items, starts, target, user in cases:
        flags = np.isin(np.arange(len(items)), starts)[None]
        inputs = {"items": np.array([items]), "session_starts": flags}
        if users is not None:
            inputs["users"] = users.encode([user])
        scores = model(inputs).numpy()[0]
        reciprocal.append(1 / (scores >= scores[target]).sum())
    return np.mean(reciprocal)


@pytest.mark.parametrize("make", [
    lambda: HRNN(n_items=10, n_users=3, layers=[6], user_units=4, seed=1),
    lambda: GRU4Rec(n_items=10, layers=[6], seed=1),
])
def test_user_protocol_replays_each_users_history(make):
    model = make()
    metrics = evaluate_users(model, TEST, ITEMS, HISTORY, cutoffs=(10,), batch_size=2)
    assert metrics["mrr@10"] == pytest.approx(mean_reciprocal_rank(model), rel=1e-6)
    assert (metrics["events"], metrics["sessions"], metrics["users"], metrics["protocol"]) == (4, 3, 3, "user")


def test_the_breakdowns_place_each_ranked_event_by_position_and_earlier_sessions():
    model = GRU4Rec(n_items=10, layers=[6], seed=1)
    metrics = evaluate_users(model, TEST, ITEMS, HISTORY, cutoffs=(10,))
    # ann: after her 1st and 2nd test click (2 earlier sessions); bob: 1st (1); dan: 1st (none)
    assert {group: m["events"] for group, m in metrics["by_position"].items()} == {"1": 3, "2": 1, "3": 0, "4+": 0}
    assert {group: m["events"] for group, m in metrics["by_earlier_sessions"].items()} == {
        "0": 1, "1": 1, "2-4": 2, "5+": 0}
    per_case = [mean_reciprocal_rank(model, cases=[case]) for case in CASES]
    assert metrics["by_earlier_sessions"]["2-4"]["mrr@10"] == pytest.approx(np.mean(per_case[:2]), rel=1e-6)
    assert metrics["by_position"]["2"]["mrr@10"] == pytest.approx(per_case[1], rel=1e-6)
    assert "mrr@10" not in metrics["by_position"]["3"]


def test_the_concat_model_plays_each_users_history_and_test_as_one_sequence():
    """Every event played, no session start (not even the skip of a session's last click), the same
    events ranked as for the other models."""
    model = GRU4RecConcat(n_items=10, n_users=3, layers=[6], seed=1)
    joined = [([1, 2, 3, 6, 7, 8, 0], 1, "ann"), ([1, 2, 3, 6, 7, 8, 0, 1], 5, "ann"), ([4, 5, 3], 3, "bob"),
              ([7], 8, "dan")]
    metrics = evaluate_users(model, TEST, ITEMS, HISTORY, cutoffs=(10,), batch_size=2)
    assert metrics["events"] == 4
    assert metrics["mrr@10"] == pytest.approx(
        mean_reciprocal_rank(model, cases=[(items, [], target, user) for items, target, user in joined]), rel=1e-6)
    assert metrics["mrr@10"] != pytest.approx(mean_reciprocal_rank(model), rel=1e-3)  # GRU4Rec's way differs


def test_user_embeddings_follow_the_user_vocabulary_and_unseen_users_fall_back():
    users = Vocabulary.fit(["ann", "bob", "cy"])  # dan is unseen: the fallback vector
    model = UserGRU(n_items=10, n_users=3, layers=[6], user_embedding=3, seed=2)
    metrics = evaluate_users(model, TEST, ITEMS, HISTORY, users, cutoffs=(10,))
    assert metrics["mrr@10"] == pytest.approx(mean_reciprocal_rank(model, users), rel=1e-6)


def test_session_models_score_the_same_under_both_protocols():
    model = GRU4Rec(n_items=10, layers=[6], seed=3)
    test = frame([("t1", "ann", [0, 1, 5, 2]), ("t2", "bob", [3, 3]), ("t3", "dan", [7, 8, 9])], start=1e5)
    session = evaluate(model, test, ITEMS, cutoffs=(3, 10))
    user = evaluate_users(model, test, ITEMS, HISTORY, cutoffs=(3, 10))
    for key in ("recall@3", "mrr@3", "mrr@10", "events", "sessions"):
        assert user[key] == pytest.approx(session[key], rel=1e-9)


def test_a_test_session_continuing_a_history_session_ranks_only_the_held_out_events():
    """Leave-one-out: the history holds the start of the sequence, the test its last event."""
    model = GRU4Rec(n_items=10, layers=[6], seed=4)
    history = frame([("ann", "ann", [1, 2, 3]), ("bob", "bob", [4])])
    test = frame([("ann", "ann", [5]), ("bob", "bob", [6]), ("cy", "cy", [7])], start=10.0)
    metrics = evaluate_users(model, test, ITEMS, history, cutoffs=(10,))
    assert (metrics["events"], metrics["sessions"], metrics["dropped_short_sessions"]) == (2, 2, 1)
    expected = [model(np.array([played])).numpy()[0] for played in ([1, 2, 3], [4])]
    reciprocal = [1 / (scores >= scores[target]).sum() for scores, target in zip(expected, (5, 6))]
    assert metrics["mrr@10"] == pytest.approx(np.mean(reciprocal), rel=1e-6)


def test_protocol_choice_and_user_errors():
    hrnn, gru = HRNN(n_items=10, n_users=3, layers=[4], user_units=2), GRU4Rec(n_items=10, layers=[4])
    assert evaluate_run(hrnn, TEST, ITEMS, history=HISTORY)["protocol"] == "user"
    assert evaluate_run(gru, TEST, ITEMS, history=HISTORY)["protocol"] == "session"
    assert evaluate_run(hrnn, TEST.drop(columns="UserId"), ITEMS)["protocol"] == "session"
    with pytest.raises(DataError, match="no user ids"):
        evaluate_users(gru, TEST.drop(columns="UserId"), ITEMS, HISTORY)
    unknown = TEST.assign(ItemId="zz")
    with pytest.raises(DataError, match="unknown to the model"):
        evaluate_users(gru, unknown, ITEMS, HISTORY)
