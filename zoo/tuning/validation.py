"""The validation split `zoo tune` selects on, carved from the training log alone.

The test log is never an input of tuning: the split is made inside the training log by the rules of
`zoo datasets prep` (`zoo.datasets.prepare.prepare`, which calls `zoo.datasets.splits`): for a session
log (no user ids) the sessions that end within the last day of the log are the validation sessions, as
the reference GRU4Rec carves `train_valid` from `train_full`; for a user log each user's last session
(users with one session stay in training). Validation events of items unseen in the rest are dropped,
then validation sessions left shorter than 2. No other filter is applied again (the training log is
taken as already prepared: sessions shorter than 2 are dropped, items are kept at any count).
`keep_latest` cuts the training part to its latest sessions (`zoo tune --train-fraction`) and aligns
the validation part to what is left the same way.
"""
from zoo.datasets.io import SESSION, USER
from zoo.datasets.prep import latest_sessions
from zoo.datasets.prepare import DAY, prepare
from zoo.datasets.splits import align_test
from zoo.errors import ConfigError, DataError

SPLITS = ("auto", "time", "last-session")


def validation_rule(events, split="auto"):
    """`time` or `last-session`: `split` itself, or for `auto` the one that fits the log (user ids: last-session)."""
    if split not in SPLITS:
        raise ConfigError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split == "auto":
        return "last-session" if USER in events else "time"
    return split


def carve_validation(events, split="auto", source="the training log"):
    """Splits a training event frame into (the part trained on, the validation part, the split's name).

    Args:
        events: the training log (a canonical frame, `zoo.datasets.io.load_events`).
        split: "auto", "time" (sessions ending in the log's last day) or "last-session".
        source: how messages name the log.

    Returns:
        `(train, validation, rule)`, both frames sorted by session then time, disjoint in sessions.

    Raises:
        DataError: nothing is left on one side (e.g. a log of one day), or "last-session" without user ids.

    Example:
        >>> from zoo.datasets.synth import generate
        >>> train, valid, rule = carve_validation(generate(n_users=60, n_items=40, n_topics=4, days=5))
        >>> rule, set(train.SessionId) & set(valid.SessionId)
        ('last-session', set())
    """
    rule = validation_rule(events, split)
    try:
        train, validation, _ = prepare(events, split=rule, test_seconds=DAY, min_session_length=2,
                                       min_item_support=1, source=source)
    except DataError as e:
        raise DataError(f"cannot carve a validation split from {e}".replace("the test set", "the validation set")) \
            from None
    return train, validation, rule


def keep_latest(train, validation, fraction, source="the training log"):
    """The latest `fraction` of the training part's sessions (`zoo.datasets.prep.latest_sessions`), and the
    validation part aligned to them as `carve_validation` aligns it to the whole training part (events of
    items the kept sessions lack dropped, then sessions left shorter than 2).

    Returns:
        `(train, validation)`; both unchanged for fraction 1.

    Raises:
        DataError: no validation session is left.
    """
    if fraction == 1:
        return train, validation
    train, validation, _ = align_test(latest_sessions(train, fraction), validation)
    if validation.empty:
        raise DataError(f"{source}: --train-fraction {fraction:g} keeps no item of any validation session "
                        "of 2 events or more; use a larger fraction")
    return train, validation


def summary(train, validation, rule):
    """What the carve kept, for the study's record (tune.json)."""
    return {"rule": rule, "train_events": int(len(train)), "train_sessions": int(train[SESSION].nunique()),
            "validation_events": int(len(validation)), "validation_sessions": int(validation[SESSION].nunique()),
            "validation_start": float(validation["Time"].min()) if len(validation) else None}
