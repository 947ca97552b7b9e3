"""Evaluation: sample sequences from a policy in large batches and measure them.

For each token the sampler records log p(token|s) under the frozen reward network, log pi(token|s)
under the (tempered) policy and, for each state, the policy's entropy and KL(pi || p).
:func:`evaluate_policy` turns those into mean log p, entropy, KL and log pi per token (the prior's
and the agent's NLL are -mean_log_prior and -mean_log_policy) plus the task's own statistics
(:meth:`rl_tuner.tasks.Task.measure`; for melodies Table 1 and r_MT). Unlike the original
(which kept only each melody's last note), means are over all tokens of every sequence.

With an end token a sequence stops at it: its length counts the end token, later positions
are padding (the end token again) and count in no mean.
"""

from __future__ import annotations

import time

import numpy as np

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner.models import sampling  # noqa: E402
from rl_tuner.kl_control import exploration  # noqa: E402


RECORDS = ("log_prior", "entropy", "kl", "log_policy")


def policy_sample_loop(policy, num, length, temperature, seed, primer=None, first_tokens=None, never_sampled=None):
    """Samples from ``policy`` inside TensorFlow (stateless seeds, deterministic).

    Each sequence starts from the zero state and a priming token drawn uniformly from all
    tokens (or from ``first_tokens``, the task's :meth:`rl_tuner.tasks.Task.first_tokens`);
    the priming token is not part of the output (as :func:`rl_tuner.models.sampling.sample_model`).
    With ``primer`` (int32 [k]) every sequence starts with the primer instead, fed through
    both the Q-network and the prior, and continues from their states after it
    (:func:`rl_tuner.models.sampling.sample_loop`). Tokens in ``never_sampled`` (a task's
    :meth:`rl_tuner.tasks.Task.never_sampled_tokens`) are never drawn, at any temperature.

    Returns:
      dict of tokens int32 [num, length] and, per note, log p(note|s) under the prior,
      log pi(note|s) under the tempered policy (``log_policy``), the
      entropy of the (tempered) policy and KL(pi || p), float32 [num, length].
    """
    def record(logits, next_tokens, log_prior):
        entropy, kl = exploration.policy_statistics(logits, log_prior)
        log_policy = tf.gather(tf.nn.log_softmax(logits), next_tokens, batch_dims=1)
        return tf.gather(log_prior, next_tokens, batch_dims=1), entropy, kl, log_policy

    tokens, records, first = sampling.sample_loop(policy.step, policy.zero_state(num), num, length, temperature,
                                                  seed, policy.num_classes, record, len(RECORDS), primer=primer,
                                                  first_tokens=first_tokens, return_first=True,
                                                  never_sampled=never_sampled)
    return {"tokens": tokens, "first_tokens": first, **dict(zip(RECORDS, records))}


def never_sampled_of(policy, task=None, never_sampled=None):
    """The tokens a sampler of ``policy`` never draws: ``never_sampled`` if given, else the
    task's (:meth:`rl_tuner.tasks.Task.never_sampled_tokens`), else those the policy was
    loaded with (``policy.never_sampled``, set by :func:`rl_tuner.runner.policy.load_policy` from its
    task); a sorted tuple, or None."""
    for tokens in (never_sampled, None if task is None else task.never_sampled_tokens(),
                   getattr(policy, "never_sampled", None)):
        if tokens:
            return tuple(sorted({int(t) for t in tokens}))
    return None


def _compiled_sampler(policy, first_tokens=None, never_sampled=None):
    """The policy's compiled sampler for one set of priming and never-sampled tokens (traced
    once per set)."""
    key = (None if first_tokens is None else tuple(int(t) for t in first_tokens), never_sampled)
    cache = policy.__dict__.setdefault("_compiled_samplers", {})
    if key not in cache:
        cache[key] = tf.function(lambda num, length, temperature, seed, primer: policy_sample_loop(
            policy, num, length, temperature, seed, primer, key[0], never_sampled),
            input_signature=sampling.CHUNK_SIGNATURE)
    return cache[key]


def sample_policy(policy, num: int, length: int = 32, temperature: float = 1.0, seed: int = 0,
           batch_size: int = 25_000, primer=None, end_token: int | None = None, first_tokens=None,
           never_sampled=None) -> dict:
    """Samples ``num`` sequences of at most ``length`` tokens (a primer included); returns
    NumPy arrays (see :func:`policy_sample_loop`) plus ``lengths``.

    Args:
      end_token: the task's end token, or None: a sequence stops at its first end token
        (see :func:`end_at_token`).
      first_tokens: the tokens the priming token is drawn from (None: all).
      never_sampled: tokens never drawn (default: :func:`never_sampled_of` the policy, i.e.
        those of the task it was loaded with).

    Returns:
      {"tokens": int32 [num, length], "lengths": int32 [num], "log_prior", "entropy", "log_policy",
      "kl": float32 [num, length]}. When the prior's input encoder has ``task_tokens``, "tokens"
      are the task's tokens it maps the sampled ones to, and "model_tokens" the sampled ones.

    Raises:
      ValueError: see :func:`rl_tuner.models.sampling.check_sampling_args`.
    """
    parts = sampling.sample_in_chunks(_compiled_sampler(policy, first_tokens, never_sampled_of(policy, None, never_sampled)),
                                      num, length, temperature, seed, batch_size, primer, num_classes=policy.num_classes)
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    first = out.pop("first_tokens")
    out["tokens"], out["lengths"] = end_at_token(out["tokens"], end_token)
    encoder = getattr(getattr(policy, "prior_rnn", None), "input_encoder", None)
    if hasattr(encoder, "task_tokens"):  # the model's classes as the task's tokens (e.g. repeats decoded)
        model_tokens = out["tokens"]
        if primer is None:  # decoded after the priming token the model read first
            decoded = encoder.task_tokens(np.concatenate([first[:, None], model_tokens], axis=1))[:, 1:]
        else:
            decoded = encoder.task_tokens(model_tokens)
        out["model_tokens"], out["tokens"] = model_tokens, decoded
    return out


def end_at_token(tokens: np.ndarray, end_token: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Cuts sampled sequences at their first ``end_token``.

    Args:
      tokens: int [N, T].
      end_token: the end token, or None (every sequence has length T).

    Returns:
      (tokens int32 [N, T] with every position after the first end token set to the end
      token, lengths int32 [N]: the position of the first end token + 1, or T without one).
    """
    tokens = np.asarray(tokens, np.int32)
    num, length = tokens.shape
    if end_token is None:
        return tokens, np.full(num, length, np.int32)
    is_end = tokens == end_token
    lengths = np.where(is_end.any(axis=1), is_end.argmax(axis=1) + 1, length).astype(np.int32)
    valid = np.arange(length)[None, :] < lengths[:, None]
    return np.where(valid, tokens, np.int32(end_token)), lengths


def measure(samples: dict, task=None) -> dict:
    """Mean log p, entropy and KL per token of sampled sequences (over the tokens within each
    sequence's length) plus the task's statistics (:meth:`rl_tuner.tasks.Task.measure`)."""
    tokens = samples["tokens"]
    lengths = samples.get("lengths")
    if lengths is None:
        lengths = np.full(len(tokens), tokens.shape[1], np.int32)
    valid = np.arange(tokens.shape[1])[None, :] < np.asarray(lengths)[:, None]
    result = dict(task.measure(tokens, lengths)) if task is not None else {}
    for key in RECORDS:
        values = np.asarray(samples[key])
        result[f"mean_{key}"] = float(np.mean(values if valid.all() else values[valid]))
    result["mean_length"] = float(np.mean(lengths))
    return result


def evaluate_policy(policy, num_samples: int, length: int = 32, seed: int = 0, temperature: float = 1.0,
                    task=None) -> dict:
    """Samples ``num_samples`` sequences and returns :func:`measure` plus timing.

    Args:
      policy: a :class:`rl_tuner.runner.policy.Policy`.
      num_samples: sequences to sample.
      length: tokens per sequence (the maximum with an end token).
      seed: sampling seed.
      temperature: softmax temperature.
      task: the :class:`rl_tuner.tasks.Task` measuring the sequences (None: only the
        core's per-token means); its end token ends a sequence.
    """
    t0 = time.time()
    samples = sample_policy(policy, num_samples, length, temperature, seed, end_token=getattr(task, "end_token", None),
                     first_tokens=task.first_tokens() if task is not None else None,
                     never_sampled=never_sampled_of(policy, task))
    t1 = time.time()
    result = measure(samples, task)
    result.update({"num_samples": num_samples, "sampling_seconds": t1 - t0,
                   "scoring_seconds": time.time() - t1, "algorithm": policy.algorithm})
    return result


def next_note_probabilities(policy, length: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One sampled sequence and the policy's next-token distribution at each step.

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
