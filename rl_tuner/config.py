"""The configuration of an RL Tuner run (one dataclass) and its presets."""

from __future__ import annotations

import dataclasses

from rl_tuner.targets import ALGORITHMS


@dataclasses.dataclass
class RLConfig:
    """Everything that defines an RL Tuner training run.

    Attributes:
      algorithm: one of q, psi, g, pure_rl (see rl_tuner.targets).
      note_rnn: pre-trained Note-RNN checkpoint (initialises the Q and target networks and
        is the frozen reward network); a project checkpoint, Magenta checkpoint or .mag.
      steps: environment steps (notes played) in total.
      c: KL weight; the task reward is divided by c (the original's reward_scaler = 1/c).
      discount: gamma.
      batch_size: transitions per train step.
      train_every: one train step per this many environment steps.
      replay_capacity: transitions kept in replay.
      replay: 'uniform' or 'prioritized'.
      learning_rate: Adam learning rate.
      target_update_rate: eta of the soft target update after every train step.
      clip_norm: per-tensor gradient norm clip.
      exploration: 'egreedy' (epsilon annealed linearly) or 'boltzmann' (sample the policy;
        the played note is stored).
      exploration_fraction: fraction of ``steps`` over which epsilon goes from
        epsilon_start to epsilon_end.
      epsilon_start: initial epsilon.
      epsilon_end: final epsilon.
      reward_mode: task reward (see rl_tuner.reward_modes); music_theory_all by default.
      num_notes: notes per melody (episode length).
      num_envs: melodies played in parallel (a batched environment); the ratio of train
        steps to environment steps is kept at 1/train_every whatever this is.
      bootstrap_final_note: bootstrap from the state after a melody's last note, as the
        original did (by default the last note is terminal).
      eval_every: environment steps between evaluations and checkpoints.
      eval_melodies: melodies sampled at each evaluation during training.
      final_eval_melodies: melodies sampled for the final Table-1 statistics (before and
        after tuning).
      num_samples: MIDI/audio samples written at each evaluation.
      seed: seed of everything random in the run.
    """

    algorithm: str = "q"
    note_rnn: str = ""
    steps: int = 200_000
    c: float = 0.5
    discount: float = 0.5
    batch_size: int = 32
    train_every: int = 5
    replay_capacity: int = 100_000
    replay: str = "uniform"
    learning_rate: float = 1e-3
    target_update_rate: float = 0.01
    clip_norm: float = 5.0
    exploration: str = "egreedy"
    exploration_fraction: float = 0.5
    epsilon_start: float = 1.0
    epsilon_end: float = 0.1
    reward_mode: str = "music_theory_all"
    num_notes: int = 32
    num_envs: int = 256
    bootstrap_final_note: bool = False
    eval_every: int = 50_000
    eval_melodies: int = 1000
    final_eval_melodies: int = 10_000
    num_samples: int = 4
    seed: int = 0

    def validate(self) -> "RLConfig":
        """Raises ValueError for settings that cannot run; returns self."""
        from rl_tuner import exploration, reward_modes
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        if self.exploration not in exploration.MODES:
            raise ValueError(f"unknown exploration {self.exploration!r}; choose one of {', '.join(exploration.MODES)}")
        reward_modes.get_reward_mode(self.reward_mode)
        positive = {"steps": self.steps, "c": self.c, "batch_size": self.batch_size, "train_every": self.train_every,
                    "replay_capacity": self.replay_capacity, "num_notes": self.num_notes, "num_envs": self.num_envs,
                    "eval_every": self.eval_every, "eval_melodies": self.eval_melodies,
                    "final_eval_melodies": self.final_eval_melodies}
        for key, value in positive.items():
            if not value > 0:
                raise ValueError(f"{key} must be > 0, got {value}")
        if not 0 <= self.discount <= 1:
            raise ValueError(f"discount must be in [0, 1], got {self.discount}")
        if not 0 <= self.target_update_rate <= 1:
            raise ValueError(f"target_update_rate must be in [0, 1], got {self.target_update_rate}")
        if self.replay_capacity < max(self.batch_size, self.num_envs):
            raise ValueError(f"replay_capacity ({self.replay_capacity}) must be at least batch_size "
                             f"({self.batch_size}) and num_envs ({self.num_envs})")
        if self.replay not in ("uniform", "prioritized"):
            raise ValueError(f"unknown replay {self.replay!r}; choose uniform or prioritized")
        return self

    @property
    def exploration_steps(self) -> int:
        return int(self.steps * self.exploration_fraction)


# Presets: partial overrides of the defaults. 'paper' is the paper's (and rl_tuner_train's)
# setting; 'default' is a short run that visibly improves the statistics in minutes.
PRESETS = {
    "paper": dict(steps=1_000_000, batch_size=32, discount=0.5, train_every=5, replay_capacity=100_000,
                  exploration="egreedy", exploration_fraction=0.5, c=0.5, eval_every=50_000,
                  eval_melodies=1000, final_eval_melodies=100_000),
    "default": dict(steps=200_000, batch_size=32, discount=0.5, train_every=5, replay_capacity=100_000,
                    exploration="egreedy", exploration_fraction=0.5, c=0.5, eval_every=25_000,
                    eval_melodies=1000, final_eval_melodies=10_000),
}


def from_preset(preset: str = "default", **overrides) -> RLConfig:
    """Builds a config from a preset plus explicit overrides (None values are ignored)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = dict(PRESETS[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RLConfig(**values).validate()
