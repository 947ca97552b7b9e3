"""rl-tuner train decides what needs only the run directory's files before TensorFlow loads
(rl_tuner.runner.train_precheck): a finished run shows its results, and a folder that is not a run,
a run in use or a run with other settings is refused, each in a fresh process that never
imports TensorFlow. A run to resume or train still goes on to train.run.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner.plumbing import checkpoint, runs  # noqa: E402
from rl_tuner.runner import train_precheck  # noqa: E402
from rl_tuner import cli as rl_cli  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.runner.config import from_preset  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--steps", "256", "--num-envs", "8", "--eval-every", "256", "--eval-samples", "10",
        "--final-eval-samples", "10", "--num-samples", "0", "--batch-size", "8", "--replay-capacity", "500",
        "--quiet"]
# Runs rl-tuner train's main in a fresh interpreter and reports its exit, output, error and
# whether TensorFlow was imported by then.
SCRIPT = textwrap.dedent("""
    import contextlib, io, json, sys
    from rl_tuner import cli
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            result, error = cli.main(sys.argv[1:]), None
        except SystemExit as e:
            result, error = e.code, None
        except Exception as e:  # what run_main prints as "error: ..."
            result, error = None, f"{type(e).__name__}: {e}"
    print(json.dumps({"result": result, "error": error, "out": out.getvalue(),
                      "tensorflow": "tensorflow" in sys.modules}))
""")


def train_in_fresh_process(argv):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_USE_LEGACY_KERAS")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "train", *argv], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def snapshot(path):
    files = {}
    for root, _, names in os.walk(path):
        for name in names:
            if name != ".lock":
                with open(os.path.join(root, name), "rb") as f:
                    files[os.path.relpath(os.path.join(root, name), path)] = f.read()
    return files


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run (q, 256 steps) and its prior."""
    root = tmp_path_factory.mktemp("precheck")
    prior = str(root / "prior")
    checkpoint.save_model(prior, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)),
                                                 seed=0))
    out = str(root / "run")
    assert rl_cli.main(["train", "--prior", prior, *TINY, "--out", out]) == 0
    return out, prior


def test_a_finished_run_shows_its_results_without_tensorflow(finished, tmp_path):
    out, prior = finished
    run = str(shutil.copytree(out, tmp_path / "run"))
    stats = json.load(open(os.path.join(run, "stats.json")))
    before = snapshot(run)
    report = train_in_fresh_process(["--prior", prior, *TINY, "--out", run])
    assert report["error"] is None and report["result"] == 0
    assert not report["tensorflow"]
    lines = report["out"].splitlines()
    assert lines[0] == (f"The q run in {run} is complete ({stats['steps']} steps, --steps 256); its results "
                        "(stats.json) follow. Give a larger --steps to train on.")
    assert lines[2] == (f"Table-1 statistics of 10 sampled melodies (q, {stats['steps']} steps); full results in "
                        f"{os.path.join(run, 'stats.json')}")
    assert snapshot(run) == before  # nothing trained, evaluated or rewritten


def test_a_finished_run_whose_prior_moved_is_the_same_run(finished, tmp_path):
    """The prior's weights identify it (the manifest's fingerprint), not its path: the moved
    prior is recorded as train.run records it."""
    out, prior = finished
    run = str(shutil.copytree(out, tmp_path / "run"))
    moved = str(shutil.copytree(prior, tmp_path / "venv" / "prior"))
    report = train_in_fresh_process(["--prior", moved, *TINY, "--out", run])
    assert report["error"] is None and not report["tensorflow"]
    assert "is complete" in report["out"]
    assert json.load(open(os.path.join(run, "config.json")))["prior"] == moved
    assert json.load(open(os.path.join(run, ".sequence-tutor.json")))["inputs"]["prior"]["path"] == moved


@pytest.mark.parametrize("flags, message", [
    (["--c", "1.0"], "c: 0.5 -> 1.0"),
    (["--algorithm", "psi"], "algorithm: q -> psi"),
    (["--batch-size", "16"], "batch_size: 8 -> 16"),
])
def test_a_changed_setting_is_refused_without_tensorflow(finished, tmp_path, flags, message):
    out, prior = finished
    run = str(shutil.copytree(out, tmp_path / "run"))
    before = snapshot(run)
    report = train_in_fresh_process(["--prior", prior, *TINY, *flags, "--out", run])
    assert not report["tensorflow"]
    assert report["error"].startswith(f"ValueError: {run} holds a run with different settings (")
    assert message in report["error"]
    assert report["error"].endswith("use a new --out directory or the same settings to resume")
    assert snapshot(run) == before


def test_a_folder_that_is_not_a_run_and_a_run_in_use_are_refused_without_tensorflow(finished, tmp_path):
    out, prior = finished
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    report = train_in_fresh_process(["--prior", prior, *TINY, "--out", str(mine)])
    assert not report["tensorflow"]
    assert report["error"].startswith(f"OutputError: --out {mine} is not empty (")
    assert (mine / "notes.txt").read_text() == "keep" and os.listdir(mine) == ["notes.txt"]
    run = str(shutil.copytree(out, tmp_path / "run"))
    with runs.lock(run):  # this process trains in it
        report = train_in_fresh_process(["--prior", prior, *TINY, "--out", run])
    assert not report["tensorflow"]
    assert report["error"] == (f"RunInUseError: {run} is in use by another training process (pid {os.getpid()}); "
                               "wait for it to end or choose another --out")


def test_what_needs_training_or_the_model_goes_on_to_train_run(finished, tmp_path):
    """None (train.run decides): a new directory, more steps, another number of final samples,
    another prior's weights (compared after it loads), a prior that is not a project checkpoint."""
    out, prior = finished
    run = str(shutil.copytree(out, tmp_path / "run"))

    def config(**changes):
        settings = dict(prior=prior, steps=256, num_envs=8, eval_every=256, eval_samples=10, final_eval_samples=10,
                        num_samples=0, batch_size=8, replay_capacity=500)
        return from_preset("default", **{**settings, **changes})

    assert train_precheck.check(config(), str(tmp_path / "new")) is None
    assert train_precheck.check(config(steps=512), run) is None
    assert train_precheck.check(config(final_eval_samples=20), run) is None
    other = str(tmp_path / "other")
    checkpoint.save_model(other, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)),
                                                 seed=1))
    assert train_precheck.check(config(prior=other), run) is None
    assert train_precheck.check(config(prior=str(tmp_path / "not_a_checkpoint")), run) is None
    assert train_precheck.check(config(), run)["steps"] == json.load(open(os.path.join(run, "stats.json")))["steps"]


def test_checkpoint_step_reads_the_state_file(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    assert train_precheck.checkpoint_step(str(tmp_path)) is None
    (ckpt / "checkpoint").write_text('model_checkpoint_path: "ckpt-2048"\nall_model_checkpoint_paths: "ckpt-2048"\n')
    assert train_precheck.checkpoint_step(str(tmp_path)) is None  # its index file is missing
    (ckpt / "ckpt-2048.index").write_bytes(b"")
    assert train_precheck.checkpoint_step(str(tmp_path)) == 2048
    (ckpt / "checkpoint").write_bytes(b"\xff\xfe")
    assert train_precheck.checkpoint_step(str(tmp_path)) is None
