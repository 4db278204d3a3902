"""The graph of every export: string ids in, the model's one `step`, top-k string ids out.

`Signatures` holds the model's weights, the item vocabulary as an in-graph hash table (string ->
index, -1 for unknown ids and the pad "") and the ids as a constant for the inverse (`tf.gather`,
which TFLite runs with built-in ops). Its methods are plain graph code; `saved_model` and `tflite`
wrap them in `tf.function`s (`function`) with the input signatures of their target, traced inside
`weights()`.

The weights are exported as plain `tf.Variable`s (the ones that hold the Keras variables' values,
shared, not copied; or constants with `constant_weights`) that the Keras variables read as inside
`weights()` (a `keras.StatelessScope`), not as the Keras variables themselves: a SavedModel of
Keras 3 variables loads in TF2 but not in a TF1 session, TF Serving's way (its functions read
variable handles that the session's restore op never fills).

A catalogue of more than `chunk_items` items is scored and ranked in chunks inside the graph
(`chunked_top_k`, the SavedModel's default above `CHUNK_ITEMS`), with the same answers as the whole
score matrix; the TFLite graphs (batch 1: 4 bytes per item) rank the whole row.

The recurrent state crosses the signatures as one float tensor `state` [B, S]: the model's states
(`model.state_sizes`) side by side, zeros for a new session.

Personalized models (`model.personalized`) take a `user_id` [B] string in every signature (unknown
ids get the model's fallback). A model that carries a user state of its own after its cores' states
(HRNN) also takes `user_state` [B, S]: the `state` a user's previous session ended with (from
`encode` or `step`), zeros for a new user; a history starts from it as a new session of that user
(`model.start_sessions`). Its `step` takes `new_session` [B] bool for the same at a session's first
click. The state a session ended with has played every click of it; `model.encode(session_starts=)`
and training skip the click before a session start (it is only a target there): to reproduce them
exactly, encode the previous session without its last click.
"""
import inspect
import types

import keras
import numpy as np
import tensorflow as tf

from zoo.evaluation.ranking import check_chunk_size, chunk_bounds, chunk_scorer, n_item_chunks

PAD_SCORE = float(np.finfo(np.float32).min)  # the score of a pad past the items left by exclude_history
CHUNK_ITEMS = 2 ** 17  # a larger catalogue is scored and ranked in chunks of this many items (SavedModel)


def _history_cells(history, exclude_history):
    """[M, 2] int64 (row, item) of the known items of the histories [B, T] (none unless `exclude_history`)."""
    seen = tf.where(tf.logical_and(history >= 0, exclude_history))  # [M, 2]: (row, position)
    return tf.stack([seen[:, 0], tf.cast(tf.gather_nd(history, seen), tf.int64)], axis=1)


def _plain_variable(variable, index):
    """The `tf.Variable` that holds a Keras variable's value (TensorFlow backend): shared, not copied (a
    copy of every weight per export module was most of an export's memory), or a copy where there is none."""
    value = variable.value
    return value if isinstance(value, tf.Variable) else tf.Variable(np.asarray(value), name=f"w{index}")


def _table(ids):
    keys = tf.constant([i.encode() for i in ids], tf.string)
    table = tf.lookup.StaticHashTable(  # int64 values: TFLite has built-in kernels for them
        tf.lookup.KeyValueTensorInitializer(keys, tf.range(len(ids), dtype=tf.int64)),
        default_value=tf.constant(-1, tf.int64))
    return table, keys


def function(body, specs, defaults=None):
    """A `tf.function` whose inputs are named as `specs` (TensorSpecs, names required) in order.

    It calls `body(**inputs)`; `defaults` (name -> value) become the signature's default inputs and
    must name the last specs.
    """
    names, defaults = [s.name for s in specs], defaults or {}
    parameter = inspect.Parameter

    def call(*args, **kwargs):
        return body(**dict(zip(names, args)), **kwargs)

    call.__signature__ = inspect.Signature([
        parameter(n, parameter.POSITIONAL_OR_KEYWORD, default=tf.constant(defaults[n]) if n in defaults else
                  parameter.empty) for n in names])
    return tf.function(call, input_signature=specs)


class Signatures(tf.Module):
    """Recommending, stepping and encoding with string ids on a model of the zoo.

    Args:
        model: a `SessionRecommender`.
        item_ids: the item ids (str) in index order.
        max_k: the largest k a request may ask for (capped at the catalogue size).
        constant_weights: trace the weights as constants instead of variables.
        user_ids: the user ids (str) in index order, for a personalized model.
        chunk_items: a catalogue of more than this many items is scored and ranked this many items at
            a time (`chunked_top_k`); None: always whole.
    """

    def __init__(self, model, item_ids, max_k, constant_weights=False, user_ids=None, chunk_items=None):
        super().__init__(name="zoo_signatures")
        self._keras = types.SimpleNamespace(model=model)  # not tracked: its variables are not exported
        self._variables = [] if constant_weights else [_plain_variable(v, i) for i, v in enumerate(model.variables)]
        self._values = [v.numpy() for v in model.variables] if constant_weights else None
        self.max_k = int(min(max_k, model.n_items))
        whole = chunk_items is None or model.n_items <= chunk_items
        self.chunk_items = None if whole else check_chunk_size(chunk_items)
        self.state_sizes = [int(s) for s in model.state_sizes]
        self.state_size = sum(self.state_sizes)
        core_sizes = [int(s) for core in model.cores for s in core.state_sizes]
        self._hidden_at = sum(core_sizes) - sum(model.cores[-1].state_sizes)  # last core's h (its state 0)
        self.personalized = bool(getattr(model, "personalized", False))
        self.carries_user = len(self.state_sizes) > len(core_sizes)
        self.item_table, self.item_id_constant = _table(item_ids)
        if self.personalized:
            self.user_table, _ = _table(user_ids or [])

    @property
    def model(self):
        return self._keras.model

    def weights(self):
        """The scope to trace in: the model's variables read as this module's variables or constants."""
        values = self._variables or [tf.constant(x) for x in self._values]
        return keras.StatelessScope(state_mapping=list(zip(self.model.variables, values)))

    def user_specs(self, batch=None, step=False):
        """The personalized inputs of a signature: `user_id`, and `user_state` or (`step`) `new_session`."""
        specs = [tf.TensorSpec([batch], tf.string, name="user_id")] if self.personalized else []
        if self.carries_user:
            specs.append(tf.TensorSpec([batch], tf.bool, name="new_session") if step else
                         tf.TensorSpec([batch, self.state_size], tf.float32, name="user_state"))
        return specs

    # --- pieces ------------------------------------------------------------------------------
    def lookup(self, item_ids):
        """String ids (any shape) -> int32 indices, -1 for unknown ids and the pad ""."""
        return tf.cast(self.item_table.lookup(item_ids), tf.int32)

    def users(self, user_id):
        """User ids [B] -> int32 user indices (-1: unknown), or None without a `user_id`."""
        return None if user_id is None else tf.cast(self.user_table.lookup(user_id), tf.int32)

    def split_state(self, state):
        return tf.split(state, self.state_sizes, axis=1) if len(self.state_sizes) > 1 else [state]

    @staticmethod
    def join_state(states):
        return tf.concat(states, axis=1) if len(states) > 1 else states[0]

    def top_k(self, scores, k):
        """(item ids [B, k] as strings, scores [B, k]) of the k best scores of each row."""
        values, indices = tf.math.top_k(scores, k)
        return {"item_ids": tf.gather(self.item_id_constant, indices), "scores": values}

    def chunked_top_k(self, hidden, k, excluded=None):
        """`top_k(model.score_all(hidden), k)` (after `excluded` cells [M, 2] (row, item) are set to
        -inf), the catalogue scored `chunk_items` items at a time.

        A graph loop (`tf.while_loop`) over the chunks of `zoo.evaluation.ranking.item_chunks`: each
        chunk's scores (the bits of the whole row's: never one column wide), its k best
        (`tf.math.top_k`), and the k best of those and the k best so far. `tf.math.top_k` puts the
        lower index first among equal scores, and the best so far have lower indices than the
        chunk's, so the answer is the whole row's: the same ids, scores and order, ties included.
        Memory: B x `chunk_items` scores at a time.
        """
        n_items, size = self.model.n_items, self.chunk_items
        n_chunks = n_item_chunks(n_items, size)
        scorer = chunk_scorer(hidden, self.model.item_vectors, self.model.item_bias)
        batch = tf.shape(hidden)[0]

        def body(index, values, indices):
            start, stop = chunk_bounds(index, n_chunks, n_items, size)
            scores = scorer(start, stop)
            if excluded is not None:
                first, end = tf.cast(start, tf.int64), tf.cast(stop, tf.int64)
                cells = tf.boolean_mask(excluded, tf.logical_and(excluded[:, 1] >= first, excluded[:, 1] < end))
                cells -= tf.stack([tf.constant(0, tf.int64), first])
                scores = tf.tensor_scatter_nd_update(scores, cells, tf.fill([tf.shape(cells)[0]], float("-inf")))
            top = tf.math.top_k(scores, tf.minimum(k, stop - start))
            values, indices = tf.concat([values, top.values], 1), tf.concat([indices, top.indices + start], 1)
            best = tf.math.top_k(values, tf.minimum(k, tf.shape(values)[1]))
            return index + 1, best.values, tf.gather(indices, best.indices, batch_dims=1)

        empty = [tf.zeros([batch, 0], tf.float32), tf.zeros([batch, 0], tf.int32)]
        _, values, indices = tf.while_loop(
            lambda index, *_: index < n_chunks, body, [tf.constant(0), *empty], parallel_iterations=1,
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([None, None])])
        return {"item_ids": tf.gather(self.item_id_constant, indices), "scores": values}

    # --- what the signatures compute -----------------------------------------------------------
    def encode(self, history, user_id=None, user_state=None):
        """History indices [B, T] (-1: skipped) -> (session vector h [B, H], state [B, S])."""
        states = starts = None
        if user_state is not None:  # the first known item opens a session of a user seen before
            states, valid = self.split_state(user_state), history >= 0
            first = tf.logical_and(valid, tf.equal(tf.cumsum(tf.cast(valid, tf.int32), axis=1), 1))
            starts = tf.logical_and(first, tf.reduce_any(tf.not_equal(user_state, 0.0), axis=1, keepdims=True))
        hidden, states = self.model.encode(history, states=states, users=self.users(user_id), session_starts=starts)
        return hidden, self.join_state(states)

    def recommend(self, history, k, exclude_history=False, **user):
        """Top-k next items after each history of indices [B, T] (-1: skipped).

        `exclude_history` (a bool tensor) leaves the items of the history out: they are scored -inf,
        and where k reaches past the items left, the row ends in pads: the id "" (the export's pad)
        with the score `PAD_SCORE` (finite, so that a REST answer stays strict JSON). The items are
        those `zoo recommend --exclude-history` lists.
        """
        hidden, _ = self.encode(history, **user)
        if self.chunk_items:
            if exclude_history is False:
                return self.chunked_top_k(hidden, k)
            top = self.chunked_top_k(hidden, k, _history_cells(history, exclude_history))
        else:
            scores = self.model.score_all(hidden)
            if exclude_history is False:
                return self.top_k(scores, k)
            cells = _history_cells(history, exclude_history)
            scores = tf.tensor_scatter_nd_update(scores, cells, tf.fill([tf.shape(cells)[0]], float("-inf")))
            top = self.top_k(scores, k)
        left_out = tf.equal(top["scores"], float("-inf"))
        return {"item_ids": tf.where(left_out, tf.constant(b""), top["item_ids"]),
                "scores": tf.where(left_out, tf.constant(PAD_SCORE, tf.float32), top["scores"])}

    def step(self, item, state, k, user_id=None, new_session=None):
        """One click per row: item indices [B] and states [B, S] -> new state and top-k.

        A row whose index is -1 (an unknown id or the pad "") keeps its state, and its top-k is that
        of the state it came with.
        """
        states = self.split_state(state)
        if new_session is not None:  # a session of a user seen before (a non-zero state) starts here
            states = self.model.start_sessions(
                states, tf.logical_and(new_session, tf.reduce_any(tf.not_equal(state, 0.0), axis=1)))
        _, new_states = self.model.step(tf.maximum(item, 0), states, users=self.users(user_id))
        new_state = tf.where((item >= 0)[:, tf.newaxis], self.join_state(new_states), state)
        hidden = new_state[:, self._hidden_at:self._hidden_at + self.model.layer_sizes[-1]]
        if self.chunk_items:
            return {"state": new_state, **self.chunked_top_k(hidden, k)}
        return {"state": new_state, **self.top_k(self.model.score_all(hidden), k)}

    def query(self, history, **user):
        """History indices [B, T] -> session vector h [B, H], query vector [h, 1] and state [B, S].

        The query vector's inner product with an item's [vector, bias] is the item's score.
        """
        hidden, state = self.encode(history, **user)
        query = tf.concat([hidden, tf.ones_like(hidden[:, :1])], axis=1)
        return {"session_vector": hidden, "query_vector": query, "state": state}
