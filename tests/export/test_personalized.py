"""Exports of the personalized models: `user_id` in every signature (user-gated GRU), and HRNN's
`user_state` / `new_session` carrying a user from one session to the next, against the Keras model."""
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from export_fixtures import SESSIONS_PER_USER, exported, log, pad, sessions  # noqa: F401 (fixtures)
from zoo.export.servable import Servable


@pytest.fixture(scope="module")
def user_gru(exported):  # noqa: F811
    run, out = exported("user_gru")
    servable = Servable(str(out))
    yield run, out, servable
    servable.close()


@pytest.fixture(scope="module")
def hrnn(exported):  # noqa: F811
    run, out = exported("hrnn")
    servable = Servable(str(out))
    yield run, out, servable
    servable.close()


def strings(rows):
    return np.array(rows, dtype=object)


def indices(run, histories):
    return pad([list(run.vocab.encode(h)) for h in histories], -1).astype(np.int32)


def top_ids(run, scores, k=10):
    return [list(run.vocab.decode(row)) for row in np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def decoded(ids):
    return [[i.decode() for i in row] for row in ids]


def test_signatures_take_the_user_inputs(user_gru, hrnn):
    assert set(user_gru[2].signatures["serving_default"].inputs) == {"item_ids", "user_id", "k", "exclude_history"}
    assert set(user_gru[2].signatures["step"].inputs) == {"item_id", "state", "user_id", "k"}
    assert set(hrnn[2].signatures["encode"].inputs) == {"item_ids", "user_id", "user_state"}
    assert set(hrnn[2].signatures["step"].inputs) == {"item_id", "state", "user_id", "new_session", "k"}


def test_user_gru_recommends_for_each_user_as_keras(user_gru, log):  # noqa: F811
    run, out, servable = user_gru
    histories = sessions(log, 12)
    user_ids = ["u0", "u1", "u2", "nobody"] * 3
    scores = run.model({"items": indices(run, histories), "users": run.users.encode(user_ids)}).numpy()
    got = servable.predict("serving_default", {"item_ids": strings(pad(histories)), "user_id": strings(user_ids)})
    assert decoded(got["item_ids"]) == top_ids(run, scores)
    np.testing.assert_allclose(got["scores"], np.sort(scores, axis=1)[:, ::-1][:, :10], rtol=1e-5, atol=1e-5)
    state = np.zeros((1, sum(run.model.state_sizes)), np.float32)
    for item in histories[1]:
        step = servable.predict("step", {"item_id": strings([item]), "state": state, "user_id": strings(["u1"])})
        state = step["state"]
    assert decoded(step["item_ids"]) == top_ids(run, scores[1:2])
    tflite = Interpreter(model_path=str(out / "model.tflite")).get_signature_runner("recommend")
    lite = tflite(item_ids=strings([histories[1]]), user_id=strings(["u1"]))
    assert decoded(lite["item_ids"][:, :10]) == top_ids(run, scores[1:2])


def test_hrnn_user_state_carries_the_user_into_the_next_session(hrnn, log):  # noqa: F811
    run, out, servable = hrnn
    earlier, current = sessions(log, 2)
    _, ended_states = run.model.encode(indices(run, [earlier]))  # every click of the earlier session played
    starts = np.eye(1, len(current), dtype=bool)
    hidden, _ = run.model.encode(indices(run, [current]), states=ended_states, session_starts=starts)
    expected = run.model.score_all(hidden).numpy()
    user = {"user_id": strings(["u0"])}
    ended = servable.predict("encode", {"item_ids": strings([earlier]), **user,
                                        "user_state": np.zeros((1, sum(run.model.state_sizes)), np.float32)})
    got = servable.predict("serving_default", {"item_ids": strings([current]), **user, "user_state": ended["state"]})
    assert decoded(got["item_ids"]) == top_ids(run, expected)
    np.testing.assert_allclose(got["scores"][0], np.sort(expected[0])[::-1][:10], rtol=1e-5, atol=1e-5)
    state = ended["state"]
    for position, item in enumerate(current):
        step = servable.predict("step", {"item_id": strings([item]), "state": state, **user,
                                         "new_session": np.array([position == 0])})
        state = step["state"]
    assert decoded(step["item_ids"]) == top_ids(run, expected)
    tflite = Interpreter(model_path=str(out / "model.tflite")).get_signature_runner("recommend")
    lite = tflite(item_ids=strings([current]), user_state=ended["state"], **user)
    assert decoded(lite["item_ids"][:, :10]) == top_ids(run, expected)


def test_hrnn_zero_user_state_is_a_new_user(hrnn, log):  # noqa: F811
    run, _, servable = hrnn
    history = sessions(log, SESSIONS_PER_USER + 1)[-1]
    expected = run.model(indices(run, [history])).numpy()
    got = servable.predict("serving_default", {"item_ids": strings([history]), "user_id": strings(["u1"]),
                                               "user_state": np.zeros((1, sum(run.model.state_sizes)), np.float32)})
    assert decoded(got["item_ids"]) == top_ids(run, expected)
