"""What several commands share: TensorFlow's quiet start and thread count, the data column options."""
import os
import sys
import tempfile

from zoo.errors import UserError


def import_tensorflow_quietly(threads=0, start=None):
    """Imports TensorFlow and finds its devices with its C++ start-up log lines hidden.

    TensorFlow 2.21 prints them from C++ before any log level applies; they are shown only if the
    import fails (not for a UserError). `start`: called after the threads are set and before TensorFlow
    initializes (`zoo train` joins a multi-worker cluster there).
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
            if start is not None:
                start()
            tf.config.list_logical_devices()
        except BaseException as e:
            os.dup2(saved, 2)
            if not isinstance(e, UserError):
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
