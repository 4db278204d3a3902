import numpy as np
import tensorflow as tf

from model_checks import check_model
from zoo.models.simple_rnn import ElmanCore, SimpleRNN


def test_elman_step_is_the_equation():
    core = ElmanCore(3)
    core.build(2)
    core.bias.assign([0.1, -0.2, 0.3])
    rng = np.random.default_rng(1)
    x, h = rng.normal(size=(4, 2)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    expected = np.tanh(x @ core.input_kernel.numpy() + h @ core.recurrent_kernel.numpy() + core.bias.numpy())
    (got,) = core.step(core.project(tf.constant(x)), [tf.constant(h)])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_simple_rnn_passes_the_shared_model_checks(tmp_path):
    check_model(lambda **kw: SimpleRNN(layers=[16], seed=2, **kw), tmp_path)
