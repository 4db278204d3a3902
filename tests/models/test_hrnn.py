import numpy as np
import pytest
import tensorflow as tf

from model_checks import check_model, check_personalized_model
from zoo.errors import ConfigError
from zoo.models.hrnn import HRNN


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gru(core, x, h, extra=0.0):
    """The reference GRU step in NumPy (blocks r, z, c), `extra` added to the input term x W."""
    W, U, b, n = core.input_kernel.numpy(), core.recurrent_kernel.numpy(), core.bias.numpy(), core.units
    xw = x @ W + extra + b
    r = sigmoid(xw[:, :n] + h @ U[:, :n])
    z = sigmoid(xw[:, n:2 * n] + h @ U[:, n:2 * n])
    c = np.tanh(xw[:, 2 * n:] + (r * h) @ U[:, 2 * n:])
    return (1 - z) * h + z * c


def small_model(mode, **options):
    model = HRNN(n_items=8, n_users=3, layers=[3], user_units=2, user_propagation_mode=mode, seed=4, **options)
    rng = np.random.default_rng(1)
    for weight in (model.init_bias, model.user_core.bias, model.cores[0].bias):
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    return model


@pytest.mark.parametrize("options", [
    {"dropout_p_user": 0.1, "dropout_p_init": 0.1, "dropout_p_hidden": 0.1},
    {"user_propagation_mode": "all"},
])
def test_hrnn_passes_the_shared_model_checks(options, tmp_path):
    check_personalized_model(lambda **kw: HRNN(layers=[16], user_units=8, seed=1, **options, **kw), tmp_path)


def test_hrnn_with_two_session_layers_passes_the_plain_checks(tmp_path):
    check_model(lambda **kw: HRNN(layers=[8, 8], user_units=4, seed=2, **kw), tmp_path)


@pytest.mark.parametrize("mode", ["init", "all"])
def test_second_session_starts_from_the_user_initialized_state(mode):
    """c = GRU_u(s_last, 0), s_0 = tanh(c W_init + b_init); the next step runs from s_0 (the fixed HRNN)."""
    model = small_model(mode)
    vectors = model.item_vectors.numpy()
    states = model.initial_states(1)
    for item in (1, 2, 3):  # the user's first session
        hidden, states = model.step(tf.constant([item]), states)
    assert not states[-1].numpy().any()  # the user state changes only at session starts
    s_last = hidden.numpy()
    user = gru(model.user_core, s_last, np.zeros((1, 2)))
    s_0 = np.tanh(user @ model.init_kernel.numpy() + model.init_bias.numpy())
    opened = model.start_sessions(states, tf.constant([True]))
    np.testing.assert_allclose(opened[-1].numpy(), user, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(opened[0].numpy(), s_0, rtol=1e-5, atol=1e-6)
    extra = user @ model.user_to_session.numpy() if mode == "all" else 0.0
    expected = gru(model.cores[0], vectors[[5]], s_0, extra)
    hidden, after = model.step(tf.constant([5]), opened)
    np.testing.assert_allclose(hidden.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after[-1].numpy(), user, rtol=1e-6)


def test_train_step_commits_the_user_at_session_starts_and_zeroes_it_at_user_starts():
    model = small_model("init", batch_size=3)
    model.compile(optimizer="sgd")
    rng = np.random.default_rng(2)
    for variable in model.slot_states:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    h_top, user = (v.numpy() for v in model.slot_states)
    committed = gru(model.user_core, h_top[1:2], user[1:2])  # with the weights before the update
    inputs = {"item": tf.constant([1, 2, 3]), "reset": tf.constant([True, True, False]),
              "mask": tf.constant([True, True, True]), "user_start": tf.constant([True, False, False])}
    model.train_step((inputs, tf.constant([2, 3, 4])))
    after = model.slot_states[-1].numpy()
    assert not after[0].any()  # a new user
    np.testing.assert_allclose(after[1:2], committed, rtol=1e-5, atol=1e-6)  # the next session of a user
    np.testing.assert_array_equal(after[2], user[2])  # within a session


def test_a_users_first_session_starts_from_zero():
    model = small_model("all")
    states = model.initial_states(2)
    _, states = model.step(tf.constant([1, 2]), states)
    opened = model.start_sessions(states, tf.constant([True, True]), tf.constant([True, False]))
    assert not opened[0].numpy()[0].any() and not opened[-1].numpy()[0].any()
    assert opened[-1].numpy()[1].any()  # the other slot committed its session to the user state
    hidden, _ = model.step(tf.constant([4, 4]), opened)
    expected = gru(model.cores[0], model.item_vectors.numpy()[[4]], np.zeros((1, 3)))
    np.testing.assert_allclose(hidden.numpy()[:1], expected, rtol=1e-5, atol=1e-6)


def test_replayed_history_changes_the_recommendation():
    model = small_model("init")
    current = np.array([[4, 5, -1, -1, -1]])
    with_history = {"items": np.array([[1, 2, 3, 4, 5]]), "session_starts": np.array([[0, 0, 0, 1, 0]], bool)}
    alone = model(current).numpy()
    replayed = model(with_history).numpy()
    assert not np.allclose(alone, replayed)
    no_starts = model(np.array([[1, 2, 3, 4, 5]])).numpy()  # one long session instead
    assert not np.allclose(no_starts, replayed)


def test_user_dropout_and_init_dropout_apply_in_training_only():
    model = small_model("init", dropout_p_user=0.5, dropout_p_init=0.5)
    _, states = model.step(tf.constant([1] * 64), model.initial_states(64))
    reset = tf.ones([64], tf.bool)
    plain = model.start_sessions(states, reset)
    dropped = model.start_sessions(states, reset, training=True)
    user, init = dropped[-1].numpy(), dropped[0].numpy()
    assert (user == 0).mean() > 0.2 and (init == 0).mean() > 0.2
    kept = user != 0
    np.testing.assert_allclose(user[kept], 2 * plain[-1].numpy()[kept], rtol=1e-5)


def test_the_dropped_user_state_is_what_the_session_and_the_next_commit_see():
    """As in the reference (its h_u is dropped out before it is stored): in `all` mode every step of the
    session adds c W_us of the dropped c, and the next session start updates the user GRU from it."""
    model = small_model("all", dropout_p_user=0.5)
    _, states = model.step(tf.constant([1] * 64), model.initial_states(64))
    opened = model.start_sessions(states, tf.ones([64], tf.bool), training=True)
    user = opened[-1].numpy()
    assert (user == 0).any()
    hidden, after = model.step(tf.constant([5] * 64), opened)
    expected = gru(model.cores[0], model.item_vectors.numpy()[[5] * 64], opened[0].numpy(),
                   user @ model.user_to_session.numpy())
    np.testing.assert_allclose(hidden.numpy(), expected, rtol=1e-5, atol=1e-6)
    committed = model.start_sessions(after, tf.ones([64], tf.bool))[-1].numpy()
    np.testing.assert_allclose(committed, gru(model.user_core, hidden.numpy(), user), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [
    {"user_propagation_mode": "output"}, {"user_units": 0}, {"dropout_p_user": 1.0}, {"dropout_p_init": -0.1},
])
def test_bad_options_raise_config_errors(bad):
    with pytest.raises(ConfigError):
        HRNN(n_items=5, n_users=2, **bad)
