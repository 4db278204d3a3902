"""HRNN (Quadrana, Karatzoglou, Hidasi & Cremonesi, RecSys 2017): a session GRU under a user GRU.

Trained on user-parallel mini-batches (a slot plays all sessions of one user in time order). With
the reference GRU of `zoo.models.gru4rec` (GRU(x, h) below, reset gate before the recurrent product), for
a slot whose user u plays session m, event n:

    session start (not the user's first):  c_m     = dropout(GRU_u(s_{m-1}, c_{m-1}), p_user)
                                            s_{m,0} = dropout(tanh(c_m W_init + b_init), p_init)
    user start (the user's first session): c_m = 0, s_{m,0} = 0
    every step:                             s_{m,n} = dropout(GRU_s(x_{m,n}, s_{m,n-1}), p_hidden)
                                            score(j) = s_{m,n} . W_y[j] + b_y[j]

s_{m-1} is the last session state of the user's previous session: the top session layer's output
after its second-to-last event (its last event is only a target, as in every session model here).
The user state c is committed once per finished session, at the next session start, as the
reference's `h_u = Sstart ? GRU_u(Hs[-1], Hu) : Hu; h_u = Ustart ? 0 : h_u`.

`user_propagation_mode`:
  * `init`: the user state only initializes the session (above).
  * `all`: c_m is also an input of the first session layer at every step, through its own matrix
    W_us [C, 3H] (no bias) added to the gate inputs: GRU_s's x W_r, x W_z, x W_c become
    x W_r + c_m W_us,r, x W_z + c_m W_us,z, x W_c + c_m W_us,c.

This is the CORRECTED HRNN: the GRU update of the first step of a session runs from the initialized
state s_{m,0}, not from the previous session's state (the reference's bug, mquad/hgru4rec issue
#11, fixed there in December 2018; the paper's figures predate the fix).

Dropout, as the reference applies it (`dropout_p_hidden_usr`, `dropout_p_init`, `dropout_p_hidden_ses`):
user-level dropout p_user masks the updated user state c_m, and the masked c_m is what is kept (the
session's steps in `all` mode and the next session's user GRU update start from it, as the
reference stores its dropped h_u); init dropout p_init masks s_{m,0}; p_hidden masks every session
step's output (the carried state), as in every model here. No dropout is applied at inference.

Checked against the paper's equations (as its authors' slides give them) and the reference code
(mquad/hgru4rec after the fix), and the same: the equations above, the zero user and session states
at a user's first session, the commit of c at the next session start (a user's last training
session is never committed; a slot's next user starts from zeros), the user-parallel mini-batches,
and the gradient paths (no backpropagation through time: the user GRU and W_init learn from the
first step of each session, W_us in `all` mode from every step).

Recommended options, chosen on a validation split carved from the training log of Globo news clicks
(each user's last training session, `zoo datasets prep TRAIN --split last-session`; 2 epochs of
`rsc15-xe-shared`, the user protocol; Recall@5 / Recall@20 / MRR@20, mean of seeds 42 and 43 where
two are given):

    mode  p_user  p_init   HRNN                      GRU4Rec: 0.140 / 0.309 / 0.091 (2 seeds)
    init  0       0        0.240 / 0.454 / 0.158     (R@20 0.449 and 0.458)
    init  0       0.2      0.246 / 0.459 / 0.159     (R@20 0.473 and 0.445)   the defaults
    init  0.1     0.2      0.233 / 0.460 / 0.153
    all   0       0        0.223 / 0.471 / 0.141
    all   0.1     0.2      0.209 / 0.464 / 0.132

`init` beats `all` on MRR@20 (the objective of the presets' tuning) and Recall@5 by 0.014 to
0.023 at the same dropouts and seed, while `all` gains 0.004 to 0.023 Recall@20. Between the `init`
settings the differences are within the seed-to-seed spread (0.01 to 0.03 Recall@20 on this split);
init dropout 0.2 was ahead on all three means, so it is the default (`dropout_p_init=0.2`,
`dropout_p_user=0`). The reference's own settings for XING (`scripts/xing_dense_*.sh`) are, for
`init`, user / init dropout 0.0 / 0.0 with 100 units and 0.1 / 0.2 with 500.

Named deviations from the reference code:
  * `all` adds the user term to all three gate blocks (r, z, candidate): the paper makes the user
    representation an input of the session GRU. The reference's 3-block W_us feeds r and z only.
  * Session layers above the first restart from zero at each session start; the reference carries
    them across a user's sessions (zeroing them only at a new user). Only the user GRU carries
    information between sessions here, as the paper describes. (Default: one session layer.)
  * One user GRU layer (`user_units`); the reference allows a stack. No `user_to_output` option.
  * Loss, sampling, embedding and optimizer are the shared ones of the zoo (e.g. cross-entropy with
    popularity-sampled negatives and a shared embedding); the reference defaults to TOP1 with in-batch
    negatives and a one-hot input (`constrained_embedding=False, loss="top1"` here).

Inference: `encode(items, session_starts=...)` plays a user's earlier sessions (flags mark where
each new session begins; as in training, each earlier session's last event is not played) to build
c, then the current session; `zoo.evaluation.evaluate_users` does this for each test user from the
training events, in the user-parallel layout of training.
"""
import keras
import tensorflow as tf

from zoo.errors import ConfigError
from zoo.models.gru4rec import GRUCore, gate_blocks_initializer
from zoo.models.recommender import SessionRecommender, glorot_uniform

PROPAGATION_MODES = ("init", "all")


@keras.saving.register_keras_serializable(package="zoo")
class HRNN(SessionRecommender):
    """Hierarchical RNN: session GRUs (the shared `layers`) under one user GRU.

    Args:
        n_items: catalogue size.
        n_users: number of training users (recorded; HRNN has no per-user parameters, its user
            state is built from the user's sessions).
        user_units: size C of the user GRU.
        user_propagation_mode: `init` or `all` (see the module docstring).
        dropout_p_user: dropout on the updated user state.
        dropout_p_init: dropout on the session initialization tanh(c W_init + b_init) (default 0.2,
            chosen on a validation split: see the module docstring).
        **kwargs: the options of `SessionRecommender`; `dropout_p_hidden` is the session dropout.

    Example:

        model = zoo.get_model("hrnn", n_items=len(vocab), n_users=len(users), layers=[100],
                              user_units=100, user_propagation_mode="init")
    """

    personalized = True
    user_parallel = True
    extra_options = ("user_units", "user_propagation_mode", "dropout_p_user", "dropout_p_init")

    def __init__(self, n_items, n_users=0, user_units=100, user_propagation_mode="init", dropout_p_user=0.0,
                 dropout_p_init=0.2, **kwargs):
        self.n_users, self.user_units = int(n_users), int(user_units)
        self.user_propagation_mode = user_propagation_mode
        self.dropout_p_user, self.dropout_p_init = float(dropout_p_user), float(dropout_p_init)
        checks = [
            (self.n_users >= 0, f"n_users must be >= 0, got {self.n_users}"),
            (self.user_units >= 1, f"user_units must be >= 1, got {self.user_units}"),
            (user_propagation_mode in PROPAGATION_MODES,
             f"user_propagation_mode must be one of {', '.join(PROPAGATION_MODES)}, got {user_propagation_mode!r}"),
            (0.0 <= self.dropout_p_user < 1.0, f"dropout_p_user must be in [0, 1), got {self.dropout_p_user}"),
            (0.0 <= self.dropout_p_init < 1.0, f"dropout_p_init must be in [0, 1), got {self.dropout_p_init}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        super().__init__(n_items, **kwargs)

    def make_core(self, units, index):
        return GRUCore(units, name=f"session_gru_{index}")

    def build(self, input_shape=None):
        if self.built:
            return
        units, first = self.user_units, self.layer_sizes[0]
        seed = None if self.seed is None else self.seed + 2
        self.user_core = GRUCore(units, name="user_gru")
        self.user_core.build(self.layer_sizes[-1])
        self.init_kernel = self.add_weight(shape=(units, first), initializer=glorot_uniform((units, first)),
                                           name="init_kernel")
        self.init_bias = self.add_weight(shape=(first,), initializer="zeros", name="init_bias")
        if self.user_propagation_mode == "all":
            self.user_to_session = self.add_weight(
                shape=(units, 3 * first), initializer=gate_blocks_initializer(units, first), name="user_to_session")
        self.user_dropout = keras.layers.Dropout(self.dropout_p_user, seed=seed)
        self.init_dropout = keras.layers.Dropout(self.dropout_p_init, seed=None if seed is None else seed + 1)
        super().build(input_shape)

    @property
    def state_sizes(self):
        """The session cores' states, then the user state c."""
        return super().state_sizes + [self.user_units]

    def get_config(self):
        return {**super().get_config(), "n_users": self.n_users, "user_units": self.user_units,
                "user_propagation_mode": self.user_propagation_mode, "dropout_p_user": self.dropout_p_user,
                "dropout_p_init": self.dropout_p_init}

    def start_sessions(self, states, reset, user_start=None, training=False):
        """Where `reset`: commit the user GRU and start the session from it; where `user_start`: zeros."""
        top = len(super().state_sizes) - len(self.cores[-1].state_sizes)  # the top session layer's h
        user = states[-1]
        update = self.user_core.step(self.user_core.project(states[top]), [user])[0]
        user = tf.where(reset[:, tf.newaxis], self.user_dropout(update, training=training), user)
        init = self.init_dropout(tf.tanh(tf.matmul(user, self.init_kernel) + self.init_bias), training=training)
        opened = [tf.where(reset[:, tf.newaxis], init, states[0])]
        opened += self.reset_states(states[1:-1], reset) + [user]
        return opened if user_start is None else self.reset_states(opened, user_start)

    def core_input(self, index, x, states, users=None, training=False):
        projected = super().core_input(index, x, states, users, training)
        if index == 0 and self.user_propagation_mode == "all":
            projected = projected + tf.matmul(states[-1], self.user_to_session)
        return projected
