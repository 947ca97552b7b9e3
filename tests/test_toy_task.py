"""The second task, an installed-style package (tests/toy_task, registered through its
dist-info entry point): it trains through ``rl-tuner train --task`` with variable-length
episodes, an end token and its own exploration set, and its reward rises."""

import json
import os

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner import cli, tasks  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402

TOY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "toy_task")


@pytest.fixture(autouse=True)
def toy_installed(monkeypatch):
    monkeypatch.syspath_prepend(TOY)  # as `pip install tests/toy_task` would: its dist-info is found
    yield


@pytest.fixture
def toy_prior(tmp_path):
    path = str(tmp_path / "toy_prior")
    model = model_lib.build(model_lib.SequenceRNNConfig(num_classes=6, layer_sizes=(8,),
                                                        vocabulary=(".", "a", "b", "c", "d", "e")), seed=0)
    checkpoint.save_model(path, model)
    return path


def test_the_toy_task_is_registered_by_its_entry_point():
    assert "toy_ascending" in tasks.available()
    task = tasks.get_task("toy_ascending")
    assert type(task).__module__ == "toy_task" and task.end_token == 0
    assert task.decode([1, 2, 5, 0]) == "abe"


def test_the_environment_restarts_only_finished_episodes():
    from toy_task import AscendingEnvironment
    env = AscendingEnvironment(num_envs=3, max_length=4)
    rng = np.random.default_rng(0)
    first = env.reset(rng)
    assert set(first) <= {1, 2, 3, 4, 5}
    env.previous = np.array([1, 3, 5])  # a known start
    result = env.step(np.array([2, 0, 1]))
    np.testing.assert_array_equal(result.task_reward, [1.0, 0.0, 0.0])  # 1 -> 2 ascends; end; 5 -> 1 falls
    np.testing.assert_array_equal(result.done, [False, True, False])
    np.testing.assert_array_equal(result.step_type, [1, 2, 1])  # MID, LAST, MID
    np.testing.assert_array_equal(result.episode_metrics["episode_length"][result.done], [1.0])
    again = env.reset(rng, mask=result.done)
    np.testing.assert_array_equal(env.t, [1, 0, 1])  # only the finished one restarts
    assert env.previous[1] == again[1] and env.previous[0] == 2 and env.previous[2] == 1


def test_ascending_share_counts_within_lengths():
    from toy_task import ascending_share
    tokens = np.array([[1, 2, 3, 0, 0], [5, 4, 5, 1, 2]])
    lengths = np.array([4, 5])
    # row 0: 2>1, 3>2 ascend (the end token does not count); row 1: 5>4, 2>1 ascend; positions 1.. valid: 2 + 4
    assert ascending_share(tokens, lengths) == pytest.approx(4 / 6)


def test_the_toy_task_trains_through_the_command_and_its_reward_rises(tmp_path, toy_prior, capsys):
    out = str(tmp_path / "run")
    steps = 16 * 8 * 40
    code = cli.main(["train", "--task", "toy_ascending", "--prior", toy_prior, "--out", out, "--algorithm", "psi",
                     "--steps", str(steps), "--num-envs", "16", "--num-notes", "8", "--train-every", "1",
                     "--c", "0.1", "--eval-every", str(steps), "--eval-samples", "200",
                     "--final-eval-samples", "1000", "--num-samples", "2", "--replay-capacity", "5000", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Starting psi at step 0 of 5120, 16 sequences in parallel" in printed
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["task"] == "toy_ascending"
    with open(os.path.join(out, "stats.json")) as f:
        stats = json.load(f)
    before, after = stats["before"]["ascending_share"], stats["after"]["ascending_share"]
    assert 0.25 < before < 0.6  # a random prior
    assert after > before + 0.15, (before, after)  # measured: 0.393 -> 0.620
    assert stats["after"]["mean_length"] <= 8
    with open(os.path.join(out, "history.json")) as f:
        history = json.load(f)
    assert history["train"][-1]["episode_length"] >= 1  # per finished episode
    assert os.path.isfile(os.path.join(out, "samples", f"step_{steps:08d}", "tokens.json"))
    # evaluate finds the task in the run
    assert cli.main(["evaluate", "--model", out, "--num-melodies", "100", "--length", "8",
                     "--out", str(tmp_path / "eval.json")]) == 0
    with open(tmp_path / "eval.json") as f:
        result = json.load(f)
    assert result["task"] == "toy_ascending" and "ascending_share" in result


class _EndRewardEnvironment:
    """The toy environment plus ``end_rewards``: the end token would earn -2 anywhere."""

    END_REWARD = -2.0

    def __init__(self, env):
        self._env = env
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._env, name)

    def end_rewards(self, rows):
        return np.full(len(rows), self.END_REWARD)


def _stored_replay(out):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    reader = tf.train.load_checkpoint(os.path.join(out, "ckpt"))
    names = reader.get_variable_to_shape_map()

    def value(part):
        (key,) = [k for k in names if k.startswith("replay/") and part in k and "OPTIMIZER" not in k]
        return reader.get_tensor(key)
    return {name: value(f"/{name}/") for name in ("obs", "action", "reward", "done")}, int(value("num_added"))


def test_end_transitions_store_the_end_token_in_a_share_of_the_states(tmp_path, toy_prior, monkeypatch):
    task = tasks.get_task("toy_ascending")
    made = task.make_environment
    monkeypatch.setattr(type(task), "make_environment", lambda self, config: _EndRewardEnvironment(made(config)))
    out = str(tmp_path / "run")
    num_envs, num_notes, rollouts = 8, 4, 2
    steps = num_envs * num_notes * rollouts
    assert cli.main(["train", "--task", "toy_ascending", "--prior", toy_prior, "--out", out, "--algorithm", "g",
                     "--c", "0.5", "--end-transitions", "0.25", "--steps", str(steps), "--num-envs", str(num_envs),
                     "--num-notes", str(num_notes), "--train-every", "4", "--batch-size", "8",
                     "--eval-every", str(steps), "--eval-samples", "10", "--final-eval-samples", "10",
                     "--num-samples", "0", "--replay-capacity", "1000", "--quiet"]) == 0
    stored, num_added = _stored_replay(out)
    per_step = 2  # round(0.25 x 8) episodes a step
    assert num_added == steps + per_step * num_notes * rollouts
    n = num_added
    action, reward, done = stored["action"][:n], stored["reward"][:n], stored["done"][:n]
    end = reward == _EndRewardEnvironment.END_REWARD / 0.5  # g: r = r_T / c; played steps earn 0 or 2
    assert end.sum() == per_step * num_notes * rollouts
    assert (action[end] == 0).all() and (done[end] == 1).all()
    # each step's batch: the 8 played transitions, then the 2 end transitions
    np.testing.assert_array_equal(end, np.tile([False] * num_envs + [True] * per_step, num_notes * rollouts))
    with open(os.path.join(out, "history.json")) as f:
        history = json.load(f)
    assert history["train"][-1]["end_transition_reward"] == -4.0
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["end_transitions"] == 0.25
    # an end transition is played in the state of one of its step's episodes: it shares that
    # transition's observation (rl_tuner.kl_control.transitions.with_end_transitions)
    blocks = stored["obs"][:n].reshape(num_notes * rollouts, num_envs + per_step)
    for block in blocks:
        assert set(block[num_envs:]) <= set(block[:num_envs])
    assert len({tuple(b[num_envs:]) for b in blocks}) > 1  # not one fixed observation


def test_end_transitions_need_an_environment_that_reports_end_rewards(tmp_path, toy_prior, capsys):
    from rl_tuner.plumbing.cli_utils import run_main  # pylint: disable=import-outside-toplevel
    code = run_main(cli.main, ["train", "--task", "toy_ascending", "--prior", toy_prior, "--out", str(tmp_path / "run"),
                     "--end-transitions", "0.5", "--steps", "32", "--num-envs", "8", "--num-notes", "4",
                     "--eval-every", "32", "--eval-samples", "10", "--final-eval-samples", "10", "--quiet"])
    assert code == 2
    assert "error: end_transitions needs an environment that reports end rewards; the toy_ascending task's does " \
           "not" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "run")  # refused before the run directory is made
