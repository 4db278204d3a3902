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


def import_tensorflow_quietly(threads=0):
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

            set_threads(threads)
            tf.config.list_logical_devices()
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def add_threads_option(parser):
    """`--threads N`: TensorFlow's op threads for a training command (set before TensorFlow starts)."""
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="TensorFlow threads for the training step (default 1: the recurrent models' small "
                             "per-step ops run faster on one thread, leaving the other cores to the input "
                             "pipeline; 0: TensorFlow's default)")


def set_threads(threads):
    """Gives TensorFlow `threads` intra- and inter-op threads (0: its default); call before it runs an op."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in NO_TENSORFLOW:
        import_tensorflow_quietly(getattr(args, "threads", 0))
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
