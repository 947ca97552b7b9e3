"""Behaviour tests of rl_tuner.plumbing.checkpoint (the project checkpoint directory) and rl_tuner.plumbing.atomic."""

import json
import math
import os

import numpy as np
import pytest

import note_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from rl_tuner.plumbing import atomic, output_dir
from rl_tuner.plumbing import checkpoint
from rl_tuner.models import sequence_model as model_lib
from rl_tuner.models.sequence_model import SequenceRNNConfig

import tensorflow as tf  # noqa: E402,F401  (after note_rnn)

TOKENS = np.random.default_rng(3).integers(0, 38, size=(2, 7))


def _model(layer_sizes=(8,), seed=0):
    return model_lib.build(SequenceRNNConfig(num_classes=38, layer_sizes=layer_sizes), seed=seed)


def _leftovers(parent, name):
    """Temporary/old directories that output_dir.directory may leave next to ``name``."""
    return sorted(p for p in os.listdir(parent) if p.startswith(f".{name}."))


# --- round trip ---------------------------------------------------------------------------
def test_save_load_round_trip_identical_weights_and_logits(tmp_path):
    net = _model((8, 6), seed=1)
    path = str(tmp_path / "ckpt")
    assert checkpoint.save_model(path, net) == path
    assert sorted(os.listdir(path)) == ["config.json", "weights.npz"]
    with open(os.path.join(path, "config.json")) as f:
        assert json.load(f) == {"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [8, 6]}
    loaded = note_rnn.load(path)
    assert loaded.config == net.config
    original = net.get_named_weights()
    restored = loaded.get_named_weights()
    assert restored.keys() == original.keys()
    for key in original:
        np.testing.assert_array_equal(restored[key], original[key])
    np.testing.assert_array_equal(loaded.sequence_logits(TOKENS), net.sequence_logits(TOKENS))


def test_read_returns_config_and_numpy_weights(tmp_path):
    net = _model()
    path = checkpoint.save_model(str(tmp_path / "ckpt"), net)
    config, weights = checkpoint.read(path)
    assert config["layer_sizes"] == [8] and config["num_classes"] == 38
    assert {k: v.shape for k, v in weights.items()} == net.config.weight_shapes()
    assert all(v.dtype == np.float32 for v in weights.values())
    assert checkpoint.is_checkpoint(path)
    assert not checkpoint.is_checkpoint(str(tmp_path))


def test_card_is_stored_and_read_back(tmp_path):
    card = {"metrics": {"validation_accuracy": 0.5, "validation_log_perplexity": 1.25},
            "command": "note-rnn train --epochs 3", "data": {"train_melodies": 40}}
    path = checkpoint.save_model(str(tmp_path / "ckpt"), _model(), card=card)
    assert checkpoint.read_card(path) == card
    with open(os.path.join(path, "card.json")) as f:
        assert json.load(f) == card


def test_no_card_reads_as_none(tmp_path):
    path = checkpoint.save_model(str(tmp_path / "ckpt"), _model())
    assert checkpoint.read_card(path) is None


def test_save_replaces_an_existing_checkpoint_completely(tmp_path):
    path = str(tmp_path / "ckpt")
    checkpoint.save_model(path, _model((8,), seed=1), card={"version": 1})
    v2 = _model((6,), seed=2)
    checkpoint.save_model(path, v2)  # no card this time
    assert checkpoint.read_card(path) is None  # the old card.json is gone
    loaded = note_rnn.load(path)
    assert loaded.config.layer_sizes == (6,)
    np.testing.assert_array_equal(loaded.sequence_logits(TOKENS), v2.sequence_logits(TOKENS))
    assert _leftovers(tmp_path, "ckpt") == []


# --- atomicity -------------------------------------------------------------------------------
def test_failure_inside_atomic_directory_keeps_previous_version(tmp_path):
    path = str(tmp_path / "ckpt")
    v1 = _model(seed=1)
    checkpoint.save_model(path, v1, card={"version": 1})
    with pytest.raises(RuntimeError, match="disk full"):
        with output_dir.directory(path, owned=checkpoint.CHECKPOINT_FILES) as tmp:
            with open(os.path.join(tmp, "config.json"), "w") as f:
                f.write("{half a file")
            raise RuntimeError("disk full")
    assert sorted(os.listdir(path)) == ["card.json", "config.json", "weights.npz"]
    assert checkpoint.read_card(path) == {"version": 1}
    np.testing.assert_array_equal(note_rnn.load(path).sequence_logits(TOKENS), v1.sequence_logits(TOKENS))
    assert _leftovers(tmp_path, "ckpt") == []


def test_failing_save_of_v2_keeps_v1_loadable(tmp_path, monkeypatch):
    path = str(tmp_path / "ckpt")
    v1 = _model(seed=1)
    checkpoint.save_model(path, v1, card={"version": 1})

    def broken_savez(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", broken_savez)
    with pytest.raises(OSError, match="no space"):
        checkpoint.save_model(path, _model(seed=2), card={"version": 2})
    monkeypatch.undo()
    assert checkpoint.read_card(path) == {"version": 1}
    np.testing.assert_array_equal(note_rnn.load(path).sequence_logits(TOKENS), v1.sequence_logits(TOKENS))
    assert _leftovers(tmp_path, "ckpt") == []


def test_save_with_wrong_shapes_writes_nothing(tmp_path):
    path = str(tmp_path / "ckpt")
    weights = _model().get_named_weights()
    weights["dense/kernel"] = np.zeros((9, 38), np.float32)
    with pytest.raises(ValueError, match=r"dense/kernel has shape \[9, 38\], expected \[8, 38\]"):
        checkpoint.save(path, (8,), weights, 38)
    assert not os.path.exists(path)
    assert os.listdir(tmp_path) == []


def test_atomic_directory_success_creates_parents(tmp_path):
    path = str(tmp_path / "a" / "b" / "out")
    with output_dir.directory(path) as tmp:
        assert os.path.isdir(tmp) and os.path.dirname(tmp) == os.path.dirname(path)
        with open(os.path.join(tmp, "x.txt"), "w") as f:
            f.write("hello")
    with open(os.path.join(path, "x.txt")) as f:
        assert f.read() == "hello"
    assert _leftovers(tmp_path / "a" / "b", "out") == []


# --- errors ----------------------------------------------------------------------------------
def test_load_model_of_missing_path_names_the_path(tmp_path):
    missing = str(tmp_path / "no_such_checkpoint")
    with pytest.raises(FileNotFoundError, match="no_such_checkpoint"):
        checkpoint.load_model(missing)
    with pytest.raises(FileNotFoundError, match="no_such_checkpoint"):
        note_rnn.load(missing)
    with pytest.raises(FileNotFoundError, match="no_such_checkpoint"):
        checkpoint.read(missing)


def test_read_of_checkpoint_without_weights_names_the_file(tmp_path):
    path = checkpoint.save_model(str(tmp_path / "ckpt"), _model())
    os.remove(os.path.join(path, "weights.npz"))
    with pytest.raises(FileNotFoundError, match="weights.npz is missing"):
        checkpoint.read(path)


def test_load_of_checkpoint_without_weights_names_the_file(tmp_path):
    """A project checkpoint directory (config.json present) without weights.npz."""
    path = checkpoint.save_model(str(tmp_path / "ckpt"), _model())
    os.remove(os.path.join(path, "weights.npz"))
    with pytest.raises(FileNotFoundError, match="weights.npz"):
        note_rnn.load(path)


def test_unknown_format_raises_value_error(tmp_path):
    path = checkpoint.save_model(str(tmp_path / "ckpt"), _model())
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"format": "note_rnn/99", "num_classes": 38, "layer_sizes": [8]}, f)
    with pytest.raises(ValueError, match=r"unknown checkpoint format 'note_rnn/99'"):
        checkpoint.read(path)
    with pytest.raises(ValueError, match="note_rnn/99"):
        note_rnn.load(path)


def test_weights_of_wrong_shape_for_the_config_name_the_weight(tmp_path):
    path = checkpoint.save_model(str(tmp_path / "ckpt"), _model())
    # The config now claims 16 units; the weights have 8.
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [16]}, f)
    with pytest.raises(ValueError) as info:
        note_rnn.load(path)
    message = str(info.value)
    assert "lstm_0/recurrent_kernel has shape [8, 32], expected [16, 64]" in message
    assert path in message


# --- atomic file writes ----------------------------------------------------------------------
def test_write_json_writes_nan_as_null(tmp_path):
    path = str(tmp_path / "sub" / "h.json")
    atomic.write_json(path, {"loss": float("nan"), "list": [1.0, math.nan, np.float32("nan")],
                             "nested": {"x": np.float64("nan"), "y": np.int64(3)}, "ok": 2.5})
    with open(path) as f:
        text = f.read()
    assert "NaN" not in text
    assert json.loads(text) == {"loss": None, "list": [1.0, None, None], "nested": {"x": None, "y": 3},
                                "ok": 2.5}
    assert os.listdir(tmp_path / "sub") == ["h.json"]  # no temporary file left


def test_write_bytes_replaces_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "f.bin")
    atomic.write_bytes(path, b"one")
    atomic.write_bytes(path, b"two")
    with open(path, "rb") as f:
        assert f.read() == b"two"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_load_model_accepts_a_training_run_directory(tmp_path):
    # `note-rnn train --out RUN` exports its best model to RUN/model; loading RUN uses it.
    net = _model(seed=3)
    checkpoint.save_model(str(tmp_path / "run" / "model"), net)
    (tmp_path / "run" / "ckpt").mkdir()
    loaded = checkpoint.load_model(str(tmp_path / "run"))
    np.testing.assert_array_equal(loaded.sequence_logits(TOKENS), net.sequence_logits(TOKENS))


def test_a_stored_vocabulary_round_trips_and_is_checked(tmp_path):
    net = model_lib.build(SequenceRNNConfig(num_classes=3, layer_sizes=(4,), vocabulary=("C", "c1", "<end>")), seed=0)
    path = str(tmp_path / "smiles_like")
    checkpoint.save_model(path, net)
    with open(os.path.join(path, "config.json")) as f:
        assert json.load(f) == {"format": "sequence_rnn/1", "num_classes": 3, "layer_sizes": [4],
                                "vocabulary": ["C", "c1", "<end>"]}
    loaded = checkpoint.load_model(path)
    assert loaded.config.vocabulary == ("C", "c1", "<end>")
    np.testing.assert_array_equal(loaded.get_named_weights()["dense/kernel"], net.get_named_weights()["dense/kernel"])
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"format": "sequence_rnn/1", "num_classes": 3, "layer_sizes": [4], "vocabulary": ["C", "C", "x"]}, f)
    with pytest.raises(ValueError, match=r"config.json: vocabulary must be a list of 3 distinct strings"):
        checkpoint.load_model(path)
