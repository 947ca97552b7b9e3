"""Maximum-likelihood training of a sequence model (the core of ``note-rnn train`` and of any
task's prior).

Sequences are cut into windows of ``max_length`` tokens, each run from the zero state; the
model predicts token t + 1 from tokens 0..t. Padding and the first ``skip_first_n_losses``
predictions of each window carry no loss. The optimiser is Adam with an exponentially
decaying learning rate, gradients are clipped to a global norm and kernels get an L2
penalty, as in Magenta's Note-RNN hyperparameters. The model is a
:class:`rl_tuner.models.sequence_model.SequenceRNN` of any vocabulary size (with its vocabulary
stored, if given); :func:`fit` runs the epochs of a run directory (resume, TensorBoard,
best model by validation loss), a task's recipe loads the data (``note_rnn.train``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
import dataclasses

import numpy as np

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402

from rl_tuner.plumbing import atomic, checkpoint  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402


def make_windows(sequences, max_length: int, min_window: int = 2) -> list[np.ndarray]:
    """Cuts token sequences into consecutive windows of at most ``max_length`` tokens.

    Args:
      sequences: iterable of 1-D token arrays.
      max_length: window length.
      min_window: shorter tail windows are dropped.

    Returns:
      A list of 1-D int arrays.
    """
    windows = []
    for seq in sequences:
        seq = np.asarray(seq)
        for start in range(0, len(seq), max_length):
            w = seq[start:start + max_length]
            if len(w) >= max(2, min_window):
                windows.append(w)
    return windows


def window_arrays(windows, max_length: int, skip_first_n_losses: int):
    """Builds padded (inputs, targets, loss weights) of shape [N, max_length - 1].

    Position t of a window predicts token t + 1 from tokens 0..t; the weight is 1 where a
    real target exists and t >= skip_first_n_losses, else 0.
    """
    n, width = len(windows), max_length - 1
    inputs = np.zeros((n, width), np.int32)
    targets = np.zeros((n, width), np.int32)
    weights = np.zeros((n, width), np.float32)
    for k, w in enumerate(windows):
        m = len(w) - 1
        inputs[k, :m] = w[:-1]
        targets[k, :m] = w[1:]
        weights[k, skip_first_n_losses:m] = 1.0
    return inputs, targets, weights


def masked_metrics(logits, targets, weights):
    """Returns (sum of NLL, number of correct argmax predictions, total weight)."""
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), targets), tf.float32)
    return tf.reduce_sum(nll * weights), tf.reduce_sum(correct * weights), tf.reduce_sum(weights)


EVAL_BATCH_SIZE = 1024  # windows per validation batch


class Trainer:
    """Owns the model, optimiser, compiled steps and checkpoints of one training run.

    Args:
      config: the hyperparameters (a ``note_rnn.train_config.TrainConfig`` or any object
        with its fields: layer_sizes, learning_rate, decay_steps, decay_rate, staircase,
        l2_reg, clip_norm, seed, out_dir).
      num_classes: vocabulary size.
      vocabulary: optional symbol of each token, stored with the model.
    """

    def __init__(self, config, num_classes: int, vocabulary=None):
        self.config = config
        self.strategy = make_strategy(getattr(config, "strategy", "default"))
        self.distributed = getattr(config, "strategy", "default") != "default"
        tf.keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self.model = model_lib.SequenceRNN(model_lib.SequenceRNNConfig(
                num_classes=num_classes, layer_sizes=tuple(config.layer_sizes), vocabulary=vocabulary))
            schedule = tf.keras.optimizers.schedules.ExponentialDecay(
                config.learning_rate, config.decay_steps, config.decay_rate, staircase=config.staircase)
            self.optimizer = tf.keras.optimizers.Adam(schedule)
            self.epoch = tf.Variable(0, dtype=tf.int64, name="epoch")
            self.best_val_loss = tf.Variable(np.inf, dtype=tf.float32, name="best_val_loss")
        self.ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, epoch=self.epoch,
                                        best_val_loss=self.best_val_loss)
        self.manager = tf.train.CheckpointManager(self.ckpt, os.path.join(config.out_dir, "ckpt"), max_to_keep=2)
        self._kernels = [v for v in self.model.trainable_variables if "kernel" in v.name]

    def restore(self, restore_from: str | None = None) -> bool:
        """Restores the latest training checkpoint; returns True if one was found.

        Args:
          restore_from: another run directory to restore from, read only (a non-chief worker
            of a multi-worker run restores the chief's ``--out``, :mod:`rl_tuner.plumbing.workers`);
            default: this run's own checkpoints.
        """
        if restore_from is not None:
            latest = tf.train.latest_checkpoint(os.path.join(restore_from, "ckpt"))
            if latest is None:
                return False
            self._restore_status = checkpoint.restore_training_state(self.ckpt, latest)
            return True
        checkpoint.remove_interrupted_saves(self.manager.directory)  # the caller holds the run's lock
        latest = self.manager.latest_checkpoint
        if latest is None:
            return False
        self._restore_status = checkpoint.restore_training_state(self.ckpt, latest)
        return True

    def check_workers_agree(self) -> None:
        """Raises ValueError unless every worker of the strategy holds the same epoch (after
        :meth:`restore`): a resumed multi-worker run whose non-chief workers could not read the
        chief's checkpoints would otherwise run different numbers of epochs and hang.

        The workers all-reduce (epoch, epoch squared, 1); the epochs are equal iff their
        variance n * sum(e^2) - (sum e)^2 is 0, which every worker computes alike, so all of
        them stop (none waits for the others in a collective).
        """
        def replica_totals():
            epoch = tf.cast(self.epoch, tf.float64)
            return tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, tf.stack([epoch, epoch * epoch, tf.constant(1.0, tf.float64)]))

        totals = tf.function(lambda: self.strategy.run(replica_totals))()
        total, squares, count = self.strategy.experimental_local_results(totals)[0].numpy()
        if count * squares != total * total:
            raise ValueError(f"the workers of this multi-worker run restored different epochs (this one: "
                             f"{int(self.epoch.numpy())}); to resume, every worker must read the chief's --out "
                             "(put it on a file system all workers share)")

    def expect_partial(self) -> None:
        """Declares the restored optimiser state unused (a finished run trains no more).

        Adam's slot variables are restored lazily at the first training step; without one,
        TensorFlow would warn at exit that checkpoint values "could not be found".
        """
        status = getattr(self, "_restore_status", None)
        if status is not None:
            status.expect_partial()

    @tf.function
    def train_step(self, inputs, targets, weights):
        with tf.GradientTape() as tape:
            logits = self.model(inputs, training=True)
            nll_sum, correct, count = masked_metrics(logits, targets, weights)
            loss = nll_sum / tf.maximum(count, 1.0)
            loss += self.config.l2_reg * tf.add_n([tf.nn.l2_loss(k) for k in self._kernels])
        variables = self.model.trainable_variables
        grads = tape.gradient(loss, variables)
        grads, grad_norm = tf.clip_by_global_norm(grads, self.config.clip_norm)
        self.optimizer.apply_gradients(zip(grads, variables))
        return loss, nll_sum, correct, count, grad_norm

    def _replica_step(self, inputs, targets, weights):
        """One replica's share of :meth:`train_step`: gradients summed over the replicas, then
        clipped and applied once, so the update equals the single-device one on the global batch."""
        context = tf.distribute.get_replica_context()
        replicas = float(context.num_replicas_in_sync)
        global_count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(weights))
        with tf.GradientTape() as tape:
            logits = self.model(inputs, training=True)
            nll_sum, correct, count = masked_metrics(logits, targets, weights)
            loss = nll_sum / tf.maximum(global_count, 1.0)
            loss += self.config.l2_reg * tf.add_n([tf.nn.l2_loss(k) for k in self._kernels]) / replicas
        variables = self.model.trainable_variables
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, tape.gradient(loss, variables))
        grads, grad_norm = tf.clip_by_global_norm(grads, self.config.clip_norm)
        self.optimizer.apply_gradients(zip(grads, variables), skip_gradients_aggregation=True)
        return loss, nll_sum, correct, count, grad_norm

    @tf.function
    def distributed_train_step(self, inputs, targets, weights):
        """:meth:`train_step` of a global batch split over the strategy's replicas (the batch
        as given by ``strategy.experimental_distribute_dataset``); same returns, summed."""
        per_replica = self.strategy.run(self._replica_step, args=(inputs, targets, weights))
        loss, nll_sum, correct, count, grad_norm = [
            self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None) for value in per_replica]
        return loss, nll_sum, correct, count, grad_norm / float(self.strategy.num_replicas_in_sync)

    @tf.function
    def eval_step(self, inputs, targets, weights):
        return masked_metrics(self.model(inputs), targets, weights)

    def evaluate(self, arrays, batch_size: int = EVAL_BATCH_SIZE) -> dict:
        """Returns validation accuracy and log perplexity (mean NLL in nats) over ``arrays``."""
        return evaluate_arrays(self.eval_step, arrays, batch_size)



def evaluation_arrays(sequences, max_length: int, skip_first_n_losses: int, min_window: int):
    """The (inputs, targets, weights) arrays the metrics are computed on: the sequences cut
    into windows exactly as for training (:func:`make_windows`, :func:`window_arrays`)."""
    return window_arrays(make_windows(sequences, max_length, min_window), max_length, skip_first_n_losses)


def evaluate_arrays(eval_step, arrays, batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """Accuracy and log perplexity over windows, in batches (the trainer's validation metrics).

    Args:
      eval_step: ``(inputs, targets, weights) -> (sum of NLL, correct, weight)`` of a batch
        (:func:`masked_metrics` of the model's logits).
      arrays: (inputs, targets, weights) of :func:`evaluation_arrays`.
      batch_size: windows per batch.

    Returns:
      ``{"accuracy": correct / weight, "log_perplexity": NLL / weight (nats per token),
      "tokens": weight}`` over all windows (0 windows: accuracy and log perplexity 0).
    """
    totals = np.zeros(3)
    for i in range(0, len(arrays[0]), batch_size):
        batch = [tf.constant(a[i:i + batch_size]) for a in arrays]
        totals += [float(t) for t in eval_step(*batch)]
    nll, correct, count = totals
    count = max(count, 1.0)
    return {"accuracy": correct / count, "log_perplexity": nll / count, "tokens": int(totals[2])}


from rl_tuner.choices import STRATEGIES  # noqa: E402  (pure Python)


_STRATEGIES: dict = {}  # the process's MultiWorkerMirroredStrategy (see make_strategy)


def make_strategy(name: str):
    """The ``tf.distribute`` strategy called ``name``.

    "default": one device, as without a strategy. "mirrored": ``MirroredStrategy`` over the
    visible devices (GPUs, or the logical CPU devices a test configures). "multi_worker":
    ``MultiWorkerMirroredStrategy``, its cluster and this worker's index from the ``TF_CONFIG``
    environment variable (every worker runs the same command; worker 0 is the chief).

    A process has one "multi_worker" strategy (TensorFlow configures its collective ops once,
    before the first TensorFlow op): the first call makes it, later calls return it, so a
    trainer calls this before it reads a TFRecord data set through ``tf.data``. While the
    strategy waits for the other workers, :func:`rl_tuner.plumbing.workers.waiting_for_cluster` bounds
    the wait (after ``RL_TUNER_CLUSTER_TIMEOUT`` seconds, or on Ctrl+C, a one-line message and
    the process ends: SIGKILL, exit status 137, since the wait holds Python's lock).

    Raises:
      ValueError: an unknown name, or "multi_worker" without ``TF_CONFIG`` or with an invalid
        one.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("--strategy multi_worker needs the TF_CONFIG environment variable (the cluster's "
                             "workers and this one's index; see BUILD.md)")
        if "multi_worker" not in _STRATEGIES:
            from rl_tuner.plumbing import workers  # pylint: disable=import-outside-toplevel
            with workers.waiting_for_cluster():  # a missing worker ends the process after a time limit
                _STRATEGIES["multi_worker"] = tf.distribute.MultiWorkerMirroredStrategy()
        return _STRATEGIES["multi_worker"]
    raise ValueError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")


@contextlib.contextmanager
def training_run(config, command: str):
    """The run directory of an MLE training run, for every strategy.

    Under "multi_worker" the strategy is made first (:func:`make_strategy`: before ``tf.data``
    reads TFRecord shards, and before anything is written; it waits for the other workers).
    The chief writes ``config.out_dir``; any other worker writes into a temporary directory it
    removes at the end and resumes from the chief's (:func:`rl_tuner.plumbing.workers.output_dir`).

    Args:
      config: the trainer's config dataclass (``out_dir`` and ``strategy`` fields).
      command: the training command, e.g. "note-rnn train" (:func:`rl_tuner.plumbing.runs.run_directory`).

    Yields:
      ``(run_config, run, restore_from)``: ``config`` with the ``out_dir`` this process writes,
      the locked :class:`rl_tuner.plumbing.runs.Run`, and the chief's run directory to restore from
      (None for the chief or a single process).

    Raises:
      ValueError: as :func:`rl_tuner.plumbing.runs.run_directory`, or an invalid ``TF_CONFIG``.
    """
    from rl_tuner.plumbing import runs, workers  # pylint: disable=import-outside-toplevel
    if config.strategy == "multi_worker":
        make_strategy(config.strategy)
    with workers.output_dir(config.out_dir, config.strategy) as (write_dir, restore_from):
        run_config = config if restore_from is None else dataclasses.replace(config, out_dir=write_dir)
        with runs.run_directory(run_config.out_dir, command) as run:
            yield run_config, run, restore_from


def _dataset(arrays, batch_size: int, seed: int):
    ds = tf.data.Dataset.from_tensor_slices(arrays)
    ds = ds.shuffle(len(arrays[0]), seed=seed, reshuffle_each_iteration=False)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def fit(config, train_arrays, val_arrays, num_classes: int, make_card, vocabulary=None, name: str = "model",
        progress: bool = True, restore_from: str | None = None) -> dict:
    """Trains (or resumes) the epochs of a run whose directory is ``config.out_dir``.

    The run's lock is held while it trains (:func:`rl_tuner.plumbing.runs.holding`; the commands hold
    it already through :func:`training_run`).

    Args:
      config: the hyperparameters (see :class:`Trainer`; also batch_size and epochs).
      train_arrays, val_arrays: (inputs, targets, weights) of :func:`evaluation_arrays`.
      num_classes: vocabulary size.
      make_card: ``(epoch record) -> dict``, the card saved with each best model.
      vocabulary: optional symbol of each token, stored with the model.
      name: what the model is called in messages (e.g. "Note-RNN").
      progress: show a progress bar (only when stderr is a terminal).
      restore_from: resume from this run directory's checkpoints and history (read only)
        instead of ``config.out_dir``'s: a non-chief worker of a multi-worker run, which
        writes into a temporary ``config.out_dir`` (:func:`rl_tuner.plumbing.workers.output_dir`).

    Returns:
      The history dict (also written to ``out_dir/history.json``).

    Raises:
      FloatingPointError: if the training loss becomes NaN or infinite; the last good
        checkpoint is kept.
      OSError: ``cannot write PATH: REASON`` when a write fails (a full disk: ``No space left
        on device``); the epochs saved before stay on disk (:func:`rl_tuner.plumbing.runs.run_directory`).
      rl_tuner.plumbing.runs.RunInUseError: another process trains in ``config.out_dir``.
    """
    from rl_tuner.plumbing import runs  # pylint: disable=import-outside-toplevel
    with runs.holding(config.out_dir):
        return _fit(config, train_arrays, val_arrays, num_classes, make_card, vocabulary, name, progress,
                    restore_from)


def _fit(config, train_arrays, val_arrays, num_classes, make_card, vocabulary, name, progress, restore_from) -> dict:
    """:func:`fit` with the run's lock held."""
    from tqdm import tqdm

    trainer = Trainer(config, num_classes, vocabulary)
    resumed = trainer.restore(restore_from)
    if getattr(config, "strategy", "default") == "multi_worker":
        trainer.check_workers_agree()
    history_path = os.path.join(config.out_dir, "history.json")
    history = (atomic.read_json(os.path.join(restore_from or config.out_dir, "history.json")) if resumed
               else None) or {"epochs": []}
    history["epochs"] = history["epochs"][: int(trainer.epoch.numpy())]
    writer = tf.summary.create_file_writer(os.path.join(config.out_dir, "logs"))
    if not resumed:
        with writer.as_default():
            tf.summary.text("config", json.dumps(dataclasses.asdict(config), indent=1), step=0)
    start_epoch = int(trainer.epoch.numpy())
    if resumed and start_epoch >= config.epochs:
        trainer.expect_partial()
        print(f"The {name} run in {config.out_dir} is complete ({start_epoch} epochs, --epochs {config.epochs}); "
              "give a larger --epochs to train on.", file=sys.stderr)
        return history
    print(f"{name} training: {len(train_arrays[0])} train windows, {len(val_arrays[0])} validation windows, "
          f"{'resuming at epoch ' + str(start_epoch + 1) if resumed else 'from scratch'}", file=sys.stderr)
    show_bar = progress and sys.stderr.isatty()

    for epoch in range(start_epoch, config.epochs):
        t0 = time.time()
        dataset = _dataset(train_arrays, config.batch_size, config.seed + epoch)
        step_fn = trainer.train_step
        if trainer.distributed:  # the global batch split over the replicas
            dataset = trainer.strategy.experimental_distribute_dataset(dataset)
            step_fn = trainer.distributed_train_step
        totals = np.zeros(3)
        bar = tqdm(dataset, total=math.ceil(len(train_arrays[0]) / config.batch_size),
                   desc=f"epoch {epoch + 1}/{config.epochs}", disable=not show_bar, file=sys.stderr)
        for inputs, targets, weights in bar:
            loss, nll, correct, count, grad_norm = step_fn(inputs, targets, weights)
            loss = float(loss)
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss} in epoch {epoch + 1}; the last good checkpoint in "
                    f"{trainer.manager.directory} is kept (lower --learning-rate?)")
            totals += [float(nll), float(correct), float(count)]
            step = int(trainer.optimizer.iterations.numpy())
            if step % 20 == 0:
                with writer.as_default():
                    tf.summary.scalar("train/loss", loss, step=step)
                    tf.summary.scalar("train/grad_norm", grad_norm, step=step)
                    tf.summary.scalar("train/learning_rate", trainer.optimizer.learning_rate, step=step)
            bar.set_postfix(loss=f"{loss:.3f}")
        val = trainer.evaluate(val_arrays)
        record = {"epoch": epoch + 1, "step": int(trainer.optimizer.iterations.numpy()),
                  "train_log_perplexity": totals[0] / max(totals[2], 1),
                  "train_accuracy": totals[1] / max(totals[2], 1),
                  "validation_log_perplexity": val["log_perplexity"], "validation_accuracy": val["accuracy"],
                  "seconds": time.time() - t0}
        history["epochs"].append(record)
        with writer.as_default():
            for key in ("train_log_perplexity", "train_accuracy", "validation_log_perplexity", "validation_accuracy"):
                tf.summary.scalar(f"epoch/{key}", record[key], step=record["step"])
        with atomic.writing(os.path.join(config.out_dir, "logs")):
            writer.flush()
        print(epoch_line(record, config.epochs, totals[2]), file=sys.stderr)
        if val["log_perplexity"] < float(trainer.best_val_loss.numpy()):
            trainer.best_val_loss.assign(val["log_perplexity"])
            history["best"] = record
            checkpoint.save_model(os.path.join(config.out_dir, "model"), trainer.model, overwrite=True,
                                  card=make_card(record))
        trainer.epoch.assign(epoch + 1)
        atomic.write_json(history_path, history)
        with atomic.writing(trainer.manager.directory):  # a full disk: "cannot write RUN/ckpt: No space left ..."
            trainer.manager.save(checkpoint_number=epoch + 1)
    return history


def epoch_line(record: dict, epochs: int, tokens: float) -> str:
    """The line printed after each epoch: step, training and validation metrics, speed.

    Args:
      record: the epoch's history entry (epoch, step, train_/validation_ log perplexity
        and accuracy, seconds).
      epochs: the run's total number of epochs.
      tokens: training tokens with a loss in this epoch (for tokens per second).
    """
    return (f"epoch {record['epoch']}/{epochs} (step {record['step']}): train log-ppl "
            f"{record['train_log_perplexity']:.4f} acc {record['train_accuracy']:.4f} | validation log-ppl "
            f"{record['validation_log_perplexity']:.4f} acc {record['validation_accuracy']:.4f} "
            f"({record['seconds']:.0f} s, {tokens / max(record['seconds'], 1e-9):.0f} tokens/s)")


def best_line(history: dict, out_dir: str) -> str:
    """The line a trainer's command prints at the end: the best validation accuracy and log
    perplexity of ``history`` (:func:`fit`'s) and where the best model is (``out_dir/model``)."""
    best = history.get("best", {})
    return (f"best validation accuracy {best.get('validation_accuracy', float('nan')):.4f}, "
            f"log perplexity {best.get('validation_log_perplexity', float('nan')):.4f}; "
            f"model in {os.path.join(out_dir, 'model')}")
