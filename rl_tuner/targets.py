"""TD targets, rewards and policies of the four algorithms (the paper's KL-control objectives; Magenta's
rl_tuner.py, ``build_graph``).

Notation: ``r_task`` is the task reward r_T (music theory for melodies), ``c`` the KL
weight (the original's ``reward_scaler`` is 1/c), ``log_prior`` the frozen reward
network's log p(a|s), ``next_values`` the target network's outputs at s' and
``next_log_prior`` log p(.|s'). ``discount`` is gamma; ``done`` marks terminal transitions
(no bootstrap).

=========  ==========================  ===================================================  =====================
algorithm  reward r                    target y                                             policy
=========  ==========================  ===================================================  =====================
q          log p(a|s) + r_T / c        r + gamma max_a' Q-(s', a')                          argmax / softmax(Q)
psi        log p(a|s) + r_T / c        r + gamma logsumexp_a' Psi-(s', a')                  softmax(Psi)
g          r_T / c                     r + gamma log sum_a' p(a'|s') exp G-(s', a')         softmax(G + log p)
pure_rl    r_T / c                     r + gamma max_a' Q-(s', a')                          argmax / softmax(Q)
=========  ==========================  ===================================================  =====================
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402


def _bootstrap(reward, discount, done, next_value):
    return reward + discount * (1.0 - tf.cast(done, reward.dtype)) * next_value


def q_target(reward, next_values, discount, done, next_log_prior=None):
    """Q-learning: r + gamma max_a' Q-(s', a')."""
    del next_log_prior
    return _bootstrap(reward, discount, done, tf.reduce_max(next_values, axis=-1))


def psi_target(reward, next_values, discount, done, next_log_prior=None):
    """Generalised Psi-learning: r + gamma logsumexp_a' Psi-(s', a')."""
    del next_log_prior
    return _bootstrap(reward, discount, done, tf.reduce_logsumexp(next_values, axis=-1))


def g_target(reward, next_values, discount, done, next_log_prior):
    """G-learning: r + gamma log sum_a' p(a'|s') exp G-(s', a').

    ``next_log_prior`` must be a normalised log-softmax of the reward network at s'.
    """
    return _bootstrap(reward, discount, done, tf.reduce_logsumexp(next_values + next_log_prior, axis=-1))


def double_q_target(reward, next_values, discount, done, next_log_prior=None, online_next_values=None):
    """Double Q-learning (van Hasselt et al. 2016): r + gamma Q-(s', argmax_a' Q(s', a')).

    The online network chooses the action, the target network values it, so the noise of one
    estimate is not both selected and counted (the max of noisy values is biased upwards).
    """
    del next_log_prior
    best = tf.argmax(online_next_values, axis=-1, output_type=tf.int32)
    return _bootstrap(reward, discount, done, tf.gather(next_values, best, batch_dims=1))


def _soft_value(next_values, policy_logits, next_log_prior):
    """E_pi[values - log(pi / p)] with pi = softmax(policy_logits) (log p = 0 if None)."""
    log_pi = tf.nn.log_softmax(policy_logits)
    kl_terms = log_pi if next_log_prior is None else log_pi - next_log_prior
    return tf.reduce_sum(tf.exp(log_pi) * (next_values - kl_terms), axis=-1)


def double_psi_target(reward, next_values, discount, done, next_log_prior=None, online_next_values=None):
    """Psi-learning with the double estimator: r + gamma E_pi[Psi-(s', a') - log pi(a'|s')], pi =
    softmax of the online network's Psi(s', .).

    With pi = softmax(Psi-) this is exactly logsumexp Psi-(s', .) (:func:`psi_target`); for any
    other pi it is lower (Gibbs' inequality), so the soft maximum over noisy target values is
    taken with the online network's weights, as double Q-learning takes the max (the soft
    state value of Haarnoja et al. 2018, eq. 3, with the online policy).
    """
    del next_log_prior
    return _bootstrap(reward, discount, done, _soft_value(next_values, online_next_values, None))


def double_g_target(reward, next_values, discount, done, next_log_prior, online_next_values=None):
    """G-learning with the double estimator: r + gamma E_pi[G-(s', a') - log(pi(a'|s') / p(a'|s'))],
    pi ~ p exp G(s', .) of the online network.

    With pi ~ p exp G- this is exactly log sum p exp G-(s', .) (:func:`g_target`); otherwise lower.
    """
    return _bootstrap(reward, discount, done,
                      _soft_value(next_values, online_next_values + next_log_prior, next_log_prior))


def greedy_logits(values, log_prior):
    """Policy logits of Q, Psi and pure RL: the values themselves."""
    del log_prior
    return values


def prior_weighted_logits(values, log_prior):
    """Policy logits of G-learning: G(s, .) + log p(.|s), i.e. pi ~ p exp G."""
    return values + log_prior


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """One KL-control algorithm.

    Attributes:
      name: registry key.
      target: ``(reward, next_values, discount, done, next_log_prior) -> y``.
      reward_includes_log_prior: whether r = log p(a|s) + r_T / c (else r = r_T / c).
      policy_logits: ``(values, log_prior) -> logits`` of the acting/sampling policy.
      description: one line for help texts.
      uses_next_log_prior: whether ``target`` reads log p(.|s') (only g), so whether replay
        stores it.
      double_target: the target with the double estimator, ``(reward, next_values, discount,
        done, next_log_prior, online_next_values) -> y`` (``LearnerConfig.double``): the online
        network's values at s' choose (q, pure_rl) or weight (psi, g) the target network's.
    """

    name: str
    target: Callable
    reward_includes_log_prior: bool
    policy_logits: Callable
    description: str
    uses_next_log_prior: bool = False
    double_target: Callable = None

    def reward(self, task_reward, log_prior_of_action, c: float, mode_adds_log_prior: bool = True):
        """Combines the task reward and log p(a|s) into the stored reward r.

        Args:
          task_reward: r_T.
          log_prior_of_action: log p(a|s) under the reward network.
          c: KL weight (r_T is divided by c).
          mode_adds_log_prior: False for reward modes that never add log p (e.g.
            music_theory_only), as in the original's ``collect_reward``.
        """
        r = task_reward / c
        if self.reward_includes_log_prior and mode_adds_log_prior:
            return r + log_prior_of_action
        return r


ALGORITHMS = {
    "q": Algorithm("q", q_target, True, greedy_logits,
                   "Q-learning with log-prior reward: r = log p(a|s) + r_T/c, target max",
                   double_target=double_q_target),
    "psi": Algorithm("psi", psi_target, True, greedy_logits,
                     "generalised Psi-learning: r = log p(a|s) + r_T/c, target logsumexp",
                     double_target=double_psi_target),
    "g": Algorithm("g", g_target, False, prior_weighted_logits,
                   "G-learning: r = r_T/c, target log sum p exp G, policy p exp G", uses_next_log_prior=True,
                   double_target=double_g_target),
    "pure_rl": Algorithm("pure_rl", q_target, False, greedy_logits,
                         "pure RL baseline: r = r_T/c, Q-learning target, no prior", double_target=double_q_target),
}


def get_algorithm(name: str) -> Algorithm:
    """Returns the algorithm called ``name``.

    Raises:
      ValueError: naming the valid algorithms.
    """
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {', '.join(ALGORITHMS)}") from None
