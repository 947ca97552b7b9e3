"""A toy with the molecule task's reward scale: a large reward paid only when a sequence ends.

Tokens: 0 ``.`` (end), 1 ``(``, 2 ``)``, 3 ``a``, 4 ``b``, 5 ``^`` (begin: the priming token,
never played). A finished sequence (the end token played, or ``max_length`` tokens) earns

* ``VALID + SPREAD * (2 * share_b - 1)`` if its brackets balance and it holds an atom (``a``
  or ``b``) in every bracket pair and outside: 550 .. 650, like the SMILES default preset's
  +600 + 10 P for a valid molecule;
* 0 if it is not valid (as an invalid SMILES);
* ``TOO_LONG`` (-1000) if it reaches ``max_length`` tokens without ending, as the SMILES
  preset's penalty for a string beyond the data's lengths;

and every other step earns 0. The prior (:func:`train_prior`) is an LSTM trained by maximum
likelihood on random valid strings with ``b`` a third of the atoms, so it writes mostly valid
strings with a reward near 570; the reward asks for more ``b`` at the price of KL.
"""

from __future__ import annotations

import numpy as np

from rl_tuner.kl_control.environment import StepResult
from rl_tuner.tasks import Task

END, OPEN, CLOSE, ATOM_A, ATOM_B, BEGIN = range(6)
SYMBOLS = (".", "(", ")", "a", "b", "^")
VALID, SPREAD, TOO_LONG = 600.0, 50.0, -1000.0


def is_valid(tokens) -> bool:
    """Whether played tokens (no end token) balance and hold an atom at every depth."""
    depth, atoms = 0, [0]
    for t in tokens:
        if t == OPEN:
            depth += 1
            atoms.append(0)
        elif t == CLOSE:
            if depth == 0 or atoms[-1] == 0:
                return False
            depth -= 1
            atoms.pop()
        elif t in (ATOM_A, ATOM_B):
            atoms[-1] += 1
        else:
            return False
    return depth == 0 and atoms[0] > 0


def finished_reward(tokens, reached_limit: bool) -> float:
    """The task reward of a finished sequence (its played tokens without the end token)."""
    if reached_limit:
        return TOO_LONG
    if not is_valid(tokens):
        return 0.0
    atoms = [t for t in tokens if t in (ATOM_A, ATOM_B)]
    share_b = sum(t == ATOM_B for t in atoms) / len(atoms)
    return VALID + SPREAD * (2.0 * share_b - 1.0)


class BracketsEnvironment:
    """B bracket strings rewarded when they end (see the module docstring)."""

    num_actions = len(SYMBOLS)
    adds_log_prior = True

    def __init__(self, num_envs: int, max_length: int):
        self.num_envs, self.max_length = int(num_envs), int(max_length)
        self.played = [[] for _ in range(self.num_envs)]

    def reset(self, rng, mask=None):
        del rng
        for i in range(self.num_envs):
            if mask is None or mask[i]:
                self.played[i] = []
        return np.full(self.num_envs, BEGIN, np.int32)

    def _reward(self, row: int, action: int) -> tuple[float, bool]:
        played = self.played[row]
        if action == END:
            return finished_reward(played, False), True
        if len(played) + 1 >= self.max_length:
            return finished_reward(played + [action], True), True
        return 0.0, False

    def step(self, actions):
        reward = np.zeros(self.num_envs)
        done = np.zeros(self.num_envs, bool)
        valid = np.zeros(self.num_envs)
        for i, a in enumerate(np.asarray(actions)):
            reward[i], done[i] = self._reward(i, int(a))
            if done[i]:
                valid[i] = float(reward[i] > 0)
            if int(a) != END:
                self.played[i].append(int(a))
        return StepResult(reward, done, components={"end": reward},
                          episode_metrics={"final_reward": reward.copy(), "valid": valid})

    def end_rewards(self, rows):
        return np.array([finished_reward(self.played[r], False) for r in rows])


def sample_training_strings(num: int, rng) -> list:
    """Random valid strings (token lists without end): atoms with nested bracket groups,
    ``b`` a third of the atoms, 2-14 tokens."""
    def group(depth):
        out = []
        for _ in range(rng.integers(1, 3)):
            out.append(ATOM_B if rng.random() < 1 / 3 else ATOM_A)
        if depth < 2 and rng.random() < 0.5:
            out += [OPEN] + group(depth + 1) + [CLOSE]
            if rng.random() < 0.5:
                out.append(ATOM_B if rng.random() < 1 / 3 else ATOM_A)
        return out
    return [group(0) for _ in range(num)]


def train_prior(path: str, steps: int = 400, units: int = 32, seed: int = 0) -> dict:
    """Trains the toy's prior by maximum likelihood and saves it (project checkpoint format).

    Returns:
      {"loss": final mean token NLL (nats)}.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import checkpoint  # pylint: disable=import-outside-toplevel
    from rl_tuner.models import sequence_model as model_lib  # pylint: disable=import-outside-toplevel
    rng = np.random.default_rng(seed)
    strings = sample_training_strings(4096, rng)
    length = max(len(s) for s in strings) + 2
    tokens = np.full((len(strings), length), END, np.int32)
    mask = np.zeros((len(strings), length - 1), np.float32)
    for i, s in enumerate(strings):
        seq = [BEGIN] + s + [END]
        tokens[i, :len(seq)] = seq
        mask[i, :len(seq) - 1] = 1.0
    model = model_lib.build(model_lib.SequenceRNNConfig(num_classes=len(SYMBOLS), layer_sizes=(units,),
                                                        vocabulary=SYMBOLS), seed=seed)
    optimizer = tf.keras.optimizers.Adam(0.01)

    @tf.function
    def train_step(x, m):
        with tf.GradientTape() as tape:
            logits = model.token_logits(x[:, :-1])
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=x[:, 1:], logits=logits)
            loss = tf.reduce_sum(nll * m) / tf.reduce_sum(m)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    loss = None
    for _ in range(steps):
        idx = rng.integers(0, len(strings), 128)
        loss = train_step(tf.constant(tokens[idx]), tf.constant(mask[idx]))
    checkpoint.save_model(path, model)
    return {"loss": float(loss)}


class BracketsTask(Task):
    """The toy with a large end-of-sequence reward (see the module docstring)."""

    name = "toy_brackets"
    num_classes = len(SYMBOLS)
    end_token = END
    default_length = 16
    headline = (("valid", "valid"), ("mean_reward", "reward"))

    def make_environment(self, config):
        return BracketsEnvironment(config.num_envs, config.max_length)

    def exploration_actions(self):
        return [OPEN, CLOSE, ATOM_A, ATOM_B]

    def first_tokens(self):
        return [BEGIN]

    def measure(self, tokens, lengths):
        rewards, valid = [], []
        for row, n in zip(np.asarray(tokens), np.asarray(lengths)):
            seq = [int(t) for t in row[:n]]
            ended = bool(seq) and seq[-1] == END
            played = [t for t in seq if t != END]
            rewards.append(finished_reward(played, not ended))
            valid.append(rewards[-1] > 0)
        return {"valid": float(np.mean(valid)), "mean_reward": float(np.mean(rewards))}

    def vocabulary(self):
        return SYMBOLS


if __name__ == "__main__":  # rebuilds tests/toy_task/brackets_prior: python tests/toy_task/toy_task/brackets.py OUT
    import sys
    print(train_prior(sys.argv[1]))
