"""GRU4Rec (Hidasi et al., ICLR 2016; Hidasi & Karatzoglou, CIKM 2018).

The GRU of the original (Theano) GRU4Rec applies the reset gate to the previous state BEFORE the
recurrent product (Keras `reset_after=False`, unlike PyTorch's `GRUCell`):

    r_t = sigma(x_t W_r + h_{t-1} U_r + b_r)
    z_t = sigma(x_t W_z + h_{t-1} U_z + b_z)
    c_t = tanh(x_t W_c + (r_t * h_{t-1}) U_c + b_c)
    h_t = (1 - z_t) * h_{t-1} + z_t * c_t

(the reference's convention for z; Keras' GRU uses z for the other term, which is the same family).

`reset_after=True` gives instead the GRU of the official PyTorch port of GRU4Rec, which uses
`torch.nn.GRUCell` in its shared- and separate-embedding modes (Keras `reset_after=True`), with a
second bias inside the reset product:

    c_t = tanh(x_t W_c + b_c + r_t * (h_{t-1} U_c + b'_c))

The default is the original's reset-before GRU. On rsc15-100k the two differ within run-to-run
noise with cross-entropy and by a few percent with BPR-max (see the README's results).
Each of the three gate blocks of W and U is initialized on its own, uniform in
+-sqrt(6 / (fan_in + units)); biases start at zero. One step per mini-batch, no BPTT.
"""
import keras
import tensorflow as tf

from zoo.models.recommender import RecurrentCore, SessionRecommender, glorot_uniform


def gate_blocks_initializer(fan_in, units, blocks=3):
    """`blocks` [fan_in, units] gate blocks side by side, each uniform +-sqrt(6 / (fan_in + units))."""
    block = glorot_uniform((fan_in, units))

    def initialize(shape, dtype=None):
        return tf.concat([block((fan_in, units), dtype=dtype) for _ in range(blocks)], axis=1)

    return initialize


class GRUCore(RecurrentCore):
    """The reference GRU step. State: [h]. `projection_dim` = 3 * units (gates r, z, c).

    Args:
        units: hidden size.
        reset_after: apply the reset gate after the recurrent product (the PyTorch port's GRU).
    """

    def __init__(self, units, reset_after=False, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = reset_after

    gates = 3

    def build(self, input_dim):
        units = self.units
        if input_dim is not None:
            self.input_kernel = self.add_weight(
                shape=(input_dim, 3 * units), initializer=gate_blocks_initializer(input_dim, units), name="input_kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(units, 3 * units), initializer=gate_blocks_initializer(units, units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(3 * units,), initializer="zeros", name="bias")
        if self.reset_after:
            self.recurrent_bias = self.add_weight(shape=(units,), initializer="zeros", name="recurrent_bias")
        self.built = True

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}

    def step(self, x_proj, states):
        if self.reset_after:
            return self._step_reset_after(x_proj, states[0])
        h = states[0]
        units = self.units
        x_rz, x_c = tf.split(x_proj + self.bias, [2 * units, units], axis=1)  # splits: cheap gradients
        u_rz, u_c = tf.split(self.recurrent_kernel, [2 * units, units], axis=1)
        r, z = tf.split(tf.sigmoid(x_rz + tf.matmul(h, u_rz)), 2, axis=1)
        c = tf.tanh(x_c + tf.matmul(r * h, u_c))
        return [(1.0 - z) * h + z * c]

    def _step_reset_after(self, x_proj, h):
        units = self.units
        x_rz, x_c = tf.split(x_proj + self.bias, [2 * units, units], axis=1)
        h_rz, h_c = tf.split(tf.matmul(h, self.recurrent_kernel), [2 * units, units], axis=1)
        r, z = tf.split(tf.sigmoid(x_rz + h_rz), 2, axis=1)
        c = tf.tanh(x_c + r * (h_c + self.recurrent_bias))
        return [(1.0 - z) * h + z * c]


@keras.saving.register_keras_serializable(package="zoo")
class GRU4Rec(SessionRecommender):
    """GRU4Rec: stacked reference GRUs over session-parallel mini-batches.

    Args:
        n_items: catalogue size.
        reset_after: the PyTorch port's GRU variant instead of the original's (see the module).
        **kwargs: the options of `SessionRecommender`; the defaults are the reference's.

    Example:

        model = GRU4Rec(n_items=len(vocab), layers=[100], loss="cross-entropy", logq=1.0,
                        dropout_p_hidden=0.4, batch_size=32)
        model.compile(optimizer=zoo.optimization.optimizers.AdagradMomentum(0.2, momentum=0.2))
        model.fit(train_dataset, epochs=10)
    """

    extra_options = ("reset_after",)

    def __init__(self, n_items, reset_after=False, **kwargs):
        self.reset_after = bool(reset_after)
        super().__init__(n_items, **kwargs)

    def make_core(self, units, index):
        return GRUCore(units, reset_after=self.reset_after, name=f"gru_{index}")

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
