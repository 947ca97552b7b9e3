"""The molecule frontier study (experiments/molecule_frontier.py): the target check and tables
by hand, and the whole script end to end at a tiny size (one algorithm, two c values, one
seed, 320 steps of an untrained 8-unit SMILES-RNN, 20 molecules per evaluation)."""

import json
import os
import shlex
import sys

import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)

from experiments import frontier_tables, molecule_frontier, study_runs  # noqa: E402
from rl_tuner.plumbing import outputs  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from molecule_fixtures import prepare_tiny  # noqa: E402

TINY_TRAIN = ("--num-envs=8", "--num-notes=20", "--batch-size=16", "--train-every=5", "--replay-capacity=600",
              "--eval-every=160", "--eval-samples=20", "--final-eval-samples=20", "--num-samples=0")
PRIOR = {"valid": 0.927, "unique": 0.996, "mean_reward": 950.0, "kl": 0.0}


def point(algorithm, c, seed, kl, reward, valid=0.95, unique=0.99):
    return {"algorithm": algorithm, "c": c, "seed": seed, "kl": kl, "mean_reward": reward, "valid": valid,
            "unique": unique}


# --------------------------------------------------------------------------- the targets, by hand
def test_targets_all_pass_on_a_good_frontier():
    points = [point("g", 100, 0, 0.01, 955), point("g", 100, 1, 0.02, 957),
              point("g", 10, 0, 0.3, 990, valid=0.975, unique=0.96), point("g", 10, 1, 0.4, 1000, 0.98, 0.97),
              point("g", 1, 0, 2.5, 1200, valid=0.5, unique=0.5)]  # KL > 1: validity may go
    checks = frontier_tables.check_targets(PRIOR, points)
    assert [c["target"] for c in checks] == list(frontier_tables.TARGETS)
    assert [c["passed"] for c in checks] == [True, True, True, True]
    assert checks[3]["detail"] == "reached by g (c = 10)"


def test_targets_fail_one_by_one():
    # 1: reward falls as KL rises (seed means: c 10 at KL 0.9 earns 940 < c 100's 955).
    collapse = [point("q", 100, 0, 0.01, 955), point("q", 10, 0, 0.8, 930), point("q", 10, 1, 1.0, 950)]
    checks = frontier_tables.check_targets(PRIOR, collapse)
    assert not checks[0]["passed"]
    assert checks[0]["detail"] == "q: c 100 -> 10 (KL 0.010 -> 0.900) reward 955.0 -> 940.0"
    # 2: one seed below the prior's reward fails, though the mean is above it.
    assert not checks[1]["passed"] and checks[1]["detail"] == "below the prior's 950.0: q c=10 seed 0 (930.0)"
    # 3: a point at KL <= 1 that loses validity, or uniqueness; KL 1.0 still counts.
    lost = [point("psi", 30, 0, 1.0, 960, valid=0.92), point("psi", 3, 0, 0.5, 970, unique=0.89),
            point("psi", 1, 0, 1.01, 980, valid=0.1, unique=0.1)]
    checks = frontier_tables.check_targets(PRIOR, lost)
    assert not checks[2]["passed"]
    assert checks[2]["detail"] == ("fails: psi c=30 seed 0 (KL 1.000, valid 0.920, unique 0.990), "
                                   "psi c=3 seed 0 (KL 0.500, valid 0.950, unique 0.890)")
    # 4: 97% valid only beyond 0.5 nats, or at KL <= 0.5 for one algorithm only.
    late = [point("g", 10, 0, 0.6, 990, valid=0.98, unique=0.99), point("q", 10, 0, 0.5, 990, 0.97, 0.95)]
    checks = frontier_tables.check_targets(PRIOR, late)
    assert not checks[3]["passed"] and checks[3]["detail"] == "reached by q (c = 10); not reached by g"


def test_targets_missing_values_fail_and_no_points_is_no_pass():
    checks = frontier_tables.check_targets(PRIOR, [point("g", 1, 0, 0.2, None, valid=None)])
    assert [c["passed"] for c in checks] == [True, False, False, False]
    assert frontier_tables.check_targets(PRIOR, [])[3] == {
        "target": frontier_tables.TARGETS[3], "reading": frontier_tables.READINGS[3], "passed": False,
        "detail": "no points"}


def test_markdown_tables_mean_and_sd_over_seeds():
    points = [point("g", 1, 0, 0.2, 1000.0), point("g", 1, 1, 0.4, 1010.0), point("g", 100, 0, 0.01, 955.0)]
    text = frontier_tables.markdown_tables({**PRIOR, "novel": None}, points).splitlines()
    assert text[0] == "### g"
    assert text[2].startswith("| c | seeds | KL/token | mean reward | valid | unique | novel |")
    assert text[4].startswith("| prior | - | 0.000 | 950.0 | 92.7% | 99.6% | - |")
    assert text[5].startswith("| 100 | 1 | 0.010 | 955.0 | 95.0% |")  # c from large to small
    assert text[6].startswith("| 1 | 2 | 0.300 ± 0.141 | 1005.0 ± 7.1 | 95.0% ± 0.0% |")


def test_runs_markdown_keeps_the_paper_study_form():
    rows = [{"run": "psi_s0", "steps": 1000, "wall_seconds": 90.0, "command": "rl-tuner train x"}]
    assert study_runs.runs_markdown(rows).splitlines() == [
        "| run | steps | wall time here | command |", "|---|---|---|---|",
        "| psi_s0 | 1,000 | 1.5 min | `rl-tuner train x` |"]
    rows = [{"run": "prior", "steps": None, "wall_seconds": None, "eval_seconds": 30.0, "command": None,
             "eval_command": "molecules evaluate y"}]
    assert study_runs.runs_markdown(rows).splitlines()[-1] == "| prior | - | - | 0.5 min | - | `molecules evaluate y` |"


# --------------------------------------------------------------------------- arguments
def test_commands_and_algorithm_args():
    cfg = molecule_frontier.FrontierConfig(runs_dir="r", algorithms=("q", "psi"), c_values=(10.0,), seeds=(1,),
                                           steps=512, train_args=("--num-envs=8",),
                                           algorithm_args=(("psi", "--head-init=centered"),))
    points = molecule_frontier.points_of(cfg)
    assert [p.name for p in points] == ["q_c10_s1", "psi_c10_s1"]
    assert molecule_frontier.train_argv(points[1], cfg) == [
        "train", "--task", "smiles", "--preset", "default", "--algorithm", "psi", "--c", "10", "--seed", "1",
        "--out", os.path.join("r", "psi_c10_s1"), "--quiet", "--steps", "512", "--num-envs=8",
        "--head-init=centered"]
    assert "--head-init=centered" not in molecule_frontier.train_argv(points[0], cfg)
    assert molecule_frontier.study_command(cfg) == (
        "python experiments/molecule_frontier.py --runs-dir r --steps 512 --algorithms q psi --c 10 --seeds 1 "
        "--train-arg=--num-envs=8 --algorithm-arg=psi=--head-init=centered")


def test_bad_algorithm_args_are_one_line_errors():
    with pytest.raises(ValueError, match=r"^--algorithm-arg 'psi': give ALGORITHM=FLAG, e.g\. psi=--head-init="):
        molecule_frontier.parse_algorithm_args(["psi"], ["q", "psi"])
    with pytest.raises(ValueError, match=r"^--algorithm-arg 'g=--c=1': 'g' is not one of --algorithms \(q psi\)$"):
        molecule_frontier.parse_algorithm_args(["g=--c=1"], ["q", "psi"])
    assert molecule_frontier.parse_algorithm_args(["psi=--head-init=centered"], ["psi"]) == (
        ("psi", "--head-init=centered"),)


def test_an_evaluation_counts_only_with_the_same_settings(tmp_path):
    path = str(tmp_path / "e.json")
    settings = {"num_samples": 20, "seed": 0, "max_length": 20, "novel": False, "reward_mode": "default"}
    outputs.write_json(path, {"model": "runs/x", "num_samples": 20, "seed": 0, "max_length": 20,
                              "reward_mode": "default"}, "molecules evaluate")
    assert molecule_frontier.evaluation_is_current(path, "runs/x", settings, None)
    assert not molecule_frontier.evaluation_is_current(path, "runs/y", settings, None)  # another model
    assert not molecule_frontier.evaluation_is_current(path, "runs/x", {**settings, "novel": True}, None)
    assert not molecule_frontier.evaluation_is_current(path, "runs/x", {**settings, "num_samples": 5000}, None)
    assert not molecule_frontier.evaluation_is_current(path, "runs/x", settings, os.path.getmtime(path) + 1)


# --------------------------------------------------------------------------- the script
@pytest.fixture(scope="module")
def tiny_frontier(tmp_path_factory):
    from molecules import data
    from rl_tuner.plumbing import checkpoint
    from rl_tuner.models import sequence_model
    root = tmp_path_factory.mktemp("frontier")
    dataset = prepare_tiny(root)
    symbols = data.load_tokenizer(dataset).symbols
    prior = str(root / "prior")
    checkpoint.save_model(prior, sequence_model.build(sequence_model.SequenceRNNConfig(
        num_classes=len(symbols), layer_sizes=(8,), vocabulary=list(symbols)), seed=0))
    argv = ["--algorithms", "g", "--c", "100", "1", "--seeds", "0", "--steps", "320", "--runs-dir",
            str(root / "runs"), "--results-dir", str(root / "results"), "--eval-samples", "20", "--data", dataset,
            "--jobs", "2"] + [f"--train-arg={flag}" for flag in TINY_TRAIN + (f"--prior={prior}",)]
    lines = []
    frontier = molecule_frontier.run_frontier(molecule_frontier.config_from_args(
        molecule_frontier.build_parser().parse_args(argv)), log=lines.append)
    return root, argv, frontier, lines


def read(path):
    with open(path) as f:
        return json.load(f)


def test_frontier_json_has_the_checkers_keys(tiny_frontier):
    root, _, _, _ = tiny_frontier
    frontier = read(root / "results" / "frontier.json")
    assert frontier["reward"] == "default"
    stats = ("valid", "unique", "mean_reward", "mean_logp", "mean_qed", "mean_sa_penalty", "novel",
             "internal_diversity", "mean_length", "kl")
    assert set(stats) <= set(frontier["prior"])
    assert [(p["algorithm"], p["c"], p["seed"], p["steps"]) for p in frontier["points"]] == [
        ("g", 100.0, 0, 320), ("g", 1.0, 0, 320)]
    for p in frontier["points"]:
        assert set(stats) <= set(p)
        assert p["command"].startswith(f"rl-tuner train --task smiles --preset default --algorithm g --c {p['c']:g} "
                                       f"--seed 0 --out {root / 'runs' / p['run']} --quiet --steps 320 --num-envs=8")
        assert p["eval_command"].startswith(f"molecules evaluate --model {root / 'runs' / p['run']} --num 20 "
                                            "--seed 0 --max-length 20 --data ")
        for key in ("kl", "valid", "unique", "mean_reward", "novel", "internal_diversity", "mean_length"):
            assert isinstance(p[key], float), key
        # The point's numbers are its evaluation's.
        evaluation = read(root / "runs" / "evaluations" / f"{p['run']}.json")
        assert p["kl"] == evaluation["mean_kl"] and p["mean_reward"] == evaluation["mean_reward"]
        assert evaluation["num_samples"] == 20 and evaluation["max_length"] == 20
    assert [t["target"] for t in frontier["targets"]] == list(frontier_tables.TARGETS)
    runs = read(root / "results" / "runs.json")
    assert [r["run"] for r in runs] == ["prior", "g_c100_s0", "g_c1_s0"]
    assert all(r["wall_seconds"] > 0 for r in runs[1:]) and runs[0]["eval_seconds"] > 0
    readme = (root / "results" / "README.md").read_text()
    assert "### g" in readme and "| prior | - |" in readme and "{" not in readme.replace("{0.5", "")
    assert ("PASS" in readme or "FAIL" in readme) and frontier["points"][0]["command"] in readme
    with open(root / "results" / "frontier.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(root / "results" / "tensorboard")) == ["g_c100_s0", "g_c1_s0", "prior"]


def test_hparams_sessions_hold_the_points(tiny_frontier):
    import glob
    import tensorflow as tf
    from tensorboard.plugins.hparams import plugin_data_pb2
    root, _, frontier, _ = tiny_frontier
    finals, hparams = {}, None
    for path in glob.glob(str(root / "results" / "tensorboard" / "g_c1_s0" / "events.out.tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                if v.tag.startswith("final/"):
                    finals[v.tag] = (event.step, float(tf.make_ndarray(v.tensor)))
                if v.metadata.plugin_data.plugin_name == "hparams":
                    content = plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content)
                    hparams = content.session_start_info.hparams
    assert hparams["algorithm"].string_value == "g" and hparams["c"].number_value == 1.0
    assert hparams["seed"].number_value == 0
    assert finals["final/kl"] == (320, pytest.approx(frontier["points"][1]["kl"]))
    assert finals["final/valid"] == (320, pytest.approx(frontier["points"][1]["valid"]))


def test_a_rerun_retrains_nothing_and_command_reruns_the_point(tiny_frontier):
    from rl_tuner import cli
    root, argv, frontier, _ = tiny_frontier
    runs = root / "runs"
    stamps = {p["run"]: os.path.getmtime(runs / p["run"] / "stats.json") for p in frontier["points"]}
    evals = {name: os.path.getmtime(runs / "evaluations" / f"{name}.json") for name in [*stamps, "prior"]}
    times = read(runs / "wall_times.json")
    lines = []
    again = molecule_frontier.run_frontier(molecule_frontier.config_from_args(
        molecule_frontier.build_parser().parse_args(argv)), log=lines.append)
    assert [line for line in lines if "training" in line or "evaluating" in line] == []
    assert sum("complete (320 steps), not retrained" in line for line in lines) == 2
    assert read(runs / "wall_times.json") == times
    assert {name: os.path.getmtime(runs / name / "stats.json") for name in stamps} == stamps
    assert {name: os.path.getmtime(runs / "evaluations" / f"{name}.json") for name in evals} == evals
    assert again["points"] == frontier["points"]
    # A point's command reruns it: rl-tuner finds the run complete and trains nothing.
    command = shlex.split(frontier["points"][0]["command"])
    assert command[0] == "rl-tuner" and cli.main(command[1:]) == 0
    assert os.path.getmtime(runs / "g_c100_s0" / "stats.json") == stamps["g_c100_s0"]


def test_it_refuses_a_results_folder_it_did_not_write(tiny_frontier, tmp_path):
    root, argv, _, _ = tiny_frontier
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    args = molecule_frontier.build_parser().parse_args(argv + ["--results-dir", str(mine)])
    with pytest.raises(outputs.OutputError) as error:
        molecule_frontier.run_frontier(molecule_frontier.config_from_args(args), log=lambda line: None)
    assert str(error.value) == (f"--results-dir {mine} is not empty (1 entry: notes.txt); choose another --results-dir, or "
                                "pass --overwrite to replace what experiments/molecule_frontier.py writes there "
                                "(other files are kept)")
    assert os.listdir(mine) == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep"
    # A training run is never a results folder, not even with --overwrite.
    args = molecule_frontier.build_parser().parse_args(
        argv + ["--results-dir", str(root / "runs" / "g_c1_s0"), "--overwrite"])
    with pytest.raises(outputs.OutputError, match=r"^--results-dir .*g_c1_s0 is a training run directory"):
        molecule_frontier.run_frontier(molecule_frontier.config_from_args(args), log=lambda line: None)
