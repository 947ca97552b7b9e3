"""The melody task: what the RL Tuner core needs to tune a Note-RNN (registered as ``melody``).

* prior: a Note-RNN of any of Magenta's melody_rnn configurations (the project's checkpoints,
  Magenta checkpoints and ``.mag`` bundles; :func:`note_rnn.prior.load`), the shipped one by
  default. Its actions are its own classes (40 for lookback_rnn and attention_rnn, 130 for
  mono_rnn); the environment, the statistics and the samples read the melodies they decode to
  (:meth:`note_rnn.melody_configs.MelodyEncoder.task_tokens`: repeat classes become the event
  they repeat, mono_rnn's pitches outside 48..83 are folded by octaves into that range);
* environment: :class:`note_rnn.environment.MelodyEnvironment` (fixed-length melodies, no end
  token) paying the music-theory reward of a reward mode (:mod:`note_rnn.reward_modes`);
* statistics: the paper's Table 1 (:mod:`note_rnn.stats`) plus the mean r_MT per note and
  each of its components;
* samples: MIDI and WAV files, TensorBoard audio and the next-note figure; at the end of a run
  the training curves (Figure 2) and next-note probabilities (Figure 4) as PNG;
* the melody commands of ``rl-tuner``: ``score``, ``stats`` and ``generate``.

Importing this module loads neither TensorFlow nor note-seq.
"""

from __future__ import annotations

import os

import numpy as np

from note_rnn import reward_modes, tokens
from note_rnn.stats import TABLE_1_KEYS
from rl_tuner.tasks import Task


class MelodyTask(Task):
    """Melodies of the RL Tuner paper (see the module docstring)."""

    name = "melody"
    num_classes = tokens.NUM_CLASSES
    end_token = None
    default_length = 32
    nouns = ("melody", "melodies", "note", "notes")
    headline = (("mean_music_theory_reward", "r_MT"),)
    statistics_title = "Table-1 statistics"
    prior_title = "Note-RNN"
    table_keys = TABLE_1_KEYS + ("mean_log_prior", "mean_music_theory_reward", "mean_kl", "mean_entropy")
    reward_modes = tuple(reward_modes.REWARD_MODES)

    def __init__(self):
        self._encoders = {}  # prior path -> its melody encoder

    def default_prior(self) -> str:
        import note_rnn
        return note_rnn.default_checkpoint()

    def load_prior(self, path: str, name: str = "note_rnn"):
        """A melody model of any melody_rnn configuration (its ``input_encoder`` is a
        :class:`note_rnn.melody_configs.MelodyEncoder`).

        Raises:
          ValueError: for a model that is not a melody model (e.g. a SMILES-RNN).
        """
        from note_rnn import prior
        model = prior.load_melody_model(path, name=name)
        self._encoders[os.path.abspath(path)] = model.input_encoder
        return model

    def encoder_of(self, path: str):
        """The melody encoder of the prior at ``path`` (loaded once)."""
        key = os.path.abspath(path)
        if key not in self._encoders:
            self.load_prior(path)
        return self._encoders[key]

    def default_reward_mode(self, algorithm: str) -> str:
        return reward_modes.default_reward_mode(algorithm)

    def check_settings(self, config) -> None:
        reward_modes.reward_mode_for_algorithm(config.algorithm, config.reward_mode)

    def make_environment(self, config):
        """Melodies of ``config.max_length`` notes; 'g' and 'pure_rl' use music_theory_only, as the original."""
        from note_rnn.environment import MelodyEnvironment
        mode = reward_modes.reward_mode_for_algorithm(config.algorithm, config.reward_mode)
        return MelodyEnvironment(config.num_envs, config.max_length, mode.name,
                                 encoder=self.encoder_of(config.prior or self.default_prior()))

    def measure(self, tokens, lengths) -> dict:
        """Table-1 statistics, mean r_MT per note and mean of each r_MT component."""
        from note_rnn import music_theory, stats
        melodies = np.asarray(tokens)
        result = dict(stats.composition_stats(melodies))
        total, components = music_theory.score_melodies(melodies)
        result["mean_music_theory_reward"] = float(np.mean(total))
        result.update({f"mean_reward_{name}": float(np.mean(v)) for name, v in components.items()})
        return result

    def write_samples(self, tokens, lengths, out_dir: str, writer=None, step: int = 0, policy=None,
                      seed: int = 0) -> None:
        from note_rnn import media
        media.write_melodies(np.asarray(tokens), out_dir, policy, seed, writer, step)

    def finish(self, out_dir: str, history: dict, policy, config) -> None:
        from note_rnn import media
        media.plot_training_curves(history, os.path.join(out_dir, "training_curves.png"))
        media.plot_next_note_probabilities(policy, os.path.join(out_dir, "next_note_probabilities.png"),
                                           config.max_length, seed=config.seed)

    def commands(self) -> dict:
        from note_rnn import rl_commands
        return rl_commands.COMMANDS
