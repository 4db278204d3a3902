"""LSTM session recommender: the state (h, c) is carried and reset exactly like the GRU's h.

    i_t = sigma(x_t W_i + h_{t-1} U_i + b_i)       f_t = sigma(x_t W_f + h_{t-1} U_f + b_f)
    g_t = tanh(x_t W_g + h_{t-1} U_g + b_g)        o_t = sigma(x_t W_o + h_{t-1} U_o + b_o)
    c_t = f_t * c_t-1 + i_t * g_t                  h_t = o_t * tanh(c_t)

Gate blocks are initialized each uniform in +-sqrt(6 / (fan_in + units)); biases are zero except the
forget gate's, which starts at 1 (the usual LSTM choice, as Keras' `unit_forget_bias`). Only h is the
output; the shared base applies hidden dropout to h (the state element 0), as for every core.
"""
import keras
import tensorflow as tf

from zoo.models.gru4rec import gate_blocks_initializer
from zoo.models.recommender import RecurrentCore, SessionRecommender


class LSTMCore(RecurrentCore):
    """The standard LSTM step. State: [h, c]; `projection_dim` = 4 * units (gates i, f, g, o)."""

    gates = 4

    @property
    def state_sizes(self):
        return [self.units, self.units]

    def build(self, input_dim):
        units = self.units
        if input_dim is not None:
            self.input_kernel = self.add_weight(
                shape=(input_dim, 4 * units), initializer=gate_blocks_initializer(input_dim, units, 4),
                name="input_kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(units, 4 * units), initializer=gate_blocks_initializer(units, units, 4), name="recurrent_kernel")
        forget_bias = tf.concat([tf.zeros(units), tf.ones(units), tf.zeros(2 * units)], 0)
        self.bias = self.add_weight(shape=(4 * units,), initializer=lambda shape, dtype=None: forget_bias, name="bias")
        self.built = True

    def step(self, x_proj, states):
        h, c = states
        i, f, g, o = tf.split(x_proj + tf.matmul(h, self.recurrent_kernel) + self.bias, 4, axis=1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return [tf.sigmoid(o) * tf.tanh(c), c]


@keras.saving.register_keras_serializable(package="zoo")
class LSTM(SessionRecommender):
    """LSTM session recommender; options as `SessionRecommender`.

    Example:

        model = zoo.get_model("lstm", n_items=len(vocab), layers=[100])
    """

    def make_core(self, units, index):
        return LSTMCore(units, name=f"lstm_{index}")
