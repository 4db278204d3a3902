"""Preprocessing of canonical event logs: ordering, sessions from time gaps, support filters.

Every step returns the new frame and a `Report` of what it removed, so that a run can say how many
events, sessions and items each step cost.
"""
import itertools
import math
from decimal import Decimal

import numpy as np
import pandas as pd

from zoo.errors import DataError

from .io import CANONICAL, ITEM, SESSION, TIME, USER

_COLUMNS = (
    ("step", "step"),
    ("events", "events"),
    ("sessions", "sessions"),
    ("items", "items"),
    ("events_removed", "-events"),
    ("sessions_removed", "-sessions"),
    ("items_removed", "-items"),
)


class Report:
    """What each step left and removed, one row (a dict) a step, JSON-ready in `rows`.

    A row has `step`, the counts left after it (`events`, `sessions`, `items`) and the counts it
    removed (`events_removed`, `sessions_removed`, `items_removed`). A count that does not apply
    (sessions of a log not yet cut into sessions, removals of a row that only counts) is None.
    """

    def __init__(self, rows=()):
        self.rows = list(rows)
        self._last = (None, None)  # the last `after` frame and its counts, reused as the next `before`

    def add(self, step, before, after):
        """Appends the row of a step that turned frame `before` (None: just count) into `after`."""
        left = counts(after)
        row = {"step": step, **left}
        removed = {} if before is None else self._last[1] if before is self._last[0] else counts(before)
        self._last = (after, left)
        for key, value in left.items():
            previous = removed.get(key)
            row[f"{key}_removed"] = None if previous is None or value is None else previous - value
        self.rows.append(row)

    def extend(self, other):
        """Appends the rows of another report; returns self."""
        self.rows.extend(other.rows)
        return self

    def format(self):
        """The rows as a text table, one line a step."""
        cells = [[title for _, title in _COLUMNS]]
        cells += [["" if row[key] is None else str(row[key]) for key, _ in _COLUMNS] for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
        return "\n".join("  ".join(_align(line, widths)).rstrip() for line in cells)


def _align(cells, widths):
    """The step name left-aligned, the numbers right-aligned."""
    return [cells[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(cells[1:], widths[1:])]


def counts(df):
    """Events, sessions (None without `SessionId`) and distinct items of a frame."""
    return {
        "events": len(df),
        "sessions": int(df[SESSION].nunique()) if SESSION in df else None,
        "items": int(df[ITEM].nunique()),
    }


def sort_events(df):
    """Sorts stably by session (by user when there are no sessions yet), then by time.

    Ids made of digits only sort as numbers ("9" before "10"), other ids as text; events of one
    session with equal times keep their order in the input.
    """
    key = SESSION if SESSION in df else USER
    order = np.lexsort((df[TIME].to_numpy(), natural_codes(df[key])))
    return df.iloc[order].reset_index(drop=True)


def natural_codes(ids):
    """Integer codes of `ids` that order them naturally (digit strings by value, others as text)."""
    codes, uniques = pd.factorize(ids)
    uniques = pd.Series(uniques, dtype="str")
    if uniques.str.fullmatch(r"\d+").all():
        order = pd.DataFrame({"n": uniques.str.len(), "s": uniques}).sort_values(["n", "s"]).index
    else:
        order = uniques.sort_values().index
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    return rank[codes]


def drop_duplicates(df):
    """Drops repeated events: rows equal in every column (same session or user, item and time).

    By default the zoo keeps them as repeated clicks, as GRU4Rec does; `zoo datasets prep --dedupe`
    drops them. The first of equal rows stays.

    Returns:
        (frame, Report).
    """
    kept = df.drop_duplicates().reset_index(drop=True)
    report = Report()
    report.add("duplicate events", df, kept)
    return kept, report


def sessionize(df, gap_seconds=1800):
    """Cuts each user's events into sessions where the time between two events exceeds the gap.

    Any `SessionId` column is replaced. Session ids are the strings "1", "2", ... numbered in the
    order of (user, start time), so that sorting by session keeps each user's sessions in time order.

    Args:
        df: a canonical frame with `UserId`.
        gap_seconds: the longest pause (seconds) within one session.

    Returns:
        (frame sorted by session then time, Report).

    Raises:
        DataError: the frame has no `UserId`.
    """
    if USER not in df:
        raise DataError("cannot make sessions: the log has neither session ids nor user ids (--user-key)")
    events = sort_events(df.drop(columns=SESSION, errors="ignore"))
    users = natural_codes(events[USER])
    new = np.ones(len(events), dtype=bool)
    new[1:] = (users[1:] != users[:-1]) | (np.diff(events[TIME].to_numpy()) > gap_seconds)
    events[SESSION] = pd.Series(np.cumsum(new), dtype="str")
    events = events[[name for name in CANONICAL if name in events]]
    report = Report()
    report.add(f"sessionize (gap {gap_seconds:g} s)", df, events)
    return events, report


def filter_log(df, min_session_length=2, min_item_support=5):
    """Drops short sessions and rare items, repeating both until neither removes anything.

    Each round first drops the sessions with fewer than `min_session_length` events, then the events
    of items with fewer than `min_item_support` events; the report has one row per step and round
    (the last round, which removed nothing, shows the result is stable).

    Returns:
        (frame sorted by session then time, Report).

    Raises:
        DataError: the frame has no `SessionId` (use `sessionize` first).
    """
    if SESSION not in df:
        raise DataError("cannot filter sessions: the log has no session ids (sessionize it first)")
    report = Report()
    df = sort_events(df)
    for round_ in itertools.count(1):
        size = len(df)
        kept = keep_frequent(df, SESSION, min_session_length)
        report.add(f"sessions < {min_session_length} events (round {round_})", df, kept)
        df, kept = kept, keep_frequent(kept, ITEM, min_item_support)
        report.add(f"items < {min_item_support} events (round {round_})", df, kept)
        df = kept
        if len(df) == size:
            return df, report


def keep_frequent(df, key, minimum):
    """The events whose `key` value (a session, an item) occurs at least `minimum` times."""
    codes = pd.factorize(df[key])[0]
    return df[np.bincount(codes)[codes] >= minimum].reset_index(drop=True)


def latest_sessions(df, fraction):
    """The whole sessions among the latest `fraction` of the log's sessions, by start time.

    The most recent part of a log is what Tan et al. (2016, "Improved recurrent neural networks for
    session-based recommendations") train on when they use 1/64 of RSC15. The ceil(fraction * n)
    sessions with the latest first events are kept, the product taken on `fraction`'s shortest decimal
    form (0.07 of 100 sessions is 7, not the 8 of float arithmetic); equal starts are broken by the
    natural order of the session ids, the later id kept. A session is never cut.

    Args:
        df: a canonical frame with `SessionId`.
        fraction: the share of sessions to keep, 0 < fraction <= 1 (1 keeps every session).

    Returns:
        The kept events, sorted by session then time.

    Raises:
        DataError: a fraction outside (0, 1].

    Example:
        >>> frame = pd.DataFrame({"SessionId": [1, 1, 2, 2, 3, 3], "ItemId": [5, 6, 5, 7, 6, 7],
        ...                       "Time": [0, 1, 2, 3, 4, 5]})
        >>> sorted(set(latest_sessions(frame, 0.5).SessionId))
        [2, 3]
    """
    if not 0 < fraction <= 1:
        raise DataError(f"the fraction of sessions to keep must be in (0, 1], got {fraction}")
    starts = df.groupby(SESSION, sort=False)[TIME].min()
    order = np.lexsort((natural_codes(starts.index), starts.to_numpy()))
    n_keep = math.ceil(Decimal(repr(float(fraction))) * len(order))  # exact: 0.07 * 100 is 7, not 8
    keep = starts.index[order[len(order) - n_keep:]]
    return sort_events(df[df[SESSION].isin(keep)])
