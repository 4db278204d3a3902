"""Checks every model of the zoo must pass (keras-hub style): a model's test file calls `check_model`.

Each check builds a small model with `make(**overrides)` and a tiny synthetic click log with a strong
sequential pattern (item i is mostly followed by item i+1), so a few training steps are enough to see
learning. Personalized models also pass `check_personalized_model`: the same checks on a log with
users (each user walks the ring with a stride of its own), with user inputs.
"""
import numpy as np
import pandas as pd
import tensorflow as tf

from zoo.training import presets
from zoo import training
from zoo.datasets.vocab import Vocabulary

N_ITEMS = 12


def chain_log(n_sessions=60, length=5, seed=0):
    """Sessions walking the item ring i -> i+1 (mod N_ITEMS) from random starts."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, N_ITEMS, n_sessions)
    items = (starts[:, None] + np.arange(length)) % N_ITEMS
    return pd.DataFrame({
        "SessionId": np.repeat(np.arange(n_sessions), length).astype(str),
        "ItemId": items.ravel().astype(str),
        "Time": (np.repeat(np.arange(n_sessions), length) * 100 + np.tile(np.arange(length), n_sessions)).astype(float),
    })


def fit_lowers_loss(make):
    events = chain_log()
    config = presets.resolve(sets=["n_sample=4", "batch_size=4", "learning_rate=0.1", "steps_per_execution=8"],
                             epochs=4)
    vocab = Vocabulary.fit(events.ItemId)
    model = make(n_items=len(vocab), batch_size=4)
    model.compile(optimizer=training.make_optimizer(config), steps_per_execution=8)
    history = model.fit(training.train_dataset(events, vocab, config), epochs=4, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.95 * losses[0], losses
    return model, vocab


def save_load_keeps_predictions(model, tmp_path):
    import keras

    sessions = np.array([[0, 1, 2], [5, -1, -1], [7, 8, -1]])
    before = model.predict(sessions, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict(sessions, verbose=0), before, rtol=1e-6, atol=1e-6)
    assert loaded.get_config() == model.get_config()
    rebuilt = type(model).from_config(model.get_config())
    assert rebuilt.get_config() == model.get_config()


def stepwise_equals_whole(model):
    session = np.array([3, 4, 5, 6], np.int32)
    hidden_whole, _ = model.encode(session[None, :])
    states = model.initial_states(1)
    for item in session:
        hidden, states = model.step(tf.constant([item]), states)
    np.testing.assert_allclose(hidden.numpy(), hidden_whole.numpy(), rtol=1e-5, atol=1e-6)
    padded, _ = model.encode(np.array([[3, 4, 5, 6, -1, -1]]))
    np.testing.assert_allclose(padded.numpy(), hidden_whole.numpy(), rtol=1e-5, atol=1e-6)


def resets_isolate_sessions(model):
    """After a reset, a slot's output does not depend on what the slot played before."""
    states = model.initial_states(2)
    _, states = model.step(tf.constant([1, 9]), states)  # different histories in the two slots
    _, states = model.step(tf.constant([2, 10]), states)
    played = states
    states = model.reset_states(played, tf.constant([True, True]))
    after, _ = model.step(tf.constant([4, 4]), states)
    fresh, _ = model.step(tf.constant([4]), model.initial_states(1))
    np.testing.assert_allclose(after.numpy()[0], after.numpy()[1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(after.numpy()[:1], fresh.numpy(), rtol=1e-6, atol=1e-7)
    kept = model.reset_states(played, tf.constant([False, True]))
    np.testing.assert_array_equal(kept[0].numpy()[0], played[0].numpy()[0])
    assert not kept[0].numpy()[1].any()


def check_model(make, tmp_path):
    """Runs every check on the model built by `make(n_items=..., batch_size=..., **options)`."""
    model, _ = fit_lowers_loss(make)
    save_load_keeps_predictions(model, tmp_path)
    stepwise_equals_whole(model)
    resets_isolate_sessions(model)


# --- personalized models ------------------------------------------------------------------------
N_USERS = 6


def user_chain_log(sessions_per_user=6, length=5, seed=0):
    """Each user u plays sessions walking the ring with stride 1 + u % 3, sessions an hour apart."""
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(N_USERS), sessions_per_user)
    starts = rng.integers(0, N_ITEMS, len(user))
    items = (starts[:, None] + np.arange(length) * (1 + user[:, None] % 3)) % N_ITEMS
    session_time = np.arange(len(user)) % sessions_per_user * 3600.0 + user * 1e5
    return pd.DataFrame({
        "SessionId": np.repeat(np.arange(len(user)), length).astype(str),
        "ItemId": items.ravel().astype(str),
        "Time": (session_time[:, None] + np.arange(length)).ravel(),
        "UserId": np.repeat(user, length).astype(str),
    })


def personalized_fit_lowers_loss(make):
    events = user_chain_log()
    config = presets.resolve(sets=["n_sample=4", "batch_size=4", "learning_rate=0.1", "steps_per_execution=8"],
                             epochs=4)
    vocab, users = Vocabulary.fit(events.ItemId), Vocabulary.fit(events.UserId)
    model = make(n_items=len(vocab), n_users=len(users), batch_size=4)
    model.compile(optimizer=training.make_optimizer(config), steps_per_execution=8)
    dataset = training.train_dataset(events, vocab, config, users, type(model).user_parallel)
    history = model.fit(dataset, epochs=4, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.95 * losses[0], losses
    return model


HISTORY = {  # two rows: a user's earlier session, then the current one (session_starts marks it)
    "items": np.array([[0, 1, 2, 7, 8, -1], [5, 7, 9, 11, 1, 3]], np.int32),
    "users": np.array([1, -1], np.int32),
    "session_starts": np.array([[0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0]], bool),
}


def personalized_save_load_keeps_predictions(model, tmp_path):
    import keras

    before = model.predict(HISTORY, verbose=0)
    path = str(tmp_path / "personalized.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(loaded.predict(HISTORY, verbose=0), before, rtol=1e-6, atol=1e-6)
    assert loaded.get_config() == model.get_config() and loaded.get_config()["n_users"] == N_USERS


def personalized_stepwise_equals_whole(model):
    """`encode` with users and session starts equals `start_sessions` + `step` event by event.

    As in training, a session's last event is a target only: the event before a start is not played.
    """
    whole, _ = model.encode(HISTORY["items"], users=HISTORY["users"], session_starts=HISTORY["session_starts"])
    for row in range(2):
        users = tf.constant(HISTORY["users"][row:row + 1])
        items, starts = HISTORY["items"][row], HISTORY["session_starts"][row]
        states = model.initial_states(1)
        for t, item in enumerate(items[items >= 0]):
            if t + 1 < len(starts) and starts[t + 1]:
                continue
            if starts[t]:
                states = model.start_sessions(states, tf.constant([True]))
            hidden, states = model.step(tf.constant([item]), states, users=users)
        np.testing.assert_allclose(hidden.numpy()[0], whole.numpy()[row], rtol=1e-5, atol=1e-6)


def user_start_zeroes_every_state(model):
    """A user start zeroes the whole state (the user state included), whatever came before."""
    users = tf.constant([0, 1])
    states = model.initial_states(2)
    for items in ([1, 9], [2, 10]):
        _, states = model.step(tf.constant(items), states, users=users)
    states = model.start_sessions(states, tf.constant([True, False]), tf.constant([False, True]))
    assert not any(s.numpy()[1].any() for s in states)
    after, _ = model.step(tf.constant([4, 4]), states, users=users)
    fresh, _ = model.step(tf.constant([4]), model.initial_states(1), users=users[1:])
    np.testing.assert_allclose(after.numpy()[1:], fresh.numpy(), rtol=1e-6, atol=1e-7)


def check_personalized_model(make, tmp_path):
    """The shared checks plus the user checks, for `make(n_items=..., n_users=..., batch_size=..., **options)`."""
    model = personalized_fit_lowers_loss(make)
    save_load_keeps_predictions(model, tmp_path)
    personalized_save_load_keeps_predictions(model, tmp_path)
    stepwise_equals_whole(model)
    personalized_stepwise_equals_whole(model)
    resets_isolate_sessions(model)
    user_start_zeroes_every_state(model)
    return model
