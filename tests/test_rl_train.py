"""Behaviour tests of the RL training loop (rl_tuner.runner.train.run): run directory, counters,
resuming, the four algorithms, presets and config validation.

The runs are tiny (an 8-unit Note-RNN, 8 melodies in parallel, 256 or 512 steps).
"""

import dataclasses
import gc
import glob
import io
import json
import logging
import math
import os
import sys

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.runner import config as config_lib  # noqa: E402
from rl_tuner.runner import policy as policy_lib  # noqa: E402
from note_rnn import stats as stats_lib  # noqa: E402
from rl_tuner.runner import train  # noqa: E402
from rl_tuner.runner.config import RLConfig  # noqa: E402

EPISODE = 8 * 32  # env steps per batch of episodes (num_envs * num_notes)


@pytest.fixture(scope="module")
def note_rnn_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("note_rnn") / "tiny")
    checkpoint.save_model(path, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=0))
    return path


def small_config(note_rnn_dir, **overrides):
    values = dict(algorithm="q", prior=note_rnn_dir, steps=2 * EPISODE, num_envs=8, max_length=32,
                  eval_every=EPISODE, eval_samples=20, final_eval_samples=50, num_samples=1,
                  replay_capacity=1000, batch_size=8)
    values.update(overrides)
    return RLConfig(**values)


def run(config, out_dir):
    lines = []
    final = train.run(config, str(out_dir), progress=False, log=lines.append)
    return final, lines


def read_json(path):
    with open(path) as f:
        return json.load(f)


def weights(path):
    with np.load(os.path.join(path, "weights.npz")) as data:
        return {k: data[k] for k in data.files}


# --------------------------------------------------------------------------- run directory
class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_run_directory_layout(note_rnn_dir, tmp_path, monkeypatch):
    # --steps 300 ends at 512 (whole batches of 8 x 32 notes); evaluations at 0, 256, 512.
    config = small_config(note_rnn_dir, steps=300)
    out = tmp_path / "run"
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    lines = []
    final = train.run(config, str(out), progress=True, log=lines.append)
    monkeypatch.undo()
    # On a terminal the bar runs to the step the run really reaches, and no progress lines are logged.
    bar = terminal.getvalue().replace("\r", "\n").splitlines()
    assert "512/512" in [line for line in bar if line.strip()][-1]
    assert not any("/1000" in line or "300/" in line for line in bar)
    assert lines[1] == ("Starting q (music_theory_all reward) at step 0 of 512 (--steps 300 rounded up to whole "
                        "batches of 8 melodies x 32 notes), 8 melodies in parallel")
    assert not any(line.startswith("step ") for line in lines)

    assert read_json(out / "config.json") == json.loads(json.dumps(dataclasses.asdict(config)))
    events = glob.glob(str(out / "events.out.tfevents*"))
    assert events
    tags, finals, hparams = set(), {}, None
    for path in events:
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                tags.add(v.tag)
                if v.tag.startswith("final/"):
                    finals[v.tag] = (event.step, float(tf.make_ndarray(v.tensor)))
                if v.metadata.plugin_data.plugin_name == "hparams":
                    from tensorboard.plugins.hparams import plugin_data_pb2
                    content = plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content)
                    hparams = content.session_start_info.hparams
    assert {"train/loss", "eval/mean_music_theory_reward", "eval/mean_log_prior"} <= tags
    # The HParams dashboard: the settings as hyperparameters, the final statistics as metrics.
    assert hparams["algorithm"].string_value == "q" and hparams["c"].number_value == 0.5
    assert hparams["prior"].string_value == "tiny"  # the folder name, not a machine path
    assert hparams["steps"].number_value == 300
    assert finals["final/notes_not_in_key"] == (512, pytest.approx(read_json(out / "stats.json")["after"]["notes_not_in_key"]))
    assert "final/num_melodies" not in finals and "final/sampling_seconds" not in finals

    assert os.path.isfile(out / "ckpt" / "checkpoint")
    assert glob.glob(str(out / "ckpt" / "ckpt-512.index"))
    assert read_json(out / "policy" / "policy.json")["algorithm"] == "q"
    assert checkpoint.is_checkpoint(str(out / "policy" / "q_network"))
    assert checkpoint.is_checkpoint(str(out / "policy" / "prior"))
    loaded = policy_lib.load_policy(str(out))
    assert loaded.algorithm == "q" and loaded.q_rnn is not None

    history = read_json(out / "history.json")
    assert [e["step"] for e in history["evaluations"]] == [0, EPISODE, 2 * EPISODE]
    assert [e["step"] for e in history["train"]] == [EPISODE, 2 * EPISODE]
    assert all(math.isfinite(e["loss"]) for e in history["train"])
    assert "before" in history

    stats = read_json(out / "stats.json")
    assert (stats["steps"], stats["train_steps"]) == (final["steps"], final["train_steps"])
    assert stats["algorithm"] == "q"
    assert stats["steps"] == 512
    assert stats["train_steps"] == 512 // 5 == 102  # steps // train_every
    for part in ("before", "after"):
        assert set(stats_lib.TABLE_1_KEYS) <= set(stats[part])
        assert stats[part]["num_melodies"] == 50
        assert {"mean_log_prior", "mean_music_theory_reward", "mean_kl", "mean_entropy"} <= set(stats[part])
    assert stats["before"]["mean_kl"] == pytest.approx(0.0, abs=1e-6)  # the Note-RNN is its own prior

    for png in ("training_curves.png", "next_note_probabilities.png"):
        with open(out / png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    for step in (0, EPISODE, 2 * EPISODE):
        folder = out / "samples" / f"step_{step:08d}"
        assert len(glob.glob(str(folder / "*.mid"))) == 1
        assert len(glob.glob(str(folder / "*.wav"))) == 1

    # The prior stays the pre-trained network exactly; the tuned network moved.
    original = weights(note_rnn_dir)
    prior = weights(str(out / "policy" / "prior"))
    tuned = weights(str(out / "policy" / "q_network"))
    for name, w in original.items():
        np.testing.assert_array_equal(prior[name], w)
    assert any(not np.array_equal(tuned[k], w) for k, w in original.items())


# --------------------------------------------------------------------------- resuming
def test_resume_after_interrupt_is_identical_to_an_uninterrupted_run(note_rnn_dir, tmp_path, monkeypatch):
    config = small_config(note_rnn_dir, steps=2 * EPISODE, num_samples=0, final_eval_samples=20)
    full, _ = run(config, tmp_path / "full")

    original = train._play_episodes
    calls = []

    def interrupt_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # after the checkpoint at step 256
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(train, "_play_episodes", interrupt_second_batch)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        run(config, out)
    monkeypatch.setattr(train, "_play_episodes", original)
    assert read_json(out / "history.json")["evaluations"][-1]["step"] == EPISODE

    resumed, lines = run(config, out)
    assert f"Resuming q (music_theory_all reward) at step {EPISODE} of {2 * EPISODE}, 8 melodies in parallel" \
        in lines, lines
    assert not any("Starting" in line for line in lines)
    assert resumed["steps"] == 2 * EPISODE
    assert resumed["train_steps"] == (2 * EPISODE) // 5 == 102
    history = read_json(out / "history.json")
    assert [e["step"] for e in history["evaluations"]] == [0, EPISODE, 2 * EPISODE]
    # Restored networks, optimiser, replay and random generators: the same result as without the
    # interruption, bit for bit.
    w_full = weights(str(tmp_path / "full" / "policy" / "q_network"))
    w_resumed = weights(str(out / "policy" / "q_network"))
    for name in w_full:
        np.testing.assert_array_equal(w_resumed[name], w_full[name])
    assert resumed["after"]["mean_log_prior"] == full["after"]["mean_log_prior"]


def test_rerun_removes_the_temporary_folder_of_a_save_killed_midway(note_rnn_dir, tmp_path):
    """kill -9 during CheckpointManager.save leaves ckpt/ckpt-N_temp (as big as a checkpoint, replay
    included); the next run of the same directory (which holds the lock) removes it, nothing else."""
    config = small_config(note_rnn_dir, steps=EPISODE, num_samples=0, final_eval_samples=20)
    out = tmp_path / "run"
    first, _ = run(config, out)
    stale = out / "ckpt" / f"ckpt-{2 * EPISODE}_temp"
    stale.mkdir()
    (stale / "part-00000-of-00001.data-00000-of-00001.tempstate123").write_bytes(b"x" * 1000)
    (out / "ckpt" / "notes_temp.txt").write_text("a file of the user's")  # not a save folder: kept
    before = sorted(os.listdir(out / "ckpt"))
    again, lines = run(config, out)  # the finished run: shows its results
    assert any("is complete" in line for line in lines), lines
    assert again["after"] == first["after"]
    assert sorted(os.listdir(out / "ckpt")) == [e for e in before if e != stale.name]
    assert checkpoint.remove_interrupted_saves(str(tmp_path / "missing")) == []


def test_extend_a_finished_run_and_reject_changed_settings(note_rnn_dir, tmp_path, caplog):
    out = tmp_path / "run"
    first, _ = run(small_config(note_rnn_dir, steps=EPISODE, num_samples=0, final_eval_samples=20), out)
    assert first["steps"] == EPISODE and first["train_steps"] == EPISODE // 5 == 51

    second, lines = run(small_config(note_rnn_dir, steps=2 * EPISODE, num_samples=0, final_eval_samples=20), out)
    assert f"Resuming q (music_theory_all reward) at step {EPISODE} of {2 * EPISODE}, 8 melodies in parallel" \
        in lines, lines
    assert second["steps"] == 2 * EPISODE
    assert second["train_steps"] == (2 * EPISODE) // 5 == 102  # 51 + (102 - 51), not 51 + 102
    history = read_json(out / "history.json")
    assert [e["step"] for e in history["evaluations"]] == [0, EPISODE, 2 * EPISODE]
    # Without a terminal (progress=False here) one line per evaluation: step, statistics, speed.
    evaluation, tally = history["evaluations"][-1], history["train"][-1]
    assert [line for line in lines if line.startswith("step ")] == [
        f"step {2 * EPISODE}/{2 * EPISODE}: r_MT {evaluation['mean_music_theory_reward']:.3f}, "
        f"log p {evaluation['mean_log_prior']:.3f}, KL {evaluation['mean_kl']:.3f} per note; "
        f"TD loss {tally['loss']:.4g}; {tally['env_steps_per_s']:.0f} env steps/s"]

    # The same command again: the run is complete; its results are shown, nothing is redone.
    mtime = os.path.getmtime(out / "stats.json")
    with caplog.at_level(logging.WARNING):
        third, lines = run(small_config(note_rnn_dir, steps=2 * EPISODE, num_samples=0, final_eval_samples=20),
                           out)
        gc.collect()
    assert [r.getMessage() for r in caplog.records if "checkpoint" in r.getMessage()] == []
    assert lines == [f"The q run in {out} is complete ({2 * EPISODE} steps, --steps {2 * EPISODE}); its results "
                     "(stats.json) follow. Give a larger --steps to train on."]
    assert third == read_json(out / "stats.json") == json.loads(json.dumps(second))
    assert os.path.getmtime(out / "stats.json") == mtime
    assert read_json(out / "history.json") == history
    # Asking for another number of final melodies evaluates again (no training).
    fourth, lines = run(small_config(note_rnn_dir, steps=2 * EPISODE, num_samples=0, final_eval_samples=30), out)
    assert fourth["after"]["num_melodies"] == 30 and fourth["steps"] == 2 * EPISODE
    assert not any(line.startswith("step ") for line in lines)

    # Other settings into the same directory: a clear ValueError, the run left untouched.
    for change in (dict(algorithm="psi"), dict(c=1.0), dict(batch_size=16)):
        with pytest.raises(ValueError) as info:
            run(small_config(note_rnn_dir, steps=2 * EPISODE, **change), out)
        assert next(iter(change)) in str(info.value)
    assert read_json(out / "config.json")["algorithm"] == "q"
    assert read_json(out / "stats.json")["steps"] == 2 * EPISODE


# --------------------------------------------------------------------------- all algorithms
@pytest.mark.parametrize("algorithm,exploration,replay", [
    ("q", "egreedy", "uniform"),
    ("psi", "boltzmann", "uniform"),
    ("g", "egreedy", "prioritized"),
    ("pure_rl", "boltzmann", "prioritized"),
])
def test_every_algorithm_runs(note_rnn_dir, tmp_path, algorithm, exploration, replay):
    config = small_config(note_rnn_dir, algorithm=algorithm, exploration=exploration, replay=replay,
                          steps=EPISODE, num_samples=0, final_eval_samples=20)
    final, _ = run(config, tmp_path / algorithm)
    assert final["algorithm"] == algorithm
    assert final["steps"] == EPISODE and final["train_steps"] == EPISODE // 5
    assert set(stats_lib.TABLE_1_KEYS) <= set(final["after"])
    assert final["after"]["algorithm"] == algorithm
    history = read_json(tmp_path / algorithm / "history.json")
    assert all(math.isfinite(e["loss"]) for e in history["train"])
    prior = weights(str(tmp_path / algorithm / "policy" / "prior"))
    for name, w in weights(note_rnn_dir).items():  # no algorithm (g included) changes the prior
        np.testing.assert_array_equal(prior[name], w)


@pytest.mark.parametrize("algorithm,mode", [("q", "music_theory_all"), ("psi", "music_theory_all"),
                                            ("g", "music_theory_only"), ("pure_rl", "music_theory_only")])
def test_g_and_pure_rl_use_music_theory_only(note_rnn_dir, algorithm, mode):
    # As the original: 'g' and 'pure_rl' force reward_mode music_theory_only (no log p in r).
    env = train.make_environment(small_config(note_rnn_dir, algorithm=algorithm))
    assert env.mode.name == mode
    assert env.num_envs == 8 and env.num_notes == 32


@pytest.mark.parametrize("algorithm", ["psi", "g"])
def test_the_loop_stores_log_p_at_s_the_prior_after_the_action_and_the_q_states_around_obs(note_rnn_dir, tmp_path,
                                                                                            algorithm):
    # What _play_episodes hands the learner, checked against the prior and the Q-network run
    # over the played melodies independently (whole sequences through Keras, not the actor).
    config = small_config(note_rnn_dir, algorithm=algorithm, num_envs=3, max_length=6)
    state = train.RunState(config, str(tmp_path / "run"))
    env = train.make_environment(config)
    stored, played = [], []
    state.learner.add_and_train = lambda transitions, num: (stored.append(transitions), (0.0, 0.0))[1]
    env_step = env.step
    env.step = lambda actions: played.append(env_step(actions)) or played[-1]
    assert train._play_episodes(state, env, config, 0, train.Tally()) == 3 * 6
    assert len(stored) == 6
    tokens = np.stack([np.asarray(stored[0]["obs"])] + [np.asarray(t["action"]) for t in stored], axis=1)  # [3, 7]
    log_p = tf.nn.log_softmax(state.prior.rnn.token_logits(tokens)).numpy()  # [3, 7, C]: log p(.|s_t)
    q_state = state.q_network.zero_state(3)
    for t, (transitions, result) in enumerate(zip(stored, played)):
        np.testing.assert_array_equal(np.asarray(transitions["obs"]), tokens[:, t])
        log_p_a = log_p[np.arange(3), t, tokens[:, t + 1]]  # log p(a_t|s_t)
        r_task = np.asarray(result.task_reward) / config.c
        expected = r_task + log_p_a if algorithm == "psi" else r_task
        np.testing.assert_allclose(transitions["reward"], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(transitions["next_log_prior"], log_p[:, t + 1], rtol=1e-5, atol=1e-5)
        for got, want in zip(tf.nest.flatten(transitions["state"]), tf.nest.flatten(q_state)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        q_state = state.q_network(tokens[:, t], network_state=q_state)[1]
        for got, want in zip(tf.nest.flatten(transitions["next_state"]), tf.nest.flatten(q_state)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(transitions["done"], [float(t == 5)] * 3)  # melodies end at the last note


# --------------------------------------------------------------------------- presets, validation
@pytest.mark.parametrize("preset", ["default", "paper"])
def test_presets_have_the_paper_hyperparameters(preset):
    cfg = config_lib.from_preset(preset, prior="x")
    assert cfg.batch_size == 32
    assert cfg.discount == 0.5
    assert cfg.train_every == 5
    assert cfg.replay_capacity == 100_000
    assert cfg.target_update_rate == 0.01
    assert cfg.learning_rate == 1e-3
    assert cfg.c == 0.5
    assert cfg.clip_norm == 5.0
    assert cfg.exploration == "egreedy"
    assert (cfg.epsilon_start, cfg.epsilon_end) == (1.0, 0.1)
    assert cfg.exploration_steps == cfg.steps // 2  # epsilon annealed over half the steps
    assert cfg.max_length == 32
    assert cfg.algorithm == "q"
    if preset == "paper":
        assert cfg.steps == 1_000_000 and cfg.exploration_steps == 500_000


def test_dataclass_defaults_have_the_paper_hyperparameters():
    cfg = RLConfig()
    assert (cfg.batch_size, cfg.discount, cfg.train_every, cfg.replay_capacity, cfg.target_update_rate,
            cfg.learning_rate, cfg.c, cfg.clip_norm, cfg.exploration_fraction) == \
        (32, 0.5, 5, 100_000, 0.01, 1e-3, 0.5, 5.0, 0.5)


def test_preset_overrides_and_bad_preset():
    cfg = config_lib.from_preset("paper", steps=1000, c=None)
    assert cfg.steps == 1000 and cfg.c == 0.5  # None values are ignored
    with pytest.raises(ValueError):
        config_lib.from_preset("bad")


@pytest.mark.parametrize("change,word", [
    (dict(algorithm="bad"), "algorithm"),
    (dict(exploration="bad"), "exploration"),
    (dict(c=0.0), "c"),
    (dict(c=-1.0), "c"),
    (dict(replay="bad"), "replay"),
    (dict(discount=1.5), "discount"),
    (dict(steps=0), "steps"),
    (dict(reward_mode="bad"), "reward mode"),
    (dict(new_priority="bad"), "new_priority 'bad'"),
])
def test_validate_errors(change, word):
    with pytest.raises(ValueError) as info:
        RLConfig(**change).validate()
    assert word in str(info.value)


def test_validate_lists_the_valid_algorithms():
    with pytest.raises(ValueError) as info:
        RLConfig(algorithm="bad").validate()
    assert "q, psi, g, pure_rl" in str(info.value)
    assert RLConfig().validate().algorithm == "q"


def test_run_validates_before_writing(note_rnn_dir, tmp_path):
    out = tmp_path / "bad"
    with pytest.raises(ValueError):
        train.run(small_config(note_rnn_dir, c=0.0), str(out), progress=False, log=lambda *_: None)
    assert not os.path.exists(out / "config.json")


# --------------------------------------------------------------------------- NaN losses
def test_nan_loss_stops_the_run_keeps_the_last_checkpoint_and_resumes(note_rnn_dir, tmp_path, monkeypatch):
    config = small_config(note_rnn_dir, steps=3 * EPISODE)  # checkpoints at 0, 256, 512, 768
    out = tmp_path / "run"
    original = train.agent.KLControlLearner.add_and_train
    calls = {"n": 0}

    def nan_after_first_checkpoint(self, transitions, num_steps):
        calls["n"] += 1
        loss, target = original(self, transitions, num_steps)
        # 32 calls per batch of episodes: the second batch (steps 256..512) reports NaN.
        return (tf.constant(float("nan")), target) if 32 < calls["n"] <= 64 else (loss, target)

    monkeypatch.setattr(train.agent.KLControlLearner, "add_and_train", nan_after_first_checkpoint)
    with pytest.raises(FloatingPointError, match=r"TD loss became nan near step 512.*ckpt-256"):
        run(config, out)
    assert os.path.basename(tf.train.latest_checkpoint(str(out / "ckpt"))) == "ckpt-256"
    assert [e["step"] for e in read_json(out / "history.json")["evaluations"]] == [0, 256]

    monkeypatch.setattr(train.agent.KLControlLearner, "add_and_train", original)
    final, lines = run(config, out)
    assert "Resuming q (music_theory_all reward) at step 256 of 768, 8 melodies in parallel" in lines
    assert final["steps"] == 3 * EPISODE
    assert [e["step"] for e in read_json(out / "history.json")["evaluations"]] == [0, 256, 512, 768]


def test_without_save_replay_the_checkpoint_holds_no_replay_and_the_run_resumes(note_rnn_dir, tmp_path):
    import tensorflow as tf
    out = tmp_path / "no_replay"
    run(small_config(note_rnn_dir, steps=EPISODE, save_replay=False), out)
    names = [name for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(str(out / "ckpt")))]
    assert names and not any("replay" in name for name in names)
    assert any("q_network" in name for name in names)
    final, lines = run(small_config(note_rnn_dir, steps=2 * EPISODE, save_replay=False), out)  # approximate resume
    assert final["steps"] == 2 * EPISODE
    # The start line says that this resume is not exact (a resume with the replay says nothing more).
    assert (f"Resuming q (music_theory_all reward) at step {EPISODE} of {2 * EPISODE}, 8 melodies in parallel; the "
            "replay was not saved (--no-save-replay), so it starts empty and the run will not be identical to an "
            "uninterrupted one") in lines
    with_replay = tmp_path / "with_replay"
    run(small_config(note_rnn_dir, steps=EPISODE), with_replay)
    names = [name for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(str(with_replay / "ckpt")))]
    assert any("replay" in name for name in names)
