"""Tasks: what the domain-free core asks of an application, and the registry finding them.

A *task* is everything about one application of the RL Tuner (melodies, molecules, a user's
own sequences): the prior to load and its vocabulary, the batched environment paying the
task reward, the statistics of sampled sequences, the files a person looks at, and a
decoder from tokens to text. The core (training loop, evaluation, policy, export, the
``rl-tuner`` command) only talks to a :class:`Task`; it imports no application.

Tasks are found by name in the Python entry-point group ``rl_tuner.tasks``; an installed
package adds one with, in its ``setup.py``::

    entry_points={"rl_tuner.tasks": ["my_task = my_package.task:MyTask"]}

The project's own melody task registers the same way (``melody = note_rnn.task:MelodyTask``);
:data:`PROJECT_TASKS` names it as well, so a checkout whose installed metadata predates the
entry point still finds it (nothing is imported until the task is asked for).

This module is pure Python (no TensorFlow, no application import).
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Sequence

ENTRY_POINT_GROUP = "rl_tuner.tasks"
DEFAULT_TASK = "melody"
# The project's own tasks ("module:attribute"), used when no installed entry point has the name.
PROJECT_TASKS = {"melody": "note_rnn.task:MelodyTask", "smiles": "molecules.task:SmilesTask"}


class Task:
    """The interface of a task (subclass it; the defaults suit a simple task).

    Class attributes:
      name: the registry name (``rl-tuner train --task NAME``).
      num_classes: vocabulary size C of the prior (and number of actions).
      end_token: the token ending a sequence, or None for fixed-length sequences. Sampling,
        evaluation and export stop a sequence at it.
      default_length: tokens per sampled sequence (the maximum if there is an end token).
      nouns: (one sequence, several sequences, one token, several tokens) for messages,
        e.g. ("melody", "melodies", "note", "notes").
      headline: ((statistic key, short label), ...): the statistics of :meth:`measure`
        shown on the progress line and bar (the first one is the task's main figure).
      statistics_title, prior_title: the title of the statistics printed after training and
        the name of the prior's column.
      table_keys: the statistics printed as a table after training and by ``rl-tuner
        evaluate`` (default: the headline ones and the core's per-token means).
      reward_modes: names of the task's reward variants (``--reward-mode``); empty if it
        has none.
      presets: {preset name: {RLConfig field: value}}: the task's own ``--preset``
        settings; a name found here replaces the core's preset of that name
        (:data:`rl_tuner.runner.config.PRESETS`) for this task.
    """

    name: str = ""
    num_classes: int = 0
    end_token: int | None = None
    default_length: int = 32
    nouns: tuple[str, str, str, str] = ("sequence", "sequences", "token", "tokens")
    headline: tuple[tuple[str, str], ...] = ()
    table_keys: tuple[str, ...] = ()
    statistics_title: str = "Statistics"
    prior_title: str = "prior"
    reward_modes: tuple[str, ...] = ()
    presets: dict = {}

    def statistics_to_print(self) -> tuple[str, ...]:
        """The keys of :attr:`table_keys`, or the headline ones and the core's means."""
        return self.table_keys or tuple(key for key, _ in self.headline) + (
            "mean_log_prior", "mean_kl", "mean_entropy", "mean_length")

    # --- the prior ----------------------------------------------------------------------
    def default_prior(self) -> str:
        """Path of the task's shipped prior checkpoint (used when no --prior is given).

        Raises:
          ValueError: if the task ships none.
        """
        raise ValueError(f"task {self.name!r} has no default prior; give --prior")

    def load_prior(self, path: str, name: str = "note_rnn"):
        """Loads the prior (a :class:`rl_tuner.models.sequence_model.SequenceRNN`) from ``path``.

        The default reads this project's checkpoint format and refuses another vocabulary
        size. Raises FileNotFoundError or ValueError naming the file.
        """
        from rl_tuner.plumbing import checkpoint
        return checkpoint.load_model(path, name=name, num_classes=self.num_classes)

    # --- settings -----------------------------------------------------------------------
    def default_reward_mode(self, algorithm: str) -> str:
        """The reward mode an algorithm uses unless told otherwise ('' if the task has none)."""
        return self.reward_modes[0] if self.reward_modes else ""

    def check_settings(self, config) -> None:
        """Refuses settings the task cannot run (ValueError naming the setting).

        The default accepts the modes of :attr:`reward_modes` (or only '' if there are none).
        """
        allowed = self.reward_modes or ("",)
        if config.reward_mode not in allowed:
            raise ValueError(f"unknown reward mode {config.reward_mode!r} for task {self.name!r}; valid modes: "
                             f"{', '.join(allowed) or '(none)'}")

    # --- environment --------------------------------------------------------------------
    def make_environment(self, config):
        """The batched environment of a run (see :mod:`note_rnn.environment`)."""
        raise NotImplementedError

    def exploration_actions(self) -> Sequence[int] | None:
        """The tokens epsilon-greedy exploration draws at random (None: all of them)."""
        return None

    def first_tokens(self) -> Sequence[int] | None:
        """The tokens a sampled sequence's priming token is drawn from, uniformly, in
        evaluation, sampling and export (None: all tokens, as Magenta's RL Tuner; a
        begin-token vocabulary returns ``[begin]``). The priming token is not part of the
        output. The training environment's ``reset`` chooses its own."""
        return None

    def never_sampled_tokens(self) -> Sequence[int] | None:
        """Tokens no sampler ever draws inside a sequence (evaluation, sampling, the exported
        SavedModel, the Python API), at any temperature: e.g. a begin token, which only primes
        a sequence (None: every token may be drawn). The end token is not one of them."""
        return None

    # --- sampled sequences --------------------------------------------------------------
    def measure(self, tokens, lengths) -> dict:
        """The task's statistics of sampled sequences ({name: float}).

        Args:
          tokens: int32 [N, T] sampled tokens (after an end token: padding).
          lengths: int32 [N], tokens of each sequence (the end token included).
        """
        return {}

    def write_samples(self, tokens, lengths, out_dir: str, writer=None, step: int = 0, policy=None,
                      seed: int = 0) -> None:
        """Writes sampled sequences for a person to look at.

        ``writer`` is the run's TensorBoard writer (or None), ``policy`` the policy sampled,
        ``seed`` the sampling seed. The default writes ``tokens.json`` (token lists cut at
        their lengths) and, for a task with :meth:`decode`, ``text.json`` and the texts as
        TensorBoard text.
        """
        import os
        from rl_tuner.plumbing import atomic
        os.makedirs(out_dir, exist_ok=True)
        sequences = [[int(x) for x in t[:n]] for t, n in zip(tokens, lengths)]
        atomic.write_json(os.path.join(out_dir, "tokens.json"), sequences)
        texts = [self.decode(s) for s in sequences]
        if texts and texts[0] is not None:
            atomic.write_json(os.path.join(out_dir, "text.json"), texts)
            if writer is not None:
                import tensorflow as tf
                with writer.as_default():
                    tf.summary.text("samples/text", "\n\n".join(texts), step=step)

    def finish(self, out_dir: str, history: dict, policy, config) -> None:
        """Writes the task's end-of-run files (figures) into the run directory."""

    def decode(self, tokens: Sequence[int]) -> str | None:
        """Text of one sequence (its tokens up to its length), or None if the task has no
        text form. With a vocabulary, the default joins its symbols."""
        vocabulary = self.vocabulary()
        if vocabulary is None:
            return None
        return "".join(vocabulary[t] for t in tokens if t != self.end_token)

    def vocabulary(self) -> Sequence[str] | None:
        """Symbol of each token, or None."""
        return None

    def commands(self) -> dict:
        """Extra ``rl-tuner`` subcommands: {name: (help, add_arguments(parser), run(args) -> int)}."""
        return {}


def _entry_points() -> dict:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Names of every registered task (installed entry points and the project's own)."""
    return sorted(set(_entry_points()) | set(PROJECT_TASKS))


def get_task(name: str) -> Task:
    """The task called ``name``, instantiated.

    Raises:
      ValueError: if no task has that name (the message lists the registered ones), or the
        entry point does not name a :class:`Task`.
    """
    entry = _entry_points().get(name)
    if entry is not None:
        target, cls = entry.value, entry.load()
    elif name in PROJECT_TASKS:
        target = PROJECT_TASKS[name]
        module, attr = target.split(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        raise ValueError(f"unknown task {name!r}; registered tasks: {', '.join(available())} (a package adds one "
                         f"through the entry-point group {ENTRY_POINT_GROUP!r})")
    task = cls() if isinstance(cls, type) else cls
    if not isinstance(task, Task):
        raise ValueError(f"the task entry point {name} = {target} does not name an rl_tuner.tasks.Task")
    return task
