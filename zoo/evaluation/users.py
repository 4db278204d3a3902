"""The user protocol: each user's test events played after the user's history, states carried as in training."""
import dataclasses

import numpy as np
import pandas as pd
import tensorflow as tf

from zoo.datasets.batches import user_parallel_batches
from zoo.datasets.io import ITEM, SESSION, TIME, USER
from zoo.datasets.vocab import Vocabulary
from zoo.errors import DataError
from zoo.evaluation.breakdowns import breakdowns, event_context
from zoo.evaluation.ranking import (
    ITEM_CHUNK,
    check_chunk_size,
    check_ranking,
    metrics_from_ranks,
    rank_counts,
    ranks_from_counts,
)
from zoo.evaluation.sessions import prefix_ranks, prefix_targets, row_order

PAST_ITEMS = 100  # a session-aware baseline sees at most this many items of the user's earlier sessions


def _user_rank_counter(model, chunk_size=ITEM_CHUNK):
    """(advance, count): one user-parallel step without and with ranking the targets."""

    def play(items, reset, user_start, users, states):
        states = model.start_sessions(states, reset, user_start)
        return model.step(items, states, users=users)

    @tf.function(reduce_retracing=True)
    def advance(items, reset, user_start, users, states):
        return play(items, reset, user_start, users, states)[1]

    @tf.function(reduce_retracing=True)
    def count(items, targets, reset, user_start, users, states):
        hidden, states = play(items, reset, user_start, users, states)
        return (*rank_counts(model, hidden, targets, chunk_size), states)

    return advance, count


def user_events(test, history, item_vocab):
    """The history events of the test users followed by their test events, items known to the vocabulary.

    Returns:
        (events frame, bool array: the event is a test event, number of test events dropped as unknown).

    Raises:
        DataError: the test or history events have no user ids.
    """
    for name, frame in (("test", test), ("history", history)):
        if USER not in frame:
            raise DataError(f"the {name} events have no user ids (a UserId column, or --user-key): "
                            "the user protocol needs them")
    known = item_vocab.encode(test[ITEM]) >= 0
    test = test[known]
    history = history[history[USER].isin(test[USER].unique()) & (item_vocab.encode(history[ITEM]) >= 0)]
    columns = [SESSION, ITEM, TIME, USER]
    events = pd.concat([history[columns], test[columns]], ignore_index=True)
    return events, np.arange(len(events)) >= len(history), int((~known).sum())


def evaluate_users(model, test, item_vocab, history, user_vocab=None, cutoffs=(5, 10, 20), ties="conservative",
                   batch_size=512, chunk_size=ITEM_CHUNK):
    """Full-ranking Recall@K and MRR@K under the user protocol (see the module docstring).

    Args:
        model: a trained SessionRecommender, or a fitted baseline (`zoo.baselines`: each session is
            scored after its own events so far, and a session-aware one also sees the user's earlier
            sessions, their latest `PAST_ITEMS` items).
        test: canonical event frame with `UserId`.
        item_vocab: the training item vocabulary.
        history: the events before the test (the training events), with `UserId`.
        user_vocab: the training user vocabulary (`users.json`) of a model with user embeddings;
            None: every user counts as unseen.
        cutoffs, ties: as `evaluate`.
        batch_size: users (recurrent models) or session prefixes (baselines) scored in parallel.
        chunk_size: items scored at once (`ranking.rank_counts`); the metrics do not depend on it.

    Returns:
        dict with `recall@K`, `mrr@K`, `events` (ranked), `sessions` (with a ranked event), `users`,
        `ties`, `protocol` ("user"), the counts of dropped unknown-item events and of test sessions
        left without a ranked event (every test session is one or the other), and `by_position` and
        `by_earlier_sessions` (`zoo.evaluation.breakdowns`).

    Raises:
        DataError: no user ids, or nothing left to rank.

    Example:

        metrics = evaluate_users(run.model, test, run.vocab, history=train, user_vocab=run.users)
    """
    check_ranking(ties, cutoffs)
    chunk_size = check_chunk_size(chunk_size)
    events, is_test, dropped_unknown = user_events(test, history, item_vocab)
    if not is_test.any():
        raise DataError(f"no test event is left after dropping items unknown to the model ({dropped_unknown} events)")
    context = event_context(events)
    if hasattr(model, "score_sessions"):
        ranks, rows = _baseline_ranks(model, events, is_test, item_vocab, ties, batch_size, chunk_size)
    else:
        ranks, rows = _recurrent_ranks(model, events, is_test, context, item_vocab, user_vocab, ties, batch_size,
                                       chunk_size)
    if not len(ranks):
        raise DataError("no test event has an event before it in its session: nothing to rank")
    test_sessions = test[SESSION].unique()  # also those whose every item is unknown
    ranked_sessions = pd.unique(events[SESSION].to_numpy()[rows])
    return {**metrics_from_ranks(ranks, cutoffs), "events": int(len(ranks)), "sessions": int(len(ranked_sessions)),
            "users": int(events[USER][is_test].nunique()), "ties": ties, "protocol": "user",
            "dropped_unknown_item_events": dropped_unknown,
            "dropped_short_sessions": int(len(test_sessions) - len(ranked_sessions)),
            **breakdowns(ranks, context.position[rows], context.earlier[rows], cutoffs)}


def _recurrent_ranks(model, events, is_test, context, item_vocab, user_vocab, ties, batch_size, chunk_size):
    """(ranks, frame rows of their targets) of the test events, users played in user-parallel slots.

    A model that `concatenates_sessions` plays each user's events as one sequence (its sessions
    joined), and still ranks only the targets with an event before them in their own session."""
    concatenated = getattr(model, "concatenates_sessions", False)
    played = events.assign(**{SESSION: events[USER]}) if concatenated else events
    users = Vocabulary.fit(events[USER])
    # each event's row as its "item": the batches then say which events a pair's input and target are
    batches = user_parallel_batches(row_order(played, users), batch_size)
    items = item_vocab.encode(events[ITEM])
    ranked = batches.mask & is_test[batches.targets]
    if concatenated:
        ranked &= context.position[batches.targets] > 0
    user_ids = users.decode(np.arange(len(users)))
    model_users = np.full(len(users), -1, np.int32) if user_vocab is None else user_vocab.encode(user_ids)
    advance, count = _user_rank_counter(model, chunk_size)
    states, greater, equal = model.initial_states(batch_size), [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for t in range(batches.n_steps):
        step = (items[batches.items[t]], batches.reset[t], batches.user_start[t], model_users[batches.users[t]])
        if ranked[t].any():
            g, e, states = count(step[0], items[batches.targets[t]], *step[1:], states)
            greater.append(g.numpy()[ranked[t]])
            equal.append(e.numpy()[ranked[t]])
        else:
            states = advance(*step, states)
    ranks = ranks_from_counts(np.concatenate(greater), np.concatenate(equal), ties)
    return ranks, batches.targets[ranked]


def _baseline_ranks(model, events, is_test, item_vocab, ties, batch_size, chunk_size):
    """(ranks, frame rows of their targets) of the test events by a baseline's `score_sessions`."""
    by_row = row_order(events, Vocabulary.fit(events[USER]))
    order = dataclasses.replace(by_row, items=item_vocab.encode(events[ITEM])[by_row.items].astype(np.int32))
    targets = prefix_targets(order)
    targets = targets[is_test[by_row.items[targets]]]
    ranks = prefix_ranks(model, order, ties, batch_size, chunk_size, targets, past=user_past(order))
    return ranks, by_row.items[targets]


def user_past(order, limit=PAST_ITEMS):
    """(items, begin, end): per session of `order` (with users), the latest `limit` items of its
    user's earlier sessions, oldest first, as items[begin:end] (see `sessions.prefix_ranks`)."""
    by_user = np.argsort(order.users, kind="stable")  # sessions user after user, each user's in time order
    lengths = np.diff(order.offsets)[by_user]
    flat_start = np.r_[0, np.cumsum(lengths)[:-1]]
    items = order.items[np.repeat(order.offsets[by_user] - flat_start, lengths) + np.arange(lengths.sum())]
    first = np.r_[True, order.users[by_user][1:] != order.users[by_user][:-1]]
    user_start = flat_start[first][np.cumsum(first) - 1]
    begin, end = np.empty(order.n_sessions, np.int64), np.empty(order.n_sessions, np.int64)
    end[by_user] = flat_start
    begin[by_user] = np.maximum(user_start, flat_start - limit)
    return items, begin, end
