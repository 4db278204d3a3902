import collections

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.datasets.batches import (
    SessionOrder,
    order_sessions,
    schedule,
    session_parallel_batches,
    user_parallel_batches,
)
from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError, DataError

T, F = True, False


def frame(sessions, users=None, times=None):
    """Canonical frame of `sessions` (lists of item ids); session k starts at time `times[k]`."""
    times = range(len(sessions)) if times is None else times
    rows = [
        {"SessionId": f"s{k}", "ItemId": item, "Time": float(times[k]) + 0.01 * j}
        | ({"UserId": users[k]} if users else {})
        for k, session in enumerate(sessions)
        for j, item in enumerate(session)
    ]
    return pd.DataFrame(rows)


def test_hand_worked_session_parallel():
    # Sessions A..E of lengths 3, 2, 4, 2, 3 on 3 slots; item 100 + i has index i (3-digit ids).
    sessions = [[101, 102, 103], [104, 105], [106, 107, 108, 109], [110, 111], [112, 113, 114]]
    events = frame(sessions).sample(frac=1, random_state=0)  # file order must not matter
    order = order_sessions(events, Vocabulary.fit(range(100, 115)))
    b = session_parallel_batches(order, 3)
    # step 0: A, B, C enter slots 0, 1, 2. step 1: B is done, D enters slot 1.
    # step 2: A and D are done: E enters slot 0 (lowest slot first), slot 1 stays idle.
    # The reference would stop after step 1 and lose C's last pair and all of E.
    np.testing.assert_array_equal(b.items, [[1, 4, 6], [2, 10, 7], [12, 0, 8], [13, 0, 0]])
    np.testing.assert_array_equal(b.targets, [[2, 5, 7], [3, 11, 8], [13, 0, 9], [14, 0, 0]])
    np.testing.assert_array_equal(b.reset, [[T, T, T], [F, T, F], [T, F, F], [F, F, F]])
    np.testing.assert_array_equal(b.mask, [[T, T, T], [T, T, T], [T, F, T], [T, F, F]])
    assert b.users is None and b.user_start is None
    assert b.items.dtype == b.targets.dtype == np.int32 and b.n_pairs == order.n_pairs == 9


def test_hand_worked_user_parallel():
    # alice: s0 (items 1 2 3, t=0), s3 (4 5, t=10); bob: s1 (6 7, t=5); carol: s2 (8 9 10, t=7),
    # s4 (11 12, t=20). Users play in order of first event: alice, bob, carol.
    sessions = [[101, 102, 103], [106, 107], [108, 109, 110], [104, 105], [111, 112]]
    users = ["alice", "bob", "carol", "alice", "carol"]
    events = frame(sessions, users, times=[0, 5, 7, 10, 20])
    user_vocab = Vocabulary.fit(users)
    order = order_sessions(events, Vocabulary.fit(range(100, 115)), user_vocab)
    np.testing.assert_array_equal(order.users, [0, 1, 2, 0, 2])
    b = user_parallel_batches(order, 2)
    # alice takes slot 0 for 2 + 1 steps, bob slot 1 for 1 step, then carol slot 1 for 2 + 1 steps.
    np.testing.assert_array_equal(b.items, [[1, 6], [2, 8], [4, 9], [0, 11]])
    np.testing.assert_array_equal(b.targets, [[2, 7], [3, 9], [5, 10], [0, 12]])
    np.testing.assert_array_equal(b.reset, [[T, T], [F, T], [T, F], [F, T]])
    np.testing.assert_array_equal(b.user_start, [[T, T], [F, T], [F, F], [F, F]])
    np.testing.assert_array_equal(b.mask, [[T, T], [T, T], [T, T], [F, T]])
    np.testing.assert_array_equal(b.users, [[0, 1], [0, 2], [0, 2], [0, 2]])


def test_order_sessions_ties_and_columns():
    events = pd.DataFrame(
        {
            "SessionId": ["10", "9", "10", "9", "2"],
            "ItemId": ["c", "a", "d", "b", "e"],
            "Time": [1.0, 1.0, 1.0, 2.0, 0.5],
        }
    )
    order = order_sessions(events, Vocabulary.fit(list("abcde")))
    # "2" starts first; "9" and "10" tie at t=1 and sort by id as numbers; equal times keep file order.
    assert list(order.session_ids) == ["2", "9", "10"]
    np.testing.assert_array_equal(order.items, [4, 0, 1, 2, 3])
    np.testing.assert_array_equal(order.offsets, [0, 1, 3, 5])
    np.testing.assert_array_equal(order.start_times, [0.5, 1.0, 1.0])
    assert order.users is None and order.n_sessions == 3 and order.n_pairs == 2


def test_order_sessions_errors():
    events = frame([[1, 2], [3, 4]], users=["u", "v"])
    with pytest.raises(DataError, match="1 events have item ids not in the vocabulary"):
        order_sessions(events, Vocabulary.fit([1, 2, 3]))
    with pytest.raises(DataError, match="user ids not in the vocabulary"):
        order_sessions(events, Vocabulary.fit([1, 2, 3, 4]), Vocabulary.fit(["u"]))
    with pytest.raises(DataError, match="lacks column"):
        order_sessions(events.drop(columns="Time"), Vocabulary.fit([1, 2, 3, 4]))
    events.loc[1, "UserId"] = "v"
    with pytest.raises(DataError, match="'s0' has events of more than one user"):
        order_sessions(events, Vocabulary.fit([1, 2, 3, 4]), Vocabulary.fit(["u", "v"]))
    with pytest.raises(DataError, match="need user ids"):
        user_parallel_batches(order_sessions(events, Vocabulary.fit([1, 2, 3, 4])), 2)
    with pytest.raises(ConfigError):
        session_parallel_batches(order_sessions(events, Vocabulary.fit([1, 2, 3, 4])), 0)


def test_empty_and_short_sessions():
    order = SessionOrder(np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0), np.zeros(0))
    assert session_parallel_batches(order, 4).items.shape == (0, 4)
    order = make_order([[5], [6, 7], [8]])
    b = session_parallel_batches(order, 2)
    np.testing.assert_array_equal(b.items, [[6, 0]])
    np.testing.assert_array_equal(b.mask, [[T, F]])


def test_schedule_ties_take_lowest_slot():
    slot, start = schedule([2, 1, 0, 1, 3, 1], 2)
    np.testing.assert_array_equal(slot, [0, 1, -1, 1, 0, 1])
    np.testing.assert_array_equal(start, [0, 0, 0, 1, 2, 2])


# --- properties -------------------------------------------------------------------------------


def make_order(sessions, users=None):
    """SessionOrder of `sessions` (lists of item indices) in the given order, start times 0, 1, ..."""
    lengths = [len(s) for s in sessions]
    items = np.array([i for s in sessions for i in s], dtype=np.int32)
    users = None if users is None else np.array(users, dtype=np.int32)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    ids = np.arange(len(sessions))
    return SessionOrder(items, offsets, ids, ids.astype(float), users)


def cells(b):
    """(step, slot) of every active slot-step, in step-major order."""
    return list(zip(*np.nonzero(b.mask)))


def event_layout(order, b):
    """Checks the pairs of `b` (built on an order whose item i is event i) and returns per cell
    (session, position of the input event in its session)."""
    session_of = np.repeat(np.arange(order.n_sessions), np.diff(order.offsets))
    inputs, targets = b.items[b.mask], b.targets[b.mask]
    # every pair of the data exactly once, and no pair across a session boundary
    expected = [e for k in range(order.n_sessions) for e in range(order.offsets[k], order.offsets[k + 1] - 1)]
    assert sorted(inputs.tolist()) == expected
    np.testing.assert_array_equal(targets, inputs + 1)
    assert (session_of[inputs] == session_of[targets]).all()
    # idle slot-steps are zero and unflagged
    assert not b.items[~b.mask].any() and not b.targets[~b.mask].any() and not b.reset[~b.mask].any()
    return {cell: (session_of[e], e - order.offsets[session_of[e]]) for cell, e in zip(cells(b), inputs)}


def check_slots(b, layout, unit_of):
    """Per slot: active steps first, then idle; consecutive pairs of a unit follow each other;
    units enter slots in order (by step, then slot), and a slot idles only when no unit is left."""
    previous = {}
    entries = []
    for (t, s), (k, j) in sorted(layout.items()):
        prior = previous.get(s)
        new_session = j == 0
        assert b.reset[t, s] == new_session
        if prior is not None:
            assert prior[0] == t - 1  # no idle step in between
            if new_session:
                assert prior[1] != k
            else:
                assert prior[1] == k and prior[2] == j - 1
        if prior is None or unit_of[prior[1]] != unit_of[k]:
            entries.append((t, s, unit_of[k]))
        previous[s] = (t, k, j)
    assert (np.diff(b.mask.astype(int), axis=0) <= 0).all()  # once idle, idle for good
    assert sorted(entries) == entries  # units enter in order: by step, ties by lowest slot
    units = [u for _, _, u in entries]
    assert units == sorted(set(units))  # each unit played once, in order
    if b.n_steps:
        assert b.mask[-1].any()
        last_entry = entries[-1][:2]
        for s in range(b.batch_size):  # the first idle step of a slot comes after the last entry
            idle = np.flatnonzero(~b.mask[:, s])
            if idle.size:
                assert (idle[0], s) > last_entry


sessions_st = st.lists(st.integers(1, 8), max_size=25)


@settings(max_examples=150, deadline=None)
@given(lengths=sessions_st, batch_size=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_session_parallel_properties(lengths, batch_size, seed):
    rng = np.random.default_rng(seed)
    offsets = np.r_[0, np.cumsum(lengths)]
    unique = make_order([list(range(offsets[k], offsets[k + 1])) for k in range(len(lengths))])
    random_items = [rng.integers(0, 5, n).tolist() for n in lengths]
    b = session_parallel_batches(make_order(random_items), batch_size)
    direct = collections.Counter((s[j], s[j + 1]) for s in random_items for j in range(len(s) - 1))
    assert collections.Counter(zip(b.items[b.mask].tolist(), b.targets[b.mask].tolist())) == direct
    assert b.n_pairs == sum(direct.values())

    u = session_parallel_batches(unique, batch_size)
    np.testing.assert_array_equal(u.mask, b.mask)
    layout = event_layout(unique, u)
    check_slots(u, layout, unit_of=np.arange(len(lengths)))


@settings(max_examples=150, deadline=None)
@given(
    lengths=sessions_st,
    batch_size=st.integers(1, 6),
    n_users=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_user_parallel_properties(lengths, batch_size, n_users, seed):
    rng = np.random.default_rng(seed)
    offsets = np.r_[0, np.cumsum(lengths)]
    users = rng.integers(0, n_users, len(lengths))
    order = make_order([list(range(offsets[k], offsets[k + 1])) for k in range(len(lengths))], users)
    b = user_parallel_batches(order, batch_size)
    layout = event_layout(order, b)
    # users play in order of their first session (= first event here), ties by user index
    first_session = {u: k for k, u in reversed(list(enumerate(users.tolist())))}
    rank = {u: r for r, u in enumerate(sorted(first_session, key=lambda u: (first_session[u], u)))}
    check_slots(b, layout, unit_of=np.array([rank[u] for u in users.tolist()]))
    seen = set()
    for (t, s), (k, j) in sorted(layout.items()):
        assert b.users[t, s] == users[k]
        assert b.user_start[t, s] == (users[k] not in seen)
        seen.add(users[k])
        if j == 0 and b.user_start[t, s]:
            assert b.reset[t, s]
    # a user's sessions play in time order: session indices rise along the user's pairs
    by_user = collections.defaultdict(list)
    for cell in sorted(layout):
        by_user[users[layout[cell][0]]].append(layout[cell][0])
    assert all(ks == sorted(ks) for ks in by_user.values())
    assert not b.user_start[~b.mask].any() and not b.users[~b.mask].any()


def reference_steps(sessions, batch_size):
    """GRU4Rec's original session-parallel loop (iters/start/end/minlen), stopping at the first
    finished slot that cannot be refilled. Returns per step (inputs, targets, reset) of all slots."""
    offsets = np.r_[0, np.cumsum([len(s) for s in sessions])]
    data = np.concatenate(sessions)
    iters = np.arange(batch_size)
    maxiter = iters.max()
    start, end = offsets[iters].copy(), offsets[iters + 1].copy()
    reset = np.ones(batch_size, dtype=bool)
    steps = []
    finished = False
    while not finished:
        minlen = (end - start).min()
        out_idx = data[start]
        for i in range(minlen - 1):
            in_idx = out_idx
            out_idx = data[start + i + 1]
            steps.append((in_idx, out_idx, reset.copy()))
            reset[:] = False
        start = start + minlen - 1
        for idx in np.arange(len(iters))[(end - start) <= 1]:
            maxiter += 1
            if maxiter >= len(offsets) - 1:
                finished = True
                break
            iters[idx] = maxiter
            start[idx], end[idx] = offsets[maxiter], offsets[maxiter + 1]
            reset[idx] = True
    return steps


@settings(max_examples=150, deadline=None)
@given(
    lengths=st.lists(st.integers(2, 8), min_size=1, max_size=25),
    batch_size=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_reference_before_it_stops(lengths, batch_size, seed):
    if len(lengths) < batch_size:
        batch_size = len(lengths)  # the reference needs a session for every slot at the start
    rng = np.random.default_rng(seed)
    sessions = [rng.integers(0, 50, n).tolist() for n in lengths]
    b = session_parallel_batches(make_order(sessions), batch_size)
    steps = reference_steps(sessions, batch_size)
    assert len(steps) <= b.n_steps
    for t, (inputs, targets, reset) in enumerate(steps):
        np.testing.assert_array_equal(b.items[t], inputs)
        np.testing.assert_array_equal(b.targets[t], targets)
        np.testing.assert_array_equal(b.reset[t], reset)
        assert b.mask[t].all()


def test_shuffle_is_seeded_and_keeps_every_pair():
    order = make_order([list(range(10 * k, 10 * k + 2 + k % 5)) for k in range(40)])
    plain = session_parallel_batches(order, 4)
    one, again = (session_parallel_batches(order, 4, shuffle_seed=(7, 0)) for _ in range(2))
    other = session_parallel_batches(order, 4, shuffle_seed=(7, 1))
    np.testing.assert_array_equal(one.items, again.items)
    assert not np.array_equal(one.items, other.items)
    for b in (one, other):
        assert sorted(b.items[b.mask].tolist()) == sorted(plain.items[plain.mask].tolist())


def test_user_shuffle_keeps_sessions_of_a_user_together():
    sessions = [list(range(3 * k, 3 * k + 3)) for k in range(12)]
    order = make_order(sessions, users=[k % 4 for k in range(12)])
    b = user_parallel_batches(order, 2, shuffle_seed=3)
    layout = event_layout(order, b)
    entries = [b.users[cell] for cell in sorted(layout) if b.user_start[cell]]
    assert sorted(entries) == [0, 1, 2, 3] and b.user_start.sum() == 4
