"""A finished run's settings and final statistics on TensorBoard's HParams dashboard.

Every ``rl-tuner train`` run writes, when it finishes, one HParams session into its own run
directory: the run's settings (the :class:`rl_tuner.runner.config.RLConfig` fields) as
hyperparameters and its final statistics (``stats.json``'s ``after``: for melodies the
paper's Table 1, mean log p, r_MT and KL) as ``final/<name>`` scalars, which the dashboard
offers as metrics. Runs under one log directory (algorithms, seeds, a sweep of c) then
compare in one table: ``tensorboard --logdir runs/study``.
"""

from __future__ import annotations

import math
import os

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

METRIC_PREFIX = "final/"


def hparams_of(config: dict) -> dict:
    """The settings of a run as HParams values (bool, int, float or str).

    Args:
      config: a run's settings (``config.json``, i.e. ``dataclasses.asdict(RLConfig)``).

    Returns:
      {name: value}; the prior is given by its folder name (not a machine path), values that
      are neither bool, number nor string (lists) become their ``str``, None becomes "none".
    """
    values = {}
    for key, value in sorted(config.items()):
        if key == "prior" and isinstance(value, str):
            value = os.path.basename(os.path.normpath(value))
        if value is None:
            value = "none"
        elif not isinstance(value, (bool, int, float, str)):
            value = str(value)
        values[key] = value
    return values


def metrics_of(final: dict) -> dict:
    """The finite numbers of a run's final statistics (``stats.json``'s ``after``), by
    ``final/<name>`` (timings and sample counts left out)."""
    after = final.get("after") or {}
    return {METRIC_PREFIX + key: float(value) for key, value in sorted(after.items())
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and not key.endswith("_seconds") and key not in ("num_samples", "num_melodies", "step")}


def write_hparams(writer, config: dict, final: dict) -> None:
    """Writes one HParams session (settings and final metrics) with ``writer``.

    Args:
      writer: a ``tf.summary`` writer of the run directory.
      config: the run's settings (see :func:`hparams_of`).
      final: the run's final statistics (``stats.json``: ``steps`` and ``after``).
    """
    from tensorboard.plugins.hparams import api as hp
    step = int(final.get("steps", 0))
    with writer.as_default():
        hp.hparams(hparams_of(config))
        for tag, value in metrics_of(final).items():
            tf.summary.scalar(tag, value, step=step)
    writer.flush()
