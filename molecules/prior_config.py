"""The settings of a SMILES-RNN training run (``molecules train-prior``); no TensorFlow import.

Kept apart from :mod:`molecules.prior` so that the command line (and ``--help``) can be
built without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from rl_tuner.plumbing.ranges import COUNT, SEED, at_least, between, check_ranges, positive

TOKENIZERS = ("data", "char")


@dataclasses.dataclass
class PriorConfig:
    """Hyperparameters of a SMILES-RNN (the prior of the molecule task) training run.

    The defaults are the recipe of the atom-level prior shipped as ``checkpoints/smiles_rnn``
    (one LSTM layer of 256, 6 epochs over 400,000 MOSES molecules); the paper's prior (BUILD.md, "The SMILES-RNN priors": one LSTM layer of 100, the 35-character
    vocabulary, batch 128, Adam 0.01 decayed x0.85 every 1000 steps in stairs, clip 5, no L2)
    is ``--tokenizer char --layer-sizes 100 --learning-rate 0.01``.

    Attributes:
      data_dir: data set written by ``molecules prepare`` (train/validation.smi.gz or their
        TFRecord shards, tokenizer.json).
      out_dir: run directory (checkpoints, logs, the best model in ``model/``); rerun to
        resume.
      tokenizer: "data" (the data set's own tokenizer, atom-level by default) or "char" (the
        original's 35 characters; lines outside it are skipped and counted).
      layer_sizes: LSTM units per layer.
      batch_size: molecules per batch (the original: 128).
      epochs: passes over the training molecules (a pass over ``max_train`` of them).
      max_train: train on this many molecules of the train split (a fixed random subset by
        ``seed``); a count at least the split's size (or None in Python) uses all of it.
      max_validation: score validation on this many molecules (a fixed subset); None: all.
      learning_rate: initial Adam learning rate.
      decay_steps: steps per learning-rate decay period.
      decay_rate: learning-rate factor per decay period (the original: 0.85 per 1000 steps).
      staircase: decay in steps rather than continuously.
      clip_norm: global gradient-norm clip (the original: 5).
      l2_reg: weight of the L2 penalty on kernels (the original sets 2.5e-5 but never
        applies it: 0).
      seed: seed of initialisation, subsets and shuffling.
      card_samples: when the run ends, this many molecules are sampled from the best model
        and its card gets their valid, unique and novel fractions (0: none).
      strategy: tf.distribute strategy: "default" (one device), "mirrored" (MirroredStrategy
        over the visible devices) or "multi_worker" (MultiWorkerMirroredStrategy from the
        TF_CONFIG environment variable); the global batch_size is split over the replicas.
    """

    data_dir: str = "data/moses"
    out_dir: str = "runs/smiles_rnn"
    tokenizer: str = "data"
    layer_sizes: tuple[int, ...] = (256,)
    batch_size: int = 128
    epochs: int = 6
    max_train: Optional[int] = 400_000
    max_validation: Optional[int] = 20000
    learning_rate: float = 0.005
    decay_steps: int = 2000
    decay_rate: float = 0.9
    staircase: bool = True
    clip_norm: float = 5.0
    l2_reg: float = 0.0
    seed: int = 0
    card_samples: int = 10_000
    strategy: str = "default"

    RANGES = {
        "layer_sizes": COUNT, "batch_size": COUNT, "epochs": COUNT, "max_train": at_least(1, optional=True),
        "max_validation": at_least(1, optional=True), "learning_rate": positive(), "decay_steps": COUNT,
        "decay_rate": between(0.0, 1.0, low_open=True), "clip_norm": positive(),
        "l2_reg": at_least(0.0, integer=False), "seed": SEED,
        "card_samples": at_least(0),
    }

    def __post_init__(self):
        """Checks every setting (see ``RANGES``).

        Raises:
          ValueError: naming the setting, for a value outside its range or an unknown
            tokenizer.
        """
        self.layer_sizes = tuple(self.layer_sizes)
        check_ranges(self, self.RANGES)
        self.layer_sizes = tuple(int(n) for n in self.layer_sizes)
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}")

    # What rl_tuner.models.mle's windows need: one window per molecule, every prediction scored.
    skip_first_n_losses = 0
    min_window = 2
