import numpy as np
import tensorflow as tf

from model_checks import check_model
from zoo.models.lstm import LSTM, LSTMCore


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_lstm_step_is_the_equation():
    core = LSTMCore(3)
    core.build(2)
    rng = np.random.default_rng(2)
    x, h, c = (rng.normal(size=(4, n)).astype("float32") for n in (2, 3, 3))
    pre = x @ core.input_kernel.numpy() + h @ core.recurrent_kernel.numpy() + core.bias.numpy()
    i, f, g, o = pre[:, 0:3], pre[:, 3:6], pre[:, 6:9], pre[:, 9:12]
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h_new = sigmoid(o) * np.tanh(c_new)
    got_h, got_c = core.step(core.project(tf.constant(x)), [tf.constant(h), tf.constant(c)])
    np.testing.assert_allclose(got_c.numpy(), c_new, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_h.numpy(), h_new, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(core.bias.numpy(), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


def test_lstm_passes_the_shared_model_checks(tmp_path):
    check_model(lambda **kw: LSTM(layers=[16], seed=3, **kw), tmp_path)


def test_lstm_carries_and_resets_both_states():
    model = LSTM(n_items=5, layers=[4], seed=0)
    assert model.state_sizes == [4, 4]
    _, states = model.step(tf.constant([1, 2]), model.initial_states(2))
    reset = model.reset_states(states, tf.constant([True, False]))
    assert not reset[0].numpy()[0].any() and not reset[1].numpy()[0].any()
    np.testing.assert_array_equal(reset[1].numpy()[1], states[1].numpy()[1])
