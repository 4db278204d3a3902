"""`zoo report` (a static HTML page of run directories) and `zoo results` (the README's results table)."""
import sys

from zoo.atomic import write_json
from zoo.errors import UserError
from zoo.reports.results import DATASETS, MODELS


def add_commands(subparsers):
    _add_report(subparsers)
    _add_results(subparsers)


def _add_report(subparsers):
    p = subparsers.add_parser("report", help="a static HTML page with plots of run directories")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", required=True, metavar="DIR", help="report directory (replaced)")
    p.add_argument("--bench", metavar="FILE", help="a `zoo bench serve --json` or `zoo bench all` JSON: latency plot")
    p.add_argument("--cutoff", type=int, default=20, help="K of Recall@K / MRR@K (default 20)")
    p.add_argument("--study", metavar="DIR", help="a `zoo tune` folder: plot its search")
    p.set_defaults(func=_report)


def _report(args):
    from zoo.reports.html import write_report

    print(write_report(args.runs, args.out, args.bench, args.cutoff, args.study))


def _add_results(subparsers):
    p = subparsers.add_parser("results", help="the README's results tables: the models and popularity on 4 datasets")
    p.add_argument("--data", required=True, metavar="DIR", help="the shared data folder (rsc15-100k/, ml-100k/, ...)")
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated, from {', '.join(DATASETS)}")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    p.add_argument("--epochs", type=int, default=3, help="training epochs of every model (default 3)")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    p.set_defaults(func=_results)


def _results(args):
    from zoo.models.registry import model_class
    from zoo.reports.results import format_table, results

    datasets, models = args.datasets.split(","), args.models.split(",")
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise UserError(f"unknown dataset {unknown[0]!r}; known: {', '.join(DATASETS)}")
    for name in models:
        model_class(name)
    rows = results(args.data, datasets, models, args.epochs, progress=sys.stderr)
    if args.json:
        write_json(args.json, rows)
    print(format_table(rows))
