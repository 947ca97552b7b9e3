"""Exploration: the epsilon schedule and action selection (pure functions)."""

from __future__ import annotations

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner.choices import EXPLORATION_MODES as MODES  # noqa: E402


def linear_epsilon(step: int, period: int, start: float = 1.0, end: float = 0.1) -> float:
    """Linear annealing from ``start`` to ``end`` over ``period`` steps, then ``end``.

    As Magenta's ``linear_annealing``: epsilon = start - step (start - end) / period for
    step < period. A period of 0 gives ``end`` from the first step. Plain Python: it is
    evaluated once per batched environment step, outside the compiled graph.
    """
    fraction = min(step / period, 1.0) if period > 0 else 1.0
    return start + fraction * (end - start)


def select_actions(policy_logits, mode: str, epsilon, seed, random_actions=None):
    """Chooses one action per row.

    Args:
      policy_logits: [B, C] logits of the algorithm's policy.
      mode: 'egreedy' -- a uniformly random token with probability ``epsilon``, else the
        argmax; 'boltzmann' -- a sample of softmax(policy_logits) (``epsilon`` unused);
        'sample' -- like boltzmann (evaluation); 'greedy' -- argmax.
      epsilon: scalar exploration probability.
      seed: int64 [2] stateless seed.
      random_actions: optional int32 [K] tokens epsilon-greedy draws from at random (the
        task's exploration set, e.g. without the end token); None: all C tokens.

    Returns:
      int32 [B] actions, the tokens actually played (and stored).
    """
    batch = tf.shape(policy_logits)[0]
    num_classes = tf.shape(policy_logits)[1]
    greedy = tf.argmax(policy_logits, axis=-1, output_type=tf.int32)
    if mode == "greedy":
        return greedy
    if mode in ("boltzmann", "sample"):
        return tf.random.stateless_categorical(policy_logits, 1, seed=seed, dtype=tf.int32)[:, 0]
    if mode == "egreedy":
        seeds = tf.random.experimental.stateless_split(seed, 2)
        explore = tf.random.stateless_uniform([batch], seed=seeds[0]) < epsilon
        if random_actions is None:
            random = tf.random.stateless_uniform([batch], seed=seeds[1], maxval=num_classes, dtype=tf.int32)
        else:
            index = tf.random.stateless_uniform([batch], seed=seeds[1], maxval=tf.size(random_actions), dtype=tf.int32)
            random = tf.gather(random_actions, index)
        return tf.where(explore, random, greedy)
    raise ValueError(f"unknown exploration mode {mode!r}; choose one of {', '.join(MODES)}")


def policy_statistics(policy_logits, log_prior):
    """Per-row entropy of the policy and KL(pi || p) in nats.

    Returns:
      (entropy [B], kl [B]).
    """
    log_pi = tf.nn.log_softmax(policy_logits)
    pi = tf.exp(log_pi)
    entropy = -tf.reduce_sum(pi * log_pi, axis=-1)
    kl = tf.reduce_sum(pi * (log_pi - log_prior), axis=-1)
    return entropy, kl
