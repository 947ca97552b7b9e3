"""Maximum-likelihood training of the Note-RNN (``note-rnn train``): the recipe (data from
``note-rnn prepare``, the card) around the core's trainer (:mod:`rl_tuner.models.mle`).

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
import os
import time


from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402

from rl_tuner.plumbing import atomic, runs  # noqa: E402
from rl_tuner.models.mle import (EVAL_BATCH_SIZE, Trainer, epoch_line, evaluate_arrays, evaluation_arrays, fit,  # noqa: E402,F401
                          make_windows, masked_metrics, training_run,  # (re-exported: the core's MLE trainer)
                          window_arrays)
from note_rnn import corpus, tokens  # noqa: E402
from note_rnn.train_config import TrainConfig  # noqa: E402,F401  (kept importable from here)


def check_evaluable(model, source: str | None = None) -> None:
    """Raises ValueError (prefixed with ``source``, e.g. the checkpoint's path) unless ``model``
    is a basic_rnn model, the only kind the 38-token corpus metrics apply to."""
    name = getattr(getattr(getattr(model, "input_encoder", None), "config", None), "name", "basic_rnn")
    if name != "basic_rnn" or model.config.num_classes != tokens.NUM_CLASSES:
        name = name if name != "basic_rnn" else f"{model.config.num_classes}-class"
        raise ValueError(f"{source + ': ' if source else ''}evaluation on {tokens.NUM_CLASSES}-token melodies needs "
                         f"a basic_rnn model ({tokens.NUM_CLASSES} one-hot classes); this is a {name} model")


def evaluate_model(model, melodies, max_length: int = 128, skip_first_n_losses: int = 8, min_window: int = 16,
                   batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """Validation metrics of any Note-RNN on melodies, computed as the trainer computes them.

    Args:
      model: a :class:`rl_tuner.models.sequence_model.SequenceRNN`.
      melodies: 1-D token arrays (e.g. ``corpus.load_split(data_dir, "validation")``).
      max_length: tokens per window; each window starts from the zero state.
      skip_first_n_losses: predictions at the start of each window that are not scored.
      min_window: shorter tail windows are dropped.
      batch_size: windows per batch.

    Returns:
      ``{"accuracy", "log_perplexity", "tokens", "windows"}`` (see :func:`evaluate_arrays`).

    Raises:
      ValueError: if no window of at least ``min_window`` tokens remains, the settings
        leave no scored prediction, or the model is not a basic_rnn (38 one-hot classes).
    """
    TrainConfig(max_length=max_length, skip_first_n_losses=skip_first_n_losses, min_window=min_window)  # checks
    check_evaluable(model)
    arrays = evaluation_arrays(melodies, max_length, skip_first_n_losses, min_window)
    if len(arrays[0]) == 0:
        raise ValueError(f"no windows of at least {min_window} tokens to evaluate")
    step = tf.function(lambda inputs, targets, weights: masked_metrics(model(inputs), targets, weights))
    return {**evaluate_arrays(step, arrays, batch_size), "windows": len(arrays[0])}


def train(config: TrainConfig, command: str | None = None, progress: bool = True) -> dict:
    """Trains (or resumes training of) a Note-RNN.

    The run directory is locked while training and its config is written once the data has
    loaded (see :mod:`rl_tuner.plumbing.runs`). Under ``strategy="multi_worker"`` only the chief
    writes ``out_dir``; the other workers write into temporary directories they remove at
    the end (:mod:`rl_tuner.plumbing.workers`). Resuming needs the same settings except ``epochs``
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
    with training_run(config, COMMAND) as (run_config, run, restore_from):
        return _train(run_config, run, command, progress, restore_from)


COMMAND = "note-rnn train"
RESUMABLE = ("epochs", "out_dir", "strategy")  # may change between sessions (same checkpoints on any strategy)


def _train(config: TrainConfig, run: runs.Run, command: str | None, progress: bool,
           restore_from: str | None = None) -> dict:
    train_mel = corpus.load_split(config.data_dir, "train")
    val_mel = corpus.load_split(config.data_dir, "validation")
    train_arrays = evaluation_arrays(train_mel, config.max_length, config.skip_first_n_losses, config.min_window)
    val_arrays = evaluation_arrays(val_mel, config.max_length, config.skip_first_n_losses, config.min_window)
    for name, arrays in (("training", train_arrays), ("validation", val_arrays)):
        if len(arrays[0]) == 0:
            raise ValueError(f"no {name} windows of at least {config.min_window} tokens in {config.data_dir}")
    data_files = [path for split in corpus.SPLITS for path in corpus.split_files(config.data_dir, split)]
    run.start("train_config.json", config, may_change=RESUMABLE,
              inputs={"data_dir": runs.fingerprint_files(data_files)})

    return fit(config, train_arrays, val_arrays, tokens.NUM_CLASSES,
               lambda record: make_card(config, record, len(train_mel), len(val_mel), command), name="Note-RNN",
               progress=progress, restore_from=restore_from)


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
