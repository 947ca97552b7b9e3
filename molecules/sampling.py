"""``molecules sample`` and ``molecules evaluate``: SMILES from a prior or a tuned run.

PATH is a SMILES-RNN checkpoint (the MLE row of Table 2), a ``molecules train-prior`` run,
or a tuned ``rl-tuner train --task smiles`` run / policy directory. Sampling is the core's
(:func:`rl_tuner.runner.evaluate.sample_policy`): from the zero state and the task's priming token (``<bos>``,
or for the original's characters a random one of indices 1..33, not part of the molecule),
softmax of the policy at ``temperature``, until the end token or ``max_length`` tokens,
deterministic per seed (the paper's evaluation: BUILD.md, "Table 2").
"""

from __future__ import annotations

import os
import time

EVALUATE_COMMAND = "molecules evaluate"
SAMPLE_COMMAND = "molecules sample"
DEFAULT_MAX_LENGTH = 120  # the original's max_seq_len


def load(path: str):
    """(policy, task) of PATH (see the module docstring).

    Raises:
      FileNotFoundError, ValueError: nothing loadable at PATH, or not a SMILES model.
    """
    from rl_tuner import tasks  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import checkpoint  # pylint: disable=import-outside-toplevel  (TensorFlow)
    from rl_tuner.runner import policy  # pylint: disable=import-outside-toplevel  (TensorFlow)
    task = tasks.get_task("smiles")  # the registry's (no import of molecules.task: no import cycle)
    model = path
    if not policy.is_policy_dir(path) and not policy.is_policy_dir(os.path.join(path, "policy")) \
            and checkpoint.is_checkpoint(os.path.join(path, "model")):
        model = os.path.join(path, "model")  # a train-prior run: its best model
    return policy.load_policy(model, task=task), task


def sample_smiles(path: str, num: int, seed: int = 0, temperature: float = 1.0,
                  max_length: int = DEFAULT_MAX_LENGTH) -> tuple:
    """Samples ``num`` SMILES from PATH.

    Returns:
      (list of ``num`` SMILES strings (end token removed; may be invalid or empty), the
      sample dict of :func:`rl_tuner.runner.evaluate.sample_policy`, the policy, seconds spent sampling).

    Raises:
      ValueError: a non-positive num, max_length or temperature (before the model loads).
    """
    from rl_tuner.sampling_args import check_sampling_args  # pylint: disable=import-outside-toplevel
    check_sampling_args(num, max_length, temperature)
    pol, task = load(path)
    from rl_tuner.runner import evaluate  # pylint: disable=import-outside-toplevel
    t0 = time.time()
    samples = evaluate.sample_policy(pol, num, max_length, temperature, seed, end_token=task.end_token,
                              first_tokens=task.first_tokens())
    return task.smiles(samples["tokens"], samples["lengths"]), samples, pol, time.time() - t0


# Why a `molecules evaluate` without --data has no "novel" (printed, and in stats.json's "definitions").
NO_NOVEL = ("novel not computed: it needs --data DIR, a `molecules prepare` data set whose train split the "
            "molecules are compared with")


def evaluate(path: str, num: int, out: str, seed: int = 0, temperature: float = 1.0,
             max_length: int = DEFAULT_MAX_LENGTH, data_dir: str | None = None, workers: int = 0,
             overwrite: bool = False, reward_mode: str | None = None) -> dict:
    """Table 2 and the MOSES metrics of ``num`` SMILES sampled from PATH, written to ``out``.

    Args:
      path: the model (see the module docstring).
      num: molecules to sample.
      out: the JSON file (``written_by`` = molecules evaluate; see :mod:`rl_tuner.plumbing.outputs`).
      seed, temperature, max_length: sampling settings.
      data_dir: a ``molecules prepare`` data set whose train split defines ``novel``
        (None: ``novel`` is left out).
      workers: RDKit processes (0: one per CPU).
      overwrite: replace an ``out`` that is not this command's earlier output.
      reward_mode: the reward preset of ``mean_reward`` (None: the tuned run's own, read from
        its config.json, else ``default``).

    Returns:
      The statistics (:func:`molecules.evaluation.statistics` plus the per-token means of
      the core: mean_log_prior, mean_kl, mean_entropy, mean_length; timing; model).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: ``out`` may not be written (checked before sampling).
      FileNotFoundError, ValueError: a bad model or data set.
    """
    from molecules import data, evaluation  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import outputs  # pylint: disable=import-outside-toplevel
    inputs = [path] + ([data_dir] if data_dir else [])
    outputs.check_file(out, EVALUATE_COMMAND, overwrite, inputs=inputs)
    training = set(data.load_split(data_dir, "train")) if data_dir else None
    smiles, samples, pol, sampling_seconds = sample_smiles(path, num, seed, temperature, max_length)
    from rl_tuner.runner import evaluate as core  # pylint: disable=import-outside-toplevel
    t0 = time.time()
    reward_mode = reward_mode or run_reward_mode(path)
    result = evaluation.statistics(smiles, training=training, workers=workers, seed=seed, reward_mode=reward_mode)
    result.update(core.measure(samples, task=None))
    result.update({"model": path, "algorithm": pol.algorithm, "reward_mode": reward_mode, "seed": seed, "temperature": temperature,
                   "max_length": max_length, "sampling_seconds": sampling_seconds,
                   "scoring_seconds": time.time() - t0,
                   "definitions": "fractions 0..1; Table-2 means over valid molecules (BUILD.md, \"Table 2\"); "
                                  "unique, novel, internal_diversity as MOSES" + ("" if data_dir else "; " + NO_NOVEL)})
    outputs.write_json(out, result, EVALUATE_COMMAND, overwrite, inputs=inputs)
    return result


def run_reward_mode(path: str) -> str:
    """The reward preset of a tuned run at ``path`` (its config.json's ``reward_mode``, also
    for PATH/policy or a policy folder inside the run), else ``default``."""
    from rl_tuner.runner import policy  # pylint: disable=import-outside-toplevel
    for folder in (path, os.path.dirname(os.path.abspath(path))):
        stored = policy.stored_run_config(folder)
        if stored is not None and stored.get("task") == "smiles" and stored.get("reward_mode"):
            return str(stored["reward_mode"])
    return "default"


def write_samples(path: str, num: int, out: str, seed: int = 0, temperature: float = 1.0,
                  max_length: int = DEFAULT_MAX_LENGTH, overwrite: bool = False) -> list:
    """Writes ``num`` sampled SMILES to the text file ``out``, one a line (an invalid or
    empty sample stays as its line, so line k is sample k).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: ``out`` exists (without ``overwrite``), is an input or
        lies in a training run.
    """
    from molecules import media  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import outputs  # pylint: disable=import-outside-toplevel
    outputs.check_file(out, SAMPLE_COMMAND, overwrite, inputs=[path])
    smiles = sample_smiles(path, num, seed, temperature, max_length)[0]
    outputs.check_file(out, SAMPLE_COMMAND, overwrite, inputs=[path])
    media.write_smiles(smiles, out)
    return smiles
