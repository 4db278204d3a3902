"""Session-parallel and user-parallel mini-batches of (input item, target item) pairs, in NumPy.

Session-parallel batches are those of GRU4Rec (Hidasi et al., ICLR 2016): B slots each play one
session, one event a step. At step t, an active slot gives the input item (event j of its session)
and the target (event j + 1); its hidden state is reset at the step where a new session enters it.
When a slot's session ends it takes the next session in order; when several slots free up at the
same step they take the next sessions in increasing slot order, as the reference iterates the
finished slots in ascending order.

Epoch end ("play to the end"): when a finished slot cannot be refilled, it stays idle (`mask`
False) and the other slots play their sessions to the end, so every (input, target) pair of the data
appears exactly once per epoch. This is what the official PyTorch GRU4Rec does (it drops the idle
slots, shrinking the batch, and keeps dividing the loss by the full batch size; masking is the same
computation with static shapes). The original Theano GRU4Rec instead stopped the epoch at the first
slot it could not refill, losing the tail of the sessions still playing.

User-parallel batches (HRNN, Quadrana et al., RecSys 2017) are the same with a user as the unit:
a slot plays all sessions of one user in time order, then takes the next user. Pairs never cross a
session boundary; `reset` marks the first pair of each session and `user_start` the first pair of
the user's first session. Session-parallel batches can also carry the user of every slot-step (for
the user-gated GRU).

Sessions of fewer than 2 events have no pair and contribute nothing (callers usually filter them).
Both layouts come from one scheduler (`schedule`); the arrays are filled without per-event loops.
"""
import dataclasses
import heapq

import numpy as np

from zoo.errors import ConfigError, DataError

from .io import ITEM, SESSION, TIME, USER
from .prep import natural_codes


@dataclasses.dataclass(frozen=True)
class SessionOrder:
    """Events grouped by session, sessions in play order, items as vocabulary indices.

    Attributes:
        items: int32 [N]: the item index of every event, session after session, in time order.
        offsets: int64 [S+1]: session k holds events offsets[k]:offsets[k+1].
        session_ids: [S]: the session ids as given.
        start_times: float64 [S]: the time of each session's first event.
        users: int32 [S]: the user index of each session, or None without users.
    """

    items: np.ndarray
    offsets: np.ndarray
    session_ids: np.ndarray
    start_times: np.ndarray
    users: np.ndarray | None = None

    @property
    def n_sessions(self):
        return len(self.offsets) - 1

    @property
    def event_sessions(self):
        """int [N]: the session index of every event."""
        return np.repeat(np.arange(self.n_sessions), np.diff(self.offsets))

    @property
    def n_pairs(self):
        """The number of (input, target) pairs: the events less the first of each session."""
        return len(self.items) - self.n_sessions

    def require_pairs(self):
        """Raises the DataError every model (recurrent or baseline) gives for a training log with no
        (input, target) pair: no session of 2 or more events. Returns the order itself."""
        if self.n_pairs == 0:
            raise DataError("the training data has no session with 2 or more events")
        return self


@dataclasses.dataclass(frozen=True)
class ParallelBatches:
    """One epoch of parallel mini-batches: T steps of B slots.

    Idle slot-steps (no session left for the slot) have items, targets and users 0, flags False.

    Attributes:
        items: int32 [T, B]: input item indices.
        targets: int32 [T, B]: the next item of the same session.
        reset: bool [T, B]: the pair is the first of a session (reset the session-level state).
        mask: bool [T, B]: the slot-step holds a pair.
        users: int32 [T, B]: user indices (user-parallel, or session-parallel `with_users`; else None).
        user_start: bool [T, B]: the pair is the first of a user (user-parallel only, else None).
    """

    items: np.ndarray
    targets: np.ndarray
    reset: np.ndarray
    mask: np.ndarray
    users: np.ndarray | None = None
    user_start: np.ndarray | None = None

    @property
    def n_steps(self):
        return self.items.shape[0]

    @property
    def batch_size(self):
        return self.items.shape[1]

    @property
    def event_sessions(self):
        """int [N]: the session index of every event."""
        return np.repeat(np.arange(self.n_sessions), np.diff(self.offsets))

    @property
    def n_pairs(self):
        return int(self.mask.sum())


def order_sessions(events, item_vocab, user_vocab=None):
    """Groups a canonical event frame by session, sessions in order of their first event.

    Sessions are ordered by the time of their first event, ties by session id (digit-only ids by
    value, as `prep.natural_codes`); events within a session by time, ties kept in frame order.

    Args:
        events: DataFrame with `SessionId`, `ItemId`, `Time` and, for `user_vocab`, `UserId`.
        item_vocab: Vocabulary of the items. Every item must be in it: drop unknown items first,
            e.g. `events[item_vocab.encode(events.ItemId) >= 0]`.
        user_vocab: Vocabulary of the users, to record each session's user; None to ignore users.

    Returns:
        SessionOrder.

    Raises:
        DataError: a column is missing, an item or user is not in its vocabulary, or a session has
            events of more than one user.
    """
    needed = (SESSION, ITEM, TIME) + ((USER,) if user_vocab is not None else ())
    missing = [c for c in needed if c not in events]
    if missing:
        raise DataError(f"event frame lacks column(s) {', '.join(missing)}")
    items = _encode(item_vocab, events[ITEM], "item")
    time = events[TIME].to_numpy(np.float64)
    codes = natural_codes(events[SESSION])
    by_session = np.lexsort((time, codes))
    starts = np.flatnonzero(_changes(codes[by_session]))
    lengths = np.diff(np.r_[starts, len(events)])
    play = np.argsort(time[by_session[starts]], kind="stable")  # codes rise along `starts`: ties by id
    event_order = by_session[_ranges(starts[play], lengths[play])]
    offsets = np.r_[0, np.cumsum(lengths[play])]
    first = event_order[offsets[:-1]]
    users = None
    if user_vocab is not None:
        users = _encode(user_vocab, events[USER], "user")[event_order]
        within = np.ones(len(users), dtype=bool)
        within[offsets[:-1]] = False  # event continues its session
        mixed = np.flatnonzero(_changes(users) & within)
        if mixed.size:
            session = events[SESSION].iloc[event_order[mixed[0]]]
            raise DataError(f"session {session!r} has events of more than one user")
        users = users[offsets[:-1]]
    return SessionOrder(
        items=items[event_order],
        offsets=offsets,
        session_ids=events[SESSION].to_numpy()[first],
        start_times=time[first],
        users=users,
    )


def _changes(values):
    """bool array: True where an element differs from the one before it (and at index 0)."""
    change = np.ones(len(values), dtype=bool)
    change[1:] = values[1:] != values[:-1]
    return change


def _encode(vocab, ids, what):
    """Vocabulary indices of `ids`; DataError naming the first unknown id."""
    codes = vocab.encode(ids)
    unknown = np.flatnonzero(codes < 0)
    if unknown.size:
        raise DataError(
            f"{unknown.size} events have {what} ids not in the vocabulary (first: {ids.iloc[unknown[0]]!r}); "
            f"drop them first"
        )
    return codes


def _ranges(starts, lengths):
    """Concatenation of the ranges starts[k]:starts[k] + lengths[k], as one int64 array."""
    lengths = np.asarray(lengths, dtype=np.int64)
    shift = np.asarray(starts, dtype=np.int64) - (np.cumsum(lengths) - lengths)
    return np.repeat(shift, lengths) + np.arange(lengths.sum())


def schedule(durations, n_slots):
    """Assigns units in order to the slot that frees first (ties: lowest slot), one heap step a unit.

    Unit k occupies its slot for durations[k] steps; units of duration 0 get no slot.

    Args:
        durations: int array [U] of steps per unit.
        n_slots: number of slots B.

    Returns:
        (slot, start): int64 arrays [U], the slot and first step of each unit (-1 and 0 for units of
        duration 0).
    """
    durations = np.asarray(durations, dtype=np.int64)
    busy = np.flatnonzero(durations > 0)
    heap = list(range(n_slots))  # key = free step * n_slots + slot: pops by step, then slot
    keys = []
    for d in (durations[busy] * n_slots).tolist():
        key = heap[0]
        heapq.heapreplace(heap, key + d)
        keys.append(key)
    slot = np.full(len(durations), -1, dtype=np.int64)
    start = np.zeros(len(durations), dtype=np.int64)
    start[busy], slot[busy] = np.divmod(np.array(keys, dtype=np.int64), n_slots)
    return slot, start


def session_parallel_batches(order, batch_size, shuffle_seed=None, with_users=False):
    """GRU4Rec's session-parallel mini-batches, played to the end (see the module docstring).

    Args:
        order: SessionOrder.
        batch_size: number of slots B.
        shuffle_seed: None to play sessions in `order`; else a seed (int or tuple of ints) for
            NumPy's `default_rng` to shuffle the sessions.
        with_users: also give the user of every slot-step (`users`; `order` must have users), the
            user-gated GRU's input. There is never a `user_start`.

    Returns:
        ParallelBatches.

    Raises:
        DataError: `with_users` and `order` has no users.
    """
    if with_users and order.users is None:
        raise DataError("session-parallel batches with users need user ids: a UserId column and a user vocabulary")
    perm = np.arange(order.n_sessions)
    if shuffle_seed is not None:
        perm = np.random.default_rng(shuffle_seed).permutation(perm)
    users = order.users[perm].astype(np.int32) if with_users else None
    return _batches(order, perm, np.arange(order.n_sessions + 1), batch_size, users, user_start=False)


def user_parallel_batches(order, batch_size, shuffle_seed=None):
    """HRNN's user-parallel mini-batches: a slot plays all sessions of one user, in time order.

    Users are played in order of their first event, ties by user index.

    Args:
        order: SessionOrder with users.
        batch_size: number of slots B.
        shuffle_seed: None to play users in order; else a seed for NumPy's `default_rng` to shuffle
            the users (each user's sessions stay in time order).

    Returns:
        ParallelBatches with `users` and `user_start`.

    Raises:
        DataError: `order` has no users.
    """
    if order.users is None:
        raise DataError("user-parallel batches need user ids: a UserId column and a user vocabulary")
    user, first = np.unique(order.users, return_index=True)
    user = user[np.argsort(order.start_times[first], kind="stable")]
    if shuffle_seed is not None:
        user = np.random.default_rng(shuffle_seed).permutation(user)
    rank = np.empty(user.max() + 1 if len(user) else 0, dtype=np.int64)
    rank[user] = np.arange(len(user))
    perm = np.argsort(rank[order.users], kind="stable")
    unit_offsets = np.r_[0, np.cumsum(np.bincount(order.users)[user])]
    return _batches(order, perm, unit_offsets, batch_size, user.astype(np.int32))


def _batches(order, perm, unit_offsets, batch_size, unit_users=None, user_start=True):
    """Lays out the sessions `perm` (grouped into units by `unit_offsets`) on `batch_size` slots.

    `unit_users` [U] gives the `users` field; `user_start` whether to mark each unit's first pair.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    lengths = np.diff(order.offsets)[perm]
    pairs = np.maximum(lengths - 1, 0)  # per session, in play order
    cum = np.r_[0, np.cumsum(pairs)]
    unit_pairs = np.diff(cum[unit_offsets])
    slot, start = schedule(unit_pairs, batch_size)
    n_steps = int((start + unit_pairs).max()) if len(unit_pairs) else 0
    inputs = _ranges(order.offsets[perm], pairs)  # event index of each pair's input
    step = _ranges(start, unit_pairs)
    cell = step * batch_size + np.repeat(slot, unit_pairs)
    shape = (n_steps, batch_size)
    fields = {
        "items": _scatter(shape, cell, order.items[inputs]),
        "targets": _scatter(shape, cell, order.items[inputs + 1]),
        "reset": _scatter(shape, cell[cum[:-1][pairs > 0]], True),
        "mask": _scatter(shape, cell, True),
    }
    if unit_users is not None:
        fields["users"] = _scatter(shape, cell, np.repeat(unit_users, unit_pairs))
    if unit_users is not None and user_start:
        first_of_unit = cum[unit_offsets[:-1]][unit_pairs > 0]
        fields["user_start"] = _scatter(shape, cell[first_of_unit], True)
    return ParallelBatches(**fields)


def _scatter(shape, cells, values):
    """A zero (False) array of `shape` with `values` at the flat positions `cells`."""
    dtype = np.bool_ if isinstance(values, bool) else np.int32
    out = np.zeros(shape, dtype=dtype)
    out.reshape(-1)[cells] = values
    return out
