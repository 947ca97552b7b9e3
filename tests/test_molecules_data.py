"""``molecules prepare``: tiny CSV/SMI files and a fake molsets wheel."""

import gzip
import json
import subprocess
import zipfile

import pytest

from molecules import data, rewards, sources, tokenizers
from molecules.data import PrepareConfig

CSV = """id,SMILES
1,CCO
2,
3,C1CC
4,OCC
5
6,C(C)(C)(C)(C)C
7,Clc1ccccc1
8,[nH]1cccc1
9,CC.[Na+]
10,CX
"""


def _prepare(tmp_path, source, **kw):
    kw.setdefault("workers", 1)
    config = PrepareConfig(source=str(source), out_dir=str(tmp_path / "out"), progress=False, verbose=False, **kw)
    return data.prepare(config), str(tmp_path / "out")


def test_prepare_csv_counts_and_names_every_skipped_line(tmp_path):
    src = tmp_path / "mols.csv"
    src.write_text(CSV)
    summary, out = _prepare(tmp_path, src, validation_fraction=0.0)
    assert data.load_split(out, "train") == ["CCO", "Clc1ccccc1", "c1cc[nH]c1", "CC.[Na+]"]
    assert summary["lines_read"] == 10
    assert summary["splits"] == {"train": {"file": "train.smi.gz", "molecules": 4}}
    assert summary["skipped"] == {"empty": 1, "malformed": 1, "too_long": 0, "rdkit": 3, "tokenizer": 0,
                                  "duplicate": 1}
    assert summary["rdkit_problems"] == {"syntax": 2, "AtomValenceException": 1}
    src_name = str(src)
    assert summary["examples"]["malformed"] == [{"file": src_name, "line": 6, "text": "5",
                                                 "reason": "no 'SMILES' field"}]
    assert summary["examples"]["empty"] == [{"file": src_name, "line": 3, "text": "", "reason": "empty line"}]
    assert [(e["line"], e["text"], e["reason"].split(":")[0]) for e in summary["examples"]["rdkit"]] == [
        (4, "C1CC", "syntax"), (7, "C(C)(C)(C)(C)C", "AtomValenceException"), (11, "CX", "syntax")]
    # the atom vocabulary is fitted on the train split; '.', 'a' are outside the paper's 35 characters
    assert summary["paper_vocabulary_misses"] == {".": 1, "a": 1}
    tok = data.load_tokenizer(out)
    assert tok.symbols == ("<eos>", "<bos>", "(", "1", "C", "Cl", "O", "[Na+]", "[nH]", "c", ".")[:2] + tuple(
        sorted(["1", "C", "Cl", "O", "[Na+]", "[nH]", "c", "."]))
    assert summary["statistics"] == rewards.data_statistics(data.load_split(out, "train"), "atom")
    assert summary["char_statistics"] == rewards.data_statistics(data.load_split(out, "train"), "char")
    with open(f"{out}/summary.json") as f:
        assert json.load(f) == summary


def test_char_tokenizer_skips_lines_outside_the_35_characters(tmp_path):
    src = tmp_path / "mols.smi"
    src.write_text("smiles\nCCO ethanol\nCC.[Na+] salt\nC[Si](C)C\nc1ccccc1\n")
    summary, out = _prepare(tmp_path, src, tokenizer="char", validation_fraction=0.0)
    assert data.load_split(out, "train") == ["CCO", "c1ccccc1"]
    assert summary["skipped"]["tokenizer"] == 2
    assert summary["unknown_symbols"] == {".": 1, "a": 1, "i": 1}
    assert [(e["line"], e["reason"]) for e in summary["examples"]["tokenizer"]] == [
        (3, "outside the vocabulary: '.' 'a'"), (4, "outside the vocabulary: 'i'")]
    assert data.load_tokenizer(out) == tokenizers.paper_tokenizer()


def test_split_is_deterministic_and_by_canonical_smiles(tmp_path):
    smiles = [f"C{'C' * i}O" for i in range(30)] + ["OCC"]
    src = tmp_path / "mols.smi"
    src.write_text("\n".join(smiles) + "\n")
    summary, out = _prepare(tmp_path, src, validation_fraction=0.5, seed=3)
    train, validation = data.load_split(out, "train"), data.load_split(out, "validation")
    assert sorted(train + validation) == sorted(f"C{'C' * i}O" for i in range(30))
    assert train and validation and summary["skipped"]["duplicate"] == 1  # OCC is CCO
    for s in train:
        assert data.split_of(s, 3, 0.5) == "train"
    for s in validation:
        assert data.split_of(s, 3, 0.5) == "validation"
    # reversed input order: the same split (in reversed order)
    src.write_text("\n".join(reversed(smiles)) + "\n")
    _, out2 = _prepare(tmp_path / "b", src, validation_fraction=0.5, seed=3)
    assert data.load_split(out2, "validation") == list(reversed(validation))


def test_parallel_workers_give_the_same_data_set(tmp_path, monkeypatch):
    src = tmp_path / "mols.csv"
    src.write_text(CSV + "".join(f"{11 + i},{'C' * (i + 1)}O\n" for i in range(12)))
    monkeypatch.setattr(data, "CHUNK_LINES", 3)
    one, out1 = _prepare(tmp_path / "one", src, validation_fraction=0.5)
    two, out2 = _prepare(tmp_path / "two", src, validation_fraction=0.5, workers=2)
    assert set(one["splits"]) == {"train", "validation"}
    for split in ("train", "validation"):
        assert data.load_split(out1, split) == data.load_split(out2, split)
    one.pop("wall_time_s"), two.pop("wall_time_s")
    assert one == two


def _fake_wheel(path, train_rows, test_rows):
    with zipfile.ZipFile(path, "w") as z:
        for member, rows in (("train", train_rows), ("test", test_rows)):
            z.writestr(f"moses/dataset/data/{member}.csv.gz",
                       gzip.compress(("SMILES\n" + "\n".join(rows) + "\n").encode()))
    return str(path)


def test_moses_from_the_wheel(tmp_path):
    wheel = _fake_wheel(tmp_path / "molsets-0.3.1-py3-none-any.whl",
                        ["CCO", "c1ccccc1", "CCN", "C1CC"], ["CCCl", "CCS", "CCO"])
    summary, out = _prepare(tmp_path, "moses", wheel=wheel, validation_fraction=0.0)
    assert data.load_split(out, "train") == ["CCO", "c1ccccc1", "CCN"]
    # test keeps CCO (its own duplicate set) but not what the train vocabulary cannot encode
    assert data.load_split(out, "test") == ["CCO"]
    name = "molsets-0.3.1-py3-none-any.whl!moses/dataset/data/test.csv.gz"
    assert summary["examples"]["tokenizer"] == [
        {"file": name, "line": 2, "text": "CCCl", "reason": "not in the train vocabulary: 'Cl'"},
        {"file": name, "line": 3, "text": "CCS", "reason": "not in the train vocabulary: 'S'"}]
    assert summary["unknown_symbols"] == {"Cl": 1, "S": 1}
    assert summary["inputs"] == [
        {"file": "molsets-0.3.1-py3-none-any.whl!moses/dataset/data/train.csv.gz", "split": "train", "lines": 4},
        {"file": name, "split": "test", "lines": 3}]
    # limit reads the first lines of each file
    summary, _ = _prepare(tmp_path / "lim", "moses", wheel=wheel, limit=2, validation_fraction=0.0)
    assert summary["lines_read"] == 4


def test_moses_wheel_lookup_and_download(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "molsets-0.3.1-py3-none-any.whl").write_bytes(b"x")
    assert sources.moses_wheel(None, str(cache)) == str(cache / "molsets-0.3.1-py3-none-any.whl")
    with pytest.raises(FileNotFoundError, match="MOSES wheel 'nope.whl' does not exist"):
        sources.moses_wheel("nope.whl", str(cache))
    calls = []

    def fake_run(command, **kw):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found\n")

    monkeypatch.setattr(sources.subprocess, "run", fake_run)
    empty = tmp_path / "empty"
    with pytest.raises(ValueError, match=r"could not download molsets==0.3.1 \(ERROR: No matching distribution "
                                         r"found\); run 'pip download molsets==0.3.1 --no-deps -d .*empty' or pass --wheel PATH"):
        sources.moses_wheel(None, str(empty))
    assert calls[0][1:] == ["-m", "pip", "download", "molsets==0.3.1", "--no-deps", "-d", str(empty)]


def test_bad_wheels_and_sources(tmp_path):
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=f"{bad}: not a readable wheel"):
        sources.read_moses(str(bad))
    other = tmp_path / "other.whl"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("x.txt", "x")
    with pytest.raises(ValueError, match=f"{other}: has no moses/dataset/data/train.csv.gz; is it the molsets 0.3.1 wheel"):
        sources.read_moses(str(other))
    with pytest.raises(FileNotFoundError, match="SMILES source .*missing.smi' does not exist"):
        sources.read_source(str(tmp_path / "missing.smi"))
    csv = tmp_path / "a.csv"
    csv.write_text("id,smiles_string\n1,CCO\n")
    with pytest.raises(ValueError, match=f"{csv}: no column 'SMILES'; columns: id, smiles_string"):
        sources.read_source(str(csv))
    assert sources.read_source(str(csv), column="SMILES_STRING").items == [(2, "CCO")]
    tsv = tmp_path / "a.tsv"
    tsv.write_text("name\tSMILES\nethanol\tCCO\n\n")
    assert sources.read_source(str(tsv)).items == [(2, "CCO"), (3, "")]
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty CSV file"):
        sources.read_source(str(empty))
    gz = tmp_path / "a.smi.gz"
    gz.write_bytes(gzip.compress(b"CCO\n\xff\xfe\n"))
    assert sources.read_source(str(gz)).items == [(1, "CCO"), (2, "\ufffd\ufffd")]
    broken = tmp_path / "b.smi.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ValueError, match=f"{broken}: not a readable gzip file"):
        sources.read_source(str(broken))


def test_undecodable_and_all_bad_lines(tmp_path):
    src = tmp_path / "bad.smi"
    src.write_bytes(b"\xff\xfeC\nC1CC\n")
    with pytest.raises(ValueError, match=r"no molecule left for the train split \(skipped: \{'rdkit': 2\}\)"):
        _prepare(tmp_path, src)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_config_and_loader_errors(tmp_path):
    with pytest.raises(ValueError, match=r"^validation_fraction must be in \[0, 1\), got 1.0$"):
        PrepareConfig(validation_fraction=1.0)
    with pytest.raises(ValueError, match="tokenizer must be 'atom' or 'char', got 'bpe'"):
        PrepareConfig(tokenizer="bpe")
    with pytest.raises(ValueError, match=r"^workers must be an integer > 0, got 0$"):
        PrepareConfig(workers=0)
    with pytest.raises(ValueError, match=r"^limit must be an integer >= 1, got 0$"):
        PrepareConfig(limit=0)
    with pytest.raises(ValueError, match=r"^seed must be an integer in \[0, 4294967295\], got -1$"):
        PrepareConfig(seed=-1)
    with pytest.raises(FileNotFoundError, match="summary.json does not exist; build the data set with 'molecules prepare"):
        data.load_summary(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train.smi.gz does not exist"):
        data.load_split(str(tmp_path), "train")
    with pytest.raises(ValueError, match=r"unknown split 'dev'"):
        data.load_split(str(tmp_path), "dev")


def test_an_rdkit_exception_on_one_line_is_counted_not_fatal(tmp_path, monkeypatch):
    from molecules import chem

    real = chem.canonical

    def flaky(text):
        if text == "CCN":
            raise RuntimeError("boom")
        return real(text)

    monkeypatch.setattr(chem, "canonical", flaky)
    src = tmp_path / "mols.smi"
    src.write_text("CCO\nCCN\n")
    summary, out = _prepare(tmp_path, src, validation_fraction=0.0)
    assert data.load_split(out, "train") == ["CCO"]
    assert summary["examples"]["rdkit"] == [{"file": str(src), "line": 2, "text": "CCN", "reason": "RuntimeError: boom"}]
    assert summary["rdkit_problems"] == {"RuntimeError": 1}


def test_a_line_too_long_for_rdkit_is_skipped_and_counted(tmp_path):
    """RDKit crashed the process (segmentation fault) on a line of 20,000 C and hung on 2,000,000;
    such lines are skipped before RDKit sees them, named in the summary, and the rest is kept."""
    src = tmp_path / "big.smi"
    src.write_text("C" * 20000 + "\nCCO\n" + "C" * (data.MAX_SMILES_CHARS + 1) + "\nc1ccccc1\n" +
                   "C" * data.MAX_SMILES_CHARS + "\n")
    summary, out = _prepare(tmp_path, src, validation_fraction=0.0)
    assert summary["skipped"]["too_long"] == 2
    assert [e["line"] for e in summary["examples"]["too_long"]] == [1, 3]
    assert summary["examples"]["too_long"][0]["reason"] == f"20,000 characters (more than {data.MAX_SMILES_CHARS:,})"
    assert sorted(data.load_split(out, "train")) == sorted(["CCO", "c1ccccc1", "C" * data.MAX_SMILES_CHARS])


def test_a_directory_as_source_is_named_as_such(tmp_path):
    (tmp_path / "d.smi").mkdir()
    with pytest.raises(ValueError, match=r"is a directory; give a \.smi/\.csv file"):
        _prepare(tmp_path, tmp_path / "d.smi")
