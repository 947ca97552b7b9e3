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

from rl_tuner import exploration, music_theory, stats  # noqa: E402


def sample_loop(policy, num, length, temperature, seed):
    """Samples from ``policy`` inside TensorFlow (stateless seeds, deterministic).

    Each sequence starts from the zero state and a priming token drawn uniformly from all
    tokens; the priming token is not part of the output.

    Returns:
      dict of tokens int32 [num, length], log_prior / entropy / kl float32 [num, length], and
      probs [num, length, C] is not returned (see :func:`next_note_probabilities`).
    """
    seed = tf.cast(seed, tf.int64)
    first = tf.random.stateless_uniform([num], seed=tf.stack([seed, tf.constant(-1, tf.int64)]),
                                        maxval=policy.num_classes, dtype=tf.int32)
    arrays = [tf.TensorArray(tf.int32, size=length)] + [tf.TensorArray(tf.float32, size=length) for _ in range(3)]

    def body(t, tokens, state, arrays):
        logits, log_prior, state = policy.step(tokens, state)
        logits = logits / temperature
        step_seed = tf.stack([seed, tf.cast(t, tf.int64)])
        nxt = tf.random.stateless_categorical(logits, 1, seed=step_seed, dtype=tf.int32)[:, 0]
        entropy, kl = exploration.policy_statistics(logits, log_prior)
        log_p = tf.gather(log_prior, nxt, batch_dims=1)
        values = (nxt, log_p, entropy, kl)
        return t + 1, nxt, state, [a.write(t, v) for a, v in zip(arrays, values)]

    _, _, _, arrays = tf.while_loop(lambda t, *_: t < length, body,
                                    (tf.constant(0), first, policy.zero_state(num), arrays))
    names = ("tokens", "log_prior", "entropy", "kl")
    return {n: tf.transpose(a.stack()) for n, a in zip(names, arrays)}


def _compiled_sampler(policy):
    fn = getattr(policy, "_compiled_sampler", None)
    if fn is None:
        fn = tf.function(lambda num, length, temperature, seed: sample_loop(policy, num, length, temperature, seed),
                         input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
                                          tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int64)])
        policy._compiled_sampler = fn
    return fn


def sample(policy, num: int, length: int = 32, temperature: float = 1.0, seed: int = 0,
           batch_size: int = 25_000) -> dict:
    """Samples ``num`` melodies; returns NumPy arrays (see :func:`sample_loop`)."""
    from note_rnn.generate import check_sampling_args
    check_sampling_args(num, length, temperature)
    fn = _compiled_sampler(policy)
    parts = []
    for k, i in enumerate(range(0, num, batch_size)):
        b = min(batch_size, num - i)
        out = fn(tf.constant(b), tf.constant(length), tf.constant(temperature, tf.float32),
                 tf.constant(seed + 1_000_003 * k, tf.int64))
        parts.append({key: v.numpy() for key, v in out.items()})
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
