"""Train/test splits of a canonical event log, and the alignment of the test set to the train set.

Every function returns `(train, test, report)`: both frames sorted by session then time (see
`prep.sort_events`) and a `prep.Report` with one row for each part and each step.
"""
import numpy as np
import pandas as pd

from zoo.errors import DataError

from .io import ITEM, SESSION, TIME, USER
from .prep import Report, keep_frequent, natural_codes, sort_events


def split_by_time(df, test_seconds=86400):
    """Sessions that end within the last `test_seconds` of the log go to test, the others to train.

    As in the reference GRU4Rec preprocessing: with `tmax` the last time in the log, a session
    whose last event has time >= tmax - test_seconds is a test session. A session is never cut.
    """
    last = df.groupby(SESSION, sort=False)[TIME].transform("max")
    in_test = (last >= df[TIME].max() - test_seconds).to_numpy()
    return _split(df, in_test, f"sessions ending in the last {test_seconds:g} s")


def split_last_session(df):
    """Each user's last session (by start time) goes to test; users with one session stay in train.

    Raises:
        DataError: the frame has no `UserId`.
    """
    if USER not in df:
        raise DataError("cannot split by last session: the log has no user ids (--user-key)")
    sessions = df.groupby(SESSION, sort=False).agg(user=(USER, "first"), start=(TIME, "min"))
    sessions = sessions.iloc[np.lexsort((natural_codes(sessions.index), sessions["start"].to_numpy()))]
    last = ~sessions["user"].duplicated(keep="last") & sessions["user"].duplicated(keep=False)
    in_test = df[SESSION].isin(sessions.index[last.to_numpy()]).to_numpy()
    return _split(df, in_test, "each user's last session")


def split_leave_one_out(df):
    """The last event of each sequence goes to test, the rest to train.

    Meant for user sequences (`SessionId` = the user): a test "session" is then one event, to be
    predicted from that user's train events. Sequences of one event stay in train.
    """
    df = sort_events(df)
    codes = pd.factorize(df[SESSION])[0]
    is_last = np.append(codes[1:] != codes[:-1], True)
    in_test = is_last & (np.bincount(codes)[codes] >= 2)
    return _split(df, in_test, "last event of each sequence")


def align_test(train, test, min_session_length=2):
    """Drops the test events of items unseen in train, then the test sessions left too short.

    Returns:
        (train unchanged, aligned test, Report with one row for each of the two steps).
    """
    report = Report()
    seen = test[test[ITEM].isin(train[ITEM].unique())].reset_index(drop=True)
    report.add("test: items not in train", test, seen)
    aligned = keep_frequent(seen, SESSION, min_session_length)
    report.add(f"test: sessions < {min_session_length} events", seen, aligned)
    return train, aligned, report


def _split(df, in_test, rule):
    train = sort_events(df[~in_test])
    test = sort_events(df[in_test])
    report = Report()
    report.add("train", df, train)
    report.add(f"test: {rule}", None, test)
    return train, test, report
