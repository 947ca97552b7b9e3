"""Behaviour tests of note_rnn.corpus: building, splitting and loading the training set."""

import json
import os
import signal
import struct
import time

import numpy as np
import pytest

from note_rnn import abc, cli, corpus, encoding
from note_rnn.corpus import PrepareConfig

C_MAJOR_PITCH_CLASSES = {0, 2, 4, 5, 7, 9, 11}

# A G-major tune (K:G, with F#) of 8 bars of 4/4 in 8th notes, and a tune music21 rejects.
G_MAJOR_ABC = """X:1
T:Test tune in G
M:4/4
L:1/8
K:G
GABc dedB|dBGB d2g2|f2ed cBAG|FGAF D4|GABc dedB|dBGB d2g2|fedc AFDF|G2B2 G4|
"""
BROKEN_ABC = """X:2
T:Broken
M:4/4
L:1/8
K:G
|: ((( [[[ ]]] |
"""


def _quarters(pitch_tokens):
    """A melody of quarter notes (token, hold, hold, hold)."""
    return [x for t in pitch_tokens for x in (t, 0, 0, 0)]


def _tune(variant=0):
    """An 8-bar C-major melody of 32 quarter notes; each variant is a different melody."""
    rng = np.random.default_rng(variant)
    return _quarters(rng.choice([14, 16, 18, 19, 21, 23, 25, 26], size=32).tolist())


def _config(source, out_dir, **overrides):
    settings = dict(source=str(source), out_dir=str(out_dir), workers=0, progress=False,
                    verbose=False)
    settings.update(overrides)
    return PrepareConfig(**settings)


def _split_by_source(out_dir):
    """Maps each source id in a written data set to its split."""
    result = {}
    for split in corpus.SPLITS:
        with np.load(out_dir / f"{split}.npz") as data:
            result.update({source: split for source in data["sources"].tolist()})
    return result


def _pitch_classes(melodies):
    tokens = np.concatenate(melodies)
    return np.bincount((tokens[tokens >= 2].astype(int) + 46) % 12, minlength=12)


@pytest.fixture(scope="module")
def music21_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("folk")
    config = _config("music21", out_dir, collections=("oneills1850",), limit=4)
    return out_dir, corpus.prepare(config)


def test_music21_tunes_become_c_major_melodies(music21_run):
    out_dir, summary = music21_run
    assert summary.files_read == 1
    assert summary.tunes_parsed == 4
    assert summary.skipped == []
    melodies = corpus.load_split(out_dir, "train") + corpus.load_split(out_dir, "validation")
    assert len(melodies) == summary.train.melodies + summary.validation.melodies >= 4
    assert sum(map(len, melodies)) == summary.train.tokens + summary.validation.tokens
    for melody in melodies:
        assert melody.dtype == np.int8
        assert melody.min() >= 0 and melody.max() <= 37
        assert 7 * 8 <= len(melody) <= 512  # at least 7 bars of 2/4, at most max_steps
    histogram = _pitch_classes(melodies)
    assert histogram[sorted(C_MAJOR_PITCH_CLASSES)].sum() / histogram.sum() > 0.9
    all_tokens = np.concatenate(melodies)
    assert np.mean(all_tokens == 0) > 0.3  # holds are the most common token


def test_summary_json_records_config_and_counts(music21_run):
    out_dir, summary = music21_run
    record = json.loads((out_dir / "summary.json").read_text())
    assert record["config"]["collections"] == ["oneills1850"]
    assert record["summary"]["tunes_parsed"] == 4
    assert record["summary"]["train"]["tokens"] == summary.train.tokens
    assert set(record["summary"]["token_histogram"]) == {"hold", "note_off", "pitch"}
    assert "tunes parsed 4" in summary.format()
    assert set(record["versions"]) == {"note-seq", "music21", "numpy"}


def test_folder_with_corrupt_midi_skips_and_names_it(tmp_path):
    source = tmp_path / "midi"
    (source / "sub").mkdir(parents=True)
    encoding.write_midi(_tune(), source / "a.mid")
    encoding.write_midi(_tune(variant=2), source / "sub" / "b.midi")
    (source / "corrupt.mid").write_bytes(np.random.default_rng(1).bytes(300))
    (source / "notes.txt").write_text("not music")
    summary = corpus.prepare(_config(source, tmp_path / "out", workers=2))  # process pool
    assert summary.files_read == 3
    assert summary.tunes_parsed == 2
    assert len(summary.skipped) == 1
    assert summary.skipped[0]["source"] == "corrupt.mid"
    assert "not a valid MIDI file" in summary.skipped[0]["reason"]
    assert summary.train.melodies + summary.validation.melodies == 2
    record = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert record["summary"]["skipped"][0]["source"] == "corrupt.mid"


def test_g_major_tunes_come_out_in_c_major(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "tunes.abc").write_text(G_MAJOR_ABC + "\n" + BROKEN_ABC)
    g_major_midi = _quarters([21, 23, 25, 26, 28, 30, 32, 33] * 4)  # G major scale, F#
    encoding.write_midi(g_major_midi, source / "scale.mid")
    summary = corpus.prepare(_config(source, tmp_path / "out", validation_fraction=0.0))
    assert summary.tunes_parsed == 2
    assert [s["source"] for s in summary.skipped] == ["tunes.abc#2"]  # only the broken tune
    melodies = corpus.load_split(tmp_path / "out", "train")
    assert len(melodies) == 2
    for melody in melodies:
        histogram = _pitch_classes([melody])
        assert set(np.flatnonzero(histogram)) <= C_MAJOR_PITCH_CLASSES
    abc_melody = melodies[1]  # sorted: scale.mid, tunes.abc#1
    assert len(abc_melody) == 8 * 16
    assert (abc_melody[0] + 46) % 12 == 0  # the tune starts on its tonic G -> C


def test_abc_accidentals_hold_to_the_bar_line():
    tune = "X:1\nM:4/4\nL:1/4\nK:C\n^F F G F | F4 |\n"
    sequence = abc.abc_to_note_sequence(tune)
    assert [n.pitch for n in sequence.notes] == [66, 66, 67, 66, 65]


def test_abc_pickup_is_aligned_to_the_bar_grid_and_ties_are_merged():
    tune = "X:1\nM:4/4\nL:1/4\nK:C\nG | c2 e2- | e4 |\n"
    notes = [(n.pitch, n.start_time, n.end_time) for n in abc.abc_to_note_sequence(tune).notes]
    # 120 qpm: 0.5 s per quarter. The pickup G fills beat 4 of bar 0 (1.5-2.0 s); c2 is a
    # half note (2.0-3.0 s); e2- tied to e4 is one note of 2 + 4 quarters (3.0-6.0 s).
    assert notes == [(67, 1.5, 2.0), (72, 2.0, 3.0), (76, 3.0, 6.0)]


def test_same_config_gives_same_files(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for i in range(4):
        encoding.write_midi(_tune(variant=i), source / f"tune{i}.mid")
    runs = []
    for name in ("one", "two"):
        corpus.prepare(_config(source, tmp_path / name, validation_fraction=0.5, seed=3))
        runs.append({split: corpus.load_split(tmp_path / name, split) for split in corpus.SPLITS})
    for split in corpus.SPLITS:
        assert len(runs[0][split]) == len(runs[1][split])
        for first, second in zip(runs[0][split], runs[1][split]):
            np.testing.assert_array_equal(first, second)


def test_split_of_a_file_does_not_change_when_another_is_added(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for i in range(8):
        encoding.write_midi(_tune(variant=i), source / f"tune{i}.mid")
    corpus.prepare(_config(source, tmp_path / "before", validation_fraction=0.5))
    before = _split_by_source(tmp_path / "before")
    assert set(before.values()) == {"train", "validation"}
    encoding.write_midi(_tune(variant=9), source / "added.mid")
    corpus.prepare(_config(source, tmp_path / "after", validation_fraction=0.5))
    after = _split_by_source(tmp_path / "after")
    assert set(after) == set(before) | {"added.mid"}
    assert {s: after[s] for s in before} == before


def test_split_of_depends_only_on_id_fraction_and_seed():
    ids = [f"collection/file.abc#{i}" for i in range(2000)]
    splits = [corpus.split_of(i, 0.1, seed=0) for i in ids]
    assert splits == [corpus.split_of(i, 0.1, seed=0) for i in ids]
    assert 0.07 < splits.count("validation") / len(ids) < 0.13
    assert splits != [corpus.split_of(i, 0.1, seed=1) for i in ids]
    assert all(corpus.split_of(i, 0.0) == "train" for i in ids[:50])


def test_duplicate_melodies_are_dropped(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    encoding.write_midi(_tune(), source / "a.mid")
    encoding.write_midi(_tune(), source / "copy_of_a.mid")
    summary = corpus.prepare(_config(source, tmp_path / "out"))
    assert summary.tunes_parsed == 2
    assert summary.duplicates_dropped == 1
    assert summary.train.melodies + summary.validation.melodies == 1


def test_short_tunes_are_parsed_but_give_no_melody(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    encoding.write_midi(_quarters([14, 16, 18, 19, 21]), source / "short.mid")
    summary = corpus.prepare(_config(source, tmp_path / "out"))
    assert (summary.tunes_parsed, summary.tunes_without_melodies, summary.skipped) == (1, 1, [])
    assert corpus.load_split(tmp_path / "out", "train") == []


def test_a_tune_that_hangs_is_abandoned_after_the_timeout():
    with pytest.raises(TimeoutError):
        with corpus._time_limit(0.05):  # pylint: disable=protected-access
            time.sleep(2)


def test_split_abc_tunes_prepends_the_file_header():
    text = "% header comment\nL:1/8\n\nX:1\nK:C\nabc|\n\nX:2\nK:G\ndef|\n"
    tunes = corpus.split_abc_tunes(text)
    assert len(tunes) == 2
    assert tunes[0].startswith("% header comment\nL:1/8\n\nX:1\n")
    assert tunes[1].endswith("X:2\nK:G\ndef|\n")
    assert corpus.split_abc_tunes("no tunes here") == []


def test_load_split_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.npz.*note-rnn prepare"):
        corpus.load_split(tmp_path, "train")
    with pytest.raises(ValueError, match="unknown split 'test'"):
        corpus.load_split(tmp_path, "test")


@pytest.mark.parametrize("content, problem", [
    (b"", "train.npz: the data set split is empty"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n", "train.npz: it is a git-lfs pointer"),
    ("truncated", "train.npz: the data set split is truncated or corrupt"),
    (dict(tokens=np.arange(4)), "train.npz: the data set split has no lengths array"),
    (dict(tokens=np.arange(4), lengths=np.array([3])), "the melody lengths add up to 3 tokens, but the file holds 4"),
    (dict(tokens=np.array([2, 38]), lengths=np.array([2])), "tokens must lie in 0..37, found 2..38"),
    (dict(tokens=np.zeros(2), lengths=np.array([2])), "tokens and lengths must be 1-D integer arrays, got float64"),
])
def test_a_broken_split_file_is_named(tmp_path, content, problem):
    path = tmp_path / "train.npz"
    if isinstance(content, dict):
        np.savez(path, **content)
    elif content == "truncated":
        np.savez_compressed(path, tokens=np.arange(1000), lengths=np.array([1000]))
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError) as error:
        corpus.load_split(tmp_path, "train")
    assert str(error.value).startswith(str(tmp_path)) and problem in str(error.value)


def test_config_validation_and_bad_sources(tmp_path):
    assert PrepareConfig().workers >= 1
    assert PrepareConfig().collections == corpus.DEFAULT_COLLECTIONS
    assert not PrepareConfig().include_essen
    with pytest.raises(ValueError, match="validation_fraction"):
        PrepareConfig(validation_fraction=1.0)
    with pytest.raises(ValueError, match="workers"):
        PrepareConfig(workers=-1)
    with pytest.raises(ValueError, match="transpose_to_key"):
        PrepareConfig(transpose_to_key=12)
    assert PrepareConfig(transpose_to_key=-1).extraction_options().transpose_to_key is None
    with pytest.raises(FileNotFoundError, match="does not exist"):
        corpus.prepare(_config(tmp_path / "nowhere", tmp_path / "out"))
    with pytest.raises(ValueError, match="no ABC files"):
        corpus.prepare(_config("music21", tmp_path / "out", collections=("noSuchCollection",)))


# Bad files: absurd sizes, dead and hanging workers, file names that are not UTF-8


def _vlq(value):
    """A MIDI variable-length quantity (mido reads any number of bytes)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _huge_tick_midi():
    """The 65-byte file of note-seq issue 27: two notes at tick 2**31 - 1."""
    events = (b"\x00\xff\x03\x01\x00" + b"\x00\xff\x58\x04\x04\x02\x24\x08" * 2
              + _vlq(2**31 - 1) + b"\x90\x3a\x64" + b"\x00\x35\x64" + b"\x00\x80\x3a\x40"
              + b"\x00\x35\x40" + b"\x00\xff\x2f\x00")
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(events))
            + events)


def test_midi_with_a_huge_tick_is_refused_before_parsing(tmp_path):
    path = tmp_path / "crash.mid"
    path.write_bytes(_huge_tick_midi())
    assert path.stat().st_size == 65
    with pytest.raises(encoding.MidiReadError,
                       match=r"crash.mid.*largest tick is 2,147,483,647 \(more than 10,000,000\)"):
        encoding.read_note_sequence(path)


def test_largest_tick_allowed_is_pretty_midis_limit(tmp_path):
    tune = tmp_path / "tune.mid"
    encoding.write_midi(_tune(), tune)
    import mido  # pylint: disable=import-outside-toplevel
    midi = mido.MidiFile(tune)
    assert encoding.largest_tick(midi) == sum(m.time for m in midi.tracks[-1])
    end_of_track = midi.tracks[-1][-1]
    end_of_track.time += encoding.MAX_MIDI_TICK - encoding.largest_tick(midi)
    assert encoding.largest_tick(midi) == encoding.MAX_MIDI_TICK
    midi.save(tune)
    assert len(encoding.read_midi(tune)) == 1
    midi.tracks[-1][-1].time += 1
    midi.save(tune)
    with pytest.raises(encoding.MidiReadError, match="largest tick is 10,000,001"):
        encoding.read_midi(tune)


def test_prepare_skips_and_names_the_huge_tick_file(tmp_path):
    source = tmp_path / "midi"
    source.mkdir()
    (source / "crash.mid").write_bytes(_huge_tick_midi())
    encoding.write_midi(_tune(), source / "good.mid")
    summary = corpus.prepare(_config(source, tmp_path / "out", validation_fraction=0.0))
    assert [s["source"] for s in summary.skipped] == ["crash.mid"]
    assert "likely corrupt" in summary.skipped[0]["reason"]
    assert summary.train.melodies == 1


_REAL_PARSE = corpus._parse_task  # pylint: disable=protected-access


def _misbehaving_parse(task, options):
    """Replaces corpus._parse_task in the workers: each 'bad' file fails in its own way."""
    name = task.source_id
    if name == "dies.mid":
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
    if name == "hangs.mid":  # stuck where SIGALRM cannot interrupt it (as in C code)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(120)
    if name == "slow.mid":
        time.sleep(120)
    if name == "hog.mid":
        np.empty(3 * 2**30, np.uint8)  # 3 GiB, more than the 1 GiB limit
    return _REAL_PARSE(task, options)


@pytest.fixture(scope="module")
def misbehaving_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("misbehaving")
    source = root / "midi"
    source.mkdir()
    names = ["a.mid", "dies.mid", "b.mid", "hangs.mid", "c.mid", "hog.mid", "d.mid", "slow.mid"]
    for variant, name in enumerate(names):
        encoding.write_midi(_tune(variant), source / name)
    patch = pytest.MonkeyPatch()
    patch.setattr(corpus, "_parse_task", _misbehaving_parse)
    try:
        summary = corpus.prepare(_config(source, root / "out", workers=2, task_timeout=1.5,
                                         worker_memory_mb=1024, validation_fraction=0.0))
    finally:
        patch.undo()
    return root / "out", summary, {s["source"]: s["reason"] for s in summary.skipped}


def test_a_killed_worker_is_a_skipped_file_and_the_run_completes(misbehaving_run):
    out_dir, summary, skipped = misbehaving_run
    assert sorted(skipped) == ["dies.mid", "hangs.mid", "hog.mid", "slow.mid"]
    assert skipped["dies.mid"] == ("the worker process was killed by SIGKILL (out of memory?) "
                                   "while working on it")
    assert summary.tunes_parsed == 4
    with np.load(out_dir / "train.npz") as data:
        assert data["sources"].tolist() == ["a.mid", "b.mid", "c.mid", "d.mid"]
    melodies = corpus.load_split(out_dir, "train")
    for variant, melody in zip([0, 2, 4, 6], melodies):  # the other files' melodies, intact
        np.testing.assert_array_equal(melody, _tune(variant))
    record = json.loads((out_dir / "summary.json").read_text())
    assert {s["source"] for s in record["summary"]["skipped"]} == set(skipped)


def test_a_file_that_takes_too_long_is_skipped(misbehaving_run):
    _, _, skipped = misbehaving_run
    assert skipped["slow.mid"] == "TimeoutError: gave up after 1.5 s"


def test_a_worker_stuck_beyond_the_timeout_is_killed_and_its_file_skipped(misbehaving_run):
    _, _, skipped = misbehaving_run
    assert skipped["hangs.mid"] == "no result after 4 s (the worker hung and was killed)"


def test_a_file_needing_too_much_memory_is_skipped(misbehaving_run):
    _, _, skipped = misbehaving_run
    assert skipped["hog.mid"].startswith("MemoryError: Unable to allocate 3.00 GiB")


def test_worker_memory_and_timeout_settings_are_checked():
    with pytest.raises(ValueError, match="worker_memory_mb must be 0 .* or >= 1024"):
        PrepareConfig(worker_memory_mb=100)
    with pytest.raises(ValueError, match="task_timeout must be >= 0, got -1"):
        PrepareConfig(task_timeout=-1)


LATIN1_NAME = b"caf\xe9.mid"  # "café.mid" in Latin-1: not valid UTF-8


def _write_latin1_tune(source):
    encoding.write_midi(_tune(), source / "good.mid")
    latin1 = os.path.join(os.fsencode(source), LATIN1_NAME)
    encoding.write_midi(_tune(variant=1), os.fsdecode(latin1))
    return latin1


def test_a_file_name_that_is_not_utf8_works(tmp_path, capsys):
    source = tmp_path / "midi"
    source.mkdir()
    latin1 = _write_latin1_tune(source)
    assert os.path.isfile(latin1)
    out_dir = tmp_path / "out"
    assert cli.main(["prepare", "--source", str(source), "--out", str(out_dir), "--workers", "0",
                     "--no-progress", "--validation-fraction", "0"]) == 0
    assert "files read 2, tunes parsed 2" in capsys.readouterr().out
    with np.load(out_dir / "train.npz") as data:
        assert data["sources"].tolist() == ["caf\\xe9.mid", "good.mid"]
    melodies = corpus.load_split(out_dir, "train")
    np.testing.assert_array_equal(melodies[0], _tune(variant=1))
    record = json.loads((out_dir / "summary.json").read_bytes().decode("utf-8"))
    assert record["summary"]["tunes_parsed"] == 2
    assert corpus.split_of("caf\\xe9.mid", 0.5) == corpus.split_of("caf\\xe9.mid", 0.5)


def test_a_bad_file_with_a_name_that_is_not_utf8_is_named_in_the_summary(tmp_path):
    source = tmp_path / "midi"
    source.mkdir()
    encoding.write_midi(_tune(), source / "good.mid")
    with open(os.path.join(os.fsencode(source), b"\xff\xfe bad.mid"), "wb") as f:
        f.write(b"not midi")
    summary = corpus.prepare(_config(source, tmp_path / "out", validation_fraction=0.0))
    assert [s["source"] for s in summary.skipped] == ["\\xff\\xfe bad.mid"]
    assert "\\xff\\xfe bad.mid" in summary.format()
    summary.format().encode("utf-8")  # printable
    assert summary.train.melodies == 1


def test_display_name_keeps_valid_names_and_escapes_bad_bytes():
    assert corpus.display_name("tunes/été.abc") == "tunes/été.abc"
    assert corpus.display_name(os.fsdecode(b"caf\xe9.mid")) == "caf\\xe9.mid"


# ABC: music21 reads "A::" (a note, then the repeat bar ::) as a header field and drops the note


def _abc_notes(body, header="X:1\nM:4/4\nL:1/4\nK:C\n"):
    return [(n.pitch, n.start_time, n.end_time) for n in abc.abc_to_note_sequence(header + body).notes]


@pytest.mark.parametrize("body", [
    "C D E F | G2 A B::\nc d e f | g4 |\n",      # at the end of a line (19 of the 20 default tunes)
    "C D E F | G2 A B:: c d e f | g4 |\n",        # inside a line: the rest of the line was lost
    "|: C D E F | G2 A B::\\\nc d e f | g4 :|\n",  # before a line continuation
])
def test_a_note_before_a_double_repeat_bar_is_kept(body):
    written_out = body.replace("::", ":|:")
    notes = _abc_notes(body)
    assert notes == _abc_notes(written_out) == _abc_notes(body.replace("::", " ::"))
    assert [p for p, _, _ in notes] == [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]
    assert notes[6] == (71, 3.5, 4.0)  # the B before the repeat, one quarter at 120 qpm


def test_double_repeat_rewrite_leaves_fields_comments_and_inline_fields_alone():
    text = "X:1\nT:A::B\nK:C\nAGFG ABcA::\n% c::\nG2 A::B|[P:A]D2 d2::\n"
    assert abc.rewrite_abc_for_music21(text) == (
        "X:1\nT:A::B\nK:C\nAGFG ABcA:|:\n% c::\nG2 A:|:B|[P:A]D2 d2::\n")
    assert abc.rewrite_abc_for_music21("abc|d2::e|") == "abc|d2::e|"  # already read correctly


def test_a_default_collection_tune_with_a_note_before_double_repeat_is_complete():
    from music21 import common  # pylint: disable=import-outside-toplevel
    import pathlib  # pylint: disable=import-outside-toplevel
    path = pathlib.Path(common.getCorpusFilePath()) / "ryansMammoth" / "LoveLinksJig.abc"
    tune = corpus.split_abc_tunes(path.read_text())[0]
    assert "BcB BGE::\n" in tune
    notes = [n.pitch for n in abc.abc_to_note_sequence(tune).notes]
    assert notes == [n.pitch for n in abc.abc_to_note_sequence(tune.replace("::", ":|:")).notes]
    # 16 bars of 6/8, each of six eighth notes (grace notes are ignored): 96 notes; music21
    # alone gave 95 (the E before "::" was lost).
    assert len(notes) == 96


def test_prepare_shows_no_progress_bar_in_a_log_file(tmp_path, capsys):
    """`note-rnn prepare > log 2>&1` wrote the tqdm bar's carriage-return lines into the log."""
    source = tmp_path / "midi"
    source.mkdir()
    encoding.write_midi(_tune(), source / "good.mid")
    corpus.prepare(_config(source, tmp_path / "out", progress=True))
    assert "parsing" not in capsys.readouterr().err


# --- ABC 2.1's default unit note length (issue 18) -----------------------------------------------

def _durations(tune: str) -> list:
    """(MIDI pitch, duration in quarter notes) of each note of a parsed tune (120 qpm)."""
    sequence = abc.abc_to_note_sequence(tune)
    return [(n.pitch, round((n.end_time - n.start_time) * abc.ABC_QPM / 60.0, 6)) for n in sequence.notes]


@pytest.mark.parametrize("meter, unit", [
    (None, 0.5), ("M:none", 0.5), ("M:2/4", 0.25), ("M:6/8", 0.5), ("M:3/4", 0.5), ("M:C", 0.5), ("M:C|", 0.5),
    ("M:3/8", 0.25), ("M:2+3/8", 0.25), ("M:(2+2+3)/8", 0.5)])
def test_a_tune_without_l_gets_the_standards_default_unit_note_length(meter, unit):
    """ABC 2.1 section 3.1.7: 1/16 if the meter as a decimal is below 0.75, else 1/8; 1/8
    without M: or with M:none. A tune without L: and M: was skipped with a music21 error."""
    header = "X:1\nT:no unit\n" + (meter + "\n" if meter else "")
    tune = header + "K:C\nC D2 E/ F|\n"
    assert _durations(tune) == [(60, unit), (62, 2 * unit), (64, unit / 2), (65, unit)]
    explicit = header + ("L:1/16" if unit == 0.25 else "L:1/8") + "\nK:C\nC D2 E/ F|\n"
    assert _durations(explicit) == _durations(tune)


def test_with_unit_note_length_inserts_before_k_and_leaves_an_l_field_alone():
    assert abc.with_unit_note_length("X:1\nM:2/4\nK:G\nAB|\n") == "X:1\nM:2/4\nL:1/16\nK:G\nAB|\n"
    assert abc.with_unit_note_length("X:1\nK:G\nAB|\n") == "X:1\nL:1/8\nK:G\nAB|\n"
    for tune in ("X:1\nL:1/4\nM:2/4\nK:G\nAB|\n", "L:1/4\nX:1\nM:2/4\nK:G\nAB|\n", "X:1\nT:no key\nAB|\n"):
        assert abc.with_unit_note_length(tune) == tune  # (an L: in the tunebook's file header counts)
    # the tune's own M: (the last one before K:) decides, not the file header's
    assert abc.with_unit_note_length("M:6/8\nX:1\nM:2/4\nK:G\nA|\n") == "M:6/8\nX:1\nM:2/4\nL:1/16\nK:G\nA|\n"
    assert [abc.default_unit_note_length(m) for m in ("6/8", "2/4", "C", "C|", "none", None, "x/0", "3/4 % c")] \
        == ["1/8", "1/16", "1/8", "1/8", "1/8", "1/8", "1/8", "1/8"]
