"""A built-in synthetic click log with the structure that session-based recommenders exploit.

The generative process (all draws from one `numpy.random.Generator` seeded by `seed`):

1. Items and topics. Item i gets topic t_i (the items are shuffled and dealt round-robin into
   `n_topics` topics) and popularity w_i = r_i ** -zipf, where r_i is a random rank in 1..n_items
   (Zipf-like popularity). Within topic t, P(i | t) = w_i / sum of w_j over the items j of topic t.
2. Item-to-item transitions (a sparse Markov chain). Each item i gets `successors` successor items
   s_i1..s_iS drawn from P(. | t_i) and weights q_i ~ Dirichlet(1, ..., 1).
3. Users with persistent tastes. User u likes `topics_per_user` distinct topics, drawn uniformly,
   with weights theta_u ~ Dirichlet(1, ..., 1).
4. Sessions. User u has 1 + Poisson(sessions_per_user - 1) sessions. Session s has topic
   z_s ~ theta_u and length L_s ~ Geometric(1 / session_length) (so some sessions have one event).
5. Clicks. x_1 ~ P(. | z_s); then for k > 1, with probability `follow` x_k = s_(x_(k-1), j) with
   j ~ q_(x_(k-1)) (the next item depends on the current one), otherwise x_k ~ P(. | z_s)
   (the session's topic, which a model with memory can infer from the earlier clicks).
6. Time. Session starts are uniform over `days` days from 2024-01-01 00:00 UTC; the gaps between
   clicks of a session are 1 s + Exponential(mean 60 s). Times are rounded to milliseconds.

Sessions are numbered "1", "2", ... in order of start time; users and items are "1".."n". The
defaults give about 60,000 events on 1,500 items over 30 days (a 1-day time split leaves ~1/30 of
the sessions for test), generated in well under a second.
"""
import numpy as np
import pandas as pd

from zoo.errors import ConfigError

from .io import ITEM, SESSION, TIME, USER

START = pd.Timestamp("2024-01-01", tz="UTC").timestamp()


def generate(
    n_users=2500,
    n_items=1500,
    seed=0,
    n_topics=30,
    topics_per_user=3,
    sessions_per_user=4.0,
    session_length=6.0,
    follow=0.6,
    successors=5,
    zipf=1.0,
    days=30.0,
):
    """Generates a click log by the process in the module docstring.

    Returns:
        A canonical frame (`SessionId`, `ItemId`, `Time`, `UserId`) sorted by session then time.

    Raises:
        ConfigError: a parameter out of its range.
    """
    _check(
        n_users=n_users,
        n_items=n_items,
        n_topics=n_topics,
        topics_per_user=topics_per_user,
        sessions_per_user=sessions_per_user,
        session_length=session_length,
        follow=follow,
        successors=successors,
    )
    rng = np.random.default_rng(seed)
    topic_of, sampler = _items(rng, n_items, n_topics, zipf)
    next_items = sampler(rng, np.repeat(topic_of, successors)).reshape(n_items, successors)
    next_weights = np.cumsum(rng.dirichlet(np.ones(successors), size=n_items), axis=1)
    users, topics = _sessions(rng, n_users, n_topics, topics_per_user, sessions_per_user)
    lengths = rng.geometric(1 / session_length, size=len(users))
    clicks = _clicks(rng, sampler, topics, lengths, follow, next_items, next_weights)
    return _frame(rng, users, lengths, clicks, days)


def _check(**values):
    v = values
    rules = {
        "n_users >= 1": v["n_users"] >= 1,
        "n_topics >= 1": v["n_topics"] >= 1,
        "n_items >= n_topics": v["n_items"] >= v["n_topics"],
        "1 <= topics_per_user <= n_topics": 1 <= v["topics_per_user"] <= v["n_topics"],
        "sessions_per_user >= 1": v["sessions_per_user"] >= 1,
        "session_length >= 1": v["session_length"] >= 1,
        "0 <= follow <= 1": 0 <= v["follow"] <= 1,
        "successors >= 1": v["successors"] >= 1,
    }
    broken = [rule for rule, ok in rules.items() if not ok]
    if broken:
        raise ConfigError(f"synthetic data needs {', '.join(broken)}")


def _items(rng, n_items, n_topics, zipf):
    """Item topics, and a sampler of items given topics: P(i | t) proportional to popularity."""
    topic_of = np.empty(n_items, dtype=np.int64)
    topic_of[rng.permutation(n_items)] = np.arange(n_items) % n_topics
    popularity = rng.permutation(np.arange(1, n_items + 1)) ** -float(zipf)
    order = np.argsort(topic_of, kind="stable")
    cumulative = np.cumsum(popularity[order])
    starts = np.searchsorted(topic_of[order], np.arange(n_topics))
    ends = np.append(starts[1:], n_items) - 1
    before = np.append(0.0, cumulative[ends[:-1]])
    share = (cumulative - before[topic_of[order]]) / (cumulative[ends] - before)[topic_of[order]]
    share[ends] = 1.0
    keys = topic_of[order] + share  # topic t's items have keys in (t, t + 1]

    def sampler(rng, topics):
        u = np.minimum(rng.random(len(topics)), 1 - 1e-9)
        return order[np.searchsorted(keys, topics + u, side="right")]

    return topic_of, sampler


def _sessions(rng, n_users, n_topics, topics_per_user, sessions_per_user):
    """The user and the topic of every session."""
    liked = np.argpartition(rng.random((n_users, n_topics)), topics_per_user - 1, axis=1)[:, :topics_per_user]
    taste = np.cumsum(rng.dirichlet(np.ones(topics_per_user), size=n_users), axis=1)
    users = np.repeat(np.arange(n_users), 1 + rng.poisson(sessions_per_user - 1, size=n_users))
    pick = np.minimum((rng.random(len(users))[:, None] > taste[users]).sum(axis=1), topics_per_user - 1)
    return users, liked[users, pick]


def _clicks(rng, sampler, topics, lengths, follow, next_items, next_weights):
    """Items of all sessions as a (sessions, max length) array, one step of all sessions at a time."""
    clicks = np.full((len(topics), lengths.max()), -1, dtype=np.int64)
    clicks[:, 0] = sampler(rng, topics)
    for k in range(1, lengths.max()):
        active = np.flatnonzero(lengths > k)
        current = clicks[active, k - 1]
        slot = (rng.random(len(active))[:, None] > next_weights[current]).sum(axis=1)
        successor = next_items[current, np.minimum(slot, next_items.shape[1] - 1)]
        jump = sampler(rng, topics[active])
        clicks[active, k] = np.where(rng.random(len(active)) < follow, successor, jump)
    return clicks


def _frame(rng, users, lengths, clicks, days):
    """The canonical frame: sessions numbered by start time, clicks 1 s + Exp(60 s) apart."""
    starts = START + rng.random(len(users)) * days * 86400
    rank = np.empty(len(users), dtype=np.int64)
    rank[np.argsort(starts, kind="stable")] = np.arange(1, len(users) + 1)
    session = np.repeat(np.arange(len(users)), lengths)
    offsets = _within_session_offsets(rng, lengths)
    frame = pd.DataFrame(
        {
            SESSION: pd.Series(rank[session], dtype="str"),
            ITEM: pd.Series(clicks[clicks >= 0] + 1, dtype="str"),
            TIME: np.round(starts[session] + offsets, 3),
            USER: pd.Series(users[session] + 1, dtype="str"),
        }
    )
    return frame.iloc[np.lexsort((frame[TIME].to_numpy(), rank[session]))].reset_index(drop=True)


def _within_session_offsets(rng, lengths):
    """Seconds from the session start of each click: the cumulative sum of the gaps before it."""
    gaps = 1 + rng.exponential(60, size=lengths.sum())
    first = np.cumsum(lengths) - lengths
    gaps[first] = 0
    total = np.cumsum(gaps)
    return total - np.repeat(total[first], lengths)
