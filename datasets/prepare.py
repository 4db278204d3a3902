"""The whole `zoo datasets prep` job: from a loaded event log to train and test sets, and their files.

`prepare` turns a canonical frame into `(train, test, report)` by the same rules every time: drop
repeated events (optional), cut sessions from time gaps where the log has none, drop short sessions
and rare items until stable, split, and align the test set to the train set. `write_prepared` writes
the result as `zoo datasets prep` does. Anything that needs a split "by the same rules as `zoo datasets
prep`" (a validation split carved from a train log, say) calls `prepare`.

This module is apart from `prep` (the single steps) because `splits` imports `prep`, and the job
needs both.
"""
import os

from zoo.atomic import atomic_path, write_json
from zoo.errors import ConfigError, DataError, UserError

from . import splits
from .describe import describe
from .io import SESSION, save_events
from .prep import Report, drop_duplicates, filter_log, sessionize

SPLITS = ("time", "last-session", "leave-one-out", "none")
DAY = 86400
DEFAULT_GAP = 1800
PREP_REPORT = "prep_report.json"
OUTPUTS = ("train.tsv", "test.tsv", PREP_REPORT)  # all that `write_prepared` writes


def check_options(*, split="time", min_session_length=2, min_item_support=5, sessionize_gap=None,
                  test_days=None, test_seconds=None):
    """Checks the options of `prepare` before any data is read; names them as the command line does.

    Args:
        split: one of `SPLITS`.
        min_session_length: the shortest session kept (>= 1).
        min_item_support: the fewest events an item needs to be kept (>= 1).
        sessionize_gap: the longest pause (seconds) within a session (> 0), or None.
        test_days: the test period in days (> 0), or None; only the command line speaks in days.
        test_seconds: the test period in seconds (> 0), or None.

    Raises:
        ConfigError: one line listing every broken rule, e.g. "--min-item-support must be >= 1".

    Example:
        >>> check_options(min_session_length=2, min_item_support=5, test_seconds=3600)
    """
    rules = {
        f"--split must be one of {', '.join(SPLITS)}": split in SPLITS,
        "--min-session-length must be >= 1": min_session_length >= 1,
        "--min-item-support must be >= 1": min_item_support >= 1,
        "--sessionize-gap must be > 0": sessionize_gap is None or sessionize_gap > 0,
        "--test-days must be > 0": test_days is None or test_days > 0,
        "--test-seconds must be > 0": test_seconds is None or test_seconds > 0,
    }
    broken = [rule for rule, ok in rules.items() if not ok]
    if broken:
        raise ConfigError("; ".join(broken))


def prepare(events, *, split="time", test_seconds=DAY, min_session_length=2, min_item_support=5,
            dedupe=False, sessionize_gap=None, source="events", progress=None):
    """Dedupes, sessionizes, filters and splits an event log; aligns the test set to the train set.

    The steps, in order: a "load" row that counts the input; with `dedupe`, drop rows equal in every
    column (`prep.drop_duplicates`); where the log has no `SessionId`, cut each user's events into
    sessions at pauses longer than `sessionize_gap` (`prep.sessionize`); drop sessions shorter than
    `min_session_length` and items with fewer than `min_item_support` events until stable
    (`prep.filter_log`); then split (`splits`) and drop test events of items not in train and the
    test sessions left too short (`splits.align_test`; for "leave-one-out" a test session of one
    event is kept).

    Args:
        events: a canonical frame (`io.load_events` or a `readers.SOURCES` reader).
        split: "time" (the sessions that end within the last `test_seconds` of the log go to test),
            "last-session" (each user's last session), "leave-one-out" (the last event of each
            sequence) or "none" (no test set).
        test_seconds: the test period of the "time" split, in seconds (None: one day, the default).
        min_session_length: the shortest session kept, in train and in test (>= 1).
        min_item_support: the fewest events an item needs to be kept (>= 1).
        dedupe: drop repeated events; by default they stay, as repeated clicks.
        sessionize_gap: the longest pause (seconds) within a session, for a log with user ids and no
            session ids (None: 1800; `float("inf")`: each user's history one session).
        source: how error messages name the log (its path, say).
        progress: a function called with a short note (e.g. "filtering") as each stage starts, or
            None for silence.

    Returns:
        `(train, test, report)`: the frames sorted by session then time, `test` None for split
        "none", and a `prep.Report` with a row for each step (`report.rows`, `report.format()`).

    Raises:
        ConfigError: an option out of range (see `check_options`), or `sessionize_gap` for a log
            that has session ids.
        DataError: nothing left after filtering, an empty train or test set after the split and the
            alignment, or a log without the ids a step needs (user ids to sessionize or for
            "last-session").

    Example:
        >>> from zoo.datasets.synth import generate
        >>> train, test, report = prepare(generate(n_users=50, n_items=40, n_topics=4, days=3),
        ...                               test_seconds=86400, min_item_support=1)
        >>> set(test["ItemId"]) <= set(train["ItemId"])
        True
    """
    check_options(split=split, min_session_length=min_session_length, min_item_support=min_item_support,
                  sessionize_gap=sessionize_gap, test_seconds=test_seconds)
    note = progress or _silent
    report = Report()
    report.add("load", None, events)
    if dedupe:
        events, steps = drop_duplicates(events)
        report.extend(steps)
    events = _sessions(events, sessionize_gap, report, note)
    note("filtering")
    events, steps = filter_log(events, min_session_length, min_item_support)
    report.extend(steps)
    if events.empty:
        raise DataError(
            f"{source}: no events left after filtering; lower --min-session-length or --min-item-support"
        )
    if split == "none":
        return events, None, report
    note(f"splitting ({split})")
    seconds = DAY if test_seconds is None else test_seconds
    train, test = _split(events, split, seconds, min_session_length, report)
    if train.empty or test.empty:
        raise DataError(
            f"{source}: the {'train' if train.empty else 'test'} set is empty after the {split} "
            "split and the removal of test items not in train; change the split or the filters"
        )
    return train, test, report


def write_prepared(out_dir, train, test, report, options, progress=None):
    """Writes the folder `out_dir` with `train.tsv`, `test.tsv` (unless `test` is None) and
    `prep_report.json`, as a whole: it appears complete, and replaces an earlier one in one step.

    `prep_report.json` holds `options`, the report's `steps` and a `describe` summary of each part.

    Args:
        out_dir: the output folder (created if needed).
        train: the train frame of `prepare`.
        test: its test frame, or None.
        report: its `prep.Report`.
        options: a JSON-ready dict of the options that made the sets, recorded as they are.
        progress: a function called with a note of what was written, or None.

    Raises:
        UserError: a file cannot be written, or `out_dir` holds other files (`check_out_dir`).

    Example:
        >>> train, test, report = prepare(events)  # doctest: +SKIP
        >>> write_prepared("data/prepared", train, test, report, {"split": "time"})  # doctest: +SKIP
    """
    check_out_dir(out_dir)
    parts = {"train": train} if test is None else {"train": train, "test": test}
    summary = {name: describe(frame) for name, frame in parts.items()}
    report_json = {"options": options, "steps": report.rows, **summary}
    try:
        with atomic_path(out_dir) as staging:  # the folder is replaced as a whole: old or new, never a mix
            os.makedirs(staging)
            for name, frame in parts.items():
                save_events(frame, os.path.join(staging, f"{name}.tsv"))
            write_json(os.path.join(staging, PREP_REPORT), report_json)
    except OSError as e:
        raise UserError(f"{out_dir}: cannot write the prepared sets: {e.strerror or e}") from None
    if progress is not None:
        progress(f"wrote {', '.join(f'{name}.tsv' for name in parts)} and prep_report.json to {out_dir}")


def check_out_dir(out_dir):
    """Refuses an output folder that holds anything but what `write_prepared` writes (it replaces the
    folder as a whole). Call it before any work.

    Raises:
        UserError: `out_dir` is a file, or a folder with other entries.
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UserError(f"{out_dir} is a file; --out must be a folder")
    others = sorted(set(os.listdir(out_dir)) - set(OUTPUTS)) if os.path.isdir(out_dir) else []
    if others:
        raise UserError(f"{out_dir} holds {others[0]!r}, which zoo datasets prep did not write; it replaces the "
                        "whole folder: choose another --out")


def _sessions(events, gap, report, note):
    """Cuts sessions from time gaps when the log has none; adds a report row."""
    if SESSION in events:
        if gap is not None:
            raise ConfigError("--sessionize-gap is for logs without session ids, and this one has them")
        return events
    note("making sessions")
    events, steps = sessionize(events, DEFAULT_GAP if gap is None else gap)
    report.extend(steps)
    return events


def _split(events, split, test_seconds, min_session_length, report):
    """(train, aligned test) by the chosen split; adds the rows of the split and the alignment."""
    if split == "time":
        train, test, steps = splits.split_by_time(events, test_seconds)
    elif split == "last-session":
        train, test, steps = splits.split_last_session(events)
    else:
        train, test, steps = splits.split_leave_one_out(events)
    report.extend(steps)
    shortest = 1 if split == "leave-one-out" else min_session_length
    train, test, steps = splits.align_test(train, test, shortest)
    report.extend(steps)
    return train, test


def _silent(message):
    pass
