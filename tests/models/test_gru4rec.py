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
