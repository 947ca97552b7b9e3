"""A full disk (ENOSPC), a quota (EDQUOT) or a read-only file system (EROFS) while writing:
one line ``cannot write PATH: <strerror>`` naming the user's path (TensorFlow's checkpoint
writes included, which TensorFlow reports as ResourceExhaustedError, once printed as "out of
memory"), and the work finished before stays on disk (a run folder with a saved epoch or
evaluation is never removed).

The writers are patched to fail at a chosen call; tiny models and data.
"""

import errno
import json
import os
import re

import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from rl_tuner.plumbing import atomic, checkpoint, cli_utils, output_dir  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner import cli as rl_cli  # noqa: E402
from note_rnn import cli as note_cli  # noqa: E402
from molecules import cli as mol_cli  # noqa: E402

from molecule_fixtures import prepare_tiny  # noqa: E402
from test_outputs_cli import (RL_TINY, WRITERS, _note_train_argv, _run_command, ckpt, data_dir,  # noqa: E402,F401
                              inputs, magenta_ckpt, melodies_json, midi_source)

REASONS = {errno.ENOSPC: "No space left on device", errno.EDQUOT: "Disk quota exceeded",
           errno.EROFS: "Read-only file system"}


def _tf_disk_full(path="/x/ckpt/ckpt-2_temp/part-00000-of-00001.data-00000-of-00001.tempstate1"):
    """What TensorFlow raises when a checkpoint file cannot be written on a full disk."""
    return tf.errors.ResourceExhaustedError(None, None, f"{path}; No space left on device [Op:SaveV2]")


def _fail_at(monkeypatch, owner, name, call, error):
    """Makes ``owner.name`` raise ``error`` at its ``call``-th call (1-based); earlier calls work."""
    original = getattr(owner, name)
    calls = []

    def patched(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, patched)
    return calls


def _err(capsys):
    return "".join(line for line in capsys.readouterr().err.splitlines(True)
                   if line.startswith("error:"))


# --------------------------------------------------------------------------- recognising the errors
@pytest.mark.parametrize("code", sorted(REASONS))
def test_oserrors_and_tensorflow_errors_of_a_full_disk_name_the_path(code):
    assert atomic.disk_errno(OSError(code, os.strerror(code))) == code
    error = atomic.target_error(OSError(code, os.strerror(code), "/x/.f.tmp-1-a"), "runs/a/history.json")
    assert (str(error), error.errno) == (f"cannot write runs/a/history.json: {REASONS[code]}", code)
    tf_error = tf.errors.OpError(None, None, f"/x/ckpt-1_temp/part-0; {os.strerror(code)}", tf.errors.UNKNOWN)
    assert atomic.disk_errno(tf_error) == code
    converted = atomic.target_error(tf_error, "runs/a/ckpt")
    assert (type(converted), str(converted), converted.errno) == (OSError, f"cannot write runs/a/ckpt: "
                                                                  f"{REASONS[code]}", code)
    assert atomic.disk_errno(OSError(errno.EACCES, "Permission denied")) is None
    assert atomic.disk_errno(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")) is None


def test_writing_converts_inside_the_block_and_keeps_an_already_named_error():
    with pytest.raises(OSError, match=r"^cannot write runs/a/ckpt: No space left on device$"):
        with atomic.writing("runs/a/ckpt"):
            raise _tf_disk_full()
    with pytest.raises(OSError, match=r"^cannot write runs/a/samples: No space left on device$"):
        with atomic.writing("runs/a/samples"):
            raise OSError(errno.ENOSPC, "No space left on device")  # PIL, pretty_midi: no file name
    named = atomic.target_error(OSError(errno.ENOSPC, "No space left on device"), "runs/a/history.json")
    with pytest.raises(OSError, match=r"^cannot write runs/a/history.json: "):
        with atomic.writing("runs/a"):
            raise named
    with pytest.raises(tf.errors.ResourceExhaustedError):  # a real allocation failure stays what it is
        with atomic.writing("runs/a"):
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[10]")


def test_a_tensorflow_disk_error_is_not_called_out_of_memory(capsys):
    assert cli_utils.out_of_memory_message(_tf_disk_full()) is None

    def main(argv):
        raise _tf_disk_full("/data/run/logs/events.out.tfevents.1")

    assert run_main(main, []) == 2
    assert capsys.readouterr().err == ("error: cannot write /data/run/logs/events.out.tfevents.1: No space left on "
                                       "device\n")
    oom = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[1000] and type int32")
    assert cli_utils.out_of_memory_message(oom).startswith("out of memory: TensorFlow could not allocate a tensor")


def test_an_atomic_directory_fails_whole_on_a_tensorflow_disk_error(tmp_path):
    out = str(tmp_path / "exported")
    with pytest.raises(OSError, match=rf"^cannot write {re.escape(out)}: No space left on device$"):
        with output_dir.directory(out, "rl-tuner export") as tmp:
            open(os.path.join(tmp, "a"), "w").close()
            raise _tf_disk_full()
    assert os.listdir(tmp_path) == []  # no half-written folder, no temporary one


# --------------------------------------------------------------------------- MLE trainers keep the saved epochs
@pytest.fixture(scope="module")
def smiles_data(tmp_path_factory):
    return prepare_tiny(tmp_path_factory.mktemp("smiles"))


def _train_prior(data, out):
    return ["train-prior", "--data", data, "--out", out, "--layer-sizes", "8", "--epochs", "2",
            "--max-validation", "50", "--card-samples", "0", "--quiet"]


def test_train_prior_keeps_the_first_epoch_when_the_second_save_fails(smiles_data, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "runs" / "prior")
    calls = _fail_at(monkeypatch, tf.train.CheckpointManager, "save", 2,
                     OSError(errno.ENOSPC, "No space left on device"))
    assert run_main(mol_cli.main, _train_prior(smiles_data, out)) == 2
    assert _err(capsys) == f"error: cannot write {out}/ckpt: No space left on device\n"
    assert len(calls) == 2
    assert tf.train.latest_checkpoint(os.path.join(out, "ckpt")).endswith("ckpt-1")
    assert checkpoint.is_checkpoint(os.path.join(out, "model"))
    assert [e["epoch"] for e in json.load(open(os.path.join(out, "history.json")))["epochs"]][0] == 1


def test_train_prior_keeps_its_finished_epoch_when_the_first_checkpoint_hits_a_full_disk(smiles_data, tmp_path,
                                                                                        capsys, monkeypatch):
    """The report: on a full disk `train-prior` said "out of memory ... use smaller sizes" and
    removed the run folder, losing the finished epoch (its model and history)."""
    out = str(tmp_path / "prior")
    _fail_at(monkeypatch, tf.train.CheckpointManager, "save", 1, _tf_disk_full())
    assert run_main(mol_cli.main, _train_prior(smiles_data, out)) == 2
    assert _err(capsys) == f"error: cannot write {out}/ckpt: No space left on device\n"
    assert checkpoint.is_checkpoint(os.path.join(out, "model"))
    assert checkpoint.read_card(os.path.join(out, "model"))["metrics"]["epoch"] == 1
    assert [e["epoch"] for e in json.load(open(os.path.join(out, "history.json")))["epochs"]] == [1]
    monkeypatch.undo()  # space freed: the same command trains the run to its end
    assert run_main(mol_cli.main, _train_prior(smiles_data, out)) == 0
    assert tf.train.latest_checkpoint(os.path.join(out, "ckpt")).endswith("ckpt-2")


def test_train_prior_keeps_the_first_model_when_the_second_model_save_fails(smiles_data, tmp_path, capsys,
                                                                           monkeypatch):
    out = str(tmp_path / "prior")
    from rl_tuner.plumbing import checkpoint as checkpoint_module
    calls = _fail_at(monkeypatch, checkpoint_module.np, "savez", 2, OSError(errno.ENOSPC, "No space left on device"))
    assert run_main(mol_cli.main, _train_prior(smiles_data, out)) == 2
    assert _err(capsys) == f"error: cannot write {out}/model: No space left on device\n"
    assert len(calls) == 2
    assert checkpoint.read_card(os.path.join(out, "model"))["metrics"]["epoch"] == 1  # the first epoch's model
    assert tf.train.latest_checkpoint(os.path.join(out, "ckpt")).endswith("ckpt-1")
    assert not [e for e in os.listdir(out) if ".tmp-" in e]


def test_note_rnn_train_keeps_the_first_epoch_when_the_second_save_fails(data_dir, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "run")
    _fail_at(monkeypatch, tf.train.CheckpointManager, "save", 2, _tf_disk_full())
    assert run_main(note_cli.main, _note_train_argv(data_dir, out, epochs=2)) == 2
    assert _err(capsys) == f"error: cannot write {out}/ckpt: No space left on device\n"
    assert tf.train.latest_checkpoint(os.path.join(out, "ckpt")).endswith("ckpt-1")
    assert checkpoint.is_checkpoint(os.path.join(out, "model"))


# --------------------------------------------------------------------------- the RL training loop
@pytest.mark.parametrize("call", [1, 2])
def test_rl_train_keeps_its_evaluations_when_a_checkpoint_save_fails(call, ckpt, tmp_path, capsys, monkeypatch):
    """Saves at step 0 and at step 256: a full disk at either keeps what came before (the
    prior's evaluation, the policy, the step-0 checkpoint)."""
    out = str(tmp_path / "run")
    _fail_at(monkeypatch, tf.train.CheckpointManager, "save", call, OSError(errno.ENOSPC, "No space left on device"))
    assert run_main(rl_cli.main, ["train", "--note-rnn", ckpt, *RL_TINY, "--out", out]) == 2
    assert _err(capsys) == f"error: cannot write {out}/ckpt: No space left on device\n"
    history = json.load(open(os.path.join(out, "history.json")))
    assert "before" in history and [e["step"] for e in history["evaluations"]] == [0, 256][:call]
    assert os.path.isfile(os.path.join(out, "policy", "policy.json"))
    latest = tf.train.latest_checkpoint(os.path.join(out, "ckpt"))
    assert (latest is None) if call == 1 else latest.endswith("ckpt-0")


def test_rl_train_names_the_samples_folder_when_writing_samples_fails(ckpt, tmp_path, capsys, monkeypatch):
    from note_rnn.task import MelodyTask
    out = str(tmp_path / "run")
    _fail_at(monkeypatch, MelodyTask, "write_samples", 1, OSError(errno.ENOSPC, "No space left on device"))
    argv = ["train", "--note-rnn", ckpt, *RL_TINY, "--out", out]
    argv[argv.index("--num-samples") + 1] = "2"
    assert run_main(rl_cli.main, argv) == 2
    assert _err(capsys) == f"error: cannot write {out}/samples/step_00000000: No space left on device\n"
    assert "before" in json.load(open(os.path.join(out, "history.json")))  # the prior's evaluation is kept


def test_export_on_a_full_disk_leaves_nothing(ckpt, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "exported")
    _fail_at(monkeypatch, tf.saved_model, "save", 1, _tf_disk_full(f"{tmp_path}/.exported.tmp-1-x/saved_model.pb"))
    assert run_main(rl_cli.main, ["export", "--model", ckpt, "--out", out]) == 2
    assert _err(capsys) == f"error: cannot write {out}: No space left on device\n"
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- every writer
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_every_writer_names_the_users_path_and_the_reason(name, inputs, tmp_path, capsys,  # noqa: F811
                                                          monkeypatch):
    code = sorted(REASONS)[sorted(WRITERS).index(name) % len(REASONS)]  # each reason for a third of them

    def full(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = str(tmp_path / "out")
    argv = WRITERS[name](inputs, out)
    target = argv[argv.index("--out") + 1]
    status, err = _run_command(name, argv, capsys)
    assert status == 2
    assert re.fullmatch(rf"error: cannot write {re.escape(target)}\S*: {REASONS[code]}\n", err), err
    assert ".tmp" not in err
