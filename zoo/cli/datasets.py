"""`zoo datasets ...` subcommands: describe, synth, prep and fetch event logs."""
import json
import os
import sys

from zoo.datasets.describe import describe, format_description
from zoo.datasets.io import SESSION, load_events, save_events
from zoo.datasets.prepare import DAY, SPLITS, check_options, check_out_dir, prepare, write_prepared
from zoo.datasets.readers import SOURCES
from zoo.errors import ConfigError

EVENTS = "events"


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
    check_options(  # before the log is read, so that a bad option fails fast
        split=args.split,
        min_session_length=args.min_session_length,
        min_item_support=args.min_item_support,
        sessionize_gap=args.sessionize_gap,
        test_days=args.test_days,
        test_seconds=args.test_seconds,
    )
    check_out_dir(args.out)
    train, test, report = prepare(
        _load(args),
        split=args.split,
        test_seconds=args.test_seconds or DAY * (args.test_days or 1),
        min_session_length=args.min_session_length,
        min_item_support=args.min_item_support,
        dedupe=args.dedupe,
        sessionize_gap=args.sessionize_gap,
        source=args.path,
        progress=_note,
    )
    options = {key: value for key, value in vars(args).items() if key != "func"}
    write_prepared(args.out, train, test, report, options, progress=_note)
    print(report.format())


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
