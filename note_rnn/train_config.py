"""The settings of a Note-RNN training run (``note-rnn train``); no TensorFlow import.

Kept apart from :mod:`note_rnn.train` so that the command line (and ``--help``) can be
built without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses

from rl_tuner.plumbing.ranges import COUNT, SEED, at_least, between, check_ranges, positive


@dataclasses.dataclass
class TrainConfig:
    """Hyperparameters of a Note-RNN training run.

    Attributes:
      data_dir: data set written by ``note-rnn prepare`` (train.npz, validation.npz, or their
        TFRecord shards).
      out_dir: run directory (checkpoints, logs, exported model); rerun to resume.
      layer_sizes: LSTM units per layer (the paper: one layer of 100).
      batch_size: windows per batch (Magenta: 128).
      max_length: tokens per training window (longer melodies are cut into windows).
      epochs: passes over the training windows.
      learning_rate: initial Adam learning rate.
      decay_steps: steps per learning-rate decay period.
      decay_rate: learning-rate factor per decay period (Magenta: 0.85 per 1000 steps).
      staircase: decay in steps rather than continuously.
      clip_norm: global gradient-norm clip (Magenta: 5).
      l2_reg: weight of the L2 penalty sum(w^2)/2 on kernels (Magenta: 2.5e-5).
      skip_first_n_losses: predictions at the start of each window with no loss (Magenta's
        released config: 32; the paper: 8).
      seed: seed of initialisation and shuffling.
      min_window: windows shorter than this many tokens are dropped.
      strategy: tf.distribute strategy: "default" (one device), "mirrored" (MirroredStrategy
        over the visible devices) or "multi_worker" (MultiWorkerMirroredStrategy from the
        TF_CONFIG environment variable); the global batch_size is split over the replicas.
    """

    data_dir: str = "data/folk"
    out_dir: str = "runs/note_rnn"
    layer_sizes: tuple[int, ...] = (100,)
    batch_size: int = 128
    max_length: int = 128
    epochs: int = 60
    learning_rate: float = 0.01
    decay_steps: int = 1000
    decay_rate: float = 0.85
    staircase: bool = True
    clip_norm: float = 5.0
    l2_reg: float = 2.5e-5
    skip_first_n_losses: int = 8
    seed: int = 0
    min_window: int = 16
    strategy: str = "default"

    # Allowed values of every numeric setting (checked here and by the command line).
    RANGES = {
        "layer_sizes": COUNT, "batch_size": COUNT, "max_length": at_least(2), "epochs": COUNT,
        "learning_rate": positive(), "decay_steps": COUNT, "decay_rate": between(0.0, 1.0, low_open=True),
        "clip_norm": positive(), "l2_reg": at_least(0.0, integer=False), "skip_first_n_losses": at_least(0),
        "seed": SEED, "min_window": at_least(1),
    }

    def __post_init__(self):
        """Checks every setting (see ``RANGES``).

        Raises:
          ValueError: naming the setting, for a value outside its range (NaN and infinity
            included), ``min_window`` > ``max_length``, or a ``skip_first_n_losses`` that
            leaves no loss in a window.
        """
        self.layer_sizes = tuple(self.layer_sizes)
        check_ranges(self, self.RANGES)
        self.layer_sizes = tuple(int(n) for n in self.layer_sizes)
        if self.skip_first_n_losses >= self.max_length - 1:
            raise ValueError(
                f"skip_first_n_losses ({self.skip_first_n_losses}) leaves no loss in windows of "
                f"{self.max_length} tokens")
        if self.min_window > self.max_length:
            raise ValueError(f"min_window ({self.min_window}) must not exceed max_length ({self.max_length})")
