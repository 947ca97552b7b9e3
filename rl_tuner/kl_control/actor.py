"""The actor: one compiled call advances B episodes by one token.

Per step it runs the Q-network on the current observation, chooses the actions with the
algorithm's policy and the exploration rule, and advances the frozen reward network on the
chosen actions (so log p(.|s') is ready for the next step and for the G target; the loop
reads log p(a|s) from the log p(.|s) it passed in: :mod:`rl_tuner.kl_control.transitions`).
"""

from __future__ import annotations

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner.kl_control import exploration  # noqa: E402


class Actor(tf.Module):
    """Acts for B parallel episodes.

    Args:
      q_network: the online recurrent Q-network.
      prior: the frozen :class:`rl_tuner.kl_control.networks.Prior`.
      algorithm: a :class:`rl_tuner.kl_control.targets.Algorithm` (its policy logits are used).
      mode: exploration mode, 'egreedy' or 'boltzmann'.
      seed: seed of the action sampling.
      actions: the tokens epsilon-greedy draws at random (the task's
        :meth:`rl_tuner.tasks.Task.exploration_actions`); None: all tokens.
    """

    def __init__(self, q_network, prior, algorithm, mode: str, seed: int = 0, actions=None):
        super().__init__(name="actor")
        if mode not in exploration.MODES:
            raise ValueError(f"unknown exploration mode {mode!r}; choose one of {', '.join(exploration.MODES)}")
        self.q_network = q_network
        self.prior = prior
        self.algorithm = algorithm
        self.mode = mode
        self.rng = tf.random.Generator.from_seed(seed)
        self.random_actions = None if actions is None else tf.constant(list(actions), tf.int32)

    @tf.function
    def start(self, first_tokens):
        """Zero states and log p(.|first token) for new episodes.

        Returns:
          (q_state, log_prior [B, C], prior_state).
        """
        batch = tf.shape(first_tokens)[0]
        log_prior, prior_state = self.prior.step(first_tokens, self.prior.zero_state(batch))
        return self.q_network.zero_state(batch), log_prior, prior_state

    @tf.function
    def act(self, obs, q_state, log_prior, prior_state, epsilon):
        """Chooses and plays one action per episode.

        Args:
          obs: int32 [B] current observation (the previous action or the priming token).
          q_state: Q-network state before ``obs``.
          log_prior: [B, C] log p(.|s) at the current state.
          prior_state: reward-network state after ``obs``.
          epsilon: scalar exploration probability (egreedy).

        Returns:
          A dict: action [B], next_q_state, next_log_prior [B, C],
          next_prior_state, and ``means``: float32 [3], the batch means of the policy's entropy,
          KL(pi || p) at s and the largest value.
        """
        values, next_q_state = self.q_network(obs, network_state=q_state)
        logits = self.algorithm.policy_logits(values, log_prior)
        seed = self.rng.make_seeds(1)[:, 0]
        action = exploration.select_actions(logits, self.mode, epsilon, seed, self.random_actions)
        next_log_prior, next_prior_state = self.prior.step(action, prior_state)
        entropy, kl = exploration.policy_statistics(logits, log_prior)
        return {
            "action": action,
            "next_q_state": next_q_state, "next_log_prior": next_log_prior, "next_prior_state": next_prior_state,
            "means": tf.stack([tf.reduce_mean(entropy), tf.reduce_mean(kl), tf.reduce_mean(tf.reduce_max(values, -1))]),
        }
