"""Tests of note_rnn.melody_io (melody files in three formats, primers) and of scoring and
statistics of melodies of different lengths (rl-tuner score / stats)."""

import json

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from note_rnn import encoding, melody_io  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner import cli  # noqa: E402
from note_rnn import music_theory, stats

pytestmark = [pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Couldn't find ffmpeg:RuntimeWarning")]

SCALE = [14, 16, 18, 19, 21, 23, 25, 26]  # C4 D4 E4 F4 G4 A4 B4 C5


def write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


# --- Magenta events <-> tokens ------------------------------------------------------------------
def test_magenta_events_map_to_tokens_and_back():
    events = [60, -2, 62, -1, 48, 83, -2]
    tokens = melody_io.magenta_events_to_tokens(events)
    assert tokens.tolist() == [14, 0, 16, 1, 2, 37, 0]
    assert tokens.dtype == np.int32
    assert melody_io.tokens_to_magenta_events(tokens) == events
    # The same mapping as note_seq's MelodyOneHotEncoding (encoding.melody_to_tokens).
    assert encoding.melody_to_tokens(events).tolist() == tokens.tolist()


@pytest.mark.parametrize("events, message", [
    ([60, 40], "pitch 40 at position 1 is outside 48..83"),
    ([84], "pitch 84 at position 0 is outside 48..83"),
    ([60, -3], "event -3 at position 1 is not a Magenta event"),
    ([60, 2.5], "2.5 at position 1 is not an integer"),
    ([60, True], "True at position 1 is not an integer"),
    ([60, "a"], "'a' at position 1 is not an integer"),
])
def test_bad_magenta_events_are_refused_by_value_and_position(events, message):
    with pytest.raises(ValueError, match=message):
        melody_io.magenta_events_to_tokens(events, "m")


# --- --primer-melody ------------------------------------------------------------------------------
def test_parse_primer_melody_is_magentas_notation():
    assert melody_io.parse_primer_melody("[60, -2, 60, -2, 67, -2, 67, -2]").tolist() == \
        [14, 0, 14, 0, 21, 0, 21, 0]
    assert melody_io.parse_primer_melody(" [60] ").tolist() == [14]
    assert melody_io.parse_primer_melody("(60, -1)").tolist() == [14, 1]


@pytest.mark.parametrize("text, message", [
    ("[60, -2", "is not a list of Magenta events"),
    ("60", "is not a list of Magenta events"),
    ("{'a': 1}", "is not a list of Magenta events"),
    ("import os", "is not a list of Magenta events"),
    ("[]", "empty list"),
    ("[60, 40]", "pitch 40 at position 1 is outside 48..83"),
    ("[60, -3]", "event -3 at position 1"),
    ("[60, 61.5]", "61.5 at position 1 is not an integer"),
])
def test_malformed_primer_melody_is_a_clear_error(text, message):
    with pytest.raises(ValueError, match=message):
        melody_io.parse_primer_melody(text)


# --- --primer-midi ---------------------------------------------------------------------------------
def test_primer_midi_reads_the_first_melody_exactly(tmp_path):
    path = str(tmp_path / "primer.mid")
    encoding.write_midi([14, 0, 16, 1, 30, 0, 0, 0], path)  # G#4 (not in C major): the key is kept
    assert melody_io.read_primer_midi(path).tolist() == [14, 0, 16, 1, 30, 0, 0, 0]


def test_primer_midi_pitches_out_of_range_are_folded_by_octaves(tmp_path):
    import note_seq
    from note_seq.protobuf import music_pb2
    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=120)
    for i, pitch in enumerate([36, 60, 96]):  # C2, C4, C7 -> C3, C4, C5
        seq.notes.add(pitch=pitch, velocity=100, start_time=i * 0.5, end_time=(i + 1) * 0.5)
    seq.total_time = 1.5
    path = str(tmp_path / "wide.mid")
    note_seq.sequence_proto_to_midi_file(seq, path)
    assert melody_io.read_primer_midi(path).tolist() == [2, 0, 0, 0, 14, 0, 0, 0, 26, 0, 0, 0]


@pytest.mark.parametrize("content, message", [
    (None, "cannot read MIDI file .*primer.mid"),
    (b"", "the file is empty"),
    (b"MThd garbage", "not a valid MIDI file"),
])
def test_unreadable_primer_midi_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "primer.mid"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        melody_io.read_primer_midi(str(path))


def test_primer_midi_without_melody_is_a_clear_error(tmp_path):
    import note_seq
    from note_seq.protobuf import music_pb2
    seq = music_pb2.NoteSequence()
    seq.tempos.add(qpm=120)
    seq.notes.add(pitch=36, velocity=100, start_time=0, end_time=0.5, is_drum=True, instrument=9)
    seq.total_time = 0.5
    path = str(tmp_path / "drums.mid")
    note_seq.sequence_proto_to_midi_file(seq, path)
    with pytest.raises(ValueError, match="drums.mid: the file holds no melody"):
        melody_io.read_primer_midi(path)


# --- melody files: formats and detection ---------------------------------------------------------
def test_token_json_magenta_json_and_midi_give_the_same_tokens(tmp_path):
    tokens = [SCALE[0], 0, SCALE[2], 1, SCALE[4], 0, 0, 0]
    events = melody_io.tokens_to_magenta_events(tokens)
    files = {"tokens": write(tmp_path / "t.json", [tokens]), "magenta": write(tmp_path / "m.json", [events])}
    encoding.write_midi(tokens, tmp_path / "x.mid")
    files["midi"] = str(tmp_path / "x.mid")
    for fmt, path in files.items():
        for given in (fmt, "auto"):
            got = melody_io.read_melody_file(path, given)
            assert [m.tolist() for m in got] == [tokens], (fmt, given)


def test_auto_detection_rules(tmp_path):
    # tokens: every value in 0..37; magenta: a value below 0 or above 47.
    assert melody_io.read_melody_file(write(tmp_path / "a.json", [[14, 0, 37]]))[0].tolist() == [14, 0, 37]
    assert melody_io.read_melody_file(write(tmp_path / "b.json", [[60, -2, 83]]))[0].tolist() == [14, 0, 37]
    # A flat list is one melody.
    assert [m.tolist() for m in melody_io.read_melody_file(write(tmp_path / "c.json", [60, -1]))] == [[14, 1]]
    # MIDI by content, whatever the name.
    encoding.write_midi([14, 0, 16, 0], tmp_path / "d.mid")
    (tmp_path / "midi.json").write_bytes((tmp_path / "d.mid").read_bytes())
    assert melody_io.read_melody_file(str(tmp_path / "midi.json"))[0].tolist() == [14, 0, 16, 0]
    # --format tokens on Magenta events: a token error.
    with pytest.raises(ValueError, match="token 60 at position 0 is outside 0..37"):
        melody_io.read_melody_file(str(tmp_path / "b.json"), "tokens")
    # auto-detected Magenta with a token-like value: the message says how it was read.
    with pytest.raises(ValueError, match="read as Magenta events.*--format tokens.*pitch 14 at position 0 is outside 48..83"):
        melody_io.read_melody_file(write(tmp_path / "e.json", [[14, 0, 60]]))


def test_melodies_of_different_lengths_are_read(tmp_path):
    got = melody_io.read_melody_file(write(tmp_path / "v.json", [[14, 0], SCALE]))
    assert [m.tolist() for m in got] == [[14, 0], SCALE]


@pytest.mark.parametrize("fmt", ["tokens", "magenta"])
def test_midi_file_given_as_json_is_a_clear_error(tmp_path, fmt):
    encoding.write_midi(SCALE, tmp_path / "x.mid")
    with pytest.raises(ValueError, match=r"x.mid is a MIDI file, not JSON; use --format midi"):
        melody_io.read_melody_file(str(tmp_path / "x.mid"), fmt)


def test_binary_file_is_not_a_utf8_decoding_traceback(tmp_path):
    path = write(tmp_path / "x.json", b"\xff\xfe\x00\x81binary")
    with pytest.raises(ValueError, match=r"x.json is not a JSON text file \(not UTF-8 text\)"):
        melody_io.read_melody_file(path)


def test_non_midi_file_as_midi_is_a_clear_error(tmp_path):
    path = write(tmp_path / "x.json", [SCALE])
    with pytest.raises(ValueError, match="cannot read MIDI file .*x.json.*not a valid MIDI file"):
        melody_io.read_melody_file(path, "midi")


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown melody format 'abc'"):
        melody_io.read_melody_file(write(tmp_path / "x.json", [SCALE]), "abc")
    with pytest.raises(FileNotFoundError, match="no melody file at .*nothing.json"):
        melody_io.read_melody_file(str(tmp_path / "nothing.json"))


# --- score / stats of melodies of different lengths ------------------------------------------------
def _ragged():
    rng = np.random.default_rng(3)
    return [rng.integers(0, 38, size=n) for n in (32, 7, 32, 16, 1, 16, 40)] + [np.array(SCALE * 3)]


def test_score_of_a_list_equals_scoring_each_melody_alone():
    melodies = _ragged()
    scored = music_theory.score_melody_list(melodies)
    assert len(scored) == len(melodies)
    for melody, (total, parts) in zip(melodies, scored):
        alone_total, alone_parts = music_theory.score_melodies(melody[None, :])
        np.testing.assert_array_equal(total, alone_total[0])
        assert list(parts) == list(alone_parts)
        for name in parts:
            np.testing.assert_array_equal(parts[name], alone_parts[name][0])


def test_stats_of_a_list_pool_the_counts_of_each_melody_alone():
    melodies = _ragged()
    pooled = stats.composition_stats(melodies)
    alone = [stats.composition_stats(m[None, :]) for m in melodies]
    lengths = np.array([len(m) for m in melodies], float)
    for key in ("notes_excessively_repeated", "notes_not_in_key", "notes_in_motif", "notes_in_repeated_motif"):
        expected = sum(a[key] * n for a, n in zip(alone, lengths)) / lengths.sum()
        assert pooled[key] == pytest.approx(expected, abs=1e-12), key
    for key in ("melodies_starting_with_tonic", "melodies_with_unique_max_note", "melodies_with_unique_min_note"):
        assert pooled[key] == pytest.approx(np.mean([a[key] for a in alone]), abs=1e-12), key
    for lag in (1, 2, 3):
        key = f"mean_autocorrelation_lag{lag}"
        assert pooled[key] == pytest.approx(np.nanmean([a[key] for a in alone]), abs=1e-12)
    for key in pooled:
        if key.endswith("_per_composition"):
            assert pooled[key] == pytest.approx(np.mean([a[key] for a in alone]), abs=1e-12), key
    assert pooled["num_melodies"] == len(melodies)


def test_stats_of_equal_lengths_as_list_or_array_are_identical():
    rng = np.random.default_rng(5)
    batch = rng.integers(0, 38, size=(20, 32))
    a, b = stats.composition_stats(batch), stats.composition_stats(list(batch))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_leaps_resolved_pools_leaps_not_ratios():
    a = [25, 18, 23, 21, 25, 16, 21, 25]  # two leaps, both resolved
    b = [26, 16, 21, 14]  # one leap, doubled
    assert stats.composition_stats(np.array([a]))["leaps_resolved"] == 1.0
    assert stats.composition_stats(np.array([b]))["leaps_resolved"] == 0.0
    assert stats.composition_stats([a, b])["leaps_resolved"] == pytest.approx(2 / 3)  # not (1 + 0) / 2


@pytest.mark.parametrize("melodies, message", [
    ([], "need at least one melody"),
    ([[14], []], "melody 1 is empty"),
    ([[14, 40]], "outside 0..37"),
])
def test_bad_lists_are_refused(melodies, message):
    with pytest.raises(ValueError, match=message):
        stats.composition_stats(melodies)
    with pytest.raises(ValueError, match=message):
        music_theory.score_melody_list(melodies)


# --- the commands -----------------------------------------------------------------------------------
def test_score_command_reads_midi_and_magenta_lists_of_any_length(tmp_path, capsys):
    encoding.write_midi(SCALE, tmp_path / "s.mid")
    magenta = write(tmp_path / "m.json", [melody_io.tokens_to_magenta_events(SCALE), [60, -2, 62]])
    for src, expected in ((str(tmp_path / "s.mid"), [SCALE]), (magenta, [SCALE, [14, 0, 16]])):
        out = tmp_path / "score.json"
        assert cli.main(["score", "--melodies", src, "--out", str(out)]) == 0
        result = json.loads(out.read_text())["melodies"]
        assert [m["tokens"] for m in result] == expected
        for entry, tokens in zip(result, expected):
            total, _ = music_theory.score_melodies(np.array([tokens]))
            assert entry["total"] == total[0].tolist()
    capsys.readouterr()


def test_stats_command_with_explicit_formats(tmp_path, capsys):
    encoding.write_midi(SCALE, tmp_path / "s.mid")
    tokens = write(tmp_path / "t.json", [SCALE, [14, 0, 16]])
    out = tmp_path / "stats.json"
    assert cli.main(["stats", "--melodies", tokens, "--format", "tokens", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["num_melodies"] == 2
    assert json.loads(out.read_text())["melodies_starting_with_tonic"] == 1.0
    assert cli.main(["stats", "--melodies", str(tmp_path / "s.mid"), "--format", "midi", "--out", str(out)]) == 0
    expected = stats.composition_stats(np.array([SCALE]))
    assert np.isnan(expected.pop("leaps_resolved"))  # no leaps: NaN, written as null
    assert json.loads(out.read_text()) == {"written_by": "rl-tuner stats", **expected, "leaps_resolved": None}
    capsys.readouterr()


@pytest.mark.parametrize("command", ["score", "stats"])
def test_midi_where_json_is_expected_exits_2_with_one_line(tmp_path, capsys, command):
    encoding.write_midi(SCALE, tmp_path / "s.mid")
    out = tmp_path / "out.json"
    argv = [command, "--melodies", str(tmp_path / "s.mid"), "--format", "tokens", "--out", str(out)]
    assert run_main(cli.main, argv) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 's.mid'} is a MIDI file, not JSON; use --format midi (or --format auto)\n"
    assert not out.exists()


def test_unknown_format_flag_is_an_argparse_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["score", "--melodies", "x", "--format", "abc", "--out", "y"])
    assert info.value.code == 2
    assert "invalid choice: 'abc'" in capsys.readouterr().err


# --- hostile melody and MIDI files ----------------------------------------------------------------
def _special(tmp_path, kind):
    import os
    path = tmp_path / f"{kind}.mid"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        os.symlink("/dev/zero", path)
    elif kind == "loop":
        os.symlink(path, path)
    elif kind == "dangling":
        os.symlink(tmp_path / "gone.mid", path)
    else:
        os.mkdir(path)
    return str(path)


@pytest.mark.parametrize("kind, problem", [
    ("fifo", "it is a FIFO (named pipe), not a file"),
    ("devzero", "it is a character device, not a file"),
    ("dir", "it is a directory, not a file"),
    ("loop", "it is a symbolic link loop (too many levels of symbolic links)"),
    ("dangling", "it is a symbolic link to '{tmp}/gone.mid', which does not exist"),
])
def test_a_fifo_a_device_or_a_directory_is_refused_without_reading(tmp_path, kind, problem):
    """`generate --primer-midi FIFO` (or a link to /dev/zero) blocked for ever in read()."""
    path = _special(tmp_path, kind)
    problem = problem.replace("{tmp}", str(tmp_path))
    with pytest.raises(ValueError) as info:
        melody_io.read_primer_midi(path)
    assert str(info.value) == f"cannot read MIDI file {path!r}: {problem}"
    for fmt in ("auto", "midi", "tokens"):
        with pytest.raises(ValueError) as info:
            melody_io.read_melody_file(path, fmt)
        assert str(info.value) == f"{path}: {problem}; give a melody file (JSON or MIDI)"


def test_deeply_nested_json_is_one_line_not_a_recursion_traceback(tmp_path, capsys):
    path = write(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="deep.json is nested too deeply to be a list of melodies"):
        melody_io.read_melody_file(path)
    assert run_main(cli.main, ["stats", "--melodies", path, "--out", str(tmp_path / "o.json")]) == 2
    assert capsys.readouterr().err == f"error: {path} is nested too deeply to be a list of melodies\n"
    from rl_tuner.plumbing import file_checks, outputs
    assert outputs.written_by(path) is None  # the output rules read such a file as "not ours"
    with pytest.raises(ValueError, match="nested too deeply"):
        file_checks.read_json(path, "config", list)


def test_json_with_a_byte_order_mark_is_read(tmp_path):
    """Windows editors save UTF-8 with a BOM; it used to be 'Unexpected UTF-8 BOM'."""
    from rl_tuner.plumbing import file_checks
    path = write(tmp_path / "bom.json", b"\xef\xbb\xbf[[14, 0, 16]]")
    assert [m.tolist() for m in melody_io.read_melody_file(path)] == [[14, 0, 16]]
    assert file_checks.read_json(write(tmp_path / "c.json", b"\xef\xbb\xbf{\"a\": 1}")) == {"a": 1}


def test_midi_whose_notes_cannot_be_quantized_says_why(tmp_path):
    """A 255/128 time signature was reported as 'no notes outside drum tracks'."""
    import mido
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("time_signature", numerator=255, denominator=128))
    for pitch in (60, 62, 64, 65):
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
    path = str(tmp_path / "odd.mid")
    mid.save(path)
    reason = "its notes cannot be quantized to 16th-note steps as Magenta does; time signature 255/128"
    with pytest.raises(ValueError) as info:
        melody_io.read_melody_file(path)
    assert str(info.value) == f"{path}: the MIDI file holds no melody ({reason})"
    with pytest.raises(ValueError) as info:
        melody_io.read_primer_midi(path)
    assert str(info.value) == f"--primer-midi {path}: the file holds no melody ({reason})"
