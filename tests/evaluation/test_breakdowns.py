"""`zoo.evaluation.breakdowns` by hand: positions, earlier sessions, and the groups' metrics."""
import numpy as np
import pandas as pd
import pytest

from zoo.evaluation.breakdowns import breakdowns, event_context


def test_event_context_counts_positions_in_time_order_and_the_users_earlier_sessions():
    events = pd.DataFrame({"SessionId": ["b", "a", "a", "c", "a", "b"], "Time": [50.0, 12.0, 10.0, 5.0, 11.0, 40.0],
                           "UserId": ["u", "u", "u", "v", "u", "u"]}, index=[9, 8, 7, 6, 5, 4])
    context = event_context(events)
    np.testing.assert_array_equal(context.position, [1, 2, 0, 0, 1, 0])
    np.testing.assert_array_equal(context.earlier, [1, 0, 0, 0, 0, 1])  # u: a (t 10) then b (t 40)
    assert event_context(events.drop(columns="UserId")).earlier is None


def test_breakdowns_group_the_ranks():
    ranks = np.array([1, 4, 2, 30, 1, 3])
    position = np.array([1, 1, 2, 3, 4, 9])
    earlier = np.array([0, 5, 1, 2, 4, 7])
    result = breakdowns(ranks, position, earlier, cutoffs=(3,))
    assert result["by_position"]["1"] == pytest.approx({"recall@3": 0.5, "mrr@3": 0.5, "events": 2})
    assert result["by_position"]["4+"] == pytest.approx({"recall@3": 1.0, "mrr@3": (1 + 1 / 3) / 2, "events": 2})
    assert result["by_earlier_sessions"]["2-4"] == pytest.approx({"recall@3": 0.5, "mrr@3": 0.5, "events": 2})
    assert result["by_earlier_sessions"]["5+"]["events"] == 2
    assert set(breakdowns(ranks, position, None, (3,))) == {"by_position"}
    assert breakdowns(ranks[:1], position[:1], None, (3,))["by_position"]["3"] == {"events": 0}
