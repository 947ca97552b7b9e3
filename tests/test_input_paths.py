"""Every input path of every command says what a path is when it is not a readable file or
folder (issue 18: a FIFO or a symlink loop given as --source was "does not exist"):
rl_tuner.plumbing.file_checks.path_problem through each command's loader, one `error:` line, exit 2."""

import os
import socket

import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from molecules import cli as molecules_cli  # noqa: E402
from note_rnn import cli as note_rnn_cli  # noqa: E402
from rl_tuner import cli as rl_cli  # noqa: E402
from rl_tuner.plumbing import file_checks  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402


def _kinds(root):
    """{kind: (path, the words naming it when a file or folder is expected)}."""
    fifo = root / "fifo"
    os.mkfifo(fifo)
    loop = root / "loop"
    os.symlink(loop, loop)
    dangling = root / "dangling"
    os.symlink(root / "gone", dangling)
    sock = root / "sock"
    return sock, {"fifo": (fifo, "it is a FIFO (named pipe), not "),
                  "loop": (loop, "it is a symbolic link loop (too many levels of symbolic links)"),
                  "dangling": (dangling, f"it is a symbolic link to {str(root / 'gone')!r}, which does not exist"),
                  "socket": (sock, "it is a socket, not "),
                  "device": ("/dev/null", "it is a character device, not ")}


# (program, argv with {} for the path): each input flag of each command
COMMANDS = [
    (note_rnn_cli, ["train", "--data", "{}", "--out", "{out}"]),
    (note_rnn_cli, ["evaluate", "--checkpoint", "{}", "--data", "{out}"]),
    (note_rnn_cli, ["evaluate", "--data", "{}"]),
    (note_rnn_cli, ["generate", "--checkpoint", "{}", "--out", "{out}", "--no-audio"]),
    (note_rnn_cli, ["generate", "--primer-midi", "{}", "--out", "{out}", "--no-audio"]),
    (note_rnn_cli, ["import-magenta", "{}", "--out", "{out}"]),
    (note_rnn_cli, ["prepare", "--source", "{}", "--out", "{out}"]),
    (rl_cli, ["evaluate", "--model", "{}", "--out", "{out}"]),
    (rl_cli, ["export", "--model", "{}", "--out", "{out}"]),
    (rl_cli, ["train", "--prior", "{}", "--out", "{out}", "--steps", "10"]),
    (rl_cli, ["score", "--melodies", "{}", "--out", "{out}"]),
    (rl_cli, ["stats", "--melodies", "{}", "--out", "{out}"]),
    (rl_cli, ["generate", "--model", "{}", "--out", "{out}", "--no-audio"]),
    (molecules_cli, ["prepare", "--source", "{}", "--out", "{out}", "--workers", "1"]),
    (molecules_cli, ["prepare", "--wheel", "{}", "--out", "{out}", "--workers", "1"]),
    (molecules_cli, ["score", "--smiles", "{}", "--out", "{out}"]),
    (molecules_cli, ["score", "--smiles", "{ok}", "--data", "{}", "--out", "{out}"]),
    (molecules_cli, ["train-prior", "--data", "{}", "--out", "{out}"]),
    (molecules_cli, ["sample", "--model", "{}", "--out", "{out}"]),
    (molecules_cli, ["evaluate", "--model", "{}", "--out", "{out}"]),
    (molecules_cli, ["evaluate", "--data", "{}", "--out", "{out}"]),
]


@pytest.mark.parametrize("program, argv", COMMANDS, ids=[f"{p.__name__.split('.')[0]} {' '.join(a[:2])}"
                                                         for p, a in COMMANDS])
def test_every_input_path_names_what_the_path_is(tmp_path, capsys, program, argv):
    sock, kinds = _kinds(tmp_path)
    ok = tmp_path / "ok.smi"
    ok.write_text("CCO\n")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
        for kind, (path, words) in kinds.items():
            out = tmp_path / f"out_{kind}"
            args = [a.replace("{}", str(path)).replace("{out}", str(out)).replace("{ok}", str(ok)) for a in argv]
            assert run_main(program.main, args) == 2, (kind, capsys.readouterr())
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith("error: "), (kind, err)
            assert f"{path}" in err and words in err, (kind, err)
            assert not out.exists(), kind


def test_path_problem_kinds(tmp_path, monkeypatch):
    sock, kinds = _kinds(tmp_path)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
        assert file_checks.path_problem(str(kinds["fifo"][0]), "dir") == "it is a FIFO (named pipe), not a folder"
        assert file_checks.path_problem(str(kinds["fifo"][0]), "any") == \
            "it is a FIFO (named pipe), not a file or folder"
        assert file_checks.path_problem(str(sock), "file") == "it is a socket, not a file"
    assert file_checks.path_problem(str(tmp_path), "file") == "it is a directory, not a file"
    assert file_checks.path_problem(str(tmp_path), "dir") is None
    assert file_checks.path_problem(str(tmp_path / "nothing"), "file") is None  # the caller says "does not exist"
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert file_checks.path_problem(str(plain), "dir") == "it is a file, not a folder"
    assert file_checks.path_problem(str(plain / "x"), "file") == "a part of its path is a file, not a folder"
    assert file_checks.path_problem(str(kinds["loop"][0] / "x"), "file") == \
        "a symbolic link on its way loops (too many levels of symbolic links)"
    monkeypatch.setattr(file_checks.os, "access", lambda p, mode: False)  # root reads anything: pretend
    assert file_checks.path_problem(str(plain), "file") == "it is not readable (permission denied)"
    with pytest.raises(ValueError, match=rf"^{plain}: it is not readable \(permission denied\)$"):
        file_checks.check_file(str(plain))
