"""PMO's budgeted oracle and AUC top-10 (molecules.oracle): hand-computed numbers, and a
loop-by-loop transcription of mol_opt's ``top_auc`` (main/optimizer.py) on random runs."""

import random

import numpy as np
import pytest

from molecules import chem
from molecules.oracle import BudgetedOracle, EarlyStop, top_auc, top_mean


def mol_opt_top_auc(scores, top_n, finish, freq_log, max_oracle_calls):
    """mol_opt's top_auc, transcribed: its buffer maps SMILES to [score, call number]."""
    buffer = {f"m{i}": [s, i + 1] for i, s in enumerate(scores)}
    total, prev, called = 0, 0, 0
    ordered = list(sorted(buffer.items(), key=lambda kv: kv[1][1]))
    for idx in range(freq_log, min(len(buffer), max_oracle_calls), freq_log):
        temp = list(sorted(ordered[:idx], key=lambda kv: kv[1][0], reverse=True))[:top_n]
        now = np.mean([item[1][0] for item in temp])
        total += freq_log * (now + prev) / 2
        prev, called = now, idx
    temp = list(sorted(ordered, key=lambda kv: kv[1][0], reverse=True))[:top_n]
    now = np.mean([item[1][0] for item in temp])
    total += (len(buffer) - called) * (now + prev) / 2
    if finish and len(buffer) < max_oracle_calls:
        total += (max_oracle_calls - len(buffer)) * now
    return total / max_oracle_calls


def test_auc_by_hand():
    # points at 2 calls (top-2 mean 0.5), 4 (0.75), the last call 5 (1.0), padded to 6
    scores = [1.0, 0.0, 0.5, 0.5, 1.0]
    area = 2 * (0.5 + 0) / 2 + 2 * (0.75 + 0.5) / 2 + 1 * (1.0 + 0.75) / 2
    assert top_auc(scores, 6, top_n=2, freq=2, finished=False) == pytest.approx(area / 6) == pytest.approx(0.4375)
    assert top_auc(scores, 6, top_n=2, freq=2) == pytest.approx((area + 1.0) / 6) == pytest.approx(0.6041666666)
    assert top_auc([0.4], 10) == pytest.approx((0.4 / 2 + 9 * 0.4) / 10)  # fewer calls than freq
    assert top_auc([0.0, 1.0, 1.0, 1.0], 4, top_n=1, freq=2) == pytest.approx((1.0 + 2.0) / 4)
    assert top_auc([1.0] * 10_000, 10_000) == pytest.approx(0.995)  # PMO's ceiling
    assert top_auc([], 100) == 0.0
    assert top_mean([0.1, 0.9, 0.5], 2) == pytest.approx(0.7) and top_mean([], 10) == 0.0


@pytest.mark.parametrize("n,budget", [(1, 1000), (99, 1000), (100, 1000), (101, 1000), (999, 1000), (1000, 1000),
                                      (1234, 2000), (2000, 2000)])
def test_auc_equals_mol_opts(n, budget):
    rng = random.Random(n)
    scores = [rng.random() ** 3 for _ in range(n)]
    for finished in (True, False):
        for top_n in (1, 10, 100):
            assert top_auc(scores, budget, top_n, 100, finished) == pytest.approx(
                mol_opt_top_auc(scores, top_n, finished, 100, budget), abs=1e-12)


def _oracle(budget, **kwargs):
    seen = []

    def objective(smiles):
        seen.append(smiles)
        return len(smiles) / 10
    return BudgetedOracle(objective, budget, chem.canonical, **kwargs), seen


def test_invalid_strings_and_repeats_cost_nothing():
    oracle, seen = _oracle(3)
    assert oracle.score_batch(["C1CC", "", "OCC", "CCO", "C(O)C", "xyz"]) == [0.0, 0.0, 0.3, 0.3, 0.3, 0.0]
    assert seen == ["CCO"] and oracle.calls == [("CCO", 0.3)]  # one call, keyed by the canonical SMILES
    assert oracle.invalid == 3 and oracle.repeats == 2 and not oracle.finished
    assert oracle.score_batch(["CCCC", "CCO", "c1ccccc1"]) == [0.4, 0.3, 0.8]
    assert oracle.finished and [s for s, _ in oracle.calls] == ["CCO", "CCCC", "c1ccccc1"]
    # past the budget: a new molecule scores 0 unrecorded, a known one keeps its score
    assert oracle.score_batch(["CCCCCCCC", "OCC"]) == [0.0, 0.3]
    assert len(oracle.calls) == 3 and seen == ["CCO", "CCCC", "c1ccccc1"]
    assert oracle.top(2) == [("c1ccccc1", 0.8), ("CCCC", 0.4)]
    assert oracle.auc() == pytest.approx(top_auc([0.3, 0.4, 0.8], 3))


def test_progress_is_reported_every_log_every_calls():
    lines = []
    oracle, _ = _oracle(10, log_every=2, on_log=lambda o: lines.append(o.progress_line()))
    oracle.score_batch(["C", "C", "CC", "CCC", "x", "CCCC", "CCCCC"])
    assert lines == ["2/10 calls | top1 0.200 | top10 0.150 | top100 0.150 | auc_top10 0.015",
                     "4/10 calls | top1 0.400 | top10 0.250 | top100 0.250 | auc_top10 0.055"]
    with pytest.raises(ValueError, match="budget and log_every must be >= 1, got 0 and 100"):
        BudgetedOracle(len, 0, chem.canonical)


def _step(oracle, stop, names):
    stop.before()
    oracle.score_batch(names)
    return stop.after()


def test_early_stop_patience_after_the_calls_and_the_idle_guard():
    oracle = BudgetedOracle(lambda s: int(s[1:]) / 1000, 10_000, lambda s: s)
    stop = EarlyStop(oracle, patience=2, after=150)
    assert not _step(oracle, stop, [f"m{i}" for i in range(100)])
    assert not _step(oracle, stop, [f"m{i}" for i in range(100, 140)])  # 140 calls: the rule waits for > 150
    assert not _step(oracle, stop, ["m0"])  # only a repeat: idle, but below 150 calls
    assert not _step(oracle, stop, [f"m{i}" for i in range(140, 160)])  # 160 calls, the top-100 changed
    assert not _step(oracle, stop, ["m1", "m2"])  # unchanged once
    assert not _step(oracle, stop, ["m999"])  # a new best: the count starts again
    assert not _step(oracle, stop, ["m3"])
    assert _step(oracle, stop, ["m4", "m5"]) and stop.reason == "2 steps without a change of the top-100 scores"
    idle = EarlyStop(BudgetedOracle(lambda s: 0.5, 100, lambda s: None if s == "not" else s), patience=0)
    assert not _step(idle.oracle, idle, ["a"])
    results = [_step(idle.oracle, idle, ["a", "not"]) for _ in range(EarlyStop.IDLE_STEPS)]
    assert results == [False] * (EarlyStop.IDLE_STEPS - 1) + [True]
    assert idle.reason == "100 steps without a new molecule"
