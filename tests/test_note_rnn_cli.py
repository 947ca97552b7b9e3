"""Behaviour tests of the ``note-rnn`` command (note_rnn.cli) and of note_rnn.generate."""

import dataclasses
import json
import math
import os
import re
import sys

import numpy as np
import pytest

import note_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from rl_tuner.plumbing import checkpoint
from note_rnn import cli, encoding, generate
from rl_tuner.plumbing.cli_utils import run_main
from rl_tuner.models import sampling
from rl_tuner.models.sequence_model import SequenceRNN, SequenceRNNConfig
from note_rnn.train import TrainConfig

import tensorflow as tf  # noqa: E402,F401  (after note_rnn)

pytestmark = [pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning"),  # note_seq -> pydub
              pytest.mark.filterwarnings("ignore:Couldn't find ffmpeg:RuntimeWarning")]

C = 38


def _random_model(seed=0, layer_sizes=(8,)):
    config = SequenceRNNConfig(num_classes=38, layer_sizes=layer_sizes)
    net = SequenceRNN(config)
    rng = np.random.default_rng(seed)
    net.set_named_weights({k: (0.7 * rng.standard_normal(s)).astype(np.float32)
                           for k, s in config.weight_shapes().items()})
    return net


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return checkpoint.save_model(str(tmp_path_factory.mktemp("ckpt") / "tiny"), _random_model())


@pytest.fixture(scope="module")
def tiny_model(tiny_ckpt):
    return note_rnn.load(tiny_ckpt)


def _generate(ckpt, out, seed, num=3, length=16, extra=()):
    return cli.main(["generate", "--checkpoint", ckpt, "--num", str(num), "--length", str(length),
                     "--seed", str(seed), "--out", str(out), *extra])


def _read_files(out):
    names = sorted(n for n in os.listdir(out) if not n.startswith("."))  # not the manifest
    contents = []
    for name in names:
        with open(os.path.join(out, name), "rb") as f:
            contents.append(f.read())
    return names, contents


# --- generate ----------------------------------------------------------------------------------
def test_generate_writes_midi_files_of_the_sampled_melodies(tiny_ckpt, tiny_model, tmp_path, capsys):
    out = tmp_path / "gen"
    assert _generate(tiny_ckpt, out, seed=5) == 0
    assert f"wrote 3 melodies to {out} (MIDI, WAV and melodies.json; model {tiny_ckpt})" in capsys.readouterr().out
    names, contents = _read_files(out)
    assert names == ["melodies.json"] + [f"melody_00{i}.{ext}" for i in range(3) for ext in ("mid", "wav")]
    melodies = sampling.sample_model(tiny_model, 3, length=16, temperature=1.0, seed=5)
    assert json.loads(contents[0]) == melodies.tolist()
    names = [n for n in names if n.endswith(".mid")]
    for name, melody in zip(names, melodies):
        # Every pitch token starts one note of MIDI pitch token + 46, in order.
        sequence = encoding.read_note_sequence(os.path.join(out, name))
        pitches = [n.pitch for n in sorted(sequence.notes, key=lambda n: n.start_time)]
        assert pitches == [int(t) + 46 for t in melody if t >= 2]
        # And the file is byte-identical to writing the sampled tokens directly.
        encoding.write_midi(melody, tmp_path / "direct.mid")
        with open(tmp_path / "direct.mid", "rb") as f, open(os.path.join(out, name), "rb") as g:
            assert f.read() == g.read()


def test_generate_same_seed_same_files_other_seed_differs(tiny_ckpt, tmp_path):
    assert _generate(tiny_ckpt, tmp_path / "a", seed=5) == 0
    assert _generate(tiny_ckpt, tmp_path / "b", seed=5) == 0
    assert _generate(tiny_ckpt, tmp_path / "c", seed=6) == 0
    names_a, a = _read_files(tmp_path / "a")
    names_b, b = _read_files(tmp_path / "b")
    _, c = _read_files(tmp_path / "c")
    assert names_a == names_b and a == b
    assert a != c


def test_sample_is_deterministic_for_same_seed_and_num(tiny_model):
    a = sampling.sample_model(tiny_model, 4, length=16, seed=11)
    b = sampling.sample_model(tiny_model, 4, length=16, seed=11)
    assert a.shape == (4, 16) and a.dtype == np.int32
    assert a.min() >= 0 and a.max() < C
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sampling.sample_model(tiny_model, 4, length=16, seed=12))
    # The melodies of a batch are not all the same.
    assert len({tuple(m) for m in a}) == 4


def test_sample_same_seed_and_num_give_same_melodies_across_calls(tiny_model):
    """generate's module docstring: the same seed and number of melodies give the same melodies
    (also when the work is split into several compiled calls)."""
    first = sampling.sample_model(tiny_model, 5, length=16, seed=5, batch_size=2)
    again = sampling.sample_model(tiny_model, 5, length=16, seed=5, batch_size=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, sampling.sample_model(tiny_model, 5, length=16, seed=6, batch_size=2))


def test_low_temperature_sampling_is_greedy(tiny_model):
    """At temperature 1e-4 each melody is the greedy continuation of one of the 38 priming tokens."""
    length = 12
    tokens = np.arange(C)
    state = tiny_model.zero_state(C)
    greedy = []
    for _ in range(length):
        logits, state = tiny_model.step(tokens, state)
        tokens = np.argmax(logits.numpy(), axis=-1)
        greedy.append(tokens)
    greedy = {tuple(row) for row in np.stack(greedy, axis=1).tolist()}
    sampled = sampling.sample_model(tiny_model, 20, length=length, temperature=1e-4, seed=3)
    for row in sampled.tolist():
        assert tuple(row) in greedy


def _constant_model(log_probs):
    """A model whose logits are ``log_probs`` after every prefix (all LSTM weights zero)."""
    config = SequenceRNNConfig(num_classes=38, layer_sizes=(4,))
    weights = {k: np.zeros(s, np.float32) for k, s in config.weight_shapes().items()}
    weights["dense/bias"] = np.asarray(log_probs, np.float32)
    net = SequenceRNN(config)
    net.set_named_weights(weights)
    return net


@pytest.mark.parametrize("temperature, expected", [
    (1.0, [0.5, 0.3, 0.2]),
    # softmax(log p / 2) ~ sqrt(p): sqrt(.5), sqrt(.3), sqrt(.2) = .7071, .5477, .4472; sum 1.7020
    (2.0, [0.7071 / 1.7020, 0.5477 / 1.7020, 0.4472 / 1.7020]),
])
def test_sampling_follows_softmax_of_logits_over_temperature(temperature, expected):
    log_probs = np.full(C, -40.0)
    log_probs[[2, 3, 4]] = np.log([0.5, 0.3, 0.2])
    melodies = sampling.sample_model(_constant_model(log_probs), 1000, length=8, temperature=temperature, seed=1)
    counts = np.bincount(melodies.ravel(), minlength=C) / melodies.size
    assert counts[[0, 1]].sum() + counts[5:].sum() == 0
    # 8000 draws: standard error <= sqrt(.25 / 8000) = 0.0056; allow 4 of them.
    np.testing.assert_allclose(counts[[2, 3, 4]], expected, atol=0.0225)


@pytest.mark.parametrize("flag, value, message", [
    ("--temperature", "0", "must be in [1e-06, 1000000000], got 0"),
    ("--temperature", "-1", "must be in [1e-06, 1000000000], got -1"),
    ("--num", "0", "must be an integer > 0, got 0"),
    ("--length", "0", "must be an integer > 0, got 0"),
])
def test_generate_bad_arguments_exit_2_with_message(tiny_ckpt, tmp_path, capsys, flag, value, message):
    argv = ["generate", "--checkpoint", tiny_ckpt, "--out", str(tmp_path / "gen"), flag, value]
    with pytest.raises(SystemExit) as info:  # refused while parsing, naming the flag
        run_main(cli.main, argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"note-rnn generate: error: argument {flag}: {message}"
    assert not os.path.exists(tmp_path / "gen")


def test_sample_rejects_bad_arguments(tiny_model):
    with pytest.raises(ValueError, match="temperature"):
        sampling.sample_model(tiny_model, 2, temperature=0.0)
    with pytest.raises(ValueError, match="number of sequences"):
        sampling.sample_model(tiny_model, 0)
    with pytest.raises(ValueError, match="temperature"):
        sampling.sample_model(tiny_model, 2, temperature=float("nan"))


def test_generate_missing_checkpoint_exits_2(tmp_path, capsys):
    missing = str(tmp_path / "nowhere")
    assert run_main(cli.main, ["generate", "--checkpoint", missing, "--out", str(tmp_path / "gen")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nowhere" in err


# --- train -------------------------------------------------------------------------------------
def _normalised(text):
    return " ".join(text.split())


def test_train_help_lists_every_train_config_flag_with_default(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--help"])
    assert info.value.code == 0
    text = _normalised(capsys.readouterr().out)
    rename = {"data_dir": "data", "out_dir": "out"}
    fields = dataclasses.fields(TrainConfig)
    flags = ["--" + rename.get(f.name, f.name.replace("_", "-")) for f in fields]
    options = text[text.index("options:"):]
    positions = []
    for flag in flags:
        match = re.search(re.escape(flag) + r"[ ,]", options)
        assert match, f"{flag} missing from note-rnn train --help"
        positions.append(match.start())
    assert positions == sorted(positions)
    bounds = positions[1:] + [len(options)]
    for field, flag, start, end in zip(fields, flags, positions, bounds):
        chunk = options[start:end]
        assert f"(default: {field.default})" in chunk, (flag, chunk)
    assert "--data-dir" not in text and "--out-dir" not in text
    assert "--no-staircase" in text


def test_train_flags_parse_into_train_config():
    from rl_tuner.plumbing.cli_utils import dataclass_from_args
    args = cli.build_parser().parse_args(["train", "--data", "d", "--out", "o", "--layer-sizes", "16", "8",
                                          "--no-staircase", "--learning-rate", "0.5", "--epochs", "2"])
    config = dataclass_from_args(TrainConfig, args)
    assert config == TrainConfig(data_dir="d", out_dir="o", layer_sizes=(16, 8), staircase=False,
                                 learning_rate=0.5, epochs=2)


def _write_dataset(data_dir):
    pattern = [14, 0, 16, 0, 18, 0, 19, 0]
    mel = lambda k: np.array([pattern[(k + i) % 8] for i in range(48)], np.int8)  # noqa: E731
    os.makedirs(data_dir)
    for split, n in (("train", 16), ("validation", 4)):
        mels = [mel(k) for k in range(n)]
        np.savez_compressed(os.path.join(data_dir, f"{split}.npz"), tokens=np.concatenate(mels),
                            lengths=np.array([len(m) for m in mels], np.int32))
    return str(data_dir)


def test_train_command_prints_best_validation_metrics(tmp_path, capsys, monkeypatch):
    data = _write_dataset(tmp_path / "data")
    out = str(tmp_path / "run")
    argv = ["train", "--data", data, "--out", out, "--layer-sizes", "16", "--batch-size", "8",
            "--max-length", "24", "--epochs", "2"]
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/note-rnn"] + argv)
    assert run_main(cli.main, argv) == 0
    stdout = capsys.readouterr().out
    with open(os.path.join(out, "history.json")) as f:
        history = json.load(f)
    assert [r["epoch"] for r in history["epochs"]] == [1, 2]
    best = history["best"]
    expected = (f"best validation accuracy {best['validation_accuracy']:.4f}, log perplexity "
                f"{best['validation_log_perplexity']:.4f}; model in {os.path.join(out, 'model')}")
    assert expected in stdout
    assert best["validation_log_perplexity"] < math.log(38)
    card = checkpoint.read_card(os.path.join(out, "model"))
    assert card["command"] == "note-rnn " + " ".join(argv)
    assert card["hyperparameters"]["layer_sizes"] == [16] and card["hyperparameters"]["epochs"] == 2
    assert note_rnn.load(os.path.join(out, "model")).config.layer_sizes == (16,)


def test_train_missing_data_dir_exit_2_mentions_prepare(tmp_path, capsys):
    argv = ["train", "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "run"), "--layer-sizes", "8"]
    assert run_main(cli.main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "note-rnn prepare" in err and "nodata" in err


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["fly"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
