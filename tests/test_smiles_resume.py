"""Resume of ``rl-tuner train --task smiles`` is exact: a run stopped at a random moment (kill -9
of the command, or an interruption at a random environment step) and run again ends with the
same checkpoint, policy, history and statistics as an uninterrupted run, bit for bit.

Both smiles presets as they are (only their sizes made tiny): ``default`` (atom-level prior,
G from a zero head, Boltzmann exploration, prioritized replay with the running max, end
transitions) and ``paper`` (the 35 characters with the random primer, Psi, epsilon-greedy,
prioritized replay with ``--new-priority td``, the last step bootstrapped). Before the fix
both presets left the replay out of their checkpoints (BUILD.md, "Safe outputs, run locks and
resume"), and every one of these tests failed from the first evaluation after the resume.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from molecules import data, environment as env_lib, tokenizers  # noqa: E402
from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner.runner import config as config_lib, train  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from molecule_fixtures import prepare_tiny  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_ENVS, LENGTH = 8, 20
ROLLOUT = NUM_ENVS * LENGTH  # env steps between checkpoints (eval_every)
ROLLOUTS = 5
# Everything but the sizes comes from the preset; a replay of 600 wraps around (1,000 transitions
# are added with the default preset's end transitions, 800 with the paper preset's).
SIZES = dict(steps=ROLLOUTS * ROLLOUT, num_envs=NUM_ENVS, max_length=LENGTH, batch_size=16, train_every=5,
             replay_capacity=600, eval_every=ROLLOUT, eval_samples=20, final_eval_samples=20, num_samples=0)
TIMING = ("sampling_seconds", "scoring_seconds", "env_steps_per_s")  # wall-clock figures: never compared


@pytest.fixture(scope="module")
def priors(tmp_path_factory):
    """{"default": an untrained 8-unit SMILES-RNN with the tiny data set's atom vocabulary,
    "paper": one with the original's 35 characters (random primer)}."""
    root = tmp_path_factory.mktemp("resume_priors")
    symbols = {"default": data.load_tokenizer(prepare_tiny(root)).symbols, "paper": tokenizers.PAPER_SYMBOLS}
    paths = {}
    for preset, vocabulary in symbols.items():
        paths[preset] = str(root / f"prior_{preset}")
        checkpoint.save_model(paths[preset], model_lib.build(model_lib.SequenceRNNConfig(
            num_classes=len(vocabulary), layer_sizes=(8,), vocabulary=list(vocabulary)), seed=0))
    return paths


@pytest.fixture(scope="module")
def references(priors, tmp_path_factory):
    """{preset: the run directory of an uninterrupted run} (made when first asked for)."""
    root, runs = tmp_path_factory.mktemp("resume_references"), {}

    def reference(preset):
        if preset not in runs:
            runs[preset] = root / preset
            _run(_config(preset, _prior(priors, preset)), runs[preset])
        return runs[preset]
    return reference


# The sequence learners on the default preset (whole episodes in the replay, trained after
# each rollout): path consistency with only the output layer trained, and Peng's Q(lambda).
LEARNERS = {"path": dict(algorithm="psi", head_init="centered", learner="path", train_head_only=True,
                         replay="uniform", end_transitions=0.0, discount=1.0),
            "path_g": dict(algorithm="g", head_init="zero", learner="path", train_head_only=True,
                           replay="uniform", end_transitions=0.0, discount=1.0),  # stores log p(.|s')
            "sequence": dict(algorithm="q", head_init="centered", learner="sequence", td_lambda=0.5,
                             replay="uniform", end_transitions=0.0)}


def _config(preset, prior, **overrides):
    if preset in LEARNERS:
        return config_lib.from_preset("default", task="smiles", prior=prior,
                                      **{**SIZES, **LEARNERS[preset], **overrides})
    return config_lib.from_preset(preset, task="smiles", prior=prior, **{**SIZES, **overrides})


def _run(config, out):
    lines = []
    train.run(config, str(out), progress=False, log=lines.append)
    return lines


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def _results(out) -> str:
    """history.json and stats.json without wall-clock figures, as JSON text (NaN compares equal)."""
    parts = {}
    for name in ("history.json", "stats.json"):
        with open(os.path.join(out, name)) as f:
            parts[name] = _without_timing(json.load(f))
    return json.dumps(parts, sort_keys=True)


def _saved_state(out) -> dict:
    """Every tensor of the run's last checkpoint (networks, Adam, replay, generators, counters)
    and of its saved policy."""
    prefix = tf.train.latest_checkpoint(os.path.join(out, "ckpt"))
    reader = tf.train.load_checkpoint(prefix)
    state = {f"ckpt {os.path.basename(prefix)}: {name}": reader.get_tensor(name)
             for name in reader.get_variable_to_shape_map()}
    for net in ("q_network", "prior"):
        with np.load(os.path.join(out, "policy", net, "weights.npz")) as weights:
            state.update({f"policy {net}: {name}": weights[name] for name in weights.files})
    return state


def _assert_identical(out, reference, context):
    got, want = _saved_state(out), _saved_state(reference)
    assert sorted(got) == sorted(want), context
    assert any("replay" in name for name in want), context  # the replay is part of the checkpoint
    for name, value in want.items():
        np.testing.assert_array_equal(got[name], value, err_msg=f"{name} ({context})")
    assert _results(out) == _results(reference), context


@pytest.mark.parametrize("preset", ["default", "paper"])
def test_the_smiles_presets_keep_the_replay_in_their_checkpoints(preset):
    assert config_lib.from_preset(preset, task="smiles", prior="x").save_replay is True


def _prior(priors, preset):
    return priors["default" if preset in LEARNERS else preset]


@pytest.mark.parametrize("preset", ["default", "paper", "path", "path_g", "sequence"])
def test_a_run_interrupted_at_a_random_step_resumes_bit_identically(preset, priors, references, tmp_path,
                                                                     monkeypatch):
    """The interruption falls inside a rollout (between two environment steps) at a random step;
    the run resumes from the checkpoint before it (also with the sequence learners, whose
    rollout's episodes are stored and learned from only at its end)."""
    config = _config(preset, _prior(priors, preset))
    reference = references(preset)

    stop_at = random.Random().randrange(1, ROLLOUTS * LENGTH)  # which batched env.step raises
    context = f"{preset} preset interrupted at environment step {stop_at}"
    original, calls = env_lib.SmilesEnvironment.step, []

    def step(self, actions):
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return original(self, actions)

    monkeypatch.setattr(env_lib.SmilesEnvironment, "step", step)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        _run(config, out)
    monkeypatch.setattr(env_lib.SmilesEnvironment, "step", original)
    resume_at = (stop_at - 1) // LENGTH * ROLLOUT  # the last checkpoint
    lines = _run(config, out)
    _assert_identical(out, reference, context)
    algorithm, reward = config.algorithm, config.reward_mode
    assert (f"Resuming {algorithm} ({reward} reward) at step {resume_at} of {ROLLOUTS * ROLLOUT}, {NUM_ENVS} "
            "molecules in parallel") in lines, (context, lines)


def _command(prior, out):
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in SIZES.items()]
    return [sys.executable, "-m", "rl_tuner.cli", "train", "--task", "smiles", "--prior", prior, "--out", str(out),
            "--quiet", *flags]


def _last_checkpoint_step(out) -> int:
    steps = [int(name[len("ckpt-"):-len(".index")]) for name in os.listdir(out / "ckpt")
             if name.startswith("ckpt-") and name.endswith(".index")] if (out / "ckpt").is_dir() else []
    return max(steps, default=-1)


def test_a_command_killed_with_sigkill_at_a_random_moment_resumes_bit_identically(priors, references, tmp_path):
    """``kill -9`` of ``rl-tuner train --task smiles`` a random time after a random checkpoint
    (maybe during the next save, leaving a half-written ckpt-N_temp); the run resumed from what
    the killed process left on disk ends as if nothing had happened. (The resume runs in this
    process, as the uninterrupted reference: one TensorFlow start less.)"""
    rng = random.Random()
    after, delay = rng.randrange(0, (ROLLOUTS - 2) * ROLLOUT + 1, ROLLOUT), rng.uniform(0.0, 0.3)
    context = f"killed {delay:.2f} s after the checkpoint of step {after}"
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log = tmp_path / "killed.log"
    with open(log, "w") as output:
        process = subprocess.Popen(_command(priors["default"], out), env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while _last_checkpoint_step(out) < after and process.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, (context, log.read_text()[-2000:])  # it was still training
    assert not os.path.exists(out / "stats.json"), context
    resume_at = int(tf.train.latest_checkpoint(str(out / "ckpt")).rsplit("-", 1)[1])  # as the run reads it
    assert resume_at >= after, context
    lines = _run(_config("default", priors["default"]), out)  # the command's settings, else refused
    _assert_identical(out, references("default"), context)
    assert (f"Resuming g (default reward) at step {resume_at} of {ROLLOUTS * ROLLOUT}, {NUM_ENVS} molecules in "
            "parallel") in lines, (context, lines)
    assert not [name for name in os.listdir(out / "ckpt") if "_temp" in name], context
