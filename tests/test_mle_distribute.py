"""The MLE trainer under tf.distribute (rl_tuner.models.mle): a MirroredStrategy over two logical
CPU devices gives the single-device losses, and resumes.

Logical devices must be set before TensorFlow starts, so each run is a fresh process
(tests/distribute_check.py). Tolerance: 1e-5 nats on the epoch log perplexities (the
replicas sum their gradients in another order than one device; observed difference 0 to the
printed 16 digits on this machine).
"""

import json
import os
import subprocess
import sys

import pytest

from rl_tuner import choices

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = 1e-5


def _run(strategy, out_dir, epochs):
    done = subprocess.run([sys.executable, os.path.join(REPO, "tests", "distribute_check.py"), strategy, str(out_dir),
                           str(epochs)], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES=""), check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def _losses(history):
    return [(e["train_log_perplexity"], e["validation_log_perplexity"], e["train_accuracy"], e["step"])
            for e in history["epochs"]]


def test_mirrored_on_two_devices_matches_one_device_and_resumes(tmp_path):
    single, _ = _run("default", tmp_path / "single", 2)
    first, _ = _run("mirrored", tmp_path / "mirrored", 1)
    resumed, log = _run("mirrored", tmp_path / "mirrored", 2)  # the same run directory: resume
    assert (single["replicas"], first["replicas"]) == (1, 2)
    assert "resuming at epoch 2" in log
    expected = _losses(single["history"])
    got = _losses(resumed["history"])
    assert [e[3] for e in got] == [e[3] for e in expected] == [7, 14]  # 54 windows, global batch 8
    for (a, b, c, _), (x, y, z, _) in zip(got, expected):
        assert a == pytest.approx(x, abs=TOLERANCE)
        assert b == pytest.approx(y, abs=TOLERANCE)
        assert c == pytest.approx(z, abs=TOLERANCE)
    assert expected[1][0] < expected[0][0]  # it trains
    assert os.path.isfile(tmp_path / "mirrored" / "model" / "config.json")


def test_strategy_names_and_multi_worker_needs_tf_config(monkeypatch):
    from rl_tuner.models import mle  # pylint: disable=import-outside-toplevel  (TensorFlow)
    assert mle.STRATEGIES == choices.STRATEGIES == ("default", "mirrored", "multi_worker")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="--strategy multi_worker needs the TF_CONFIG environment variable"):
        mle.make_strategy("multi_worker")
    with pytest.raises(ValueError, match="unknown strategy 'tpu'; choose from default, mirrored, multi_worker"):
        mle.make_strategy("tpu")


def test_a_run_may_resume_with_another_strategy_or_from_before_strategies(tmp_path):
    """The checkpoints are the same on every strategy; a stored config of an earlier version
    (no ``strategy``) must not block a resume."""
    import dataclasses  # pylint: disable=import-outside-toplevel
    from molecules import prior  # pylint: disable=import-outside-toplevel
    from molecules.prior_config import PriorConfig  # pylint: disable=import-outside-toplevel
    from note_rnn import train  # pylint: disable=import-outside-toplevel
    from note_rnn.train_config import TrainConfig  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import atomic, runs  # pylint: disable=import-outside-toplevel
    for module, cls, name in ((train, TrainConfig, "train_config.json"), (prior, PriorConfig, "prior_config.json")):
        stored = dataclasses.asdict(cls(out_dir=str(tmp_path)))
        del stored["strategy"]
        atomic.write_json(str(tmp_path / name), stored)
        config = cls(out_dir=str(tmp_path), strategy="mirrored")
        assert runs.changed_settings(str(tmp_path), name, config, may_change=module.RESUMABLE) == {}
        assert runs.changed_settings(str(tmp_path), name, config, may_change=("epochs", "out_dir", "card_samples")) \
            == {"strategy": (None, "mirrored")}  # without the exemption it would block the resume
