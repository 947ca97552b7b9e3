"""What ``rl-tuner train`` decides from a run directory's own files, before TensorFlow loads.

A rerun on an existing ``--out`` resumes the run, shows the results of a finished run, or is
refused: a folder that is not a run of ``rl-tuner train``, a run another process is training,
a run with other settings. None of these needs TensorFlow (about 40 s to import on 2 cores):
they need only the directory's files (``.sequence-tutor.json``, ``config.json``, ``stats.json``,
the checkpoint state file ``ckpt/checkpoint``) and, for a finished run, the prior's weights as
NumPy arrays. :func:`check` decides them first; :func:`rl_tuner.runner.train.run` checks the same
again when it runs (and there compares a prior it could not read here, such as a Magenta
checkpoint, once the model has loaded). No TensorFlow is imported here.
"""

from __future__ import annotations

import os
import re

from rl_tuner.plumbing import atomic, checkpoint, outputs, runs

COMMAND = "rl-tuner train"
CONFIG_FILE = "config.json"
RESUMABLE = ("steps", "final_eval_samples", "num_samples")  # may change between sessions
# The prior is compared by the fingerprint of its weights (rl_tuner.plumbing.runs); only train.run can
# compute it for every kind of prior, so it is left out of the refusal decided here.
PRIOR = "prior"


def complete_line(algorithm: str, out_dir: str, step: int, steps: int) -> str:
    """The line shown for a run that is complete (its results follow, nothing is trained)."""
    return (f"The {algorithm} run in {out_dir} is complete ({step} steps, --steps {steps}); its results "
            "(stats.json) follow. Give a larger --steps to train on.")


def finished_results(out_dir: str, step: int, final_eval_samples: int) -> dict | None:
    """The final statistics of a run that is complete at ``step``, or None if they must be made.

    stats.json counts only if it was written at ``step`` with ``final_eval_samples``
    samples (a run killed while finishing, or asked for another number, evaluates again).
    """
    try:
        final = atomic.read_json(os.path.join(out_dir, "stats.json"))
    except ValueError:  # a damaged stats.json is made again
        return None
    if not isinstance(final, dict) or final.get("steps") != step:
        return None
    after = final.get("after") or {}
    if after.get("num_samples", after.get("num_melodies")) != final_eval_samples:
        return None
    return final


def checkpoint_step(out_dir: str) -> int | None:
    """The environment step of the run's last checkpoint, read from TensorFlow's state file
    ``ckpt/checkpoint`` (``model_checkpoint_path: "ckpt-N"``; the trainer numbers checkpoints
    by step), or None if there is none or its index file is missing."""
    try:
        with open(os.path.join(out_dir, "ckpt", "checkpoint"), encoding="utf-8") as f:
            found = re.search(r'^model_checkpoint_path: "(?:.*/)?ckpt-(\d+)"$', f.read(), re.M)
    except (OSError, UnicodeDecodeError):
        return None
    if not found or not os.path.isfile(os.path.join(out_dir, "ckpt", f"ckpt-{found.group(1)}.index")):
        return None
    return int(found.group(1))


def prior_fingerprint(path: str) -> str | None:
    """:func:`rl_tuner.plumbing.runs.fingerprint_weights` of a prior in this project's checkpoint format,
    read with NumPy (the same value as of the loaded model), or None for any other prior or
    a checkpoint that does not read (train.run then loads it and says what is wrong)."""
    if not path or not checkpoint.is_checkpoint(path):
        return None
    try:
        return runs.fingerprint_weights(checkpoint.read(path)[1])
    except (OSError, ValueError):
        return None


def check(config, out_dir: str) -> dict | None:
    """Decides what a rerun on ``out_dir`` does, as far as the directory's files tell.

    Args:
      config: the run's :class:`rl_tuner.runner.config.RLConfig` (validated, prior filled in).
      out_dir: ``--out``.

    Returns:
      The stored final statistics (stats.json) of a run that is complete with these settings;
      its config and manifest are then recorded as :func:`rl_tuner.runner.train.run` would (a prior
      that moved with the same weights is the same run) and there is nothing to train. None
      when the run must be trained, resumed or evaluated (then call ``train.run``).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: ``out_dir`` is a file or a folder that is not such a run.
      rl_tuner.plumbing.runs.RunInUseError: another process is training in ``out_dir``.
      ValueError: the run in ``out_dir`` has other settings (the prior aside), one line naming them.
    """
    if not os.path.isdir(out_dir):
        return None
    runs.check_run_directory(out_dir, COMMAND)
    if not os.path.isfile(os.path.join(out_dir, CONFIG_FILE)):
        return None
    with runs.lock(out_dir):
        runs.check_settings(out_dir, CONFIG_FILE, config, RESUMABLE + (PRIOR,))
        step = checkpoint_step(out_dir)
        if step is None or step < config.steps:
            return None
        final = finished_results(out_dir, step, config.final_eval_samples)
        fingerprint = prior_fingerprint(config.prior)
        stored = ((outputs.read_manifest(out_dir) or {}).get("inputs") or {}).get(PRIOR) or {}
        if final is None or fingerprint is None or fingerprint != stored.get("sha256"):
            return None
        checkpoint.remove_interrupted_saves(os.path.join(out_dir, "ckpt"))  # as a resume does
        runs.Run(out_dir, COMMAND).start(CONFIG_FILE, config, may_change=RESUMABLE, inputs={PRIOR: fingerprint})
        return final
