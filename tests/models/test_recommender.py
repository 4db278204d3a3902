"""What the models rely on in Keras' own `fit` (its train function; zoo's override of it was removed when it
measured no faster): `steps_per_execution` steps a call, every batch trained exactly once, and the
batch index of `on_train_batch_end` counting the batches trained, which the epoch log, the checkpoints
and the exact resume (`dataset.skip(step)`) read. A failure after a Keras upgrade names what changed."""
import keras
import tensorflow as tf
from model_checks import chain_log
from zoo.datasets.vocab import Vocabulary

from zoo import training
from zoo.models.registry import get_model
from zoo.training import presets

SETS = ["layers=8", "n_sample=6", "batch_size=4", "learning_rate=0.1", "momentum=0.5"]


class StepsSeen(keras.callbacks.Callback):
    """Records (batch index + 1, optimizer steps of the epoch so far) at every `on_train_batch_end`."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = int(self.model.optimizer.iterations)

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((batch + 1, int(self.model.optimizer.iterations) - self.start))


def test_fit_trains_every_batch_once_steps_per_execution_steps_a_call():
    config = presets.resolve(sets=SETS, epochs=2)
    events = chain_log(n_sessions=40)
    vocab = Vocabulary.fit(events.ItemId)
    dataset = training.train_dataset(events, vocab, config)
    n = sum(1 for _ in dataset)
    per_call = next(k for k in range(3, n) if n % k)  # does not divide the batches of an epoch
    model = get_model("gru4rec", n_items=len(vocab), **presets.model_options(config))
    model.compile(optimizer=training.make_optimizer(config), steps_per_execution=per_call)
    model.make_train_function()
    function, calls = model.train_function, []  # (argument type, optimizer steps the call ran)

    def recorder(iterator):
        before = int(model.optimizer.iterations)
        try:
            return function(iterator)
        finally:
            calls.append((type(iterator), int(model.optimizer.iterations) - before))

    model.train_function = recorder
    steps_seen = StepsSeen()
    model.fit(dataset, epochs=2, verbose=0, shuffle=False, callbacks=[steps_seen])

    assert calls, ("Keras' fit no longer calls `model.train_function` (keras/src/backend/tensorflow/trainer.py, "
                   "TensorFlowTrainer.fit); check that it still runs SessionRecommender.train_step")
    kinds = {kind.__name__ for kind, _ in calls}
    assert all(issubclass(kind, tf.data.Iterator) for kind, _ in calls), (
        f"Keras' fit now hands the train function {sorted(kinds)}, not a tf.data.Iterator (TensorFlowTrainer.fit / "
        "TFEpochIterator changed): check that a call still runs steps_per_execution steps in one graph")
    steps = [done for _, done in calls if done]
    expected = ([per_call] * (n // per_call) + [n % per_call]) * 2
    assert steps == expected, (
        f"steps per train function call {steps}, expected {expected} ({n} batches an epoch, steps_per_execution "
        f"{per_call}): Keras' fit now splits an epoch into calls differently (keras/src/trainers/epoch_iterator.py); "
        "re-measure `zoo bench train` and check the checkpoint step counting (zoo/training/checkpoints.py)")
    assert int(model.optimizer.iterations) == 2 * n, (
        f"{int(model.optimizer.iterations)} optimizer steps in 2 epochs of {n} batches: with steps_per_execution "
        f"{per_call} Keras' fit skipped batches or trained some twice; training is no longer one pass an epoch")
    full_calls = [seen for seen in steps_seen.seen if seen[1] % per_call == 0]
    assert full_calls and all(index == done for index, done in full_calls), (
        f"on_train_batch_end's batch index + 1 against the steps trained so far in the epoch: {steps_seen.seen}. "
        "Keras changed what `batch` means there (TensorFlowTrainer.fit passes `end_step`); EpochLog, Checkpoint "
        "and the resume's `dataset.skip(step)` (zoo/training/callbacks.py, checkpoints.py, loop.py) count steps "
        "from it and must be changed to count the steps another way")
