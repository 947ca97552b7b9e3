"""The domain-free core: task registry, the core importing no application, end tokens,
exploration sets, the task recorded in runs and policies, and earlier runs' config names."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner.runner import evaluate, policy  # noqa: E402
from rl_tuner.kl_control import exploration  # noqa: E402
from rl_tuner import tasks  # noqa: E402
from rl_tuner.runner.config import RLConfig  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_core_imports_no_application():
    script = textwrap.dedent("""
        import json, sys
        import rl_tuner.runner.train, rl_tuner.runner.evaluate, rl_tuner.runner.policy, rl_tuner.models.export, rl_tuner.cli
        import rl_tuner.tasks, rl_tuner.models.sequence_model, rl_tuner.plumbing.checkpoint, rl_tuner.models.sampling, rl_tuner.models.mle
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("note_rnn", "molecules"))))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_the_melody_task_is_found_by_name():
    from note_rnn.task import MelodyTask
    task = tasks.get_task("melody")
    assert isinstance(task, MelodyTask) and task.name == "melody"
    assert task.num_classes == 38 and task.end_token is None
    assert "melody" in tasks.available()
    assert task.default_reward_mode("q") == "music_theory_all"
    assert task.default_reward_mode("g") == "music_theory_only"


def test_an_unknown_task_is_refused_with_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown task 'nope'; registered tasks: .*melody.* \(a package adds one "
                                         r"through the entry-point group 'rl_tuner.tasks'\)"):
        tasks.get_task("nope")
    with pytest.raises(ValueError, match=r"unknown task 'nope'"):
        RLConfig(task="nope")


def test_setup_registers_the_project_tasks_as_entry_points():
    with open(os.path.join(REPO, "setup.py")) as f:
        text = f.read()
    assert '"rl_tuner.tasks": ["melody = note_rnn.task:MelodyTask", "smiles = molecules.task:SmilesTask"]' in text
    assert tasks.PROJECT_TASKS == {"melody": "note_rnn.task:MelodyTask", "smiles": "molecules.task:SmilesTask"}


def test_a_config_json_of_an_earlier_version_reads_in_todays_names():
    stored = {"algorithm": "q", "note_rnn": "/ckpt", "steps": 10}
    assert RLConfig.upgrade_stored(stored) == {"algorithm": "q", "prior": "/ckpt", "steps": 10, "task": "melody",
                                               "save_replay": True, "new_priority": "max", "store_next_state": True,
                                               "head_init": "prior", "end_transitions": 0.0,
                                               "value_offset": "none", "double": False, "learner": "transition",
                                               "td_lambda": 1.0, "train_head_only": False}
    assert stored == {"algorithm": "q", "note_rnn": "/ckpt", "steps": 10}  # not changed in place


def test_end_at_token_cuts_pads_and_counts_the_end_token():
    tokens = np.array([[3, 5, 0, 4], [1, 2, 3, 4], [0, 0, 2, 0]])
    cut, lengths = evaluate.end_at_token(tokens, end_token=0)
    np.testing.assert_array_equal(lengths, [3, 4, 1])
    np.testing.assert_array_equal(cut, [[3, 5, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]])
    same, full = evaluate.end_at_token(tokens, None)
    np.testing.assert_array_equal(same, tokens)
    np.testing.assert_array_equal(full, [4, 4, 4])


def test_measure_averages_per_token_records_within_each_length():
    samples = {"tokens": np.array([[3, 0, 0], [1, 2, 0]]), "lengths": np.array([2, 3]),
               "log_prior": np.array([[-1.0, -3.0, -100.0], [-2.0, -2.0, -2.0]]),
               "entropy": np.ones((2, 3)), "kl": np.array([[0.5, 0.5, 9.0], [0.0, 0.0, 0.0]]),
               "log_policy": np.array([[-0.5, -1.5, -50.0], [-1.0, -1.0, -1.0]])}
    result = evaluate.measure(samples)
    assert result["mean_log_prior"] == pytest.approx((-1 - 3 - 2 - 2 - 2) / 5)
    assert result["mean_log_policy"] == pytest.approx((-0.5 - 1.5 - 1 - 1 - 1) / 5)  # the agent's NLL, negated
    assert result["mean_kl"] == pytest.approx(1.0 / 5)
    assert result["mean_entropy"] == 1.0
    assert result["mean_length"] == 2.5


def test_egreedy_draws_random_actions_only_from_the_task_set():
    logits = tf.constant(np.tile(np.arange(6, dtype=np.float32), (500, 1)))  # greedy = 5
    actions = exploration.select_actions(logits, "egreedy", 1.0, tf.constant([3, 4], tf.int64),
                                         tf.constant([1, 2], tf.int32)).numpy()
    assert set(actions) == {1, 2}
    greedy = exploration.select_actions(logits, "egreedy", 0.0, tf.constant([3, 4], tf.int64),
                                        tf.constant([1, 2], tf.int32)).numpy()
    assert set(greedy) == {5}
    everything = exploration.select_actions(logits, "egreedy", 1.0, tf.constant([3, 4], tf.int64)).numpy()
    assert set(everything) == set(range(6))


def test_task_of_reads_policies_runs_and_defaults(tmp_path):
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "policy.json").write_text(json.dumps({"algorithm": "q", "task": "toy"}))
    assert policy.task_of(str(tmp_path / "pol")) == "toy"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"task": "other", "algorithm": "q"}))
    assert policy.task_of(str(tmp_path / "run")) == "other"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "policy").mkdir()
    (tmp_path / "old" / "policy" / "policy.json").write_text(json.dumps({"algorithm": "q"}))
    assert policy.task_of(str(tmp_path / "old")) == "melody"
    assert policy.task_of(str(tmp_path / "nothing")) == "melody"


def test_a_restarted_environment_gets_zero_lstm_states_and_the_priors_first_step():
    from rl_tuner.kl_control import actor as actor_lib, networks, targets
    from rl_tuner.runner import train
    from rl_tuner.models import sequence_model as model_lib
    pretrained = model_lib.build(model_lib.SequenceRNNConfig(num_classes=6, layer_sizes=(4,)), seed=0)
    prior, q_network = networks.Prior(pretrained), networks.q_network_from(pretrained)
    actor = actor_lib.Actor(q_network, prior, targets.get_algorithm("psi"), "egreedy", seed=0)
    obs = tf.constant([1, 2, 3], tf.int32)
    q_state, log_prior, prior_state = actor.start(obs)
    out = actor.act(obs, q_state, log_prior, prior_state, tf.constant(0.0))  # one step: non-zero states
    mask = np.array([False, True, False])
    new_obs = tf.constant([out["action"].numpy()[0], 4, out["action"].numpy()[2]], tf.int32)
    q2, lp2, p2 = train._restart(actor, mask, new_obs, out["next_q_state"], out["next_log_prior"],
                                 out["next_prior_state"])
    fresh_q, fresh_lp, fresh_p = actor.start(tf.constant([4], tf.int32))
    (h, c), = q2
    np.testing.assert_array_equal(h.numpy()[1], np.zeros(4))  # the restarted row: zero Q-network state
    np.testing.assert_array_equal(h.numpy()[[0, 2]], out["next_q_state"][0][0].numpy()[[0, 2]])  # others go on
    np.testing.assert_allclose(lp2.numpy()[1], fresh_lp.numpy()[0], rtol=1e-6)  # log p(.|new first token)
    np.testing.assert_array_equal(lp2.numpy()[[0, 2]], out["next_log_prior"].numpy()[[0, 2]])
    np.testing.assert_allclose(p2[0][0].numpy()[1], fresh_p[0][0].numpy()[0], rtol=1e-6)
    assert not np.any(np.abs(out["next_q_state"][0][0].numpy()[1]) == 0)  # it was not zero before


def test_a_run_of_an_earlier_version_resumes_with_its_old_names(tmp_path):
    from rl_tuner.plumbing import outputs, runs
    config = RLConfig(prior=str(tmp_path / "ckpt"))
    stored = dict(json.loads(json.dumps(__import__("dataclasses").asdict(config))))
    stored["note_rnn"] = stored.pop("prior")
    del stored["task"]
    (tmp_path / "config.json").write_text(json.dumps(stored))
    (tmp_path / outputs.MANIFEST).write_text(json.dumps(
        {"command": "rl-tuner train", "files": [], "inputs": {"note_rnn": {"path": "/old", "sha256": "abc"}}}))
    assert runs.changed_settings(str(tmp_path), "config.json", config, inputs={"prior": "abc"}) == {}
    assert runs.changed_settings(str(tmp_path), "config.json", config, inputs={"prior": "def"}) == {
        "prior": (str(tmp_path / "ckpt"), f"{tmp_path / 'ckpt'} (different content)")}


def test_old_flag_names_are_hidden_aliases():
    from rl_tuner import cli
    parser = cli.build_parser()
    old = parser.parse_args(["train", "--out", "x", "--note-rnn", "/a", "--eval-melodies", "7",
                             "--final-eval-melodies", "9"])
    new = parser.parse_args(["train", "--out", "x", "--prior", "/a", "--eval-samples", "7", "--final-eval-samples", "9"])
    assert (old.prior, old.eval_samples, old.final_eval_samples) == ("/a", 7, 9) == \
        (new.prior, new.eval_samples, new.final_eval_samples)
    none = parser.parse_args(["train", "--out", "x"])
    assert none.prior is None and none.eval_samples is None  # preset values fill in later
    text = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert "--prior PRIOR" in text and "--eval-samples EVAL_SAMPLES" in text
    assert "--note-rnn NOTE" not in text and "--eval-melodies EVAL" not in text  # listed only as aliases in prose


def test_mask_logits_gives_blocked_tokens_probability_zero_and_keeps_the_rest():
    import tensorflow as tf
    from rl_tuner.models import sampling
    logits = tf.constant([[1.0, 2.0, 3.0], [-1e30, 0.0, 1e30], [5.0, 5.0, 5.0]])
    blocked = sampling.blocked_mask([1], 3)
    masked = sampling.mask_logits(logits, blocked).numpy()
    np.testing.assert_array_equal(masked[:, [0, 2]], logits.numpy()[:, [0, 2]])
    assert np.isfinite(masked).all()
    probs = tf.nn.softmax(masked).numpy()
    assert (probs[:, 1] == 0).all()
    np.testing.assert_allclose(probs[0, [0, 2]], tf.nn.softmax([1.0, 3.0]).numpy(), rtol=1e-6)
    assert tasks.Task().never_sampled_tokens() is None
    for bad in ([3], [-1], [0, 1, 2]):
        with pytest.raises(ValueError, match="never_sampled tokens"):
            sampling.blocked_mask(bad, 3)
    assert sampling.blocked_mask(None, 3) is None and sampling.blocked_mask([], 3) is None
