"""User-gated GRU (Donkers, Loepp & Ziegler, RecSys 2017): a user embedding enters the GRU's gates.

A learned user vector u = E_u[user] (size D_u) joins the item input x_t of the first GRU layer in
its reset, update and candidate computations. With the reference GRU of `zoo.models.gru4rec` and, for each
gate block g in (r, z, c), a_g the gate's input term:

    r_t = sigma(a_r + h_{t-1} U_r + b_r)
    z_t = sigma(a_z + h_{t-1} U_z + b_z)
    c_t = tanh(a_c + (r_t * h_{t-1}) U_c + b_c)
    h_t = (1 - z_t) * h_{t-1} + z_t * c_t

`user_mode` decides a_g (W_g: the item input kernel, V_g: the user kernel [D_u, H], per block):

    linear:       a_g = x_t W_g + u V_g
    rectified:    a_g = x_t W_g + relu(u V_g)
    attentional:  (alpha_x, alpha_u) = softmax(x_t . w_x, u . w_u)       two scalars per row
                  a_g = alpha_x (x_t W_g) + alpha_u (u V_g)  = (alpha_x x_t) W_g + (alpha_u u) V_g

(w_x [D_x], w_u [D_u] are learned vectors.) Layers above the first are plain GRUs; states are
zeroed at each session start as in GRU4Rec, so the user enters only through u.

Unseen users (index -1, or any index outside 0..n_users-1) get a learned fallback vector, the extra
row E_u[n_users]; it is trained by replacing each training slot-step's user by the fallback with
probability `user_unknown_p` (as an unknown-word token is trained).

Training data: session-parallel mini-batches (GRU4Rec's) that carry the user of every slot
(`batches.session_parallel_batches(..., with_users=True)`); sessions of many users mix in a batch.

Named deviations: the paper's attention parameterization and output layer are not reproduced from
its code (we had none to compare with); the attentional mode is exactly the one defined above, and
scoring is the shared one (h_t . W_y[j] + b_y[j]). The user enters the first layer only. The fallback row and
`user_unknown_p` are ours: the paper does not score unseen users. Attentional mode needs an item
embedding (`constrained_embedding` or `embedding > 0`), since w_x is a weight on the input vector.
"""
import keras
import tensorflow as tf

from zoo.errors import ConfigError
from zoo.models.gru4rec import GRUCore, gate_blocks_initializer
from zoo.models.recommender import SessionRecommender, glorot_uniform

USER_MODES = ("linear", "rectified", "attentional")


@keras.saving.register_keras_serializable(package="zoo")
class UserGRU(SessionRecommender):
    """GRU with a user embedding in its gates.

    Args:
        n_items: catalogue size.
        n_users: number of training users; user indices 0..n_users-1, the fallback row is n_users.
        user_embedding: size D_u of the user vectors.
        user_mode: `linear`, `rectified` or `attentional` (see the module docstring).
        user_unknown_p: probability that a training step sees the fallback user instead of its own.
        **kwargs: the options of `SessionRecommender`.

    Example:

        model = zoo.get_model("user_gru", n_items=len(vocab), n_users=len(users), user_mode="linear")
        scores = model({"items": sessions, "users": user_indices})
    """

    personalized = True
    extra_options = ("user_embedding", "user_mode", "user_unknown_p")

    def __init__(self, n_items, n_users=0, user_embedding=100, user_mode="linear", user_unknown_p=0.05, **kwargs):
        self.n_users, self.user_embedding, self.user_mode = int(n_users), int(user_embedding), user_mode
        self.user_unknown_p = float(user_unknown_p)
        attentional_input = kwargs.get("constrained_embedding", True) or kwargs.get("embedding", 0) > 0
        checks = [
            (self.n_users >= 0, f"n_users must be >= 0, got {self.n_users}"),
            (self.user_embedding >= 1, f"user_embedding must be >= 1, got {self.user_embedding}"),
            (user_mode in USER_MODES, f"user_mode must be one of {', '.join(USER_MODES)}, got {user_mode!r}"),
            (0.0 <= self.user_unknown_p < 1.0, f"user_unknown_p must be in [0, 1), got {self.user_unknown_p}"),
            (user_mode != "attentional" or attentional_input,
             "user_mode attentional needs an item embedding: constrained_embedding or embedding > 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        super().__init__(n_items, **kwargs)

    def make_core(self, units, index):
        return GRUCore(units, name=f"gru_{index}")

    def build(self, input_shape=None):
        if self.built:
            return
        rows, size, units = self.n_users + 1, self.user_embedding, self.layer_sizes[0]
        self.user_vectors = self.add_weight(shape=(rows, size), initializer=glorot_uniform((rows, size)),
                                            name="user_vectors")
        self.user_kernel = self.add_weight(shape=(size, 3 * units), initializer=gate_blocks_initializer(size, units),
                                           name="user_kernel")
        if self.user_mode == "attentional":
            item_dim = self.layer_sizes[-1] if self.constrained_embedding else self.embedding
            self.attention_item = self.add_weight(shape=(item_dim,), initializer=glorot_uniform((item_dim, 1)),
                                                  name="attention_item")
            self.attention_user = self.add_weight(shape=(size,), initializer=glorot_uniform((size, 1)),
                                                  name="attention_user")
        self.unknown_draw = keras.random.SeedGenerator(self.seed)
        super().build(input_shape)

    def get_config(self):
        return {**super().get_config(), "n_users": self.n_users, "user_embedding": self.user_embedding,
                "user_mode": self.user_mode, "user_unknown_p": self.user_unknown_p}

    def user_rows(self, users, batch, training=False):
        """Rows of E_u for user indices [B] (None: all unknown); unknown ones -> the fallback row n_users."""
        if users is None:
            return tf.fill([batch], self.n_users)
        users = tf.cast(users, tf.int32)
        users = tf.where((users < 0) | (users >= self.n_users), self.n_users, users)
        if training and self.user_unknown_p > 0:
            draw = keras.random.uniform(tf.shape(users), seed=self.unknown_draw)
            users = tf.where(draw < self.user_unknown_p, self.n_users, users)
        return users

    def core_input(self, index, x, states, users=None, training=False):
        projected = super().core_input(index, x, states, users, training)
        if index != 0:
            return projected
        u = tf.gather(self.user_vectors, self.user_rows(users, tf.shape(x)[0], training))
        user_term = tf.matmul(u, self.user_kernel)
        if self.user_mode == "linear":
            return projected + user_term
        if self.user_mode == "rectified":
            return projected + tf.nn.relu(user_term)
        logits = tf.stack([tf.linalg.matvec(x, self.attention_item), tf.linalg.matvec(u, self.attention_user)], 1)
        alpha = tf.nn.softmax(logits, axis=1)
        return alpha[:, :1] * projected + alpha[:, 1:] * user_term
