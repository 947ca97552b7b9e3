"""Behaviour tests of the ``rl-tuner`` command (rl_tuner.cli.main)."""

import contextlib
import dataclasses
import glob
import io
import json
import os

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner import cli  # noqa: E402
from rl_tuner.runner import evaluate, policy as policy_lib  # noqa: E402
from note_rnn import music_theory, rl_commands  # noqa: E402
from rl_tuner.runner.config import RLConfig  # noqa: E402

TABLE1 = ("notes_excessively_repeated", "mean_autocorrelation_lag1", "mean_autocorrelation_lag2",
          "mean_autocorrelation_lag3", "notes_not_in_key", "melodies_starting_with_tonic", "leaps_resolved",
          "melodies_with_unique_max_note", "melodies_with_unique_min_note", "notes_in_motif",
          "notes_in_repeated_motif")
COMPONENTS = ("key", "tonic", "repeating", "autocorrelation", "motif", "repeated_motif", "preferred_intervals",
              "leap", "high_low_unique")
SCALE = [14, 16, 18, 19, 21, 23, 25, 26]  # C4 D4 E4 F4 G4 A4 B4 C5


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("ckpt") / "note_rnn")
    checkpoint.save_model(path, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=0))
    return path


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def melodies():
    rng = np.random.default_rng(0)
    return [SCALE * 4,  # starts with the tonic
            [0] * 32,
            rng.integers(0, 38, size=32).tolist()]


# --------------------------------------------------------------------------- score
def test_score_output_structure_and_totals(tmp_path, capsys):
    mels = melodies()
    src = write_json(tmp_path / "m.json", mels)
    out = tmp_path / "score.json"
    assert cli.main(["score", "--melodies", src, "--out", str(out)]) == 0
    assert "scored 3 melodies" in capsys.readouterr().out
    result = read_json(out)
    assert list(result) == ["written_by", "melodies"] and len(result["melodies"]) == 3
    assert result["written_by"] == "rl-tuner score"  # how a later run recognises its own output
    arr = np.array(mels)
    for i, entry in enumerate(result["melodies"]):
        assert set(entry) == {"tokens", "total", "components"} and entry["tokens"] == mels[i]
        assert len(entry["total"]) == 32 and all(isinstance(x, float) for x in entry["total"])
        assert list(entry["components"]) == list(COMPONENTS)
        assert all(len(v) == 32 for v in entry["components"].values())
        np.testing.assert_allclose(entry["total"], np.sum([entry["components"][k] for k in COMPONENTS], axis=0),
                                   atol=1e-9)
        # Each note's total is the r_MT of that note given the notes before it.
        for t in range(32):
            expected = music_theory.music_theory_reward(arr[i:i + 1, :t], arr[i:i + 1, t], 32)[0]
            assert entry["total"][t] == pytest.approx(expected, abs=1e-9)
    scale = result["melodies"][0]["components"]
    assert scale["tonic"][0] == 3.0  # tonic C4 at beat 0: +3
    assert scale["motif"][7] == pytest.approx(4.5)  # 3 + (8 - 3) * 0.3 at the 8th note
    assert result["melodies"][1]["components"]["repeating"][2] == -100.0  # the third 0 (spec 3.1)


# --------------------------------------------------------------------------- stats
def test_stats_keys_and_values(tmp_path, capsys):
    src = write_json(tmp_path / "m.json", melodies())
    out = tmp_path / "stats.json"
    assert cli.main(["stats", "--melodies", src, "--out", str(out)]) == 0
    result = read_json(out)
    assert set(TABLE1) <= set(result)
    assert tuple(rl_commands.TABLE1_KEYS) == TABLE1
    assert result["melodies_starting_with_tonic"] == pytest.approx(1 / 3)  # only the scale melody
    assert result["num_melodies"] == 3
    # The scale melody repeats an 8-note window four times; the constant melody has no pitch.
    assert result["notes_not_in_key"] == pytest.approx(
        float(np.mean(~np.isin(np.array(melodies()), music_theory.C_MAJOR_KEY))))


def test_table_is_printed_to_the_current_stdout(tmp_path):
    # print_table must write to sys.stdout as it is when called (redirect_stdout, capsys, ...).
    src = write_json(tmp_path / "m.json", melodies())
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["stats", "--melodies", src, "--out", str(tmp_path / "s.json")]) == 0
    printed = buf.getvalue()
    for key in TABLE1:
        assert key in printed, printed


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("command", ["score", "stats"])
@pytest.mark.parametrize("content,words", [
    (None, ["no melody file"]),
    ("[[1, 2,", ["not valid JSON"]),
    (json.dumps([[14] * 31 + [40]]), ["40", "0..37"]),
    (json.dumps([[14] * 32, []]), ["melody 1 is empty"]),
    (json.dumps([[14] * 31 + [True]]), ["True", "not an integer"]),
    (json.dumps([[60, -2, 40]]), ["pitch 40 at position 2", "48..83", "Magenta"]),
    (json.dumps([[60, -3]]), ["event -3 at position 1"]),
    ("\u00e9t\u00e9", ["not valid JSON"]),
    (json.dumps([[14] * 31 + [1.5]]), ["integer"]),
    (json.dumps([[14] * 31 + ["a"]]), ["integer"]),
    (json.dumps([[14] * 31 + [2.0]]), ["integer"]),
    (json.dumps([]), ["non-empty"]),
    (json.dumps({"a": 1}), ["list"]),
])
def test_bad_melody_files_exit_2_with_a_message(tmp_path, capsys, command, content, words):
    path = tmp_path / "m.json"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "out.json"
    assert run_main(cli.main, [command, "--melodies", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    for word in words:
        assert word in err, err
    assert not out.exists()


def test_evaluate_missing_model_exits_2(tmp_path, capsys):
    assert run_main(cli.main, ["evaluate", "--model", str(tmp_path / "nothing"), "--num-melodies", "5",
                               "--out", str(tmp_path / "s.json")]) == 2
    assert "error:" in capsys.readouterr().err


# --------------------------------------------------------------------------- generate
def test_generate_writes_files_and_is_seeded(tiny_ckpt, tmp_path, capsys):
    outs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for out, seed in zip(outs, ("5", "5", "6")):
        assert cli.main(["generate", "--model", tiny_ckpt, "--num", "3", "--length", "16", "--seed", seed,
                         "--out", str(out)]) == 0
    capsys.readouterr()
    assert len(glob.glob(str(outs[0] / "*.mid"))) == 3
    assert len(glob.glob(str(outs[0] / "*.wav"))) == 3
    a, b, c = (read_json(o / "melodies.json") for o in outs)
    assert (outs[0] / "melodies.json").read_bytes() == (outs[1] / "melodies.json").read_bytes()
    assert np.array(a).shape == (3, 16) and np.min(a) >= 0 and np.max(a) <= 37
    assert a != c
    # The same tokens as sampling the Note-RNN policy in-process.
    expected = evaluate.sample_policy(policy_lib.load_policy(tiny_ckpt), 3, 16, 1.0, 5)["tokens"]
    np.testing.assert_array_equal(np.array(a), expected)


def test_generate_no_audio(tiny_ckpt, tmp_path, capsys):
    assert cli.main(["generate", "--model", tiny_ckpt, "--num", "2", "--no-audio", "--out", str(tmp_path)]) == 0
    assert len(glob.glob(str(tmp_path / "*.mid"))) == 2 and not glob.glob(str(tmp_path / "*.wav"))


# --------------------------------------------------------------------------- evaluate
def test_evaluate_writes_table1_and_extra_keys(tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "stats.json"
    assert cli.main(["evaluate", "--model", tiny_ckpt, "--num-melodies", "100", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = read_json(out)
    assert set(TABLE1) | {"mean_log_prior", "mean_music_theory_reward", "mean_kl", "mean_entropy"} <= set(result)
    assert result["num_melodies"] == 100
    assert result["algorithm"] == "mle"
    assert result["mean_kl"] == pytest.approx(0.0, abs=1e-6)  # a plain Note-RNN is its own prior
    assert 0.0 < result["mean_entropy"] <= np.log(38) + 1e-6
    assert result["mean_log_prior"] < 0.0
    assert "wrote" in printed and "100 melodies" in printed


# --------------------------------------------------------------------------- train / export / help
def test_train_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--algorithm", "--note-rnn", "--preset", "--steps", "--c", "--seed", "--out", "--quiet"):
        assert flag in text, flag
    for field in dataclasses.fields(RLConfig):
        assert "--" + field.name.replace("_", "-") in text, field.name
    assert "paper" in text


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for command in ("train", "evaluate", "score", "stats", "generate", "export"):
        assert command in text


def test_train_command_tiny_run(tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--note-rnn", tiny_ckpt, "--algorithm", "g", "--steps", "256", "--num-envs", "8",
            "--eval-every", "256", "--eval-samples", "10", "--final-eval-samples", "10", "--num-samples", "0",
            "--batch-size", "8", "--replay-capacity", "500", "--c", "0.25", "--seed", "3", "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Table-1 statistics of 10 sampled melodies (g, 256 steps)" in printed
    # g uses music_theory_only (as the original): printed at the start and recorded in config.json.
    assert "Starting g (music_theory_only reward) at step 0 of 256, 8 melodies in parallel" in printed.splitlines()
    assert read_json(out / "config.json")["reward_mode"] == "music_theory_only"
    cfg = read_json(out / "config.json")
    assert (cfg["algorithm"], cfg["steps"], cfg["c"], cfg["seed"], cfg["batch_size"]) == ("g", 256, 0.25, 3, 8)
    assert cfg["discount"] == 0.5 and cfg["train_every"] == 5  # from the default preset
    stats = read_json(out / "stats.json")
    assert stats["steps"] == 256 and stats["train_steps"] == 51
    # The run directory is a model for evaluate/generate/export.
    assert policy_lib.load_policy(str(out)).algorithm == "g"
    assert cli.main(["export", "--model", str(out), "--out", str(tmp_path / "exported")]) == 0
    assert os.path.isfile(tmp_path / "exported" / "saved_model.pb")
    assert read_json(tmp_path / "exported" / "policy.json")["algorithm"] == "g"


def test_train_bad_flag_value_exits_2(tiny_ckpt, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:  # refused while parsing, before anything starts
        run_main(cli.main, ["train", "--note-rnn", tiny_ckpt, "--c", "0", "--out", str(tmp_path / "r")])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "rl-tuner train: error: argument --c: must be > 0, got 0"
    assert not os.path.exists(tmp_path / "r")
