"""Next-item evaluation: full ranking over the catalogue, and a labelled sampled-negatives protocol.

Full ranking (the reference GRU4Rec's protocol). Test sessions are played in session-parallel
mini-batches with the hidden state zeroed at each new session; at every event but the session's
first, the model scores ALL training items and the rank of the true next item is

    standard:      rank = 1 + #{j : r_j >  r_target}
    conservative:  rank =     #{j : r_j >= r_target}          (the target counts itself; default)
    median:        rank = 1 + #{j : r_j >  r_target} + (#{j : r_j == r_target} - 1) / 2

    Recall@K = mean(rank <= K)      MRR@K = mean(1 / rank if rank <= K else 0)

over every evaluated event. Ties matter: a model that saturates (tanh) or a broken one that scores
everything equally is ranked last under `conservative`, first under `standard`. Test events whose item
is unknown to the model are removed from their session (the session continues without them) and
counted, then sessions left with fewer than 2 events are dropped and counted, as the reference does.

Baselines (`zoo.baselines`) have no recurrent state: `prefix_ranks` scores every target after its
session's events so far (`score_sessions`) and ranks it with the same counts, tie modes and metrics.
They run the session protocol only (`pop` also runs the user protocol, where it scores the same).

User protocol (`evaluate_users`, for personalized models; any model can run it): the test events
are played per user after that user's history (the training events), in user-parallel slots, the
states carried as in training: HRNN builds its user state from the earlier sessions, the user-gated
GRU uses the user's embedding (the fallback vector for users unseen in training), and the other
models start every session from zero, so their numbers equal the session protocol's. A test session
whose id also occurs in the user's history continues that session (leave-one-out: the history is the
start of the sequence and only the held-out events are ranked); any other test session starts anew
after the history. Every test event with an event before it in its session is ranked over all
training items, with the same tie modes and metrics.

`evaluate_run` picks the protocol: `session` or `user` as asked; `auto` runs the user protocol when
the model is personalized and the test events have user ids, the session protocol otherwise.

Sampled protocol (HR@K, NDCG@K against N given negatives per test case, e.g. S3-Rec's 99 fixed
negatives for LastFM): NOT comparable with full ranking; reported under `sampled_` keys.
"""
import numpy as np
import pandas as pd
import tensorflow as tf

from zoo.datasets.batches import order_sessions, session_parallel_batches, user_parallel_batches
from zoo.datasets.io import ITEM, SESSION, TIME, USER
from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError, DataError, UserError

TIE_MODES = ("standard", "conservative", "median")
PROTOCOLS = ("auto", "session", "user")


def ranks_from_counts(greater, equal, ties):
    """Rank of the target from #scores above it and #scores equal to it (the target included)."""
    greater, equal = np.asarray(greater, np.float64), np.asarray(equal, np.float64)
    if ties == "standard":
        return greater + 1
    if ties == "conservative":
        return greater + equal
    if ties == "median":
        return greater + 1 + (equal - 1) / 2
    raise ConfigError(f"ties must be one of {', '.join(TIE_MODES)}, got {ties!r}")


def metrics_from_ranks(ranks, cutoffs, prefix=""):
    """Recall@K and MRR@K (or HR@K and NDCG@K with prefix `sampled_`) for every cutoff K."""
    ranks = np.asarray(ranks, np.float64)
    result = {}
    for k in cutoffs:
        hit = ranks <= k
        if prefix:
            result[f"{prefix}hr@{k}"] = float(hit.mean()) if len(ranks) else 0.0
            result[f"{prefix}ndcg@{k}"] = float(np.where(hit, 1 / np.log2(ranks + 1), 0).mean()) if len(ranks) else 0.0
        else:
            result[f"recall@{k}"] = float(hit.mean()) if len(ranks) else 0.0
            result[f"mrr@{k}"] = float(np.where(hit, 1 / ranks, 0).mean()) if len(ranks) else 0.0
    return result


def known_items(test, item_vocab, min_session_length=2):
    """Drops test events with items unknown to the vocabulary, then too short sessions; counts both."""
    known = item_vocab.encode(test[ITEM]) >= 0
    kept = test[known]
    length = kept.groupby(SESSION, sort=False)[ITEM].transform("size")
    long_enough = kept[length >= min_session_length]
    counts = {
        "dropped_unknown_item_events": int((~known).sum()),
        "dropped_short_sessions": int(kept[SESSION].nunique() - long_enough[SESSION].nunique()),
    }
    return long_enough, counts


def _greater_equal(scores, targets):
    """#scores above and #scores equal to each row's target score (the target included)."""
    target_scores = tf.gather(scores, targets, batch_dims=1)[:, tf.newaxis]
    greater = tf.reduce_sum(tf.cast(scores > target_scores, tf.int32), axis=1)
    equal = tf.reduce_sum(tf.cast(scores == target_scores, tf.int32), axis=1)
    return greater, equal


def _rank_counter(model):
    @tf.function(reduce_retracing=True)
    def count(items, targets, reset, states):
        states = model.reset_states(states, reset)
        hidden, states = model.step(items, states, training=False)
        return (*_greater_equal(model.score_all(hidden), targets), states)

    return count


def target_ranks(model, batches, ties="conservative"):
    """Ranks [n_pairs] of every target of `batches` (ParallelBatches), in step-major order."""
    count, states = _rank_counter(model), model.initial_states(batches.batch_size)
    greater, equal = [], []
    for t in range(batches.n_steps):
        g, e, states = count(batches.items[t], batches.targets[t], batches.reset[t], states)
        greater.append(g.numpy()[batches.mask[t]])
        equal.append(e.numpy()[batches.mask[t]])
    return ranks_from_counts(np.concatenate(greater), np.concatenate(equal), ties)


def prefix_ranks(model, order, ties="conservative", batch_size=512):
    """Ranks [n_pairs] of every target of `order` (SessionOrder) by a baseline's `score_sessions`.

    Each target is scored after the history of its session up to it, in batches of `batch_size`
    histories; ties and ranks as for the recurrent models.
    """
    session = np.repeat(np.arange(order.n_sessions), np.diff(order.offsets))
    targets = np.flatnonzero(order.offsets[session] != np.arange(len(order.items)))
    starts = order.offsets[session[targets]]
    greater, equal = [], []
    for b in range(0, len(targets), batch_size):
        target, start = targets[b:b + batch_size], starts[b:b + batch_size]
        positions = start[:, np.newaxis] + np.arange((target - start).max())
        histories = np.where(positions < target[:, np.newaxis], order.items[np.minimum(positions, target[-1])], -1)
        g, e = _greater_equal(model.score_sessions(histories), order.items[target])
        greater.append(g.numpy())
        equal.append(e.numpy())
    return ranks_from_counts(np.concatenate(greater), np.concatenate(equal), ties)


def evaluate(model, test, item_vocab, cutoffs=(5, 10, 20), ties="conservative", batch_size=512):
    """Full-ranking Recall@K and MRR@K of `model` on the test event frame.

    Args:
        model: a trained SessionRecommender, or a fitted baseline (`zoo.baselines`).
        test: canonical event frame (SessionId, ItemId, Time).
        item_vocab: the training item vocabulary saved with the model.
        cutoffs: the K values.
        ties: `conservative` (default, as the reference), `standard` or `median`.
        batch_size: session slots scored in parallel.

    Returns:
        dict with `recall@K`, `mrr@K` for every K, `events` (ranked targets), `sessions`, and the
        counts of dropped unknown-item events and short sessions.

    Example:

        metrics = evaluate(model, load_events("test.tsv"), vocab, cutoffs=(20,))
        metrics["recall@20"], metrics["mrr@20"]
    """
    _check_ranking(ties, cutoffs)
    test, counts = known_items(test, item_vocab)
    if test.empty:
        raise DataError("no test session is left after dropping items unknown to the model "
                        f"({counts['dropped_unknown_item_events']} events) and sessions shorter than 2")
    order = order_sessions(test, item_vocab)
    if hasattr(model, "score_sessions"):
        ranks = prefix_ranks(model, order, ties, batch_size)
    else:
        ranks = target_ranks(model, session_parallel_batches(order, batch_size), ties)
    return {**metrics_from_ranks(ranks, cutoffs), "events": int(len(ranks)), "sessions": order.n_sessions,
            "ties": ties, **counts}


def _check_ranking(ties, cutoffs):
    if ties not in TIE_MODES:
        raise ConfigError(f"ties must be one of {', '.join(TIE_MODES)}, got {ties!r}")
    if not cutoffs or min(cutoffs) < 1:
        raise ConfigError(f"cutoffs must be positive integers, got {cutoffs}")


def _user_rank_counter(model):
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
        return (*_greater_equal(model.score_all(hidden), targets), states)

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
                   batch_size=512):
    """Full-ranking Recall@K and MRR@K under the user protocol (see the module docstring).

    Args:
        model: a trained SessionRecommender.
        test: canonical event frame with `UserId`.
        item_vocab: the training item vocabulary.
        history: the events before the test (the training events), with `UserId`.
        user_vocab: the training user vocabulary (`users.json`) of a model with user embeddings;
            None: every user counts as unseen.
        cutoffs, ties: as `evaluate`.
        batch_size: users played in parallel.

    Returns:
        dict with `recall@K`, `mrr@K`, `events` (ranked), `sessions` (with a ranked event), `users`,
        `ties`, `protocol` ("user") and the counts of dropped unknown-item events and of test sessions
        left without a ranked event.

    Example:

        metrics = evaluate_users(run.model, test, run.vocab, history=train, user_vocab=run.users)
    """
    _check_ranking(ties, cutoffs)
    events, is_test, dropped_unknown = user_events(test, history, item_vocab)
    if not is_test.any():
        raise DataError(f"no test event is left after dropping items unknown to the model ({dropped_unknown} events)")
    users = Vocabulary.fit(events[USER])
    # each event's position as its "item": the batches then say which events a pair's input and target are
    positions = events.assign(**{ITEM: np.arange(len(events))})
    order = order_sessions(positions, Vocabulary(np.arange(len(events)), "int"), users)
    batches = user_parallel_batches(order, batch_size)
    items = item_vocab.encode(events[ITEM])
    ranked = batches.mask & is_test[batches.targets]
    user_ids = users.decode(np.arange(len(users)))
    model_users = np.full(len(users), -1, np.int32) if user_vocab is None else user_vocab.encode(user_ids)
    advance, count = _user_rank_counter(model)
    states, greater, equal = model.initial_states(batch_size), [], []
    for t in range(batches.n_steps):
        step = (items[batches.items[t]], batches.reset[t], batches.user_start[t], model_users[batches.users[t]])
        if ranked[t].any():
            g, e, states = count(step[0], items[batches.targets[t]], *step[1:], states)
            greater.append(g.numpy()[ranked[t]])
            equal.append(e.numpy()[ranked[t]])
        else:
            states = advance(*step, states)
    if not greater:
        raise DataError("no test event has an event before it in its session: nothing to rank")
    ranks = ranks_from_counts(np.concatenate(greater), np.concatenate(equal), ties)
    sessions = events[SESSION].to_numpy()
    test_sessions = pd.unique(sessions[is_test])
    ranked_sessions = pd.unique(sessions[batches.targets[ranked]])
    return {**metrics_from_ranks(ranks, cutoffs), "events": int(len(ranks)), "sessions": int(len(ranked_sessions)),
            "users": int(events[USER][is_test].nunique()), "ties": ties, "protocol": "user",
            "dropped_unknown_item_events": dropped_unknown,
            "dropped_short_sessions": int(len(test_sessions) - len(ranked_sessions))}


def resolve_protocol(model, test, protocol="auto"):
    """`session` or `user`: `protocol` itself, or for `auto` the module docstring's choice."""
    if protocol not in PROTOCOLS:
        raise UserError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if protocol == "auto":
        return "user" if model.personalized and USER in test else "session"
    return protocol


def evaluate_run(model, test, item_vocab, protocol="auto", history=None, user_vocab=None, **options):
    """`evaluate` or `evaluate_users` by `protocol` (see the module docstring); `options`: cutoffs, ties, batch_size.

    Raises:
        UserError: an unknown protocol, or the user protocol without `history`.
    """
    protocol = resolve_protocol(model, test, protocol)
    if protocol == "session":
        return {**evaluate(model, test, item_vocab, **options), "protocol": "session"}
    if not hasattr(model, "step"):
        raise UserError(f"{type(model).__name__} is a session baseline: it runs the session protocol only")
    if history is None:
        raise UserError("the user protocol needs the events before the test (the training events)")
    return evaluate_users(model, test, item_vocab, history, user_vocab, **options)


def evaluate_sampled(model, histories, targets, negatives, cutoffs=(1, 5, 10), ties="conservative"):
    """Sampled protocol: rank the target among the given negatives only (HR@K, NDCG@K, MRR).

    Args:
        model: a trained SessionRecommender.
        histories: int [U, T] item indices of each test case's history, padded with -1 at the end.
        targets: int [U] the true next item.
        negatives: int [U, N] the negatives of each test case (e.g. 99 fixed ones).

    Returns:
        dict with `sampled_hr@K`, `sampled_ndcg@K`, `sampled_mrr`, `sampled_cases`, `sampled_negatives`.
    """
    hidden, _ = model.encode(np.asarray(histories, np.int32))
    candidates = tf.concat([np.asarray(targets, np.int32)[:, None], np.asarray(negatives, np.int32)], axis=1)
    vectors = tf.gather(model.item_vectors, candidates)
    scores = (tf.einsum("uh,uch->uc", hidden, vectors) + tf.gather(model.item_bias, candidates)).numpy()
    greater = (scores[:, 1:] > scores[:, :1]).sum(axis=1)
    equal = (scores[:, 1:] == scores[:, :1]).sum(axis=1) + 1
    ranks = ranks_from_counts(greater, equal, ties)
    return {**metrics_from_ranks(ranks, cutoffs, prefix="sampled_"), "sampled_mrr": float((1 / ranks).mean()),
            "sampled_cases": int(len(ranks)), "sampled_negatives": int(np.asarray(negatives).shape[1])}


def read_negatives(path):
    """A fixed-negatives file, one test user a line: `user neg neg ...` (S3-Rec's `*_sample.txt`).

    Returns:
        dict user id (str) -> list of item ids (str).
    """
    try:
        with open(path) as f:
            rows = [line.split() for line in f if line.strip()]
    except OSError as e:
        raise DataError(f"{path}: cannot read the negatives file ({e.strerror})") from None
    if not rows or min(len(r) for r in rows) < 2:
        raise DataError(f"{path}: expected lines 'user item item ...' with at least one negative")
    return {r[0]: r[1:] for r in rows}


def evaluate_fixed_negatives(model, test, item_vocab, history, negatives, cutoffs=(1, 5, 10), ties="conservative",
                             max_history=200):
    """Sampled protocol with fixed negatives per test user (e.g. S3-Rec's LastFM_sample.txt).

    Each test event (one per user, leave-one-out) is ranked against its user's negatives only, after
    the user's last `max_history` history events. NOT comparable with full ranking.

    Returns:
        dict of `evaluate_sampled`, plus `sampled_dropped_cases` (no history, unknown target or user
        without negatives) and `sampled_dropped_negatives` (negatives unknown to the model).
    """
    if model.personalized:
        raise ConfigError("the fixed-negatives protocol is implemented for the session models only")
    repeated = int((test.groupby(USER)[ITEM].size() > 1).sum()) if USER in test else 0
    if repeated:
        raise DataError(f"the fixed-negatives protocol ranks one test item per user (a leave-one-out split); "
                        f"{repeated} test users have more")
    events, is_test, _ = user_events(test, history, item_vocab)
    events = events.assign(_test=is_test).sort_values([USER, "_test", TIME], kind="stable").reset_index(drop=True)
    items = item_vocab.encode(events[ITEM])
    histories, targets, chosen, dropped_cases, dropped_negatives = [], [], [], 0, 0
    for user, group in events.groupby(USER, sort=False):
        past, target = items[group.index[~group["_test"].to_numpy()]], items[group.index[group["_test"].to_numpy()]]
        negs = item_vocab.encode(negatives.get(str(user), []))
        dropped_negatives += int((negs < 0).sum())
        if len(past) == 0 or len(target) == 0 or not (negs >= 0).any():
            dropped_cases += 1
            continue
        histories.append(past[-max_history:])
        targets.append(target[0])
        chosen.append(negs[negs >= 0])
    if not targets:
        raise DataError("no test case is left for the fixed-negatives protocol")
    width = min(len(n) for n in chosen)
    padded = np.full((len(histories), max(len(h) for h in histories)), -1, np.int32)
    for row, past in enumerate(histories):
        padded[row, : len(past)] = past
    result = evaluate_sampled(model, padded, targets, np.stack([n[:width] for n in chosen]), cutoffs, ties)
    return {**result, "sampled_dropped_cases": dropped_cases, "sampled_dropped_negatives": dropped_negatives,
            "ties": ties}
