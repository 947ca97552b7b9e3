"""``note-rnn evaluate``: the trainer's validation metrics for any Note-RNN; and the training
defaults, which must reproduce the shipped model's recipe."""

import dataclasses
import json
import math
import os

import numpy as np
import pytest

import note_rnn  # (also sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from rl_tuner.plumbing import checkpoint  # noqa: E402
from note_rnn import cli, train
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner.models.sequence_model import SequenceRNNConfig  # noqa: E402

LOG37 = math.log(37.0)


def _write_dataset(data_dir, validation, train_melodies=None):
    os.makedirs(data_dir, exist_ok=True)
    for split, mels in (("train", train_melodies or validation), ("validation", validation)):
        np.savez_compressed(os.path.join(data_dir, f"{split}.npz"),
                            tokens=np.concatenate([np.asarray(m, np.int8) for m in mels]),
                            lengths=np.array([len(m) for m in mels], np.int32))
    return str(data_dir)


def _constant_model_ckpt(path):
    """A Note-RNN whose logits are the dense bias b whatever the input: b[0] = ln 37, others 0,
    so p(0) = 37 / 74 = 1/2 and every other token 1/74; the argmax is always token 0."""
    config = SequenceRNNConfig(num_classes=38, layer_sizes=(4,))
    weights = {k: np.zeros(s, np.float32) for k, s in config.weight_shapes().items()}
    weights["dense/bias"][0] = LOG37
    return checkpoint.save(str(path), config.layer_sizes, weights, config.num_classes)


def test_hand_checked_metrics_of_a_constant_model(tmp_path, capsys):
    ckpt = _constant_model_ckpt(tmp_path / "const")
    # max_length 4, no skipped loss, min_window 2: [14, 0, 16, 0, 18] -> window [14, 0, 16, 0]
    # (the tail [18] is dropped): targets 0, 16, 0. [20, 0, 0] -> targets 0, 0.
    data = _write_dataset(tmp_path / "data", [[14, 0, 16, 0, 18], [20, 0, 0]])
    out = tmp_path / "metrics.json"
    argv = ["evaluate", "--checkpoint", ckpt, "--data", data, "--max-length", "4", "--skip-first-n-losses", "0",
            "--min-window", "2", "--out", str(out)]
    assert run_main(cli.main, argv) == 0
    accuracy = 4 / 5  # four targets are token 0 (the argmax), one is 16
    log_ppl = (4 * math.log(2) + math.log(74)) / 5
    result = json.loads(out.read_text())
    assert result["accuracy"] == pytest.approx(accuracy, abs=1e-7)
    assert result["log_perplexity"] == pytest.approx(log_ppl, rel=1e-6)
    assert (result["tokens"], result["windows"], result["melodies"]) == (5, 2, 2)
    assert (result["max_length"], result["skip_first_n_losses"], result["min_window"]) == (4, 0, 2)
    assert result["split"] == "validation" and result["checkpoint"] == ckpt
    printed = capsys.readouterr().out
    assert f"validation accuracy {accuracy:.4f}, log perplexity {log_ppl:.4f} nats/token" in printed
    # Skipping the first prediction of each window scores targets 16, 0 and 0.
    assert run_main(cli.main, argv[:-6] + ["--skip-first-n-losses", "1", "--min-window", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["accuracy"] == pytest.approx(2 / 3, abs=1e-7)
    assert result["log_perplexity"] == pytest.approx((2 * math.log(2) + math.log(74)) / 3, rel=1e-6)


def test_evaluate_equals_the_trainers_own_validation_figure(tmp_path, capsys):
    rng = np.random.default_rng(0)
    melodies = [rng.choice([0, 0, 14, 16, 18, 19, 21], size=int(n)) for n in rng.integers(20, 60, size=24)]
    data = _write_dataset(tmp_path / "data", melodies[:6], melodies[6:])
    run = str(tmp_path / "run")
    config = train.TrainConfig(data_dir=data, out_dir=run, layer_sizes=(8,), batch_size=8, max_length=24,
                               epochs=2, skip_first_n_losses=3, min_window=6)
    history = train.train(config, progress=False)
    best = history["best"]
    # The run directory (its model/ and card) gives the window settings: none on the command line.
    out = tmp_path / "m.json"
    assert cli.main(["evaluate", "--checkpoint", run, "--data", data, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["max_length"], result["skip_first_n_losses"], result["min_window"]) == (24, 3, 6)
    assert result["accuracy"] == pytest.approx(best["validation_accuracy"], rel=1e-6)
    assert result["log_perplexity"] == pytest.approx(best["validation_log_perplexity"], rel=1e-6)
    # The Python API gives the same figures.
    api = note_rnn.evaluate(note_rnn.load(run), melodies[:6], max_length=24, skip_first_n_losses=3, min_window=6)
    assert api["log_perplexity"] == pytest.approx(best["validation_log_perplexity"], rel=1e-6)
    capsys.readouterr()


def test_evaluate_shipped_model_by_default_with_the_cards_settings(tmp_path, capsys):
    data = _write_dataset(tmp_path / "data", [[14, 0, 16, 0, 18, 0, 19, 0] * 4])
    out = tmp_path / "m.json"
    assert cli.main(["evaluate", "--data", data, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    card = checkpoint.read_card(note_rnn.default_checkpoint())["hyperparameters"]
    assert result["checkpoint"] == note_rnn.default_checkpoint()
    assert (result["max_length"], result["skip_first_n_losses"], result["min_window"]) == \
        (card["max_length"], card["skip_first_n_losses"], card["min_window"])
    assert result["tokens"] == 32 - 1 - card["skip_first_n_losses"]
    assert 0 <= result["accuracy"] <= 1 and 0 < result["log_perplexity"] < math.log(38)
    capsys.readouterr()


@pytest.mark.parametrize("extra, message", [
    (["--data", "NODATA"], "validation.npz not found: build the data set first"),
    (["--checkpoint", "NOMODEL"], "no Note-RNN checkpoint at .*nomodel"),
    (["--max-length", "1"], "max_length must be an integer >= 2, got 1"),
    (["--min-window", "100"], "no windows of at least 100 tokens to evaluate"),
])
def test_evaluate_errors_exit_2_with_one_line(tmp_path, capsys, extra, message):
    import re
    data = _write_dataset(tmp_path / "data", [[14, 0, 16, 0] * 5])
    extra = [str(tmp_path / "nodata") if a == "NODATA" else str(tmp_path / "nomodel") if a == "NOMODEL" else a
             for a in extra]
    argv = ["evaluate", "--data", data] + extra
    assert run_main(cli.main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err



def test_evaluate_out_never_replaces_the_data_set_the_checkpoint_or_a_users_file(tmp_path, capsys):
    """--out used to be written blindly: `--out data/train.npz` destroyed the data set."""
    ckpt = _constant_model_ckpt(tmp_path / "const")
    data = _write_dataset(tmp_path / "data", [[14, 0, 16, 0, 18], [20, 0, 0]])
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": 1}')
    before = {p: open(p, "rb").read() for p in (os.path.join(data, "train.npz"), os.path.join(ckpt, "config.json"))}
    base = ["evaluate", "--checkpoint", ckpt, "--data", data, "--max-length", "4", "--skip-first-n-losses", "0",
            "--min-window", "2"]
    for out, overwrite, message in [
            (os.path.join(data, "train.npz"), True, "would replace the input"),
            (os.path.join(ckpt, "config.json"), True, "would replace the input"),
            (data, False, "would replace the input"),
            (str(notes), False, "already exists and is not an earlier output of `note-rnn evaluate`")]:
        argv = base + ["--out", out] + (["--overwrite"] if overwrite else [])
        assert run_main(cli.main, argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --out ") and message in err and len(err.strip().splitlines()) == 1, err
    assert {p: open(p, "rb").read() for p in before} == before
    assert json.loads(notes.read_text()) == {"mine": 1}
    # Its own earlier output is replaced; a user's file only with --overwrite.
    out = tmp_path / "m.json"
    assert run_main(cli.main, base + ["--out", str(out)]) == 0
    assert run_main(cli.main, base + ["--out", str(out)]) == 0
    assert json.loads(out.read_text())["written_by"] == "note-rnn evaluate"
    assert run_main(cli.main, base + ["--out", str(notes), "--overwrite"]) == 0
    assert json.loads(notes.read_text())["written_by"] == "note-rnn evaluate"
    capsys.readouterr()

# --- training defaults = the shipped model's recipe --------------------------------------------------
def test_train_defaults_equal_the_shipped_cards_hyperparameters():
    card = checkpoint.read_card(note_rnn.default_checkpoint())
    recipe = card["hyperparameters"]
    defaults = dataclasses.asdict(train.TrainConfig())
    defaults["layer_sizes"] = list(defaults["layer_sizes"])
    assert set(defaults) == set(recipe)
    assert defaults == recipe  # data/folk, runs/note_rnn, 60 epochs, ...
    args = cli.build_parser().parse_args(["train"])
    from rl_tuner.plumbing.cli_utils import dataclass_from_args
    assert dataclass_from_args(train.TrainConfig, args) == train.TrainConfig()
