"""``molecules benchmark --algorithm sequence_tutor`` (molecules.sequence_tutor) on the tiny
hand-made prior of tests/molecule_fixtures.py (every step predicts the same distribution)."""

import dataclasses
import json
import math

import numpy as np
import pytest

from molecules import benchmark, chem, cli, objectives
from molecules import sequence_tutor as st
from molecules.oracle import BudgetedOracle, top_auc
from rl_tuner.plumbing.cli_utils import run_main
from molecule_fixtures import UNIFORM_PROBS, UNIFORM_VOCAB, uniform_prior

TOKEN = {s: i for i, s in enumerate(UNIFORM_VOCAB)}


@pytest.fixture(scope="module")
def prior(tmp_path_factory):
    return uniform_prior(tmp_path_factory.mktemp("prior") / "tiny", random_lstm=True)


def _seq(smiles, end=True):
    return np.array([TOKEN["<bos>"]] + [TOKEN[ch] for ch in smiles] + ([TOKEN["<eos>"]] if end else []), np.int32)


def test_episodes_by_hand():
    from rl_tuner.kl_control import targets
    log_p = np.log(np.array(UNIFORM_PROBS, np.float32) + 1e-30)
    seqs = [_seq("CO"), _seq("N"), _seq("CCC", end=False)]
    log_prior = np.broadcast_to(log_p, (3, 5, len(UNIFORM_VOCAB))).copy()
    log_prior[0, 1, 0] = -7.0  # after "<bos> C": a marked value of log p(<eos>|.)
    g = st.episodes(seqs, [0.5, 0.0, 0.25], log_prior, targets.get_algorithm("g"), 0.1, num_steps=4)
    assert g["tokens"].tolist() == [[1, 2, 4, 0, 0], [1, 3, 0, 0, 0], [1, 2, 2, 2, 0]]
    assert g["length"].tolist() == [3, 2, 3]
    assert g["done"].tolist() == [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0]]  # a cut sequence ends too
    np.testing.assert_allclose(g["reward"], [[0, 0, 5, 0], [0, 0, 0, 0], [0, 0, 2.5, 0]], rtol=1e-6)
    np.testing.assert_array_equal(g["next_log_prior"][0, :3], log_prior[0, 1:4])
    assert g["next_log_prior"][0, 0, 0] == -7.0 and not g["next_log_prior"][0, 3].any()
    psi = st.episodes(seqs[:1], [0.5], log_prior[:1], targets.get_algorithm("psi"), 0.1, num_steps=4)
    p = dict(zip(UNIFORM_VOCAB, UNIFORM_PROBS))
    np.testing.assert_allclose(psi["reward"][0], [math.log(p["C"]), math.log(p["O"]), math.log(p["<eos>"]) + 5, 0],
                               rtol=1e-5)
    assert "next_log_prior" not in psi


def test_settings_refused():
    cases = [({"rl_algorithm": "q"}, "rl_algorithm must be one of g, psi, got 'q'"),
             ({"loss": "td"}, "loss must be one of path, lambda, got 'td'"),
             ({"c": 0.0}, "c must be > 0, got 0.0"),
             ({"td_lambda": 1.5}, "td_lambda must be in [0, 1], got 1.5"),
             ({"updates_per_batch": -1}, "updates_per_batch must be an integer >= 0, got -1"),
             ({"train_batch_size": 65, "replay_size": 64},
              "train_batch_size - best_per_update (65) must be <= replay_size (64)"),
             ({"best_per_update": 8}, "best_per_update (8) needs best_size > 0 (got 0) and must be < train_batch_size (64)"),
             ({"best_per_update": 64, "best_size": 100},
              "best_per_update (64) needs best_size > 0 (got 100) and must be < train_batch_size (64)")]
    for kwargs, message in cases:
        with pytest.raises(ValueError) as e:
            st.TutorConfig(**kwargs)
        assert str(e.value) == message


def _run(prior, out, *extra):
    return run_main(cli.main, ["benchmark", "--task", "qed", "--budget", "120", "--seed", "3", "--out", str(out),
                               "--prior", prior, "--algorithm", "sequence_tutor", "--batch-size", "16",
                               "--train-batch-size", "8", "--replay-size", "64", "--max-length", "24", *extra])


def test_run_through_the_cli_writes_result_and_calls(tmp_path, prior, capsys):
    out = tmp_path / "run"
    assert _run(prior, out, "--updates-per-batch", "2") == 0
    assert f"wrote {out}/result.json" in capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    calls = benchmark.read_calls(str(out / "oracle_calls.csv"))
    assert (out / "oracle_calls.csv").read_text().splitlines()[0] == "call,smiles,score"
    assert result["oracle_calls"] == len(calls) == 120 and result["algorithm"] == "sequence_tutor"
    assert result["settings"] == dataclasses.asdict(st.TutorConfig(batch_size=16, train_batch_size=8, replay_size=64,
                                                                   max_length=24, updates_per_batch=2))
    qed = objectives.get("qed")
    assert len({s for s, _ in calls}) == 120 and all(qed.score(s) == v for s, v in calls)
    assert result["auc_top10"] == top_auc([v for _, v in calls], 120)
    assert result["updates"] == 2 * (result["steps"] - 1)  # none after the last batch (the replay fills at once)
    assert result["value_offset"] > 0 and result["last_kl"] >= 0 and math.isfinite(result["last_loss"])
    assert set(result["seconds"]) == {"sampling", "scoring", "learning"}
    assert _run(prior, out, "--updates-per-batch", "2", "--quiet") == 0  # the same seed: the same calls
    assert benchmark.read_calls(str(out / "oracle_calls.csv")) == calls


def test_psi_and_lambda_settings_run(tmp_path, prior):
    out = tmp_path / "psi"
    assert _run(prior, out, "--rl-algorithm", "psi", "--loss", "lambda", "--td-lambda", "0.5", "--train-head-only",
                "--budget", "40") == 0
    result = json.loads((out / "result.json").read_text())
    assert result["oracle_calls"] == 40 and result["updates"] > 0
    assert result["settings"]["rl_algorithm"] == "psi" and result["settings"]["train_head_only"] is True


def test_cli_refuses_flags_of_the_other_algorithm(tmp_path, prior, capsys):
    base = ["benchmark", "--task", "qed", "--out", str(tmp_path / "x"), "--prior", prior]
    cases = [(["--c", "0.1"], "error: --c is a setting of --algorithm sequence_tutor, not dap"),
             (["--algorithm", "sequence_tutor", "--sigma", "5"],
              "error: --sigma is a setting of --algorithm dap, not sequence_tutor"),
             (["--algorithm", "sequence_tutor", "--train-batch-size", "100", "--replay-size", "50"],
              "error: train_batch_size - best_per_update (100) must be <= replay_size (50)")]
    for extra, message in cases:
        assert run_main(cli.main, base + extra) == 2
        assert capsys.readouterr().err.strip() == message
    for extra, message in [(["--rl-algorithm", "q"], "argument --rl-algorithm: invalid choice: 'q'"),
                           (["--c", "0"], "argument --c: must be > 0, got 0")]:
        with pytest.raises(SystemExit):
            cli.main(base + ["--algorithm", "sequence_tutor"] + extra)
        assert f"molecules benchmark: error: {message}" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        cli.main(["benchmark", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(sequence_tutor: 0.002)" in help_text and "(dap: 64; sequence_tutor: 64)" in help_text
    assert "--sigma SIGMA weight of the score in the augmented log-likelihood (PMO: 500). (dap: 500.0)" in help_text


def test_the_oracle_is_called_only_within_the_budget_and_rewards_are_the_scores(prior, monkeypatch):
    qed = objectives.get("qed")
    scored = []
    oracle = BudgetedOracle(lambda s: scored.append(s) or qed.score(s), 50, chem.canonical, log_every=100)
    batches, stored = [], []
    score_batch = oracle.score_batch

    def spy_score(smiles):
        assert not oracle.finished  # nothing is sampled and scored once the budget is spent
        batches.append(list(smiles))
        return score_batch(smiles)

    original = st.Tutor.store_and_learn

    def spy_store(self, batch, *args):
        stored.append({k: np.array(v) for k, v in batch.items()})
        return original(self, batch, *args)

    monkeypatch.setattr(oracle, "score_batch", spy_score)
    monkeypatch.setattr(st.Tutor, "store_and_learn", spy_store)
    config = st.TutorConfig(batch_size=8, train_batch_size=4, replay_size=32, c=0.05, max_length=24)
    facts = st.optimise(oracle, prior, 0, config)
    assert oracle.finished and len(scored) == len(oracle.calls) == 50 == len(set(scored))
    assert facts["steps"] == len(batches) and len(stored) == len(batches) - 1  # the last batch is not learned
    from molecules import prior as prior_lib
    _, tokenizer = prior_lib.load(prior)
    checked = 0
    for batch in stored:
        for tokens, length, reward, done in zip(batch["tokens"], batch["length"], batch["reward"], batch["done"]):
            smiles = tokenizer.decode(tokens[1:length + 1])
            key = chem.canonical(smiles)
            expected = 0.0 if key is None else oracle.cache[key]  # invalid: 0; a repeat: its known score
            assert reward[length - 1] * config.c == pytest.approx(expected, rel=1e-6, abs=1e-7)
            assert not reward[:length - 1].any() and done[:length].tolist() == [0.0] * (length - 1) + [1.0]
            checked += 1
    assert checked > 20


def _policy_log_likelihood(tutor, seq):
    import tensorflow as tf
    tokens = tf.constant(seq[None, :])
    values = tutor.q_network.rnn.token_logits(tokens[:, :-1])
    log_p = tf.nn.log_softmax(tutor.prior.rnn.token_logits(tokens[:, :-1]))
    log_pi = tf.nn.log_softmax(tutor.algorithm.policy_logits(values, log_p))
    return float(tf.reduce_sum(tf.gather(log_pi, tokens[:, 1:], batch_dims=2)))


@pytest.mark.parametrize("rl_algorithm", ["g", "psi"])
def test_the_loss_falls_and_the_policy_moves_to_the_molecule_that_scores(prior, rl_algorithm):
    from molecules import prior as prior_lib
    model, tokenizer = prior_lib.load(prior)
    config = st.TutorConfig(rl_algorithm=rl_algorithm, c=0.5, train_batch_size=4, replay_size=4,
                            updates_per_batch=10, learning_rate=1e-2, max_length=6)
    tutor = st.Tutor(model, tokenizer, config, seed=0)
    seqs, scores = [_seq("CC"), _seq("N"), _seq("O"), _seq("CO")], [1.0, 0.0, 0.0, 0.0]
    batch = st.episodes(seqs, scores, tutor.prior_log_probs(seqs), tutor.algorithm, config.c, config.max_length)
    tutor.shift_values(st.first_offset(tutor, seqs, scores))
    # the mean score / c; psi: minus the mean log-partition of the prior's logits, log 1 here
    assert tutor.value_offset == pytest.approx(0.25 / 0.5, abs=1e-5)
    before = _policy_log_likelihood(tutor, seqs[0])
    p = dict(zip(UNIFORM_VOCAB, UNIFORM_PROBS))
    assert before == pytest.approx(2 * math.log(p["C"]) + math.log(p["<eos>"]), abs=1e-4)  # starts as the prior
    losses = [tutor.store_and_learn(batch) for _ in range(15)]
    assert losses[-1] < 0.01 * losses[0]
    # the optimum pi(x) ~ p(x) exp(S(x) / c): "CC" gains S / c = 2 nats on "N"
    gap = _policy_log_likelihood(tutor, seqs[0]) - _policy_log_likelihood(tutor, seqs[1])
    assert gap == pytest.approx(math.log(p["C"] ** 2 / p["N"]) + 1.0 / 0.5, abs=0.02)


def test_best_episodes_keep_the_best_distinct_molecules():
    best = st.BestEpisodes(3)
    best.add(["A", "B", "A"], [0.2, 0.9, 0.2], {"x": np.array([1, 2, 3])})
    best.add(["C", "D", "B", "E"], [0.2, 0.1, 0.9, 0.5], {"x": np.array([4, 5, 6, 7])})
    assert best.keys() == ["B", "E", "A"]  # 0.9, 0.5, then A before C (same score, earlier)
    assert best.stacked()["x"].tolist() == [2, 7, 1]  # each molecule's first episode


def test_mixed_replay_draws_from_both_memories():
    import tensorflow as tf
    from rl_tuner.kl_control import replay
    spec = {"v": tf.TensorSpec([], tf.float32)}
    recent, best = replay.UniformReplay(spec, 8, seed=0), replay.UniformReplay(spec, 4, seed=1)
    recent.add({"v": np.arange(1, 9, dtype=np.float32)})
    best.add({"v": -np.arange(1, 3, dtype=np.float32)})
    _, batch = st.MixedReplay(recent, best, 3).sample(10)
    values = batch["v"].numpy()
    assert values.shape == (10,) and (values[:7] > 0).all() and set(values[7:]) <= {-1.0, -2.0}


def test_the_best_memory_holds_the_run_s_best_molecules(prior, monkeypatch):
    tutors, batches = [], []
    original = st.Tutor.__init__

    def keep(self, *args, **kwargs):
        original(self, *args, **kwargs)
        tutors.append(self)

    monkeypatch.setattr(st.Tutor, "__init__", keep)
    oracle = BudgetedOracle(objectives.get("qed").score, 40, chem.canonical)
    score_batch = oracle.score_batch
    monkeypatch.setattr(oracle, "score_batch", lambda smiles: batches.append(list(zip(smiles, score_batch(smiles))))
                        or [v for _, v in batches[-1]])
    config = st.TutorConfig(batch_size=8, train_batch_size=6, replay_size=32, best_size=5, best_per_update=2,
                            max_length=24)
    st.optimise(oracle, prior, 0, config)
    first = {}
    for smiles, score in (pair for batch in batches[:-1] for pair in batch):  # the last batch is not learned
        first.setdefault(smiles, (-score, len(first)))
    expected = sorted(first, key=first.get)[:5]
    assert tutors[0].best.keys() == expected and first[expected[0]][0] < 0  # the best scores > 0
    assert int(tutors[0].best_replay.size().numpy()) == 5
