"""SimpleRNN: the Elman recurrence as a session model.

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)

with W_xh and W_hh uniform in +-sqrt(6 / (fan_in + units)) and b_h = 0, as the GRU4Rec matrices.
Everything else (item input, scoring, training, evaluation) is the shared `SessionRecommender`.
"""
import keras
import tensorflow as tf

from zoo.models.recommender import RecurrentCore, SessionRecommender, glorot_uniform


class ElmanCore(RecurrentCore):
    """h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h). State: [h]."""

    def build(self, input_dim):
        units = self.units
        if input_dim is not None:
            self.input_kernel = self.add_weight(
                shape=(input_dim, units), initializer=glorot_uniform((input_dim, units)), name="input_kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(units, units), initializer=glorot_uniform((units, units)), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")
        self.built = True

    def step(self, x_proj, states):
        return [tf.tanh(x_proj + tf.matmul(states[0], self.recurrent_kernel) + self.bias)]


@keras.saving.register_keras_serializable(package="zoo")
class SimpleRNN(SessionRecommender):
    """Elman RNN session recommender; options as `SessionRecommender`.

    Example:

        model = zoo.get_model("simple_rnn", n_items=len(vocab), layers=[100])
    """

    def make_core(self, units, index):
        return ElmanCore(units, name=f"elman_{index}")
