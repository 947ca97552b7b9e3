"""What the training loop stores: one step of B episodes as transitions (pure functions).

The loop (:func:`rl_tuner.runner.train._play_episodes`) plays a step with the actor and the
environment and hands the numbers here; this module alone decides what goes into the replay,
so the RL semantics of the stored data are pinned by hand-computed tests
(``tests/test_transitions.py``):

* the stored reward is r = r_T / c + log p(a|s) for q and psi, r = r_T / c for g and pure RL
  (:meth:`rl_tuner.kl_control.targets.Algorithm.reward`, the one place deciding whether log p
  is added), where log p(a|s) is read from the prior's log p(.|s) at the state the action was
  chosen in, not at the state it leads to;
* ``next_log_prior`` is log p(.|s'), the prior after the action (G-learning's target);
* ``state`` is the Q-network's state before ``obs``, ``next_state`` its state after ``obs``
  (the target network reads the action from it);
* ``done`` is 1 where the episode ended, unless the run bootstraps its final step
  (``RLConfig.bootstrap_final_step``: the last step is then treated like any other);
* an end transition (``--end-transitions``) shares the played transition's observation and
  states, takes the task's end token as action, is terminal, and stores the reward the
  algorithm gives the end token's task reward and log p(end|s).

The field layout is :func:`rl_tuner.kl_control.agent.transition_spec`'s.
"""

from __future__ import annotations

import numpy as np


def log_prob_of_actions(log_prior, actions) -> np.ndarray:
    """log p(a|s) of each episode's action.

    Args:
      log_prior: float32 [B, C] log p(.|s) of the prior at the state the actions were chosen in.
      actions: int [B].

    Returns:
      float32 [B] (numpy).
    """
    log_prior = np.asarray(log_prior)
    return log_prior[np.arange(log_prior.shape[0]), np.asarray(actions)]


def stored_reward(algorithm, task_reward, log_prob, c: float, adds_log_prior: bool) -> np.ndarray:
    """The reward r the replay stores (:meth:`rl_tuner.kl_control.targets.Algorithm.reward`).

    Args:
      algorithm: a :class:`rl_tuner.kl_control.targets.Algorithm`.
      task_reward: float [B] r_T of the step.
      log_prob: float32 [B] log p(a|s) (:func:`log_prob_of_actions`).
      c: the KL weight.
      adds_log_prior: False for an environment whose reward never adds log p (the melody
        task's music_theory_only mode).

    Returns:
      float32 [B].
    """
    return np.asarray(algorithm.reward(task_reward, log_prob, c, adds_log_prior)).astype(np.float32)


def step_transitions(algorithm, *, obs, state, action, log_prior, next_state, next_log_prior, task_reward, done,
                     c: float, adds_log_prior: bool, bootstrap_final_step: bool):
    """The B transitions of one played step (see the module docstring for their meaning).

    Args:
      algorithm: a :class:`rl_tuner.kl_control.targets.Algorithm`.
      obs: int32 [B] the token fed to the Q-network at s.
      state: the Q-network's state before ``obs``.
      action: int32 [B] the tokens played.
      log_prior: float32 [B, C] log p(.|s), the prior at s (the action's log p comes from here).
      next_state: the Q-network's state after ``obs``.
      next_log_prior: float32 [B, C] log p(.|s'), the prior after the action.
      task_reward: float [B] r_T of the step.
      done: bool [B] the episode ended with this step.
      c: the KL weight.
      adds_log_prior: see :func:`stored_reward`.
      bootstrap_final_step: never mark a transition terminal (the last step bootstraps).

    Returns:
      (transitions, log_prob): {obs, state, action, reward float32 [B], next_state,
      next_log_prior, done float32 [B]} (the arrays and states as given), and log p(a|s)
      float32 [B].
    """
    log_prob = log_prob_of_actions(log_prior, action)
    reward = stored_reward(algorithm, task_reward, log_prob, c, adds_log_prior)
    terminal = np.asarray(done, bool) & (not bootstrap_final_step)
    transitions = {"obs": obs, "state": state, "action": action, "reward": reward, "next_state": next_state,
                   "next_log_prior": next_log_prior, "done": terminal.astype(np.float32)}
    return transitions, log_prob


def end_rewards(algorithm, end_task_reward, log_prior, rows, end_token: int, c: float,
                adds_log_prior: bool) -> np.ndarray:
    """The stored reward of playing the end token in episodes ``rows`` at s.

    Args:
      algorithm: a :class:`rl_tuner.kl_control.targets.Algorithm`.
      end_task_reward: float [K] the task reward the end token would earn there
        (the environment's ``end_rewards(rows)``, asked before the step).
      log_prior: float32 [B, C] log p(.|s) of all episodes.
      rows: int [K] the episodes.
      end_token: the task's end token.
      c, adds_log_prior: see :func:`stored_reward`.

    Returns:
      float32 [K].
    """
    log_prob = np.asarray(log_prior)[np.asarray(rows), end_token]
    return stored_reward(algorithm, end_task_reward, log_prob, c, adds_log_prior)


def with_end_transitions(transitions: dict, rows, end_token: int, reward) -> dict:
    """The batch of transitions followed by the end token's transitions in episodes ``rows``.

    Args:
      transitions: {field: [B, ...]} the transitions played (:func:`step_transitions`).
      rows: int [K] episodes whose current state also gets an end transition.
      end_token: the task's end token.
      reward: float32 [K] the stored reward r of playing ``end_token`` there (:func:`end_rewards`).

    Returns:
      {field: [B + K, ...]} (tensors): the K extra transitions share the played ones'
      observation and states, take ``end_token`` as action, ``reward``, and are terminal
      (``done`` 1), so their target is the reward alone and the next-state fields are never used.
    """
    from rl_tuner import _tf  # noqa: F401  pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    index = tf.constant(np.asarray(rows, np.int32))
    k = len(rows)
    extra = {"action": tf.fill([k], tf.constant(end_token, tf.int32)), "reward": tf.constant(reward, tf.float32),
             "done": tf.ones([k], tf.float32)}
    for name, value in transitions.items():
        if name not in extra:
            extra[name] = tf.nest.map_structure(lambda x: tf.gather(x, index), value)
    return {name: tf.nest.map_structure(lambda a, b: tf.concat([tf.convert_to_tensor(a), b], 0), value, extra[name])
            for name, value in transitions.items()}
