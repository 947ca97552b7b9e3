"""The configuration of an RL Tuner run (one dataclass) and its presets."""

from __future__ import annotations

import dataclasses

from note_rnn.ranges import COUNT, SEED, UNIT, at_least, between, check_ranges, positive
from note_rnn.sampling_args import check_token_count
from rl_tuner import reward_modes
from rl_tuner.choices import ALGORITHMS, EXPLORATION_MODES, REPLAY_KINDS


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
      reward_mode: task reward (see rl_tuner.reward_modes); g and pure_rl take only
        music_theory_only, as in the original. Left empty, the algorithm's own mode is
        filled in (and recorded in config.json).
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
    reward_mode: str = ""
    num_notes: int = 32
    num_envs: int = 256
    bootstrap_final_note: bool = False
    eval_every: int = 50_000
    eval_melodies: int = 1000
    final_eval_melodies: int = 10_000
    num_samples: int = 4
    seed: int = 0

    # Allowed values of every numeric setting (checked by validate() and by the command line).
    RANGES = {
        "steps": COUNT, "c": positive(), "discount": UNIT, "batch_size": COUNT, "train_every": COUNT,
        "replay_capacity": COUNT, "learning_rate": positive(), "target_update_rate": between(0.0, 1.0, low_open=True),
        "clip_norm": positive(), "exploration_fraction": UNIT, "epsilon_start": UNIT, "epsilon_end": UNIT,
        "num_notes": COUNT, "num_envs": COUNT, "eval_every": COUNT, "eval_melodies": COUNT,
        "final_eval_melodies": COUNT, "num_samples": at_least(0), "seed": SEED,
    }

    def __post_init__(self):
        if not self.reward_mode:
            self.reward_mode = reward_modes.default_reward_mode(self.algorithm)

    def validate(self) -> "RLConfig":
        """Checks every setting; returns self.

        Raises:
          ValueError: naming the setting, for an unknown algorithm, exploration, replay or
            reward mode, a reward mode the algorithm does not take, a numeric setting
            outside its ``RANGES`` entry (NaN and infinity included), or a replay smaller
            than a batch or than one step of all melodies, or evaluations or samples of more
            than ``note_rnn.sampling_args.MAX_TOKENS`` tokens.
        """
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        if self.exploration not in EXPLORATION_MODES:
            raise ValueError(f"unknown exploration {self.exploration!r}; choose one of {', '.join(EXPLORATION_MODES)}")
        if self.replay not in REPLAY_KINDS:
            raise ValueError(f"unknown replay {self.replay!r}; choose one of {', '.join(REPLAY_KINDS)}")
        reward_modes.reward_mode_for_algorithm(self.algorithm, self.reward_mode)
        check_ranges(self, self.RANGES)
        for name in ("eval_melodies", "final_eval_melodies", "num_samples"):  # refused now, not at the end
            check_token_count(getattr(self, name), self.num_notes, f"melodies (--{name.replace('_', '-')})")
        if self.replay_capacity < max(self.batch_size, self.num_envs):
            raise ValueError(f"replay_capacity ({self.replay_capacity}) must be at least batch_size "
                             f"({self.batch_size}) and num_envs ({self.num_envs})")
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
