"""The batched-environment protocol: B episodes step together and are rewarded together.

The training loop is domain-free; it talks to a task's environment through this protocol:

* ``num_envs`` and ``num_actions``;
* ``adds_log_prior``: whether the task's reward mode adds log p(a|s) of the prior to the
  scaled task reward (the original's ``reward_mode`` 'music_theory_all'; see
  :meth:`rl_tuner.kl_control.targets.Algorithm.reward`);
* ``reset(rng, mask=None) -> first_tokens [B]``: starts new episodes (in every environment,
  or only where the bool [B] ``mask`` is set) and returns the priming tokens (the first
  observation; not part of the episode's output; entries outside ``mask`` are ignored).
  Only environments whose episodes can end before ``max_length`` steps need ``mask``;
* ``step(actions [B]) -> StepResult``: plays one token in every episode and returns the
  task reward r_T of each, the terminal flags, reward components and monitors for logging,
  and per-episode quantities (read where an episode ended);
* optionally ``end_rewards(rows [K]) -> float [K]``: for a task with an end token, the task
  reward r_T the end token would earn if it were played now (before :meth:`step`) in the
  episodes ``rows``; the training loop's end transitions (``RLConfig.end_transitions``) need
  it. It must not change the environment.

Episodes follow tf-agents' conventions (``tf_agents.trajectories.StepType``): the step after
a reset is FIRST, a step returning ``done`` is LAST (terminated: its transition does not
bootstrap), the others MID. The training loop plays rollouts of ``max_length`` steps per
environment; an environment whose episode ended starts a new one at the next step (its
LSTM states reset) while the others go on, and an episode still running at the rollout's
end is truncated (its last transition bootstraps). Fixed-length episodes of exactly
``max_length`` steps (melodies) are the special case where all end together.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# tf_agents.trajectories.StepType values (not imported: this module loads no TensorFlow).
FIRST, MID, LAST = 0, 1, 2


@dataclasses.dataclass
class StepResult:
    """What one batched step returns.

    Attributes:
      task_reward: float [B], r_T before scaling by 1/c.
      done: bool [B], True where the step ended the episode.
      components: {name: float [B]} reward parts for monitoring (may be empty); logged as
        ``reward_{name}``.
      monitors: {name: float [B]} other per-step quantities to log under their own name
        (e.g. the melodies' total music-theory reward).
      episode_metrics: {name: float [B]} quantities of the episode that ended at this step
        (e.g. a reward paid at the end, validity, length), read only where ``done``;
        logged as their mean over finished episodes.
    """

    task_reward: np.ndarray
    done: np.ndarray
    components: dict = dataclasses.field(default_factory=dict)
    monitors: dict = dataclasses.field(default_factory=dict)
    episode_metrics: dict = dataclasses.field(default_factory=dict)

    @property
    def step_type(self) -> np.ndarray:
        """int32 [B]: tf-agents' LAST (2) where the episode ended, else MID (1)."""
        return np.where(self.done, LAST, MID).astype(np.int32)


def supports_end_rewards(env) -> bool:
    """Whether ``env`` implements the optional ``end_rewards`` of the protocol."""
    return callable(getattr(env, "end_rewards", None))


