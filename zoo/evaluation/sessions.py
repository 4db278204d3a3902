"""The session protocol: each test session played from zero, every next item ranked over the whole catalogue."""
import dataclasses

import numpy as np
import tensorflow as tf

from zoo.datasets.batches import order_sessions, session_parallel_batches
from zoo.datasets.io import ITEM, SESSION
from zoo.datasets.vocab import Vocabulary
from zoo.errors import DataError
from zoo.evaluation.breakdowns import breakdowns, event_context
from zoo.evaluation.ranking import (
    ITEM_CHUNK,
    array_rank_counts,
    check_chunk_size,
    check_ranking,
    metrics_from_ranks,
    rank_counts,
    ranks_from_counts,
)


def known_items(test, item_vocab, min_session_length=2):
    """Drops test events with items unknown to the vocabulary, then too short sessions; counts both.

    A session left with no event at all (every item unknown) counts among the short ones, so that
    every test session is either evaluated or dropped.
    """
    known = item_vocab.encode(test[ITEM]) >= 0
    kept = test[known]
    length = kept.groupby(SESSION, sort=False)[ITEM].transform("size")
    long_enough = kept[length >= min_session_length]
    counts = {
        "dropped_unknown_item_events": int((~known).sum()),
        "dropped_short_sessions": int(test[SESSION].nunique() - long_enough[SESSION].nunique()),
    }
    return long_enough, counts


def _rank_counter(model, chunk_size=ITEM_CHUNK):
    @tf.function(reduce_retracing=True)
    def count(items, targets, reset, states):
        states = model.reset_states(states, reset)
        hidden, states = model.step(items, states, training=False)
        return (*rank_counts(model, hidden, targets, chunk_size), states)

    return count


def target_ranks(model, batches, ties="conservative", chunk_size=ITEM_CHUNK):
    """Ranks [n_pairs] of every target of `batches` (ParallelBatches), in step-major order.

    The catalogue is scored `chunk_size` items at a time (`ranking.rank_counts`: the same counts as
    the whole score matrix, in B x `chunk_size` memory).
    """
    count, states = _rank_counter(model, check_chunk_size(chunk_size)), model.initial_states(batches.batch_size)
    greater, equal = [], []
    for t in range(batches.n_steps):
        g, e, states = count(batches.items[t], batches.targets[t], batches.reset[t], states)
        greater.append(g.numpy()[batches.mask[t]])
        equal.append(e.numpy()[batches.mask[t]])
    return ranks_from_counts(np.concatenate(greater), np.concatenate(equal), ties)


def prefix_targets(order):
    """Indices into `order.items` of every target: each event but its session's first, in order."""
    return np.flatnonzero(order.offsets[order.event_sessions] != np.arange(len(order.items)))


def prefix_ranks(model, order, ties="conservative", batch_size=512, chunk_size=ITEM_CHUNK, targets=None, past=None):
    """Ranks [n_targets] of the targets of `order` (SessionOrder) by a baseline's `score_sessions`.

    Each target is scored after the history of its session up to it, in batches of `batch_size`
    histories; ties and ranks as for the recurrent models. The baseline scores the whole catalogue
    (its interface); the comparisons run `chunk_size` items at a time (`ranking.array_rank_counts`).

    Args:
        targets: indices into `order.items` of the targets to rank (default `prefix_targets(order)`).
        past: the user's earlier sessions, for session-aware baselines (`Baseline.score_sessions`):
            (items, begin, end), item indices and, per session of `order`, its user's earlier items
            items[begin:end] (oldest first); None: no user history.
    """
    chunk_size = check_chunk_size(chunk_size)
    session = order.event_sessions
    targets = prefix_targets(order) if targets is None else np.asarray(targets)
    starts = order.offsets[session[targets]]
    greater, equal = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for b in range(0, len(targets), batch_size):
        target, start = targets[b:b + batch_size], starts[b:b + batch_size]
        histories = padded(order.items, start, target)
        context = {"start_times": order.start_times[session[target]]}
        if past is not None:
            items, begin, end = past
            context["past"] = padded(items, begin[session[target]], end[session[target]])
        g, e = array_rank_counts(model.score_sessions(histories, **context), order.items[target], chunk_size)
        greater.append(g)
        equal.append(e)
    return ranks_from_counts(np.concatenate(greater), np.concatenate(equal), ties)


def padded(items, begin, end):
    """int [B, max(end - begin)]: row r is items[begin[r]:end[r]], padded with -1 at the end."""
    width = max(int((end - begin).max()), 1) if len(begin) else 1
    positions = begin[:, np.newaxis] + np.arange(width)
    return np.where(positions < end[:, np.newaxis], items[np.minimum(positions, len(items) - 1)], -1)


def row_order(events, user_vocab=None):
    """`order_sessions(events, ..., user_vocab)` with each event's frame row as its item: its `items`
    say which row every event of the play order is."""
    rows = np.arange(len(events))
    return order_sessions(events.assign(**{ITEM: rows}), Vocabulary(rows, "int"), user_vocab)


def evaluate(model, test, item_vocab, cutoffs=(5, 10, 20), ties="conservative", batch_size=512,
             chunk_size=ITEM_CHUNK):
    """Full-ranking Recall@K and MRR@K of `model` on the test event frame.

    Args:
        model: a trained SessionRecommender, or a fitted baseline (`zoo.baselines`).
        test: canonical event frame (SessionId, ItemId, Time).
        item_vocab: the training item vocabulary saved with the model.
        cutoffs: the K values.
        ties: `conservative` (default, as the reference), `standard` or `median`.
        batch_size: session slots scored in parallel.
        chunk_size: items scored at once (memory: batch_size x chunk_size scores); the metrics do
            not depend on it.

    Returns:
        dict with `recall@K`, `mrr@K` for every K, `events` (ranked targets), `sessions`, the
        counts of dropped unknown-item events and short sessions, and `by_position`
        (`zoo.evaluation.breakdowns`).

    Example:

        metrics = evaluate(model, load_events("test.tsv"), vocab, cutoffs=(20,))
        metrics["recall@20"], metrics["mrr@20"]
    """
    check_ranking(ties, cutoffs)
    check_chunk_size(chunk_size)
    test, counts = known_items(test, item_vocab)
    if test.empty:
        raise DataError("no test session is left after dropping items unknown to the model "
                        f"({counts['dropped_unknown_item_events']} events) and sessions shorter than 2")
    order = order_sessions(test, item_vocab)
    rows = row_order(test).items  # the frame row of each event of `order`
    if hasattr(model, "score_sessions"):
        targets = prefix_targets(order)
        ranks = prefix_ranks(model, order, ties, batch_size, chunk_size, targets)
        target_rows = rows[targets]
    else:
        ranks = target_ranks(model, session_parallel_batches(order, batch_size), ties, chunk_size)
        by_row = session_parallel_batches(dataclasses.replace(order, items=rows), batch_size)
        target_rows = by_row.targets[by_row.mask]  # the same step-major order as the ranks
    position = event_context(test).position[target_rows]
    return {**metrics_from_ranks(ranks, cutoffs), "events": int(len(ranks)), "sessions": order.n_sessions,
            "ties": ties, **counts, **breakdowns(ranks, position, None, cutoffs)}
