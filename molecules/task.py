"""The molecule task: what the RL Tuner core needs to tune a SMILES-RNN (registered as ``smiles``).

* prior: a SMILES-RNN checkpoint (``molecules train-prior``; :func:`molecules.prior.load`),
  whose stored vocabulary sets the task's tokens: the atom-level one (``<bos>`` primes,
  ``<eos>`` ends) or the original's 35 characters (a random primer of indices 1..33, ``' '``
  ends); by default the shipped ``checkpoints/smiles_rnn`` (``checkpoints/smiles_rnn_paper``
  with ``--preset paper``);
* environment: :class:`molecules.environment.SmilesEnvironment` paying the RDKit domain
  reward of a reward preset (``--reward-mode default`` or ``paper``, BUILD.md
  "Molecules: data, tokenizers and rewards"); q and psi add log p(a|s), g and pure_rl use the domain term only;
* statistics: the paper's Table 2 plus unique and internal diversity
  (:mod:`molecules.evaluation`);
* samples: a SMILES file and an RDKit image grid (also in TensorBoard).

The task object learns its vocabulary from the prior it loads (:meth:`SmilesTask.load_prior`),
which the core does before asking for anything that depends on it.

Importing this module loads neither TensorFlow nor RDKit.
"""

from __future__ import annotations

import numpy as np

from rl_tuner.resources import shipped_checkpoint
from rl_tuner.tasks import Task


# The shipped SMILES-RNNs (checkpoints/NAME; installed as molecules/_checkpoints/NAME): the
# atom-level default prior and the paper's 1 x 100 character model.
DEFAULT_PRIOR, PAPER_PRIOR = "smiles_rnn", "smiles_rnn_paper"


# The original's final run (BUILD.md, "The smiles task"; with the paper's prior) and the default. Both
# keep the replay in their checkpoints (save_replay), so that a resumed run is bit-identical to an
# uninterrupted one (BUILD.md, "Safe outputs, run locks and resume").
PAPER_PRESET = dict(
    prior=shipped_checkpoint("molecules", PAPER_PRIOR), algorithm="psi", reward_mode="paper", steps=2_500_000,
    c=1 / 0.35, discount=0.95, batch_size=512, train_every=50, replay="prioritized", new_priority="td", replay_capacity=500_000, store_next_state=False,
    save_replay=True, learning_rate=1e-4, clip_norm=5.0, target_update_rate=0.01, exploration="egreedy",
    exploration_fraction=0.0, epsilon_start=0.01, epsilon_end=0.01, max_length=120, num_envs=256,
    bootstrap_final_step=True, eval_every=100_000, eval_samples=1000, final_eval_samples=10_000)
DEFAULT_PRESET = dict(
    algorithm="g", reward_mode="default", steps=500_000, c=100.0, discount=0.99, batch_size=256,
    train_every=25, replay="prioritized", new_priority="max", replay_capacity=200_000, store_next_state=False,
    save_replay=True, learning_rate=1e-4, clip_norm=5.0, target_update_rate=0.01, exploration="boltzmann",
    exploration_fraction=0.0, epsilon_start=0.0, epsilon_end=0.0, max_length=80, num_envs=256,
    bootstrap_final_step=False, head_init="zero", end_transitions=0.25, eval_every=50_000, eval_samples=1000,
    final_eval_samples=10_000)


class SmilesTask(Task):
    """Molecules of Sequence Tutor's second experiment (see the module docstring)."""

    name = "smiles"
    end_token = 0
    default_length = 120
    nouns = ("molecule", "molecules", "token", "tokens")
    headline = (("valid", "valid"), ("mean_logp", "logP"), ("mean_qed", "QED"))
    statistics_title = "Table-2 statistics"
    prior_title = "SMILES-RNN"
    table_keys = ("mean_reward", "valid", "mean_logp", "mean_qed", "mean_sa_penalty", "mean_ring_penalty", "unique",
                  "internal_diversity", "mean_log_prior", "mean_kl", "mean_entropy", "mean_length")
    reward_modes = ("default", "paper")
    presets = {"paper": PAPER_PRESET, "default": DEFAULT_PRESET}

    def __init__(self):
        self.tokenizer = None
        self.num_classes = 0
        self.reward_mode = "default"  # the reward :meth:`measure` reports (``mean_reward``); a run's own

    def default_prior(self) -> str:
        return shipped_checkpoint("molecules", DEFAULT_PRIOR)

    def load_prior(self, path: str, name: str = "note_rnn"):
        """Loads a SMILES-RNN and takes its vocabulary (:func:`molecules.prior.load`)."""
        from molecules import prior  # pylint: disable=import-outside-toplevel  (TensorFlow)
        model, tokenizer = prior.load(path)
        self.tokenizer, self.num_classes, self.end_token = tokenizer, tokenizer.vocab_size, tokenizer.end_id
        return model

    def _need_tokenizer(self):
        if self.tokenizer is None:
            raise ValueError("the smiles task has no vocabulary before its prior is loaded")
        return self.tokenizer

    def default_reward_mode(self, algorithm: str) -> str:
        return "default"

    def make_environment(self, config):
        """B SMILES episodes of at most ``config.max_length`` tokens with the reward preset
        ``config.reward_mode``.

        Raises:
          ValueError: a preset whose length limits count another kind of token than the
            prior's vocabulary (the paper preset counts characters, the default atom tokens).
        """
        from molecules import rewards  # pylint: disable=import-outside-toplevel
        from molecules.environment import SmilesEnvironment  # pylint: disable=import-outside-toplevel
        if self.tokenizer is None:
            self.load_prior(config.prior)  # the vocabulary is the prior's
        tokenizer = self.tokenizer
        preset = rewards.make_preset(config.reward_mode)
        if preset.tokenizer != tokenizer.kind:
            need = "checkpoints/smiles_rnn_paper (35 characters)" if preset.tokenizer == "char" else \
                "an atom-level prior (checkpoints/smiles_rnn)"
            raise ValueError(f"the {preset.name} reward counts {preset.tokenizer} tokens but the prior has "
                             f"{tokenizer.describe()}; use {need} or the other --reward-mode")
        self.reward_mode = config.reward_mode
        return SmilesEnvironment(config.num_envs, config.max_length, tokenizer, rewards.DomainReward(preset),
                                 adds_log_prior=config.algorithm in ("q", "psi"))

    def exploration_actions(self):
        from molecules.environment import exploration_actions  # pylint: disable=import-outside-toplevel
        return exploration_actions(self._need_tokenizer())

    def first_tokens(self):
        from molecules.environment import first_tokens  # pylint: disable=import-outside-toplevel
        return first_tokens(self._need_tokenizer())

    def never_sampled_tokens(self):
        """``[<bos>]`` for the atom-level vocabulary (it only primes a sequence: a sampled
        ``<bos>`` wrote the text ``<bos>`` inside a SMILES); None for the original's 35
        characters (no begin token; ``' '`` is the end token)."""
        begin = self._need_tokenizer().begin_id
        return None if begin is None else [begin]

    def vocabulary(self):
        return None if self.tokenizer is None else self.tokenizer.symbols

    def decode(self, tokens) -> str:
        """The SMILES of one sampled sequence: its symbols up to the end token. A ``<bos>``
        the policy wrote inside a sequence stays as the text ``<bos>`` (no molecule), as the
        environment scored it."""
        tokenizer = self._need_tokenizer()
        out = []
        for t in tokens:
            if int(t) == tokenizer.end_id:
                break
            out.append(tokenizer.symbols[int(t)])
        return "".join(out)

    def smiles(self, tokens, lengths) -> list:
        """SMILES strings of sampled sequences (cut at their lengths, end token removed)."""
        return [self.decode(t[:n]) for t, n in zip(np.asarray(tokens), np.asarray(lengths))]

    def measure(self, tokens, lengths) -> dict:
        """Table 2, unique, internal diversity and ``mean_reward`` under :attr:`reward_mode`
        (the run's reward once :meth:`make_environment` has seen its settings; see
        :mod:`molecules.evaluation`)."""
        from molecules import evaluation  # pylint: disable=import-outside-toplevel
        return evaluation.statistics(self.smiles(tokens, lengths), reward_mode=self.reward_mode)

    def write_samples(self, tokens, lengths, out_dir: str, writer=None, step: int = 0, policy=None,
                      seed: int = 0) -> None:
        """Writes ``molecules.smi`` (one SMILES a line) and ``grid.png`` (the valid ones drawn
        by RDKit, at most 16), and the grid and SMILES to TensorBoard."""
        from molecules import media  # pylint: disable=import-outside-toplevel
        media.write_molecules(self.smiles(tokens, lengths), out_dir, writer, step)

    def commands(self) -> dict:
        return {}
