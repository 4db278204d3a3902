import numpy as np
import pytest
import tensorflow as tf

from model_checks import check_personalized_model, user_chain_log
from zoo.training import presets
from zoo import training
from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError
from zoo.models.user_gru import UserGRU
from zoo.optimization.optimizers import AdagradMomentum


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def expected_step(model, items, users, h):
    """The docstring's equations in NumPy, for one layer with the shared (constrained) embedding."""
    core, n = model.cores[0], model.layer_sizes[0]
    x = model.item_vectors.numpy()[items]
    u = model.user_lr_scale * model.user_vectors.numpy()[users]  # u = s E_u[user]
    item_term, user_term = x @ core.input_kernel.numpy(), u @ model.user_kernel.numpy()
    if model.user_mode == "linear":
        a = item_term + user_term
    elif model.user_mode == "rectified":
        a = item_term + np.maximum(user_term, 0)
    else:
        alpha = softmax(np.stack([x @ model.attention_item.numpy(), u @ model.attention_user.numpy()], 1))
        a = alpha[:, :1] * item_term + alpha[:, 1:] * user_term
    a = a + core.bias.numpy()
    U = core.recurrent_kernel.numpy()
    r = sigmoid(a[:, :n] + h @ U[:, :n])
    z = sigmoid(a[:, n:2 * n] + h @ U[:, n:2 * n])
    c = np.tanh(a[:, 2 * n:] + (r * h) @ U[:, 2 * n:])
    return (1 - z) * h + z * c


def small_model(mode, **options):
    model = UserGRU(n_items=9, n_users=4, layers=[3], user_embedding=2, user_mode=mode, seed=5, **options)
    rng = np.random.default_rng(0)
    model.cores[0].bias.assign(rng.normal(size=9).astype("float32"))
    model.user_vectors.assign(rng.normal(size=(5, 2)).astype("float32"))  # rows of a trained size
    return model


@pytest.mark.parametrize("mode", ["linear", "attentional"])  # rectified: the same code path as linear but the relu
def test_user_gru_passes_the_shared_model_checks(mode, tmp_path):
    check_personalized_model(lambda **kw: UserGRU(layers=[16], user_embedding=8, user_mode=mode, seed=1, **kw),
                             tmp_path)


@pytest.mark.parametrize("mode, scale", [("linear", 0.1), ("rectified", 0.1), ("attentional", 0.1), ("linear", 1.0),
                                         ("attentional", 0.3)])
def test_step_is_the_docstring_equation(mode, scale):
    model = small_model(mode, user_lr_scale=scale)
    items, users = np.array([1, 2, 3, 8]), np.array([0, 1, 2, 3])
    h = np.random.default_rng(3).normal(size=(4, 3)).astype("float32")
    got, _ = model.step(tf.constant(items), [tf.constant(h)], users=tf.constant(users))
    np.testing.assert_allclose(got.numpy(), expected_step(model, items, users, h), rtol=1e-5, atol=1e-6)


def test_two_users_with_the_same_session_get_different_scores():
    model = small_model("linear")
    scores = model({"items": np.array([[1, 2, 3], [1, 2, 3]]), "users": np.array([0, 1])}).numpy()
    assert np.abs(scores[0] - scores[1]).max() > 1e-4


def test_unseen_users_get_the_fallback_vector_without_error():
    """Index -1, the row count and beyond, and no users at all: the fallback row E_u[n_users]."""
    model = small_model("attentional")
    sessions = np.array([[1, 2, 3]] * 4)
    scores = model({"items": sessions, "users": np.array([-1, 4, 99, 4])}).numpy()
    np.testing.assert_allclose(scores, np.repeat(scores[1:2], 4, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(sessions[:1]).numpy(), scores[:1], rtol=1e-5, atol=1e-6)  # no users: fallback
    h = np.zeros((1, 3), np.float32)
    got, _ = model.step(tf.constant([1]), [tf.constant(h)], users=tf.constant([-1]))
    np.testing.assert_allclose(got.numpy(), expected_step(model, np.array([1]), np.array([4]), h), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("unknown_p, learned", [(0.5, True), (0.0, False)])
def test_the_fallback_vector_is_learned_from_replaced_users(unknown_p, learned):
    events = user_chain_log(sessions_per_user=2)
    config = presets.resolve(sets=["n_sample=4", "batch_size=4", "learning_rate=0.1"], epochs=1)
    vocab, users = Vocabulary.fit(events.ItemId), Vocabulary.fit(events.UserId)
    model = UserGRU(n_items=len(vocab), n_users=len(users), layers=[8], user_embedding=4, batch_size=4,
                    user_unknown_p=unknown_p, seed=2)
    before = model.user_vectors.numpy()
    model.compile(optimizer=training.make_optimizer(config))
    model.fit(training.train_dataset(events, vocab, config, users), epochs=1, verbose=0)
    after = model.user_vectors.numpy()
    assert np.abs(after[:-1] - before[:-1]).max() > 0  # the users' own rows always train
    assert (np.abs(after[-1] - before[-1]).max() > 0) == learned


def test_training_replaces_users_by_the_fallback_at_the_given_rate_and_keeps_unknown_ones_there():
    model = small_model("linear", user_unknown_p=0.3)
    users = tf.constant([0, 1, 2, 3, -1, 7] * 2000)
    rows = model.user_rows(users, 12000, training=True).numpy()
    known = np.tile([True] * 4 + [False] * 2, 2000)
    assert (rows[~known] == 4).all()
    assert abs((rows[known] == 4).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(rows[known][rows[known] != 4], users.numpy()[known][rows[known] != 4])
    np.testing.assert_array_equal(model.user_rows(users, 12000).numpy()[known], users.numpy()[known])  # inference


def train_step_data(users):
    inputs = {"item": tf.constant([1, 2, 3, 4]), "reset": tf.constant([True, False, False, True]),
              "mask": tf.constant([True] * 4), "user": tf.constant(users), "negatives": tf.constant([5, 6])}
    return inputs, tf.constant([2, 3, 4, 5])


def test_the_train_step_reads_and_updates_only_the_slots_user_rows():
    """A whole read of the user table (what `tf.gather` on the Keras variable does) copied all
    n_users x D_u floats every step; the step gathers the slots' rows from the tf.Variable and the
    optimizer scatters their update, as for the item table."""
    model = small_model("linear", batch_size=4, user_unknown_p=0.0)
    model.compile(optimizer=AdagradMomentum(0.1))
    data = train_step_data([0, 1, 1, -1])
    before = model.user_vectors.numpy()
    model.train_step(data)
    changed = np.abs(model.user_vectors.numpy() - before).max(axis=1) > 0
    np.testing.assert_array_equal(changed, [True, True, False, False, True])  # users 0, 1 and the fallback
    graph = tf.function(model.train_step).get_concrete_function(data).graph
    handle = [inner for outer, inner in graph.captures if outer is model.user_vectors.value.handle]
    uses = sorted(op.type for op in handle[0].consumers())
    assert uses == ["ResourceGather", "ResourceGather", "ResourceScatterUpdate"], uses  # no ReadVariableOp


def test_a_users_first_adagrad_step_moves_u_by_about_user_lr_scale_times_the_learning_rate():
    """Adagrad's first step of a row is -lr g / sqrt(g^2 + eps): lr in every coordinate whose |g| is
    well above sqrt(eps), whatever its size (here eps ~ 0); with u = s E_u[user] the user vector moves
    by s lr (s = `user_lr_scale`)."""
    for scale in (1.0, 0.1):
        model = small_model("linear", batch_size=4, user_unknown_p=0.0, user_lr_scale=scale)
        model.compile(optimizer=AdagradMomentum(0.2, epsilon=1e-20))
        before = model.user_vectors.numpy()[2]
        model.train_step(train_step_data([2, 3, 3, 3]))
        np.testing.assert_allclose(scale * np.abs(model.user_vectors.numpy()[2] - before), 0.2 * scale, rtol=1e-4)


def test_models_saved_without_user_lr_scale_load_with_scale_one():
    config = small_model("linear").get_config()
    del config["user_lr_scale"]
    assert UserGRU.from_config(config).user_lr_scale == 1.0
    assert UserGRU(n_items=5, n_users=2).user_lr_scale == 0.1


@pytest.mark.parametrize("bad", [
    {"user_mode": "multiplicative"}, {"user_embedding": 0}, {"user_unknown_p": 1.0}, {"user_lr_scale": 0.0},
    {"user_mode": "attentional", "constrained_embedding": False},
])
def test_bad_options_raise_config_errors(bad):
    with pytest.raises(ConfigError):
        UserGRU(n_items=5, n_users=2, **bad)
