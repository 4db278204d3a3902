"""The sampled protocol: each target ranked against given negatives only (NOT comparable with full ranking)."""
import numpy as np
import tensorflow as tf

from zoo.datasets.io import ITEM, TIME, USER
from zoo.errors import ConfigError, DataError
from zoo.evaluation.ranking import metrics_from_ranks, ranks_from_counts
from zoo.evaluation.users import user_events


def evaluate_sampled(model, histories, targets, negatives, cutoffs=(1, 5, 10), ties="conservative"):
    """Sampled protocol: rank the target among the given negatives only (HR@K, NDCG@K, MRR).

    Args:
        model: a trained SessionRecommender or a fitted baseline (`zoo.baselines`).
        histories: int [U, T] item indices of each test case's history, padded with -1 at the end.
        targets: int [U] the true next item.
        negatives: int [U, N] the negatives of each test case (e.g. 99 fixed ones).

    Returns:
        dict with `sampled_hr@K`, `sampled_ndcg@K`, `sampled_mrr`, `sampled_cases`, `sampled_negatives`.
    """
    histories = np.asarray(histories, np.int32)
    candidates = np.concatenate([np.asarray(targets, np.int32)[:, None], np.asarray(negatives, np.int32)], axis=1)
    if hasattr(model, "score_sessions"):  # a baseline: its scores of every item, the candidates' taken
        scores = np.take_along_axis(np.asarray(model.score_sessions(histories)), candidates, axis=1)
    else:
        hidden, _ = model.encode(histories)
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
