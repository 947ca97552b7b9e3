"""Sharded TFRecord data sets (rl_tuner.plumbing.records) and the ``--format tfrecord`` of ``note-rnn
prepare`` and ``molecules prepare``: the same sequences in the same order as the default
formats, the same training history, shard counts, and clear errors for broken folders."""

import json
import os

import numpy as np
import pytest

import note_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from molecules import cli as molecules_cli
from molecules import data as molecules_data
from note_rnn import cli as note_cli
from note_rnn import corpus, encoding
from rl_tuner.plumbing import records
from rl_tuner.plumbing.cli_utils import run_main

from molecule_fixtures import prepare_tiny  # noqa: E402


# The module on its own


def test_shard_bounds_are_contiguous_and_balanced():
    assert records.shard_bounds(10, 4) == [(0, 2), (2, 5), (5, 7), (7, 10)]  # floor(k * 10 / 4)
    assert records.shard_bounds(2, 4) == [(0, 0), (0, 1), (1, 1), (1, 2)]  # more shards than items
    assert records.shard_bounds(0, 2) == [(0, 0), (0, 0)]
    assert records.shard_bounds(7, 1) == [(0, 7)]
    assert records.shard_name("validation", 2, 12) == "validation-00002-of-00012.tfrecord"


def test_write_and_read_back_in_order_with_empty_shards(tmp_path):
    tokens = [[1, 2, 3], [], [40000000000]]  # an empty sequence and an int64 beyond int32
    texts = ["a", "b\u00e9", "c"]
    names = records.write_split(str(tmp_path), "train", tokens, 5, "source", texts)
    assert names == [f"train-0000{k}-of-00005.tfrecord" for k in range(5)]
    assert sorted(os.listdir(tmp_path)) == names  # no temporary file left
    assert [os.path.getsize(tmp_path / n) == 0 for n in names] == [True, False, True, False, False]
    got, got_texts = records.read_split(str(tmp_path), "train", "source")
    assert [g.tolist() for g in got] == tokens and got_texts == texts
    assert all(g.dtype == np.int64 for g in got)
    assert records.split_files(str(tmp_path), "validation") == []
    with pytest.raises(FileNotFoundError, match="has no validation split"):
        records.read_split(str(tmp_path), "validation", "source")


def test_records_are_serialised_deterministically_with_the_features_in_key_order(tmp_path):
    # the same bytes whatever protobuf version writes them (Beam's environment has protobuf 6)
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    records.write_split(str(tmp_path), "train", [[7, 8]], 1, "smiles", ["CCO"])
    (raw,) = [r.numpy() for r in tf.data.TFRecordDataset(str(tmp_path / "train-00000-of-00001.tfrecord"))]
    assert raw.index(b"smiles") < raw.index(b"tokens")
    feature = {"tokens": tf.train.Feature(int64_list=tf.train.Int64List(value=[7, 8])),
               "smiles": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"CCO"]))}
    assert raw == tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def test_a_corrupt_or_truncated_shard_is_an_error_naming_it(tmp_path):
    records.write_split(str(tmp_path), "train", [[1, 2]] * 6, 2, "source", ["x"] * 6)
    second = tmp_path / "train-00001-of-00002.tfrecord"
    data = second.read_bytes()
    second.write_bytes(data[:-5])  # truncated
    with pytest.raises(ValueError, match=f"^{second}: corrupt or truncated TFRecord shard \\(.*truncated") as info:
        records.read_split(str(tmp_path), "train", "source")
    assert "function_node" not in str(info.value) and "[Op:" not in str(info.value)  # TF's wrapping is cut
    flipped = bytearray(data)
    flipped[20] ^= 0xFF  # a byte of the first record's data: its checksum fails
    second.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=f"^{second}: corrupt or truncated TFRecord shard \\(.*corrupted record"):
        records.read_split(str(tmp_path), "train", "source")


def test_a_shard_emptied_or_cut_at_a_record_boundary_is_an_error_naming_it(tmp_path):
    """Such a shard has no CRC error; its size gives it away (shards hold 2, 2, 3 of 7)."""
    records.write_split(str(tmp_path), "train", [[k] for k in range(7)], 3, "source", [str(k) for k in range(7)])
    first, second = (tmp_path / f"train-0000{k}-of-00003.tfrecord" for k in (0, 1))
    data = first.read_bytes()
    length = int.from_bytes(data[:8], "little")  # a record: length (8 bytes), CRC (4), data, CRC (4)
    first.write_bytes(data[:16 + length])  # its first record only
    with pytest.raises(ValueError, match=f"^{first}: truncated TFRecord shard \\(it holds 1 sequences, the split's "
                                         r"other shards 2 to 3; the shards of a split differ by at most one\); "
                                         "prepare the data set again$"):
        records.read_split(str(tmp_path), "train", "source")
    first.write_bytes(data)
    second.write_bytes(b"")  # emptied (a valid TFRecord file)
    with pytest.raises(ValueError, match=f"^{second}: truncated TFRecord shard \\(it holds 0 sequences, the split's "
                                         "other shards 2 to 3;"):
        records.read_split(str(tmp_path), "train", "source")


def test_a_record_that_is_not_such_an_example_is_an_error_naming_the_shard(tmp_path):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    path = tmp_path / "train-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(b"not an Example")
    with pytest.raises(ValueError, match=f"^{path}: corrupt or truncated TFRecord shard"):
        records.read_split(str(tmp_path), "train", "source")


def test_a_folder_in_place_of_a_shard_or_text_that_is_not_utf8_is_an_error_naming_the_shard(tmp_path):
    os.mkdir(tmp_path / "train-00000-of-00001.tfrecord")
    with pytest.raises(ValueError, match=f"^{tmp_path}/train-00000-of-00001.tfrecord: cannot read the TFRecord shard "
                                         r"\(.*Is a directory\); prepare the data set again$"):
        records.read_split(str(tmp_path), "train", "source")
    os.rmdir(tmp_path / "train-00000-of-00001.tfrecord")
    records.write_split(str(tmp_path), "train", [[1]], 1, "source", ["x"])
    path = tmp_path / "train-00000-of-00001.tfrecord"
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    with tf.io.TFRecordWriter(str(path)) as writer:  # a record written by another tool, its text in Latin-1
        feature = {"tokens": tf.train.Feature(int64_list=tf.train.Int64List(value=[1])),
                   "source": tf.train.Feature(bytes_list=tf.train.BytesList(value=["é".encode("latin-1")]))}
        writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    with pytest.raises(ValueError, match=f"^{path}: a record's source is not UTF-8 text \\(unexpected end of data\\); "
                                         "prepare the data set again$"):
        records.read_split(str(tmp_path), "train", "source")


def test_a_missing_shard_or_mixed_counts_are_errors_naming_the_file(tmp_path):
    records.write_split(str(tmp_path), "train", [[1]] * 3, 3, "source", ["x"] * 3)
    os.remove(tmp_path / "train-00001-of-00003.tfrecord")
    with pytest.raises(ValueError, match=f"^{tmp_path}/train-00001-of-00003.tfrecord is missing: the train split "
                                         "has 3 shards"):
        records.split_files(str(tmp_path), "train")
    records.write_split(str(tmp_path), "train", [[1]], 2, "source", ["x"])
    with pytest.raises(ValueError, match="the train split has shards of different counts "
                                         r"\(train-00000-of-00002.tfrecord, train-00000-of-00003.tfrecord\)"):
        records.split_files(str(tmp_path), "train")


def test_shard_counts_of_more_than_five_digits_are_read_back(tmp_path):
    """--shards 100000 names its files train-00000-of-100000.tfrecord (format width 5 is a minimum)."""
    assert records.shard_name("train", 7, 100000) == "train-00007-of-100000.tfrecord"
    assert records.shard_name("train", 123456, 200000) == "train-123456-of-200000.tfrecord"
    (tmp_path / "train-00000-of-100000.tfrecord").write_bytes(b"")
    assert records.shard_files_of(str(tmp_path), ["train"]) == ["train-00000-of-100000.tfrecord"]
    with pytest.raises(ValueError, match=f"^{tmp_path}/train-00001-of-100000.tfrecord is missing: the train split "
                                         "has 100000 shards"):
        records.split_files(str(tmp_path), "train")


def test_format_detection_and_settings_checks(tmp_path):
    assert records.detect_format(str(tmp_path), "npz", ["train.npz"]) == "npz"  # nothing: the loader names the file
    (tmp_path / "train.npz").write_bytes(b"")
    assert records.detect_format(str(tmp_path), "npz", ["train.npz"]) == "npz"
    (tmp_path / "train-00000-of-00001.tfrecord").write_bytes(b"")
    with pytest.raises(ValueError, match=f"^{tmp_path} holds both npz files \\(train.npz\\) and TFRecord shards"):
        records.detect_format(str(tmp_path), "npz", ["train.npz"])
    os.remove(tmp_path / "train.npz")
    assert records.detect_format(str(tmp_path), "npz", ["train.npz"]) == "tfrecord"
    with pytest.raises(ValueError, match="format must be 'npz' or 'tfrecord', got 'csv'"):
        records.check_format("csv", "npz", 1)
    with pytest.raises(ValueError, match="shards must be an integer >= 1, got 0"):
        records.check_format("tfrecord", "npz", 0)
    with pytest.raises(ValueError, match=r"--shards 2 needs --format tfrecord \(the smi.gz format is one file"):
        molecules_data.PrepareConfig(format="smi.gz", shards=2)
    with pytest.raises(ValueError, match="format must be 'npz' or 'tfrecord', got 'smi.gz'"):
        corpus.PrepareConfig(format="smi.gz")


def test_the_command_lines_refuse_bad_format_settings(tmp_path, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO\n")
    assert run_main(molecules_cli.main, ["prepare", "--source", str(src), "--out", str(tmp_path / "o"),
                                         "--shards", "3"]) == 2
    assert "error: --shards 3 needs --format tfrecord" in capsys.readouterr().err
    for argv, message in ((["--format", "npz"], "argument --format: invalid choice: 'npz' (choose from "),
                          (["--shards", "0"], "argument --shards: must be an integer > 0, got 0")):
        with pytest.raises(SystemExit) as e:
            molecules_cli.main(["prepare", "--source", str(src), "--out", str(tmp_path / "o"), *argv])
        assert e.value.code == 2  # npz is note-rnn's format, not molecules'
        assert message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o")


# note-rnn prepare / train


def _tune(variant):
    """An 8-bar C-major melody of 32 quarter notes (tokens); each variant differs."""
    rng = np.random.default_rng(variant)
    return [x for t in rng.choice([14, 16, 18, 19, 21, 23, 25, 26], size=32).tolist() for x in (t, 0, 0, 0)]


@pytest.fixture(scope="module")
def melody_sets(tmp_path_factory):
    """The same MIDI folder prepared as npz and as 3 TFRecord shards per split."""
    root = tmp_path_factory.mktemp("melodies")
    source = root / "src"
    source.mkdir()
    for i in range(6):
        encoding.write_midi(_tune(i), source / f"tune{i}.mid")
    common = ["prepare", "--source", str(source), "--validation-fraction", "0.4", "--seed", "1", "--workers", "0",
              "--no-progress"]
    assert note_cli.main(common + ["--out", str(root / "npz")]) == 0
    assert note_cli.main(common + ["--out", str(root / "tfr"), "--format", "tfrecord", "--shards", "3"]) == 0
    return root


def test_note_rnn_prepare_tfrecord_holds_the_npz_melodies(melody_sets):
    npz, tfr = melody_sets / "npz", melody_sets / "tfr"
    assert corpus.data_format(npz) == "npz" and corpus.data_format(tfr) == "tfrecord"
    assert sorted(os.listdir(tfr)) == [".sequence-tutor.json", "summary.json"] + [
        f"{split}-0000{k}-of-00003.tfrecord" for split in ("train", "validation") for k in range(3)]
    for split in corpus.SPLITS:
        plain, sharded = corpus.load_split(npz, split), corpus.load_split(tfr, split)
        assert len(plain) == len(sharded) > 0
        for a, b in zip(plain, sharded):
            assert b.dtype == np.int8 and b.tolist() == a.tolist()
        with np.load(npz / f"{split}.npz") as arrays:
            assert records.read_split(str(tfr), split, "source")[1] == arrays["sources"].tolist()
    plain_record = json.loads((npz / "summary.json").read_text())
    record = json.loads((tfr / "summary.json").read_text())
    assert "records" not in plain_record and "format" not in plain_record["config"]  # the default output as before
    assert (record["config"].pop("format"), record["config"].pop("shards")) == ("tfrecord", 3)
    assert record.pop("records") == {
        "format": "tfrecord", "shards": 3,
        "files": {split: [f"{split}-0000{k}-of-00003.tfrecord" for k in range(3)] for split in corpus.SPLITS},
        "features": {"tokens": "int64 list (token ids)", "source": "bytes (UTF-8)"}}
    for r in (record, plain_record):
        r["summary"].pop("wall_time_s"), r["summary"].pop("out_dir"), r["config"].pop("out_dir")
    assert record == plain_record


def _note_rnn_history(data_dir, out):
    assert note_cli.main(["train", "--data", str(data_dir), "--out", str(out), "--layer-sizes", "8", "--batch-size",
                          "4", "--max-length", "32", "--min-window", "8", "--skip-first-n-losses", "2",
                          "--epochs", "1", "--quiet"]) == 0
    history = json.loads((out / "history.json").read_text())
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history["epochs"]]


def test_note_rnn_train_gives_the_same_history_on_both_formats(melody_sets, tmp_path):
    plain = _note_rnn_history(melody_sets / "npz", tmp_path / "a")
    sharded = _note_rnn_history(melody_sets / "tfr", tmp_path / "b")
    assert len(plain) == 1 and plain == sharded  # exactly: the same windows in the same order
    manifest = json.loads((tmp_path / "b" / ".sequence-tutor.json").read_text())
    assert manifest["inputs"]["data_dir"] != json.loads((tmp_path / "a" / ".sequence-tutor.json").read_text())[
        "inputs"]["data_dir"]  # the shards' fingerprint, not a missing npz


def test_a_folder_with_both_formats_is_refused_by_the_trainer(melody_sets, tmp_path, capsys):
    both = tmp_path / "both"
    both.mkdir()
    for name in os.listdir(melody_sets / "tfr"):
        (both / name).write_bytes((melody_sets / "tfr" / name).read_bytes())
    (both / "train.npz").write_bytes((melody_sets / "npz" / "train.npz").read_bytes())
    assert run_main(note_cli.main, ["train", "--data", str(both), "--out", str(tmp_path / "run")]) == 2
    assert f"error: {both} holds both npz files (train.npz) and TFRecord shards" in capsys.readouterr().err


def test_prepare_replaces_its_own_earlier_output_of_the_other_format_and_keeps_other_files(melody_sets, tmp_path):
    source = melody_sets / "src"
    out = tmp_path / "out"
    common = ["prepare", "--source", str(source), "--workers", "0", "--no-progress", "--out", str(out)]
    assert note_cli.main(common + ["--format", "tfrecord", "--shards", "4"]) == 0
    (out / "notes.txt").write_text("mine")
    assert note_cli.main(common + ["--format", "tfrecord", "--shards", "2"]) == 0
    assert sorted(n for n in os.listdir(out) if n.endswith(".tfrecord")) == [
        f"{split}-0000{k}-of-00002.tfrecord" for split in ("train", "validation") for k in range(2)]
    assert note_cli.main(common) == 0  # back to npz: no shard left beside it
    assert sorted(os.listdir(out)) == [".sequence-tutor.json", "notes.txt", "summary.json", "train.npz",
                                       "validation.npz"]
    assert corpus.data_format(out) == "npz"


def test_a_users_own_tfrecord_file_kept_in_the_output_is_no_split(melody_sets, tmp_path):
    """prepare keeps other files in --out; one named like a shard, but of no split, must not
    make the data set 'hold both formats'."""
    source = melody_sets / "src"
    out = tmp_path / "out"
    out.mkdir()
    records.write_split(str(out), "mine", [[1, 2]], 1, "source", ["x"])  # mine-00000-of-00001.tfrecord
    assert note_cli.main(["prepare", "--source", str(source), "--workers", "0", "--no-progress", "--out", str(out),
                          "--overwrite"]) == 0
    assert "mine-00000-of-00001.tfrecord" in os.listdir(out)
    assert corpus.data_format(out) == "npz" and len(corpus.load_split(out, "train")) > 0
    records.write_split(str(out), "train", [[1, 2]], 1, "source", ["x"])  # a train shard beside train.npz: refused
    with pytest.raises(ValueError, match=f"^{out} holds both npz files \\(train.npz, validation.npz\\) and TFRecord "
                                         "shards"):
        corpus.data_format(out)


# molecules prepare / train-prior


@pytest.fixture(scope="module")
def molecule_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("molecules")
    plain = prepare_tiny(root)
    src = os.path.join(root, "tiny.smi")
    sharded = str(root / "tfr")
    assert molecules_cli.main(["prepare", "--source", src, "--out", sharded, "--workers", "1", "--no-progress",
                               "--validation-fraction", "0.2", "--format", "tfrecord", "--shards", "3"]) == 0
    return plain, sharded


def test_molecules_prepare_tfrecord_holds_the_smi_gz_molecules_and_their_tokens(molecule_sets):
    plain, sharded = molecule_sets
    tokenizer = molecules_data.load_tokenizer(sharded)
    for split in ("train", "validation"):
        smiles = molecules_data.load_split(plain, split)
        assert molecules_data.load_split(sharded, split) == smiles
        tokens, texts = records.read_split(sharded, split, "smiles")
        assert texts == smiles
        assert [t.tolist() for t in tokens] == [tokenizer.encode(s).tolist() for s in smiles]
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        sizes = [sum(1 for _ in tf.data.TFRecordDataset(f)) for f in records.split_files(sharded, split)]
        assert sizes == {"train": [48, 48, 49], "validation": [16, 17, 17]}[split]  # 145 and 50 molecules
    with open(os.path.join(plain, "tokenizer.json"), "rb") as a, open(os.path.join(sharded, "tokenizer.json"), "rb") as b:
        assert a.read() == b.read()
    s_plain, s_sharded = molecules_data.load_summary(plain), molecules_data.load_summary(sharded)
    assert s_sharded.pop("records")["files"]["train"] == [f"train-0000{k}-of-00003.tfrecord" for k in range(3)]
    assert s_sharded["splits"]["train"] == {"files": [f"train-0000{k}-of-00003.tfrecord" for k in range(3)],
                                            "molecules": s_plain["splits"]["train"]["molecules"]}
    for s in (s_plain, s_sharded):
        s.pop("wall_time_s"), s.pop("splits")
    assert s_sharded == s_plain
    with pytest.raises(FileNotFoundError, match="has no test split"):
        molecules_data.load_split(sharded, "test")


def test_molecules_train_prior_gives_the_same_history_on_both_formats(molecule_sets, tmp_path):
    histories = []
    for name, data_dir in zip("ab", molecule_sets):
        assert molecules_cli.main(["train-prior", "--data", data_dir, "--out", str(tmp_path / name), "--layer-sizes",
                                   "8", "--epochs", "1", "--batch-size", "32", "--card-samples", "0",
                                   "--quiet"]) == 0
        history = json.loads((tmp_path / name / "history.json").read_text())
        histories.append([{k: v for k, v in e.items() if k != "seconds"} for e in history["epochs"]])
    assert len(histories[0]) == 1 and histories[0] == histories[1]


def test_a_truncated_molecule_shard_stops_train_prior_with_its_name(molecule_sets, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in os.listdir(molecule_sets[1]):
        (broken / name).write_bytes(open(os.path.join(molecule_sets[1], name), "rb").read())
    shard = broken / "train-00002-of-00003.tfrecord"
    shard.write_bytes(shard.read_bytes()[:30])
    assert run_main(molecules_cli.main, ["train-prior", "--data", str(broken), "--out", str(tmp_path / "run"),
                                         "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"error: {shard}: corrupt or truncated TFRecord shard" in err and len(err.strip().splitlines()) == 1


def test_a_tfrecord_data_set_without_validation_split_says_so(molecule_sets, tmp_path, capsys):
    data = tmp_path / "noval"
    data.mkdir()
    for name in os.listdir(molecule_sets[1]):
        if not name.startswith("validation-"):
            (data / name).write_bytes(open(os.path.join(molecule_sets[1], name), "rb").read())
    assert run_main(molecules_cli.main, ["train-prior", "--data", str(data), "--out", str(tmp_path / "r"),
                                         "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {data} has no validation split (validation-*.tfrecord): `molecules prepare` put no molecule there; "
        "prepare it with more molecules or a larger --validation-fraction")
    assert not os.path.exists(tmp_path / "r")


def test_more_shards_than_molecules_writes_empty_shards(tmp_path):
    src = tmp_path / "in.smi"
    src.write_text("CCO\nc1ccccc1O\n")
    out = tmp_path / "out"
    assert molecules_cli.main(["prepare", "--source", str(src), "--out", str(out), "--workers", "1", "--no-progress",
                               "--validation-fraction", "0", "--format", "tfrecord", "--shards", "5"]) == 0
    files = sorted(n for n in os.listdir(out) if n.endswith(".tfrecord"))
    assert files == [f"train-0000{k}-of-00005.tfrecord" for k in range(5)]  # no validation: no molecule there
    assert [os.path.getsize(out / n) > 0 for n in files] == [False, False, True, False, True]  # floor(2k / 5)
    assert molecules_data.load_split(str(out), "train") == ["CCO", "Oc1ccccc1"]


def test_melody_shards_with_tokens_outside_the_encoding_are_refused(tmp_path):
    for split in corpus.SPLITS:
        records.write_split(str(tmp_path), split, [[0, 5, 40]], 1, "source", ["x.mid"])
    with pytest.raises(ValueError, match=f"^{tmp_path}/train-\\*.tfrecord: tokens must lie in 0..37, found 0..40$"):
        corpus.load_split(tmp_path, "train")


def test_a_prepare_never_writes_into_the_other_commands_data_set(molecule_sets, melody_sets, tmp_path, capsys):
    """`note-rnn prepare --overwrite` into a `molecules prepare` TFRecord folder (and back) put
    the other command's train/validation shards beside the new files, so the data set was
    unreadable ("holds both formats" or "shards of different counts"). A data set is now never
    written by another command, not even with --overwrite (rl_tuner.plumbing.outputs.check_protected);
    a command's own rerun in the other format leaves none of its old files."""
    import shutil  # pylint: disable=import-outside-toplevel
    out = tmp_path / "out"
    shutil.copytree(molecule_sets[1], out)  # molecules' 3 shards per split
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    note = ["prepare", "--source", str(melody_sets / "src"), "--workers", "0", "--no-progress", "--overwrite"]
    assert run_main(note_cli.main, note + ["--out", str(out)]) == 2
    assert capsys.readouterr().err.endswith(f"error: --out {out} is a data set (`molecules prepare`); it is never "
                                            "replaced: choose another --out\n")
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before
    notes = tmp_path / "notes"
    assert note_cli.main(note + ["--out", str(notes), "--format", "tfrecord", "--shards", "2"]) == 0
    smi = os.path.join(os.path.dirname(molecule_sets[0]), "tiny.smi")
    assert run_main(molecules_cli.main, ["prepare", "--source", smi, "--out", str(notes), "--workers", "1",
                                         "--no-progress", "--overwrite", "--format", "tfrecord"]) == 2
    assert capsys.readouterr().err.endswith(f"error: --out {notes} is a data set (`note-rnn prepare`); it is never "
                                            "replaced: choose another --out\n")
    assert note_cli.main(note + ["--out", str(notes)]) == 0  # its own rerun, back to npz
    assert sorted(n for n in os.listdir(notes) if "tfrecord" in n) == []
    assert corpus.data_format(notes) == "npz" and len(corpus.load_split(notes, "train")) > 0
