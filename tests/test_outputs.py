"""Safe outputs (rl_tuner.plumbing.outputs, rl_tuner.plumbing.atomic): nothing a command did not create is ever
deleted, inputs and run directories are never replaced, and write errors name the user's path.
"""

import errno
import json
import os
import re

import pytest

from rl_tuner.plumbing import atomic, output_dir, outputs
from rl_tuner.plumbing.cli_utils import run_main


def _touch(path, text="x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _user_folder(path):
    """A folder of a user's own files (what `--out .` found in the current folder)."""
    for name in ("notes.txt", "song.mid", "thesis.tex"):
        _touch(os.path.join(path, name), name)
    _touch(os.path.join(path, "photos", "a.jpg"))
    return str(path)


def _legacy_rl_run(path):
    """A finished `rl-tuner train` run as runs written before manifests existed look."""
    _touch(os.path.join(path, "config.json"), "{}")
    _touch(os.path.join(path, "ckpt", "checkpoint"))
    _touch(os.path.join(path, "stats.json"), "{}")
    return str(path)


# --------------------------------------------------------------------------- check_dir
def test_missing_and_empty_targets_are_fine(tmp_path):
    # accepted (no OutputError) and left as they were: the check creates nothing
    assert outputs.check_dir(str(tmp_path / "new"), "rl-tuner export") is None
    assert outputs.check_dir(str(tmp_path), "rl-tuner export") is None
    assert outputs.check_file(str(tmp_path / "new.json"), "rl-tuner export") is None
    assert os.listdir(tmp_path) == []
    (tmp_path / "x").write_text("")  # the same empty folder holding one file is refused
    with pytest.raises(outputs.OutputError, match=r"is not empty \(1 entry: x\)"):
        outputs.check_dir(str(tmp_path), "rl-tuner export")


def test_non_empty_folder_is_refused_naming_what_is_there(tmp_path):
    folder = _user_folder(tmp_path / "mine")
    with pytest.raises(outputs.OutputError) as info:
        outputs.check_dir(folder, "rl-tuner export")
    assert str(info.value) == (
        f"--out {folder} is not empty (4 entries: notes.txt, photos/, song.mid, thesis.tex); choose another "
        "--out, or pass --overwrite to replace what rl-tuner export writes there (other files are kept)")
    outputs.check_dir(folder, "rl-tuner export", overwrite=True)


def test_describe_shows_a_few_names_and_the_count(tmp_path):
    for i in range(7):
        _touch(str(tmp_path / f"f{i}.txt"))
    _touch(str(tmp_path / outputs.MANIFEST))  # bookkeeping is not counted
    assert outputs.describe(str(tmp_path)) == "7 entries: f0.txt, f1.txt, f2.txt, f3.txt, ..."


def test_own_earlier_output_is_fine_another_commands_is_not(tmp_path):
    with output_dir.directory(str(tmp_path / "out"), "note-rnn generate") as tmp:
        _touch(os.path.join(tmp, "melody_0.mid"))
    outputs.check_dir(str(tmp_path / "out"), "note-rnn generate")
    with pytest.raises(outputs.OutputError, match=re.escape("holds the output of `note-rnn generate`")):
        outputs.check_dir(str(tmp_path / "out"), "rl-tuner export")
    outputs.check_dir(str(tmp_path / "out"), "rl-tuner generate")  # the same kind of output: melodies


@pytest.mark.parametrize("make_run", [
    _legacy_rl_run,
    lambda p: _touch(os.path.join(p, "train_config.json"), "{}") or str(p),  # legacy note-rnn run
    lambda p: _touch(os.path.join(p, outputs.MANIFEST), json.dumps({"command": "rl-tuner train", "files": []}))
    or str(p),
])
def test_run_directories_are_never_replaced_even_with_overwrite(tmp_path, make_run):
    run = make_run(str(tmp_path / "run"))
    with pytest.raises(outputs.OutputError, match="training run directory .*never replaced"):
        outputs.check_dir(run, "rl-tuner export", overwrite=True)
    with pytest.raises(outputs.OutputError, match="never replaced"):
        with output_dir.directory(run, overwrite=True):
            pass
    _touch(os.path.join(run, "stats.json"), json.dumps({"written_by": "rl-tuner evaluate"}))
    with pytest.raises(outputs.OutputError, match="part of the training run"):
        outputs.check_file(os.path.join(run, "stats.json"), "rl-tuner evaluate", overwrite=True)
    with pytest.raises(outputs.OutputError, match="part of the training run"):  # nor is anything added to a run
        outputs.check_file(os.path.join(run, "new.json"), "rl-tuner evaluate")


def test_inputs_are_never_replaced_even_with_overwrite(tmp_path):
    src = str(tmp_path / "models" / "model.ckpt")
    _touch(src + ".index")
    for out in (src, str(tmp_path / "models"), str(tmp_path)):  # the input itself, or a folder holding it
        with pytest.raises(outputs.OutputError, match=re.escape(f"--out {out} would replace the input {src}")):
            outputs.check_dir(out, "note-rnn import-magenta", overwrite=True, inputs=[src])
    # A new folder inside an input folder replaces nothing.
    outputs.check_dir(str(tmp_path / "models" / "converted"), "x", inputs=[str(tmp_path / "models")])


def test_relative_and_symlinked_spellings_of_an_input_are_caught(tmp_path, monkeypatch):
    run = _legacy_rl_run(tmp_path / "run")
    os.symlink(run, tmp_path / "link")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(outputs.OutputError, match="would replace the input"):
        outputs.check_dir("link", "rl-tuner export", overwrite=True, inputs=[run])
    with pytest.raises(outputs.OutputError, match="would replace the input"):
        outputs.check_dir("./run/", "rl-tuner export", overwrite=True, inputs=[os.path.join(run, "..", "run")])


def test_a_file_where_a_directory_is_expected(tmp_path):
    _touch(str(tmp_path / "f"))
    with pytest.raises(outputs.OutputError, match="is a file, not a directory"):
        outputs.check_dir(str(tmp_path / "f"), "rl-tuner export", overwrite=True)


# --------------------------------------------------------------------------- output_dir.directory
def test_overwrite_keeps_every_file_the_command_did_not_write(tmp_path):
    folder = _user_folder(tmp_path / "mine")
    before = {n: open(os.path.join(folder, n)).read() for n in ("notes.txt", "song.mid", "thesis.tex")}
    with output_dir.directory(folder, "rl-tuner export", overwrite=True) as tmp:
        _touch(os.path.join(tmp, "saved_model.pb"), "model")
        _touch(os.path.join(tmp, "song.mid"), "new")  # a name the command writes: replaced
    assert sorted(os.listdir(folder)) == [outputs.MANIFEST, "notes.txt", "photos", "saved_model.pb", "song.mid",
                                          "thesis.tex"]
    assert open(os.path.join(folder, "song.mid")).read() == "new"
    assert open(os.path.join(folder, "notes.txt")).read() == before["notes.txt"]
    assert os.path.isfile(os.path.join(folder, "photos", "a.jpg"))
    assert outputs.read_manifest(folder) == {"command": "rl-tuner export", "files": ["saved_model.pb", "song.mid"]}
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


def test_rewriting_own_output_removes_its_stale_files_only(tmp_path):
    out = str(tmp_path / "gen")
    with output_dir.directory(out, "note-rnn generate") as tmp:
        for i in range(5):
            _touch(os.path.join(tmp, f"melody_{i}.mid"))
    _touch(os.path.join(out, "my_notes.txt"))  # the user added a file meanwhile
    with output_dir.directory(out, "note-rnn generate") as tmp:
        for i in range(2):
            _touch(os.path.join(tmp, f"melody_{i}.mid"), "second")
    assert sorted(outputs.entries(out)) == ["melody_0.mid", "melody_1.mid", "my_notes.txt"]
    assert open(os.path.join(out, "melody_0.mid")).read() == "second"


def test_a_library_call_never_deletes_a_directory_it_did_not_create(tmp_path):
    folder = _user_folder(tmp_path / "mine")
    with pytest.raises(outputs.OutputError, match="not empty"):
        with output_dir.directory(folder) as tmp:
            _touch(os.path.join(tmp, "x"))
    assert sorted(os.listdir(folder)) == ["notes.txt", "photos", "song.mid", "thesis.tex"]
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


def test_failure_while_moving_in_puts_everything_back(tmp_path, monkeypatch):
    folder = _user_folder(tmp_path / "mine")
    with output_dir.directory(folder, "cmd", overwrite=True) as tmp:
        _touch(os.path.join(tmp, "a.out"), "v1")
    real_replace = os.replace

    def failing_replace(src, dst):
        if os.path.basename(dst) == "b.out":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match=re.escape(f"cannot write {folder}: No space left on device")):
        with output_dir.directory(folder, "cmd") as tmp:
            _touch(os.path.join(tmp, "a.out"), "v2")
            _touch(os.path.join(tmp, "b.out"), "v2")
    monkeypatch.undo()
    assert open(os.path.join(folder, "a.out")).read() == "v1"
    assert not os.path.exists(os.path.join(folder, "b.out"))
    assert os.path.isfile(os.path.join(folder, "notes.txt"))
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


# --------------------------------------------------------------------------- check_file
def test_json_outputs(tmp_path):
    path = str(tmp_path / "stats.json")
    outputs.write_json(path, {"a": 1}, "rl-tuner stats")
    assert json.load(open(path)) == {"written_by": "rl-tuner stats", "a": 1}
    outputs.write_json(path, {"a": 2}, "rl-tuner stats")  # its own earlier output
    with pytest.raises(outputs.OutputError, match=re.escape(
            f"--out {path} already exists and is not an earlier output of `rl-tuner score`; choose another "
            "--out, or pass --overwrite to replace it")):
        outputs.write_json(path, {"a": 3}, "rl-tuner score")
    assert json.load(open(path))["a"] == 2
    outputs.write_json(path, {"a": 3}, "rl-tuner score", overwrite=True)
    assert json.load(open(path)) == {"written_by": "rl-tuner score", "a": 3}
    with pytest.raises(outputs.OutputError, match="would replace the input"):
        outputs.write_json(path, {}, "rl-tuner score", overwrite=True, inputs=[path])
    with pytest.raises(outputs.OutputError, match="is a directory; give a file name"):
        outputs.write_json(str(tmp_path), {}, "rl-tuner score", overwrite=True)


# --------------------------------------------------------------------------- errors name the path
def test_write_bytes_under_a_regular_file_names_the_target(tmp_path):
    _touch(str(tmp_path / "afile"))
    target = str(tmp_path / "afile" / "sub" / "x.json")
    with pytest.raises(NotADirectoryError) as info:
        atomic.write_json(target, {})
    assert str(info.value) == f"cannot write {target}: Not a directory ({tmp_path / 'afile'} is a file)"
    assert info.value.errno == errno.ENOTDIR


@pytest.mark.parametrize("where", ["mkstemp", "replace"])
def test_write_bytes_permission_error_names_the_target_not_the_temporary(tmp_path, monkeypatch, where):
    target = str(tmp_path / "out.json")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".tmp-abc123"))

    monkeypatch.setattr(atomic.tempfile if where == "mkstemp" else atomic.os, where, denied)
    with pytest.raises(PermissionError) as info:
        atomic.write_json(target, {})
    monkeypatch.undo()
    assert str(info.value) == f"cannot write {target}: Permission denied"
    assert ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_atomic_directory_permission_error_names_the_target(tmp_path, monkeypatch):
    target = str(tmp_path / "export")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".export.tmp-xyz"))

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", denied)
    with pytest.raises(PermissionError, match=f"^cannot write {re.escape(target)}: Permission denied$"):
        with output_dir.directory(target, "rl-tuner export"):
            pass


def test_nested_write_error_keeps_the_first_reason(tmp_path, monkeypatch):
    target = str(tmp_path / "ckpt")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as info:
        with output_dir.directory(target, "x") as tmp:
            monkeypatch.setattr(atomic.os, "fsync", full)
            atomic.write_json(os.path.join(tmp, "config.json"), {})
    assert str(info.value) == f"cannot write {target}: No space left on device"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("error", [
    PermissionError(errno.EACCES, "Permission denied"), NotADirectoryError(errno.ENOTDIR, "Not a directory"),
    IsADirectoryError(errno.EISDIR, "Is a directory"), OSError(errno.ENOSPC, "No space left on device"),
    outputs.OutputError("--out x is not empty"),
])
def test_run_main_prints_os_errors_in_one_line_and_exits_2(capsys, error):
    def main(argv):
        raise error

    assert run_main(main, []) == 2
    err = capsys.readouterr().err
    assert err == f"error: {error}\n" and err.count("\n") == 1


def _dead_pid():
    """A pid of a process that has ended."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    """`generate` killed with kill -9 while writing left `.gen.tmp-xxxx/` (all its WAVs) for ever."""
    dead, alive = _dead_pid(), os.getpid()
    left = {f".gen.tmp-{dead}-abc": "dir", f".gen.tmp-{alive}-def": "dir", f".x.json.tmp-{dead}-ghi": "file",
            f".other.tmp-{dead}-jkl": "dir", ".gen.tmp-notapid": "dir"}
    for name, kind in left.items():
        if kind == "dir":
            os.makedirs(tmp_path / name / "melody_000.wav")
        else:
            (tmp_path / name).write_text("half")
    with output_dir.directory(str(tmp_path / "gen"), "note-rnn generate") as tmp:
        assert os.path.basename(tmp).startswith(f".gen.tmp-{os.getpid()}-")
        open(os.path.join(tmp, "a.mid"), "w").close()
    # The dead writer's folder of the same target goes; a live writer's, another target's and
    # anything not of this naming scheme stay.
    assert f".gen.tmp-{dead}-abc" not in os.listdir(tmp_path)
    atomic.write_json(str(tmp_path / "x.json"), {"a": 1})
    assert sorted(os.listdir(tmp_path)) == sorted(
        [f".gen.tmp-{alive}-def", f".other.tmp-{dead}-jkl", ".gen.tmp-notapid", "gen", "x.json"])
