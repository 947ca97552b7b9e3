"""The ``reward_mode`` variants of Magenta's ``RLTuner.collect_reward`` (rl_tuner.py).

Each mode names a batched *task reward* r_T (float64 [B], before scaling) and says whether
the total reward adds the Note RNN log prior::

    r = reward_scaler * r_T + (log p(a|s) if adds_log_prior else 0)

with ``reward_scaler`` = 1/c; the sum itself is made in one place for every task,
:meth:`rl_tuner.kl_control.targets.Algorithm.reward` (given ``adds_log_prior`` through the
environment). Every ``task_reward`` is called as
``task_reward(composition, notes, num_notes)`` (see :mod:`note_rnn.music_theory` for the
conventions); the 'scale' mode also takes ``previous=`` (the previous observation, required
at beat 0 where the original used the priming note), flagged by ``uses_previous_token``.

In the original, algorithms 'g' and 'pure_rl' force 'music_theory_only'; here it is their
default and any other mode given for them is refused (:func:`reward_mode_for_algorithm`). The original's 'non_repeating' returned None on a
repeat (a crash); here it gives 0.0 (see :func:`note_rnn.music_theory.reward_non_repeating`).
"""

import dataclasses
from typing import Callable

import numpy as np

from note_rnn import music_theory as mt

DEFAULT_REWARD_MODE = "music_theory_all"
MUSIC_THEORY_ONLY_ALGORITHMS = ("g", "pure_rl")


@dataclasses.dataclass(frozen=True)
class RewardMode:
    """One reward mode.

    Attributes:
      name: the original's ``reward_mode`` string.
      task_reward: ``(composition [B, t], notes [B], num_notes) -> float64 [B]``, r_T before
        scaling by ``reward_scaler`` (1/c).
      adds_log_prior: whether log p(a|s) of the reward RNN is added after scaling.
      description: what the mode rewards.
      uses_previous_token: whether ``task_reward`` takes ``previous=`` (the observation
        before the note; needed at beat 0).
    """

    name: str
    task_reward: Callable[..., np.ndarray]
    adds_log_prior: bool
    description: str
    uses_previous_token: bool = False


def rule_sum(name: str, *rules):
    """Returns a task reward that sums ``rules`` (each validated once, then unchecked).

    The returned function has the rules' signature ``(composition [B, t], notes [B],
    num_notes=32) -> float64 [B]`` and raises ValueError on a batch-size mismatch or tokens
    outside 0..37.
    """
    def task_reward(composition, notes, num_notes=32):
        composition, notes = mt.validate_inputs(composition, notes)
        return sum(rule.unchecked(composition, notes, num_notes) for rule in rules)

    task_reward.__name__ = name
    task_reward.__doc__ = " + ".join(rule.__name__ for rule in rules) + " (unscaled)."
    return task_reward


# reward_key (-1 off key, *not* the 1/23 distribute-prob key) + tonic: 'key_and_tonic'.
key_and_tonic_reward = rule_sum("key_and_tonic_reward", mt.key, mt.tonic)
# 'music_theory_basic' and 'music_theory_random'.
music_theory_basic_reward = rule_sum("music_theory_basic_reward", mt.key, mt.tonic, mt.repeating)
# 'music_theory_basic_plus_variety'.
music_theory_variety_reward = rule_sum("music_theory_variety_reward", mt.key, mt.tonic, mt.repeating,
                                       mt.autocorrelation)


def _mode(name, task_reward, adds_log_prior, description, **kwargs):
    return name, RewardMode(name, task_reward, adds_log_prior, description, **kwargs)


REWARD_MODES = dict([
    _mode("music_theory_all", mt.music_theory_reward, True,
          "r_MT (all nine rules) + log p: the paper's default."),
    _mode("music_theory_only", mt.music_theory_reward, False,
          "r_MT without log p (forced for algorithms 'g' and 'pure_rl')."),
    _mode("music_theory_basic", music_theory_basic_reward, True,
          "key + tonic + repeating, + log p."),
    _mode("music_theory_basic_plus_variety", music_theory_variety_reward, True,
          "key + tonic + repeating + autocorrelation, + log p."),
    _mode("music_theory_random", music_theory_basic_reward, False,
          "key + tonic + repeating, no log p: uniform over rule-abiding notes."),
    _mode("key", mt.reward_key_distribute_prob, False, "1/23 for any note in C major."),
    _mode("key_and_tonic", key_and_tonic_reward, False,
          "reward_key (-1 off key) + tonic, no log p."),
    _mode("preferred_intervals", mt.preferred_intervals, False,
          "The preferred-interval rule alone (x5 table), no log p."),
    _mode("scale", mt.reward_scale, False,
          "Play the C major scale C3..C5 upwards (needs the previous observation).",
          uses_previous_token=True),
    _mode("non_repeating", mt.reward_non_repeating, False,
          "0.1 unless the note repeats excessively (then 0.0; the original crashed)."),
])


def get_reward_mode(name: str) -> RewardMode:
    """Returns the RewardMode called ``name``.

    Raises:
      ValueError: if ``name`` is not a known mode (the message lists the valid ones).
    """
    try:
        return REWARD_MODES[name]
    except KeyError:
        raise ValueError(f"unknown reward mode {name!r}; valid modes: "
                         f"{', '.join(sorted(REWARD_MODES))}") from None


def default_reward_mode(algorithm: str) -> str:
    """The mode an algorithm uses unless told otherwise: 'music_theory_only' for 'g' and
    'pure_rl' (forced by the original), DEFAULT_REWARD_MODE for the others."""
    return "music_theory_only" if algorithm in MUSIC_THEORY_ONLY_ALGORITHMS else DEFAULT_REWARD_MODE


def reward_mode_for_algorithm(algorithm: str, reward_mode: str | None = None) -> RewardMode:
    """The mode an algorithm uses: ``reward_mode``, or its default if None or empty.

    'g' and 'pure_rl' take only 'music_theory_only' (the original forces it: their reward
    has no log p term, G puts the prior in its target and pure RL has none); another
    explicit mode for them is refused rather than silently replaced.

    Raises:
      ValueError: if ``reward_mode`` is not a known mode, or not the one 'g' / 'pure_rl' take.
    """
    if not reward_mode:
        reward_mode = default_reward_mode(algorithm)
    mode = get_reward_mode(reward_mode)
    if algorithm in MUSIC_THEORY_ONLY_ALGORITHMS and mode.name != "music_theory_only":
        raise ValueError(f"--reward-mode {reward_mode} cannot be used with --algorithm {algorithm}, which takes "
                         "only music_theory_only (as in the original: its reward has no log p term)")
    return mode
