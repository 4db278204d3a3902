"""The graph of every export: string ids in, the model's one `step`, top-k string ids out.

`Signatures` holds the model's weights, the item vocabulary as an in-graph hash table (string -> index, -1 for
unknown ids and the pad "") and the ids as a constant for the inverse (`tf.gather`, which TFLite runs
with built-in ops). Its methods are plain graph code; `saved_model` and `tflite` wrap them in
`tf.function`s with the input signatures of their target, and trace them inside `weights()`.

The weights are exported as plain `tf.Variable`s (or constants, for TFLite) that the Keras variables
read as inside `weights()` (a `keras.StatelessScope`), not as the Keras variables themselves: a
SavedModel of Keras 3 variables loads in TF2 but not in a TF1 session, TF Serving's way (its
functions read variable handles that the session's restore op never fills).

The recurrent state crosses the signatures as one float tensor `state` [B, S]: the model's states
(`model.state_sizes`) side by side, zeros for a new session.
"""
import types

import keras
import numpy as np
import tensorflow as tf


class Signatures(tf.Module):
    """Recommending, stepping and encoding with string ids on a model of the zoo.

    Args:
        model: a `SessionRecommender`.
        item_ids: the item ids (str) in index order.
        max_k: the largest k a request may ask for (capped at the catalogue size).
        constant_weights: trace the weights as constants instead of variables.
    """

    def __init__(self, model, item_ids, max_k, constant_weights=False):
        super().__init__(name="zoo_signatures")
        self._keras = types.SimpleNamespace(model=model)  # not tracked: its variables are not exported
        values = [v.numpy() for v in model.variables]
        self._variables = [] if constant_weights else [tf.Variable(x, name=f"w{i}") for i, x in enumerate(values)]
        self._values = values if constant_weights else None
        self.max_k = int(min(max_k, model.n_items))
        self.state_sizes = [int(s) for s in model.state_sizes]
        self.state_size = sum(self.state_sizes)
        n_last = len(model.cores[-1].state_sizes)
        self._hidden_at = sum(self.state_sizes[:len(self.state_sizes) - n_last])  # last core's h (state 0)
        keys = tf.constant([i.encode() for i in item_ids], tf.string)
        self.item_table = tf.lookup.StaticHashTable(  # int64 values: TFLite has built-in kernels for them
            tf.lookup.KeyValueTensorInitializer(keys, tf.range(len(item_ids), dtype=tf.int64)),
            default_value=tf.constant(-1, tf.int64))
        self.item_id_constant = keys

    @property
    def model(self):
        return self._keras.model

    def weights(self):
        """The scope to trace in: the model's variables read as this module's variables or constants."""
        values = self._variables or [tf.constant(x) for x in self._values]
        return keras.StatelessScope(state_mapping=list(zip(self.model.variables, values)))

    # --- pieces ------------------------------------------------------------------------------
    def lookup(self, item_ids):
        """String ids (any shape) -> int32 indices, -1 for unknown ids and the pad ""."""
        return tf.cast(self.item_table.lookup(item_ids), tf.int32)

    def split_state(self, state):
        return tf.split(state, self.state_sizes, axis=1) if len(self.state_sizes) > 1 else [state]

    @staticmethod
    def join_state(states):
        return tf.concat(states, axis=1) if len(states) > 1 else states[0]

    def top_k(self, scores, k):
        """(item ids [B, k] as strings, scores [B, k]) of the k best scores of each row."""
        values, indices = tf.math.top_k(scores, k)
        return {"item_ids": tf.gather(self.item_id_constant, indices), "scores": values}

    # --- what the signatures compute -----------------------------------------------------------
    def encode(self, history):
        """History indices [B, T] (-1: skipped) -> (session vector h [B, H], state [B, S])."""
        hidden, states = self.model.encode(history)
        return hidden, self.join_state(states)

    def recommend(self, history, k, exclude_history=False):
        """Top-k next items after each history of indices [B, T] (-1: skipped).

        `exclude_history` (a bool tensor) gives the items of the history the score -inf.
        """
        hidden, _ = self.encode(history)
        scores = self.model.score_all(hidden)
        if exclude_history is not False:
            seen = tf.where(tf.logical_and(history >= 0, exclude_history))  # [M, 2]: (row, position)
            cells = tf.stack([seen[:, 0], tf.cast(tf.gather_nd(history, seen), tf.int64)], axis=1)
            scores = tf.tensor_scatter_nd_update(scores, cells, tf.fill([tf.shape(cells)[0]], -np.inf))
        return self.top_k(scores, k)

    def step(self, item, state, k):
        """One click per row: item indices [B] and states [B, S] -> new state and top-k.

        A row whose index is -1 (an unknown id or the pad "") keeps its state, and its top-k is that
        of the state it came with.
        """
        valid = (item >= 0)[:, tf.newaxis]
        _, new_states = self.model.step(tf.maximum(item, 0), self.split_state(state))
        new_state = tf.where(valid, self.join_state(new_states), state)
        hidden = new_state[:, self._hidden_at:self._hidden_at + self.model.layer_sizes[-1]]
        return {"state": new_state, **self.top_k(self.model.score_all(hidden), k)}

    def query(self, history):
        """History indices [B, T] -> session vector h [B, H], query vector [h, 1] and state [B, S].

        The query vector's inner product with an item's [vector, bias] is the item's score.
        """
        hidden, state = self.encode(history)
        query = tf.concat([hidden, tf.ones_like(hidden[:, :1])], axis=1)
        return {"session_vector": hidden, "query_vector": query, "state": state}
