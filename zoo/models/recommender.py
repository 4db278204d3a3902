"""`SessionRecommender`: what every recurrent recommender of the zoo shares.

A model is an item input layer, a stack of recurrent cores (the only part a subclass supplies) and
an item scoring layer:

    x_t        = dropout(input(item_t), p_embed)   item embedding, see below (no dropout for one-hot input)
    h_t^(l)    = dropout(core_l(x_t^(l), state_{t-1}^(l)), p_hidden)   x^(1) = x_t, x^(l+1) = h_t^(l)
    score_t(j) = h_t^(L) . W_y[j] + b_y[j]         for every item j (or for sampled candidates)

Item input, as in the reference GRU4Rec:
  * `constrained_embedding=True` (default): x_t = W_y[item_t], the output vectors are the input
    embedding too (the reference's "shared" embedding); the first core sees vectors of size H_L.
  * `embedding=E > 0`: a separate input embedding of size E.
  * neither: one-hot input, i.e. the first core's input projection is a per-item lookup table.

Dropout, as in the reference (Theano `GRU4Rec.model`, PyTorch `GRU4RecModel.embed` / `hidden_step`):
p_embed masks the item vector x_t (shared or separate embedding); p_hidden masks the output of every
core, the first included, and the masked output is both the next core's input and the carried state.
With one-hot input there is no item vector: the Theano reference ignores p_embed there, its PyTorch
port uses p_embed on the first layer's output instead of p_hidden, so `dropout_p_embed > 0` with one-hot
input is refused (a ConfigError) and the first layer's output gets p_hidden, as in the Theano original.

The state of each core is carried across steps and zeroed where a new session starts (the `reset`
flag). As in the reference, the hidden output after dropout is what the next step sees (the state
element 0 of every core is its output h).

Training (`model.fit`) runs one step per session-parallel mini-batch with no backpropagation through
time (the reference's scheme): the slot states live in non-trainable variables between mini-batches,
targets are scored against the mini-batch's other targets plus shared sampled negatives (from the
pipeline), and the loss of `zoo.optimization.losses` is summed over the active slots and divided by the batch size.
A final activation (linear, tanh, elu-<alpha>, softmax) is applied to the training scores before the
loss (`SessionRecommender.final_scores`); ranking and `call` use the raw scores, as the PyTorch
reference's evaluation does (the Theano one ranks the activated scores: the same order, except that
`elu-0` makes ties of the negative scores there).

Personalized models (HRNN, the user-gated GRU) set `personalized = True` (they take `n_users`) and
plug into three optional hooks, all no-ops here: `core_input` (the input product of a core, where a
user term can be added), `start_sessions` (what happens to the states where a session or a user
starts; here: zero them) and extra states after the cores' (HRNN's user state). Every entry point
takes the optional user inputs: `step(..., users=)`, `encode(..., users=, session_starts=)`, `call`
with a dict, and `train_step` reads the `user` and `user_start` features when the pipeline gives them.
`user_parallel = True` asks for HRNN's user-parallel mini-batches instead of session-parallel ones.
"""
import keras
import tensorflow as tf

from zoo.datasets.sampling import merge_candidates
from zoo.errors import ConfigError
from zoo.optimization import losses
from zoo.optimization.optimizers import DistinctRows, read_rows

FINAL_ACTIVATIONS = ("linear", "tanh", "elu-<alpha>", "softmax")


def glorot_uniform(shape, fan_in=None, fan_out=None):
    """Uniform in +-sqrt(6 / (fan_in + fan_out)), the reference's initialization."""
    fan_in = shape[0] if fan_in is None else fan_in
    fan_out = shape[-1] if fan_out is None else fan_out
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return keras.initializers.RandomUniform(-limit, limit)


def parse_final_activation(name):
    """The final activation `name` as a function on a score matrix [B, C], as the Theano reference
    GRU4Rec defines it (`set_final_activation`; its PyTorch port has only `elu_param`):

        linear:       f(x) = x
        tanh:         f(x) = tanh(x)
        elu-<alpha>:  f(x) = x for x >= 0, alpha * (exp(x) - 1) otherwise; alpha a finite number >= 0
                      (`elu` alone: alpha 1). `elu-0` is therefore ReLU, max(x, 0), exactly as the
                      Theano reference's `elu-0`. The PyTorch port's `elu_param=X` is `elu-X` for
                      X > 0 and `linear` for X = 0 (it skips the ELU then), not `elu-0`.
        softmax:      f(x)_ij = exp(x_ij) / sum_k exp(x_ik), over the row's C columns, each column
                      one candidate (the reference's layout). The model applies it with merged
                      candidate columns counted (`zoo.optimization.losses.candidate_softmax`), and
                      not at all with cross-entropy, which applies its own softmax.

    Remaining deviations: ELU is computed as alpha * elu(x) + (1 - alpha) * relu(x) from TensorFlow's
    fused kernels, equal up to rounding but with slope 1 - alpha (0 for `elu-0`), not 1, at exactly
    x = 0. The Theano reference's other activations (relu, leaky-, selu-, softmax_logit) are not offered.
    """
    if name == "linear":
        return lambda x: x
    if name == "softmax":
        return lambda x: tf.nn.softmax(x, axis=-1)
    if name == "tanh":
        return tf.tanh
    if name.startswith("elu") and name[3:4] in ("", "-"):
        try:
            alpha = float(name[4:]) if name != "elu" else 1.0
        except ValueError:  # `elu-x`, `elu-`: the error below
            alpha = None
        if alpha == 1.0:
            return tf.nn.elu
        if alpha is not None and 0.0 <= alpha < float("inf"):  # x for x > 0, alpha * (exp(x) - 1) otherwise
            return lambda x: alpha * tf.nn.elu(x) + (1.0 - alpha) * tf.nn.relu(x)
    raise ConfigError(f"final_activation must be one of {', '.join(FINAL_ACTIVATIONS)} (alpha a number >= 0); "
                      f"got {name!r}")


class RecurrentCore(keras.layers.Layer):
    """One recurrent layer, seen one step at a time: `(x_proj, states) -> new states`.

    `states[0]` is the layer's output h. `project(x)` is the input product x.W_x, kept apart so that
    one-hot input can replace it by a table lookup. Subclasses set `gates` (the blocks of the input
    projection), override `state_sizes` if the state is more than h, and implement
    `build(input_dim)` and `step`.
    """

    gates = 1

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    @property
    def projection_dim(self):
        return self.gates * self.units

    @property
    def state_sizes(self):
        return [self.units]

    def project(self, x):
        return tf.matmul(x, self.input_kernel)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class SessionRecommender(keras.Model):
    """Base of every model: item input, stacked cores, scoring, state carry and reset, `train_step`.

    Args:
        n_items: catalogue size (indices 0..n_items-1, from the training vocabulary).
        layers: hidden sizes of the stacked cores, e.g. `[100]`.
        embedding: size of a separate item input embedding; 0 for none.
        constrained_embedding: use the output item vectors as the input embedding.
        dropout_p_embed: dropout on the item vector (shared or separate embedding; refused, if
            above zero, with one-hot input: see the module).
        dropout_p_hidden: dropout on each core's output, the first core's included.
        final_activation: applied to training scores before the loss (`final_scores`).
        loss: one of `zoo.optimization.losses.LOSSES`.
        bpreg: score regularization of BPR-max.
        logq: weight of the logQ correction of cross-entropy.
        batch_size: number of session slots trained in parallel.
        seed: seed of the dropout masks (initialization follows Keras' global seed, which
            `zoo.training.fit` sets from the configuration's `seed`).

    Class attributes: `personalized` (takes `n_users` and user inputs), `user_parallel` (trains on
    user-parallel mini-batches), `extra_options` (its options beyond these, for `zoo.training.presets`).
    """

    personalized = False
    user_parallel = False
    extra_options = ()

    def __init__(self, n_items, layers=(100,), embedding=0, constrained_embedding=True,
                 dropout_p_embed=0.0, dropout_p_hidden=0.0, final_activation="linear",
                 loss="cross-entropy", bpreg=0.0, logq=0.0, batch_size=32, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.n_items, self.layer_sizes = int(n_items), [int(u) for u in layers]
        self.embedding, self.constrained_embedding = int(embedding), bool(constrained_embedding)
        self.dropout_p_embed, self.dropout_p_hidden = float(dropout_p_embed), float(dropout_p_hidden)
        self.final_activation, self.loss_name = final_activation, loss
        self.bpreg, self.logq, self.batch_size, self.seed = float(bpreg), float(logq), int(batch_size), seed
        self._validate()
        self._activation = parse_final_activation(final_activation)
        self._loss_fn = losses.LOSSES[loss]
        self.cores = [self.make_core(units, index=i) for i, units in enumerate(self.layer_sizes)]
        self.embed_dropout = keras.layers.Dropout(self.dropout_p_embed, seed=seed)
        self.hidden_dropout = keras.layers.Dropout(self.dropout_p_hidden, seed=None if seed is None else seed + 1)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.build()

    # --- what a subclass supplies -------------------------------------------------------------
    def make_core(self, units, index):
        """Returns the `RecurrentCore` of layer `index` with `units` hidden units."""
        raise NotImplementedError

    # --- construction ---------------------------------------------------------------------------
    def _validate(self):
        checks = [
            (self.n_items >= 1, f"n_items must be >= 1, got {self.n_items}"),
            (len(self.layer_sizes) >= 1 and min(self.layer_sizes) >= 1, f"layers must be positive sizes, got {self.layer_sizes}"),
            (self.embedding >= 0, f"embedding must be >= 0, got {self.embedding}"),
            (0.0 <= self.dropout_p_embed < 1.0, f"dropout_p_embed must be in [0, 1), got {self.dropout_p_embed}"),
            (0.0 <= self.dropout_p_hidden < 1.0, f"dropout_p_hidden must be in [0, 1), got {self.dropout_p_hidden}"),
            (self.loss_name in losses.LOSSES, f"loss must be one of {', '.join(losses.LOSSES)}, got {self.loss_name!r}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.bpreg >= 0 and self.logq >= 0, "bpreg and logq must be >= 0"),
            (self.loss_name == "cross-entropy" or self.logq == 0, "logq applies to the cross-entropy loss only"),
            (self.loss_name != "cross-entropy" or self.final_activation in ("linear", "softmax"),
             "cross-entropy applies its own softmax: final_activation must be linear (or softmax, the same)"),
            (not self.one_hot_input or self.dropout_p_embed == 0,
             ("dropout_p_embed needs an item embedding (constrained_embedding or embedding > 0); with one-hot "
              "input use dropout_p_hidden, which also masks the first layer's output")),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def one_hot_input(self):
        return not self.constrained_embedding and self.embedding == 0

    def build(self, input_shape=None):
        if self.built:
            return
        h_last = self.layer_sizes[-1]
        self.item_vectors = self.add_weight(
            shape=(self.n_items, h_last), initializer=glorot_uniform((self.n_items, h_last)), name="item_vectors")
        self.item_bias = self.add_weight(shape=(self.n_items,), initializer="zeros", name="item_bias")
        input_dim = h_last if self.constrained_embedding else self.embedding
        if self.embedding and not self.constrained_embedding:
            self.item_embedding = self.add_weight(
                shape=(self.n_items, self.embedding), initializer=glorot_uniform((self.n_items, self.embedding)),
                name="item_embedding")
        if self.one_hot_input:
            dim = self.cores[0].projection_dim
            self.input_table = self.add_weight(
                shape=(self.n_items, dim), initializer=glorot_uniform((self.n_items, dim), fan_out=self.layer_sizes[0]),
                name="input_table")
            input_dim = None
        for i, core in enumerate(self.cores):
            core.build(input_dim if i == 0 else self.layer_sizes[i - 1])
        self.slot_states = [
            self.add_weight(shape=(self.batch_size, size), initializer="zeros", trainable=False, name=f"slot_state_{k}")
            for k, size in enumerate(self.state_sizes)]
        self.built = True

    @property
    def state_sizes(self):
        return [size for core in self.cores for size in core.state_sizes]

    def get_config(self):
        return {
            **super().get_config(),
            "n_items": self.n_items, "layers": self.layer_sizes, "embedding": self.embedding,
            "constrained_embedding": self.constrained_embedding, "dropout_p_embed": self.dropout_p_embed,
            "dropout_p_hidden": self.dropout_p_hidden, "final_activation": self.final_activation,
            "loss": self.loss_name, "bpreg": self.bpreg, "logq": self.logq, "batch_size": self.batch_size,
            "seed": self.seed,
        }

    # --- the one recurrent step everything is built from ---------------------------------------
    def initial_states(self, batch_size):
        return [tf.zeros((batch_size, size)) for size in self.state_sizes]

    def _item_input(self, items, training, item_vectors=None):
        """x_t: dropout(embedding row, p_embed), or the one-hot input's table rows x.W_x without dropout."""
        if item_vectors is not None:
            x = item_vectors
        elif self.constrained_embedding:
            x = tf.gather(self.item_vectors, items)
        elif self.embedding:
            x = tf.gather(self.item_embedding, items)
        else:  # one-hot: the rows are the first core's input product, which dropout does not touch
            return tf.gather(self.input_table, items)
        return self.embed_dropout(x, training=training)

    def step(self, items, states, training=False, users=None, item_vectors=None):
        """One step for a batch of slots: item indices [B] and states -> (output h [B, H_L], states).

        `users` [B] (user indices) is used by personalized models only. `item_vectors` [B, H_L]:
        the items' rows of `item_vectors`, already gathered (constrained embedding only). States
        after the cores' (a model's own, e.g. HRNN's user state) are carried unchanged.

        With `training`, x = dropout(item vector, p_embed) (no dropout for one-hot input) and each
        core's output h^(l) = dropout(core_l(...), p_hidden): the masked h^(l) is the next core's
        input and core l's new state element 0, as in both references.
        """
        x, new_states, position = self._item_input(items, training, item_vectors), [], 0
        for i, core in enumerate(self.cores):
            n = len(core.state_sizes)
            core_states = core.step(self.core_input(i, x, states, users, training), states[position:position + n])
            x = self.hidden_dropout(core_states[0], training=training)
            new_states += [x] + list(core_states[1:])
            position += n
        return x, new_states + list(states[position:])

    def core_input(self, index, x, states, users=None, training=False):
        """The input product of core `index` for its input x (a hook: personalized models add a user term)."""
        return x if (index == 0 and self.one_hot_input) else self.cores[index].project(x)

    @staticmethod
    def reset_states(states, reset):
        """Zeroes the state rows of slots where a new session starts."""
        return [tf.where(reset[:, tf.newaxis], tf.zeros_like(s), s) for s in states]

    def start_sessions(self, states, reset, user_start=None, training=False):
        """The states where sessions start (`reset` [B]) or users start (`user_start` [B] or None).

        Here both zero the slot's states (`reset_states`); HRNN overrides it to update its user state
        and initialize the session from it.
        """
        return self.reset_states(states, reset if user_start is None else reset | user_start)

    def score_all(self, hidden):
        """Raw scores of every item: [B, H] -> [B, n_items]."""
        return tf.matmul(hidden, self.item_vectors, transpose_b=True) + self.item_bias

    # --- sequences ------------------------------------------------------------------------------
    def encode(self, items, states=None, users=None, session_starts=None):
        """Runs sessions [B, T] (padded with -1 at the end) from `states` (zero by default).

        Args:
            items: int [B, T] item indices, -1 after each row's end.
            states: the states to continue from; None: every row starts as a new user (zeros).
            users: int [B] the user of each row (personalized models; None: unknown users).
            session_starts: bool [B, T] True where a new session of the row's user begins, to play
                a user's earlier sessions before the current one (HRNN then updates its user state
                and starts the session from it; other models zero their state). As in training,
                where a session's last event is only a target, the event just before a session
                start is not played (so a one-event session is skipped), and a flag is honoured only
                once the row has played an item or continues from given `states`.

        Returns:
            The session vector h [B, H_L] after each row's last item, and the states.
        """
        items = tf.cast(items, tf.int32)
        batch = tf.shape(items)[0]
        started = tf.fill([batch], states is not None)
        if states is None:
            states = self.initial_states(batch)
        if session_starts is None:
            session_starts = tf.zeros_like(items, tf.bool)
        hidden = tf.zeros((batch, self.layer_sizes[-1]))

        def advance(carry, inputs_t):
            (items_t, starts_t, played), (hidden, started), states = inputs_t, carry[:2], list(carry[2:])
            opened = self.start_sessions(states, starts_t & started & played)
            new_hidden, new_states = self.step(tf.maximum(items_t, 0), opened, users=users)
            keep = played[:, tf.newaxis]
            return (tf.where(keep, new_hidden, hidden), started | played,
                    *[tf.where(keep, n, s) for n, s in zip(new_states, states)])

        starts = tf.cast(session_starts, tf.bool)
        ends = tf.concat([starts[:, 1:], tf.zeros_like(starts[:, :1])], axis=1)  # the event before a start
        elems = (tf.transpose(items), tf.transpose(starts), tf.transpose((items >= 0) & ~ends))
        result = tf.foldl(advance, elems, initializer=(hidden, started, *states))
        return result[0], list(result[2:])

    def call(self, inputs, training=False):
        """Scores [B, n_items] of the next item after each session.

        `inputs` is the items [B, T] (pad: -1), or a dict with `items` and optionally `users` [B] and
        `session_starts` [B, T] (see `encode`).
        """
        if isinstance(inputs, dict):
            hidden, _ = self.encode(inputs["items"], users=inputs.get("users"),
                                    session_starts=inputs.get("session_starts"))
        else:
            hidden, _ = self.encode(inputs)
        return self.score_all(hidden)

    # --- training -------------------------------------------------------------------------------
    @property
    def metrics(self):
        return [self.loss_tracker]

    def _logs(self):
        return {"loss": self.loss_tracker.result()}

    def train_step(self, data):
        """One training step on merged candidates (`zoo.datasets.sampling.merge_candidates`, applied
        here to a step that comes without them).

        The distinct candidate items' vectors and biases are gathered once and the slots' inputs
        are read from the same rows (constrained embedding), so `item_vectors` and `item_bias` get
        gradients on distinct rows only, which the optimizer applies without summing duplicates.
        """
        inputs, targets = data
        if "candidates" not in inputs:  # a step of the reference's layout (`negatives`, `col_log_q` optional)
            inputs = merge_candidates(inputs, targets, inputs.get("negatives"), inputs.get("col_log_q"))
        mask, candidates = inputs["mask"], inputs["candidates"]
        logq = self.logq if self.loss_name == "cross-entropy" else 0.0
        columns = losses.merged_columns(inputs["target_column"], mask, inputs["target_counts"], inputs["sample_counts"],
                                        inputs["target_log_q"], inputs["sample_log_q"], logq)
        with tf.GradientTape() as tape:  # HRNN's session start is part of the step's graph
            states = self.start_sessions([s.value for s in self.slot_states], inputs["reset"], inputs.get("user_start"),
                                         training=True)
            vectors = read_rows(self.item_vectors, candidates)
            x = tf.gather(vectors, inputs["input_column"]) if self.constrained_embedding else None
            hidden, new_states = self.step(inputs["item"], states, training=True, users=inputs.get("user"),
                                           item_vectors=x)
            scores = tf.matmul(hidden, vectors, transpose_b=True) + read_rows(self.item_bias, candidates)
            loss = losses.reduce_loss(self._loss(self.final_scores(scores, columns), columns), mask)
        variables = self.trainable_variables
        gradients = [DistinctRows.of(g) if v is self.item_vectors or v is self.item_bias else g
                     for g, v in zip(tape.gradient(loss, variables), variables)]
        self.optimizer.apply(gradients, variables)
        for variable, value in zip(self.slot_states, new_states):
            variable.assign(value)
        self.loss_tracker.update_state(loss)
        return self._logs()

    def final_scores(self, scores, columns):
        """The final activation on the training scores [B, U] of the candidate `columns` (see
        `parse_final_activation` for the formulas), as the Theano reference applies it to every loss.

        cross-entropy: the scores unchanged (the loss applies the softmax itself; final_activation is
        linear or softmax, which mean the same there). softmax with the ranking losses (bpr, bpr-max,
        top1, top1-max): p_ij = exp(r_ij) / sum_k n_ik exp(r_ik) over all of row i's candidate
        columns, its own target included, each counted as often as the reference's layout holds it
        (`losses.candidate_softmax`); the loss then compares these probabilities.
        """
        if self.loss_name == "cross-entropy":
            return scores
        if self.final_activation == "softmax":
            return losses.candidate_softmax(scores, columns)
        return self._activation(scores)

    def _loss(self, scores, columns):
        if self.loss_name == "bpr-max":
            return self._loss_fn(scores, columns, bpreg=self.bpreg)
        return self._loss_fn(scores, columns)
