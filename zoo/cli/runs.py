"""`zoo train`, `zoo evaluate`, `zoo recommend`: parse, call the library, print."""
import json
import sys

from zoo.cli.common import add_threads_option
from zoo.errors import UserError
from zoo.models.registry import BASELINES
from zoo.reports.results import format_breakdowns


def add_commands(subparsers):
    p = subparsers.add_parser("models", help="list the models of the zoo")
    p.set_defaults(func=_models)
    _add_train(subparsers)
    _add_evaluate(subparsers)
    _add_recommend(subparsers)


def _add_columns(p):
    p.add_argument("--session-key", default="SessionId", help="session id column (default SessionId)")
    p.add_argument("--item-key", default="ItemId", help="item id column (default ItemId)")
    p.add_argument("--time-key", default="Time", help="time column (default Time)")
    p.add_argument("--user-key", help="user id column (default UserId if present); personalized models need it")


def _add_ranking(p):
    p.add_argument("--cutoffs", default="5,10,20", help="K values of Recall@K / MRR@K (default 5,10,20)")
    p.add_argument("--ties", default="conservative", choices=("conservative", "standard", "median"),
                   help="how equal scores rank (default conservative, as the reference GRU4Rec)")


def _add_protocol(p):
    p.add_argument("--protocol", default="auto", choices=("auto", "session", "user"),
                   help="session: each test session from zero; user: each user's test events after the "
                        "user's history; auto (default): user for a personalized model and a test log with "
                        "user ids, else session (see zoo.evaluation)")


def _add_train(subparsers):
    p = subparsers.add_parser("train", help="train a model on an event log and save a run directory")
    p.add_argument("--model", default="gru4rec", help="model name, see `zoo models` (default gru4rec)")
    p.add_argument("--train", required=True, metavar="PATH", help="training event log")
    p.add_argument("--test", metavar="PATH", help="test event log: evaluate after training, save metrics.json")
    p.add_argument("--preset", help="named hyper-parameters, e.g. rsc15-xe-shared (see zoo.training.presets)")
    p.add_argument("--epochs", type=int, help="number of epochs (overrides the preset)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one option, e.g. --set layers=200 --set learning_rate=0.1 (repeatable)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to create")
    p.add_argument("--overwrite", action="store_true",
                   help="replace RUN_DIR if it exists: the new run is trained in RUN_DIR.next and takes RUN_DIR's place "
                        "in one step once complete (until then RUN_DIR is the old run, whole)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted (or finished, to train more --epochs) run in RUN_DIR "
                        "from its last checkpoint, with its settings")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                   help="checkpoint every STEPS steps too (default: at the end of every epoch only)")
    p.add_argument("--validation", metavar="PATH",
                   help="event log to evaluate after every epoch: val_recall@20, val_mrr@20 in train_log.json")
    p.add_argument("--tensorboard", metavar="DIR", help="also write TensorBoard logs (keras.callbacks.TensorBoard)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--local-workers", type=int, default=0, metavar="N",
                   help="train as a cluster of N worker processes on 127.0.0.1 (free ports, TF_CONFIG set for each; "
                        "the chief's output shown); without it, a TF_CONFIG naming a cluster makes this process "
                        "one of its workers (see README, Multi-worker training)")
    p.add_argument("--shard", default="slots", choices=("slots", "sessions"),
                   help="with several workers: slots (default; every worker reads the whole log and plays its share "
                        "of the session slots: the one-worker result) or sessions (each worker reads and schedules "
                        "only its shard of the sessions, by a hash of the session id)")
    _add_protocol(p)
    _add_columns(p)
    _add_ranking(p)
    add_threads_option(p)
    p.set_defaults(func=_train, tensorflow_start=_join_cluster)


def _add_evaluate(subparsers):
    p = subparsers.add_parser("evaluate", help="full-ranking Recall@K and MRR@K of a run on a test log")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--test", required=True, metavar="PATH", help="test event log")
    p.add_argument("--batch-size", type=int, default=512, help="sessions scored in parallel (default 512)")
    _add_protocol(p)
    p.add_argument("--history", metavar="PATH",
                   help="the events before the test, for the user protocol (default: the run's training log)")
    p.add_argument("--negatives", metavar="FILE",
                   help="SAMPLED protocol instead of full ranking: rank each user's test item against the "
                        "negatives of FILE ('user item item ...' a line, e.g. S3-Rec's LastFM_sample.txt); "
                        "reports sampled_hr@K, sampled_ndcg@K, sampled_mrr (not comparable with full ranking)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_columns(p)
    _add_ranking(p)
    p.set_defaults(func=_evaluate)


def _add_recommend(subparsers):
    p = subparsers.add_parser("recommend", help="top-k next items after a session")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--items", required=True, help="the session so far: item ids separated by commas")
    p.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    p.add_argument("--exclude-history", action="store_true", help="never recommend an item of the session")
    p.add_argument("--user", help="personalized models: the user id (unseen or absent: the fallback user)")
    p.add_argument("--earlier", default="", metavar="IDS;IDS",
                   help="personalized models: the user's earlier sessions, oldest first, ';' between sessions "
                        "and ',' between items, replayed before --items (HRNN builds its user state from them)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_recommend)


def _models(args):
    from zoo.models.registry import list_models

    for name, description in list_models().items():
        print(f"{name:<12}  {description}")


def _cutoffs(text):
    try:
        cutoffs = tuple(int(k) for k in text.split(","))
    except ValueError:
        raise UserError(f"--cutoffs expects integers separated by commas, got {text!r}") from None
    if min(cutoffs) < 1:
        raise UserError(f"--cutoffs must be positive, got {text!r}")
    return cutoffs


def _columns(args):
    return {"session_key": args.session_key, "item_key": args.item_key, "time_key": args.time_key,
            "user_key": args.user_key}




def _print_metrics(metrics, as_json=False):
    if as_json:
        print(json.dumps(metrics, sort_keys=True))
        return
    keys = [k for k in metrics if "@" in k]
    for key in keys:
        print(f"{key:>12}  {metrics[key]:.4f}")
    users = f" of {metrics['users']} users" if "users" in metrics else ""
    print(f"ranked {metrics['events']} test events in {metrics['sessions']} sessions{users} "
          f"({metrics['protocol']} protocol, ties: {metrics['ties']}); "
          f"dropped {metrics['dropped_unknown_item_events']} events with items unseen in training and "
          f"{metrics['dropped_short_sessions']} sessions left shorter than 2")
    cutoff = max(int(key.split("@")[1]) for key in keys)
    for line in format_breakdowns(metrics, cutoff):
        print(line)


def _join_cluster(args):
    """Before TensorFlow runs an op: joins the cluster of TF_CONFIG, if any (zoo.training.distributed)."""
    if args.model not in BASELINES and not args.local_workers:
        from zoo.training import distributed

        distributed.join_cluster()


def _train(args):
    if args.local_workers:  # this process only starts and watches the workers; they train
        from zoo.cli.local_cluster import run_local_workers, strip_option

        if args.model in BASELINES:
            raise UserError(f"{args.model} is a baseline: it trains in one process, without --local-workers")
        return run_local_workers(args.local_workers, strip_option(args.argv))
    from zoo.runs import train_run

    result = train_run(args.out, args.train, model=args.model, test_path=args.test, validation_path=args.validation,
                       preset=args.preset, sets=args.set, epochs=args.epochs, columns=_columns(args),
                       overwrite=args.overwrite, resume=args.resume, checkpoint_every=args.checkpoint_every,
                       cutoffs=_cutoffs(args.cutoffs), ties=args.ties, protocol=args.protocol,
                       tensorboard=args.tensorboard, verbose=0 if args.quiet else 1, shard=args.shard)
    if args.model in BASELINES:
        options = ", ".join(f"{k}={v}" for k, v in result.options.items()) or "no options"
        print(f"fitted {args.model} ({options}); saved {args.out}", file=sys.stderr)
    else:
        last = result.log[-1]
        print(f"trained {args.model} for {len(result.log)} epochs: loss {last['loss']:.4f}, "
              f"{last['events_per_s']:.0f} events/s; saved {args.out}", file=sys.stderr)
    if result.metrics is not None:
        _print_metrics(result.metrics)


def _evaluate(args):
    from zoo.runs import evaluate_saved_run

    metrics = evaluate_saved_run(args.run_dir, args.test, protocol=args.protocol, history_path=args.history,
                                 negatives_path=args.negatives, columns=_columns(args), cutoffs=_cutoffs(args.cutoffs),
                                 ties=args.ties, batch_size=args.batch_size)
    if args.negatives:
        print(json.dumps(metrics, sort_keys=True) if args.json else
              "\n".join(f"{k:>20}  {v:.4f}" if isinstance(v, float) else f"{k:>20}  {v}" for k, v in metrics.items()))
        return
    _print_metrics(metrics, args.json)


def _recommend(args):
    if args.k < 1:
        raise UserError(f"-k must be >= 1, got {args.k}")
    items = [i.strip() for i in args.items.split(",") if i.strip()]
    if not items:
        raise UserError("--items is empty")
    from zoo import runs
    from zoo.evaluation import recommend

    earlier = [[i.strip() for i in session.split(",") if i.strip()] for session in args.earlier.split(";")]
    run = runs.load_run(args.run_dir)
    top, unknown = recommend(run.model, run.vocab, items, k=args.k, exclude_history=args.exclude_history,
                             earlier_sessions=[s for s in earlier if s], user=args.user, users=run.users)
    if args.json:
        print(json.dumps({"items": [str(i) for i, _ in top], "scores": [s for _, s in top],
                          "unknown": [str(i) for i in unknown]}))
        return
    if unknown:
        print(f"skipped unknown items: {', '.join(map(str, unknown))}", file=sys.stderr)
    for rank, (item, score) in enumerate(top, 1):
        print(f"{rank:>3}  {item}  {score:.4f}")
