"""The batched SMILES environment of the molecule task (the core's environment protocol,
:mod:`rl_tuner.kl_control.environment`).

Each of B episodes writes one SMILES token per step; the domain reward of every step is
:meth:`molecules.rewards.DomainReward.step` (the original's, BUILD.md "Molecules: data, tokenizers and
rewards": +-5 for a valid or
invalid prefix, the property sum P at every valid prefix, at the end 10 P + 600 for a valid
molecule plus the length penalty, -150 for a too long carbon chain). An episode ends at the
end token or after ``max_length`` tokens (the end token counted); the priming token is not
part of the molecule: ``<bos>`` for an atom-level vocabulary, for the original's characters
a token drawn uniformly from indices 1..33 (as the original: ``' '`` and ``s`` never).

RDKit's results are cached by SMILES string inside the reward, and a prefix that cannot be
a molecule for a reason seen without RDKit (an unclosed branch or ring bond, an unclosed
bracket) is scored invalid without parsing (:func:`cheap_invalid`; the same answer RDKit
gives, tested).

Importing this module loads neither TensorFlow nor RDKit's drawing code.
"""

from __future__ import annotations

import numpy as np

from molecules import rewards as rewards_lib
from molecules import tokenizers
from rl_tuner.kl_control.environment import StepResult

COMPONENTS = ("validity", "property", "length", "end", "carbon")


def paper_primers(tokenizer: tokenizers.Tokenizer) -> list:
    """Tokens the original draws its primer from: ``randint(EOS + 1, num_actions - 1)``, i.e.
    indices 1..33 of the 35 characters."""
    return list(range(tokenizer.end_id + 1, tokenizer.vocab_size - 1))


def first_tokens(tokenizer: tokenizers.Tokenizer) -> list:
    """The priming tokens of a vocabulary: ``[<bos>]``, or the original's 1..33 without one."""
    return [tokenizer.begin_id] if tokenizer.begin_id is not None else paper_primers(tokenizer)


def exploration_actions(tokenizer: tokenizers.Tokenizer) -> list:
    """Tokens epsilon-greedy draws at random: never the end or begin token; for the
    original's characters indices 1..33 (it never draws ``' '`` or ``s``)."""
    if tokenizer.begin_id is None:
        return paper_primers(tokenizer)
    return [i for i in range(tokenizer.vocab_size) if i not in (tokenizer.end_id, tokenizer.begin_id)]


def cheap_invalid(text: str) -> bool:
    """True when a SMILES prefix is certainly no molecule without asking RDKit: empty, an
    open branch, an unclosed bracket atom, a ring bond left open (digits and ``%nn``
    outside brackets, each number open until it is seen again) or a ``)`` before its ``(``.

    False means "ask RDKit" (it may still be invalid); so does any text with RDKit's
    ``%(nnn)`` ring bond.
    """
    if not text.strip():
        return True
    depth, open_rings, i, n = 0, set(), 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "[":
            j = text.find("]", i + 1)
            if j < 0:
                return True
            i = j + 1
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return True
        elif ch == "%":
            if text.startswith("%(", i):
                return False  # RDKit's %(nnn) ring bond: leave it to RDKit
            label = text[i + 1:i + 3]
            if len(label) < 2 or not label.isdigit():
                return True
            open_rings ^= {label}
            i += 3
            continue
        elif ch.isdigit():
            open_rings ^= {ch}
        i += 1
    return depth != 0 or bool(open_rings)


class SmilesEnvironment:
    """B SMILES episodes stepping together (see the module docstring).

    Args:
      num_envs: B.
      max_length: tokens per episode at most (the end token included; the original: 120).
      tokenizer: the prior's vocabulary.
      reward: the domain reward (a :class:`molecules.rewards.DomainReward`).
      adds_log_prior: whether the algorithm's reward adds log p(a|s) (q and psi; g and
        pure_rl use the domain term only, as the original).
    """

    def __init__(self, num_envs: int, max_length: int, tokenizer: tokenizers.Tokenizer,
                 reward: rewards_lib.DomainReward, adds_log_prior: bool = True):
        self.num_envs, self.max_length = int(num_envs), int(max_length)
        self.num_actions = tokenizer.vocab_size
        self.tokenizer, self.reward = tokenizer, reward
        self.adds_log_prior = adds_log_prior
        self.symbols = list(tokenizer.symbols)
        self.end = tokenizer.end
        self.first = np.asarray(first_tokens(tokenizer), np.int32)
        self.generated = [[] for _ in range(self.num_envs)]

    def reset(self, rng, mask=None):
        """Starts new episodes (all, or where ``mask``); returns int32 [B] priming tokens."""
        mask = np.ones(self.num_envs, bool) if mask is None else np.asarray(mask, bool)
        first = self.first[rng.integers(0, len(self.first), size=self.num_envs)]
        for i in np.flatnonzero(mask):
            self.generated[i] = []
        return first.astype(np.int32)

    def step(self, actions) -> StepResult:
        """Appends one token to every episode and scores it.

        Returns:
          :class:`rl_tuner.kl_control.environment.StepResult` with the domain reward, ``done`` at the end
          token or ``max_length``, the reward terms as components and, per finished episode,
          ``valid`` (0/1), ``episode_length`` and ``final_reward`` (the terminal step's).
        """
        b = self.num_envs
        total = np.zeros(b)
        done = np.zeros(b, bool)
        parts = {name: np.zeros(b) for name in COMPONENTS}
        valid = np.zeros(b)
        lengths = np.zeros(b)
        for i, a in enumerate(np.asarray(actions)):
            symbol = self.symbols[int(a)]
            generated = self.generated[i]
            terms = self.reward.step(generated, symbol, self.end, max_length=self.max_length,
                                     known_invalid=cheap_invalid)
            generated.append(symbol)
            total[i] = terms["total"]
            for name in COMPONENTS:
                parts[name][i] = terms[name]
            if symbol == self.end or len(generated) >= self.max_length:
                done[i] = True
                valid[i] = float(self._valid(generated))
                lengths[i] = len(generated)
        return StepResult(total, done, components=parts,
                          episode_metrics={"valid": valid, "episode_length": lengths, "final_reward": total.copy()})

    def end_rewards(self, rows) -> np.ndarray:
        """The domain reward the end token would earn now in the episodes ``rows``.

        Args:
          rows: int [K] episode indices.

        Returns:
          float64 [K]: the terminal step's total of :meth:`molecules.rewards.DomainReward.step`
          for the end token appended to each episode's tokens so far (the finished molecule's
          reward: validity, properties, length; no carbon penalty). Nothing is changed.
        """
        return np.array([self.reward.step(self.generated[int(i)], self.end, self.end, max_length=self.max_length,
                                          known_invalid=cheap_invalid)["total"] for i in np.asarray(rows)],
                        np.float64)

    def _valid(self, generated) -> bool:
        text = "".join(t for t in generated if t != self.end)
        return not cheap_invalid(text) and self.reward.properties(text) is not None
