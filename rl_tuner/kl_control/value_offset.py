"""The value offset of ``RLConfig.value_offset = 'prior_return'``: the prior's mean discounted
return, by which the Q-network's initial values are shifted (BUILD.md, "The learner at small c")."""

from __future__ import annotations

import numpy as np

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner.kl_control import targets  # noqa: E402

PRIOR_RETURN_EPISODES = 256


def prior_return(prior, env, config) -> float:
    """The prior's mean discounted return under the algorithm's soft reward: mean over episodes of
    sum_t gamma^t [r_T,t / c (+ log p(a_t|s_t) for q)].

    The return a value starts from when the policy is the prior: for psi and g the log p terms
    cancel with the entropy terms of the soft values (log pi = log p), so it is the task return
    alone; q's hard maximum has no entropy terms, so its reward's log p(a|s) stays in (else the
    values of played actions fall below the untouched ones by the log p of the rest of the
    episode, and its Boltzmann policy moves to rare tokens: BUILD.md, "The learner at small c").

    The prior plays one episode in each of the environment's ``num_envs`` slots (at least
    :data:`PRIOR_RETURN_EPISODES` episodes, in as many rollouts as that takes), sampling
    from log p(.|s) with a NumPy generator seeded by ``config.seed``, for at most
    ``config.max_length`` tokens; an episode that has not ended by then counts with the return
    it has. Only the task reward is summed (log p terms are the head's business: see
    ``RLConfig.head_init``). Used by ``RLConfig.value_offset = 'prior_return'``.

    Args:
      prior: the frozen prior (:class:`rl_tuner.kl_control.networks.Prior`).
      env: the run's batched environment (:mod:`rl_tuner.kl_control.environment`); its episodes are
        reset here and again by training.
      config: the run's settings (:class:`rl_tuner.runner.config.RLConfig`: ``algorithm``, ``c``,
        ``discount``, ``max_length``, ``seed``).

    Returns:
      The mean return in nats (a Python float).
    """
    algorithm = targets.get_algorithm(config.algorithm)
    with_log_prior = (algorithm.reward_includes_log_prior and not algorithm.soft
                      and getattr(env, "adds_log_prior", True))
    returns = []
    rollout = 0
    while len(returns) < PRIOR_RETURN_EPISODES:
        rng = np.random.default_rng([config.seed, 1, rollout])
        obs = env.reset(rng)
        prior_state = prior.zero_state(env.num_envs)
        total = np.zeros(env.num_envs)
        weight = np.ones(env.num_envs)
        alive = np.ones(env.num_envs, bool)
        for _ in range(config.max_length):
            log_p, prior_state = prior.step(tf.constant(obs, tf.int32), prior_state)
            gumbel = -np.log(-np.log(rng.uniform(np.finfo(np.float64).tiny, 1.0, size=log_p.shape)))
            action = np.argmax(log_p.numpy() + gumbel, axis=-1).astype(np.int32)
            result = env.step(action)
            reward = np.asarray(result.task_reward, np.float64) / config.c
            if with_log_prior:
                reward += np.take_along_axis(log_p.numpy().astype(np.float64), action[:, None], axis=1)[:, 0]
            total += np.where(alive, weight * reward, 0.0)
            weight *= config.discount
            alive &= ~np.asarray(result.done, bool)
            if not alive.any():
                break
            obs = action
        returns.extend(total.tolist())
        rollout += 1
    return float(np.mean(returns))
