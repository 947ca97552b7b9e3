"""Tuning priors of Magenta's other melody_rnn configurations (lookback_rnn, attention_rnn).

The core sees a model whose input is not a one-hot of the last token and whose state is more
than an LSTM's; the melody task sees the melodies its classes decode to.
"""

import json
import pathlib

import numpy as np
import pytest

import note_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from note_rnn import environment, melody_configs
from note_rnn.task import MelodyTask
from rl_tuner.runner import config as config_lib
from rl_tuner.runner import evaluate, policy, train

import tensorflow as tf  # noqa: E402  (after note_rnn)

BUNDLES = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "magenta" / "bundles"
pytestmark = [pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:Couldn't find ffmpeg:RuntimeWarning")]


def bundle(name):
    path = BUNDLES / f"{name}.mag"
    if not path.is_file():
        pytest.skip(f"Magenta melody_rnn bundles not found at {BUNDLES}")
    return str(path)


def test_environment_rewards_the_decoded_melody():
    lookback = melody_configs.MelodyEncoder(melody_configs.CONFIGS["lookback_rnn"])
    env = environment.MelodyEnvironment(1, 20, encoder=lookback)
    basic = environment.MelodyEnvironment(1, 20)
    assert env.num_actions == 40 and basic.num_actions == 38
    priming = env.reset(np.random.default_rng(0))[0]
    basic.reset(np.random.default_rng(0))
    # melody step t is event t + 1 of what the model read (the priming class is event 0)
    classes = [14] + [0] * 14 + [38, 38, 39, 16, 1]
    expected = [14] + [0] * 14 + [priming if priming < 38 else 0, 14, 0, 16, 1]
    for c, token in zip(classes, expected):
        got = env.step(np.array([c]))
        want = basic.step(np.array([token]))
        np.testing.assert_array_equal(got.task_reward, want.task_reward)
    assert env.composition.tolist() == [expected]


def test_mono_pitches_are_folded_for_the_rules():
    mono = melody_configs.MelodyEncoder(melody_configs.CONFIGS["mono_rnn"])
    # classes: pitch + 2; 30 -> MIDI 28 (E1) is folded to 52 (E3), 127 (G9) to 79 (G5)
    assert mono.task_tokens([[62, 30, 129, 0, 1]]).tolist() == [[14, 52 - 46, 79 - 46, 0, 1]]


def test_sampled_melodies_are_decoded_after_the_priming_class():
    model = note_rnn.load(bundle("lookback_rnn"))
    samples = evaluate.sample_policy(policy.Policy(model), 6, 40, seed=2)
    first = tf.random.stateless_uniform([6], seed=[2, -1], maxval=40, dtype=tf.int32).numpy()
    full = np.concatenate([first[:, None], samples["model_tokens"]], axis=1)
    assert samples["tokens"].tolist() == model.input_encoder.task_tokens(full)[:, 1:].tolist()
    assert (samples["model_tokens"] >= 38).any()


@pytest.mark.parametrize("name", ["lookback_rnn", "attention_rnn", "mono_rnn"])
def test_tuning_a_converted_prior(tmp_path, name):
    path = bundle(name)
    cfg = config_lib.RLConfig(algorithm="psi", prior=path, steps=8 * 32, num_envs=8, eval_every=8 * 32,
                              eval_samples=8, final_eval_samples=16, num_samples=2, replay_capacity=1000,
                              batch_size=8)
    final = train.run(cfg, str(tmp_path / "run"), progress=False, log=lambda *a: None)
    assert final["steps"] == 256 and final["train_steps"] == 256 // 5 and final["after"]["mean_kl"] > 0
    tuned = policy.load_policy(str(tmp_path / "run"), task=MelodyTask())
    prior = note_rnn.load(path)
    assert tuned.q_rnn.config == prior.config == tuned.prior_rnn.config
    spec = tf.nest.map_structure(lambda s: (tuple(s.shape), s.dtype), prior.state_spec())
    assert tf.nest.map_structure(lambda s: (tuple(s.shape), s.dtype), tuned.q_rnn.state_spec()) == spec
    if name == "mono_rnn":  # one-hot input: the LSTMs' (h, c) only
        layer = (((24,), tf.float32), ((24,), tf.float32))
        assert spec == (layer, layer) and tuned.q_rnn.config.num_classes == 130
    else:
        assert spec[-1][0] == ((33,), tf.int32)  # the encoder state: the last 33 events (or classes)
    events = [60, -2, 62, -1, 64, 65, -2, 67] * 5
    np.testing.assert_allclose(tuned.prior_rnn.event_distributions(events), prior.event_distributions(events),
                               atol=1e-6)  # the prior is frozen
    assert not np.allclose(tuned.q_rnn.event_distributions(events), prior.event_distributions(events), atol=1e-3)
    for stats in (final["before"], final["after"]):  # Table 1 of decoded melodies (38 tokens)
        assert 0 <= stats["notes_not_in_key"] <= 1 and "mean_music_theory_reward" in stats
    samples = json.loads((tmp_path / "run" / "samples" / "step_00000256" / "melodies.json").read_text())
    assert len(samples) == 2 and all(0 <= t < 38 for m in samples for t in m)
    assert (tmp_path / "run" / "next_note_probabilities.png").is_file()


CHILD = """
import json, sys
import tensorflow as tf
out = {}
for path in sys.argv[1:]:
    m = tf.saved_model.load(path)
    out[path] = {k: v.numpy().tolist() for k, v in m.generate(num_samples=4, max_length=40, temperature=1.0,
                                                               seed=3).items() if k != "lengths"}
out["modules"] = sorted(k for k in sys.modules if k.split(".")[0] in ("note_rnn", "rl_tuner", "note_seq"))
print("RESULT " + json.dumps(out))
"""


def test_export_generates_without_the_package(tmp_path):
    """Each configuration's SavedModel (the encoder's features and the attention traced in)
    samples the classes rl_tuner.runner.evaluate samples and decodes them to the same melody tokens,
    in a process without this package."""
    import os
    import subprocess
    import sys
    from rl_tuner import cli as rl_cli
    from rl_tuner.models import export
    expected, paths = {}, []
    for name in ("lookback_rnn", "attention_rnn", "mono_rnn"):
        out = str(tmp_path / name)
        assert rl_cli.main(["export", "--model", bundle(name), "--out", out]) == 0
        assert export.load_info(out)["encoder"] == melody_configs.CONFIGS[name].to_dict()
        samples = evaluate.sample_policy(policy.load_policy(bundle(name), task=MelodyTask()), 4, 40, 1.0, 3)
        expected[out] = {"model_tokens": samples["model_tokens"].tolist(), "tokens": samples["tokens"].tolist()}
        paths.append(out)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_USE_LEGACY_KERAS")}
    proc = subprocess.run([sys.executable, "-c", CHILD, *paths], cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1][len("RESULT "):])
    assert result.pop("modules") == []
    assert result == expected


def test_export_message_names_model_tokens(tmp_path, capsys):
    """The command's one line names every output of the signature (policy.json's)."""
    from rl_tuner import cli as rl_cli
    from rl_tuner.models import export
    out = str(tmp_path / "lookback")
    assert rl_cli.main(["export", "--model", bundle("lookback_rnn"), "--out", out]) == 0
    assert "'model_tokens': int32" in export.load_info(out)["signature"]
    assert capsys.readouterr().out.strip().endswith("generate(num_samples, max_length, temperature, seed) -> "
                                                    "tokens, lengths, model_tokens)")


def test_rl_tuner_generate_primes_in_the_models_classes(tmp_path):
    from rl_tuner import cli as rl_cli
    out = tmp_path / "gen"
    assert rl_cli.main(["generate", "--model", bundle("attention_rnn"), "--num", "3", "--length", "20",
                        "--primer-melody", "[60, -2, 62, -1]", "--no-audio", "--out", str(out)]) == 0
    melodies = json.loads((out / "melodies.json").read_text())
    assert [m[:4] for m in melodies] == [[14, 0, 16, 1]] * 3 and all(0 <= t < 38 for m in melodies for t in m)
