"""`zoo tune`: parse, call `zoo.tuning.tune`, print."""
import sys

from zoo.cli.common import add_threads_option


def add_commands(subparsers):
    p = subparsers.add_parser(
        "tune", help="search a model's options with Optuna on a validation split carved from the training log")
    p.add_argument("--train", required=True, metavar="PATH",
                   help="training event log; the validation split is carved from it (no test log is read)")
    p.add_argument("--model", default="gru4rec", help="model name, see `zoo models` (default gru4rec)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="study folder: study.db (SQLite), trials.csv/.json, best.json, best_preset.json; "
                        "run again with the same options to resume")
    p.add_argument("--trials", type=int, default=20, metavar="N",
                   help="trials the study should have done in all, resumed runs included (default 20)")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="time for this run: no trial starts after it, a running one stops at its epoch's end "
                        "and is tried again on resume (default: no limit)")
    p.add_argument("--metric", default="mrr@20", help="validation metric to maximize: mrr@K or recall@K (default mrr@20)")
    p.add_argument("--space", metavar="FILE",
                   help="search space file (JSON, as the reference GRU4Rec's paramspaces/; see zoo.tuning.space); "
                        "default: the model's built-in space")
    p.add_argument("--preset", help="base configuration: a preset name or a preset JSON file (default: the defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="fix an option (not searched), e.g. --set loss=bpr-max (repeatable)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the base configuration's, 10)")
    p.add_argument("--split", default="auto", choices=("auto", "time", "last-session"),
                   help="validation split: time = sessions ending in the log's last day, last-session = each "
                        "user's last session; auto (default): last-session for a log with user ids, else time")
    p.add_argument("--train-fraction", type=float, default=1.0, metavar="F",
                   help="train each trial on the latest F of the training part's sessions, 0 < F <= 1 (default 1: "
                        "all): cheaper trials for a first, coarse study; the validation split is the same, less the events "
                        "of items the kept sessions lack and the sessions then shorter than 2")
    p.add_argument("--no-prune", action="store_true", help="never stop a trial early")
    p.add_argument("--session-key", default="SessionId", help="session id column (default SessionId)")
    p.add_argument("--item-key", default="ItemId", help="item id column (default ItemId)")
    p.add_argument("--time-key", default="Time", help="time column (default Time)")
    p.add_argument("--user-key", help="user id column (default UserId if present)")
    add_threads_option(p)
    p.set_defaults(func=_tune)


def _progress(line):
    print(f"zoo tune: {line}", file=sys.stderr, flush=True)


def _tune(args):
    from zoo.tuning import tune

    columns = {"session_key": args.session_key, "item_key": args.item_key, "time_key": args.time_key,
               "user_key": args.user_key}
    result = tune(args.out, args.train, model=args.model, trials=args.trials, timeout=args.timeout,
                  metric=args.metric, space_path=args.space, preset=args.preset, sets=args.set, epochs=args.epochs,
                  split=args.split, prune=not args.no_prune, columns=columns, progress=_progress,
                  train_fraction=args.train_fraction)
    v = result.validation
    print(f"validation split ({v['rule']}): {v['validation_events']} events in {v['validation_sessions']} sessions; "
          f"trained on {v['train_events']} events in {v['train_sessions']} sessions"
          + (f" (the latest {args.train_fraction:g} of the training part's sessions)" if args.train_fraction < 1 else ""))
    stop = {"timeout": "stopped at --timeout", "trials": "reached --trials", "done before": "already complete"}
    print(f"{result.done} of {result.trials} trials done ({stop[result.stopped]}); study in {result.out}")
    if result.best is None:
        print("no trial has completed yet")
        return
    best = result.best
    print(f"best: trial {best['number']}, val {result.metric} {best['value']:.4f}")
    for key, value in sorted(best["params"].items()):
        print(f"  {key} = {value}")
    print("train it: zoo train " + " ".join(result.train_args) + " --train PATH --out RUN_DIR")
