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


def max_value(values, log_prior=None):
    """V(s) = max_a Q(s, a), the state value of Q-learning and pure RL.

    Args:
      values: float32 [..., C] action values of one or more states.
      log_prior: unused (the signature of every state value).

    Returns:
      float32 [...].
    """
    del log_prior
    return tf.reduce_max(values, axis=-1)


def soft_value(values, log_prior=None):
    """V(s) = log sum_a exp Psi(s, a), the state value of Psi-learning (float32 [..., C] -> [...])."""
    del log_prior
    return tf.reduce_logsumexp(values, axis=-1)


def prior_soft_value(values, log_prior):
    """V(s) = log sum_a p(a|s) exp G(s, a), the state value of G-learning.

    Args:
      values: float32 [..., C] G-values.
      log_prior: float32 [..., C], a normalised log-softmax of the reward network at s.

    Returns:
      float32 [...].
    """
    return tf.reduce_logsumexp(values + log_prior, axis=-1)


def q_target(reward, next_values, discount, done, next_log_prior=None):
    """Q-learning: r + gamma max_a' Q-(s', a')."""
    return _bootstrap(reward, discount, done, max_value(next_values, next_log_prior))


def psi_target(reward, next_values, discount, done, next_log_prior=None):
    """Generalised Psi-learning: r + gamma logsumexp_a' Psi-(s', a')."""
    return _bootstrap(reward, discount, done, soft_value(next_values, next_log_prior))


def g_target(reward, next_values, discount, done, next_log_prior):
    """G-learning: r + gamma log sum_a' p(a'|s') exp G-(s', a').

    ``next_log_prior`` must be a normalised log-softmax of the reward network at s'.
    """
    return _bootstrap(reward, discount, done, prior_soft_value(next_values, next_log_prior))


def lambda_targets(reward, next_state_value, next_action_value, discount, done, has_next, td_lambda):
    """Lambda-returns of whole stored episodes, computed backwards from each episode's end.

    y_t = r_t + gamma (1 - done_t) [V-(s_t+1) + lambda has_next_t (y_t+1 - Q-(s_t+1, a_t+1))]

    ``td_lambda`` 0 is the one-step target of the algorithm (:func:`q_target`, ...); 1 sums the
    rewards of the rest of the stored episode. For psi and g the correction y_t+1 - Q-(s_t+1,
    a_t+1) replaces V- by Q- minus the log-ratio of the target policy: since V(s) = Q(s, a) -
    log pi(a|s) (psi) or V(s) = G(s, a) - log(pi(a|s) / p(a|s)) (g) holds for EVERY action a at
    the soft fixed point, y is an unbiased multi-step target whatever policy played the
    episode, in a deterministic environment such as token generation (the path consistency of
    Nachum et al. 2017, "Bridging the gap between value and policy based RL", sec. 4; its
    multi-step use for text generation: Guo et al. 2022, "Efficient (soft) Q-learning for text
    generation with limited good data"). For q and pure RL the caller passes V-(s_t+1) as
    ``next_action_value`` too, which makes it Peng's Q(lambda) (Peng and Williams 1996), y_t = r_t +
    gamma [(1 - lambda) max Q-(s_t+1, .) + lambda y_t+1]: the correction with Q-(s_t+1, a_t+1)
    would add the gap max Q- - Q-(s_t+1, a_t+1) >= 0 of every non-greedy played action, an
    over-estimate that grows with the episode (:attr:`Algorithm.soft`).

    Args:
      reward: float32 [B, T], the stored reward r_t of each step (:meth:`Algorithm.reward`).
      next_state_value: float32 [B, T], V-(s_t+1) of the target network (the algorithm's
        ``state_value``); read only where ``done_t`` is 0.
      next_action_value: float32 [B, T], Q-(s_t+1, a_t+1), the target network's value of the
        action played next (soft algorithms; V-(s_t+1) for q and pure RL); read only where
        ``has_next_t`` is 1.
      discount: gamma.
      done: float32 [B, T], 1 at a terminal step (no bootstrap).
      has_next: float32 [B, T], 1 where step t + 1 of the same episode is stored (0 at the
        last stored step, so a truncated episode bootstraps on V- alone, and in padding).
      td_lambda: lambda in [0, 1].

    Returns:
      float32 [B, T]; positions past an episode's last step are not meaningful.
    """
    reward = tf.convert_to_tensor(reward, tf.float32)
    step_args = [tf.transpose(tf.cast(x, tf.float32)) for x in
                 (reward, next_state_value, next_action_value, done, has_next)]

    def backward(y_next, args):
        r, v, q, d, h = args
        return r + discount * (1.0 - d) * (v + td_lambda * h * (y_next - q))

    ys = tf.scan(backward, step_args, initializer=tf.zeros_like(step_args[0][0]), reverse=True)
    return tf.transpose(ys)


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
      state_value: ``(values [..., C], log_prior [..., C]) -> V [...]``, the state value that
        ``target`` bootstraps on (:func:`max_value`, :func:`soft_value`, :func:`prior_soft_value`);
        the sequence learner's lambda-returns use it (:func:`lambda_targets`).
      soft: whether V(s) = Q(s, a) - log pi(a|s) (psi) or G(s, a) - log(pi(a|s) / p(a|s)) (g)
        holds for every action, so that multi-step returns may follow any played action (path
        consistency); False for the hard maximum (q, pure_rl: Peng's Q(lambda)).
    """

    name: str
    target: Callable
    reward_includes_log_prior: bool
    policy_logits: Callable
    description: str
    uses_next_log_prior: bool = False
    double_target: Callable = None
    state_value: Callable = max_value
    soft: bool = False

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
                     double_target=double_psi_target, state_value=soft_value, soft=True),
    "g": Algorithm("g", g_target, False, prior_weighted_logits,
                   "G-learning: r = r_T/c, target log sum p exp G, policy p exp G", uses_next_log_prior=True,
                   double_target=double_g_target, state_value=prior_soft_value, soft=True),
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
