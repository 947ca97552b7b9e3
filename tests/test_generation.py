"""Generation as Magenta users know it: primers, one command style for ``note-rnn generate`` and
``rl-tuner generate`` (same flags, same writer), in-process and on the command line."""

import glob
import json
import os
import re

import numpy as np
import pytest

import rl_tuner  # (also selects Keras 2 before TensorFlow)
import note_rnn
import tensorflow as tf  # noqa: E402

from rl_tuner.plumbing import checkpoint  # noqa: E402
from note_rnn import cli as note_cli, encoding, generate
from rl_tuner.models import sampling, sequence_model as model_lib  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner import cli as rl_cli  # noqa: E402
from rl_tuner.runner import evaluate, policy as policy_lib  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Couldn't find ffmpeg:RuntimeWarning")]

PRIMER = [14, 0, 16, 1, 21]  # Magenta events [60, -2, 62, -1, 67]


def _tiny(seed, name, scale=3.0):
    net = model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=seed, name=name)
    net.dense.kernel.assign(net.dense.kernel * scale)  # peakier distributions: the state matters
    return net


@pytest.fixture(scope="module")
def prior():
    return _tiny(0, "prior_rnn")


@pytest.fixture(scope="module")
def tuned(prior):
    return policy_lib.Policy(prior, _tiny(1, "q_rnn", 8.0), "g")


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, prior):
    return checkpoint.save_model(str(tmp_path_factory.mktemp("ckpt") / "note_rnn"), prior)


def _manual(step, state, primer, num, length, temperature, seed):
    """Primer tokens first, fed in turn from the zero state; then step t samples with (seed, t)."""
    tokens = np.zeros((num, length), np.int32)
    tokens[:, 0] = primer[0]
    x = tf.constant(tokens[:, 0])
    for t in range(1, length):
        logits, state = step(x, state)
        if t < len(primer):
            nxt = np.full(num, primer[t], np.int32)
        else:
            nxt = tf.random.stateless_categorical(logits / temperature, 1, seed=tf.constant([seed, t], tf.int64),
                                                  dtype=tf.int32)[:, 0].numpy()
        tokens[:, t] = nxt
        x = tf.constant(nxt)
    return tokens


def test_note_rnn_sample_starts_with_the_primer_and_continues_from_its_state(prior):
    got = sampling.sample_model(prior, 6, length=14, temperature=0.9, seed=4, primer=PRIMER)
    assert got.shape == (6, 14) and got.dtype == np.int32
    np.testing.assert_array_equal(got[:, :5], np.tile(PRIMER, (6, 1)))
    expected = _manual(prior.step, prior.zero_state(6), PRIMER, 6, 14, 0.9, 4)
    np.testing.assert_array_equal(got, expected)


def test_rl_tuner_sample_is_the_one_entry_point_for_models_and_policies(prior, tuned):
    np.testing.assert_array_equal(rl_tuner.sample(prior, 4, 10, 0.9, seed=3, primer=PRIMER[:2]),
                                  sampling.sample_model(prior, 4, 10, 0.9, seed=3, primer=PRIMER[:2]))
    np.testing.assert_array_equal(rl_tuner.sample(tuned, 4, 10, 0.9, seed=3),
                                  evaluate.sample_policy(tuned, 4, 10, 0.9, seed=3)["tokens"])
    assert not hasattr(rl_tuner, "tune") and not hasattr(note_rnn, "sample")  # one name each


def test_policy_sample_conditions_both_q_network_and_prior_on_the_primer(tuned):
    out = evaluate.sample_policy(tuned, 5, length=12, temperature=0.8, seed=2, primer=PRIMER)
    np.testing.assert_array_equal(out["tokens"][:, :5], np.tile(PRIMER, (5, 1)))

    def step(x, state):  # the policy's logits: Q-network and prior both stepped on every token
        logits, _, state = tuned.step(x, state)
        return logits, state
    np.testing.assert_array_equal(out["tokens"], _manual(step, tuned.zero_state(5), PRIMER, 5, 12, 0.8, 2))
    # The first position has no prediction (records 0); later primer positions record the
    # forced token's log p under the prior.
    np.testing.assert_array_equal(out["log_prior"][:, 0], 0.0)
    _, log_prior, _ = tuned.step(tf.constant([PRIMER[0]] * 5), tuned.zero_state(5))
    np.testing.assert_allclose(out["log_prior"][:, 1], log_prior.numpy()[:, PRIMER[1]], rtol=1e-5)


def test_one_token_primer_and_primer_one_shorter_than_length(prior):
    one = sampling.sample_model(prior, 3, length=6, seed=1, primer=[14])
    np.testing.assert_array_equal(one[:, 0], 14)
    np.testing.assert_array_equal(one, _manual(prior.step, prior.zero_state(3), [14], 3, 6, 1.0, 1))
    last = sampling.sample_model(prior, 2, length=6, seed=1, primer=PRIMER)  # one sampled token
    np.testing.assert_array_equal(last, _manual(prior.step, prior.zero_state(2), PRIMER, 2, 6, 1.0, 1))


def test_without_primer_sampling_is_unchanged(prior):
    # The priming token is drawn with (seed, -1) and excluded; step t uses (seed, t).
    got = sampling.sample_model(prior, 4, length=8, seed=9)
    x = tf.random.stateless_uniform([4], seed=tf.constant([9, -1], tf.int64), maxval=38, dtype=tf.int32)
    state, tokens = prior.zero_state(4), []
    for t in range(8):
        logits, state = prior.step(x, state)
        x = tf.random.stateless_categorical(logits, 1, seed=tf.constant([9, t], tf.int64), dtype=tf.int32)[:, 0]
        tokens.append(x.numpy())
    np.testing.assert_array_equal(got, np.stack(tokens, 1))


@pytest.mark.parametrize("primer, length, message", [
    (PRIMER, 5, r"the primer \(5 steps\) must be shorter than the sequence length \(5\)"),
    (PRIMER, 3, r"the primer \(5 steps\) must be shorter than the sequence length \(3\)"),
    ([], 5, "the primer is empty"),
])
def test_sample_refuses_primers_not_shorter_than_length(prior, primer, length, message):
    with pytest.raises(ValueError, match=message):
        sampling.sample_model(prior, 2, length=length, primer=primer)



@pytest.mark.parametrize("primer, message", [
    ([14, 38], r"primer: token 38 at position \(1,\) is outside 0..37"),
    ([-1], r"primer: token -1 at position \(0,\) is outside 0..37"),
    ([14.5, 0], r"primer: tokens must be integers, got 14.5 at position \(0,\)"),
    ([[14, 0]], r"primer: expected tokens of rank 1, got shape \(1, 2\)"),
    ([True, False], r"primer: tokens must be integers, got dtype bool"),
])
def test_primer_tokens_must_be_the_models_classes(prior, tuned, primer, message):
    """Before: a TensorFlow InvalidArgumentError (gather) or, for 14.5 and [True, False], silently 14 and [1, 0]."""
    with pytest.raises(ValueError, match=message):
        sampling.sample_model(prior, 2, length=6, primer=primer)
    with pytest.raises(ValueError, match=message):
        evaluate.sample_policy(tuned, 2, length=6, primer=primer)

# --- the commands ------------------------------------------------------------------------------------
def test_both_generate_commands_take_the_same_flags():
    argv = ["generate", "--num", "3", "--length", "20", "--temperature", "0.5", "--seed", "7", "--qpm", "100",
            "--no-audio", "--out", "o", "--primer-melody", "[60, -2]"]
    for model_flag in ("--model", "--checkpoint"):
        a = vars(note_cli.build_parser().parse_args(argv + [model_flag, "m"]))
        b = vars(rl_cli.build_parser().parse_args(argv + [model_flag, "m"]))
        assert a == b == {"command": "generate", "model": "m", "num": 3, "length": 20, "temperature": 0.5,
                          "seed": 7, "qpm": 100.0, "no_audio": True, "out": "o", "primer_melody": "[60, -2]",
                          "primer_midi": None, "overwrite": False}
    defaults = vars(note_cli.build_parser().parse_args(["generate"]))
    assert defaults == vars(rl_cli.build_parser().parse_args(["generate"]))
    assert defaults == {"command": "generate", "model": None, "num": 10, "length": 32, "temperature": 1.0,
                        "seed": 0, "qpm": None, "no_audio": False, "out": "generated", "primer_melody": None,
                        "primer_midi": None, "overwrite": False}
    # evaluate commands take both spellings of the model flag too
    assert rl_cli.build_parser().parse_args(["evaluate", "--checkpoint", "m"]).model == "m"
    assert note_cli.build_parser().parse_args(["evaluate", "--model", "m", "--data", "d"]).model == "m"


@pytest.mark.parametrize("main", [note_cli.main, rl_cli.main], ids=["note-rnn", "rl-tuner"])
def test_primer_melody_on_the_command_line(main, tiny_ckpt, prior, tmp_path, capsys):
    out = tmp_path / "gen"
    argv = ["generate", "--model", tiny_ckpt, "--num", "3", "--length", "12", "--seed", "5",
            "--primer-melody", "[60, -2, 62, -1, 67]", "--out", str(out)]
    assert main(argv) == 0
    assert f"wrote 3 melodies to {out} (MIDI, WAV and melodies.json; model {tiny_ckpt}, primer of 5 steps)" \
        in capsys.readouterr().out
    melodies = json.loads((out / "melodies.json").read_text())
    np.testing.assert_array_equal(melodies, sampling.sample_model(prior, 3, 12, seed=5, primer=PRIMER))
    assert sorted(os.listdir(out)) == [".sequence-tutor.json", "melodies.json", "melody_000.mid", "melody_000.wav",
                                       "melody_001.mid", "melody_001.wav", "melody_002.mid", "melody_002.wav"]
    # Each MIDI file holds its melody: it starts with the primer's notes C4, D4 (rest) G4.
    for i, melody in enumerate(melodies):
        sequence = encoding.read_note_sequence(out / f"melody_{i:03d}.mid")
        assert [n.pitch for n in sorted(sequence.notes, key=lambda n: n.start_time)][:3] == [60, 62, 67]
        with open(out / f"melody_{i:03d}.mid", "rb") as f:
            encoding.write_midi(melody, tmp_path / "direct.mid")
            assert f.read() == (tmp_path / "direct.mid").read_bytes()


@pytest.mark.parametrize("main", [note_cli.main, rl_cli.main], ids=["note-rnn", "rl-tuner"])
def test_primer_midi_on_the_command_line(main, tiny_ckpt, prior, tmp_path, capsys):
    encoding.write_midi([14, 0, 16, 1, 21, 0, 0, 0], tmp_path / "primer.mid")
    out = tmp_path / "gen"
    assert main(["generate", "--checkpoint", tiny_ckpt, "--num", "2", "--length", "16", "--seed", "3",
                 "--primer-midi", str(tmp_path / "primer.mid"), "--no-audio", "--out", str(out)]) == 0
    capsys.readouterr()
    melodies = np.array(json.loads((out / "melodies.json").read_text()))
    np.testing.assert_array_equal(melodies[:, :8], np.tile([14, 0, 16, 1, 21, 0, 0, 0], (2, 1)))
    np.testing.assert_array_equal(melodies, sampling.sample_model(prior, 2, 16, seed=3, primer=[14, 0, 16, 1, 21, 0, 0, 0]))
    assert not glob.glob(str(out / "*.wav"))
    # No --qpm: the primer MIDI's tempo (80, written by encoding.write_midi at 80 qpm) -- then 95 from a
    # primer written at 95 qpm, and --qpm wins over the primer's tempo.
    assert encoding.read_note_sequence(out / "melody_000.mid").tempos[0].qpm == pytest.approx(80)
    encoding.write_midi([14, 0, 16, 1], tmp_path / "fast.mid", qpm=95)
    for extra, qpm in (([], 95), (["--qpm", "60"], 60)):
        assert main(["generate", "--model", tiny_ckpt, "--num", "1", "--length", "6", "--no-audio",
                     "--primer-midi", str(tmp_path / "fast.mid"), "--out", str(tmp_path / f"q{qpm}")] + extra) == 0
        assert encoding.read_note_sequence(tmp_path / f"q{qpm}" / "melody_000.mid").tempos[0].qpm == \
            pytest.approx(qpm, rel=1e-5)  # MIDI stores whole microseconds per quarter
    capsys.readouterr()


def test_both_commands_write_the_same_files_for_a_note_rnn(tiny_ckpt, tmp_path, capsys):
    argv = ["generate", "--model", tiny_ckpt, "--num", "2", "--length", "10", "--seed", "8", "--qpm", "120"]
    assert note_cli.main(argv + ["--out", str(tmp_path / "a")]) == 0
    assert rl_cli.main(argv + ["--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    names = sorted(os.listdir(tmp_path / "a"))
    assert names == sorted(os.listdir(tmp_path / "b")) and len(names) == 6  # 2 MIDI, 2 WAV, tokens, manifest
    names.remove(".sequence-tutor.json")  # names the command that wrote it
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert encoding.read_note_sequence(tmp_path / "a" / "melody_000.mid").tempos[0].qpm == pytest.approx(120)


@pytest.mark.parametrize("main", [note_cli.main, rl_cli.main], ids=["note-rnn", "rl-tuner"])
@pytest.mark.parametrize("extra, message", [
    (["--primer-melody", "[60, -2, 62]", "--length", "3"],
     r"the primer \(3 steps\) must be shorter than the sequence length \(3\); the length counts the primer"),
    (["--primer-melody", "[60, -2, 62]", "--length", "2"],
     r"the primer \(3 steps\) must be shorter than the sequence length \(2\)"),
    (["--primer-melody", "[60, -2"], "--primer-melody '\\[60, -2' is not a list of Magenta events"),
    (["--primer-melody", "[60, 30]"], "--primer-melody: pitch 30 at position 1 is outside 48..83"),
    (["--primer-melody", "[]"], "--primer-melody is an empty list"),
    (["--primer-midi", "MISSING"], "cannot read MIDI file '.*missing.mid'"),
    (["--primer-midi", "NOT_MIDI"], "cannot read MIDI file '.*notmidi.mid': not a valid MIDI file"),
])
def test_bad_generation_flags_exit_2_with_one_line_before_loading(main, tmp_path, capsys, extra, message):
    # (numbers out of range stop at argument parsing: tests/test_settings.py)
    (tmp_path / "notmidi.mid").write_bytes(b"not a midi file")
    extra = [str(tmp_path / "missing.mid") if a == "MISSING" else str(tmp_path / "notmidi.mid") if a == "NOT_MIDI"
             else a for a in extra]
    out = tmp_path / "gen"
    # The model does not exist: argument errors are reported before any model is loaded.
    argv = ["generate", "--model", str(tmp_path / "no_model"), "--out", str(out)] + extra
    assert run_main(main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert not out.exists()


@pytest.mark.parametrize("main", [note_cli.main, rl_cli.main], ids=["note-rnn", "rl-tuner"])
def test_both_primer_flags_at_once_is_an_argparse_error(main, capsys):
    with pytest.raises(SystemExit) as info:
        main(["generate", "--primer-melody", "[60]", "--primer-midi", "x.mid"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
