"""Generation policies: a tuned Q-network with its prior, or a plain prior (the MLE row).

A policy steps B sequences: ``step(tokens, state) -> (policy logits, log prior, state)``.
The acting distribution is softmax(policy logits / temperature), where the policy logits
are the algorithm's (Q or Psi for q/psi/pure_rl, G + log p for g, the prior's logits
for a plain prior) and ``log prior`` is the frozen reward network's log p(.|s).

On disk a tuned policy is a directory (a run directory or its ``policy/`` folder) with
``policy.json`` ({"algorithm": ..., "task": ...}), ``q_network/`` and ``prior/``
sequence-model checkpoints (:mod:`rl_tuner.plumbing.checkpoint`).
"""

from __future__ import annotations

import os

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner.plumbing import atomic, checkpoint, file_checks, output_dir  # noqa: E402
from rl_tuner import tasks  # noqa: E402
from rl_tuner.kl_control import targets  # noqa: E402

POLICY_FILE = "policy.json"
MLE = "mle"


class Policy(tf.Module):
    """A policy over tokens.

    Args:
      prior_rnn: the pre-trained sequence model (reward network).
      q_rnn: the tuned network, or None for the plain prior's policy.
      algorithm: the tuning algorithm (decides the policy logits); ignored without q_rnn.
    """

    def __init__(self, prior_rnn, q_rnn=None, algorithm: str = MLE):
        super().__init__(name="policy")
        self.prior_rnn = prior_rnn
        self.q_rnn = q_rnn
        self.algorithm = algorithm if q_rnn is not None else MLE
        self._policy_logits = None if q_rnn is None else targets.get_algorithm(algorithm).policy_logits
        self.num_classes = prior_rnn.config.num_classes
        self.never_sampled = None  # tokens no sampler draws (load_policy sets the task's)

    def zero_state(self, batch_size):
        q_state = () if self.q_rnn is None else self.q_rnn.zero_state(batch_size)
        return q_state, self.prior_rnn.zero_state(batch_size)

    def step(self, tokens, state):
        """Advances B sequences by ``tokens``; returns (policy logits, log p, new state)."""
        q_state, prior_state = state
        prior_logits, prior_state = self.prior_rnn.step(tokens, prior_state)
        log_prior = tf.nn.log_softmax(prior_logits)
        if self.q_rnn is None:
            return prior_logits, log_prior, (q_state, prior_state)
        values, q_state = self.q_rnn.step(tokens, q_state)
        return self._policy_logits(values, log_prior), log_prior, (q_state, prior_state)


def is_policy_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, POLICY_FILE))


def save_policy(path: str, q_rnn, prior_rnn, algorithm: str, card: dict | None = None,
                task: str = tasks.DEFAULT_TASK) -> str:
    """Writes a tuned policy directory atomically (a run's own ``policy/``: replaced each time);
    ``policy.json`` names the algorithm and the task."""
    with output_dir.directory(path, overwrite=True, owned=("q_network", "prior", POLICY_FILE)) as tmp:
        checkpoint.save_model(os.path.join(tmp, "q_network"), q_rnn, card=card)
        checkpoint.save_model(os.path.join(tmp, "prior"), prior_rnn)
        atomic.write_json(os.path.join(tmp, POLICY_FILE), {"algorithm": algorithm, "task": task,
                                                          "format": "rl_tuner_policy/1"})
    return path


def task_of(path: str, default: str = tasks.DEFAULT_TASK) -> str:
    """The task a model belongs to: named by a policy's ``policy.json`` or a run's
    ``config.json`` (written by this version), else ``default`` (a plain checkpoint, or a run
    from before tasks were recorded: melodies)."""
    for candidate in (path, os.path.join(path, "policy")):
        if is_policy_dir(candidate):
            try:
                meta = file_checks.read_json(os.path.join(candidate, POLICY_FILE), "policy file")
            except ValueError:
                return default  # load_policy names the broken file
            return meta.get("task", default) if isinstance(meta, dict) else default
    stored = stored_run_config(path)
    return stored.get("task", default) if stored is not None else default


def stored_run_config(path: str) -> dict | None:
    """The settings an ``rl-tuner train`` run at ``path`` stored (its ``config.json`` as a dict),
    or None for anything else (no such file, a checkpoint's config, an unreadable file)."""
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path) or checkpoint.is_checkpoint(path):
        return None
    try:
        stored = file_checks.read_json(config_path, "run config")
    except ValueError:
        return None
    return stored if isinstance(stored, dict) else None


def load_policy(path: str, num_classes: int | None = None, task=None) -> Policy:
    """Loads a policy from a run directory, a policy directory, or a prior's checkpoint.

    Every file is checked before a network is built: ``policy.json`` (a JSON object naming a
    known algorithm) and both checkpoints (see :func:`rl_tuner.plumbing.checkpoint.read`), which must
    have the same vocabulary.

    Args:
      path: a run directory, its ``policy/`` folder, or a prior checkpoint (the MLE policy).
      num_classes: the vocabulary size the caller needs; None accepts any (or the task's).
      task: the :class:`rl_tuner.tasks.Task` whose prior loader reads the prior (e.g. the
        melody task also reads Magenta checkpoints) and whose vocabulary size is needed;
        None: this project's checkpoint format, any vocabulary. The policy's
        ``never_sampled`` are the task's :meth:`~rl_tuner.tasks.Task.never_sampled_tokens`
        (None without a task), which every sampler of the policy leaves out.

    Raises:
      FileNotFoundError: if nothing loadable is at ``path``.
      ValueError: naming the file, for a broken policy file or checkpoint, an unknown
        algorithm, networks of different vocabularies, or a vocabulary other than
        ``num_classes``.
    """
    file_checks.check_path(path, "any")  # a FIFO, a link loop, a dangling link: said what it is
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model at {path}")
    for candidate in (path, os.path.join(path, "policy")):
        if is_policy_dir(candidate):
            policy_file = os.path.join(candidate, POLICY_FILE)
            meta = file_checks.read_json(policy_file, "policy file")
            algorithm = meta.get("algorithm")
            if algorithm not in targets.ALGORITHMS:
                raise ValueError(f"{policy_file}: unknown algorithm {algorithm!r}; expected one of "
                                 f"{list(targets.ALGORITHMS)}")
            prior = _load_prior(os.path.join(candidate, "prior"), num_classes, task)
            q_rnn = checkpoint.load_model(os.path.join(candidate, "q_network"), name="q_rnn",
                                          num_classes=prior.config.num_classes,
                                          make_encoder=lambda spec, config, source: prior.input_encoder)
            return _with_task(Policy(prior, q_rnn, algorithm), task)
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json")) and not checkpoint.is_checkpoint(path):
        try:
            checkpoint.read_config(os.path.join(path, "config.json"))
        except ValueError:
            raise FileNotFoundError(
                f"{path} looks like a run directory without a saved policy yet (the run has not reached its first "
                "evaluation); run `rl-tuner train` with the same --out to continue it") from None
    return _with_task(Policy(_load_prior(path, num_classes, task)), task)


def _with_task(pol: Policy, task) -> Policy:
    """Records the task's never-sampled tokens on the policy (every sampler reads them)."""
    tokens = None if task is None else task.never_sampled_tokens()
    pol.never_sampled = tuple(sorted({int(t) for t in tokens})) if tokens else None
    return pol


def _load_prior(path: str, num_classes: int | None, task):
    if task is not None:
        prior = task.load_prior(path)
        checkpoint.check_num_classes(prior.config.num_classes, num_classes, path)
        return prior
    return checkpoint.load_model(path, num_classes=num_classes)
