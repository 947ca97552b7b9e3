"""Chief-only writing of multi-worker training (rl_tuner.plumbing.workers): which TF_CONFIG task is
the chief, where the other workers write, and two real MultiWorkerMirroredStrategy workers
on localhost (two processes, a tiny Note-RNN): only the chief's --out gets files, the other
worker's temporary directory is gone, and a resumed run restores the chief's checkpoints on
both workers."""

import json
import os
import re
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from rl_tuner.plumbing import workers

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = {"worker": ["host0:2222", "host1:2222"]}
WITH_CHIEF = {"chief": ["host0:2222"], "worker": ["host1:2222", "host2:2222"]}


@pytest.mark.parametrize("tf_config, chief", [
    ({}, True),  # no cluster: one process writes its output
    (None, True),
    ({"cluster": CLUSTER}, True),  # no task: not part of a cluster
    ({"cluster": CLUSTER, "task": {"type": "worker", "index": 0}}, True),  # worker 0 without a chief job
    ({"cluster": CLUSTER, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": WITH_CHIEF, "task": {"type": "chief", "index": 0}}, True),
    ({"cluster": WITH_CHIEF, "task": {"type": "worker", "index": 0}}, False),  # the chief job is the chief
    ({"cluster": WITH_CHIEF, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": dict(CLUSTER, evaluator=["host2:2222"]), "task": {"type": "evaluator", "index": 0}}, False),
    ({"cluster": dict(CLUSTER, ps=["host2:2222"]), "task": {"type": "ps", "index": 0}}, False),
])
def test_is_chief_for_every_tf_config_shape(tf_config, chief):
    assert workers.is_chief(tf_config) is chief


def test_tf_config_is_parsed_or_refused_with_its_text():
    assert workers.tf_config({}) == {} and workers.tf_config({"TF_CONFIG": "  "}) == {}
    assert workers.tf_config({"TF_CONFIG": '{"task": {"type": "worker", "index": 1}}'}) == {
        "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError, match=r"^TF_CONFIG is not valid JSON \(.*\): '\{cluster'$"):
        workers.tf_config({"TF_CONFIG": "{cluster"})
    with pytest.raises(ValueError, match=r"^TF_CONFIG must be a JSON object with \"cluster\" and \"task\", got '\[1\]'"):
        workers.tf_config({"TF_CONFIG": "[1]"})


def _env(index, cluster=CLUSTER):
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}


def test_output_dir_of_the_chief_and_of_another_worker(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "run")
    for strategy, env in (("default", _env(1)), ("mirrored", _env(1)), ("multi_worker", _env(0))):
        with workers.output_dir(out, strategy, env) as dirs:
            assert dirs == (out, None)  # TF_CONFIG matters only to multi_worker; worker 0 is the chief
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    os.mkdir(tmp_path / "tmp")
    import tempfile  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    with workers.output_dir(out, "multi_worker", _env(1)) as (write_dir, restore_from):
        assert os.path.isdir(write_dir) and os.path.dirname(write_dir) == str(tmp_path / "tmp")
        assert os.path.basename(write_dir).startswith("run.worker-1.") and restore_from == out
        with open(os.path.join(write_dir, "x"), "w") as f:
            f.write("copy")
    assert os.listdir(tmp_path / "tmp") == [] and not os.path.exists(out)  # removed; --out never created
    assert f"worker-1 is not the chief: writing its copies to {write_dir} (removed at the end)" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="boom"):
        with workers.output_dir(out, "multi_worker", _env(0, WITH_CHIEF)) as (write_dir, _):
            raise RuntimeError("boom")
    assert os.listdir(tmp_path / "tmp") == []  # removed on an error too
    assert workers.final_line("multi_worker", out, "best ...", _env(0, WITH_CHIEF)) == (
        f"worker-0 done; the chief's {out} holds the run (this worker's copies are removed)")
    assert workers.final_line("multi_worker", out, "best ...", _env(0)) == "best ..."


# Two real workers


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_workers(tmp_path, outs, data_dir, epochs, expect=0):
    """Runs `note-rnn train --strategy multi_worker` as worker 0 and 1 of one localhost cluster."""
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    processes = []
    for index, out in enumerate(outs):
        tmp = tmp_path / f"tmp{index}"
        tmp.mkdir(exist_ok=True)
        env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="", TMPDIR=str(tmp),
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        code = ("import sys; from note_rnn import cli; from rl_tuner.plumbing.cli_utils import run_main; sys.exit(run_main("
                "cli.main, ['train', '--data', sys.argv[1], '--out', sys.argv[2], '--layer-sizes', '8', '--batch-size', "
                "'8', '--max-length', '24', '--epochs', sys.argv[3], '--strategy', 'multi_worker', '--quiet']))")
        processes.append(subprocess.Popen([sys.executable, "-c", code, data_dir, str(out), str(epochs)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            results.append((process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for code, stdout, stderr in results:
        assert code == expect, stderr[-3000:]
    return results


def test_two_workers_on_localhost_only_the_chief_writes_and_both_resume_from_it(tmp_path):
    from test_note_rnn_train import _melodies, write_dataset  # pylint: disable=import-outside-toplevel
    data_dir = write_dataset(tmp_path / "data", _melodies(16, 0), _melodies(4, 3))
    chief_out, other_out = tmp_path / "chief", tmp_path / "other"
    results = _two_workers(tmp_path, (chief_out, other_out), data_dir, 1)
    assert not os.path.exists(other_out)  # worker 1 wrote nothing to its --out
    assert os.listdir(tmp_path / "tmp1") == []  # and its temporary copies are gone
    assert sorted(os.listdir(chief_out)) == [".lock", ".sequence-tutor.json", "ckpt", "history.json", "logs", "model",
                                             "train_config.json"]
    assert "worker-1 is not the chief: writing its copies to " + str(tmp_path / "tmp1") in results[1][2]
    assert results[1][1].strip() == f"worker-1 done; the chief's {other_out} holds the run (this worker's copies are " \
                                    "removed)"
    assert results[0][1].startswith("best validation accuracy")
    history = json.loads((chief_out / "history.json").read_text())
    assert [e["step"] for e in history["epochs"]] == [4]  # 32 windows, global batch 8 over the two workers
    # Resume (as on a shared file system: both workers name the chief's run): worker 1 restores it too.
    results = _two_workers(tmp_path, (chief_out, chief_out), data_dir, 2)
    assert all("resuming at epoch 2" in stderr for _, _, stderr in results)
    resumed = json.loads((chief_out / "history.json").read_text())
    assert [e["step"] for e in resumed["epochs"]] == [4, 8] and resumed["epochs"][0] == history["epochs"][0]
    assert os.listdir(tmp_path / "tmp1") == []
    assert np.isfinite(resumed["epochs"][1]["train_log_perplexity"])
    # Worker 1 cannot read the chief's run (its own --out, as on another machine's disk): both stop, no hang.
    results = _two_workers(tmp_path, (chief_out, other_out), data_dir, 3, expect=2)
    for _, _, stderr in results:
        assert "error: the workers of this multi-worker run restored different epochs (this one: " in stderr
    assert json.loads((chief_out / "history.json").read_text()) == resumed and not os.path.exists(other_out)
    assert os.listdir(tmp_path / "tmp1") == []


def test_one_worker_trains_on_tfrecord_shards_read_before_the_strategy_exists(tmp_path):
    """Reading TFRecord shards runs TensorFlow ops, after which MultiWorkerMirroredStrategy
    could no longer configure its collective ops ("Collective ops must be configured at program
    startup"): the trainer makes the strategy first."""
    from rl_tuner.plumbing import records  # pylint: disable=import-outside-toplevel
    from test_note_rnn_train import SUMMARY, _melodies  # pylint: disable=import-outside-toplevel
    data_dir = tmp_path / "tfr"
    data_dir.mkdir()
    for split, melodies in (("train", _melodies(16, 0)), ("validation", _melodies(4, 3))):
        records.write_split(str(data_dir), split, melodies, 2, "source", [f"{split}{i}" for i in range(len(melodies))])
    (data_dir / "summary.json").write_text(json.dumps(SUMMARY))
    cluster = {"worker": [f"localhost:{_free_port()}"]}
    env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="", TMPDIR=str(tmp_path),
               TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    code = ("import sys; from note_rnn import cli; from rl_tuner.plumbing.cli_utils import run_main; sys.exit(run_main("
            "cli.main, ['train', '--data', sys.argv[1], '--out', sys.argv[2], '--layer-sizes', '8', '--batch-size', "
            "'8', '--max-length', '24', '--epochs', '1', '--strategy', 'multi_worker', '--quiet']))")
    done = subprocess.run([sys.executable, "-c", code, str(data_dir), str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("best validation accuracy")
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [e["step"] for e in history["epochs"]] == [4]  # 32 windows, global batch 8 on the one worker


def test_one_worker_trains_a_smiles_prior_on_tfrecord_shards(tmp_path):
    """The same for `molecules train-prior --strategy multi_worker` (its card's samples included)."""
    from molecules import cli as molecules_cli  # pylint: disable=import-outside-toplevel
    from molecule_fixtures import prepare_tiny  # pylint: disable=import-outside-toplevel
    src = os.path.join(os.path.dirname(prepare_tiny(tmp_path)), "tiny.smi")
    data_dir = str(tmp_path / "tfr")
    assert molecules_cli.main(["prepare", "--source", src, "--out", data_dir, "--workers", "1", "--no-progress",
                               "--validation-fraction", "0.2", "--format", "tfrecord", "--shards", "2"]) == 0
    env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="", TMPDIR=str(tmp_path),
               TF_CONFIG=json.dumps({"cluster": {"worker": [f"localhost:{_free_port()}"]},
                                     "task": {"type": "worker", "index": 0}}))
    code = ("import sys; from molecules import cli; from rl_tuner.plumbing.cli_utils import run_main; sys.exit(run_main("
            "cli.main, ['train-prior', '--data', sys.argv[1], '--out', sys.argv[2], '--layer-sizes', '8', "
            "'--epochs', '1', '--max-validation', '20', '--card-samples', '5', '--strategy', 'multi_worker', "
            "'--quiet']))")
    done = subprocess.run([sys.executable, "-c", code, data_dir, str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1].startswith("best validation accuracy")
    assert [e["epoch"] for e in json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]] == [1]


def test_tf_config_of_the_wrong_shape_and_the_cluster_timeout_are_refused_with_their_text():
    for text in ('{"cluster": "x", "task": 5}', '{"cluster": {"worker": "h:1"}}',
                 '{"task": {"type": "worker", "index": -1}}', '{"task": {"type": 0}}'):
        with pytest.raises(ValueError, match=r'^TF_CONFIG must look like \{"cluster": \{"worker": \["host:port", '
                                             r'\.\.\.\]\}, "task": \{"type": "worker", "index": 0\}\}, got '
                                             + re.escape(repr(text)) + "$"):
            workers.tf_config({"TF_CONFIG": text})
    assert workers.tf_config({"TF_CONFIG": '{"task": {"type": "worker", "index": "1"}}'})["task"]["index"] == "1"
    assert workers.cluster_timeout({}) == 600.0 and workers.cluster_timeout({"RL_TUNER_CLUSTER_TIMEOUT": "2.5"}) == 2.5
    for text in ("abc", "0", "-1", "nan", "inf"):
        with pytest.raises(ValueError,
                           match=f"^RL_TUNER_CLUSTER_TIMEOUT must be a number of seconds > 0, got '{text}'$"):
            workers.cluster_timeout({"RL_TUNER_CLUSTER_TIMEOUT": text})


def _lone_worker(tmp_path, timeout):
    """`note-rnn train --strategy multi_worker` as worker 1 of a two-worker cluster whose worker
    0 never starts (TensorFlow alone would wait without a word, deaf to Ctrl+C and SIGTERM)."""
    from test_note_rnn_train import _melodies, write_dataset  # pylint: disable=import-outside-toplevel
    data_dir = write_dataset(tmp_path / "data", _melodies(16, 0), _melodies(4, 3))
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="", TMPDIR=str(tmp_path),
               RL_TUNER_CLUSTER_TIMEOUT=timeout,
               TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    code = ("import sys; from note_rnn import cli; from rl_tuner.plumbing.cli_utils import run_main; sys.exit(run_main("
            "cli.main, ['train', '--data', sys.argv[1], '--out', sys.argv[2], '--layer-sizes', '8', '--epochs', '1', "
            "'--strategy', 'multi_worker', '--quiet']))")
    process = subprocess.Popen([sys.executable, "-c", code, data_dir, str(tmp_path / "run")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    addresses = f"worker {cluster['worker'][0]}, worker {cluster['worker'][1]}"
    return process, addresses


def _finish(process):
    try:
        return process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()


def test_a_worker_whose_cluster_never_comes_up_stops_with_an_error_naming_it(tmp_path):
    process, addresses = _lone_worker(tmp_path, "2")
    _, stderr = _finish(process)
    assert process.returncode == -signal.SIGKILL, stderr[-3000:]
    assert stderr.splitlines()[-2:] == [
        f"worker-1: waiting up to 2 s for every worker of TF_CONFIG ({addresses}) to start (set "
        "RL_TUNER_CLUSTER_TIMEOUT to wait longer; Ctrl+C stops)",
        f"error: worker-1: the cluster of TF_CONFIG ({addresses}) did not come up within 2 s: start the command on "
        "every worker, check the addresses, or set RL_TUNER_CLUSTER_TIMEOUT"]
    assert os.listdir(tmp_path) == ["data"]  # no --out, no temporary copies


def test_ctrl_c_stops_a_worker_waiting_for_its_cluster(tmp_path):
    import queue  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel
    process, _ = _lone_worker(tmp_path, "600")
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True)
    reader.start()
    seen = []
    try:
        while not (seen and seen[-1].startswith("worker-1: waiting up to 600 s")):
            seen.append(lines.get(timeout=120))  # (queue.Empty: the worker never says it waits)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=60)
    while not lines.empty():
        seen.append(lines.get())
    # The watchdog kills the worker blocked in TensorFlow; a worker not yet blocked stops itself.
    assert (process.returncode, seen[-1].rstrip("\n")) in (
        (-signal.SIGKILL, "interrupted while waiting for the cluster; nothing was written"),
        (130, "interrupted; run the same command again to resume")), seen[-3:]
    assert os.listdir(tmp_path) == ["data"]
