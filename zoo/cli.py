"""The `zoo` command: argument parsing and printing only; the work is done by the library."""
import argparse
import os
import sys
import tempfile

from zoo.errors import UserError

# Each module adds its subcommands with `add_commands(subparsers)` and sets `func` on them.
COMMAND_MODULES = ("zoo.datasets.cli", "zoo.commands", "zoo.bench", "zoo.export.cli", "zoo.results", "zoo.report")
NO_TENSORFLOW = ("datasets", "models", "report")


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


def import_tensorflow_quietly():
    """Imports TensorFlow and finds its devices with its C++ start-up log lines hidden.

    TensorFlow 2.21 prints them from C++ before any log level applies; they are shown only if the
    import fails.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_logical_devices()
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in NO_TENSORFLOW:
        import_tensorflow_quietly()
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
