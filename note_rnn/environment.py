"""The melody environment: B melodies played and rewarded together.

:class:`MelodyEnvironment` implements the core's batched-environment protocol
(:mod:`rl_tuner.kl_control.environment`): 32-note melodies in lockstep, a random priming token drawn
from all 38 tokens, the music-theory reward of a reward mode. With the encoder of another
melody_rnn configuration the actions are that model's classes; they are decoded to melody
events and the rules read the 38 tokens of those events
(:meth:`note_rnn.melody_configs.MelodyEncoder.task_tokens`).
"""

from __future__ import annotations

import numpy as np

from note_rnn import tokens as tok
from rl_tuner.kl_control.environment import StepResult
from note_rnn import music_theory, reward_modes


class MelodyEnvironment:
    """B melodies of ``num_notes`` notes, rewarded by a music-theory reward mode.

    Args:
      num_envs: melodies played in parallel.
      num_notes: notes per melody.
      reward_mode: name in :data:`note_rnn.reward_modes.REWARD_MODES`.
      track_components: also return each music-theory component (for monitoring).
      encoder: the prior's :class:`note_rnn.melody_configs.MelodyEncoder`; None or basic_rnn's:
        the actions are the 38 tokens themselves.
    """

    num_actions = tok.NUM_CLASSES

    def __init__(self, num_envs: int, num_notes: int = 32, reward_mode: str = "music_theory_all",
                 track_components: bool = True, encoder=None):
        self.encoder = None if encoder is None or encoder.num_classes == tok.NUM_CLASSES and encoder.one_hot \
            else encoder
        if self.encoder is not None:
            self.num_actions = self.encoder.num_classes
        self._events = None
        self.num_envs = int(num_envs)
        self.num_notes = int(num_notes)
        self.mode = reward_modes.get_reward_mode(reward_mode)
        self.track_components = track_components
        self._composition = np.zeros((self.num_envs, 0), np.int64)
        self._priming = None

    @property
    def adds_log_prior(self) -> bool:
        """Whether the reward mode adds log p(a|s) to the scaled task reward."""
        return self.mode.adds_log_prior

    @property
    def composition(self) -> np.ndarray:
        """The notes played so far in this episode, [B, t]."""
        return self._composition

    def reset(self, rng: np.random.Generator) -> np.ndarray:
        """Starts new melodies; returns priming tokens drawn uniformly from all 38 tokens."""
        self._composition = np.zeros((self.num_envs, 0), np.int64)
        self._priming = rng.integers(0, self.num_actions, size=self.num_envs).astype(np.int32)
        if self.encoder is not None:  # the model read the priming class first: repeats may reach it
            self._events = [[self.encoder.decode_one(int(p), [])] for p in self._priming]
        return self._priming

    def _decode(self, actions: np.ndarray) -> np.ndarray:
        """The 38 tokens of the actions (model classes) after each melody's events so far."""
        from note_rnn import encoding, melody_configs
        out = np.zeros(len(actions), np.int64)
        for i, a in enumerate(actions):
            event = self.encoder.decode_one(int(a), self._events[i])
            self._events[i].append(event)
            out[i] = encoding.melody_to_tokens([melody_configs.fold_pitch(event)])[0]
        return out

    def _priming_tokens(self) -> np.ndarray:
        """The priming classes as 38 tokens (decoded from an empty melody)."""
        if self.encoder is None:
            return self._priming
        return self.encoder.task_tokens(self._priming[:, None])[:, 0]

    def step(self, actions: np.ndarray) -> StepResult:
        """Plays ``actions`` [B] at the current position of every melody."""
        actions = np.asarray(actions, np.int64)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected {self.num_envs} actions, got shape {actions.shape}")
        if self._composition.shape[1] >= self.num_notes:
            raise RuntimeError("the melodies are complete; call reset() first")
        if self.encoder is not None:
            actions = self._decode(actions)
        comp = self._composition
        components = {}
        if self.track_components:
            components = {name: fn(comp, actions, self.num_notes) for name, fn in music_theory.COMPONENTS.items()}
        if self.track_components and self.mode.name in ("music_theory_all", "music_theory_only"):
            task = sum(components.values())
        elif self.mode.uses_previous_token:  # 'scale' reads the previous observation (the priming note first)
            previous = self._priming_tokens() if comp.shape[1] == 0 else comp[:, -1]
            task = self.mode.task_reward(comp, actions, self.num_notes, previous=previous)
        else:
            task = self.mode.task_reward(comp, actions, self.num_notes)
        self._composition = np.concatenate([comp, actions[:, None]], axis=1)
        done = np.full(self.num_envs, self._composition.shape[1] == self.num_notes)
        monitors = {"music_theory_reward": sum(components.values())} if components else {}
        return StepResult(np.asarray(task, np.float64), done, components, monitors)
