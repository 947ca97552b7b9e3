"""``molecules prepare`` and ``molecules score`` on Apache Beam (the ``beam`` extra).

The Beam tests skip where apache_beam is not installed; the argument checks run everywhere.
The DirectRunner runs with two worker processes (multi_processing), as on a cluster: the
output must be the default path's, line for line.
"""

import gzip
import json
import os
import sys

import pytest

from molecules import cli, data
from rl_tuner.plumbing.cli_utils import run_main

from beam_fixture import beam  # noqa: E402,F401  (beam: a fixture)
TWO_WORKERS = ["--runner", "DirectRunner", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
# 13 data lines: kept molecules, a duplicate, an empty line, a malformed row, RDKit rejects,
# a line too long for RDKit and an atom outside the atom vocabulary.
CSV = ("id,SMILES\n1,CCO\n2,\n3,C1CC\n4,OCC\n5\n6,C(C)(C)(C)(C)C\n7,Clc1ccccc1\n8,[nH]1cccc1\n9,CC.[Na+]\n"
       "10,CX\n11,c1ccccc1O\n12,CC(=O)Nc1ccc(O)cc1\n13," + "C" * 2001 + "\n14,CCN(CC)CC\n")


def _files(out):
    names = sorted(n for n in os.listdir(out) if n.endswith(".smi.gz"))
    return {n: gzip.open(os.path.join(out, n), "rt").read() for n in names}


def test_prepare_on_beam_gives_the_default_data_set_and_lists_dead_letters(tmp_path, beam, monkeypatch, capsys):
    src = tmp_path / "mols.csv"
    src.write_text(CSV)
    monkeypatch.setattr(data, "CHUNK_LINES", 3)  # five jobs over the two workers
    common = ["prepare", "--source", str(src), "--validation-fraction", "0.3", "--seed", "2", "--no-progress"]
    assert cli.main(common + ["--out", str(tmp_path / "plain"), "--workers", "1"]) == 0
    assert cli.main(common + ["--out", str(tmp_path / "beam")] + TWO_WORKERS) == 0
    assert "Beam DirectRunner --direct_num_workers 2 --direct_running_mode multi_processing: 6 skipped lines" \
        in capsys.readouterr().out
    plain, on_beam = _files(tmp_path / "plain"), _files(tmp_path / "beam")
    assert on_beam == plain and set(plain) == {"train.smi.gz", "validation.smi.gz"}
    assert sum(len(v.splitlines()) for v in plain.values()) == 7  # 8 parsed, 1 duplicate
    assert (tmp_path / "beam" / "tokenizer.json").read_bytes() == (tmp_path / "plain" / "tokenizer.json").read_bytes()
    s_plain = data.load_summary(str(tmp_path / "plain"))
    s_beam = data.load_summary(str(tmp_path / "beam"))
    assert s_beam.pop("beam") == {"runner": "DirectRunner", "pipeline_args": TWO_WORKERS[2:],
                                  "dead_letters": {"file": "dead_letters.jsonl", "lines": 6}}
    s_plain.pop("wall_time_s"), s_beam.pop("wall_time_s")
    assert s_beam == s_plain
    assert s_plain["skipped"] == {"empty": 1, "malformed": 1, "too_long": 1, "rdkit": 3, "round_trip": 0, "tokenizer": 0,
                                  "duplicate": 1}
    with open(tmp_path / "beam" / "dead_letters.jsonl") as f:
        dead = [json.loads(line) for line in f]
    assert [(d["line"], d["kind"]) for d in dead] == [(6, "malformed"), (3, "empty"), (4, "rdkit"), (7, "rdkit"),
                                                     (11, "rdkit"), (14, "too_long")]
    assert not os.path.exists(tmp_path / "plain" / "dead_letters.jsonl")


_PROCESS_CHUNK = data._process_chunk  # pylint: disable=protected-access


def _failing_chunk(job):
    if any(text == "OCC" for _, text in job[1]):
        raise RuntimeError("worker lost")
    return _PROCESS_CHUNK(job)


def test_a_failed_prepare_job_becomes_dead_letters_not_a_failed_pipeline(tmp_path, beam, monkeypatch):
    src = tmp_path / "mols.smi"
    src.write_text("CCO\nOCC\nc1ccccc1O\nCCN(CC)CC\n")
    monkeypatch.setattr(data, "CHUNK_LINES", 2)
    monkeypatch.setattr(data, "_process_chunk", _failing_chunk)  # in-process DirectRunner: the patch holds
    config = data.PrepareConfig(source=str(src), out_dir=str(tmp_path / "out"), validation_fraction=0.0,
                                runner="DirectRunner", progress=False, verbose=False)
    summary = data.prepare(config)
    assert data.load_split(str(tmp_path / "out"), "train") == ["Oc1ccccc1", "CCN(CC)CC"]
    assert summary["skipped"]["dead_letter"] == 2
    assert [(e["line"], e["text"], e["reason"]) for e in summary["examples"]["dead_letter"]] == [
        (1, "CCO", "RuntimeError: worker lost"), (2, "OCC", "RuntimeError: worker lost")]


def test_score_on_beam_writes_the_default_records(tmp_path, beam, monkeypatch, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO ethanol\nC1CC\n\nc1ccccc1O\nCC(=O)Nc1ccc(O)cc1 paracetamol\n")
    monkeypatch.setattr(cli, "SCORE_CHUNK", 2)
    assert cli.main(["score", "--smiles", str(src), "--out", str(tmp_path / "plain.json")]) == 0
    assert cli.main(["score", "--smiles", str(src), "--out", str(tmp_path / "beam.json")] + TWO_WORKERS) == 0
    assert capsys.readouterr().out.count("scored 5 SMILES (3 valid) with the default preset") == 2
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert json.loads((tmp_path / "beam.json").read_text()) == plain
    assert [r["smiles"] for r in plain["molecules"]] == ["CCO", "C1CC", "", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]


def test_score_objective_on_beam_writes_the_default_records(tmp_path, beam, monkeypatch, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO ethanol\nC1CC\n\nc1ccccc1O\nCC(=O)Nc1ccc(O)cc1 paracetamol\n")
    monkeypatch.setattr(cli, "SCORE_CHUNK", 2)
    for name in ("plain", "beam"):
        extra = TWO_WORKERS if name == "beam" else []
        assert cli.main(["score", "--smiles", str(src), "--out", str(tmp_path / f"{name}.json"),
                         "--objective", "median1"] + extra) == 0
    assert capsys.readouterr().out.count("scored 5 SMILES (3 valid) with the objective median1") == 2
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert json.loads((tmp_path / "beam.json").read_text()) == plain
    assert [(r["smiles"], r["valid"]) for r in plain["molecules"]] == [
        ("CCO", True), ("C1CC", False), ("", False), ("c1ccccc1O", True), ("CC(=O)Nc1ccc(O)cc1", True)]


_SCORE_LINES = cli.score_lines


def _failing_score(job):
    if "C1CC" in job[2]:
        raise ValueError("no RDKit here")
    return _SCORE_LINES(job)


def test_a_failed_score_job_is_reported_as_dead_letters(tmp_path, beam, monkeypatch, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO\nC1CC\nc1ccccc1O\n")
    monkeypatch.setattr(cli, "SCORE_CHUNK", 2)
    monkeypatch.setattr(cli, "score_lines", _failing_score)
    assert cli.main(["score", "--smiles", str(src), "--out", str(tmp_path / "o.json"), "--runner", "DirectRunner"]) == 0
    assert "dead letters: 2 lines not scored (failed jobs), e.g. ValueError: no RDKit here" in capsys.readouterr().out
    records = json.loads((tmp_path / "o.json").read_text())["molecules"]
    assert [(r["smiles"], r["valid"], r.get("dead_letter")) for r in records] == [
        ("CCO", False, "ValueError: no RDKit here"), ("C1CC", False, "ValueError: no RDKit here"),
        ("c1ccccc1O", True, None)]


def test_beam_options_need_a_runner_and_a_runner_needs_beam(tmp_path, monkeypatch, capsys):
    src = tmp_path / "in.smi"
    src.write_text("CCO\n")
    out = str(tmp_path / "o.json")
    with pytest.raises(SystemExit) as e:
        cli.main(["score", "--smiles", str(src), "--out", out, "--direct_num_workers", "2"])
    assert e.value.code == 2
    assert "unrecognized arguments: --direct_num_workers 2" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # as if the extra were not installed
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", out, "--runner", "DirectRunner"]) == 2
    assert "error: --runner needs Apache Beam: pip install -c constraints-beam.txt 'sequence-tutor[beam]'" \
        in capsys.readouterr().err
    assert not os.path.exists(out)


def _shards(out):
    return {n: (out / n).read_bytes() for n in sorted(os.listdir(out)) if n.endswith(".tfrecord")}


def test_prepare_tfrecord_on_beam_writes_the_default_paths_shards(tmp_path, beam, monkeypatch):
    src = tmp_path / "mols.csv"
    src.write_text(CSV)
    monkeypatch.setattr(data, "CHUNK_LINES", 3)
    common = ["prepare", "--source", str(src), "--validation-fraction", "0.3", "--seed", "2", "--no-progress",
              "--format", "tfrecord", "--shards", "2"]
    assert cli.main(common + ["--out", str(tmp_path / "plain"), "--workers", "1"]) == 0
    assert cli.main(common + ["--out", str(tmp_path / "beam")] + TWO_WORKERS) == 0
    plain, on_beam = _shards(tmp_path / "plain"), _shards(tmp_path / "beam")
    assert sorted(plain) == ["train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord",
                             "validation-00000-of-00002.tfrecord", "validation-00001-of-00002.tfrecord"]
    assert on_beam == plain  # byte for byte (the driver writes the shards)
    assert data.load_split(str(tmp_path / "beam"), "train") == data.load_split(str(tmp_path / "plain"), "train")
    assert data.load_summary(str(tmp_path / "beam"))["records"] == data.load_summary(str(tmp_path / "plain"))["records"]
