"""Statistics of sampled SMILES (molecules.evaluation): Table 2 and MOSES's unique, novel and
internal diversity, checked against RDKit computed here directly; parallel scoring."""

import math

import networkx as nx
import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import QED, Crippen, rdFingerprintGenerator
from rdkit.Contrib.SA_Score import sascorer

from molecules import evaluation

COCAINE = "CN1C2CCC1C(C(=O)OC)C(OC(=O)c1ccccc1)C2"
SAMPLES = ["CCO", "CCO", "OCC", "c1ccccc1", "C1CC", ""]


def ring_penalty(mol):
    """The original's measure: -max(0, L - 6), L the largest cycle of networkx.cycle_basis."""
    cycles = nx.cycle_basis(nx.Graph(Chem.GetAdjacencyMatrix(mol)))
    return -max(0, max((len(c) for c in cycles), default=0) - 6)


def tanimoto_diversity(smiles):
    """1 - mean of the full Tanimoto matrix (self pairs included) of Morgan r=2, 1024 bits."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    fps = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    matrix = np.array([[DataStructs.TanimotoSimilarity(a, b) for b in fps] for a in fps])
    return 1.0 - matrix.mean()


def test_statistics_of_a_hand_made_list():
    stats = evaluation.statistics(SAMPLES, training={"CCO"}, workers=1)
    valid = ["CCO", "CCO", "OCC", "c1ccccc1"]
    mols = [Chem.MolFromSmiles(s) for s in valid]
    assert stats["num_samples"] == 6 and stats["num_valid"] == 4
    assert stats["valid"] == 4 / 6
    assert stats["unique"] == 2 / 4  # CCO (three times) and benzene
    assert stats["novel"] == 1 / 2  # benzene is not in the training set
    assert stats["mean_logp"] == pytest.approx(np.mean([Crippen.MolLogP(m) for m in mols]))
    assert stats["mean_qed"] == pytest.approx(np.mean([QED.qed(m) for m in mols]))
    assert stats["mean_sa_penalty"] == pytest.approx(np.mean([-sascorer.calculateScore(m) for m in mols]))
    assert stats["mean_ring_penalty"] == 0.0
    assert stats["no_large_ring"] == 4 / 6  # over all samples, as the original
    assert stats["internal_diversity"] == pytest.approx(tanimoto_diversity(valid))
    assert 0 < stats["internal_diversity"] < 1
    assert set(evaluation.TABLE_2_KEYS + evaluation.MOSES_KEYS) <= set(stats)


def test_without_training_there_is_no_novel():
    stats = evaluation.statistics(SAMPLES, workers=1)
    assert "novel" not in stats and stats["unique"] == 0.5


def test_ring_penalty_and_no_large_ring_with_a_seven_cycle():
    stats = evaluation.statistics([COCAINE, "CCO", "X"], workers=1)
    mol = Chem.MolFromSmiles(COCAINE)
    assert ring_penalty(mol) == -1  # cycle_basis on the SMILES as written: a 7-cycle
    assert stats["mean_ring_penalty"] == pytest.approx(-1 / 2)
    assert stats["no_large_ring"] == pytest.approx(1 / 3)
    assert stats["internal_diversity"] == pytest.approx(tanimoto_diversity([COCAINE, "CCO"]))


def test_one_molecule_has_diversity_0_and_none_gives_nan_means():
    assert evaluation.statistics(["CCO"], workers=1)["internal_diversity"] == 0.0
    stats = evaluation.statistics(["C1CC", "", "C("], training=["CCO"], workers=1)
    assert stats["valid"] == 0.0 and stats["num_valid"] == 0 and stats["unique"] == 0.0 and stats["novel"] == 0.0
    for key in ("mean_logp", "mean_qed", "mean_sa_penalty", "mean_ring_penalty"):
        assert math.isnan(stats[key])
    assert stats["internal_diversity"] == 0.0
    empty = evaluation.statistics([], workers=1)
    assert empty["valid"] == 0.0 and empty["num_samples"] == 0


def test_diversity_over_a_subset_when_there_are_many():
    smiles = ["CCO", "c1ccccc1", "CCN", "CC(=O)O", COCAINE]
    full = evaluation.statistics(smiles, workers=1)
    assert full["internal_diversity"] == pytest.approx(tanimoto_diversity(smiles))
    assert evaluation.statistics(smiles, workers=1, diversity_sample=5)["internal_diversity"] == \
        full["internal_diversity"]
    sub = evaluation.statistics(smiles, workers=1, diversity_sample=2, seed=1)["internal_diversity"]
    pairs = {tanimoto_diversity([a, b]) for i, a in enumerate(smiles) for b in smiles[i + 1:]}
    assert any(sub == pytest.approx(p) for p in pairs)


def test_molecule_record():
    assert evaluation.molecule_record("C1CC") is None and evaluation.molecule_record("") is None
    canonical, logp, qed, sa, ring, fp = evaluation.molecule_record("OCC")
    mol = Chem.MolFromSmiles("OCC")
    assert canonical == "CCO" and logp == Crippen.MolLogP(mol) and qed == QED.qed(mol)
    assert sa == sascorer.calculateScore(mol) and ring == 0.0
    expected = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024).GetFingerprint(mol)
    assert DataStructs.CreateFromBinaryText(fp) == expected


def test_parallel_scoring_gives_the_same_records(monkeypatch):
    monkeypatch.setattr(evaluation, "PARALLEL_FROM", 4)
    monkeypatch.setattr(evaluation, "CHUNK", 3)
    smiles = ["CCO", "C1CC", COCAINE, "c1ccccc1", "", "CCN", "OCC"]
    one = evaluation.score_all(smiles, workers=1)
    assert len(one) == 7 and one[1] is None and one[4] is None
    pools = []
    real_pool = evaluation.concurrent.futures.ProcessPoolExecutor

    def spy(workers, **kw):
        pools.append(workers)
        return real_pool(workers, **kw)

    monkeypatch.setattr(evaluation.concurrent.futures, "ProcessPoolExecutor", spy)
    assert evaluation.score_all(smiles, workers=2) == one
    assert pools == [2]  # scored in worker processes, 3 chunks
    assert evaluation.score_all(smiles[:3], workers=2) == one[:3] and pools == [2]  # below PARALLEL_FROM


def test_a_dead_worker_falls_back_to_scoring_in_this_process(monkeypatch, capsys):
    """A worker that dies (BrokenProcessPool) does not end the evaluation: the molecules are
    scored here, with the same records, and a warning says so. (A training run's final
    evaluation once died this way when the package was reinstalled under it.)"""
    import concurrent.futures

    class DeadPool:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def map(self, *args, **kwargs):
            raise concurrent.futures.process.BrokenProcessPool("A process in the process pool was terminated abruptly")

    smiles = ["CCO", "c1ccccc1", "C1CC", "CC(=O)O"] * 3
    monkeypatch.setattr(evaluation, "PARALLEL_FROM", 2)
    monkeypatch.setattr(evaluation.concurrent.futures, "ProcessPoolExecutor", DeadPool)
    records = evaluation.score_all(smiles, workers=2)
    assert records == evaluation.score_all(smiles, workers=1)
    assert "warning: an RDKit worker process died" in capsys.readouterr().err
