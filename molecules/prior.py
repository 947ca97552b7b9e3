"""The SMILES-RNN: maximum-likelihood training (``molecules train-prior``) and loading.

The model is the core's one sequence model (:class:`rl_tuner.models.sequence_model.SequenceRNN`)
over a SMILES vocabulary, stored in the checkpoint (format ``sequence_rnn/1``), so a
checkpoint carries its tokenizer: an atom-level vocabulary starts ``<eos>``, ``<bos>``, the
original's 35 characters are recognised as such (:func:`tokenizer_of`).

Each molecule is one training sequence: atom-level ``<bos> tokens <eos>``, every token after
``<bos>`` a target; character-level (the original, BUILD.md "The SMILES-RNN priors") ``chars ' '``,
the first character never a target (the original has no begin token; sampling starts from
a primer). Padding carries no loss (the original scored padding too: a deviation, BUILD.md).

The run directory holds ``ckpt/`` (full training state after every epoch: resume by running
the same command again), ``logs/`` (TensorBoard), ``model/`` (the best model so far by
validation loss, with a card), ``history.json``, ``prior_config.json``, a manifest and
``.lock`` (see :mod:`rl_tuner.plumbing.runs`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import numpy as np

from molecules import data as data_lib
from molecules import tokenizers
from molecules.prior_config import PriorConfig

COMMAND = "molecules train-prior"
RESUMABLE = ("epochs", "out_dir", "card_samples", "strategy")  # may change between sessions


def tokenizer_of(vocabulary) -> tokenizers.Tokenizer:
    """The tokenizer a stored SMILES vocabulary belongs to.

    Args:
      vocabulary: the checkpoint's symbols in index order.

    Raises:
      ValueError: the vocabulary is neither atom-level (``<eos>``, ``<bos>`` first) nor the
        original's 35 characters.
    """
    symbols = list(vocabulary or [])
    if symbols[:2] == [tokenizers.END_TOKEN, tokenizers.BEGIN_TOKEN]:
        return tokenizers.AtomTokenizer(symbols[2:])
    if tuple(symbols) == tuple(tokenizers.PAPER_SYMBOLS):
        return tokenizers.paper_tokenizer()
    raise ValueError("the model's vocabulary is not a SMILES vocabulary (neither atom-level nor the "
                     "original's 35 characters)")


def load(path: str):
    """Loads a SMILES-RNN checkpoint.

    Args:
      path: a checkpoint directory, or a ``molecules train-prior`` run (its ``model/``).

    Returns:
      (:class:`rl_tuner.models.sequence_model.SequenceRNN`, tokenizer).

    Raises:
      FileNotFoundError, ValueError: no checkpoint, a damaged one, or one without a SMILES
        vocabulary (the message names the path).
    """
    from rl_tuner.plumbing import checkpoint  # pylint: disable=import-outside-toplevel  (TensorFlow)
    model = checkpoint.load_model(checkpoint.model_path(path), name="smiles_rnn")
    try:
        tokenizer = tokenizer_of(model.config.vocabulary)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return model, tokenizer


def encode_molecules(smiles, tokenizer) -> list:
    """Token sequences of the training windows, dropping lines outside the vocabulary.

    Returns:
      (list of int32 arrays, number of dropped lines).
    """
    out, dropped = [], 0
    for line in smiles:
        if tokenizer.unknown_symbols(line):
            dropped += 1
            continue
        out.append(tokenizer.encode(line))  # char: no begin token, so the first char is never a target
    return out, dropped


def _subset(items: list, limit, seed: int) -> list:
    if limit is None or limit >= len(items):
        return items
    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=limit, replace=False))
    return [items[i] for i in keep]


def train(config: PriorConfig, command: str | None = None, progress: bool = True) -> dict:
    """Trains (or resumes training of) a SMILES-RNN.

    Under ``strategy="multi_worker"`` only the chief writes ``out_dir``; the other workers
    write into temporary directories they remove at the end (:mod:`rl_tuner.plumbing.workers`).

    Args:
      config: the run's settings.
      command: the command line that started the run (recorded in the model card).
      progress: show a progress bar (only when stderr is a terminal).

    Returns:
      The history dict (also ``out_dir/history.json``).

    Raises:
      FileNotFoundError: the data set is missing (the message says how to build it).
      ValueError: a run with different settings, a run another process trains, a
        directory that is not such a run, or no trainable molecule.
      FloatingPointError: the loss became NaN (the last good checkpoint is kept).
    """
    from rl_tuner.models import mle  # pylint: disable=import-outside-toplevel
    with mle.training_run(config, COMMAND) as (run_config, run, restore_from):
        return _train(run_config, run, command, progress, restore_from)


def _train(config: PriorConfig, run, command, progress, restore_from=None) -> dict:
    from rl_tuner.models import mle  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import runs  # pylint: disable=import-outside-toplevel

    tokenizer = (data_lib.load_tokenizer(config.data_dir) if config.tokenizer == "data"
                 else tokenizers.paper_tokenizer())
    splits = {}
    data_lib.load_summary(config.data_dir)  # a missing data set says how to build one
    if not data_lib.split_files(config.data_dir, "validation"):
        name = "validation-*.tfrecord" if data_lib.data_format(config.data_dir) == "tfrecord" else "validation.smi.gz"
        raise FileNotFoundError(f"{config.data_dir} has no validation split ({name}): `molecules prepare` "
                                "put no molecule there; prepare it with more molecules or a larger --validation-fraction")
    for split, limit in (("train", config.max_train), ("validation", config.max_validation)):
        lines = _subset(data_lib.load_split(config.data_dir, split), limit, config.seed)
        seqs, dropped = encode_molecules(lines, tokenizer)
        if not seqs:
            raise ValueError(f"no {split} molecule of {config.data_dir} fits {tokenizer.describe()}")
        splits[split] = (seqs, dropped)
    max_length = max(len(s) for seqs, _ in splits.values() for s in seqs)
    arrays = {split: mle.evaluation_arrays(seqs, max_length, config.skip_first_n_losses, config.min_window)
              for split, (seqs, _) in splits.items()}
    files = data_lib.split_files(config.data_dir, "train") + data_lib.split_files(config.data_dir, "validation")
    run.start("prior_config.json", config, may_change=RESUMABLE, inputs={"data_dir": runs.fingerprint_files(files)})

    def make_card(record):
        return {
            "model": f"SMILES-RNN (Keras LSTM language model, {tokenizer.describe()})",
            "data": {"data_dir": os.path.basename(os.path.normpath(config.data_dir)),
                     "train_molecules": len(splits["train"][0]), "validation_molecules": len(splits["validation"][0]),
                     "skipped_outside_vocabulary": {k: v[1] for k, v in splits.items()},
                     "max_length_tokens": max_length},
            "tokenizer": tokenizer.to_json(),
            "hyperparameters": {k: v for k, v in dataclasses.asdict(config).items() if k not in ("data_dir", "out_dir")},
            "metrics": {k: record[k] for k in ("epoch", "step", "validation_accuracy", "validation_log_perplexity",
                                               "train_accuracy", "train_log_perplexity")},
            "metric_definitions": "accuracy of the argmax next-token prediction and mean negative log-likelihood "
                                  "(nats per token) over validation molecules, padding excluded",
            "command": command,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        }

    history = mle.fit(config, arrays["train"], arrays["validation"], tokenizer.vocab_size, make_card,
                      vocabulary=tokenizer.symbols, name="SMILES-RNN", progress=progress, restore_from=restore_from)
    model_dir = os.path.join(config.out_dir, "model")
    if config.card_samples and os.path.isdir(model_dir) and restore_from is None:  # (not a non-chief worker's copy)
        add_sample_metrics(model_dir, config.data_dir, config.card_samples, seed=config.seed)
    return history


def add_sample_metrics(model_dir: str, data_dir: str, num: int, seed: int = 0) -> dict:
    """Samples ``num`` molecules from a SMILES-RNN checkpoint and records their valid, unique
    and novel fractions (MOSES definitions, :mod:`molecules.evaluation`; novel against the
    data set's train split) in the checkpoint's card (``card["samples"]``).

    Returns:
      The recorded dict: num_samples, seed, temperature 1, max_length, valid, unique, novel,
      internal_diversity and the Table-2 means.
    """
    from molecules import evaluation, sampling  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import atomic, checkpoint  # pylint: disable=import-outside-toplevel
    smiles = sampling.sample_smiles(model_dir, num, seed)[0]
    stats = evaluation.statistics(smiles, training=set(data_lib.load_split(data_dir, "train")), seed=seed)
    record = {"num_samples": num, "seed": seed, "temperature": 1.0, "max_length": sampling.DEFAULT_MAX_LENGTH,
              **{k: stats[k] for k in evaluation.TABLE_2_KEYS + evaluation.MOSES_KEYS if k in stats},
              "command": f"molecules evaluate --model MODEL --num {num} --seed {seed} --data DATA"}
    card = checkpoint.read_card(model_dir) or {}
    card["samples"] = record
    atomic.write_json(os.path.join(model_dir, checkpoint.CARD_FILE), card)
    print(f"{num} samples: {stats['valid']:.1%} valid, {stats['unique']:.1%} unique, "
          f"{stats.get('novel', float('nan')):.1%} novel", file=sys.stderr)
    return record


def load_with_begin(path: str, algorithm: str):
    """``(prior, tokenizer)`` of :func:`load`, for an optimiser that samples from ``<bos>``.

    Raises:
      FileNotFoundError, ValueError: as :func:`load`; ValueError also for a prior whose
        tokenizer has no ``<bos>`` token (naming ``path`` and ``--algorithm algorithm``).
    """
    prior, tokenizer = load(path)
    if tokenizer.begin_id is None:
        raise ValueError(f"{path}: --algorithm {algorithm} needs an atom-level prior (with a <bos> token), "
                         f"not {tokenizer.describe()}")
    return prior, tokenizer
