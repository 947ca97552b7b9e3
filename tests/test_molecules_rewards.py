"""RDKit reward components, the paper and default presets (literal SMILES, expected numbers).

Expected property values are RDKit 2026.09.1's (the tested pin): Crippen logP, RDKit QED,
Contrib sascorer; ring sizes from networkx.cycle_basis / RDKit ring perception.
"""

import json
import math
import os

import pytest
from rdkit import Chem

from molecules import chem, rewards
from molecules.rewards import (CarbonParams, DomainReward, LengthParams, RingParams, carbon_penalty,
                               length_penalty)

COCAINE = "CN1C2CCC1C(C(=O)OC)C(OC(=O)c1ccccc1)C2"
C60 = ("c12c3c4c5c1c1c6c7c2c2c8c3c3c9c4c4c%10c5c5c1c1c6c6c%11c7c2c2c7c8c3c3c8c9c4c4c9c%10c5c5c1c1"
       "c6c6c%11c2c2c7c3c3c8c4c4c9c5c1c1c6c2c3c41")

# (smiles, logP, QED, SA) from RDKit.
PROPERTIES = [
    ("CCO", -0.0014000000000000123, 0.40680796565539457, 1.9802570386349831),
    ("c1ccccc1", 1.6866, 0.4426283718993647, 1.0),
    ("CC(=O)Oc1ccccc1C(=O)O", 1.3101, 0.5501217966938848, 1.580039750008826),
    (COCAINE, 1.8676999999999995, 0.7979361284429696, 3.9948291203457407),
    ("S", 0.11280000000000001, 0.35641978822956905, 6.963984615384615),
    ("SN", -0.21009999999999984, 0.3644321050404202, 4.796106380487854),
    ("SNC", 0.050600000000000034, 0.3784889841303282, 3.72028011555806),
    ("SNCc1ccccc1", 1.621, 0.5932567705777775, 2.218967652195971),
]


def P(logp, qed, sa, ring):
    """The paper's property sum: 3 logP + 5 ring penalty + 50 QED - 2 SA."""
    return 3 * logp + 5 * ring + 50 * qed - 2 * sa


@pytest.mark.parametrize("smiles,logp,qed,sa", PROPERTIES)
def test_property_components(smiles, logp, qed, sa):
    mol = chem.parse(smiles)
    assert rewards.logp(mol) == pytest.approx(logp, abs=1e-12)
    assert rewards.qed(mol) == pytest.approx(qed, rel=1e-9)
    assert rewards.sa(mol) == pytest.approx(sa, rel=1e-9)
    assert set(rewards.COMPONENTS) == {"logp", "qed", "sa", "ring_penalty"}


def test_components_on_rdkit_exception_use_the_originals_constants():
    # an object that is no molecule makes RDKit raise; the original then used 0, 0 and -5
    assert rewards.logp(None) == 0.0
    assert rewards.qed(None) == 0.0
    assert rewards.sa(None) == 5.0  # i.e. the SA penalty -SA is -5
    assert rewards.sa(None, rewards.SAParams(on_error=7.0)) == 7.0


@pytest.mark.parametrize("smiles,cycle_basis,sssr", [
    ("CCO", 0, 0), ("c1ccccc1", 6, 6), ("C1CCCCCCC1", 8, 8), (COCAINE, 7, 6), (C60, 23, 6),
])
def test_ring_measures(smiles, cycle_basis, sssr):
    mol = chem.parse(smiles)
    assert chem.largest_cycle_basis_ring(mol) == cycle_basis
    assert chem.largest_sssr_ring(mol) == sssr
    assert rewards.ring_penalty(mol) == -max(0, cycle_basis - 6)
    assert rewards.ring_penalty(mol, RingParams(method="sssr")) == -max(0, sssr - 6)


def test_paper_ring_penalty_depends_on_atom_order():
    """The original's measure changes when the SMILES is canonicalised (cocaine: 7 -> 6)."""
    canonical = chem.canonical(COCAINE)
    assert canonical == "COC(=O)C1C(OC(=O)c2ccccc2)CC2CCC1N2C"
    assert rewards.ring_penalty(chem.parse(COCAINE)) == -1.0
    assert rewards.ring_penalty(chem.parse(canonical)) == 0.0
    # the order-independent measure is the same for every atom order
    mol = Chem.MolFromSmiles(COCAINE)
    for seed in range(20):
        Chem.rdBase.SeedRandomNumberGenerator(seed)
        shuffled = Chem.MolToSmiles(mol, doRandom=True)
        assert chem.largest_sssr_ring(chem.parse(shuffled)) == 6
    reward = DomainReward(rewards.paper_preset())
    assert reward.score(COCAINE)["ring_penalty"] == -1.0
    assert reward.score(canonical)["ring_penalty"] == 0.0
    assert DomainReward(rewards.default_preset()).score(COCAINE)["ring_penalty"] == 0.0


def test_ring_params_reject_unknown_method():
    with pytest.raises(ValueError, match=r"ring method must be one of \['cycle_basis', 'sssr'\], got 'sssp'"):
        RingParams(method="sssp")


@pytest.mark.parametrize("text", ["", " ", "\t\n", "C C", "CC O", "\ufffdC", "C\u00e9"])
def test_empty_whitespace_and_spaced_strings_are_never_molecules(text):
    assert Chem.MolFromSmiles("") is not None  # RDKit alone would call "" a molecule
    assert Chem.MolFromSmiles("\ufffdC") is not None  # ... and read this as methane
    assert chem.parse(text) is None
    assert chem.canonical(text) is None


def test_trailing_end_symbol_is_ignored():
    # the original passes the generated string with its end symbol ' ' to RDKit
    assert chem.parse("SNCc1ccccc1 ") is not None
    assert chem.parse_problem("C1CC") == "syntax"
    assert chem.parse_problem("") == "empty"
    assert chem.parse_problem("C C") == "whitespace inside"
    assert chem.parse_problem("\ufffdC") == "non-ASCII characters"
    assert chem.parse_problem("C(C)(C)(C)(C)C").startswith("AtomValenceException: Explicit valence for atom # 0 C, 5")
    assert chem.parse_problem("c1cccc1") .startswith("KekulizeException")
    assert chem.parse_problem("CCO") == ""


def test_paper_length_penalty():
    params = rewards.paper_preset().length
    assert params.shortish == pytest.approx(27.08) and params.short == 19 and params.count_end
    assert [length_penalty(n, params) for n in (1, 18, 19, 27, 28, 64, 65, 78, 79, 120)] == \
        [-200, -200, -25, -25, 0, 0, 0, 0, 0, 0]  # long and longish rules pay 0 in the paper
    custom = LengthParams(short=3, shortish=5, longish=8, longish_penalty=-3, long=10, long_penalty=-7)
    assert [length_penalty(n, custom) for n in (2, 3, 4, 5, 8, 9, 10, 11)] == [-200, -25, -25, 0, 0, -3, -3, -7]


def test_carbon_penalty_from_the_thirteenth_consecutive_c():
    params = rewards.paper_preset().carbon
    assert carbon_penalty(["C"] * 11, "C", params) == 0.0       # 12th C
    assert carbon_penalty(["C"] * 12, "C", params) == -150.0    # 13th C
    assert carbon_penalty(["C"] * 12, "c", params) == 0.0       # aromatic c does not count
    assert carbon_penalty(["C"] * 12, "(", params) == 0.0
    assert carbon_penalty(["N"] + ["C"] * 12, "C", params) == -150.0
    assert carbon_penalty(["C"] * 6 + ["N"] + ["C"] * 6, "C", params) == 0.0
    # characters: the C of Cl counts (C C ... C then 'l' comes later)
    assert carbon_penalty(list("CCCCCCCCCCCC"), "C", params) == -150.0
    # atom-level tokens: Cl is one token and breaks the run
    assert carbon_penalty(["C"] * 11 + ["Cl"], "C", CarbonParams(max_run=0)) == 0.0
    assert carbon_penalty(["Cl"] + ["C"] * 12, "C", params) == -150.0
    assert carbon_penalty(["C"] * 12, "Cl", params) == 0.0


def test_paper_step_cases():
    r = DomainReward(rewards.paper_preset())
    end = " "
    # not terminal, invalid prefix: -5
    assert r.step(list("c1cc"), "c", end)["total"] == -5.0
    # not terminal, valid prefix: +5 + P
    logp, qed, sa = PROPERTIES[6][1:]
    step = r.step(list("SN"), "C", end)
    assert step["validity"] == 5.0 and step["property"] == pytest.approx(P(logp, qed, sa, 0))
    assert step["total"] == pytest.approx(5 + P(logp, qed, sa, 0))
    # terminal, invalid: length penalty + 0 (11 characters + end = 12 < 19)
    assert r.step(list("C1CCCCCCCCC"), end, end)["total"] == -200.0
    # terminal, valid: 10 P + length + 600
    logp, qed, sa = PROPERTIES[0][1:]
    assert r.step(list("CCO"), end, end)["total"] == pytest.approx(10 * P(logp, qed, sa, 0) - 200 + 600)
    # the carbon penalty adds to every case: a valid prefix of 13 C ...
    chain = chem.parse("C" * 13)
    p13 = P(rewards.logp(chain), rewards.qed(chain), rewards.sa(chain), 0)
    step = r.step(["C"] * 12, "C", end)
    assert step["carbon"] == -150.0 and step["total"] == pytest.approx(5 + p13 - 150)
    # ... an invalid prefix ...
    assert r.step(["(", *"C" * 12], "C", end)["total"] == -155.0
    # ... and a terminal step at the maximum length (120 tokens, no end token)
    long = ["C"] * 119
    step = r.step(long, "C", end)
    chain = chem.parse("C" * 120)
    p120 = P(rewards.logp(chain), rewards.qed(chain), rewards.sa(chain), 0)
    assert step["length"] == 0.0 and step["end"] == 600.0
    assert step["total"] == pytest.approx(10 * p120 + 600 - 150)
    # a terminal invalid step at the maximum length with a carbon run
    step = r.step(["("] + ["C"] * 118, "C", end)
    assert step["total"] == -150.0


def test_worked_example_sncc1ccccc1():
    """spec section 2's reward_trace: S N C c 1 c c c c c 1 <end>.

    With silicos-it QED the original pays +9.7, +13.6, +17.2, 7 x -5, +35.3 and
    10 x 30.34 - 200 + 600 = 703.4, a domain sum of 744.2. RDKit's QED is lower on these
    molecules by 0.0094 (S), 0.0113 (SN), 0.0113 (SNC) and 0.0050 (SNCc1ccccc1), so the
    valid steps pay 0.5 to 2.5 less and the sum is 739.83.
    """
    r = DomainReward(rewards.paper_preset())
    props = {s: P(lp, q, sa, 0) for s, lp, q, sa in PROPERTIES}
    trace = r.sequence(list("SNCc1ccccc1") + [" "], " ")
    expected = ([5 + props["S"], 5 + props["SN"], 5 + props["SNC"]] + [-5.0] * 7
                + [5 + props["SNCc1ccccc1"], 10 * props["SNCc1ccccc1"] - 200 + 600])
    assert trace == pytest.approx(expected)
    assert [round(x, 1) for x in trace] == [9.2, 13.0, 16.6, -5, -5, -5, -5, -5, -5, -5, 35.1, 700.9]
    assert sum(trace) == pytest.approx(739.8331371166211)
    assert 0.35 * sum(trace) == pytest.approx(258.94, abs=0.01)  # the original: 260 after x 0.35


def test_data_statistics_and_default_preset():
    smiles = ["CCO", "c1ccccc1", "CCCCCl", "CC[C@@H](C)O"]
    stats = rewards.data_statistics(smiles)
    lengths = [3, 8, 5, 7]  # C C O | c 1 c c c c c 1 | C C C C Cl | C C [C@@H] ( C ) O
    mean = sum(lengths) / 4
    std = math.sqrt(sum((x - mean) ** 2 for x in lengths) / 4)
    assert stats == {"tokenizer": "atom", "count": 4,
                     "length": {"mean": pytest.approx(mean), "std": pytest.approx(std), "min": 3, "max": 8},
                     "max_consecutive_c": 4}
    assert rewards.data_statistics(smiles, "char")["max_consecutive_c"] == 5  # the C of Cl counts
    preset = rewards.default_preset(stats)
    assert preset.length.short == 3 and preset.length.shortish == pytest.approx(mean - 2 * std)
    assert preset.length.longish == pytest.approx(mean + 2 * std) and preset.length.long == 8
    assert not preset.length.count_end and preset.carbon.max_run == 3  # penalty at the 5th C
    assert preset.params["ring_penalty"].method == "sssr" and preset.tokenizer == "atom"
    assert preset.weights == {"logp": 3.0, "ring_penalty": 5.0, "qed": 50.0, "sa": -2.0}
    r = DomainReward(preset)
    # "CCO" is 3 atom tokens (the end token not counted): not below short (3), and shortish
    # (5.75 - 2 x 1.92 = 1.91) is lower still; "CO" (2 tokens) is short
    logp, qed, sa = PROPERTIES[0][1:]
    assert r.finished("CCO") == pytest.approx(10 * P(logp, qed, sa, 0) + 600)
    co = chem.parse("CO")
    assert r.finished("CO") == pytest.approx(
        10 * P(rewards.logp(co), rewards.qed(co), rewards.sa(co), 0) - 1000 + 600)
    assert r.finished("C1CC") == 0.0 and r.finished("C(") == -1000.0  # invalid: length + 0
    assert r.finished("CO") < 0 < r.finished("CCO")  # too short loses more than a valid end wins
    length = preset.length
    assert (length.short_penalty, length.shortish_penalty, length.longish_penalty, length.long_penalty) == \
        (-1000.0, -100.0, -100.0, -1000.0)
    assert r.properties("CCCOOOOOO") is not None
    assert r.finished("CCCOOOOOO") == pytest.approx(  # 9 tokens > long (8)
        10 * r.property_sum(r.properties("CCCOOOOOO")) + 600 - 1000)
    # no +-5 per prefix (the paper preset's), no property sum before the end
    assert preset.steps == rewards.StepParams(valid_step=0.0, invalid_step=0.0, property_on_prefix=False)
    assert r.step(["C"], "C", "<eos>") == {"validity": 0.0, "property": 0.0, "length": 0.0, "end": 0.0,
                                           "carbon": 0.0, "total": 0.0}
    assert r.step(["C", "1"], "C", "<eos>")["total"] == 0.0  # an open ring costs nothing either
    assert r.step(["C"] * 4, "C", "<eos>")["carbon"] == -150.0
    assert r.step(["C"] * 3, "C", "<eos>")["carbon"] == 0.0
    with pytest.raises(ValueError, match="data_statistics: no SMILES"):
        rewards.data_statistics([])
    with pytest.raises(ValueError, match="default preset needs atom-level statistics, got 'char'"):
        rewards.default_preset(rewards.data_statistics(smiles, "char"))
    with pytest.raises(ValueError, match="data statistics lack 'max_consecutive_c'"):
        rewards.default_preset({"length": stats["length"]})


def test_built_in_moses_statistics_give_the_default_limits():
    preset = rewards.default_preset()
    assert preset.length.short == 13 and preset.length.long == 54
    assert preset.length.shortish == pytest.approx(35.36898 - 2 * 4.50015, abs=1e-4)  # 26.37 tokens
    assert preset.length.longish == pytest.approx(35.36898 + 2 * 4.50015, abs=1e-4)
    assert preset.carbon.max_run == 7  # the penalty at the 9th C: MOSES has runs of up to 8
    assert rewards.make_preset("default").length == preset.length


def test_built_in_moses_statistics_match_the_prepared_data_set():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "moses", "summary.json")
    if not os.path.isfile(path):
        pytest.skip("data/moses not prepared (molecules prepare --out data/moses)")
    with open(path) as f:
        summary = json.load(f)
    if summary["source"] != "moses" or summary["seed"] != 0 or summary["validation_fraction"] != 0.1:
        pytest.skip("data/moses was prepared with other settings")
    assert summary["statistics"] == rewards.MOSES_STATISTICS


def test_score_records_and_cache():
    r = DomainReward(rewards.paper_preset())
    logp, qed, sa = PROPERTIES[3][1:]
    record = r.score(COCAINE)
    assert record == {"smiles": COCAINE, "valid": True, "logp": pytest.approx(logp), "qed": pytest.approx(qed),
                      "sa": pytest.approx(sa), "ring_penalty": -1.0,
                      "reward": pytest.approx(10 * P(logp, qed, sa, -1) + 600)}  # 38 + end >= 28: no length penalty
    assert r.score("C1CC") == {"smiles": "C1CC", "valid": False, "logp": None, "qed": None, "sa": None,
                               "ring_penalty": None, "reward": -200.0}
    assert r.score("")["reward"] == -200.0 and not r.score("")["valid"]
    before = r.properties.cache_info()
    r.score(COCAINE)
    after = r.properties.cache_info()
    assert after.hits > before.hits and after.misses == before.misses
    with pytest.raises(TypeError):
        r.properties(COCAINE)["qed"] = 1.0  # the cached values are read-only


def test_preset_errors():
    with pytest.raises(ValueError, match=r"unknown reward preset 'fast'; choose from \['default', 'paper'\]"):
        rewards.make_preset("fast")
    with pytest.raises(ValueError, match=r"unknown reward components \['mw'\]"):
        rewards.RewardPreset(name="x", tokenizer="atom", weights={"mw": 1.0}, params={},
                             length=LengthParams(), carbon=CarbonParams())
    with pytest.raises(ValueError, match=r"params\['ring_penalty'\] must be a RingParams"):
        rewards.RewardPreset(name="x", tokenizer="atom", weights={}, params={"ring_penalty": rewards.SAParams()},
                             length=LengthParams(), carbon=CarbonParams())
    with pytest.raises(ValueError, match=r"params for unknown reward component 'mw'"):
        rewards.RewardPreset(name="x", tokenizer="atom", weights={}, params={"mw": rewards.SAParams()},
                             length=LengthParams(), carbon=CarbonParams())
    with pytest.raises(ValueError, match="tokenizer must be 'char' or 'atom', got 'bpe'"):
        rewards.RewardPreset(name="x", tokenizer="bpe", weights={}, params={},
                             length=LengthParams(), carbon=CarbonParams())


# --- One SMILES's cost is bounded (issue 18) --------------------------------------------------

NCI_SMILES = os.path.join(os.path.dirname(Chem.__file__), "..", "Data", "NCI", "first_5K.smi")


def _dense_cycle_basis_ring(mol) -> int:
    """The original's expression, verbatim: a dense atoms x atoms matrix given to networkx."""
    import networkx as nx
    cycles = nx.cycle_basis(nx.Graph(Chem.GetAdjacencyMatrix(mol)))
    return max((len(c) for c in cycles), default=0)


def test_sparse_cycle_basis_ring_equals_the_originals_dense_one_in_many_atom_orders():
    import random
    with open(NCI_SMILES) as f:
        smiles = [line.split()[0] for line in f if line.strip()]
    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles[:1500]) if m is not None]
    assert len(mols) > 1400
    rng = random.Random(0)
    compared = with_rings = differs_by_order = 0
    for mol in mols:
        order = list(range(mol.GetNumAtoms()))
        rng.shuffle(order)
        values = set()
        for v in (mol, Chem.RenumberAtoms(mol, order), Chem.MolFromSmiles(Chem.MolToSmiles(mol, doRandom=True))):
            if v is not None:
                value = chem.largest_cycle_basis_ring(v)
                assert value == _dense_cycle_basis_ring(v), Chem.MolToSmiles(v, canonical=False)
                values.add(value)
                compared += 1
                with_rings += value > 0
        differs_by_order += len(values) > 1
    assert compared > 4000 and with_rings > 3000
    assert differs_by_order > 0  # the orders tried do change the original's measure


def test_sparse_cycle_basis_ring_on_hand_made_molecules():
    cocaine = "CN1C2CCC1C(C(=O)OC)C(OC(=O)c1ccccc1)C2"
    assert chem.largest_cycle_basis_ring(Chem.MolFromSmiles(cocaine)) == 7
    assert chem.largest_cycle_basis_ring(Chem.MolFromSmiles(chem.canonical(cocaine))) == 6
    assert chem.largest_cycle_basis_ring(Chem.MolFromSmiles("CCO")) == 0
    # a chain at the length cap: a sparse graph (the dense matrix of the original grows with its square)
    assert chem.largest_cycle_basis_ring(Chem.MolFromSmiles("C" * chem.MAX_SMILES_CHARS)) == 0
    assert chem.largest_cycle_basis_ring(Chem.MolFromSmiles("C1" + "C" * 1998 + "1")) == 1999


def test_smiles_length_cap():
    cap = chem.MAX_SMILES_CHARS
    assert cap == 2000
    assert chem.parse("C" * cap) is not None
    assert chem.parse(" " + "C" * cap + " ") is not None  # surrounding whitespace is not counted
    assert chem.parse("C" * (cap + 1)) is None
    assert chem.canonical("C" * (cap + 1)) is None
    assert chem.length_problem("C" * cap) is None
    assert chem.length_problem("C" * 40_000) == "a SMILES of 40,000 characters, more than the 2,000 allowed"
    assert chem.parse_problem("C" * 40_000) == "too long: a SMILES of 40,000 characters, more than the 2,000 allowed"
    with pytest.raises(ValueError) as e:
        chem.check_length("C" * 2001, "in.smi", 7)
    assert str(e.value) == ("in.smi line 7: a SMILES of 2,001 characters, more than the 2,000 allowed "
                            "(molecules.chem.MAX_SMILES_CHARS)")
    chem.check_length("C" * 2000, "in.smi", 7)


@pytest.mark.parametrize("preset", ["paper", "default"])
def test_reward_of_an_over_long_smiles_is_that_of_an_invalid_one(preset):
    reward = DomainReward(rewards.make_preset(preset))
    record = reward.score("C" * 40_000)
    assert record["valid"] is False and record["ring_penalty"] is None
    assert record["reward"] == reward.score("C1CC")["reward"] - reward._terminal("", 5, 0.0)["length"] \
        + reward._terminal("", 40_001 if preset == "paper" else 40_000, 0.0)["length"]
    step = reward.step(["C"] * 40_000, "C", end=" " if preset == "paper" else "<eos>", max_length=10**6)
    assert step["validity"] == reward.preset.steps.invalid_step
