"""The PMO objectives (molecules.objectives) by hand, and ``molecules score --objective``.

Equality with the reference implementation (the guacamol wheel) over 269 molecules is
``tests/test_pmo_reference.py``, which runs in its own virtualenv."""

import json
import math

import pytest
from rdkit import Chem
from rdkit.Chem import QED, rdFingerprintGenerator
from rdkit.DataStructs import TanimotoSimilarity

from molecules import cli, objectives
from molecules.objectives import pmo, terms
from rl_tuner.plumbing.cli_utils import run_main

from molecule_fixtures import score_lines  # noqa: E402

TARGETS = {  # each objective whose target scores exactly 1.0
    "celecoxib_rediscovery": "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",
    "troglitazone_rediscovery": "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",
    "thiothixene_rediscovery": "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",
    "albuterol_similarity": "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",
    "mestranol_similarity": "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",
    "isomers_c7h8n2o2": "CNc1ccc(cc1)[N+](=O)[O-]",  # C7H8N2O2
    "isomers_c9h10n2o2pf2cl": "OC(=O)c1cc(F)c(F)c(Cl)c1CC(N)NP",  # C9H10ClF2N2O2P
}
MENTHOL, CAMPHOR = "CC(C)C1CCC(C)CC1O", "CC1(C)C2CCC1(C)C(=O)C2"


def test_names_are_pmos_twenty_and_unknown_names_are_refused():
    assert len(objectives.NAMES) == 20 == len(set(objectives.NAMES)) == len(pmo.definitions())
    assert set(pmo.definitions()) == set(objectives.NAMES)
    assert set(objectives.ISOMER_BASED) < set(objectives.NAMES)
    with pytest.raises(ValueError) as e:
        objectives.get("drd2")
    assert str(e.value) == "unknown objective 'drd2'; choose one of: " + ", ".join(objectives.NAMES)


@pytest.mark.parametrize("name,smiles", sorted(TARGETS.items()))
def test_the_target_itself_scores_one(name, smiles):
    assert objectives.get(name).score(smiles) == pytest.approx(1.0, abs=1e-12)


def test_qed_is_rdkits_qed():
    for smiles in ("CCO", "CN1C2CCC1C(C(=O)OC)C(OC(=O)c1ccccc1)C2", "c1ccccc1O", "CC(=O)[O-].[Na+]"):
        assert objectives.get("qed").score(smiles) == QED.qed(Chem.MolFromSmiles(smiles))


def test_median1_is_the_geometric_mean_of_two_similarities():
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2)
    fps = [gen.GetSparseCountFingerprint(Chem.MolFromSmiles(s)) for s in (MENTHOL, CAMPHOR)]
    similarity = TanimotoSimilarity(*fps)
    assert 0.0 < similarity < 1.0
    assert objectives.get("median1").score(MENTHOL) == pytest.approx(math.sqrt(similarity), abs=1e-12)
    assert objectives.get("median1").score(CAMPHOR) == pytest.approx(math.sqrt(similarity), abs=1e-12)


def test_not_a_molecule_scores_none():
    for name in ("qed", "deco_hop", "isomers_c7h8n2o2"):
        for smiles in ("", "  ", "C1CC", "xyz", "C C"):
            assert objectives.get(name).score(smiles) is None


def test_modifiers_and_isomer_term_by_hand():
    assert terms.gaussian(0, 1)(1) == pytest.approx(math.exp(-0.5))
    assert terms.min_gaussian(2, 1)(1) == 1.0 and terms.min_gaussian(2, 1)(3) == pytest.approx(math.exp(-0.5))
    assert terms.max_gaussian(2, 1)(5) == 1.0 and terms.max_gaussian(2, 1)(0) == pytest.approx(math.exp(-2))
    assert terms.clipped(0.75)(0.375) == pytest.approx(0.5) and terms.clipped(0.75)(0.9) == 1.0
    assert terms.parse_formula("C9H10N2O2PF2Cl") == [("C", 9), ("H", 10), ("N", 2), ("O", 2), ("P", 1), ("F", 2),
                                                     ("Cl", 1)]
    ethanol = terms.isomer("C2H6O")
    assert ethanol(Chem.MolFromSmiles("CCO")) == pytest.approx(1.0)
    # methanol CH4O: C 1 vs 2 (sigma 1), H 4 vs 6, O 1 vs 1, total 6 vs 9 (sigma 2)
    expected = math.exp((-0.5 - 2.0 - 0.0 - 0.5 * 1.5 ** 2) / 4)
    assert ethanol(Chem.MolFromSmiles("CO")) == pytest.approx(expected)
    assert terms.smarts("C=O")(Chem.MolFromSmiles("CC=O")) == 1.0
    assert terms.smarts("C=O", inverse=True)(Chem.MolFromSmiles("CC=O")) == 0.0


def _score(tmp_path, lines, *extra):
    return score_lines(tmp_path, lines, *extra, name="in.smi")


def test_score_objective_writes_one_row_per_line(tmp_path, capsys):
    records = _score(tmp_path, [TARGETS["celecoxib_rediscovery"] + " celecoxib", "C1CC", "", "  CCO  "],
                     "--objective", "celecoxib_rediscovery")
    assert "scored 4 SMILES (2 valid) with the objective celecoxib_rediscovery" in capsys.readouterr().out
    assert [list(r) for r in records] == [["smiles", "valid", "score"]] * 4
    assert records[0] == {"smiles": TARGETS["celecoxib_rediscovery"], "valid": True, "score": pytest.approx(1.0)}
    assert records[1] == {"smiles": "C1CC", "valid": False, "score": None}
    assert records[2] == {"smiles": "", "valid": False, "score": None}
    assert records[3]["smiles"] == "CCO" and 0.0 <= records[3]["score"] < 0.2
    assert records[3]["score"] == objectives.get("celecoxib_rediscovery").score("CCO")


def test_score_objective_errors(tmp_path, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO\n")
    out = str(tmp_path / "o.json")
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", out, "--objective", "drd2"]) == 2
    assert capsys.readouterr().err.strip() == ("error: unknown objective 'drd2'; choose one of: "
                                               + ", ".join(objectives.NAMES))
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", out, "--objective", "qed",
                               "--preset", "paper"]) == 2
    assert capsys.readouterr().err.strip() == "error: --objective qed scores the PMO objective alone; drop --preset"
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", out, "--objective", "qed",
                               "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "error: --objective qed scores the PMO objective alone; drop --data"
    (tmp_path / "o.json").write_text("keep me")
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", out, "--objective", "qed"]) == 2
    assert "already exists and is not an earlier output of `molecules score`" in capsys.readouterr().err
    assert (tmp_path / "o.json").read_text() == "keep me"
