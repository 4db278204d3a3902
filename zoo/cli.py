"""The `zoo` command: argument parsing and printing only; the work is done by the library."""
import argparse
import os
import sys

from zoo.errors import UserError

# Each module adds its subcommands with `add_commands(subparsers)` and sets `func` on them.
COMMAND_MODULES = ("zoo.datasets.cli", "zoo.commands", "zoo.bench")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="zoo", description="Recurrent session-based recommenders: data, training, evaluation."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(subparsers)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except UserError as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    return result or 0


if __name__ == "__main__":
    sys.exit(main())
