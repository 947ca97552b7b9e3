"""Behaviour tests of note_rnn.train: windows, training, export, resume and NaN handling.

The data sets are written directly in the format of ``note_rnn.corpus`` (train.npz and
validation.npz holding an int8 ``tokens`` concatenation and int32 ``lengths``, plus
summary.json). Models are tiny (one LSTM layer of 16 units) so that a run takes seconds.
"""

import dataclasses
import gc
import json
import logging
import math
import os
import re
import shutil

import numpy as np
import pytest

import note_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from rl_tuner.plumbing import checkpoint
from note_rnn import corpus, train
from note_rnn.train import TrainConfig, make_windows, window_arrays

import tensorflow as tf  # noqa: E402  (after note_rnn)

PATTERN = [14, 0, 16, 0, 18, 0, 19, 0]  # C E F# G (as tokens) with holds, period 8
MELODY_LENGTH = 48
NUM_TRAIN, NUM_VAL = 40, 8
BATCH, MAX_LENGTH = 8, 24
# Each 48-token melody gives two 24-token windows: 80 train windows = 10 batches of 8 per epoch.
STEPS_PER_EPOCH = 10
SUMMARY = {"config": {"source": "synthetic"}, "summary": {"train": {"melodies": NUM_TRAIN}}}


def _melodies(num, phase):
    return [np.array([PATTERN[(k + phase + i) % len(PATTERN)] for i in range(MELODY_LENGTH)], np.int8)
            for k in range(num)]


def write_dataset(data_dir, train_melodies, val_melodies, summary=SUMMARY):
    """Writes a data set exactly as ``note-rnn prepare`` does (tokens int8, lengths int32)."""
    os.makedirs(data_dir, exist_ok=True)
    for split, mels in (("train", train_melodies), ("validation", val_melodies)):
        np.savez_compressed(os.path.join(data_dir, f"{split}.npz"),
                            tokens=np.concatenate(mels).astype(np.int8),
                            lengths=np.array([len(m) for m in mels], np.int32),
                            sources=np.array([f"{split}{i}" for i in range(len(mels))]))
    with open(os.path.join(data_dir, "summary.json"), "w") as f:
        json.dump(summary, f)
    return str(data_dir)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = write_dataset(tmp_path_factory.mktemp("data"), _melodies(NUM_TRAIN, 0), _melodies(NUM_VAL, 3))
    # The fixture reads back through corpus.load_split as training does.
    assert len(corpus.load_split(path, "train")) == NUM_TRAIN
    return path


def _config(data_dir, out_dir, **overrides):
    settings = dict(data_dir=data_dir, out_dir=str(out_dir), layer_sizes=(16,), batch_size=BATCH,
                    max_length=MAX_LENGTH, epochs=3, learning_rate=0.01, seed=0)
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory):
    """One 3-epoch run shared by the read-only tests below."""
    out = tmp_path_factory.mktemp("run")
    config = _config(data_dir, out)
    history = train.train(config, command="note-rnn train --epochs 3", progress=False)
    return config, history


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _count_train_steps(monkeypatch, nan_at=None):
    """Wraps Trainer.train_step to count its calls; optionally returns a NaN loss at call ``nan_at``."""
    calls = []
    original = train.Trainer.train_step

    def counting(self, inputs, targets, weights):
        calls.append(1)
        out = original.__get__(self, type(self))(inputs, targets, weights)
        if nan_at is not None and len(calls) == nan_at:
            return (tf.constant(float("nan")),) + tuple(out[1:])
        return out

    monkeypatch.setattr(train.Trainer, "train_step", counting)
    return calls


def _validation_log_perplexity(model, val_melodies, config):
    """Mean NLL (nats) of the weighted targets, recomputed in NumPy from sequence_logits."""
    inputs, targets, weights = window_arrays(make_windows(val_melodies, config.max_length, config.min_window),
                                             config.max_length, config.skip_first_n_losses)
    logits = model.sequence_logits(inputs).astype(np.float64)
    log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    nll = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    return float((nll * weights).sum() / weights.sum())


# --- windows ---------------------------------------------------------------------------------
def test_make_windows_cuts_consecutive_windows_and_drops_short_tails():
    melody = np.arange(2, 12)  # 10 tokens: 2..11
    windows = make_windows([melody], max_length=4, min_window=2)
    assert [w.tolist() for w in windows] == [[2, 3, 4, 5], [6, 7, 8, 9], [10, 11]]
    # A tail of 2 tokens is dropped when min_window is 3.
    assert [w.tolist() for w in make_windows([melody], 4, min_window=3)] == [[2, 3, 4, 5], [6, 7, 8, 9]]
    # A 1-token tail is always dropped (it has no target), even with min_window 1.
    assert [w.tolist() for w in make_windows([np.arange(9)], 4, min_window=1)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    # Several melodies, in order; a melody shorter than min_window gives nothing.
    out = make_windows([[5, 6, 7], [8], [9, 10]], max_length=4, min_window=2)
    assert [w.tolist() for w in out] == [[5, 6, 7], [9, 10]]


def test_window_arrays_shift_targets_and_mask_skip_and_padding():
    windows = [np.array([2, 3, 4, 5]), np.array([6, 7, 8]), np.array([9, 10])]
    inputs, targets, weights = window_arrays(windows, max_length=4, skip_first_n_losses=1)
    # Width max_length - 1 = 3; input t predicts target t + 1.
    np.testing.assert_array_equal(inputs, [[2, 3, 4], [6, 7, 0], [9, 0, 0]])
    np.testing.assert_array_equal(targets, [[3, 4, 5], [7, 8, 0], [10, 0, 0]])
    # Position 0 is skipped; padding has weight 0; the 2-token window has only position 0: no loss.
    np.testing.assert_array_equal(weights, [[0, 1, 1], [0, 1, 0], [0, 0, 0]])
    assert inputs.dtype == np.int32 and targets.dtype == np.int32 and weights.dtype == np.float32

    _, _, weights0 = window_arrays(windows, max_length=4, skip_first_n_losses=0)
    np.testing.assert_array_equal(weights0, [[1, 1, 1], [1, 1, 0], [1, 0, 0]])


def test_window_arrays_of_a_full_length_melody():
    melody = np.array(PATTERN * 3)  # 24 tokens
    inputs, targets, weights = window_arrays(make_windows([melody], 24), 24, skip_first_n_losses=8)
    np.testing.assert_array_equal(inputs[0], melody[:-1])
    np.testing.assert_array_equal(targets[0], melody[1:])
    assert weights.shape == (1, 23)
    assert weights[0].tolist() == [0.0] * 8 + [1.0] * 15


def test_train_config_validation():
    with pytest.raises(ValueError, match="max_length must be an integer >= 2, got 1"):
        TrainConfig(max_length=1)
    with pytest.raises(ValueError, match=r"skip_first_n_losses \(8\) leaves no loss in windows of 9 tokens"):
        TrainConfig(max_length=9, skip_first_n_losses=8)
    assert TrainConfig(layer_sizes=[16, 8]).layer_sizes == (16, 8)


# --- a training run --------------------------------------------------------------------------
def test_validation_log_perplexity_decreases(run):
    _, history = run
    epochs = history["epochs"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert [r["step"] for r in epochs] == [STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH, 3 * STEPS_PER_EPOCH]
    first, last = epochs[0]["validation_log_perplexity"], epochs[-1]["validation_log_perplexity"]
    assert last < first
    assert last < math.log(38)  # 3.6376: better than a uniform guess
    assert all(0.0 <= r["validation_accuracy"] <= 1.0 for r in epochs)


def test_history_json_is_written(run):
    config, history = run
    on_disk = _read_json(os.path.join(config.out_dir, "history.json"))
    assert [r["epoch"] for r in on_disk["epochs"]] == [1, 2, 3]
    for got, ret in zip(on_disk["epochs"], history["epochs"]):
        assert got["validation_log_perplexity"] == pytest.approx(ret["validation_log_perplexity"], abs=1e-12)
    best = min(on_disk["epochs"], key=lambda r: r["validation_log_perplexity"])
    assert on_disk["best"]["epoch"] == best["epoch"]
    saved_config = _read_json(os.path.join(config.out_dir, "train_config.json"))
    assert saved_config["layer_sizes"] == [16] and saved_config["epochs"] == 3


def test_exported_model_has_card_with_metrics_and_command(run, data_dir):
    config, history = run
    model_dir = os.path.join(config.out_dir, "model")
    assert checkpoint.is_checkpoint(model_dir)
    card = checkpoint.read_card(model_dir)
    best = history["best"]
    assert card["command"] == "note-rnn train --epochs 3"
    assert card["metrics"]["epoch"] == best["epoch"]
    assert card["metrics"]["validation_accuracy"] == pytest.approx(best["validation_accuracy"])
    assert card["metrics"]["validation_log_perplexity"] == pytest.approx(best["validation_log_perplexity"])
    assert card["hyperparameters"]["layer_sizes"] == [16]
    assert card["data"]["train_melodies"] == NUM_TRAIN and card["data"]["validation_melodies"] == NUM_VAL
    assert card["data"]["summary"] == SUMMARY


def test_exported_model_loads_and_reproduces_its_validation_metric(run, data_dir):
    config, history = run
    model = note_rnn.load(os.path.join(config.out_dir, "model"))
    assert model.config.layer_sizes == (16,)
    val = corpus.load_split(data_dir, "validation")
    recomputed = _validation_log_perplexity(model, val, config)
    assert recomputed == pytest.approx(history["best"]["validation_log_perplexity"], abs=1e-4)


def test_rerun_of_a_finished_run_trains_nothing(run, monkeypatch, tmp_path, capsys, caplog):
    config, history = run
    out = tmp_path / "copy"
    shutil.copytree(config.out_dir, out)
    calls = _count_train_steps(monkeypatch)
    capsys.readouterr()
    with caplog.at_level(logging.WARNING):
        again = train.train(dataclasses.replace(config, out_dir=str(out)), progress=False)
        gc.collect()  # the trainer and its checkpoint are gone: TensorFlow reports unused values now
    assert calls == []
    assert [r["epoch"] for r in again["epochs"]] == [1, 2, 3]
    assert again == _read_json(os.path.join(out, "history.json"))
    assert capsys.readouterr().err == (f"The Note-RNN run in {out} is complete (3 epochs, --epochs 3); "
                                       "give a larger --epochs to train on.\n")
    # No "Value in checkpoint could not be found" warnings (the unused Adam slots) that look like corruption.
    assert [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()] == []


def test_epoch_line_shows_step_metrics_and_speed():
    record = {"epoch": 2, "step": 120, "train_log_perplexity": 1.23456, "train_accuracy": 0.5,
              "validation_log_perplexity": 1.5, "validation_accuracy": 0.625, "seconds": 4.0}
    assert train.epoch_line(record, 30, 10000.0) == (
        "epoch 2/30 (step 120): train log-ppl 1.2346 acc 0.5000 | validation log-ppl 1.5000 acc 0.6250 "
        "(4 s, 2500 tokens/s)")


def test_changed_architecture_in_same_out_dir_raises(run, tmp_path):
    config, _ = run
    out = tmp_path / "copy"
    shutil.copytree(config.out_dir, out)
    with pytest.raises(ValueError, match=r"layer_sizes.*\[16\].*new --out"):
        train.train(dataclasses.replace(config, out_dir=str(out), layer_sizes=(8,)), progress=False)
    with pytest.raises(ValueError, match="max_length"):
        train.train(dataclasses.replace(config, out_dir=str(out), max_length=16), progress=False)
    # The run directory is unchanged.
    assert _read_json(os.path.join(out, "train_config.json"))["layer_sizes"] == [16]
    assert len(_read_json(os.path.join(out, "history.json"))["epochs"]) == 3


# --- resume ----------------------------------------------------------------------------------
def test_resume_runs_only_the_missing_epochs(run, data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    calls = _count_train_steps(monkeypatch)
    first = train.train(_config(data_dir, out, epochs=2), progress=True)  # stderr is not a terminal here
    assert len(calls) == 2 * STEPS_PER_EPOCH
    err = capsys.readouterr().err.splitlines()
    assert "from scratch" in err[0]
    # No progress bar in a log file: exactly one line per epoch.
    assert [line.split(":")[0] for line in err[1:]] == [f"epoch 1/2 (step {STEPS_PER_EPOCH})",
                                                        f"epoch 2/2 (step {2 * STEPS_PER_EPOCH})"]
    calls.clear()

    second = train.train(_config(data_dir, out, epochs=3), progress=False)
    assert "resuming at epoch 3" in capsys.readouterr().err
    assert len(calls) == STEPS_PER_EPOCH  # only epoch 3 ran, not 3 more epochs
    assert [r["epoch"] for r in second["epochs"]] == [1, 2, 3]
    # Epochs 1 and 2 are the records of the first call (not re-run).
    assert second["epochs"][:2] == _read_json(os.path.join(out, "history.json"))["epochs"][:2]
    for old, new in zip(first["epochs"], second["epochs"][:2]):
        assert new["seconds"] == pytest.approx(old["seconds"], abs=1e-9)
    # The optimizer's step counter was restored: epoch 3 ends at 3 epochs' worth of steps.
    assert second["epochs"][2]["step"] == 3 * STEPS_PER_EPOCH
    assert [r["epoch"] for r in _read_json(os.path.join(out, "history.json"))["epochs"]] == [1, 2, 3]
    # 2 + 1 epochs give the same result as 3 uninterrupted epochs (same seed and shuffles, the
    # model and the Adam state restored).
    _, uninterrupted = run
    for got, ref in zip(second["epochs"], uninterrupted["epochs"]):
        for key in ("train_log_perplexity", "validation_log_perplexity", "validation_accuracy"):
            assert got[key] == pytest.approx(ref[key], rel=1e-4), (got["epoch"], key)


def test_resume_without_history_json_does_not_crash(data_dir, tmp_path):
    """A crash between the training checkpoint and history.json leaves no history; resume works."""
    out = tmp_path / "run"
    train.train(_config(data_dir, out, epochs=1), progress=False)
    os.remove(os.path.join(out, "history.json"))
    history = train.train(_config(data_dir, out, epochs=2), progress=False)
    assert history["epochs"][-1]["epoch"] == 2
    assert history["epochs"][-1]["step"] == 2 * STEPS_PER_EPOCH


# --- NaN / infinite loss -------------------------------------------------------------------------
def test_nan_loss_raises_and_keeps_last_good_checkpoint(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    # Call 12 = the second step of epoch 2 returns a NaN loss.
    calls = _count_train_steps(monkeypatch, nan_at=STEPS_PER_EPOCH + 2)
    with pytest.raises(FloatingPointError, match=r"nan in epoch 2"):
        train.train(_config(data_dir, out, epochs=3), progress=False)
    assert len(calls) == STEPS_PER_EPOCH + 2
    monkeypatch.undo()

    model_dir = os.path.join(out, "model")
    assert checkpoint.read_card(model_dir)["metrics"]["epoch"] == 1
    model = note_rnn.load(model_dir)
    assert all(np.all(np.isfinite(w)) for w in model.get_named_weights().values())
    assert [r["epoch"] for r in _read_json(os.path.join(out, "history.json"))["epochs"]] == [1]
    assert tf.train.latest_checkpoint(os.path.join(out, "ckpt")).endswith("ckpt-1")

    # Running again resumes from the epoch-1 checkpoint.
    history = train.train(_config(data_dir, out, epochs=2), progress=False)
    assert [r["epoch"] for r in history["epochs"]] == [1, 2]
    assert history["epochs"][1]["step"] == 2 * STEPS_PER_EPOCH


@pytest.mark.parametrize("change", [dict(learning_rate=1e30), dict(batch_size=4), dict(seed=1), dict(l2_reg=0.0),
                                    dict(layer_sizes=(8,)), dict(decay_rate=0.5)])
def test_changed_hyperparameters_on_resume_are_refused_like_rl_tuner(run, tmp_path, change):
    """One rule for both trainers: only epochs may change on resume; the run is left untouched."""
    config, _ = run
    out = tmp_path / "copy"
    shutil.copytree(config.out_dir, out)
    model_dir = os.path.join(out, "model")
    before = note_rnn.load(model_dir).get_named_weights()
    key, value = next(iter(change.items()))
    old = getattr(config, key)
    old = list(old) if isinstance(old, tuple) else old
    new = list(value) if isinstance(value, tuple) else value
    message = (f"{out} holds a run with different settings ({key}: {old} -> {new}); use a new --out directory "
               "or the same settings to resume")
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        train.train(dataclasses.replace(config, out_dir=str(out), epochs=4, **change), progress=False)
    after = note_rnn.load(model_dir).get_named_weights()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])
    assert len(_read_json(os.path.join(out, "history.json"))["epochs"]) == 3
    assert _read_json(os.path.join(out, "train_config.json")) == _read_json(
        os.path.join(config.out_dir, "train_config.json"))
    assert tf.train.latest_checkpoint(os.path.join(out, "ckpt")).endswith("ckpt-3")


def test_missing_data_dir_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="note-rnn prepare"):
        train.train(_config(str(tmp_path / "nodata"), tmp_path / "out"), progress=False)


def test_no_training_windows_raises_value_error(tmp_path):
    data = write_dataset(tmp_path / "short", [np.array([14, 0, 16], np.int8)], [np.array([14, 0, 16], np.int8)])
    with pytest.raises(ValueError, match="no training windows of at least 16 tokens"):
        train.train(_config(data, tmp_path / "out"), progress=False)
