"""User-gated GRU (Donkers, Loepp & Ziegler, RecSys 2017): a user embedding enters the GRU's gates.

A learned user vector u joins the item input x_t of the first GRU layer in its reset, update and
candidate computations. With the reference GRU of `zoo.models.gru4rec` and, for each gate block g in
(r, z, c), a_g the gate's input term:

    u   = s * E_u[user]                        E_u: [n_users + 1, D_u], s = `user_lr_scale` (a constant)
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
The step gathers the slots' rows of E_u from the variable (`read_rows`) and the optimizer updates
those rows only, as for the item vectors: `tf.gather` on the Keras variable read the whole table,
n_users x D_u floats, every step (Globo, 158k users, one idle CPU thread: 14.2 ms a step against
GRU4Rec's 2.8; 3.5 ms with row reads, HRNN's 3.5).

The user vectors' training, and why the defaults are `user_unknown_p=0.5`, `user_lr_scale=0.1`.
The user table trains with the model's optimizer. Adagrad's first step of a row is
-lr g / sqrt(g^2 + eps): +-lr in every coordinate whose gradient is above sqrt(eps), however small
and noisy the gradient, so a user seen once moved by lr sqrt(D_u) = 2.0 (lr 0.2 of the rsc15
presets, D_u = 100). On a log of users with few events (Globo news clicks: median 1 training
session and 2 training pairs per user) the vectors were mostly that noise (mean norm 2.2 after 2
epochs for users with at most 3 events, the item vectors' 4.0), yet they let the model fit each
user's training clicks: with the former defaults (0.05 and, in effect, scale 1) the user-gated GRU
scored Recall@20 0.258 on a validation split of Globo where GRU4Rec scored 0.318, and 0.252 with
every user replaced by the fallback, so the shared weights had learnt to lean on the noise too.
Measured on that split (each user's last training session, `zoo datasets prep TRAIN --split
last-session`; 2 epochs of `rsc15-xe-shared`, the user protocol; Recall@20 / MRR@20, seed 42):

    user_unknown_p  user_lr_scale   user_gru          fallback for every user
    0.05            1               0.258 / 0.073     0.252 / 0.071           GRU4Rec: 0.318 / 0.092
    0.5             1               0.317 / 0.090     0.290 / 0.081
    0.05            0.1             0.308 / 0.089     0.298 / 0.086
    0.5             0.1             0.324 / 0.102     0.313 / 0.097           the defaults

  * `user_unknown_p` replaces a slot-step's user by the fallback: a dropout of the whole user term
    towards a shared vector, so the gates must work without a user's own vector.
  * `user_lr_scale` s: u = s E_u[user]. With the scale-free adaptive optimizers (Adagrad with
    momentum, Adam) E_u's step does not depend on the gradient's size, so u moves s times as far:
    the user table learns at s x learning_rate (its eps becomes eps / s^2); with plain SGD, s^2. A
    model saved before this option existed loads with s = 1, what it was trained with.
  With seed 43 the defaults scored 0.323 / 0.097 (fallback 0.313 / 0.093), GRU4Rec 0.299 / 0.089:
  the seed-to-seed spread on this split is 0.02 to 0.04 Recall@20, as large as the differences
  between the other settings tried with s <= 0.3 and p >= 0.3 (0.324 to 0.347; user_embedding 16 or
  attentional mode alike), so the defaults are the steadiest of them, with the users' own vectors
  0.011 Recall@20 above the fallback on both seeds. An L2 penalty on the step's user rows (0.01:
  0.274 / 0.077) and dropout on u (0.5: 0.267 / 0.080), both at scale 1, helped less.

Against the paper. Its text was not at hand when this module was last checked (only its abstract):
the three modes follow the paper's names for its linear, rectified linear and attentional user
integration, but which gate blocks its user term feeds and the exact form of its attention weights
are not verified here; the equations above are exactly what this model computes. Named deviations
that do not depend on those details: the paper's GRU reads a user's sequence of consumed items,
here it reads the sessions of session-parallel batches (states zeroed at each session start, so
only u carries a user across sessions); the loss, sampling and optimizer are the zoo's shared ones
(cross-entropy with logQ against popularity-sampled negatives, Adagrad with momentum); the user
enters the first of stacked layers only; scoring is the shared h_t . W_y[j] + b_y[j]. The fallback row,
`user_unknown_p` and `user_lr_scale` are ours: the paper scores only users it trained on.
Attentional mode needs an item embedding (`constrained_embedding` or `embedding > 0`), since w_x
is a weight on the input vector.
"""
import keras
import tensorflow as tf

from zoo.errors import ConfigError
from zoo.models.gru4rec import GRUCore, gate_blocks_initializer
from zoo.models.recommender import SessionRecommender, glorot_uniform
from zoo.optimization.optimizers import read_rows

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
        user_lr_scale: s in u = s E_u[user]: the user table's learning rate relative to the model's
            (with Adagrad or Adam; see the module docstring).
        **kwargs: the options of `SessionRecommender`.

    Example:

        model = zoo.get_model("user_gru", n_items=len(vocab), n_users=len(users), user_mode="linear")
        scores = model({"items": sessions, "users": user_indices})
    """

    personalized = True
    extra_options = ("user_embedding", "user_mode", "user_unknown_p", "user_lr_scale")

    def __init__(self, n_items, n_users=0, user_embedding=100, user_mode="linear", user_unknown_p=0.5,
                 user_lr_scale=0.1, **kwargs):
        self.n_users, self.user_embedding, self.user_mode = int(n_users), int(user_embedding), user_mode
        self.user_unknown_p, self.user_lr_scale = float(user_unknown_p), float(user_lr_scale)
        attentional_input = kwargs.get("constrained_embedding", True) or kwargs.get("embedding", 0) > 0
        checks = [
            (self.n_users >= 0, f"n_users must be >= 0, got {self.n_users}"),
            (self.user_embedding >= 1, f"user_embedding must be >= 1, got {self.user_embedding}"),
            (user_mode in USER_MODES, f"user_mode must be one of {', '.join(USER_MODES)}, got {user_mode!r}"),
            (0.0 <= self.user_unknown_p < 1.0, f"user_unknown_p must be in [0, 1), got {self.user_unknown_p}"),
            (self.user_lr_scale > 0, f"user_lr_scale must be > 0, got {self.user_lr_scale}"),
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
                "user_mode": self.user_mode, "user_unknown_p": self.user_unknown_p, "user_lr_scale": self.user_lr_scale}

    @classmethod
    def from_config(cls, config):
        """A model saved before `user_lr_scale` existed used u = E_u[user] as it is: scale 1."""
        return cls(**{"user_lr_scale": 1.0, **config})

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
        u = self.user_lr_scale * read_rows(self.user_vectors, self.user_rows(users, tf.shape(x)[0], training))
        user_term = tf.matmul(u, self.user_kernel)
        if self.user_mode == "linear":
            return projected + user_term
        if self.user_mode == "rectified":
            return projected + tf.nn.relu(user_term)
        logits = tf.stack([tf.linalg.matvec(x, self.attention_item), tf.linalg.matvec(u, self.attention_user)], 1)
        alpha = tf.nn.softmax(logits, axis=1)
        return alpha[:, :1] * projected + alpha[:, 1:] * user_term
