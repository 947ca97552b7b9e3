"""The batched SMILES environment (molecules.environment): the cheap invalidity check agrees
with RDKit, the per-step rewards are the domain reward's (spec/molecules.md section 2's worked
example), episodes end at the end token or max_length, priming and exploration tokens."""

import gzip
import os

import networkx as nx
import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import QED, Crippen
from rdkit.Contrib.SA_Score import sascorer

from molecules import chem, environment, rewards, tokenizers
from molecules.environment import SmilesEnvironment, cheap_invalid

MOSES_VALIDATION = "/work/main/data/moses/validation.smi.gz"
# Used when the prepared MOSES data set is not there: brackets, %nn, charges, stereo, Cl/Br.
LITERAL_SMILES = [
    "CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CN1C2CCC1C(C(=O)OC)C(OC(=O)c1ccccc1)C2",
    "c1cc[nH]c1", "C[C@@H](N)C(=O)O", "C[C@H](O)[C@@H](C)Cl", "F/C=C/F", "F/C=C\\Br", "[NH4+].[Cl-]",
    "C[N+](C)(C)C", "CC(=O)[O-]", "[13CH3]C", "C1CC%10CC1CC%10", "C%10CC%11CC%10CC%11",
    "c1ccc2c(c1)ccc1ccccc12", "O=C1NC(=O)C(=O)N1", "N#Cc1ccccc1", "C=CC(=O)N", "OC[C@H]1OC(O)[C@H](O)[C@@H]1O",
    "Brc1ccc(I)cc1", "CS(=O)(=O)N", "C1=CC=CN=C1", "CC(C)(C)c1ccc(O)cc1", "O=[N+]([O-])c1ccccc1",
    "[2H]C([2H])([2H])O", "C1CCC2(CC1)OCCO2", "c1ccc2[nH]ccc2c1", "CCN(CC)C(=O)c1cccnc1", "P(=O)(O)(O)O",
]


def paper_p(smiles: str) -> float:
    """3 logP + 5 ring penalty + 50 QED - 2 SA with RDKit (and networkx's cycle basis) directly."""
    mol = Chem.MolFromSmiles(smiles)
    cycles = nx.cycle_basis(nx.Graph(Chem.GetAdjacencyMatrix(mol)))
    ring = -max(0, max((len(c) for c in cycles), default=0) - 6)
    return 3 * Crippen.MolLogP(mol) + 5 * ring + 50 * QED.qed(mol) - 2 * sascorer.calculateScore(mol)


# --- cheap_invalid -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "C(", "C(C", "C)", "C1CC", "c1ccc", "[nH", "C%1", "C%10CC", "C)(C",
                                  "C%1%10"])
def test_cheap_invalid_prefixes_are_invalid_for_rdkit_too(text):
    assert cheap_invalid(text)
    assert chem.parse(text) is None


@pytest.mark.parametrize("text,rdkit_valid", [("C1CC1", True), ("C%10CC%10", True), ("[13CH3]C", True),
                                              ("C(C)C", True), ("C1CC1C1CC1", True), ("C1.C1", True),
                                              ("CC=", False), ("[C]]", False)])
def test_cheap_invalid_leaves_the_rest_to_rdkit(text, rdkit_valid):
    assert not cheap_invalid(text)
    assert (chem.parse(text) is not None) == rdkit_valid


def test_cheap_invalid_asks_rdkit_about_extended_ring_closures():
    # RDKit reads %(nnn) ring bonds; the cheap check must not call them invalid
    for text in ("C%(100)CC%(100)", "C%(1)CC%(1)"):
        assert chem.parse(text) is not None
        assert not cheap_invalid(text)


def _real_smiles(n=300):
    if os.path.isfile(MOSES_VALIDATION):
        with gzip.open(MOSES_VALIDATION, "rt") as f:
            lines = [line.strip() for _, line in zip(range(n), f)]
        return LITERAL_SMILES + lines
    return LITERAL_SMILES


def test_cheap_invalid_implies_rdkit_rejects_on_every_prefix_of_real_smiles():
    smiles = _real_smiles()
    checked = flagged = 0
    for s in smiles:
        assert chem.parse(s) is not None, s
        for k in range(len(s) + 1):
            prefix = s[:k]
            if cheap_invalid(prefix):
                flagged += 1
                assert chem.parse(prefix) is None, prefix
            checked += 1
    assert flagged > checked // 4  # the check does its job on many prefixes


# --- tokens ------------------------------------------------------------------------------


def test_paper_primers_and_exploration_actions_are_indices_1_to_33():
    tok = tokenizers.paper_tokenizer()
    assert environment.paper_primers(tok) == list(range(1, 34))
    assert environment.first_tokens(tok) == list(range(1, 34))
    assert environment.exploration_actions(tok) == list(range(1, 34))


def test_atom_tokenizer_primes_with_bos_and_explores_everything_else():
    tok = tokenizers.AtomTokenizer.fit(["CCO", "c1ccccc1Cl"])
    assert tok.symbols[:2] == ("<eos>", "<bos>")
    assert environment.first_tokens(tok) == [1]
    assert environment.exploration_actions(tok) == list(range(2, tok.vocab_size))
    env = SmilesEnvironment(4, 10, tok, rewards.DomainReward(rewards.default_preset()))
    np.testing.assert_array_equal(env.reset(np.random.default_rng(0)), [1, 1, 1, 1])


def test_paper_reset_draws_every_primer_uniformly_and_never_end_or_s():
    tok = tokenizers.paper_tokenizer()
    env = SmilesEnvironment(3300, 120, tok, rewards.DomainReward(rewards.paper_preset()))
    first = env.reset(np.random.default_rng(0))
    assert first.dtype == np.int32 and first.shape == (3300,)
    counts = np.bincount(first, minlength=35)
    assert counts[0] == 0 and counts[34] == 0
    assert (counts[1:34] > 50).all()  # 100 expected each


# --- stepping ----------------------------------------------------------------------------


def _play(env, texts, end=" "):
    """Plays equal-length token lists (of characters) in env's B episodes; returns the results."""
    tok = env.tokenizer
    results = []
    for t in range(len(texts[0])):
        results.append(env.step(np.array([tok.index[x[t]] for x in texts], np.int32)))
    return results


def test_worked_example_rewards_done_and_episode_metrics():
    tok = tokenizers.paper_tokenizer()
    reward = rewards.DomainReward(rewards.paper_preset())
    env = SmilesEnvironment(1, 120, tok, rewards.DomainReward(rewards.paper_preset()))
    assert env.num_actions == 35 and env.adds_log_prior
    env.reset(np.random.default_rng(0))
    tokens = list("SNCc1ccccc1") + [" "]
    results = _play(env, [tokens])
    got = [float(r.task_reward[0]) for r in results]
    assert got == pytest.approx(reward.sequence(tokens, " "))
    p = paper_p("SNCc1ccccc1")
    expected = ([5 + paper_p("S"), 5 + paper_p("SN"), 5 + paper_p("SNC")] + [-5.0] * 7
                + [5 + p, 10 * p - 200 + 600])  # 12 tokens < 19: -200
    assert got == pytest.approx(expected)
    assert all(x > 0 for x in got[:3])
    assert [bool(r.done[0]) for r in results] == [False] * 11 + [True]
    last = results[-1]
    assert last.episode_metrics["valid"][0] == 1.0
    assert last.episode_metrics["episode_length"][0] == 12.0
    assert last.episode_metrics["final_reward"][0] == pytest.approx(10 * p + 400)
    assert last.components["end"][0] == 600.0 and last.components["length"][0] == -200.0
    assert last.components["property"][0] == pytest.approx(10 * p)
    for r in results:  # the components add up to the reward
        assert sum(r.components[name][0] for name in environment.COMPONENTS) == pytest.approx(r.task_reward[0])
    assert env.generated[0] == tokens


def test_an_invalid_molecule_ends_with_valid_0():
    env = SmilesEnvironment(1, 120, tokenizers.paper_tokenizer(), rewards.DomainReward(rewards.paper_preset()))
    env.reset(np.random.default_rng(0))
    results = _play(env, [list("C1CC ")])
    assert [float(r.task_reward[0]) for r in results[1:]] == [-5.0, -5.0, -5.0, -200.0]
    assert results[-1].done[0] and results[-1].episode_metrics["valid"][0] == 0.0
    assert results[-1].episode_metrics["episode_length"][0] == 5.0


def test_an_episode_ends_after_max_length_tokens():
    reward = rewards.DomainReward(rewards.paper_preset())
    env = SmilesEnvironment(1, 3, tokenizers.paper_tokenizer(), rewards.DomainReward(rewards.paper_preset()))
    env.reset(np.random.default_rng(0))
    results = _play(env, [list("CCC")])
    assert [bool(r.done[0]) for r in results] == [False, False, True]
    assert results[-1].episode_metrics["valid"][0] == 1.0 and results[-1].episode_metrics["episode_length"][0] == 3
    p = paper_p("CCC")
    assert results[-1].task_reward[0] == pytest.approx(10 * p - 200 + 600)  # terminal without an end token
    assert results[-1].task_reward[0] == pytest.approx(reward.step(["C", "C"], "C", " ", max_length=3)["total"])


def test_reset_with_a_mask_clears_only_the_masked_episodes():
    env = SmilesEnvironment(3, 120, tokenizers.paper_tokenizer(), rewards.DomainReward(rewards.paper_preset()))
    rng = np.random.default_rng(0)
    env.reset(rng)
    _play(env, [list("CC"), list("NC"), list("OC")])
    env.reset(rng, mask=np.array([True, False, True]))
    assert env.generated == [[], ["N", "C"], []]
    result = env.step(np.array([18, 18, 18]))  # C
    # env 1 goes on from NC: NCC; the others start again: C
    assert result.task_reward[1] == pytest.approx(5 + paper_p("NCC"))
    assert result.task_reward[0] == pytest.approx(5 + paper_p("C")) == pytest.approx(result.task_reward[2])
    env.reset(rng)
    assert env.generated == [[], [], []]


def test_a_batch_of_three_gives_the_rewards_of_three_single_runs():
    texts = [list("SNCc1ccccc1 "), list("CCOc1ccccc1 "), list("C1CC(C)CC1C ")]
    batched = SmilesEnvironment(3, 120, tokenizers.paper_tokenizer(), rewards.DomainReward(rewards.paper_preset()))
    batched.reset(np.random.default_rng(0))
    together = _play(batched, texts)
    for i, text in enumerate(texts):
        single = SmilesEnvironment(1, 120, tokenizers.paper_tokenizer(), rewards.DomainReward(rewards.paper_preset()))
        single.reset(np.random.default_rng(1))
        alone = _play(single, [text])
        for a, b in zip(together, alone):
            assert a.task_reward[i] == b.task_reward[0] and a.done[i] == b.done[0]
            for name in environment.COMPONENTS:
                assert a.components[name][i] == b.components[name][0]
        for name in ("valid", "episode_length", "final_reward"):
            assert together[-1].episode_metrics[name][i] == alone[-1].episode_metrics[name][0]
    assert together[-1].done.all() and not any(r.done.any() for r in together[:-1])


# --- end rewards (the training loop's end transitions) ----------------------------------


def test_end_rewards_are_the_rewards_of_playing_the_end_token_now_and_change_nothing():
    tok = tokenizers.paper_tokenizer()
    env = SmilesEnvironment(3, 120, tok, rewards.DomainReward(rewards.paper_preset()))
    env.reset(np.random.default_rng(0))
    _play(env, [list("SNCc1ccccc1"), list("CCCCOc1cccc"), list("C1CC(C)CC1C")])
    before = [list(g) for g in env.generated]
    got = env.end_rewards(np.array([2, 0, 1]))
    assert got.dtype == np.float64 and got.shape == (3,)
    # SNCc1ccccc1 + end: 12 tokens < 19 (-200) + 600 + 10 P; an open ring: 0 + the length penalty -200
    assert got[1] == pytest.approx(10 * paper_p("SNCc1ccccc1") - 200 + 600)
    assert got[2] == -200.0
    assert got[0] == pytest.approx(10 * paper_p("C1CC(C)CC1C") - 200 + 600)
    assert env.generated == before  # nothing played
    # the same numbers the real end step then pays
    results = env.step(np.array([tok.index[" "]] * 3))
    np.testing.assert_allclose(results.task_reward, got[[1, 2, 0]])


def test_end_rewards_of_the_default_preset_use_atom_tokens_and_its_length_rules():
    tok = tokenizers.AtomTokenizer.fit(["CCO", "c1ccccc1Cl"])
    preset = rewards.default_preset()
    reward = rewards.DomainReward(preset)
    env = SmilesEnvironment(1, 80, tok, reward)
    env.reset(np.random.default_rng(0))
    _play(env, [["C", "C", "O"]])
    # 3 atom tokens < 13 (the MOSES minimum): -1000, + 600 + 10 P of ethanol
    assert env.end_rewards([0])[0] == pytest.approx(reward.finished("CCO")) \
        == pytest.approx(-1000 + 600 + 10 * reward.property_sum(reward.properties("CCO")))
