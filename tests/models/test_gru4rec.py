import keras
import numpy as np
import pytest
import tensorflow as tf

from model_checks import check_model
from zoo.models.recommender import parse_final_activation
from zoo.errors import ConfigError
from zoo.models.gru4rec import GRU4Rec, GRUCore


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_gru_step_is_the_reference_equation():
    """h = (1 - z) h + z c, c = tanh(x W_c + (r * h) U_c + b_c): reset BEFORE the recurrent product."""
    core = GRUCore(3)
    core.build(2)
    rng = np.random.default_rng(0)
    core.bias.assign(rng.normal(size=9).astype("float32"))
    x, h = rng.normal(size=(4, 2)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    W, U, b = core.input_kernel.numpy(), core.recurrent_kernel.numpy(), core.bias.numpy()
    r = sigmoid(x @ W[:, 0:3] + h @ U[:, 0:3] + b[0:3])
    z = sigmoid(x @ W[:, 3:6] + h @ U[:, 3:6] + b[3:6])
    c = np.tanh(x @ W[:, 6:9] + (r * h) @ U[:, 6:9] + b[6:9])
    expected = (1 - z) * h + z * c
    (got,) = core.step(core.project(tf.constant(x)), [tf.constant(h)])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_gate_blocks_are_initialized_each_with_its_own_fan():
    core = GRUCore(4)
    core.build(100)
    limit_input, limit_recurrent = np.sqrt(6 / (100 + 4)), np.sqrt(6 / (4 + 4))
    assert np.abs(core.input_kernel.numpy()).max() <= limit_input
    assert np.abs(core.input_kernel.numpy()).max() > 0.5 * limit_input
    assert np.abs(core.recurrent_kernel.numpy()).max() <= limit_recurrent
    assert not core.bias.numpy().any()


@pytest.mark.parametrize("options", [
    {"loss": "cross-entropy", "logq": 1.0, "dropout_p_hidden": 0.2},
    {"loss": "bpr-max", "bpreg": 0.5, "final_activation": "elu-0.5", "constrained_embedding": False, "embedding": 8},
    {"loss": "top1-max", "constrained_embedding": False, "layers": [8, 8]},
])
def test_gru4rec_passes_the_shared_model_checks(options, tmp_path):
    check_model(lambda **kw: GRU4Rec(layers=options.get("layers", [16]), seed=1,
                                     **{k: v for k, v in options.items() if k != "layers"}, **kw), tmp_path)


def test_constrained_embedding_shares_input_and_output_vectors():
    model = GRU4Rec(n_items=5, layers=[4], constrained_embedding=True)
    names = [w.path for w in model.trainable_weights]
    assert not any("item_embedding" in n or "input_table" in n for n in names)
    one_hot = GRU4Rec(n_items=5, layers=[4], constrained_embedding=False, embedding=0)
    assert tuple(one_hot.input_table.shape) == (5, 12)  # one-hot input: a row of x.W per item


@pytest.mark.parametrize("bad", [
    {"loss": "hinge"}, {"dropout_p_hidden": 1.0}, {"layers": [0]}, {"final_activation": "swish"},
    {"loss": "bpr", "logq": 1.0}, {"loss": "cross-entropy", "final_activation": "tanh"},
])
def test_bad_options_raise_config_errors(bad):
    with pytest.raises(ConfigError):
        GRU4Rec(n_items=5, **bad)


def test_reset_after_variant_is_the_pytorch_grucell_equation():
    """c = tanh(x W_c + b_c + r * (h U_c + b'_c)), h' = (1 - z) h + z c."""
    core = GRUCore(3, reset_after=True)
    core.build(2)
    rng = np.random.default_rng(5)
    core.bias.assign(rng.normal(size=9).astype("float32"))
    core.recurrent_bias.assign(rng.normal(size=3).astype("float32"))
    x, h = rng.normal(size=(4, 2)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    W, U, b, b2 = core.input_kernel.numpy(), core.recurrent_kernel.numpy(), core.bias.numpy(), core.recurrent_bias.numpy()
    r = sigmoid(x @ W[:, 0:3] + h @ U[:, 0:3] + b[0:3])
    z = sigmoid(x @ W[:, 3:6] + h @ U[:, 3:6] + b[3:6])
    c = np.tanh(x @ W[:, 6:9] + b[6:9] + r * (h @ U[:, 6:9] + b2))
    (got,) = core.step(core.project(tf.constant(x)), [tf.constant(h)])
    np.testing.assert_allclose(got.numpy(), (1 - z) * h + z * c, rtol=1e-5, atol=1e-6)


def test_reset_after_gru4rec_passes_the_shared_model_checks(tmp_path):
    check_model(lambda **kw: GRU4Rec(layers=[16], seed=4, reset_after=True, **kw), tmp_path)


@pytest.mark.parametrize("name, expected", [
    ("elu-0.5", lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1.0))),
    ("elu-1", lambda x: np.where(x > 0, x, np.exp(x) - 1.0)),
    ("elu", lambda x: np.where(x > 0, x, np.exp(x) - 1.0)),
    ("tanh", np.tanh),
    ("linear", lambda x: x),
])
def test_final_activation_formulas(name, expected):
    x = np.array([-3.0, -0.5, -1e-3, 0.0, 1e-3, 0.7, 4.0], np.float32)
    np.testing.assert_allclose(parse_final_activation(name)(tf.constant(x)).numpy(), expected(x), rtol=1e-6, atol=1e-7)


# --- final activation and dropout, as the reference applies them ------------------------------
@pytest.mark.parametrize("name, expected", [
    ("elu-0", lambda x: np.maximum(x, 0.0)),  # the Theano reference's Elu(0): x for x >= 0, 0 otherwise
    ("softmax", lambda x: np.exp(x) / np.exp(x).sum()),
])
def test_final_activation_reference_cases(name, expected):
    x = np.array([[-3.0, -0.5, -1e-3, 0.0, 1e-3, 0.7, 4.0]], np.float32)
    np.testing.assert_allclose(parse_final_activation(name)(tf.constant(x)).numpy(), expected(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["elu-", "elu--1", "elu-nan", "elu-inf", "elu0.5", "softmax-1"])
def test_malformed_final_activations_are_refused(name):
    with pytest.raises(ConfigError, match="final_activation must be one of"):
        parse_final_activation(name)


def np_bpr_max(s, bpreg):
    """The reference's BPR-max of row i on the candidate matrix s (target of row i in column i)."""
    out = []
    for i in range(s.shape[0]):
        neg = np.delete(s[i], i)
        w = np.exp(neg - neg.max()) / np.exp(neg - neg.max()).sum()
        out.append(-np.log(np.sum(w * sigmoid(s[i, i] - neg)) + 1e-24) + bpreg * np.sum(w * neg ** 2))
    return np.array(out)


def test_softmax_final_activation_with_bpr_max_trains_on_the_softmax_of_the_candidates():
    """Theano reference: yhat = softmax(scores over the active targets and the samples), then BPR-max(yhat)."""
    model = GRU4Rec(n_items=9, layers=[4], loss="bpr-max", bpreg=0.5, final_activation="softmax", batch_size=3)
    model.compile(optimizer="sgd")
    items, targets, negatives = np.array([0, 4, 6]), np.array([1, 5, 3]), np.array([2, 4, 7, 7])
    inputs = {"item": tf.constant(items), "reset": tf.constant([True, True, True]),
              "mask": tf.constant([True, True, False]), "negatives": tf.constant(negatives)}  # slot 2 idle
    hidden, _ = model.step(tf.constant(items), model.initial_states(3))
    columns = np.concatenate([targets[:2], negatives])  # the reference's layout: active targets, then samples
    scores = hidden.numpy()[:2] @ model.item_vectors.numpy()[columns].T + model.item_bias.numpy()[columns]
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    expected = np_bpr_max(probabilities, 0.5).sum() / 3
    loss = float(model.train_step((inputs, tf.constant(targets)))["loss"])
    assert loss == pytest.approx(expected, rel=1e-5)
    assert abs(np_bpr_max(scores, 0.5).sum() / 3 - expected) > 1e-3  # linear would give another number


def test_softmax_final_activation_with_cross_entropy_is_the_losss_own_softmax():
    inputs = {"item": tf.constant([0, 4]), "reset": tf.constant([True, True]), "mask": tf.constant([True, True]),
              "negatives": tf.constant([2, 7])}
    results = []
    for final in ("linear", "softmax"):
        keras.utils.set_random_seed(3)
        model = GRU4Rec(n_items=9, layers=[4], final_activation=final, batch_size=2)
        model.compile(optimizer="sgd")
        results.append(float(model.train_step((inputs, tf.constant([1, 5])))["loss"]))
    assert results[0] == pytest.approx(results[1], rel=1e-6)


INPUT_MODES = {"shared": {"constrained_embedding": True}, "separate": {"constrained_embedding": False, "embedding": 6},
               "one-hot": {"constrained_embedding": False, "embedding": 0}}


def dropout_model(mode, **dropout):
    model = GRU4Rec(n_items=7, layers=[12, 10], seed=11, **INPUT_MODES[mode], **dropout)
    rng = np.random.default_rng(1)
    states = [tf.constant(rng.normal(0, 0.5, size=(3, units)).astype("float32")) for units in (12, 10)]
    return model, tf.constant([1, 3, 5]), states


def undropped_core(model, index, x, states):
    """Core `index` on input x (item vectors, table rows for one-hot layer 0, or the layer below's h)."""
    return model.cores[index].step(model.core_input(index, x, states), [states[index]])[0].numpy()


@pytest.mark.parametrize("mode", list(INPUT_MODES))
def test_hidden_dropout_masks_every_layers_output_and_not_the_input(mode):
    """Reference: h^(l) = dropout(GRU_l(x^(l), h^(l)_{t-1}), p_hidden) for every layer l, the first
    included (also with one-hot input, as in the Theano original), and x^(l+1) = h^(l), the state = h^(l)."""
    model, items, states = dropout_model(mode, dropout_p_hidden=0.5)
    hidden, new_states = model.step(items, states, training=True)
    x = model._item_input(items, training=False)  # the undropped item vectors (table rows for one-hot)
    layer_input = x
    for index in range(2):
        dropped = new_states[index].numpy()
        kept = dropped != 0
        assert 0.2 < kept.mean() < 0.8  # about half the units masked
        np.testing.assert_allclose(dropped, np.where(kept, 2.0 * undropped_core(model, index, layer_input, states), 0.0),
                                   rtol=1e-5, atol=1e-6)  # the core saw its input unmasked
        layer_input = new_states[index]  # the next layer reads the masked output
    np.testing.assert_array_equal(hidden.numpy(), new_states[1].numpy())


@pytest.mark.parametrize("mode", ["shared", "separate"])
def test_embedding_dropout_masks_the_item_vector_and_nothing_else(mode):
    """Reference: x = dropout(E[item], p_embed) for a shared or separate embedding; no layer output is masked."""
    model, items, states = dropout_model(mode, dropout_p_embed=0.5)
    table = model.item_vectors if mode == "shared" else model.item_embedding
    with tf.GradientTape() as tape:
        hidden, new_states = model.step(items, states, training=True)
        total = tf.reduce_sum(hidden * tf.constant(np.random.default_rng(2).normal(size=(3, 10)), tf.float32))
    kept = tf.convert_to_tensor(tape.gradient(total, table)).numpy()[items.numpy()] != 0
    assert 0.2 < kept.mean() < 0.8  # masked entries of the item vectors get no gradient
    masked_input = tf.constant(np.where(kept, 2.0 * table.numpy()[items.numpy()], 0.0), tf.float32)
    first = undropped_core(model, 0, masked_input, states)
    np.testing.assert_allclose(new_states[0].numpy(), first, rtol=1e-5, atol=1e-6)  # output not masked
    np.testing.assert_allclose(hidden.numpy(), undropped_core(model, 1, tf.constant(first), states),
                               rtol=1e-5, atol=1e-6)


def test_embedding_dropout_with_one_hot_input_is_refused():
    """One-hot input has no item vector: the Theano reference ignores p_embed, the PyTorch port masks
    the first layer's output with it; the zoo refuses it rather than pick silently."""
    with pytest.raises(ConfigError, match="dropout_p_embed needs an item embedding"):
        GRU4Rec(n_items=7, constrained_embedding=False, embedding=0, dropout_p_embed=0.5)
    GRU4Rec(n_items=7, constrained_embedding=False, embedding=4, dropout_p_embed=0.5)  # an embedding: fine


def test_gru4rec_concat_passes_the_shared_personalized_checks(tmp_path):
    from model_checks import check_personalized_model

    from zoo.models.gru4rec_concat import GRU4RecConcat

    check_personalized_model(lambda **kw: GRU4RecConcat(layers=[16], seed=1, **kw), tmp_path)


def test_gru4rec_concat_trains_across_session_boundaries():
    """Its training pairs include (last click of a session -> first click of the user's next one)."""
    import pandas as pd

    from zoo.datasets.batches import order_sessions
    from zoo.datasets.vocab import Vocabulary
    from zoo.models.gru4rec_concat import GRU4RecConcat
    from zoo.training.data import training_sequences

    log = pd.DataFrame({"SessionId": [1, 1, 2, 2, 3], "ItemId": ["a", "b", "c", "d", "e"],
                        "Time": [0.0, 1, 100, 101, 50], "UserId": ["u", "u", "u", "u", "v"]})
    vocab = Vocabulary.fit(log.ItemId)
    joined = order_sessions(training_sequences(log, GRU4RecConcat), vocab)
    assert joined.n_pairs == 3 and vocab.decode(joined.items).tolist() == ["a", "b", "c", "d", "e"]
    assert order_sessions(training_sequences(log, GRU4Rec), vocab).n_pairs == 2
