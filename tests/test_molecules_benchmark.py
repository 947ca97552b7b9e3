"""``molecules benchmark`` (the PMO protocol) and ``--algorithm dap`` (molecules.dap) on a tiny
hand-made prior: a SMILES-RNN whose every step predicts the same distribution (zero LSTM
weights; the dense bias holds log-probabilities), so likelihoods are known by hand."""

import dataclasses
import json
import math
import os

import numpy as np
import pytest

from molecules import benchmark, cli, dap, objectives
from molecules.oracle import top_auc
from rl_tuner.plumbing.cli_utils import run_main
from molecule_fixtures import UNIFORM_PROBS, UNIFORM_VOCAB, uniform_prior

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB, PROBS = UNIFORM_VOCAB, UNIFORM_PROBS


@pytest.fixture(scope="module")
def prior(tmp_path_factory):
    return uniform_prior(tmp_path_factory.mktemp("prior") / "tiny")


def test_sequences_pad_and_experience():
    tokens = np.array([[1, 2, 2, 0, 3], [1, 2, 2, 0, 4], [1, 3, 3, 3, 3], [1, 0, 2, 2, 2]])
    seqs = dap.sequences(tokens, end_id=0)  # cut after <eos>; the second row repeats the first
    assert [s.tolist() for s in seqs] == [[1, 2, 2, 0], [1, 3, 3, 3, 3], [1, 0]]
    inputs, targets, mask = dap.pad(seqs)
    assert inputs.tolist() == [[1, 2, 2, 0], [1, 3, 3, 3], [1, 0, 0, 0]]
    assert targets.tolist() == [[2, 2, 0, 0], [3, 3, 3, 3], [0, 0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    memory = dap.Experience(3)
    memory.add([("A", 0.1, -1.0, None), ("B", 0.9, -2.0, None), ("A", 0.1, -1.0, None)])
    assert [m[0] for m in memory.memory] == ["A", "B", "A"]  # at most 3: kept as added
    memory.add([("C", 0.5, -3.0, None), ("D", 0.0, -4.0, None)])
    assert [m[0] for m in memory.memory] == ["B", "C", "A"]  # distinct, best first
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert sorted(m[0] for m in memory.sample(2, rng)) in (["B", "C"], ["A", "B"], ["A", "C"])
    with pytest.raises(ValueError, match="holds 3 molecules, fewer than 4"):
        memory.sample(4, rng)


def test_likelihoods_and_the_first_loss_by_hand(prior):
    from molecules import prior as prior_lib
    model, tokenizer = prior_lib.load(prior)
    config = dap.DapConfig(sigma=10.0, likelihood_penalty=5.0)
    learner = dap.Learner(model, config)
    seqs = [np.array([1] + [VOCAB.index(c) for c in "CCO"] + [0]), np.array([1, VOCAB.index("N"), 0])]
    logp = learner.prior_log_likelihoods(seqs)
    p = dict(zip(VOCAB, PROBS))
    expected = [2 * math.log(p["C"]) + math.log(p["O"]) + math.log(p["<eos>"]), math.log(p["N"]) + math.log(p["<eos>"])]
    assert logp == pytest.approx(expected, abs=1e-5)
    scores = [0.5, 0.0]
    # the agent starts as the prior: log p_prior - log pi = 0, so the loss is mean((sigma S)^2) + penalty term
    loss = learner.update(seqs, logp, scores)
    assert loss == pytest.approx(np.mean([(10 * 0.5) ** 2, 0.0]) + 5.0 * np.mean([-1 / x for x in expected]), rel=1e-5)
    assert learner.prior_log_likelihoods(seqs) == pytest.approx(expected, abs=1e-5)  # the prior is not trained


def _run(tmp_path, prior, out, *extra):
    return run_main(cli.main, ["benchmark", "--task", "qed", "--budget", "120", "--seed", "3", "--out", str(out),
                               "--prior", prior, "--batch-size", "16", *extra])


def test_one_run_writes_result_and_calls(tmp_path, prior, capsys):
    out = tmp_path / "run"
    assert _run(tmp_path, prior, out) == 0
    printed = capsys.readouterr().out
    assert "qed seed 3: 100/120 calls | top1 " in printed and f"wrote {out}/result.json" in printed
    result = json.loads((out / "result.json").read_text())
    calls = benchmark.read_calls(str(out / "oracle_calls.csv"))
    assert (out / "oracle_calls.csv").read_text().splitlines()[0] == "call,smiles,score"
    assert result["written_by"] == "molecules benchmark" and result["oracle_calls"] == len(calls) == 120
    assert {k: result[k] for k in ("task", "seed", "budget", "algorithm", "prior")} == {
        "task": "qed", "seed": 3, "budget": 120, "algorithm": "dap", "prior": prior}
    assert result["settings"] == dataclasses.asdict(dap.DapConfig(batch_size=16))
    smiles = [s for s, _ in calls]
    qed = objectives.get("qed")
    assert len(set(smiles)) == 120 and all(qed.score(s) == v for s, v in calls)  # a checker re-scores every call
    assert result["auc_top10"] == top_auc([v for _, v in calls], 120)
    assert [t["score"] for t in result["top10"]] == sorted((v for _, v in calls), reverse=True)[:10]
    assert result["free_invalid"] > 0 and result["free_repeats"] > 0 and result["steps"] > 0
    assert set(result["seconds"]) == {"sampling", "scoring", "learning"} and result["wall_s"] > 0
    # the same command again replaces its own earlier run; the same seed gives the same calls
    assert _run(tmp_path, prior, out, "--quiet") == 0
    assert benchmark.read_calls(str(out / "oracle_calls.csv")) == calls


def test_benchmark_refusals(tmp_path, prior, capsys):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    assert _run(tmp_path, prior, user) == 2
    assert f"error: --out {user} is not empty" in capsys.readouterr().err
    assert sorted(os.listdir(user)) == ["notes.txt"]
    assert _run(tmp_path, prior, prior) == 2
    assert "would replace the input" in capsys.readouterr().err
    missing = str(tmp_path / "nothing")
    assert _run(tmp_path, missing, tmp_path / "x") == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --prior {missing}: no SMILES-RNN checkpoint there (a folder with config.json and weights.npz, "
        "or a `molecules train-prior` run)")
    assert run_main(cli.main, ["benchmark", "--task", "qed", "--out", str(tmp_path / "x"), "--prior",
                               os.path.join(REPO, "checkpoints", "smiles_rnn_paper")]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "smiles_rnn_paper: --algorithm dap needs an atom-level prior (with a <bos> token), not the 35-symbol char "
        "vocabulary")
    base = ["benchmark", "--out", str(tmp_path / "x"), "--prior", prior]
    cases = [(["--task", "drd2"], "error: unknown objective 'drd2'; choose one of: " + ", ".join(objectives.NAMES)),
             ([], "error: give --task NAME (one run) or --suite pmo (every task x seed)"),
             (["--task", "qed", "--suite", "pmo"], "error: give --task NAME (one run) or --suite pmo (every task x seed)"),
             (["--task", "qed", "--seeds", "1"], "error: --seeds and --tasks go with --suite; one run takes --task NAME "
                                                 "--seed S"),
             (["--suite", "pmo", "--seed", "1"], "error: --suite takes --seeds S [S ...]; --seed goes with --task"),
             (["--suite", "pmo", "--tasks", "qed", "jnk3"], "error: unknown objective 'jnk3'; choose one of: "
              + ", ".join(objectives.NAMES))]
    for extra, message in cases:
        assert run_main(cli.main, base + extra) == 2
        assert capsys.readouterr().err.strip() == message
    assert not (tmp_path / "x").exists()


def test_suite_runs_every_task_and_seed_and_resumes(tmp_path, prior, capsys):
    out = tmp_path / "suite"
    argv = ["benchmark", "--suite", "pmo", "--tasks", "qed", "median1", "--seeds", "0", "--budget", "20",
            "--out", str(out), "--prior", prior, "--batch-size", "16"]
    assert run_main(cli.main, argv) == 0
    printed = capsys.readouterr().out
    assert "[1/2] qed seed 0: running" in printed and "[2/2] median1 seed 0: running" in printed
    summary = json.loads((out / "summary.json").read_text())
    for task in ("qed", "median1"):
        result = json.loads((out / task / "seed_0" / "result.json").read_text())
        assert result["oracle_calls"] == 20 and result["task"] == task
        assert summary["tasks"][task] == {"seeds": [0], "auc_top10": [result["auc_top10"]]}
    stamp = os.stat(out / "qed" / "seed_0" / "result.json").st_mtime_ns
    assert run_main(cli.main, argv) == 0  # resumed: both runs finished, nothing runs again
    printed = capsys.readouterr().out
    assert "[1/2] qed seed 0: finished earlier, auc_top10" in printed and "running" not in printed
    assert os.stat(out / "qed" / "seed_0" / "result.json").st_mtime_ns == stamp
    changed = [a if a != "20" else "30" for a in argv]
    assert run_main(cli.main, changed) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {out}/qed/seed_0 holds a finished run with other settings (budget); choose another --out, "
        "or pass --overwrite to run it again")
    assert run_main(cli.main, changed[:5] + changed[6:] + ["--overwrite"]) == 0  # --tasks qed only
    assert json.loads((out / "qed" / "seed_0" / "result.json").read_text())["oracle_calls"] == 30
