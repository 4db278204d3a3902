"""`zoo datasets ...` subcommands: describe, synth, prep and fetch event logs."""
import json
import os
import sys

from zoo.atomic import write_json
from zoo.datasets import splits
from zoo.datasets.describe import describe, format_description
from zoo.datasets.io import SESSION, load_events, save_events
from zoo.datasets.prep import Report, drop_duplicates, filter_log, sessionize
from zoo.datasets.readers import SOURCES
from zoo.errors import ConfigError, DataError, UserError

EVENTS = "events"
SPLITS = ("time", "last-session", "leave-one-out", "none")


def add_commands(subparsers):
    p = subparsers.add_parser("datasets", help="load, describe, generate, fetch and prepare event logs")
    commands = p.add_subparsers(dest="datasets_command", metavar="SUBCOMMAND")
    commands.required = True
    _add_describe(commands)
    _add_synth(commands)
    _add_prep(commands)
    _add_fetch(commands)


def _add_describe(commands):
    p = commands.add_parser("describe", help="print counts, session lengths and time range of an event log")
    _add_input(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=_describe)


def _add_synth(commands):
    p = commands.add_parser("synth", help="write the built-in synthetic click log (see zoo.datasets.synth)")
    p.add_argument("--out", required=True, metavar="PATH", help="output file: .tsv, .csv or .parquet")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    p.add_argument("--users", type=int, default=2500, metavar="N", help="number of users (default 2500)")
    p.add_argument("--items", type=int, default=1500, metavar="N", help="number of items (default 1500)")
    p.add_argument("--topics", type=int, default=30, metavar="N", help="number of item topics (default 30)")
    p.add_argument("--days", type=float, default=30.0, metavar="DAYS", help="days the log spans (default 30)")
    p.set_defaults(func=_synth)


def _add_prep(commands):
    p = commands.add_parser(
        "prep", help="sessionize, filter and split an event log into DIR/train.tsv and DIR/test.tsv"
    )
    _add_input(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--min-session-length", type=int, default=2, metavar="N", help="drop shorter sessions (default 2)"
    )
    p.add_argument(
        "--min-item-support", type=int, default=5, metavar="N", help="drop rarer items (default 5)"
    )
    p.add_argument(
        "--sessionize-gap",
        type=float,
        metavar="SECONDS",
        help="for logs with user ids but no session ids: a longer pause starts a new session (default "
        "1800); 'inf' makes each user's history one sequence",
    )
    p.add_argument("--dedupe", action="store_true",
                   help="drop repeated events (equal session or user, item and time); default: keep them as repeats")
    p.add_argument("--split", choices=SPLITS, default="time", help="how to make the test set (default time)")
    test = p.add_mutually_exclusive_group()
    test.add_argument("--test-days", type=float, metavar="DAYS", help="--split time: test days (default 1)")
    test.add_argument("--test-seconds", type=float, metavar="SECONDS", help="--split time: test seconds")
    p.set_defaults(func=_prep)


def _add_fetch(commands):
    p = commands.add_parser("fetch", help="download a public dataset (resumable, checksummed)")
    p.add_argument("name", choices=list(SOURCES), metavar="NAME", help=f"one of {', '.join(SOURCES)}")
    p.add_argument("--dir", metavar="DIR", help="download folder (default data/NAME)")
    p.set_defaults(func=_fetch)


def _add_input(p):
    p.add_argument("path", metavar="PATH", help="event log: .csv, .tsv/.txt/.dat (tab) or .parquet")
    p.add_argument(
        "--format",
        choices=(EVENTS, *SOURCES),
        default=EVENTS,
        metavar="NAME",
        help=f"'events' (default: a table with a header) or the original file of {', '.join(SOURCES)}",
    )
    p.add_argument("--session-key", metavar="COLUMN", help="session id column (default SessionId)")
    p.add_argument("--item-key", metavar="COLUMN", help="item id column (default ItemId)")
    p.add_argument("--time-key", metavar="COLUMN", help="time column: seconds or ISO 8601 (default Time)")
    p.add_argument("--user-key", metavar="COLUMN", help="user id column (default UserId if present)")
    p.add_argument("--sep", help="field separator, e.g. ';' or '\\t' (default from the extension)")


def _describe(args):
    summary = describe(_load(args))
    print(json.dumps(summary) if args.json else format_description(summary))


def _synth(args):
    from zoo.datasets.synth import generate

    events = generate(
        n_users=args.users, n_items=args.items, n_topics=args.topics, days=args.days, seed=args.seed
    )
    save_events(events, args.out)
    print(f"wrote {args.out}: {len(events)} events, {events[SESSION].nunique()} sessions")


def _fetch(args):
    from zoo.datasets.fetch import fetch

    print(fetch(args.name, args.dir or os.path.join("data", args.name), progress=sys.stderr))


def _prep(args):
    _check_prep_options(args)
    events = _load(args)
    report = Report()
    report.add("load", None, events)
    if args.dedupe:
        events, steps = drop_duplicates(events)
        report.extend(steps)
    events = _sessions(events, args, report)
    _note("filtering")
    events, steps = filter_log(events, args.min_session_length, args.min_item_support)
    report.extend(steps)
    if events.empty:
        raise DataError(
            f"{args.path}: no events left after filtering; lower --min-session-length or --min-item-support"
        )
    train, test = _split(events, args, report)
    _write(args, train, test, report)
    print(report.format())


def _check_prep_options(args):
    rules = {
        "--min-session-length must be >= 1": args.min_session_length >= 1,
        "--min-item-support must be >= 1": args.min_item_support >= 1,
        "--sessionize-gap must be > 0": args.sessionize_gap is None or args.sessionize_gap > 0,
        "--test-days must be > 0": args.test_days is None or args.test_days > 0,
        "--test-seconds must be > 0": args.test_seconds is None or args.test_seconds > 0,
    }
    broken = [rule for rule, ok in rules.items() if not ok]
    if broken:
        raise ConfigError("; ".join(broken))


def _sessions(events, args, report):
    """Cuts sessions from time gaps when the log has none; adds a report row."""
    if SESSION in events:
        if args.sessionize_gap is not None:
            raise ConfigError("--sessionize-gap is for logs without session ids, and this one has them")
        return events
    _note("making sessions")
    events, steps = sessionize(events, 1800 if args.sessionize_gap is None else args.sessionize_gap)
    report.extend(steps)
    return events


def _split(events, args, report):
    """(train, test or None) after the chosen split and the alignment of test to train."""
    if args.split == "none":
        return events, None
    _note(f"splitting ({args.split})")
    if args.split == "time":
        seconds = args.test_seconds or 86400 * (args.test_days or 1)
        train, test, steps = splits.split_by_time(events, seconds)
    elif args.split == "last-session":
        train, test, steps = splits.split_last_session(events)
    else:
        train, test, steps = splits.split_leave_one_out(events)
    report.extend(steps)
    shortest = 1 if args.split == "leave-one-out" else args.min_session_length
    train, test, steps = splits.align_test(train, test, shortest)
    report.extend(steps)
    if train.empty or test.empty:
        raise DataError(
            f"{args.path}: the {'train' if train.empty else 'test'} set is empty after the {args.split} "
            "split and the removal of test items not in train; change the split or the filters"
        )
    return train, test


def _write(args, train, test, report):
    """Writes train.tsv, test.tsv (unless no split) and prep_report.json, each file atomically."""
    parts = {"train": train} if test is None else {"train": train, "test": test}
    for name, frame in parts.items():
        save_events(frame, os.path.join(args.out, f"{name}.tsv"))
    summary = {name: describe(frame) for name, frame in parts.items()}
    options = {key: value for key, value in vars(args).items() if key != "func"}
    report_json = {"options": options, "steps": report.rows, **summary}
    try:
        write_json(os.path.join(args.out, "prep_report.json"), report_json)
    except OSError as e:
        raise UserError(f"{args.out}: cannot write prep_report.json: {e.strerror or e}") from None
    _note(f"wrote {', '.join(f'{name}.tsv' for name in parts)} and prep_report.json to {args.out}")


def _load(args):
    """The canonical frame of the input, by the generic loader or a dataset's own reader."""
    columns = {
        "session_key": args.session_key,
        "item_key": args.item_key,
        "time_key": args.time_key,
        "user_key": args.user_key,
        "sep": args.sep,
    }
    given = {key: value for key, value in columns.items() if value is not None}
    _note(f"loading {args.path}")
    if args.format == EVENTS:
        if "sep" in given:
            given["sep"] = _separator(given["sep"])
        return load_events(args.path, **given)
    if given:
        flag = "--" + next(iter(given)).replace("_", "-")
        raise ConfigError(f"--format {args.format} has fixed columns; drop {flag}")
    return SOURCES[args.format].reader(args.path)


def _separator(text):
    """A separator from the command line: '\\t' or 'tab' for a tab, else the text itself."""
    return "\t" if text in ("\\t", "tab") else text


def _note(message):
    print(f"zoo datasets: {message}", file=sys.stderr, flush=True)
