"""Evaluation: sample melodies from a policy in large batches and measure them.

For each note the sampler records log p(note|s) under the frozen reward network and, for
each state, the policy's entropy and KL(pi || p). :func:`evaluate_policy` turns those into
the Table-1 statistics of :mod:`rl_tuner.stats` plus mean log p, mean r_MT and KL per note.
Unlike the original (which kept only each melody's last note), means are over all notes.
"""

from __future__ import annotations

import time

import numpy as np

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from note_rnn import generate  # noqa: E402
from rl_tuner import exploration, music_theory, stats  # noqa: E402


RECORDS = ("log_prior", "entropy", "kl")


def sample_loop(policy, num, length, temperature, seed, primer=None):
    """Samples from ``policy`` inside TensorFlow (stateless seeds, deterministic).

    Each sequence starts from the zero state and a priming token drawn uniformly from all
    tokens; the priming token is not part of the output (as :func:`note_rnn.generate.sample`).
    With ``primer`` (int32 [k]) every sequence starts with the primer instead, fed through
    both the Q-network and the prior, and continues from their states after it
    (:func:`note_rnn.generate.sample_loop`).

    Returns:
      dict of tokens int32 [num, length] and, per note, log p(note|s) under the prior, the
      entropy of the (tempered) policy and KL(pi || p), float32 [num, length].
    """
    def record(logits, next_tokens, log_prior):
        entropy, kl = exploration.policy_statistics(logits, log_prior)
        return tf.gather(log_prior, next_tokens, batch_dims=1), entropy, kl

    tokens, records = generate.sample_loop(policy.step, policy.zero_state(num), num, length, temperature, seed,
                                           policy.num_classes, record, len(RECORDS), primer=primer)
    return {"tokens": tokens, **dict(zip(RECORDS, records))}


def _compiled_sampler(policy):
    fn = getattr(policy, "_compiled_sampler", None)
    if fn is None:
        fn = tf.function(lambda num, length, temperature, seed, primer: sample_loop(
            policy, num, length, temperature, seed, primer), input_signature=generate.CHUNK_SIGNATURE)
        policy._compiled_sampler = fn
    return fn


def sample(policy, num: int, length: int = 32, temperature: float = 1.0, seed: int = 0,
           batch_size: int = 25_000, primer=None) -> dict:
    """Samples ``num`` melodies of ``length`` tokens (a primer included); returns NumPy arrays
    (see :func:`sample_loop`).

    Raises:
      ValueError: see :func:`note_rnn.generate.check_sampling_args`.
    """
    parts = generate.sample_in_chunks(_compiled_sampler(policy), num, length, temperature, seed, batch_size,
                                      primer)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def measure(samples: dict) -> dict:
    """Table-1 statistics plus mean log p, r_MT, entropy and KL of sampled melodies."""
    melodies = samples["tokens"]
    result = dict(stats.composition_stats(melodies))
    total, components = music_theory.score_melodies(melodies)
    result.update({
        "mean_log_prior": float(np.mean(samples["log_prior"])),
        "mean_music_theory_reward": float(np.mean(total)),
        "mean_entropy": float(np.mean(samples["entropy"])),
        "mean_kl": float(np.mean(samples["kl"])),
    })
    result.update({f"mean_reward_{name}": float(np.mean(v)) for name, v in components.items()})
    return result


def evaluate_policy(policy, num_melodies: int, length: int = 32, seed: int = 0, temperature: float = 1.0) -> dict:
    """Samples ``num_melodies`` melodies and returns :func:`measure` plus timing."""
    t0 = time.time()
    samples = sample(policy, num_melodies, length, temperature, seed)
    t1 = time.time()
    result = measure(samples)
    result.update({"num_melodies": num_melodies, "sampling_seconds": t1 - t0,
                   "scoring_seconds": time.time() - t1, "algorithm": policy.algorithm})
    return result


def next_note_probabilities(policy, length: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One sampled melody and the policy's next-note distribution at each step.

    Returns:
      (tokens [length], probabilities [C, length]) as in the paper's Figure 4.
    """
    rng = np.random.default_rng(seed)
    token = tf.constant([int(rng.integers(policy.num_classes))], tf.int32)
    state = policy.zero_state(1)
    tokens, probs = [], []
    for _ in range(length):
        logits, _, state = policy.step(token, state)
        p = tf.nn.softmax(logits)[0].numpy().astype(np.float64)
        token = int(rng.choice(len(p), p=p / p.sum()))
        tokens.append(token)
        probs.append(p)
        token = tf.constant([token], tf.int32)
    return np.array(tokens), np.stack(probs, axis=1)
