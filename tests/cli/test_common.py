import subprocess
import sys


def run_then_threads(*argv):
    """Runs `zoo ARGV` in a fresh process, then prints TensorFlow's intra- and inter-op thread settings."""
    code = (f"from zoo.cli import main; code = main({list(argv)!r}); import tensorflow as tf; "
            "print(code, tf.config.threading.get_intra_op_parallelism_threads(), "
            "tf.config.threading.get_inter_op_parallelism_threads())")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_training_commands_run_tensorflow_on_the_requested_threads():
    assert run_then_threads("train", "--train", "/no/such.tsv", "--out", "/tmp/x", "--threads", "3") == ["2", "3", "3"]
    assert run_then_threads("bench", "train", "--train", "/no/such.tsv") == ["2", "1", "1"]  # the default
    assert run_then_threads("train", "--train", "/no/such.tsv", "--out", "/tmp/x", "--threads", "0") == ["2", "0", "0"]
