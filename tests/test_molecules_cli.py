"""The ``molecules`` command line: score and prepare, errors, and no TensorFlow import."""

import json
import os
import subprocess
import sys

import pytest

from molecules import chem, cli, data, rewards
from rl_tuner.plumbing.cli_utils import run_main

from molecule_fixtures import score_lines  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COCAINE = "CN1C2CCC1C(C(=O)OC)C(OC(=O)c1ccccc1)C2"


def _score(tmp_path, lines, *extra):
    return score_lines(tmp_path, lines, *extra, name="in.txt")


def test_score_paper_preset(tmp_path, capsys):
    records = _score(tmp_path, [COCAINE, "C1CC", "", "  CCO  "], "--preset", "paper")
    assert "scored 4 SMILES (2 valid) with the paper preset" in capsys.readouterr().out
    assert [r["smiles"] for r in records] == [COCAINE, "C1CC", "", "CCO"]
    assert [r["valid"] for r in records] == [True, False, False, True]
    assert all(list(r) == ["smiles", "valid", "logp", "qed", "sa", "ring_penalty", "reward"] for r in records)
    mol = chem.parse(COCAINE)
    cocaine = records[0]
    assert cocaine["logp"] == pytest.approx(rewards.logp(mol)) and cocaine["qed"] == pytest.approx(rewards.qed(mol))
    assert cocaine["sa"] == pytest.approx(rewards.sa(mol))
    assert cocaine["ring_penalty"] == -1.0  # cycle_basis on the SMILES as given: a 7-cycle
    p = 3 * cocaine["logp"] + 5 * -1 + 50 * cocaine["qed"] - 2 * cocaine["sa"]
    assert cocaine["reward"] == pytest.approx(10 * p + 600)
    assert records[1] == {"smiles": "C1CC", "valid": False, "logp": None, "qed": None, "sa": None,
                          "ring_penalty": None, "reward": -200.0}
    assert records[2]["reward"] == -200.0


def test_score_default_preset_with_and_without_data(tmp_path):
    records = _score(tmp_path, [COCAINE])
    assert records[0]["ring_penalty"] == 0.0  # order-independent ring measure
    expected = rewards.DomainReward(rewards.default_preset()).finished(COCAINE)
    assert records[0]["reward"] == pytest.approx(expected)
    # limits from a prepared data set: its molecules are 3..4 tokens, so CCCCCCO is long enough
    src = tmp_path / "train.smi"
    src.write_text("CCO\nCCCO\nCCN\n")
    data.prepare(data.PrepareConfig(source=str(src), out_dir=str(tmp_path / "ds"), validation_fraction=0.0,
                                    workers=1, progress=False, verbose=False))
    stats = data.load_summary(str(tmp_path / "ds"))["statistics"]
    record = _score(tmp_path, ["CO"], "--data", str(tmp_path / "ds"))[0]
    assert record["reward"] == pytest.approx(rewards.DomainReward(rewards.default_preset(stats)).finished("CO"))
    assert record["reward"] == pytest.approx(10 * (3 * record["logp"] + 50 * record["qed"] - 2 * record["sa"])
                                             - 1000 + 600)  # 2 tokens < min 3: the default short penalty


def test_score_errors(tmp_path, capsys):
    missing = str(tmp_path / "missing.txt")
    assert run_main(cli.main, ["score", "--smiles", missing, "--out", str(tmp_path / "o.json")]) == 2
    assert capsys.readouterr().err.strip() == f"error: SMILES file {missing!r} does not exist"
    src = tmp_path / "in.txt"
    src.write_text("CCO\n")
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", str(tmp_path / "o.json"),
                               "--data", str(tmp_path)]) == 2
    assert "summary.json does not exist; build the data set with 'molecules prepare" in capsys.readouterr().err
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", str(tmp_path / "o.json"),
                               "--preset", "paper", "--data", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == ("error: --data sets the default preset's limits; "
                                               "the paper preset has fixed ones")
    assert not (tmp_path / "o.json").exists()


def test_prepare_command(tmp_path, capsys):
    src = tmp_path / "mols.smi"
    src.write_text("CCO\nC1CC\nc1ccccc1\n")
    out = tmp_path / "ds"
    assert cli.main(["prepare", "--source", str(src), "--out", str(out), "--workers", "1", "--no-progress",
                     "--validation-fraction", "0"]) == 0
    printed = capsys.readouterr().out
    assert f"{src} -> {out}" in printed and "kept: train 2" in printed
    assert "rdkit 1" in printed and f"rdkit: {src} line 2: 'C1CC' (syntax)" in printed
    assert data.load_split(str(out), "train") == ["CCO", "c1ccccc1"]
    assert run_main(cli.main, ["prepare", "--source", str(tmp_path / "nope.smi"), "--out", str(out)]) == 2
    assert "error: SMILES source" in capsys.readouterr().err


def test_score_never_replaces_its_input_or_a_users_file(tmp_path, capsys):
    """`score --smiles x.smi --out x.smi` used to replace the SMILES with the scores."""
    src = tmp_path / "in.smi"
    src.write_text("CCO\n")
    notes = tmp_path / "notes.json"
    notes.write_text("[1]")
    for out, extra, message in [(src, ["--overwrite"], f"--out {src} would replace the input {src}"),
                                (notes, [], f"--out {notes} already exists and is not an earlier output of "
                                            "`molecules score`")]:
        assert run_main(cli.main, ["score", "--smiles", str(src), "--out", str(out), *extra]) == 2
        assert capsys.readouterr().err.startswith(f"error: {message}")
    assert (src.read_text(), notes.read_text()) == ("CCO\n", "[1]")
    out = tmp_path / "o.json"
    for _ in range(2):  # its own earlier output is replaced
        assert run_main(cli.main, ["score", "--smiles", str(src), "--out", str(out)]) == 0
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", str(notes), "--overwrite"]) == 0
    assert [r["smiles"] for r in json.loads(notes.read_text())["molecules"]] == ["CCO"]


def test_prepare_reruns_into_its_own_output_and_keeps_a_users_folder(tmp_path, capsys):
    """A rerun used to be refused after all the work, suggesting an --overwrite that did not exist;
    the folder holding the source was not recognised as an input."""
    src = tmp_path / "mols.smi"
    src.write_text("CCO\nc1ccccc1\n")
    out = tmp_path / "ds"
    argv = ["prepare", "--source", str(src), "--workers", "1", "--validation-fraction", "0", "--out"]
    assert run_main(cli.main, argv + [str(out)]) == 0
    assert run_main(cli.main, argv + [str(out)]) == 0
    assert data.load_split(str(out), "train") == ["CCO", "c1ccccc1"]
    assert "canonicalising" not in capsys.readouterr().err  # no progress bar when stderr is not a terminal
    assert run_main(cli.main, argv + [str(tmp_path), "--overwrite"]) == 2
    assert capsys.readouterr().err.strip() == f"error: --out {tmp_path} would replace the input {src}; write to another path"
    user = tmp_path / "user"
    user.mkdir()
    (user / "keep.txt").write_text("mine")
    assert run_main(cli.main, argv + [str(user)]) == 2
    assert "is not empty (1 entry: keep.txt)" in capsys.readouterr().err
    assert run_main(cli.main, argv + [str(user), "--overwrite"]) == 0
    assert (user / "keep.txt").read_text() == "mine" and (user / "summary.json").is_file()


def test_molecules_commands_do_not_import_tensorflow(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("CCO\n")
    code = (
        "import sys\n"
        "from molecules import cli\n"
        f"cli.main(['score', '--smiles', {str(src)!r}, '--out', {str(tmp_path / 'o.json')!r}])\n"
        f"cli.main(['prepare', '--source', {str(src)!r}, '--out', {str(tmp_path / 'ds')!r}, '--workers', '1',"
        " '--no-progress', '--validation-fraction', '0'])\n"
        f"cli.main(['score', '--smiles', {str(src)!r}, '--out', {str(tmp_path / 'p.json')!r}, '--objective', 'qed'])\n"
        "for argv in (['--task', 'drd2'], ['--suite', 'pmo', '--seed', '1'], ['--task', 'qed', '--budget', '0']):\n"
        "    try:\n"
        f"        cli.main(['benchmark', '--out', {str(tmp_path / 'b')!r}] + argv)\n"
        "    except (ValueError, SystemExit):\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError(argv)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras')]\n"
        "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_console_script_is_declared():
    with open(os.path.join(REPO, "setup.py")) as f:
        assert '"molecules=molecules.cli:console_entry_point"' in f.read()


def test_score_reads_the_first_field_of_a_smi_line_and_names_a_directory(tmp_path, capsys):
    """A .smi file has the SMILES first and may have a name after it: `CCO ethanol` is ethanol
    (it was scored as an invalid SMILES with the name in it); a directory is named as such."""
    records = _score(tmp_path, ["CCO ethanol", "c1ccccc1\tbenzene", "", "C1CC ring"], "--preset", "paper")
    assert [r["smiles"] for r in records] == ["CCO", "c1ccccc1", "", "C1CC"]
    assert [r["valid"] for r in records] == [True, True, False, False]
    paper = rewards.DomainReward(rewards.paper_preset())
    assert records[0]["reward"] == pytest.approx(paper.finished("CCO"))
    (tmp_path / "d.smi").mkdir()
    assert run_main(cli.main, ["score", "--smiles", str(tmp_path / "d.smi"), "--out", str(tmp_path / "o.json")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: SMILES file {tmp_path / 'd.smi'}: it is a directory, not a "
                                               "file; give a text file, one SMILES per line")


# --- What one line may cost (issue 18) -----------------------------------------------------------


@pytest.mark.parametrize("preset", ["paper", "default"])
def test_score_refuses_a_smiles_over_the_cap_naming_file_and_line(tmp_path, capsys, preset):
    """A 40 KB alkane took 99 s and 19.9 GB with the paper preset (its dense ring measure)."""
    src = tmp_path / "in.smi"
    src.write_text("CCO\n" + "C" * 2000 + " name\n" + "C" * 40_000 + "\nCCN\n")
    out = tmp_path / "out.json"
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", str(out), "--preset", preset]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {src} line 3: a SMILES of 40,000 characters, more than the "
                                               "2,000 allowed (molecules.chem.MAX_SMILES_CHARS)")
    assert not out.exists()
    src.write_text("CCO\n" + "C" * 2000 + " name\n")
    assert [r["valid"] for r in _score(tmp_path, ["CCO", "C" * 2000 + " name"], "--preset", preset)] == [True, True]


def test_score_reads_gzip_and_refuses_a_bomb_naming_the_file(tmp_path, capsys, monkeypatch):
    import gzip
    from rl_tuner.plumbing import file_checks
    src = tmp_path / "in.smi.gz"
    src.write_bytes(gzip.compress(b"CCO\nc1ccccc1\n"))
    out = tmp_path / "out.json"
    assert cli.main(["score", "--smiles", str(src), "--out", str(out)]) == 0
    assert [r["smiles"] for r in json.loads(out.read_text())["molecules"]] == ["CCO", "c1ccccc1"]
    monkeypatch.setattr(file_checks, "MAX_DECOMPRESSED_BYTES", 100_000)
    src.write_bytes(gzip.compress(b"CCO\n" * 100_000))
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", str(out), "--overwrite"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {src}: expands to more than 100,000 bytes when decompressed "
        "(rl_tuner.plumbing.file_checks.MAX_DECOMPRESSED_BYTES); a decompression bomb or not a data file")


def test_score_and_prepare_refuse_too_many_lines_naming_the_file(tmp_path, capsys, monkeypatch):
    """A 306 KB gzip of 157 million lines "C" (under the decompression cap) grew `molecules score` and
    `molecules prepare` without bound: one input holds at most file_checks.MAX_LINES lines."""
    import gzip
    from rl_tuner.plumbing import file_checks
    monkeypatch.setattr(file_checks, "MAX_LINES", 1_000)
    src = tmp_path / "bomb.smi.gz"
    src.write_bytes(gzip.compress(b"C\n" * 1_000))
    out = tmp_path / "out.json"
    assert cli.main(["score", "--smiles", str(src), "--out", str(out)]) == 0  # exactly the cap
    assert len(json.loads(out.read_text())["molecules"]) == 1_000
    src.write_bytes(gzip.compress(b"C\n" * 100_000))
    message = f"error: {src}: more than 1,000 lines, the most one input may hold (rl_tuner.plumbing.file_checks.MAX_LINES)"
    out.unlink()
    assert run_main(cli.main, ["score", "--smiles", str(src), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == message
    assert not out.exists()
    assert run_main(cli.main, ["prepare", "--source", str(src), "--out", str(tmp_path / "b6"), "--workers", "1"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == message
    assert not (tmp_path / "b6").exists()


def test_score_and_prepare_say_what_a_path_is(tmp_path, capsys):
    import socket
    fifo, loop, dangling = tmp_path / "fifo.smi", tmp_path / "loop.smi", tmp_path / "dangling.smi"
    os.mkfifo(fifo)
    os.symlink(loop, loop)
    os.symlink(tmp_path / "gone", dangling)
    sock = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
        cases = {fifo: "it is a FIFO (named pipe), not a file", loop: "it is a symbolic link loop (too many levels "
                 "of symbolic links)", dangling: f"it is a symbolic link to {str(tmp_path / 'gone')!r}, which does not "
                 "exist", sock: "it is a socket, not a file"}
        for path, what in cases.items():
            assert run_main(cli.main, ["score", "--smiles", str(path), "--out", str(tmp_path / "o.json")]) == 2
            assert capsys.readouterr().err.strip() == (f"error: SMILES file {path}: {what}; give a text file, one "
                                                       "SMILES per line")
            assert run_main(cli.main, ["prepare", "--source", str(path), "--out", str(tmp_path / "d"),
                                       "--workers", "1"]) == 2
            assert capsys.readouterr().err.strip() == (f"error: SMILES source {path}: {what}; give a .smi/.csv file "
                                                       "(or 'moses')")
            src = tmp_path / "ok.smi"
            src.write_text("CCO\n")
            assert run_main(cli.main, ["score", "--smiles", str(src), "--data", str(path), "--out",
                                       str(tmp_path / "o.json")]) == 2
            what = what.replace("not a file", "not a folder")
            assert capsys.readouterr().err.strip() == (f"error: {path}: {what}; give a folder written by "
                                                       "'molecules prepare'")
