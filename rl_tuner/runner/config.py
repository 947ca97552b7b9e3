"""The configuration of an RL Tuner run (one dataclass) and its presets.

The core's settings are the learning algorithm's; a task (:mod:`rl_tuner.tasks`) reads the few
that describe its episodes and reward (``reward_mode``, ``max_length``) and checks them
(:meth:`rl_tuner.tasks.Task.check_settings`). The task is named in the run's config.json, so
``evaluate``, ``generate`` and ``export`` of a run find it without a flag.
"""

from __future__ import annotations

import dataclasses

from rl_tuner.plumbing.ranges import COUNT, SEED, UNIT, at_least, between, check_ranges, positive
from rl_tuner import tasks
from rl_tuner.sampling_args import check_token_count
from rl_tuner.choices import (ALGORITHMS, EXPLORATION_MODES, HEAD_INITS, LEARNERS, NEW_PRIORITIES, REPLAY_KINDS,
                              VALUE_OFFSETS)


@dataclasses.dataclass
class RLConfig:
    """Everything that defines an RL Tuner training run.

    Attributes:
      task: the task to tune for, by registry name (see rl_tuner.tasks; 'melody' is the
        paper's melodies).
      algorithm: one of q, psi, g, pure_rl (see rl_tuner.kl_control.targets).
      prior: the task's pre-trained sequence model (initialises the Q and target networks
        and is the frozen reward network); for melodies a Note-RNN: a project checkpoint,
        Magenta checkpoint or .mag (``--note-rnn`` is an alias).
      steps: environment steps (notes played) in total.
      c: KL weight; the task reward is divided by c (the original's reward_scaler = 1/c).
      discount: gamma.
      batch_size: transitions per train step (the sequence learner: episodes per train step).
      train_every: one train step per this many environment steps.
      replay_capacity: transitions kept in replay (the sequence learner keeps
        ``replay_capacity // max_length`` whole episodes).
      replay: 'uniform' or 'prioritized'.
      new_priority: with prioritized replay, the priority of a new transition: 'max' (the
        largest priority given so far; the usual choice and the default) or 'td' (its own TD
        error under the networks at the time it is added, as the Sequence Tutor molecule code does (BUILD.md,
        "The domain-free core and tasks"), without its cast of the reward to int).
      store_next_state: keep the Q-network's state after each observation in replay (as the
        original melody code, the default). Off, the learner uses the state the online
        network reaches from the stored (obs, state) in the same forward pass: about half
        the replay memory (0.41 instead of 0.81 GB for 500,000 psi transitions of a 1x100
        LSTM with 35 tokens).
      save_replay: keep the replay memory in the run's checkpoints, so that a resumed run is
        bit-identical to an uninterrupted one (on by default; about 170 MB for 100,000
        melody transitions). Off for big buffers: a resumed run then starts with an empty
        replay (an approximate resume).
      learning_rate: Adam learning rate.
      target_update_rate: eta of the soft target update after every train step.
      clip_norm: per-tensor gradient norm clip.
      exploration: 'egreedy' (epsilon annealed linearly) or 'boltzmann' (sample the policy;
        the played note is stored).
      exploration_fraction: fraction of ``steps`` over which epsilon goes from
        epsilon_start to epsilon_end.
      epsilon_start: initial epsilon.
      epsilon_end: final epsilon.
      reward_mode: the task's reward variant (melodies: see note_rnn.reward_modes; g and
        pure_rl take only music_theory_only, as in the original). Left empty, the task's
        default for the algorithm is filled in (and recorded in config.json).
      max_length: tokens per episode (for melodies the notes per melody); the maximum length
        for a task with an end token (old name: ``num_notes``).
      num_envs: episodes played in parallel (a batched environment); the ratio of train
        steps to environment steps is kept at 1/train_every whatever this is.
      bootstrap_final_step: bootstrap from the state after an episode's last step, as the
        original melody code did (by default the last step is terminal; old name
        ``bootstrap_final_note``).
      head_init: how the Q-network's output layer starts (its LSTM is always the prior's):
        'prior' (Magenta: the prior's logits, so initial values sit about the prior's
        log-partition, +9.5 nats for the SMILES-RNNs, above the soft fixed point),
        'centered' (the prior's logits lowered by their mean log-partition,
        :func:`rl_tuner.kl_control.networks.mean_log_partition`; the initial policy is unchanged) or
        'zero' (all outputs 0: for g, whose policy is p exp(G), the run starts exactly at the
        prior and at the fixed point of a zero task reward; Psi-learning in the
        parametrisation Psi = log p + G, BUILD.md).
      double: the double estimator in the TD target (van Hasselt et al. 2016 for q and pure_rl;
        for psi and g the soft value E_pi[values - log(pi/p)] of the target network's values
        under the online network's policy, which is below the soft maximum of the target
        values unless the two networks agree: :mod:`rl_tuner.kl_control.targets`). Off: the paper's targets.
      value_offset: a constant added to every initial value (the output layer's bias; a shift
        of all values of a state changes no policy): 'none', or 'prior_return', the mean
        discounted task return sum_t gamma^t r_T / c of 256 episodes the prior plays in the
        training environment before training (:func:`rl_tuner.kl_control.value_offset.prior_return`). With a large
        reward paid when a sequence ends (molecules), values start near their scale instead
        of at 0, so that the transient in which the reward of ending is learned before the
        bootstrapped value of going on does not make the policy end every sequence at once
        (BUILD.md, "The learner at small c").
      end_transitions: fraction of the episodes that, at every step, also store the
        transition of the end token played in their current state (terminal, with the task
        reward it would earn there: ``end_rewards`` of the environment protocol) beside the
        transition they really play; 0 (the default) stores none. For tasks with an end token:
        the value of ending is learned in every state the policy visits, not only in those
        where it happens to end, so the end token's value does not carry over from states
        where ending pays to states where it does not (BUILD.md, "End transitions"). The
        extra transitions share the replay and its batches; the step count is unchanged.
      learner: 'transition' (the original's design, :class:`rl_tuner.kl_control.agent.KLControlLearner`:
        one-step targets on single stored transitions, each with the online network's recurrent
        state at acting time) or 'sequence' (:class:`rl_tuner.kl_control.sequence_learner.SequenceLearner`:
        whole stored episodes, both networks run over them from the zero state, lambda-returns;
        trains after each rollout of ``max_length`` steps, uniform replay only), or 'path' (the
        sequence learner with the path-consistency loss, psi and g only:
        :class:`rl_tuner.kl_control.sequence_learner.SequenceLearnerConfig`). BUILD.md, "The learner at small c".
      td_lambda: lambda of the sequence learner's returns (:func:`rl_tuner.kl_control.targets.lambda_targets`):
        0 is the one-step target, 1 the rest of the episode (an exact multi-step target for psi
        and g whatever policy played it; Peng's Q(lambda) for q and pure_rl, whose hard maximum has no
        such consistency).
      train_head_only: the sequence learners train only the Q-network's output layer; its
        LSTM stays the prior's (:class:`rl_tuner.kl_control.sequence_learner.SequenceLearnerConfig`).
      eval_every: environment steps between evaluations and checkpoints.
      eval_samples: sequences (melodies) sampled at each evaluation during training
        (``--eval-melodies`` is an alias).
      final_eval_samples: sequences sampled for the final statistics (melodies: Table 1) (before and
        after tuning).
      num_samples: MIDI/audio samples written at each evaluation.
      seed: seed of everything random in the run.
    """

    task: str = tasks.DEFAULT_TASK
    algorithm: str = "q"
    prior: str = ""
    steps: int = 200_000
    c: float = 0.5
    discount: float = 0.5
    batch_size: int = 32
    train_every: int = 5
    replay_capacity: int = 100_000
    replay: str = "uniform"
    new_priority: str = "max"
    store_next_state: bool = True
    save_replay: bool = True
    learning_rate: float = 1e-3
    target_update_rate: float = 0.01
    clip_norm: float = 5.0
    exploration: str = "egreedy"
    exploration_fraction: float = 0.5
    epsilon_start: float = 1.0
    epsilon_end: float = 0.1
    reward_mode: str = ""
    max_length: int = 32
    num_envs: int = 256
    bootstrap_final_step: bool = False
    head_init: str = "prior"
    value_offset: str = "none"
    double: bool = False
    end_transitions: float = 0.0
    learner: str = "transition"
    td_lambda: float = 1.0
    train_head_only: bool = False
    eval_every: int = 50_000
    eval_samples: int = 1000
    final_eval_samples: int = 10_000
    num_samples: int = 4
    seed: int = 0

    # Allowed values of every numeric setting (checked by validate() and by the command line).
    RANGES = {
        "steps": COUNT, "c": positive(), "discount": UNIT, "batch_size": COUNT, "train_every": COUNT,
        "replay_capacity": COUNT, "learning_rate": positive(), "target_update_rate": between(0.0, 1.0, low_open=True),
        "clip_norm": positive(), "exploration_fraction": UNIT, "epsilon_start": UNIT, "epsilon_end": UNIT,
        "max_length": COUNT, "num_envs": COUNT, "end_transitions": UNIT, "td_lambda": UNIT, "eval_every": COUNT, "eval_samples": COUNT,
        "final_eval_samples": COUNT, "num_samples": at_least(0), "seed": SEED,
    }

    # Names of earlier versions in stored config.json files: {new field: old field}.
    LEGACY_NAMES = {"prior": "note_rnn", "eval_samples": "eval_melodies", "final_eval_samples": "final_eval_melodies",
                    "max_length": "num_notes", "bootstrap_final_step": "bootstrap_final_note"}
    # Fields earlier config.json files lack, with the value they meant.
    LEGACY_DEFAULTS = {"task": tasks.DEFAULT_TASK, "save_replay": True, "new_priority": "max",
                       "store_next_state": True, "head_init": "prior", "end_transitions": 0.0,
                       "value_offset": "none", "double": False, "learner": "transition", "td_lambda": 1.0,
                       "train_head_only": False}

    def __post_init__(self):
        if not self.reward_mode:
            self.reward_mode = tasks.get_task(self.task).default_reward_mode(self.algorithm)

    @classmethod
    def upgrade_stored(cls, stored: dict) -> dict:
        """A stored config.json of an earlier version in today's names (for resuming)."""
        stored = dict(stored)
        for new, old in cls.LEGACY_NAMES.items():
            if new not in stored and old in stored:
                stored[new] = stored.pop(old)
        for key, value in cls.LEGACY_DEFAULTS.items():
            stored.setdefault(key, value)
        return stored

    def validate(self) -> "RLConfig":
        """Checks every setting; returns self.

        Raises:
          ValueError: naming the setting, for an unknown task, algorithm, exploration,
            replay or reward mode, a reward mode the algorithm does not take, end transitions
            that round to none of ``num_envs`` rows a step, a numeric setting
            outside its ``RANGES`` entry (NaN and infinity included), or a replay smaller
            than a batch or than one step of all melodies, or evaluations or samples of more
            than ``rl_tuner.sampling_args.MAX_TOKENS`` tokens.
        """
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        if self.exploration not in EXPLORATION_MODES:
            raise ValueError(f"unknown exploration {self.exploration!r}; choose one of {', '.join(EXPLORATION_MODES)}")
        if self.replay not in REPLAY_KINDS:
            raise ValueError(f"unknown replay {self.replay!r}; choose one of {', '.join(REPLAY_KINDS)}")
        if self.head_init not in HEAD_INITS:
            raise ValueError(f"unknown head_init {self.head_init!r}; choose one of {', '.join(HEAD_INITS)}")
        if self.head_init == "zero" and self.algorithm != "g":
            raise ValueError(f"head_init 'zero' makes the {self.algorithm} policy uniform (softmax of zeros); it is "
                             "for g, whose policy is p exp(G)")
        if self.value_offset not in VALUE_OFFSETS:
            raise ValueError(f"unknown value_offset {self.value_offset!r}; choose one of {', '.join(VALUE_OFFSETS)}")
        if self.learner not in LEARNERS:
            raise ValueError(f"unknown learner {self.learner!r}; choose one of {', '.join(LEARNERS)}")
        if self.learner == "path" and self.algorithm not in ("psi", "g"):
            raise ValueError(f"the path-consistency learner is for the soft algorithms psi and g; {self.algorithm} "
                             "takes learner 'transition' or 'sequence'")
        if self.train_head_only and self.learner == "transition":
            raise ValueError("train_head_only is a setting of the sequence learners (learner 'sequence' or 'path')")
        if self.learner in ("sequence", "path"):
            if self.replay != "uniform":
                raise ValueError("the sequence learner samples whole episodes uniformly; give replay 'uniform'")
            if self.double:
                raise ValueError("the double estimator is a setting of the transition learner; the sequence "
                                 "learner does not take it")
            if self.replay_capacity // self.max_length < self.batch_size:
                raise ValueError(f"replay_capacity ({self.replay_capacity}) holds {self.replay_capacity // self.max_length}"
                                 f" episodes of {self.max_length} steps for the sequence learner, fewer than batch_size "
                                 f"({self.batch_size})")
        if self.new_priority not in NEW_PRIORITIES:
            raise ValueError(f"unknown new_priority {self.new_priority!r}; choose one of {', '.join(NEW_PRIORITIES)}")
        tasks.get_task(self.task).check_settings(self)
        check_ranges(self, self.RANGES)
        if self.end_transitions > 0:
            if tasks.get_task(self.task).end_token is None:
                raise ValueError(f"end_transitions needs a task whose sequences end with an end token; the "
                                 f"{self.task} task's have a fixed length")
            if self.bootstrap_final_step:
                raise ValueError("end_transitions store terminal transitions; they do not go with "
                                 "bootstrap_final_step (the last step bootstraps)")
            if int(round(self.end_transitions * self.num_envs)) == 0:  # the rows a step stores (rl_tuner.runner.train)
                raise ValueError(f"end_transitions {self.end_transitions:g} of num_envs {self.num_envs} stores no end "
                                 f"transition (round({self.end_transitions:g} x {self.num_envs}) = 0); give at least "
                                 f"{1 / self.num_envs:g}, or 0")
        for name in ("eval_samples", "final_eval_samples", "num_samples"):  # refused now, not at the end
            check_token_count(getattr(self, name), self.max_length, f"samples (--{name.replace('_', '-')})")
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
                  eval_samples=1000, final_eval_samples=100_000),
    "default": dict(steps=200_000, batch_size=32, discount=0.5, train_every=5, replay_capacity=100_000,
                    exploration="egreedy", exploration_fraction=0.5, c=0.5, eval_every=25_000,
                    eval_samples=1000, final_eval_samples=10_000),
}


def presets_of(task_name: str) -> dict:
    """The presets of a task: the core's :data:`PRESETS`, each replaced by the task's own
    preset of that name (:attr:`rl_tuner.tasks.Task.presets`), plus the task's others."""
    return {**PRESETS, **tasks.get_task(task_name).presets}


def from_preset(preset: str = "default", **overrides) -> RLConfig:
    """Builds a config from a preset of the task (``overrides["task"]``, default melody)
    plus explicit overrides (None values are ignored). Without a prior from either, the
    task's shipped prior (:meth:`rl_tuner.tasks.Task.default_prior`) is used.

    Raises:
      ValueError: an unknown preset or task, or an invalid setting (see :meth:`RLConfig.validate`).
    """
    task_name = overrides.get("task") or tasks.DEFAULT_TASK
    presets = presets_of(task_name)
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r} for task {task_name!r}; choose one of {', '.join(presets)}")
    values = dict(presets[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    if not values.get("prior"):  # the preset's own prior (smiles paper), else the task's shipped one
        values["prior"] = tasks.get_task(task_name).default_prior()
    return RLConfig(**values).validate()
