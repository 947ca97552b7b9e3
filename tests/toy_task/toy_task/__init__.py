"""A tiny second task, installed as its own package: proof that the RL Tuner core is domain-free.

Sequences over 6 symbols: token 0 is the end token ("."), tokens 1..5 are "a".."e". A token
earns 1 when it is higher than the token before it (an ascending step; the priming token
counts as the one before the first), the end token earns nothing and ends the episode, so
episodes have variable length (at most ``num_notes`` tokens). Exploration never draws the
end token at random.
"""

import numpy as np

from rl_tuner.kl_control.environment import StepResult
from rl_tuner.tasks import Task

END = 0
SYMBOLS = (".", "a", "b", "c", "d", "e")


class AscendingEnvironment:
    """B sequences rewarded for ascending steps (see the module docstring)."""

    num_actions = len(SYMBOLS)
    adds_log_prior = True

    def __init__(self, num_envs: int, max_length: int):
        self.num_envs, self.max_length = int(num_envs), int(max_length)
        self.previous = np.zeros(self.num_envs, np.int64)
        self.t = np.zeros(self.num_envs, np.int64)

    def reset(self, rng, mask=None):
        first = rng.integers(1, self.num_actions, size=self.num_envs)
        mask = np.ones(self.num_envs, bool) if mask is None else np.asarray(mask, bool)
        self.previous = np.where(mask, first, self.previous)
        self.t = np.where(mask, 0, self.t)
        return first.astype(np.int32)

    def step(self, actions):
        actions = np.asarray(actions, np.int64)
        ascending = (actions != END) & (actions > self.previous)
        reward = ascending.astype(np.float64)
        self.t = self.t + 1
        done = (actions == END) | (self.t >= self.max_length)
        self.previous = actions
        return StepResult(reward, done, components={"ascending": reward},
                          episode_metrics={"episode_length": self.t.astype(np.float64)})


def ascending_share(tokens, lengths) -> float:
    """Share of the non-end tokens of sampled sequences that ascend from the token before."""
    tokens = np.asarray(tokens)
    valid = (np.arange(tokens.shape[1])[None, :] < np.asarray(lengths)[:, None]) & (tokens != END)
    ascending = np.zeros(tokens.shape, bool)
    ascending[:, 1:] = tokens[:, 1:] > tokens[:, :-1]
    return float(ascending[valid].sum() / max(valid[:, 1:].sum(), 1))


class AscendingTask(Task):
    name = "toy_ascending"
    num_classes = len(SYMBOLS)
    end_token = END
    default_length = 8
    headline = (("ascending_share", "ascending"),)

    def make_environment(self, config):
        return AscendingEnvironment(config.num_envs, config.max_length)

    def exploration_actions(self):
        return list(range(1, len(SYMBOLS)))  # never the end token at random

    def measure(self, tokens, lengths):
        return {"ascending_share": ascending_share(tokens, lengths)}

    def vocabulary(self):
        return SYMBOLS
