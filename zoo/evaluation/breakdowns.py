"""Metrics by where a prediction is made: its position in the session and the user's earlier sessions.

Every ranked event (a target with an event before it in its session) falls in one group of each:

    position   the prediction after the session's p-th click: "1", "2", "3", "4+"
    earlier    the user's sessions before this one (the history's and the earlier test ones):
               "0", "1", "2-4", "5+"  (user protocol only: the session protocol has no history)

Each group gets the same Recall@K and MRR@K as the whole (`ranking.metrics_from_ranks`) and its
number of `events`; a group without an event is reported with `events` 0 and no metric. A
personalized model's gain should show where a session has few clicks and the user many earlier sessions.

    context = event_context(events)
    breakdowns(ranks, context.position[rows], context.earlier[rows], cutoffs=(20,))["by_position"]["1"]
"""
import dataclasses

import numpy as np

from zoo.datasets.io import SESSION, TIME, USER
from zoo.evaluation.ranking import metrics_from_ranks

POSITION_GROUPS = (("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4+", 4, None))
EARLIER_GROUPS = (("0", 0, 0), ("1", 1, 1), ("2-4", 2, 4), ("5+", 5, None))


@dataclasses.dataclass
class EventContext:
    """Per row of an event frame: `position` int [N] (0 for a session's first event, 1 for the
    second, ...), and `earlier` int [N] (the user's sessions that start before this event's session;
    None without user ids)."""
    position: np.ndarray
    earlier: np.ndarray | None


def event_context(events):
    """The `EventContext` of every row of `events` (SessionId, Time and optionally UserId).

    Events within a session in time order, ties in frame order; a user's sessions in order of their
    first event, ties by their order in the frame (`datasets.batches.order_sessions`'s order).
    """
    by_time = events[TIME].sort_values(kind="stable").index
    position = events.loc[by_time].groupby(SESSION, sort=False).cumcount().reindex(events.index).to_numpy()
    if USER not in events:
        return EventContext(position, None)
    sessions = events.groupby(SESSION, sort=False).agg(start=(TIME, "min"), user=(USER, "first"))
    sessions = sessions.sort_values("start", kind="stable")
    earlier = sessions.groupby("user", sort=False).cumcount()
    return EventContext(position, earlier.reindex(events[SESSION]).to_numpy())


def breakdowns(ranks, position, earlier, cutoffs):
    """{"by_position": {group: metrics}, "by_earlier_sessions": {...}} of the ranked events.

    Args:
        ranks: the rank of every ranked event.
        position: int, per ranked event, its target's position in the session (1: after the 1st click).
        earlier: int, per ranked event, the user's earlier sessions; None leaves that breakdown out.
        cutoffs: the K values.
    """
    ranks = np.asarray(ranks)
    result = {"by_position": _groups(ranks, np.asarray(position), POSITION_GROUPS, cutoffs)}
    if earlier is not None:
        result["by_earlier_sessions"] = _groups(ranks, np.asarray(earlier), EARLIER_GROUPS, cutoffs)
    return result


def _groups(ranks, values, groups, cutoffs):
    result = {}
    for name, low, high in groups:
        inside = (values >= low) & (values <= (np.inf if high is None else high))
        chosen = ranks[inside]
        result[name] = {**(metrics_from_ranks(chosen, cutoffs) if len(chosen) else {}), "events": int(len(chosen))}
    return result
