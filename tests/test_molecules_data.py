"""``molecules prepare``: tiny CSV/SMI files and a fake molsets wheel."""

import gzip
import io
import json
import subprocess
import zipfile

import pytest

from molecules import chem, data, rewards, sources, tokenizers
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
    assert summary["skipped"] == {"empty": 1, "malformed": 1, "too_long": 0, "rdkit": 3, "round_trip": 0, "tokenizer": 0,
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
    src.write_text("C" * 20000 + "\nCCO\n" + "C" * (chem.MAX_SMILES_CHARS + 1) + "\nc1ccccc1\n" +
                   "C" * chem.MAX_SMILES_CHARS + "\n")
    summary, out = _prepare(tmp_path, src, validation_fraction=0.0)
    assert summary["skipped"]["too_long"] == 2
    assert [e["line"] for e in summary["examples"]["too_long"]] == [1, 3]
    assert summary["examples"]["too_long"][0]["reason"] == "a SMILES of 20,000 characters, more than the 2,000 allowed"
    assert sorted(data.load_split(out, "train")) == sorted(["CCO", "c1ccccc1", "C" * chem.MAX_SMILES_CHARS])


def test_a_directory_as_source_is_named_as_such(tmp_path):
    (tmp_path / "d.smi").mkdir()
    with pytest.raises(ValueError, match=r"^SMILES source .*d\.smi: it is a directory, not a file; give a \.smi/\.csv "
                                         r"file \(or 'moses'\)$"):
        _prepare(tmp_path, tmp_path / "d.smi")


# --- Inputs that exhaust the machine, and canonical SMILES that do not read back (issue 18) ----

ROUND_TRIP_INPUT = "O=CC1=Nc2nc[nH]c2C=[Al]1"  # valid, but its canonical SMILES is not


def test_canonical_smiles_that_rdkit_cannot_read_back_are_skipped_and_counted(tmp_path):
    from molecules import chem
    assert chem.canonical(ROUND_TRIP_INPUT) == "O=C[c]1nc2nc[nH]c2[cH][Al]1"
    assert chem.parse("O=C[c]1nc2nc[nH]c2[cH][Al]1") is None
    src = tmp_path / "mols.smi"
    src.write_text(f"CCO\n{ROUND_TRIP_INPUT}\nc1ccccc1\n")
    summary, out = _prepare(tmp_path, src, validation_fraction=0.0)
    assert data.load_split(out, "train") == ["CCO", "c1ccccc1"]
    assert summary["skipped"]["round_trip"] == 1 and summary["skipped"]["rdkit"] == 0
    [example] = summary["examples"]["round_trip"]
    assert example["line"] == 2 and example["text"] == ROUND_TRIP_INPUT
    assert example["reason"].startswith("RDKit cannot read back its canonical SMILES 'O=C[c]1nc2nc[nH]c2[cH][Al]1' (")
    assert "round_trip 1" in data.format_summary(summary, out)


def test_a_canonical_smiles_read_back_as_another_is_skipped(tmp_path, monkeypatch):
    from molecules import chem
    real = chem.canonical
    monkeypatch.setattr(chem, "canonical", lambda s: "OCC" if s == "CCO" else ("OC" if s == "OCC" else real(s)))
    src = tmp_path / "mols.smi"
    src.write_text("CCO\nc1ccccc1\n")
    summary, out = _prepare(tmp_path, src, validation_fraction=0.0)
    assert data.load_split(out, "train") == ["c1ccccc1"]
    assert summary["examples"]["round_trip"][0]["reason"] == "its canonical SMILES 'OCC' reads back as 'OC'"


def test_csv_fields_beyond_pythons_default_limit_are_read(tmp_path):
    """Python's csv module refused a field over 131,072 characters with a traceback."""
    src = tmp_path / "big.csv"
    src.write_text("id,note,SMILES\n1,x,CCO\n2," + "n" * 200_000 + ",c1ccccc1\n3,y," + "C" * 200_000 + "\n")
    summary, out = _prepare(tmp_path, src, validation_fraction=0.0)
    assert data.load_split(out, "train") == ["CCO", "c1ccccc1"]
    assert summary["skipped"]["too_long"] == 1 and summary["examples"]["too_long"][0]["line"] == 4


@pytest.mark.parametrize("suffix", [".csv", ".smi", ".smi.gz"])
def test_a_line_beyond_the_line_cap_is_one_error_naming_file_and_line(tmp_path, suffix):
    from rl_tuner.plumbing import file_checks
    src = tmp_path / f"big{suffix}"
    text = "SMILES\nCCO\n" + "C" * (file_checks.MAX_LINE_CHARS + 1) + "\nCCN\n"
    src.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
    with pytest.raises(ValueError) as e:
        _prepare(tmp_path, src)
    assert str(e.value) == (f"{src} line 3: longer than 1,048,576 characters (rl_tuner.plumbing.file_checks.MAX_LINE_CHARS); "
                            "not a line of a data file")
    assert not (tmp_path / "out").exists()


def test_a_header_of_many_columns_lists_a_few(tmp_path):
    src = tmp_path / "wide.csv"
    src.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("1" * 100_000) + "\n")
    with pytest.raises(ValueError) as e:
        _prepare(tmp_path, src)
    assert str(e.value) == f"{src}: no column 'SMILES'; columns: c0, c1, c2, c3, c4, c5, c6, c7 and 99,992 more"
    million = tmp_path / "million.csv"  # a header line beyond the line cap
    million.write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\n")
    with pytest.raises(ValueError, match=rf"^{million} line 1: longer than 1,048,576 characters"):
        _prepare(tmp_path, million)


def _bomb(path, lines=200_000):
    path.write_bytes(gzip.compress(b"CCO\n" * lines, compresslevel=9))
    return path


def test_a_gzip_bomb_is_streamed_and_refused_at_the_cap(tmp_path, monkeypatch):
    from rl_tuner.plumbing import file_checks
    assert file_checks.MAX_DECOMPRESSED_BYTES == 2**30
    monkeypatch.setattr(file_checks, "MAX_DECOMPRESSED_BYTES", 100_000)
    bomb = _bomb(tmp_path / "bomb.smi.gz")
    assert bomb.stat().st_size < 5_000  # 800,000 bytes inside
    message = (f"{bomb}: expands to more than 100,000 bytes when decompressed "
               "(rl_tuner.plumbing.file_checks.MAX_DECOMPRESSED_BYTES); a decompression bomb or not a data file")
    with pytest.raises(ValueError) as e:
        _prepare(tmp_path, bomb)
    assert str(e.value) == message
    # streamed: what was read before the refusal is bounded by the cap, not the file's expansion
    with file_checks.text_lines(str(bomb)) as lines:
        seen = 0
        with pytest.raises(ValueError, match="expands to more than 100,000 bytes"):
            for _ in lines:
                seen += 1
    assert 20_000 <= seen <= 25_000
    small = _bomb(tmp_path / "small.smi.gz", lines=20_000)  # 80,000 bytes: under the cap
    assert len(sources.read_source(str(small)).items) == 20_000


def test_a_gzip_bomb_inside_the_moses_wheel_names_the_member(tmp_path, monkeypatch):
    from rl_tuner.plumbing import file_checks
    monkeypatch.setattr(file_checks, "MAX_DECOMPRESSED_BYTES", 100_000)
    wheel = tmp_path / "molsets-0.3.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("moses/dataset/data/train.csv.gz", gzip.compress(b"SMILES,SPLIT\n" + b"CCO,train\n" * 20_000))
        z.writestr("moses/dataset/data/test.csv.gz", gzip.compress(b"SMILES,SPLIT\n" + b"CCO,test\n" * 20_000))
    with pytest.raises(ValueError, match=r"^molsets-0.3.1-py3-none-any.whl!moses/dataset/data/train.csv.gz: expands "
                                         r"to more than 100,000 bytes when decompressed"):
        sources.read_moses(str(wheel))


def test_a_gzip_bomb_as_a_prepared_split_names_the_file(tmp_path, monkeypatch):
    from rl_tuner.plumbing import file_checks
    src = tmp_path / "mols.smi"
    src.write_text("CCO\nc1ccccc1\n")
    _, out = _prepare(tmp_path, src, validation_fraction=0.0)
    monkeypatch.setattr(file_checks, "MAX_DECOMPRESSED_BYTES", 100_000)
    train = tmp_path / "out" / "train.smi.gz"
    _bomb(train)
    with pytest.raises(ValueError, match=rf"^{train}: expands to more than 100,000 bytes when decompressed"):
        data.load_split(out, "train")
    train.write_bytes(gzip.compress(b"CCO\n" + b"C" * 2001 + b"\n"))
    with pytest.raises(ValueError) as e:
        data.load_split(out, "train")
    assert str(e.value) == (f"{train} line 2: a SMILES of 2,001 characters, more than the 2,000 allowed "
                            "(molecules.chem.MAX_SMILES_CHARS)")


class _LinesStream(io.RawIOBase):
    """A binary stream of ``total`` lines ``C\\n`` made as they are read, counting how many were."""

    def __init__(self, total):
        super().__init__()
        self.total, self.made = total, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(self.total - self.made, len(buffer) // 2)
        self.made += n
        buffer[:2 * n] = b"C\n" * n
        return 2 * n


def test_a_gzip_of_too_many_lines_is_refused_at_the_line_cap(tmp_path, monkeypatch):
    """300 MiB of "C\\n" (306 KB of gzip, under the decompression cap) grew `molecules prepare` past
    8.5 GB: the number of lines one input may hold is capped, and refused as the stream reaches it."""
    from rl_tuner.plumbing import file_checks
    assert file_checks.MAX_LINES == 10_000_000  # MOSES: about 1.9 million molecules
    monkeypatch.setattr(file_checks, "MAX_LINES", 1_000)
    many = tmp_path / "many.smi.gz"
    many.write_bytes(gzip.compress(b"C\n" * 200_000))
    with pytest.raises(ValueError) as e:
        _prepare(tmp_path, many)
    assert str(e.value) == f"{many}: more than 1,000 lines, the most one input may hold (rl_tuner.plumbing.file_checks.MAX_LINES)"
    assert not (tmp_path / "out").exists()
    csv = tmp_path / "many.csv.gz"  # the CSV reader too (the header counts as a line)
    csv.write_bytes(gzip.compress(b"SMILES\n" + b"C\n" * 1_000))
    with pytest.raises(ValueError, match=rf"^{csv}: more than 1,000 lines, the most one input may hold"):
        sources.read_source(str(csv))
    # streamed: reading stops at line 1,001, whatever the input holds (made here as it is read)
    stream = _LinesStream(5_000_000)
    with file_checks.text_lines("x", name="endless", stream=io.BufferedReader(stream), compressed=False) as lines:
        seen = 0
        with pytest.raises(ValueError, match=r"^endless: more than 1,000 lines"):
            for _ in lines:
                seen += 1
    assert seen == 1_000 and stream.made < 1_001 + 20_000
    at_cap = tmp_path / "at_cap.smi.gz"  # exactly the cap: read whole
    at_cap.write_bytes(gzip.compress(b"C\n" * 1_000))
    assert len(sources.read_source(str(at_cap)).items) == 1_000
    with file_checks.text_lines(str(many), max_lines=200_000) as lines:  # a caller's own cap
        assert sum(1 for _ in lines) == 200_000


def test_too_many_lines_inside_the_moses_wheel_name_the_member(tmp_path, monkeypatch):
    from rl_tuner.plumbing import file_checks
    monkeypatch.setattr(file_checks, "MAX_LINES", 1_000)
    wheel = tmp_path / "molsets-0.3.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("moses/dataset/data/train.csv.gz", gzip.compress(b"SMILES,SPLIT\n" + b"CCO,train\n" * 1_000))
        z.writestr("moses/dataset/data/test.csv.gz", gzip.compress(b"SMILES,SPLIT\n" + b"CCO,test\n" * 10))
    with pytest.raises(ValueError) as e:
        sources.read_moses(str(wheel))
    assert str(e.value) == ("molsets-0.3.1-py3-none-any.whl!moses/dataset/data/train.csv.gz: more than 1,000 lines, "
                            "the most one input may hold (rl_tuner.plumbing.file_checks.MAX_LINES)")


def test_too_many_lines_in_a_prepared_split_name_the_file(tmp_path, monkeypatch):
    from rl_tuner.plumbing import file_checks
    src = tmp_path / "mols.smi"
    src.write_text("CCO\nc1ccccc1\n")
    _, out = _prepare(tmp_path, src, validation_fraction=0.0)
    monkeypatch.setattr(file_checks, "MAX_LINES", 1_000)
    train = tmp_path / "out" / "train.smi.gz"
    train.write_bytes(gzip.compress(b"CCO\n" * 1_001))
    with pytest.raises(ValueError) as e:
        data.load_split(out, "train")
    assert str(e.value) == f"{train}: more than 1,000 lines, the most one input may hold (rl_tuner.plumbing.file_checks.MAX_LINES)"


def _path_kinds(tmp_path):
    """{kind: (path, what the message says it is)} of inputs that are not readable files."""
    import os
    import socket
    fifo = tmp_path / "fifo.smi"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.smi"
    os.symlink(loop, loop)
    dangling = tmp_path / "dangling.smi"
    os.symlink(tmp_path / "gone.smi", dangling)
    folder = tmp_path / "folder.smi"
    folder.mkdir()
    sock = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    return server, {
        "fifo": (fifo, "it is a FIFO (named pipe), not a file"),
        "loop": (loop, "it is a symbolic link loop (too many levels of symbolic links)"),
        "dangling": (dangling, f"it is a symbolic link to {str(tmp_path / 'gone.smi')!r}, which does not exist"),
        "directory": (folder, "it is a directory, not a file"),
        "socket": (sock, "it is a socket, not a file"),
        "device": ("/dev/zero", "it is a character device, not a file"),
    }


def test_sources_say_what_a_path_is(tmp_path, monkeypatch):
    from rl_tuner.plumbing import file_checks
    server, kinds = _path_kinds(tmp_path)
    with server:
        for kind, (path, what) in kinds.items():
            with pytest.raises(ValueError) as e:
                _prepare(tmp_path, path)
            assert str(e.value) == f"SMILES source {path}: {what}; give a .smi/.csv file (or 'moses')", kind
            with pytest.raises(ValueError) as e:
                _prepare(tmp_path, "moses", wheel=str(path))
            assert str(e.value) == f"{path}: {what}", kind
    readable = tmp_path / "r.smi"
    readable.write_text("CCO\n")
    monkeypatch.setattr(file_checks.os, "access", lambda p, mode: False)  # the tests run as root: chmod reads anyway
    with pytest.raises(ValueError) as e:
        _prepare(tmp_path, readable)
    assert str(e.value) == f"SMILES source {readable}: it is not readable (permission denied); give a .smi/.csv file " \
                           "(or 'moses')"


def test_data_set_folders_say_what_a_path_is(tmp_path):
    server, kinds = _path_kinds(tmp_path)
    with server:
        for kind, (path, what) in kinds.items():
            if kind == "directory":
                continue
            what = what.replace("not a file", "not a folder")
            for load in (data.load_summary, lambda d: data.load_split(d, "train"), data.load_tokenizer):
                with pytest.raises(ValueError) as e:
                    load(str(path))
                assert str(e.value) == f"{path}: {what}; give a folder written by 'molecules prepare'", kind
    not_dir = tmp_path / "plain"
    not_dir.write_text("x")
    with pytest.raises(ValueError, match=r"plain: it is a file, not a folder; give a folder written by"):
        data.load_summary(str(not_dir))
