"""The `zoo` command: argument parsing and printing only; the work is done by the library."""
import argparse
import importlib
import sys

from zoo.cli.common import import_tensorflow_quietly
from zoo.errors import UserError

# Each module adds its subcommands with `add_commands(subparsers)` and sets `func` on them.
COMMAND_MODULES = ("zoo.cli.datasets", "zoo.cli.runs", "zoo.cli.bench", "zoo.cli.export", "zoo.cli.reports",
                   "zoo.cli.tuning")
NO_TENSORFLOW = ("datasets", "models", "report")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="zoo", description="Recurrent session-based recommenders: data, training, evaluation."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # `zoo train --local-workers` passes them on to its workers
    try:
        if args.command not in NO_TENSORFLOW and not getattr(args, "local_workers", 0):
            start = getattr(args, "tensorflow_start", None)  # before TensorFlow's first op
            import_tensorflow_quietly(getattr(args, "threads", 0), start=start and (lambda: start(args)))
        result = args.func(args)
    except UserError as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    return result or 0
