"""Recent popularity: the items clicked most in the hours before the session (news ages in hours)."""
import numpy as np

from zoo.baselines.baseline import Baseline


class RecentPop(Baseline):
    """Items ranked by their training events in the `hours` before the session's first event.

    score(i) = n_i(t0 - hours, t0) + n_i / (N + 1), with t0 the session's start time capped at the
    end of the training log, n_i(a, b) the training events of item i in [a, b) and n_i, N its and all
    training events: the window's count decides, and the whole log's popularity (below 1) breaks
    its ties. Without a start time (`zoo recommend`) t0 is the end of the training log.

    Named simplification: an event's time is its session's start time (`SessionOrder` keeps those);
    for news clicks, whose sessions last minutes, this moves a count by at most a session's length.
    Only the training log is counted, never the test events (under the user protocol the other users'
    test clicks before t0 would be known to a live system; this baseline leaves them out).
    """

    defaults = {"hours": 1.0}
    state_keys = ("times", "items", "counts")

    def fit(self, order):
        times = order.start_times[order.event_sessions]
        by_time = np.argsort(times, kind="stable")
        self.times, self.items = times[by_time], order.items[by_time].astype(np.int64)
        self.counts = np.bincount(order.items, minlength=self.n_items).astype(np.float64)

    def score_sessions(self, histories, past=None, start_times=None):
        end = self.times[-1] + 1.0 if len(self.times) else 0.0
        starts = np.full(len(histories), end) if start_times is None else np.minimum(start_times, end)
        lows = np.searchsorted(self.times, starts - 3600.0 * self.options["hours"], side="left")
        highs = np.searchsorted(self.times, starts, side="left")
        tie_break = self.counts / (self.counts.sum() + 1.0)
        scores = np.tile(tie_break, (len(histories), 1))
        for row, (low, high) in enumerate(zip(lows, highs)):
            scores[row] += np.bincount(self.items[low:high], minlength=self.n_items)
        return scores
