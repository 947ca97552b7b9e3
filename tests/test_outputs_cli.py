"""Every writing command of both CLIs: refuses to lose data, never replaces an input or a run,
never mixes new files with stale ones, locks run directories, starts runs cleanly, resumes by
meaning, and names the user's path when a write fails.

Tiny models and data; the commands run in-process through ``run_main`` (exit 2 + one line).
"""

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner.plumbing import checkpoint  # noqa: E402
from note_rnn import encoding
from rl_tuner.plumbing import outputs
from note_rnn import cli as note_cli  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner import cli as rl_cli  # noqa: E402

from test_magenta_import import make_network, save_tf1  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RL_TINY = ["--steps", "256", "--num-envs", "8", "--eval-every", "256", "--eval-samples", "10",
           "--final-eval-samples", "10", "--num-samples", "0", "--batch-size", "8", "--replay-capacity", "500",
           "--quiet"]


def _touch(path, text="x"):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _user_folder(path):
    for name in ("notes.txt", "song.mid"):
        _touch(os.path.join(path, name), name)
    return str(path)


def _user_files(path):
    return {n: open(os.path.join(path, n)).read() for n in ("notes.txt", "song.mid")}


def _legacy_run(path):
    _touch(os.path.join(path, "config.json"), "{}")
    _touch(os.path.join(path, "ckpt", "checkpoint"), "ckpt")
    _touch(os.path.join(path, "stats.json"), "{}")
    return str(path)


def _snapshot(path):
    files = {}
    for root, _, names in os.walk(path):
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                files[os.path.relpath(os.path.join(root, name), path)] = f.read()
    return files


def _own_lines(err):
    """stderr without third-party import noise (gym's notice on the first tf-agents import)."""
    return "".join(line for line in err.splitlines(True) if not line.startswith(("Gym ", "Please upgrade",
                                                                                "See the migration")))


def _rl(argv, capsys):
    code = run_main(rl_cli.main, argv)
    return code, _own_lines(capsys.readouterr().err)


def _note(argv, capsys):
    code = run_main(note_cli.main, argv)
    return code, _own_lines(capsys.readouterr().err)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("ckpt") / "tiny")
    return checkpoint.save_model(path, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=0))


@pytest.fixture(scope="module")
def rl_run(ckpt, tmp_path_factory):
    """A finished tiny `rl-tuner train` run whose prior lives in a "site-packages" folder."""
    root = tmp_path_factory.mktemp("rl")
    prior = shutil.copytree(ckpt, root / "site-packages" / "note_rnn")
    out = str(root / "run")
    assert rl_cli.main(["train", "--note-rnn", str(prior), *RL_TINY, "--out", out]) == 0
    return out, str(prior)


@pytest.fixture(scope="module")
def magenta_ckpt(tmp_path_factory):
    variables = make_network(np.random.default_rng(0), "tf13_lstm", [8])[0]
    return save_tf1(tmp_path_factory.mktemp("magenta") / "model.ckpt", variables)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "folk"
    pattern = [14, 0, 16, 0, 18, 0, 19, 0]
    os.makedirs(path)
    for split, n in (("train", 16), ("validation", 4)):
        mels = [np.array([pattern[(k + i) % 8] for i in range(48)], np.int8) for k in range(n)]
        np.savez_compressed(os.path.join(path, f"{split}.npz"), tokens=np.concatenate(mels),
                            lengths=np.array([len(m) for m in mels], np.int32))
    return str(path)


@pytest.fixture(scope="module")
def midi_source(tmp_path_factory):
    path = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for i in range(2):
        tune = [x for t in rng.choice([14, 16, 18, 19, 21, 23], size=32) for x in (int(t), 0, 0, 0)]
        encoding.write_midi(tune, path / f"tune{i}.mid")
    return str(path)


@pytest.fixture(scope="module")
def melodies_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("mel") / "m.json"
    path.write_text(json.dumps([[14, 0, 16, 0] * 8, [2] * 32]))
    return str(path)


def _note_train_argv(data, out, epochs=1):
    return ["train", "--data", data, "--out", out, "--layer-sizes", "8", "--batch-size", "8", "--max-length", "24",
            "--epochs", str(epochs)]


def _prepare_argv(source, out):
    return ["prepare", "--source", source, "--out", out, "--workers", "1", "--no-progress", "--no-verbose"]


# --------------------------------------------------------------------------- export
def test_export_never_replaces_its_input_run_even_with_overwrite(tmp_path, capsys):
    run = _legacy_run(tmp_path / "run")
    before = _snapshot(run)
    for extra in ([], ["--overwrite"]):
        code, err = _rl(["export", "--model", run, "--out", run, *extra], capsys)
        assert code == 2
        assert err == f"error: --out {run} would replace the input {run}; write to another path\n"
    assert _snapshot(run) == before


def test_export_into_a_users_folder_is_refused_and_overwrite_keeps_their_files(ckpt, tmp_path, capsys, monkeypatch):
    folder = _user_folder(tmp_path / "here")
    monkeypatch.chdir(folder)
    code, err = _rl(["export", "--model", ckpt, "--out", "."], capsys)
    assert code == 2
    assert err == ("error: --out . is not empty (2 entries: notes.txt, song.mid); choose another --out, or pass "
                   "--overwrite to replace what rl-tuner export writes there (other files are kept)\n")
    assert sorted(os.listdir(folder)) == ["notes.txt", "song.mid"]
    assert rl_cli.main(["export", "--model", ckpt, "--out", ".", "--overwrite"]) == 0
    assert _user_files(folder) == {"notes.txt": "notes.txt", "song.mid": "song.mid"}
    assert os.path.isfile("saved_model.pb") and os.path.isfile("policy.json")
    assert outputs.read_manifest(folder)["command"] == "rl-tuner export"
    # Its own earlier output: a second export needs no --overwrite and still keeps the user's files.
    assert rl_cli.main(["export", "--model", ckpt, "--out", "."]) == 0
    assert _user_files(folder) == {"notes.txt": "notes.txt", "song.mid": "song.mid"}


def test_export_into_a_run_directory_is_refused(ckpt, tmp_path, capsys):
    run = _legacy_run(tmp_path / "run")
    code, err = _rl(["export", "--model", ckpt, "--out", run, "--overwrite"], capsys)
    assert code == 2 and "is a training run directory" in err and "never replaced" in err


# --------------------------------------------------------------------------- import-magenta
def test_import_magenta_never_replaces_the_folder_holding_its_source(magenta_ckpt, tmp_path, capsys):
    folder = os.path.dirname(magenta_ckpt)
    before = _snapshot(folder)
    for extra in ([], ["--overwrite"]):
        code, err = _note(["import-magenta", magenta_ckpt, "--out", folder, *extra], capsys)
        assert code == 2
        assert err == f"error: --out {folder} would replace the input {magenta_ckpt}; write to another path\n"
    assert _snapshot(folder) == before


def test_import_magenta_refuses_a_users_folder_and_reimports_its_own(magenta_ckpt, tmp_path, capsys):
    folder = _user_folder(tmp_path / "mine")
    code, err = _note(["import-magenta", magenta_ckpt, "--out", folder], capsys)
    assert code == 2 and "is not empty (2 entries: notes.txt, song.mid)" in err and "--overwrite" in err
    assert _note(["import-magenta", magenta_ckpt, "--out", folder, "--overwrite"], capsys)[0] == 0
    assert _user_files(folder) == {"notes.txt": "notes.txt", "song.mid": "song.mid"}
    assert checkpoint.is_checkpoint(folder)
    out = str(tmp_path / "converted")
    assert _note(["import-magenta", magenta_ckpt, "--out", out], capsys)[0] == 0
    assert _note(["import-magenta", magenta_ckpt, "--out", out], capsys)[0] == 0  # its own earlier output
    assert outputs.entries(out) == ["card.json", "config.json", "weights.npz"]
    run = _legacy_run(tmp_path / "run")
    code, err = _note(["import-magenta", magenta_ckpt, "--out", run, "--overwrite"], capsys)
    assert code == 2 and "never replaced" in err


# --------------------------------------------------------------------------- generate
@pytest.mark.parametrize("which", ["note-rnn", "rl-tuner"])
def test_generate_never_mixes_new_files_with_stale_ones(ckpt, tmp_path, capsys, which):
    out = str(tmp_path / "gen")

    def generate(num, *extra):
        run = _note if which == "note-rnn" else _rl
        return run(["generate", "--model", ckpt, "--num", str(num), "--length", "8", "--no-audio", "--out", out,
                    *extra], capsys)

    assert generate(12)[0] == 0
    _touch(os.path.join(out, "keep.txt"), "mine")
    assert generate(2)[0] == 0
    assert outputs.entries(out) == ["keep.txt", "melodies.json", "melody_000.mid", "melody_001.mid"]
    assert open(os.path.join(out, "keep.txt")).read() == "mine"

    # The other generate command's earlier output is the same kind: replaced without --overwrite.
    other = str(tmp_path / "other")
    if which == "note-rnn":
        assert _rl(["generate", "--model", ckpt, "--num", "12", "--no-audio", "--out", other], capsys)[0] == 0
    else:
        assert _note(["generate", "--checkpoint", ckpt, "--num", "12", "--out", other], capsys)[0] == 0  # with WAV
    assert generate(2, "--out", other)[0] == 0
    assert outputs.entries(other) == ["melodies.json", "melody_000.mid", "melody_001.mid"]  # no stale WAV/MIDI

    folder = _user_folder(tmp_path / "mine")
    code, err = generate(2, "--out", folder)
    assert code == 2 and f"--out {folder} is not empty (2 entries: notes.txt, song.mid)" in err
    run = _legacy_run(tmp_path / "run")
    code, err = generate(2, "--out", run, "--overwrite")
    assert code == 2 and "never replaced" in err


def test_rl_generate_never_writes_into_its_input(ckpt, tmp_path, capsys):
    before = _snapshot(ckpt)
    code, err = _rl(["generate", "--model", ckpt, "--num", "2", "--out", ckpt, "--overwrite"], capsys)
    assert code == 2 and "would replace the input" in err
    code, err = _note(["generate", "--checkpoint", ckpt, "--num", "2", "--out", ckpt, "--overwrite"], capsys)
    assert code == 2 and "would replace the input" in err
    assert _snapshot(ckpt) == before


# --------------------------------------------------------------------------- prepare
def test_prepare_refuses_a_users_folder_and_its_source(midi_source, tmp_path, capsys):
    folder = _user_folder(tmp_path / "mine")
    code, err = _note(_prepare_argv(midi_source, folder), capsys)
    assert code == 2 and f"--out {folder} is not empty (2 entries: notes.txt, song.mid)" in err
    for out in (midi_source, os.path.dirname(midi_source)):
        code, err = _note(_prepare_argv(midi_source, out) + ["--overwrite"], capsys)
        assert code == 2 and f"would replace the input {midi_source}" in err
    out = str(tmp_path / "data")
    assert _note(_prepare_argv(midi_source, out), capsys)[0] == 0
    assert _note(_prepare_argv(midi_source, out), capsys)[0] == 0  # its own earlier output
    assert outputs.entries(out) == ["summary.json", "train.npz", "validation.npz"]
    assert _note(_prepare_argv(midi_source, folder) + ["--overwrite"], capsys)[0] == 0
    assert _user_files(folder) == {"notes.txt": "notes.txt", "song.mid": "song.mid"}


# --------------------------------------------------------------------------- JSON outputs
@pytest.mark.parametrize("command", ["score", "stats", "evaluate"])
def test_json_outputs_refuse_other_files_and_inputs(command, ckpt, melodies_json, tmp_path, capsys):
    source = ["--model", ckpt, "--num-melodies", "5"] if command == "evaluate" else ["--melodies", melodies_json]
    out = str(tmp_path / "out.json")
    _touch(out, "my results")
    code, err = _rl([command, *source, "--out", out], capsys)
    assert code == 2
    assert err == (f"error: --out {out} already exists and is not an earlier output of `rl-tuner {command}`; "
                   "choose another --out, or pass --overwrite to replace it\n")
    assert open(out).read() == "my results"
    assert _rl([command, *source, "--out", out, "--overwrite"], capsys)[0] == 0
    assert json.load(open(out))["written_by"] == f"rl-tuner {command}"
    assert _rl([command, *source, "--out", out], capsys)[0] == 0  # its own earlier output
    if command != "evaluate":
        before = open(melodies_json).read()
        code, err = _rl([command, *source, "--out", melodies_json, "--overwrite"], capsys)
        assert code == 2 and f"would replace the input {melodies_json}" in err
        assert open(melodies_json).read() == before
    code, err = _rl([command, *source, "--out", str(tmp_path)], capsys)
    assert code == 2 and "is a directory; give a file name" in err


def test_evaluate_never_replaces_a_runs_stats(tmp_path, capsys):
    run = _legacy_run(tmp_path / "run")
    code, err = _rl(["evaluate", "--model", run, "--out", os.path.join(run, "stats.json"), "--overwrite"], capsys)
    assert code == 2 and "would replace the input" in err
    assert open(os.path.join(run, "stats.json")).read() == "{}"


# --------------------------------------------------------------------------- write errors name the path
WRITERS = {
    "note-rnn prepare": lambda f, out: _prepare_argv(f["midi"], out),
    "note-rnn train": lambda f, out: _note_train_argv(f["data"], out),
    "note-rnn generate": lambda f, out: ["generate", "--checkpoint", f["ckpt"], "--num", "2", "--out", out],
    "note-rnn import-magenta": lambda f, out: ["import-magenta", f["magenta"], "--out", out],
    "rl-tuner train": lambda f, out: ["train", "--note-rnn", f["ckpt"], *RL_TINY, "--out", out],
    "rl-tuner evaluate": lambda f, out: ["evaluate", "--model", f["ckpt"], "--num-melodies", "5", "--out",
                                         out + ".json"],
    "rl-tuner score": lambda f, out: ["score", "--melodies", f["melodies"], "--out", out + ".json"],
    "rl-tuner stats": lambda f, out: ["stats", "--melodies", f["melodies"], "--out", out + ".json"],
    "rl-tuner generate": lambda f, out: ["generate", "--model", f["ckpt"], "--num", "2", "--out", out],
    "rl-tuner export": lambda f, out: ["export", "--model", f["ckpt"], "--out", out],
}


@pytest.fixture(scope="module")
def inputs(ckpt, magenta_ckpt, data_dir, midi_source, melodies_json):
    return {"ckpt": ckpt, "magenta": magenta_ckpt, "data": data_dir, "midi": midi_source, "melodies": melodies_json}


def _run_command(name, argv, capsys):
    return (_note if name.startswith("note-rnn") else _rl)(argv, capsys)


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_out_below_a_regular_file_is_one_line_naming_the_users_path(name, inputs, tmp_path, capsys):
    _touch(tmp_path / "afile")
    argv = WRITERS[name](inputs, str(tmp_path / "afile" / "out"))
    target = argv[argv.index("--out") + 1]
    code, err = _run_command(name, argv, capsys)
    assert code == 2
    blocking = re.escape(str(tmp_path / "afile"))
    assert re.fullmatch(rf"error: cannot write {re.escape(target)}\S*: Not a directory \({blocking} is a file\)\n",
                        err), err
    assert ".tmp" not in err


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_permission_denied_names_the_users_path_not_a_temporary_file(name, inputs, tmp_path, capsys, monkeypatch):
    def denied(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir or "/", ".tmp-xyz"))

    from rl_tuner.plumbing import atomic
    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    monkeypatch.setattr(atomic.tempfile, "mkdtemp", denied)
    out = str(tmp_path / "out")
    argv = WRITERS[name](inputs, out)
    target = argv[argv.index("--out") + 1]
    code, err = _run_command(name, argv, capsys)
    assert code == 2
    assert re.fullmatch(rf"error: cannot write {re.escape(target)}\S*: Permission denied\n", err), err
    assert ".tmp" not in err
    assert not os.path.exists(out)  # nothing left behind, not even an empty run directory


# --------------------------------------------------------------------------- run locks
HOLDER = """
import sys, time
from rl_tuner.plumbing import runs
with runs.lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def _hold_lock(run_dir):
    os.makedirs(run_dir, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, run_dir], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.parametrize("which", ["rl-tuner", "note-rnn"])
def test_a_locked_run_is_refused_naming_the_pid_and_runs_after_kill_9(which, rl_run, data_dir, tmp_path, capsys):
    from rl_tuner.plumbing import runs
    out = str(tmp_path / "run")
    if which == "rl-tuner":  # a finished run: rerunning it only evaluates again
        shutil.copytree(rl_run[0], out)
        argv = ["train", "--note-rnn", rl_run[1], *RL_TINY, "--out", out]
    else:
        argv = _note_train_argv(data_dir, out)
    run = (lambda: _rl(argv, capsys)) if which == "rl-tuner" else (lambda: _note(argv, capsys))
    before = _snapshot(out) if os.path.exists(out) else {}
    holder = _hold_lock(out)
    try:
        code, err = run()
        assert code == 2
        assert err == (f"error: {out} is in use by another training process (pid {holder.pid}); wait for it to "
                       "end or choose another --out\n")
        after = _snapshot(out)
        assert {k: v for k, v in after.items() if k != ".lock"} == \
            {k: v for k, v in before.items() if k != ".lock"}  # the second process wrote nothing
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    code, err = run()
    assert code == 0, err
    assert os.path.isdir(os.path.join(out, "ckpt"))
    with runs.lock(out):  # released when training ended
        with pytest.raises(runs.RunInUseError, match="already in use by this process"):
            with runs.lock(out):
                pass


# --------------------------------------------------------------------------- failed first start
@pytest.mark.parametrize("which", ["rl-tuner", "note-rnn"])
def test_a_failed_first_start_leaves_nothing_and_the_corrected_command_runs(which, ckpt, data_dir, tmp_path,
                                                                              capsys):
    out = str(tmp_path / "R")
    typo = str(tmp_path / "typo")
    if which == "rl-tuner":
        bad = ["train", "--note-rnn", typo, *RL_TINY, "--out", out]
        good = ["train", "--note-rnn", ckpt, *RL_TINY, "--out", out]
        code, err = _rl(bad, capsys)
    else:
        bad, good = _note_train_argv(typo, out), _note_train_argv(data_dir, out)
        code, err = _note(bad, capsys)
    assert code == 2 and typo in err
    assert not os.path.exists(out)
    os.makedirs(out)  # an empty folder the user made: left as it was, without a config
    code, err = (_rl if which == "rl-tuner" else _note)(bad, capsys)
    assert code == 2 and os.listdir(out) in ([], [".lock"])
    code, err = (_rl if which == "rl-tuner" else _note)(good, capsys)
    assert code == 0, err


@pytest.mark.parametrize("which", ["rl-tuner", "note-rnn"])
def test_a_run_that_fails_after_starting_but_before_its_first_checkpoint_leaves_nothing(
        which, ckpt, data_dir, tmp_path, capsys, monkeypatch):
    """`note-rnn train --layer-sizes 100000000` ran out of memory after writing its config, and the
    corrected command was then refused as "different settings"; the error was a traceback."""
    import tensorflow as tf
    from note_rnn import train as note_train
    from rl_tuner.runner import train as rl_train
    out = str(tmp_path / "R")
    if which == "note-rnn":
        def oom(*args, **kwargs):
            raise MemoryError("Unable to allocate 87.3 TiB for an array with shape (24, 999999999999) and data type int32")
        monkeypatch.setattr(note_train.Trainer, "__init__", oom)
        bad, good, run = _note_train_argv(data_dir, out), _note_train_argv(data_dir, out), _note
        bad[bad.index("--layer-sizes") + 1] = "100000000"
        message = ("error: out of memory: Unable to allocate 87.3 TiB for an array with shape (24, 999999999999) "
                   "and data type int32; use smaller sizes")
    else:
        def oom(*args, **kwargs):
            raise tf.errors.ResourceExhaustedError(None, None, "{{function_node __wrapped__Fill}} OOM when allocating "
                                                   "tensor with shape[1000000000000] and type int32 on /job:localhost")
        monkeypatch.setattr(rl_train, "_train", oom)
        bad = ["train", "--note-rnn", ckpt, *RL_TINY, "--out", out]
        good = list(bad)
        bad[bad.index("--replay-capacity") + 1] = "1000000000000"
        run = _rl
        message = ("error: out of memory: TensorFlow could not allocate a tensor of shape[1000000000000] int32; "
                   "use smaller sizes")
    code, err = run(bad, capsys)
    assert code == 2 and err.startswith(message) and len(err.strip().splitlines()) == 1, err
    assert not os.path.exists(out)
    os.makedirs(out)  # an empty folder the user made stays, empty
    assert run(bad, capsys)[0] == 2 and os.listdir(out) in ([], [".lock"])
    monkeypatch.undo()
    code, err = run(good, capsys)
    assert code == 0, err


def test_training_refuses_a_folder_that_is_not_its_run(ckpt, rl_run, data_dir, tmp_path, capsys):
    folder = _user_folder(tmp_path / "mine")
    code, err = _rl(["train", "--note-rnn", ckpt, *RL_TINY, "--out", folder], capsys)
    assert code == 2
    assert err == (f"error: --out {folder} is not empty (2 entries: notes.txt, song.mid) and is not a `rl-tuner "
                   "train` run; choose another --out (training writes only into a new or empty directory or its "
                   "own earlier run)\n")
    code, err = _note(_note_train_argv(data_dir, folder), capsys)
    assert code == 2 and "is not a `note-rnn train` run" in err
    assert sorted(os.listdir(folder)) == ["notes.txt", "song.mid"]
    a_file = os.path.join(folder, "notes.txt")
    for code, err in (_rl(["train", "--note-rnn", ckpt, *RL_TINY, "--out", a_file], capsys),
                      _note(_note_train_argv(data_dir, a_file), capsys)):
        assert (code, err) == (2, f"error: --out {a_file} is a file, not a directory; choose a directory path\n")
    before = _snapshot(rl_run[0])
    code, err = _note(_note_train_argv(data_dir, rl_run[0]), capsys)
    assert code == 2 and f"--out {rl_run[0]} is a training run directory (`rl-tuner train`); it is never replaced" in err
    assert _snapshot(rl_run[0]) == before


# --------------------------------------------------------------------------- resume by meaning
def test_note_rnn_resume_with_the_data_path_spelled_differently(data_dir, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "run")
    assert _note(_note_train_argv(data_dir, out, epochs=1), capsys)[0] == 0
    monkeypatch.chdir(os.path.dirname(data_dir))
    code, err = _note(_note_train_argv(os.path.join(".", os.path.basename(data_dir)) + "/", out, epochs=2), capsys)
    assert code == 0, err
    assert "resuming at epoch 2" in err
    # The same content elsewhere (a moved data folder) is the same run too.
    moved = str(tmp_path / "moved")
    shutil.copytree(data_dir, moved)
    code, err = _note(_note_train_argv(moved, out, epochs=2), capsys)
    assert code == 0 and "is complete (2 epochs, --epochs 2)" in err  # accepted as the same run, already finished
    # Different data is not.
    other = str(tmp_path / "other")
    shutil.copytree(data_dir, other)
    with np.load(os.path.join(other, "train.npz")) as d:
        tokens, lengths = d["tokens"].copy(), d["lengths"]
    tokens[0] = 20
    np.savez_compressed(os.path.join(other, "train.npz"), tokens=tokens, lengths=lengths)
    code, err = _note(_note_train_argv(other, out, epochs=2), capsys)
    assert code == 2
    assert f"holds a run with different settings (data_dir: {moved} -> {other} (different content))" in err


def test_rl_resume_after_the_prior_moved_with_the_same_content(rl_run, tmp_path, capsys):
    out = shutil.copytree(rl_run[0], tmp_path / "run")
    moved = str(tmp_path / "new-venv" / "note_rnn")
    shutil.copytree(rl_run[1], moved)  # the virtualenv moved: same files, another path
    code, err = _rl(["train", "--note-rnn", moved, *RL_TINY, "--out", str(out)], capsys)
    assert code == 0, err
    assert json.load(open(out / "config.json"))["prior"] == moved
    assert json.load(open(out / "stats.json"))["steps"] == 256
    assert outputs.read_manifest(str(out))["inputs"]["prior"]["path"] == moved
    # A prior with other weights is a different run, whatever its path.
    other = str(tmp_path / "other")
    checkpoint.save_model(other, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=1))
    code, err = _rl(["train", "--note-rnn", other, *RL_TINY, "--out", str(out)], capsys)
    assert code == 2
    assert err == (f"error: {out} holds a run with different settings (prior: {moved} -> {other} (different "
                   "content)); use a new --out directory or the same settings to resume\n")
