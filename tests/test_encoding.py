"""Behaviour tests of note_rnn.encoding: tokens <-> Melody <-> NoteSequence <-> MIDI file."""

import os

import numpy as np
import pytest

from note_rnn import encoding
from note_rnn.encoding import ExtractionOptions, MidiReadError

C_MAJOR_PITCH_CLASSES = {0, 2, 4, 5, 7, 9, 11}

# Two bars of 4/4 in C major with holds (0) and a rest (1), starting with a note and ending
# with a held note: C4 quarter, D4 8th + 8th rest, E4 16th, F4 16th + 8th, G4 half,
# then A4 quarter, 8th rest, B4 8th, C5 half.
MELODY = [14, 0, 0, 0, 16, 0, 1, 0, 18, 19, 0, 0, 21, 0, 0, 0,
          23, 0, 0, 0, 1, 0, 25, 0, 26, 0, 0, 0, 0, 0, 0, 0]


def _pitch_classes(tokens):
    return {(int(t) + 46) % 12 for t in tokens if t >= 2}


def test_tokens_map_to_note_seq_melody_events():
    # index 0 = no event (-2), 1 = note-off (-1), i >= 2 = MIDI i + 46.
    melody = encoding.tokens_to_melody([14, 0, 1, 0, 2, 37])
    assert list(melody) == [60, -2, -1, -2, 48, 83]
    assert melody.steps_per_quarter == 4
    assert melody.steps_per_bar == 16


def test_melody_round_trip_is_exact():
    tokens = encoding.melody_to_tokens(encoding.tokens_to_melody(MELODY))
    assert tokens.dtype == np.int8
    np.testing.assert_array_equal(tokens, MELODY)


def test_leading_note_off_becomes_hold():
    # note_seq stores silence before the first note as "no event".
    tokens = encoding.melody_to_tokens(encoding.tokens_to_melody([1, 1, 14, 0]))
    np.testing.assert_array_equal(tokens, [0, 0, 14, 0])


def test_note_sequence_timings_at_80_qpm():
    sequence = encoding.tokens_to_note_sequence(MELODY)  # one step = 60 / 80 / 4 = 0.1875 s
    notes = [(n.pitch, n.start_time, n.end_time) for n in sequence.notes]
    step = 0.1875
    expected = [(60, 0, 4), (62, 4, 6), (64, 8, 9), (65, 9, 12), (67, 12, 16),
                (69, 16, 20), (71, 22, 24), (72, 24, 32)]
    assert len(notes) == len(expected)
    for (pitch, start, end), (e_pitch, e_start, e_end) in zip(notes, expected):
        assert pitch == e_pitch
        assert start == pytest.approx(e_start * step)
        assert end == pytest.approx(e_end * step)
    assert sequence.total_time == pytest.approx(32 * step)  # 6 s for 2 bars
    assert sequence.tempos[0].qpm == 80.0
    assert {n.velocity for n in sequence.notes} == {100}


def test_note_sequence_tempo_is_configurable():
    sequence = encoding.tokens_to_note_sequence([14, 0, 16, 0], qpm=120.0)
    assert sequence.notes[1].start_time == pytest.approx(2 * 0.125)
    with pytest.raises(ValueError, match="qpm"):
        encoding.tokens_to_note_sequence([14], qpm=0)


def test_midi_round_trip_is_exact(tmp_path):
    path = tmp_path / "melody.mid"
    encoding.write_midi(MELODY, path)
    melodies = encoding.read_midi(path)
    assert len(melodies) == 1
    assert melodies[0].dtype == np.int8
    np.testing.assert_array_equal(melodies[0], MELODY)


def test_midi_file_note_times_at_80_qpm(tmp_path):
    path = tmp_path / "melody.mid"
    encoding.write_midi(MELODY, path)
    sequence = encoding.read_note_sequence(path)
    starts = [n.start_time for n in sequence.notes]
    assert starts == pytest.approx([0, 0.75, 1.5, 1.6875, 2.25, 3.0, 4.125, 4.5], abs=1e-3)
    assert sequence.notes[-1].end_time == pytest.approx(6.0, abs=1e-3)


def test_midi_round_trip_keeps_key_when_asked(tmp_path):
    g_major = [t + 7 for t in MELODY if t >= 2]  # a melody of quarter notes in G major
    tokens = [x for t in g_major for x in (t, 0, 0, 0)]
    path = tmp_path / "g.mid"
    encoding.write_midi(tokens, path)
    kept = encoding.read_midi(path, ExtractionOptions(transpose_to_key=None))
    np.testing.assert_array_equal(kept[0], tokens)


def test_read_midi_transposes_to_c_major(tmp_path):
    g_major = [21, 23, 25, 26, 28, 30, 32, 33, 28, 25, 21]  # G A B C D E F# G D B G
    tokens = [x for t in g_major for x in (t, 0, 0, 0)]
    path = tmp_path / "g.mid"
    encoding.write_midi(tokens, path)
    melody = encoding.read_midi(path)[0]
    assert _pitch_classes(melody) <= C_MAJOR_PITCH_CLASSES
    pitches = melody[melody >= 2].astype(int)
    np.testing.assert_array_equal(np.diff(pitches), np.diff(g_major))  # same intervals
    assert (pitches[0] + 46) % 12 == 0  # the G tonic became C


def test_out_of_range_pitches_are_folded_into_48_83(tmp_path):
    sequence = encoding.tokens_to_note_sequence([14, 0, 16, 0, 18, 0])
    for note in sequence.notes:
        note.pitch += 36  # three octaves up, above MIDI 83
    melody = encoding.note_sequence_to_melodies(sequence)[0]
    np.testing.assert_array_equal(melody, [14, 0, 16, 0, 18, 0])


def test_long_rest_splits_melodies_and_filters_drop_short_ones():
    bar_of_rest = [1] + [0] * 15
    tokens = [14, 0, 16, 0] + bar_of_rest + [18, 0, 19, 0]
    sequence = encoding.tokens_to_note_sequence(tokens)
    melodies = encoding.note_sequence_to_melodies(sequence)
    # A rest of a whole bar ends a melody; the next one starts at its bar line (step 16).
    assert [m.tolist() for m in melodies] == [[14, 0, 16, 0], [0, 0, 0, 0, 18, 0, 19, 0]]
    assert encoding.note_sequence_to_melodies(sequence, encoding.MAGENTA_OPTIONS) == []


def test_magenta_filters_truncate_long_melodies():
    tokens = [14, 0, 16, 0, 18, 0, 19, 0, 21, 0, 23, 0, 25, 0, 26, 0] * 40  # 640 steps
    melodies = encoding.note_sequence_to_melodies(
        encoding.tokens_to_note_sequence(tokens), encoding.MAGENTA_OPTIONS)
    assert [len(m) for m in melodies] == [512]
    np.testing.assert_array_equal(melodies[0], tokens[:512])


@pytest.mark.parametrize("tokens, bad, position", [
    ([14, 0, 38], "38", 2),
    ([14, -1], "-1", 1),
    ([1.5], "1.5", 0),
    ([14, 0, "a"], "'a'", 2),
    ([0, None], "None", 1),
])
def test_invalid_tokens_raise_value_error(tokens, bad, position):
    with pytest.raises(ValueError, match=rf"invalid token {bad} at position {position}"):
        encoding.tokens_to_melody(tokens)
    with pytest.raises(ValueError, match="invalid token"):
        encoding.write_midi(tokens, os.devnull)


def test_invalid_token_in_integer_array_is_located():
    tokens = np.array([14, 0, 0, 40, 0], dtype=np.int64)
    with pytest.raises(ValueError, match="invalid token 40 at position 3"):
        encoding.validate_tokens(tokens)


def test_integral_numpy_and_float_tokens_are_accepted():
    np.testing.assert_array_equal(encoding.validate_tokens(np.array([3, 2], np.int64)), [3, 2])
    np.testing.assert_array_equal(encoding.validate_tokens([2.0]), [2])


def test_melody_to_tokens_rejects_unencodable_pitches():
    with pytest.raises(ValueError, match="melody event 90 at position 1"):
        encoding.melody_to_tokens([60, 90])


def test_corrupt_midi_raises_midi_read_error(tmp_path):
    path = tmp_path / "corrupt.mid"
    path.write_bytes(np.random.default_rng(0).bytes(200))
    with pytest.raises(MidiReadError, match="corrupt.mid.*not a valid MIDI file") as info:
        encoding.read_midi(path)
    assert isinstance(info.value, ValueError)
    assert info.value.path == str(path)


def test_missing_and_empty_midi_raise_midi_read_error(tmp_path):
    with pytest.raises(MidiReadError, match="missing.mid.*No such file"):
        encoding.read_midi(tmp_path / "missing.mid")
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    with pytest.raises(MidiReadError, match="empty.mid.*empty"):
        encoding.read_midi(empty)
