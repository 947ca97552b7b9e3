"""PMO's budgeted oracle and its metric (Gao et al. 2022, Section 3; ``mol_opt``'s ``Oracle`` and
``top_auc`` in ``main/optimizer.py``), as plain bookkeeping with no chemistry of its own.

* An oracle *call* is the first scoring of a NEW valid molecule, keyed by its canonical SMILES.
  A string that is not a molecule scores 0 and costs nothing; a molecule seen before gets its
  cached score and costs nothing. Once ``budget`` calls are made, every new molecule scores 0
  and is not recorded (the optimiser should stop at :attr:`BudgetedOracle.finished`).
* Every ``log_every`` (100) calls the running top-1, top-10 and top-100 means are reported.
* AUC top-10 (:func:`top_auc`): the area under the running top-10 mean against the number of
  calls, by the trapezoid rule from (0, 0), sampled every ``freq`` (100) calls below the number
  of calls and at the last call; a run that stopped before the budget is padded with its final
  top-10 mean; divided by the budget. A run whose every call scores 1 gets 0.995 at budget
  10,000: mol_opt's numbers exactly.
"""

from __future__ import annotations

import heapq
from typing import Callable, Optional


def top_mean(scores, n: int) -> float:
    """The mean of the ``n`` largest of ``scores`` (all of them if fewer; 0.0 for none)."""
    best = heapq.nlargest(n, scores)
    return sum(best) / len(best) if best else 0.0


def top_auc(scores, budget: int, top_n: int = 10, freq: int = 100, finished: bool = True) -> float:
    """mol_opt's ``top_auc`` of scores in call order.

    Args:
      scores: the score of each oracle call, in call order (at most ``budget`` of them).
      budget: the run's budget (the x-axis length the area is divided by).
      top_n: the running mean of the ``top_n`` best scores is integrated (10: AUC top-10).
      freq: the step between sampled points (mol_opt's ``freq_log``, 100).
      finished: pad a run with fewer than ``budget`` calls with its final top-n mean (mol_opt
        does, for the reported result).

    Returns:
      The AUC in [0, 1]; 0.0 for no call (mol_opt's would be NaN).
    """
    scores = list(scores)
    if not scores:
        return 0.0
    total, previous, called, best = 0.0, 0.0, 0, []
    for idx in range(freq, min(len(scores), budget), freq):
        for s in scores[called:idx]:
            heapq.heappush(best, s) if len(best) < top_n else heapq.heappushpop(best, s)
        now = sum(best) / len(best)
        total += freq * (now + previous) / 2
        previous, called = now, idx
    now = top_mean(scores, top_n)
    total += (len(scores) - called) * (now + previous) / 2
    if finished and len(scores) < budget:
        total += (budget - len(scores)) * now
    return total / budget


class BudgetedOracle:
    """Scores molecules for an optimiser under PMO's budget rules (see the module docstring).

    Args:
      objective: ``smiles -> score in [0, 1]`` of a valid canonical SMILES.
      budget: oracle calls allowed (PMO: 10,000).
      canonical: ``smiles -> canonical SMILES``, or None for a string that is not a molecule
        (e.g. :func:`molecules.chem.canonical`).
      log_every: calls between progress reports (PMO: 100).
      on_log: called as ``on_log(oracle)`` after every ``log_every``-th call (e.g. to print
        :meth:`progress_line`); None: no reports.

    Attributes:
      calls: ``[(canonical SMILES, score), ...]`` in call order.
      cache: canonical SMILES -> score of every call.
      invalid: strings scored that were not molecules (free).
      repeats: molecules scored again from the cache (free).
    """

    def __init__(self, objective: Callable[[str], float], budget: int,
                 canonical: Callable[[str], Optional[str]], log_every: int = 100,
                 on_log: Optional[Callable[["BudgetedOracle"], None]] = None):
        if budget < 1 or log_every < 1:
            raise ValueError(f"budget and log_every must be >= 1, got {budget} and {log_every}")
        self.objective, self.budget, self.canonical = objective, budget, canonical
        self.log_every, self.on_log = log_every, on_log
        self.calls: list = []
        self.cache: dict = {}
        self.invalid = 0
        self.repeats = 0

    @property
    def finished(self) -> bool:
        """True once ``budget`` calls are made."""
        return len(self.calls) >= self.budget

    def score(self, smiles: str) -> float:
        """The score of one string: 0.0 (free) if it is not a molecule, the cached score (free)
        for a molecule seen before, else one oracle call (0.0, unrecorded, past the budget)."""
        key = self.canonical(smiles)
        if key is None:
            self.invalid += 1
            return 0.0
        if key in self.cache:
            self.repeats += 1
            return self.cache[key]
        if self.finished:
            return 0.0
        value = float(self.objective(key))
        self.cache[key] = value
        self.calls.append((key, value))
        if self.on_log is not None and len(self.calls) % self.log_every == 0:
            self.on_log(self)
        return value

    def score_batch(self, smiles) -> list:
        """:meth:`score` of each string, in order (a list of floats)."""
        return [self.score(s) for s in smiles]

    def scores(self) -> list:
        """The scores of the calls, in call order."""
        return [score for _, score in self.calls]

    def top(self, n: int) -> list:
        """The ``n`` best calls as ``[(smiles, score), ...]``, best first (ties: earlier call first)."""
        order = sorted(range(len(self.calls)), key=lambda i: (-self.calls[i][1], i))[:n]
        return [self.calls[i] for i in order]

    def auc(self, top_n: int = 10, finished: bool = True) -> float:
        """:func:`top_auc` of the calls so far (``freq`` = ``log_every``)."""
        return top_auc(self.scores(), self.budget, top_n, self.log_every, finished)

    def progress_line(self) -> str:
        """``100/10000 calls | top1 0.912 | top10 0.850 | top100 0.700 | auc_top10 0.421``."""
        scores = self.scores()
        return (f"{len(scores)}/{self.budget} calls | top1 {top_mean(scores, 1):.3f} | "
                f"top10 {top_mean(scores, 10):.3f} | top100 {top_mean(scores, 100):.3f} | "
                f"auc_top10 {self.auc(10, finished=False):.3f}")


class EarlyStop:
    """mol_opt's early stop of its optimisers (``main/reinvent/run.py``): past ``after`` calls,
    ``patience`` consecutive steps that leave the top-100 scores unchanged end the run; and
    (this project's guard, so that a policy that samples only known molecules cannot loop for
    ever) :data:`IDLE_STEPS` consecutive steps without a new call, at any number of calls.

    Call :meth:`before` before a step samples and :meth:`after` once it is scored.

    Args:
      oracle: the run's :class:`BudgetedOracle`.
      patience: steps (0: only the idle guard).
      after: calls before the patience rule applies (mol_opt: 1,000).
    """

    IDLE_STEPS = 100

    def __init__(self, oracle: BudgetedOracle, patience: int, after: int = 1000):
        self.oracle, self.patience, self.after_calls = oracle, patience, after
        self._old, self._calls, self._same, self._idle = None, 0, 0, 0
        self.reason = None

    def _top100(self):
        return [score for _, score in self.oracle.top(100)] if len(self.oracle.calls) > 100 else None

    def before(self) -> None:
        """Notes the top-100 scores and the number of calls before a step."""
        self._old, self._calls = self._top100(), len(self.oracle.calls)

    def after(self) -> bool:
        """Whether the run should stop after the step just scored (``reason`` says why)."""
        self._idle = self._idle + 1 if len(self.oracle.calls) == self._calls else 0
        if self._idle >= self.IDLE_STEPS:
            self.reason = f"{self.IDLE_STEPS} steps without a new molecule"
            return True
        if self.patience and len(self.oracle.calls) > self.after_calls:
            self._same = self._same + 1 if self._top100() == self._old else 0
            if self._same >= self.patience:
                self.reason = f"{self.patience} steps without a change of the top-100 scores"
                return True
        return False
