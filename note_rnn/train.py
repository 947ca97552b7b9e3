"""Maximum-likelihood training of the Note-RNN (``note-rnn train``).

Melodies are cut into windows of ``max_length`` tokens, each run from the zero state;
the model predicts token t + 1 from tokens 0..t. Padding and the first
``skip_first_n_losses`` predictions of each window carry no loss. The optimiser is Adam
with an exponentially decaying learning rate, gradients are clipped to a global norm and
kernels get an L2 penalty, as in Magenta's Note-RNN hyperparameters.

The output directory holds ``ckpt/`` (full training state, written after every epoch:
resume by running the same command again), ``logs/`` (TensorBoard), ``model/`` (the best
model so far by validation loss, in the project checkpoint format with a card),
``history.json``, ``train_config.json``, a manifest (``.sequence-tutor.json``: the data's
resolved path and fingerprint) and ``.lock`` (held by the training process).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time

import numpy as np

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402

from rl_tuner import atomic, checkpoint, runs  # noqa: E402
from rl_tuner import sequence_model as model_lib  # noqa: E402
from note_rnn import corpus, tokens  # noqa: E402
from note_rnn.train_config import TrainConfig  # noqa: E402,F401  (kept importable from here)


def make_windows(melodies, max_length: int, min_window: int = 2) -> list[np.ndarray]:
    """Cuts melodies into consecutive windows of at most ``max_length`` tokens.

    Args:
      melodies: iterable of 1-D token arrays.
      max_length: window length.
      min_window: shorter tail windows are dropped.

    Returns:
      A list of 1-D int arrays.
    """
    windows = []
    for mel in melodies:
        mel = np.asarray(mel)
        for start in range(0, len(mel), max_length):
            w = mel[start:start + max_length]
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
    """Owns the model, optimiser, compiled steps and checkpoints of one training run."""

    def __init__(self, config: TrainConfig):
        self.config = config
        tf.keras.utils.set_random_seed(config.seed)
        self.model = model_lib.SequenceRNN(model_lib.SequenceRNNConfig(num_classes=tokens.NUM_CLASSES, layer_sizes=config.layer_sizes))
        schedule = tf.keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, config.decay_steps, config.decay_rate, staircase=config.staircase)
        self.optimizer = tf.keras.optimizers.Adam(schedule)
        self.epoch = tf.Variable(0, dtype=tf.int64, name="epoch")
        self.best_val_loss = tf.Variable(np.inf, dtype=tf.float32, name="best_val_loss")
        self.ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, epoch=self.epoch,
                                        best_val_loss=self.best_val_loss)
        self.manager = tf.train.CheckpointManager(self.ckpt, os.path.join(config.out_dir, "ckpt"), max_to_keep=2)
        self._kernels = [v for v in self.model.trainable_variables if "kernel" in v.name]

    def restore(self) -> bool:
        """Restores the latest training checkpoint; returns True if one was found."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return False
        self._restore_status = checkpoint.restore_training_state(self.ckpt, latest)
        return True

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

    @tf.function
    def eval_step(self, inputs, targets, weights):
        return masked_metrics(self.model(inputs), targets, weights)

    def evaluate(self, arrays, batch_size: int = EVAL_BATCH_SIZE) -> dict:
        """Returns validation accuracy and log perplexity (mean NLL in nats) over ``arrays``."""
        return evaluate_arrays(self.eval_step, arrays, batch_size)



def evaluation_arrays(melodies, max_length: int, skip_first_n_losses: int, min_window: int):
    """The (inputs, targets, weights) arrays the metrics are computed on: the melodies cut
    into windows exactly as for training (:func:`make_windows`, :func:`window_arrays`)."""
    return window_arrays(make_windows(melodies, max_length, min_window), max_length, skip_first_n_losses)


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


def evaluate_model(model, melodies, max_length: int = 128, skip_first_n_losses: int = 8, min_window: int = 16,
                   batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """Validation metrics of any Note-RNN on melodies, computed as the trainer computes them.

    Args:
      model: a :class:`rl_tuner.sequence_model.SequenceRNN`.
      melodies: 1-D token arrays (e.g. ``corpus.load_split(data_dir, "validation")``).
      max_length: tokens per window; each window starts from the zero state.
      skip_first_n_losses: predictions at the start of each window that are not scored.
      min_window: shorter tail windows are dropped.
      batch_size: windows per batch.

    Returns:
      ``{"accuracy", "log_perplexity", "tokens", "windows"}`` (see :func:`evaluate_arrays`).

    Raises:
      ValueError: if no window of at least ``min_window`` tokens remains, or the settings
        leave no scored prediction.
    """
    TrainConfig(max_length=max_length, skip_first_n_losses=skip_first_n_losses, min_window=min_window)  # checks
    arrays = evaluation_arrays(melodies, max_length, skip_first_n_losses, min_window)
    if len(arrays[0]) == 0:
        raise ValueError(f"no windows of at least {min_window} tokens to evaluate")
    step = tf.function(lambda inputs, targets, weights: masked_metrics(model(inputs), targets, weights))
    return {**evaluate_arrays(step, arrays, batch_size), "windows": len(arrays[0])}


def _dataset(arrays, batch_size: int, seed: int):
    ds = tf.data.Dataset.from_tensor_slices(arrays)
    ds = ds.shuffle(len(arrays[0]), seed=seed, reshuffle_each_iteration=False)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def train(config: TrainConfig, command: str | None = None, progress: bool = True) -> dict:
    """Trains (or resumes training of) a Note-RNN.

    The run directory is locked while training and its config is written once the data has
    loaded (see :mod:`rl_tuner.runs`). Resuming needs the same settings except ``epochs``
    (and the spelling of ``out_dir``); the data counts as the same if its files are.

    Args:
      config: the run's hyperparameters.
      command: the command line that started the run (recorded in the model card).
      progress: show a progress bar (only when stderr is a terminal; one line per epoch
        is printed in any case).

    Returns:
      The final history dict (also written to ``out_dir/history.json``).

    Raises:
      FloatingPointError: if the training loss becomes NaN or infinite; the last good
        checkpoint is kept.
      FileNotFoundError: if the data set is missing.
      ValueError: for a directory that is not a Note-RNN run, a run with different
        settings, a run another process is training, or data without training windows.
    """
    with runs.run_directory(config.out_dir, COMMAND) as run:
        return _train(config, run, command, progress)


COMMAND = "note-rnn train"
RESUMABLE = ("epochs", "out_dir")  # may change between sessions


def _train(config: TrainConfig, run: runs.Run, command: str | None, progress: bool) -> dict:
    from tqdm import tqdm

    train_mel = corpus.load_split(config.data_dir, "train")
    val_mel = corpus.load_split(config.data_dir, "validation")
    train_arrays = evaluation_arrays(train_mel, config.max_length, config.skip_first_n_losses, config.min_window)
    val_arrays = evaluation_arrays(val_mel, config.max_length, config.skip_first_n_losses, config.min_window)
    for name, arrays in (("training", train_arrays), ("validation", val_arrays)):
        if len(arrays[0]) == 0:
            raise ValueError(f"no {name} windows of at least {config.min_window} tokens in {config.data_dir}")
    data_files = [os.path.join(config.data_dir, f"{split}.npz") for split in ("train", "validation")]
    run.start("train_config.json", config, may_change=RESUMABLE,
              inputs={"data_dir": runs.fingerprint_files(data_files)})

    trainer = Trainer(config)
    resumed = trainer.restore()
    history_path = os.path.join(config.out_dir, "history.json")
    history = (atomic.read_json(history_path) if resumed else None) or {"epochs": []}
    history["epochs"] = history["epochs"][: int(trainer.epoch.numpy())]
    writer = tf.summary.create_file_writer(os.path.join(config.out_dir, "logs"))
    if not resumed:
        with writer.as_default():
            tf.summary.text("config", json.dumps(dataclasses.asdict(config), indent=1), step=0)
    start_epoch = int(trainer.epoch.numpy())
    if resumed and start_epoch >= config.epochs:
        trainer.expect_partial()
        print(f"The Note-RNN run in {config.out_dir} is complete ({start_epoch} epochs, --epochs {config.epochs}); "
              "give a larger --epochs to train on.", file=sys.stderr)
        return history
    print(f"Note-RNN training: {len(train_arrays[0])} train windows, {len(val_arrays[0])} validation windows, "
          f"{'resuming at epoch ' + str(start_epoch + 1) if resumed else 'from scratch'}", file=sys.stderr)
    show_bar = progress and sys.stderr.isatty()

    for epoch in range(start_epoch, config.epochs):
        t0 = time.time()
        dataset = _dataset(train_arrays, config.batch_size, config.seed + epoch)
        totals = np.zeros(3)
        bar = tqdm(dataset, total=math.ceil(len(train_arrays[0]) / config.batch_size),
                   desc=f"epoch {epoch + 1}/{config.epochs}", disable=not show_bar, file=sys.stderr)
        for inputs, targets, weights in bar:
            loss, nll, correct, count, grad_norm = trainer.train_step(inputs, targets, weights)
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
        writer.flush()
        print(epoch_line(record, config.epochs, totals[2]), file=sys.stderr)
        if val["log_perplexity"] < float(trainer.best_val_loss.numpy()):
            trainer.best_val_loss.assign(val["log_perplexity"])
            history["best"] = record
            checkpoint.save_model(os.path.join(config.out_dir, "model"), trainer.model, overwrite=True,
                                  card=make_card(config, record, len(train_mel), len(val_mel), command))
        trainer.epoch.assign(epoch + 1)
        atomic.write_json(history_path, history)
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


def make_card(config: TrainConfig, metrics: dict, num_train: int, num_val: int, command: str | None) -> dict:
    """Returns the JSON card stored next to an exported model."""
    data_summary = atomic.read_json(os.path.join(config.data_dir, "summary.json")) or {}
    return {
        "model": "Note-RNN (Keras LSTM language model, 38-token melody encoding)",
        "data": {"data_dir": config.data_dir, "train_melodies": num_train, "validation_melodies": num_val,
                 "summary": data_summary},
        "hyperparameters": dataclasses.asdict(config),
        "metrics": {"epoch": metrics["epoch"], "step": metrics["step"],
                    "validation_accuracy": metrics["validation_accuracy"],
                    "validation_log_perplexity": metrics["validation_log_perplexity"],
                    "train_accuracy": metrics["train_accuracy"],
                    "train_log_perplexity": metrics["train_log_perplexity"]},
        "metric_definitions": "accuracy of the argmax next-token prediction and mean negative log-likelihood "
                              "(nats per token) over validation windows, ignoring padding and the first "
                              f"{config.skip_first_n_losses} predictions of each window",
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
