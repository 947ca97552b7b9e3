"""Statistics of sampled SMILES: the paper's Table 2 plus MOSES's unique, novel and
internal diversity.

Table 2 (BUILD.md, "Table 2"), over the *valid* molecules as the paper:
``valid`` (fraction of all samples RDKit parses), ``mean_logp`` (Crippen), ``mean_qed``
(``rdkit.Chem.QED.qed``; the original's vendored QED returns 0 on modern RDKit),
``mean_sa_penalty`` (mean of -SA, SA the raw 1..10 Ertl score, -5 where it fails) and
``mean_ring_penalty`` (mean of -max(0, L - 6), L the largest cycle of
``networkx.cycle_basis`` on the SMILES as written, the original's measure).

MOSES (Polykovskiy et al. 2020, ``moses.metrics``): ``unique`` = distinct canonical SMILES
/ valid; ``novel`` = distinct valid molecules not in the training set / distinct valid;
``internal_diversity`` (IntDiv1) = 1 - mean Tanimoto similarity over all pairs (self-pairs
included, as MOSES) of Morgan fingerprints (radius 2, 1024 bits) of the valid molecules;
here over at most ``diversity_sample`` of them (a fixed random subset, exact below it).
``no_large_ring`` is the original's "percent with no ring > 6", over all samples;
``duplicate`` = 1 - unique.

All fractions are 0..1. Properties are computed in worker processes for large sets.
"""

from __future__ import annotations

import concurrent.futures
import functools
import multiprocessing
import os
import sys
from typing import Iterable, Optional, Sequence

import numpy as np

TABLE_2_KEYS = ("valid", "mean_logp", "mean_qed", "mean_sa_penalty", "mean_ring_penalty")
MOSES_KEYS = ("unique", "novel", "internal_diversity")
CHUNK = 2000  # molecules per worker task
PARALLEL_FROM = 4000  # fewer molecules are scored in this process


@functools.lru_cache(maxsize=1)
def _morgan_generator():
    """The Morgan fingerprint generator (radius 2, 1024 bits), made once per process."""
    from rdkit.Chem import rdFingerprintGenerator  # pylint: disable=import-outside-toplevel
    return rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)


def molecule_record(smiles: str) -> Optional[tuple]:
    """(canonical SMILES, logP, QED, SA, ring penalty, Morgan fingerprint bytes) of a valid
    SMILES, None for an invalid one."""
    from rdkit import DataStructs  # pylint: disable=import-outside-toplevel
    from molecules import chem, rewards  # pylint: disable=import-outside-toplevel
    mol = chem.parse(smiles)
    if mol is None:
        return None
    fp = _morgan_generator().GetFingerprint(mol)
    return (chem.canonical(smiles), rewards.logp(mol), rewards.qed(mol), rewards.sa(mol),
            rewards.ring_penalty(mol, rewards.RingParams(method="cycle_basis")), DataStructs.BitVectToBinaryText(fp))


def _records(smiles: Sequence[str]) -> list:
    return [molecule_record(s) for s in smiles]


def score_all(smiles: Sequence[str], workers: int = 0) -> list:
    """:func:`molecule_record` of every SMILES, in ``workers`` spawned processes (0: one per
    CPU; 1 or a small set: this process), in input order. If a worker process dies, the
    molecules are scored in this process instead (with a warning on stderr): a dead worker
    never ends a training run or an evaluation."""
    return _map_chunks(_records, smiles, workers)


def _map_chunks(function, smiles: Sequence[str], workers: int) -> list:
    """``function(smiles)`` computed over chunks in spawned processes (see :func:`score_all`)."""
    workers = workers or (os.cpu_count() or 1)
    if workers <= 1 or len(smiles) < PARALLEL_FROM:
        return function(smiles)
    chunks = [smiles[i:i + CHUNK] for i in range(0, len(smiles), CHUNK)]
    context = multiprocessing.get_context("spawn")  # never fork a process that runs TensorFlow
    try:
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            return [r for part in pool.map(function, chunks) for r in part]
    except concurrent.futures.process.BrokenProcessPool as e:  # a worker died (killed, out of memory, ...)
        print(f"warning: an RDKit worker process died ({e}); scoring the {len(smiles)} molecules in this process",
              file=sys.stderr)
        return function(smiles)


def _finished_rewards(reward_mode: str, smiles: Sequence[str]) -> list:
    from molecules import rewards  # pylint: disable=import-outside-toplevel
    reward = rewards.DomainReward(rewards.make_preset(reward_mode))
    return [reward.finished(s) for s in smiles]


def finished_rewards(smiles: Sequence[str], reward_mode: str, workers: int = 0) -> list:
    """The reward preset's reward of each SMILES as a finished molecule (its terminal step:
    :meth:`molecules.rewards.DomainReward.finished`), invalid ones included, in input order.

    For the ``default`` preset this is the whole reward of the sequence (it pays only the
    finished molecule); for ``paper`` the per-prefix terms (+-5 and P at every valid prefix)
    are left out. Scored in ``workers`` spawned processes as :func:`score_all`.

    Raises:
      ValueError: an unknown preset.
    """
    from molecules import rewards  # pylint: disable=import-outside-toplevel
    rewards.make_preset(reward_mode)  # an unknown name is refused here, not in a worker
    return _map_chunks(functools.partial(_finished_rewards, reward_mode), list(smiles), workers)


def internal_diversity(fingerprints: Sequence[bytes]) -> float:
    """1 - mean Tanimoto similarity over all ordered pairs, self-pairs included (MOSES IntDiv1).

    Args:
      fingerprints: Morgan bit vectors as ``DataStructs.BitVectToBinaryText`` bytes.

    Returns:
      A float in 0..1 (0 for no molecules).
    """
    from rdkit import DataStructs  # pylint: disable=import-outside-toplevel
    if not fingerprints:
        return 0.0
    fps = [DataStructs.CreateFromBinaryText(f) for f in fingerprints]
    total = sum(sum(DataStructs.BulkTanimotoSimilarity(fp, fps)) for fp in fps)
    return float(1.0 - total / (len(fps) ** 2))


def statistics(smiles: Sequence[str], training: Optional[Iterable[str]] = None, workers: int = 0,
               diversity_sample: int = 5000, seed: int = 0, records: Optional[list] = None,
               reward_mode: Optional[str] = None) -> dict:
    """Table 2 and the MOSES metrics of sampled SMILES (see the module docstring).

    Args:
      smiles: the sampled SMILES (the end token removed), valid or not.
      training: canonical SMILES of the training set for ``novel`` (None: ``novel`` is
        left out).
      workers: processes for RDKit (0: one per CPU).
      diversity_sample: valid molecules ``internal_diversity`` is computed over at most.
      seed: seed of that subset.
      records: precomputed :func:`score_all` of ``smiles``.
      reward_mode: a reward preset (``default``, ``paper``): adds ``mean_reward``, the mean of
        :func:`finished_rewards` over all samples, invalid ones included (None: left out).

    Returns:
      {key: float} with :data:`TABLE_2_KEYS`, ``unique``, ``duplicate``, ``internal_diversity``,
      ``no_large_ring``, ``num_samples``, ``num_valid`` and, with ``training``, ``novel``,
      with ``reward_mode``, ``mean_reward``.
      Means over no valid molecule are NaN.
    """
    records = score_all(list(smiles), workers) if records is None else records
    valid = [r for r in records if r is not None]
    n, k = len(records), len(valid)
    columns = np.array([r[1:5] for r in valid], np.float64).reshape(k, 4)
    mean = (lambda col: float(columns[:, col].mean())) if k else (lambda col: float("nan"))
    distinct = {r[0] for r in valid}
    out = {"num_samples": n, "num_valid": k, "valid": k / n if n else 0.0,
           "mean_logp": mean(0), "mean_qed": mean(1), "mean_sa_penalty": -mean(2) if k else float("nan"),
           "mean_ring_penalty": mean(3),
           "unique": len(distinct) / k if k else 0.0,
           "duplicate": 1.0 - len(distinct) / k if k else 0.0,
           "no_large_ring": float(sum(1 for r in valid if r[4] == 0.0) / n) if n else 0.0}
    if training is not None:
        train = training if isinstance(training, (set, frozenset)) else set(training)
        out["novel"] = len(distinct - train) / len(distinct) if distinct else 0.0
    fps = [r[5] for r in valid]
    if len(fps) > diversity_sample:
        keep = np.random.default_rng(seed).choice(len(fps), size=diversity_sample, replace=False)
        fps = [fps[i] for i in sorted(keep)]
    out["internal_diversity"] = internal_diversity(fps)
    if reward_mode is not None:
        out["mean_reward"] = float(np.mean(finished_rewards(list(smiles), reward_mode, workers))) if n else float("nan")
    return out
