"""The paper study (experiments/): its statistics by hand and against SciPy, the opening
measures by hand, and the whole script end to end at a tiny size."""

import json
import os

import numpy as np
import pytest
from scipy import stats as scipy_stats

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)

from experiments import openings, paper_study, study_tables  # noqa: E402


# --------------------------------------------------------------------------- statistics
def test_welch_p_is_scipys_and_undefined_cases_are_none():
    a, b = [0.9, 0.92, 0.88], [0.04, 0.041, 0.039]
    assert study_tables.welch_p(a, b) == pytest.approx(scipy_stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert study_tables.welch_p([1.0, 1.0], [2.0, 2.0]) is None  # both constant
    assert study_tables.welch_p([1.0], [2.0, 2.1]) is None  # one value


def test_build_table_marks_what_holds_across_seeds():
    mle = [{"x": 0.040, "y": 0.50}, {"x": 0.041, "y": 0.51}, {"x": 0.039, "y": 0.49}]
    tuned = [{"x": 0.90, "y": 0.40}, {"x": 0.91, "y": 0.62}, {"x": 0.89, "y": 0.50}]
    table = study_tables.build_table({"psi": tuned}, mle, rows=("x", "y"))
    x, y = table["cells"]["x"], table["cells"]["y"]
    assert x["mle"]["mean"] == pytest.approx(0.040) and x["psi"]["mean"] == pytest.approx(0.90)
    assert x["psi"]["std"] == pytest.approx(0.01)
    p_x = scipy_stats.ttest_ind([0.9, 0.91, 0.89], [0.04, 0.041, 0.039], equal_var=False).pvalue
    p_y = scipy_stats.ttest_ind([0.4, 0.62, 0.5], [0.5, 0.51, 0.49], equal_var=False).pvalue
    assert x["psi"]["p"] == pytest.approx(p_x) and y["psi"]["p"] == pytest.approx(p_y)
    assert x["psi"]["p_holm"] == pytest.approx(2 * p_x)  # the smaller of two p-values
    assert x["psi"]["significant"] and not y["psi"]["significant"]  # y's seeds straddle the MLE
    assert "significant" not in x["mle"]


def test_markdown_table_formats_bolds_and_escapes_pipes():
    mle = [{"notes_not_in_key": 0.0157, "mean_log_prior": -1.30}, {"notes_not_in_key": 0.0159, "mean_log_prior": -1.31}]
    tuned = [{"notes_not_in_key": 0.0018, "mean_log_prior": -2.10}, {"notes_not_in_key": 0.0020, "mean_log_prior": -2.12}]
    table = study_tables.build_table({"psi": tuned}, mle, rows=("notes_not_in_key", "mean_log_prior"))
    text = study_tables.markdown_table(table, {"psi": "Psi"}, {"notes_not_in_key": {"psi": 0.006}})
    lines = text.splitlines()
    assert lines[0] == "| statistic | mle | Psi | paper Psi |"
    assert "| notes not in key | 1.58% ± 0.014% |" in lines[2]
    assert lines[2].endswith("| 0.60% |")
    assert "mean log p(a\\|s) per note" in lines[3]  # a bare | would split the Markdown cell
    assert all(line.count(" | ") == lines[0].count(" | ") for line in lines[2:])


# --------------------------------------------------------------------------- openings
def test_opening_statistics_by_hand():
    melodies = np.array([
        [14, 14, 14, 14, 0, 0],  # C4 re-attacked four times
        [14, 14, 14, 14, 5, 0],  # the same opening
        [26, 0, 0, 0, 1, 0],     # C5 held
        [9, 9, 9, 9, 9, 9],      # G3 re-attacked
    ])
    s = openings.opening_statistics(melodies)
    assert s["first_note_c4"] == 0.5
    assert s["first_note_any_c"] == 0.75
    assert s["opening_repeated_c4"] == 0.5
    assert s["opening_repeated_note"] == 0.75
    assert (s["top_opening"], s["top_opening_share"]) == ("C4 C4 C4 C4", 0.5)
    assert (s["distinct_openings"], s["num_melodies"]) == (3, 4)
    # Holds and note-offs repeated are not a re-attacked note.
    assert openings.opening_statistics(np.zeros((2, 4), int))["opening_repeated_note"] == 0.0


def test_opening_statistics_refuses_short_input():
    with pytest.raises(ValueError, match=r"T >= 4, got shape \(2, 3\)"):
        openings.opening_statistics(np.zeros((2, 3), int))


# --------------------------------------------------------------------------- the script
def test_runs_and_commands():
    cfg = paper_study.StudyConfig(runs_dir="r", algorithms=("q", "g"), seeds=(0, 1), c_sweep=(10.0,), steps=512)
    runs = paper_study.runs_of(cfg)
    assert [r.name for r in runs] == ["q_s0", "g_s0", "psi_c10_s0", "q_s1", "g_s1", "psi_c10_s1",
                                      "psi_bootstrap_s0", "psi_boltzmann_s0"]
    assert paper_study.train_argv(runs[-1], cfg)[-4:] == ["--exploration", "boltzmann", "--steps", "512"]
    assert paper_study.train_argv(runs[2], cfg) == [
        "train", "--preset", "paper", "--algorithm", "psi", "--c", "10", "--seed", "0", "--out",
        os.path.join("r", "psi_c10_s0"), "--quiet", "--steps", "512"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    from rl_tuner.plumbing import checkpoint
    from rl_tuner.models import sequence_model
    root = tmp_path_factory.mktemp("study")
    prior = str(root / "tiny_prior")
    checkpoint.save_model(prior, sequence_model.build(sequence_model.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)),
                                                      seed=0))
    argv = ["--runs", str(root / "runs"), "--results", str(root / "results"), "--checkpoints", str(root / "tuned"),
            "--algorithms", "psi", "--seeds", "0", "1", "--c-sweep", "2", "--ablation-seeds", "--steps", "256",
            "--final-eval-samples", "40", "--opening-samples", "16", "--audio-samples", "1"]
    for flag in ("--num-envs=8", "--eval-every=256", "--eval-samples=16", f"--prior={prior}",
                 "--replay-capacity=1000", "--batch-size=8", "--num-samples=0"):
        argv.append(f"--train-arg={flag}")
    assert paper_study.main(argv) == 0
    return root, argv


def read(path):
    with open(path) as f:
        return json.load(f)


def test_the_study_rebuilds_results_from_its_runs(tiny_study):
    root, _ = tiny_study
    results = root / "results"
    table = read(results / "table1.json")
    # Every number in the table is the runs' own: MLE = the prior evaluated with each seed.
    for model in ("psi",):
        values = [read(root / "runs" / f"{model}_s{s}" / "stats.json")["after"]["notes_not_in_key"] for s in (0, 1)]
        assert table["cells"]["notes_not_in_key"][model]["values"] == pytest.approx(values)
    befores = [read(root / "runs" / f"psi_s{s}" / "stats.json")["before"]["leaps_resolved"] for s in (0, 1)]
    assert table["cells"]["leaps_resolved"]["mle"]["values"] == pytest.approx(befores)
    assert table["paper"]["melodies_starting_with_tonic"]["psi"] == 0.287
    sweep = read(results / "tradeoff.json")
    assert sweep["models"] == ["mle", "psi", "psi_c2"] and sweep["c"] == {"psi": 0.5, "psi_c2": 2.0}
    for png in ("figure2.png", "tradeoff.png", "figure4_mle.png", "figure4_psi.png", "figure4_psi_c2.png"):
        with open(results / png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", png
    for model in ("mle", "psi", "psi_c2"):
        assert os.path.isfile(results / "samples" / model / "melody_000.wav")
    opening = read(results / "openings.json")
    assert set(opening) == {"mle", "psi", "psi_c2"} and opening["psi_c2"]["seeds"][1]["num_melodies"] == 16
    runs = read(results / "runs.json")
    assert {r["run"] for r in runs} == {"psi_s0", "psi_s1", "psi_c2_s0", "psi_c2_s1"}
    assert all(r["wall_seconds"] > 0 and r["command"].startswith("rl-tuner train --preset paper") for r in runs)
    readme = (results / "README.md").read_text()
    assert "| notes not in key |" in readme and "![figure4_psi.png](figure4_psi.png)" in readme
    assert "{" not in readme.split("## Table 1")[1].split("c in {0.5")[0]  # every placeholder filled


def test_the_study_ships_loadable_seed0_policies_with_cards(tiny_study):
    from rl_tuner import cli
    root, _ = tiny_study
    card = read(root / "tuned" / "melody_psi_c2" / "card.json")
    assert (card["algorithm"], card["c"], card["seed"], card["prior"]) == ("psi", 2.0, 0, "tiny_prior")
    # No machine path in a shipped card: the run's q_network card names the prior as the study does.
    assert read(root / "tuned" / "melody_psi_c2" / "q_network" / "card.json")["prior"] == "tiny_prior"
    assert card["final_statistics"]["notes_not_in_key"] == read(root / "runs" / "psi_c2_s0" / "stats.json")["after"]["notes_not_in_key"]
    out = root / "eval.json"
    assert cli.main(["evaluate", "--model", str(root / "tuned" / "melody_psi"), "--num-samples", "8",
                     "--out", str(out)]) in (0, None)
    assert read(out)["num_melodies"] == 8


def test_the_study_logs_every_run_to_hparams_and_reruns_without_training(tiny_study, capsys):
    import glob
    import tensorflow as tf
    root, argv = tiny_study
    before = {p: os.path.getmtime(p) for p in glob.glob(str(root / "runs" / "*" / "ckpt" / "checkpoint"))}
    (root / "results" / "notes.txt").write_text("mine")  # a file the study did not write
    assert paper_study.main(argv) == 0
    after = {p: os.path.getmtime(p) for p in before}
    assert after == before  # complete runs are not trained again
    assert (root / "results" / "notes.txt").read_text() == "mine"
    tags = set()
    for path in glob.glob(str(root / "runs" / "psi_c2_s1" / "events.out.tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    assert {"_hparams_/session_start_info", "final/notes_not_in_key"} <= tags
