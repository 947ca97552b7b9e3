"""Generation policies: a tuned Q-network with its prior, or a plain Note-RNN (the MLE row).

A policy steps B sequences: ``step(tokens, state) -> (policy logits, log prior, state)``.
The acting distribution is softmax(policy logits / temperature), where the policy logits
are the algorithm's (Q or Psi for q/psi/pure_rl, G + log p for g, the Note-RNN's logits
for a plain Note-RNN) and ``log prior`` is the frozen reward network's log p(.|s).

On disk a tuned policy is a directory (a run directory or its ``policy/`` folder) with
``policy.json`` ({"algorithm": ...}), ``q_network/`` and ``prior/`` Note-RNN checkpoints.
"""

from __future__ import annotations

import os

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

import note_rnn  # noqa: E402
from rl_tuner import atomic, file_checks  # noqa: E402
from note_rnn import checkpoint
from rl_tuner import targets  # noqa: E402

POLICY_FILE = "policy.json"
MLE = "mle"


class Policy(tf.Module):
    """A policy over tokens.

    Args:
      prior_rnn: the pre-trained Note-RNN (reward network).
      q_rnn: the tuned network, or None for the plain Note-RNN policy.
      algorithm: the tuning algorithm (decides the policy logits); ignored without q_rnn.
    """

    def __init__(self, prior_rnn, q_rnn=None, algorithm: str = MLE):
        super().__init__(name="policy")
        self.prior_rnn = prior_rnn
        self.q_rnn = q_rnn
        self.algorithm = algorithm if q_rnn is not None else MLE
        self._policy_logits = None if q_rnn is None else targets.get_algorithm(algorithm).policy_logits
        self.num_classes = prior_rnn.config.num_classes

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


def save_policy(path: str, q_rnn, prior_rnn, algorithm: str, card: dict | None = None) -> str:
    """Writes a tuned policy directory atomically (a run's own ``policy/``: replaced each time)."""
    with atomic.directory(path, overwrite=True, owned=("q_network", "prior", POLICY_FILE)) as tmp:
        checkpoint.save_model(os.path.join(tmp, "q_network"), q_rnn, card=card)
        checkpoint.save_model(os.path.join(tmp, "prior"), prior_rnn)
        atomic.write_json(os.path.join(tmp, POLICY_FILE), {"algorithm": algorithm, "format": "rl_tuner_policy/1"})
    return path


def load_policy(path: str, num_classes: int | None = None) -> Policy:
    """Loads a policy from a run directory, a policy directory, or a Note-RNN checkpoint.

    Every file is checked before a network is built: ``policy.json`` (a JSON object naming a
    known algorithm) and both Note-RNN checkpoints (see :func:`note_rnn.checkpoint.read`),
    which must have the same vocabulary.

    Args:
      path: a run directory, its ``policy/`` folder, or a Note-RNN checkpoint (the MLE policy).
      num_classes: the vocabulary size the caller needs (38 for melodies); None accepts any.

    Raises:
      FileNotFoundError: if nothing loadable is at ``path``.
      ValueError: naming the file, for a broken policy file or checkpoint, an unknown
        algorithm, networks of different vocabularies, or a vocabulary other than
        ``num_classes``.
    """
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
            prior = note_rnn.load(os.path.join(candidate, "prior"), num_classes=num_classes)
            q_rnn = checkpoint.load_model(os.path.join(candidate, "q_network"), name="q_rnn",
                                          num_classes=prior.config.num_classes)
            return Policy(prior, q_rnn, algorithm)
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json")) and not checkpoint.is_checkpoint(path):
        try:
            checkpoint.read_config(os.path.join(path, "config.json"))
        except ValueError:
            raise FileNotFoundError(
                f"{path} looks like a run directory without a saved policy yet (the run has not reached its first "
                "evaluation); run `rl-tuner train` with the same --out to continue it") from None
    return Policy(note_rnn.load(path, num_classes=num_classes))
