"""``note-rnn prepare`` on Apache Beam (the ``beam`` extra): the default path's data set.

The Beam tests skip where apache_beam is not installed; the argument check runs everywhere.
"""

import json
import os

import numpy as np
import pytest

from note_rnn import cli, corpus, encoding

from beam_fixture import beam  # noqa: E402,F401  (beam: a fixture)
TWO_WORKERS = ["--runner", "DirectRunner", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
ABC = """X:1
T:Good
M:4/4
L:1/8
K:G
GABc dedB|dBGB d2g2|f2ed cBAG|FGAF D4|GABc dedB|dBGB d2g2|fedc AFDF|G2B2 G4|

X:2
T:Broken
M:4/4
L:1/8
K:G
|: ((( [[[ ]]] |
"""


def _tune(variant):
    """An 8-bar C-major melody of 32 quarter notes (tokens); each variant differs."""
    rng = np.random.default_rng(variant)
    return [x for t in rng.choice([14, 16, 18, 19, 21, 23, 25, 26], size=32).tolist() for x in (t, 0, 0, 0)]


def _source(tmp_path):
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    for i in range(4):
        encoding.write_midi(_tune(i), source / f"tune{i}.mid")
    encoding.write_midi(_tune(0), source / "sub" / "copy.midi")  # a duplicate melody
    (source / "corrupt.mid").write_bytes(np.random.default_rng(1).bytes(300))
    (source / "book.abc").write_text(ABC)
    return source


def _arrays(out):
    result = {}
    for split in corpus.SPLITS:
        with np.load(out / f"{split}.npz") as data:
            result[split] = {key: data[key] for key in ("tokens", "lengths", "sources")}
    return result


def test_prepare_on_beam_gives_the_default_data_set(tmp_path, beam, capsys):
    source = _source(tmp_path)
    common = ["prepare", "--source", str(source), "--validation-fraction", "0.4", "--seed", "1", "--no-progress"]
    assert cli.main(common + ["--out", str(tmp_path / "plain"), "--workers", "0"]) == 0
    assert cli.main(common + ["--out", str(tmp_path / "beam")] + TWO_WORKERS) == 0
    plain, on_beam = _arrays(tmp_path / "plain"), _arrays(tmp_path / "beam")
    for split in corpus.SPLITS:
        for key in ("tokens", "lengths", "sources"):
            np.testing.assert_array_equal(on_beam[split][key], plain[split][key])
    assert sorted(plain["train"]["sources"].tolist() + plain["validation"]["sources"].tolist()) == [
        "book.abc#1", "sub/copy.midi", "tune1.mid", "tune2.mid", "tune3.mid"]  # copy.midi first: tune0 is the duplicate
    assert len(plain["validation"]["sources"]) >= 1
    records = [json.loads((tmp_path / name / "summary.json").read_text()) for name in ("plain", "beam")]
    for record in records:
        record["summary"].pop("wall_time_s"), record["summary"].pop("out_dir"), record["config"].pop("out_dir")
        record["config"].pop("workers")
    assert records[1]["config"].pop("runner") == "DirectRunner"
    assert records[1]["config"].pop("pipeline_args") == TWO_WORKERS[2:]
    assert "runner" not in records[0]["config"]
    assert records[1] == records[0]
    summary = records[0]["summary"]
    assert (summary["files_read"], summary["tunes_parsed"], summary["duplicates_dropped"]) == (7, 6, 1)
    assert [s["source"] for s in summary["skipped"]] == ["book.abc#2", "corrupt.mid"]
    # note-rnn evaluate of one model (the shipped Note-RNN) gives the same figures on both
    metrics = []
    for name in ("plain", "beam"):
        out = tmp_path / f"eval_{name}.json"
        assert cli.main(["evaluate", "--data", str(tmp_path / name), "--split", "train", "--out", str(out)]) == 0
        metrics.append({k: v for k, v in json.loads(out.read_text()).items() if k not in ("data", "written_by")})
    assert metrics[0] == metrics[1] and metrics[0]["tokens"] > 0


_RUN_TASK = corpus._run_task  # pylint: disable=protected-access


def _failing_run_task(job):
    if job[0].source_id == "tune1.mid":
        raise RuntimeError("worker lost")
    return _RUN_TASK(job)


def test_a_failed_job_is_a_skipped_file_not_a_failed_pipeline(tmp_path, beam, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    for i in range(3):
        encoding.write_midi(_tune(i), source / f"tune{i}.mid")
    monkeypatch.setattr(corpus, "_run_task", _failing_run_task)  # in-process DirectRunner: the patch holds
    config = corpus.PrepareConfig(source=str(source), out_dir=str(tmp_path / "out"), validation_fraction=0.0,
                                  runner="DirectRunner", progress=False, verbose=False)
    summary = corpus.prepare(config)
    assert summary.skipped == [{"source": "tune1.mid", "reason": "RuntimeError: worker lost"}]
    assert summary.train.melodies == 2
    assert corpus.load_split(tmp_path / "out", "train")[1].tolist() == _tune(2)  # already C major in 48..83


def test_beam_options_need_a_runner(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["prepare", "--source", str(tmp_path), "--out", str(tmp_path / "o"), "--direct_num_workers", "2"])
    assert e.value.code == 2
    assert "unrecognized arguments: --direct_num_workers 2" in capsys.readouterr().err


def test_prepare_tfrecord_on_beam_writes_the_default_paths_shards(tmp_path, beam):
    source = _source(tmp_path)
    common = ["prepare", "--source", str(source), "--validation-fraction", "0.4", "--seed", "1", "--no-progress",
              "--format", "tfrecord", "--shards", "3"]
    assert cli.main(common + ["--out", str(tmp_path / "plain"), "--workers", "0"]) == 0
    assert cli.main(common + ["--out", str(tmp_path / "beam")] + TWO_WORKERS) == 0
    names = sorted(n for n in os.listdir(tmp_path / "plain") if n.endswith(".tfrecord"))
    assert names == [f"{split}-0000{k}-of-00003.tfrecord" for split in ("train", "validation") for k in range(3)]
    assert sorted(n for n in os.listdir(tmp_path / "beam") if n.endswith(".tfrecord")) == names
    for name in names:  # byte for byte (the driver writes the shards)
        assert (tmp_path / "beam" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    for split in corpus.SPLITS:
        assert [m.tolist() for m in corpus.load_split(tmp_path / "beam", split)] == [
            m.tolist() for m in corpus.load_split(tmp_path / "plain", split)]
