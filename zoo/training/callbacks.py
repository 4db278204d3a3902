"""Keras callbacks of the fit loop: the per-epoch log (with the first non-finite loss) and validation metrics."""
import time

import keras
import numpy as np


class EpochLog(keras.callbacks.Callback):
    """Records loss, seconds, training events/s and the median step time per epoch, and the first
    non-finite loss.

    `step_ms_p50`: the median over the epoch's steps of each step's milliseconds (a call of
    `steps_per_execution` steps gives each of them an equal share of its time, measured between
    successive `on_train_batch_end`; the epoch's first call includes tracing and input start-up).

    `diverged` is then {"epoch", "step", "loss"} of the first non-finite running loss, for the error
    message of `zoo.training.fit`; stopping there is `keras.callbacks.TerminateOnNaN`'s job (in the
    same callbacks; it prints only "Batch N: Invalid loss, terminating training", N Keras' batch index).
    """

    def __init__(self, n_pairs, epoch_steps, step_offset=0):
        super().__init__()
        self.n_pairs, self.epoch_steps, self.step_offset, self.rows, self.diverged = \
            n_pairs, epoch_steps, step_offset, [], None

    def steps_done(self, batch):
        """The steps of the epoch trained once Keras reports `batch` to `on_train_batch_end`.

        Keras reports a `steps_per_execution` call by its last batch as if the call were whole, also
        when the epoch ends inside it (40 steps, 3 a call: batch 41 after the last call); and a resumed
        epoch counts from the step it resumed at (`step_offset`). So: offset + batch + 1, at most the
        epoch's steps.
        """
        return min(self.step_offset + batch + 1, self.epoch_steps)

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self.epoch = time.perf_counter(), epoch
        self._mark, self._step_ms, self._steps = (self._start, self.step_offset), [], []

    def on_train_batch_end(self, batch, logs=None):
        now, done = time.perf_counter(), self.steps_done(batch)
        if done > self._mark[1]:  # a call of `done - mark` steps: each step its share of the call's time
            self._step_ms.append(1000 * (now - self._mark[0]) / (done - self._mark[1]))
            self._steps.append(done - self._mark[1])
        self._mark = (now, done)
        loss = float(logs["loss"]) if logs and "loss" in logs else 0.0
        if not np.isfinite(loss) and self.diverged is None:
            self.diverged = {"epoch": self.epoch + 1, "step": done, "loss": loss}

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.step_offset = 0
        if self.diverged is None:
            step_ms = np.repeat(self._step_ms, self._steps)
            self.rows.append({"epoch": epoch + 1, "loss": float(logs["loss"]), "seconds": round(seconds, 3),
                              "events_per_s": round(self.n_pairs / seconds, 1),
                              **({"step_ms_p50": round(float(np.median(step_ms)), 3)} if len(step_ms) else {}),
                              **{k: float(v) for k, v in logs.items() if k.startswith("val_")}})


class ValidationMetrics(keras.callbacks.Callback):
    """After every epoch, full-ranking Recall@K / MRR@K on validation events (`zoo.evaluation.evaluate`),
    added to the epoch's logs as `val_recall@K`, `val_mrr@K` (so EpochLog and TensorBoard record them).

    It must come before the callbacks that read those logs.
    """

    def __init__(self, events, item_vocab, cutoffs=(20,)):
        super().__init__()
        self.events, self.item_vocab, self.cutoffs = events, item_vocab, cutoffs

    def on_epoch_end(self, epoch, logs=None):
        from zoo.evaluation import evaluate

        metrics = evaluate(self.model, self.events, self.item_vocab, cutoffs=self.cutoffs)
        if logs is not None:
            logs.update({f"val_{k}": metrics[k] for k in metrics if "@" in k})


class EpochProgbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar over the epoch's real steps (`EpochLog.steps_done`): Keras' own counts the
    last `steps_per_execution` call of an epoch as whole (it printed 1472/1429) and a resumed epoch
    from 0 of its remaining steps."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def set_params(self, params):
        super().set_params(params)
        self.target = self.log.epoch_steps

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(self.log.steps_done(batch) - 1, logs)

