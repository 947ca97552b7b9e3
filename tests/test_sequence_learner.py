"""The sequence learner: lambda-returns by hand, the soft fixed point, rollout splitting, and its
loss against one-step stepping of the networks."""

import numpy as np
import pytest

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner.kl_control import agent, episodes, networks, replay, targets  # noqa: E402
from rl_tuner.kl_control import sequence_learner as sl  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402


def _lambda(r, v, q, done, has_next, gamma, lam):
    return targets.lambda_targets(np.array([r], np.float32), np.array([v], np.float32), np.array([q], np.float32),
                                  gamma, np.array([done], np.float32), np.array([has_next], np.float32), lam).numpy()[0]


@pytest.mark.parametrize("lam, expected", [(0.5, [5.125, 7.5, 3.0]), (0.0, [6.0, 12.0, 3.0]), (1.0, [2.0, 3.0, 3.0])])
def test_lambda_targets_by_hand(lam, expected):
    # y2 = 3 (terminal); y1 = 2 + .5 (20 + lam (3 - 21)); y0 = 1 + .5 (10 + lam (y1 - 11))
    y = _lambda([1, 2, 3], [10, 20, 30], [11, 21, 99], [0, 0, 1], [1, 1, 0], 0.5, lam)
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_lambda_targets_truncated_episode_bootstraps_on_the_last_state_value():
    # not terminal at its last stored step: y2 = 3 + .5 * 30 = 18; y1 = 2 + .5 (20 + .5 (18 - 21)) = 11.25
    y = _lambda([1, 2, 3], [10, 20, 30], [11, 21, 99], [0, 0, 0], [1, 1, 0], 0.5, 0.5)
    np.testing.assert_allclose(y, [1 + 0.5 * (10 + 0.5 * (11.25 - 11)), 11.25, 18.0], rtol=1e-6)


def _fixed_point_episode(algorithm, rng, num_steps=6, num_classes=5, gamma=0.9):
    """Values that satisfy the algorithm's Bellman equation along one episode with random
    actions (greedy ones for q), built backwards from the terminal step."""
    log_prior = np.log(rng.dirichlet(np.ones(num_classes), size=num_steps)).astype(np.float32)
    reward = rng.normal(size=num_steps).astype(np.float32)
    next_values = rng.normal(size=(num_steps, num_classes)).astype(np.float32) * 3
    q_taken = np.zeros(num_steps, np.float32)
    actions = rng.integers(num_classes, size=num_steps)
    for t in reversed(range(num_steps)):
        if t + 1 < num_steps:
            if algorithm.name == "q":  # the played action is the greedy one
                next_values[t] = q_taken[t + 1] - 0.1 - np.abs(next_values[t])
            next_values[t, actions[t + 1]] = q_taken[t + 1]
        v = 0.0 if t == num_steps - 1 else float(algorithm.state_value(next_values[t], log_prior[t]))
        q_taken[t] = reward[t] + gamma * v
    next_taken = np.append(q_taken[1:], 0.0).astype(np.float32)
    state_value = algorithm.state_value(next_values, log_prior).numpy()
    done = np.zeros(num_steps, np.float32)
    done[-1] = 1
    has_next = np.append(np.ones(num_steps - 1), 0).astype(np.float32)
    return reward, state_value, next_taken, done, has_next, q_taken


@pytest.mark.parametrize("name", ["q", "psi", "g"])
@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_lambda_targets_keep_the_fixed_point_off_policy(name, lam):
    """At the algorithm's fixed point every lambda gives y_t = Q(s_t, a_t), for any played actions
    (psi, g: path consistency) or greedy ones (q: Peng's Q(lambda))."""
    algorithm = targets.get_algorithm(name)
    reward, v, q_next, done, has_next, q_taken = _fixed_point_episode(algorithm, np.random.default_rng(3))
    y = _lambda(reward, v, q_next, done, has_next, 0.9, lam)
    np.testing.assert_allclose(y, q_taken, rtol=1e-5, atol=1e-4)


def test_lambda_targets_differ_from_one_step_away_from_the_fixed_point():
    algorithm = targets.get_algorithm("psi")
    reward, v, q_next, done, has_next, _ = _fixed_point_episode(algorithm, np.random.default_rng(4))
    q_next = q_next + 1.0  # the target network's value of the next action is off by 1
    one_step = _lambda(reward, v, q_next, done, has_next, 0.9, 0.0)
    full = _lambda(reward, v, q_next, done, has_next, 0.9, 1.0)
    # lambda 1: every later step's error enters, discounted: y_t moves by -sum_k 0.9^k over later steps
    shifts = np.array([-sum(0.9 ** k for k in range(1, 6 - t)) for t in range(6)])
    np.testing.assert_allclose(full - one_step, shifts, rtol=1e-5, atol=1e-5)


def test_state_values_by_hand():
    values = np.array([[0.0, np.log(3.0)]], np.float32)
    log_prior = np.log(np.array([[0.25, 0.75]], np.float32))
    assert targets.get_algorithm("q").state_value(values, log_prior).numpy()[0] == pytest.approx(np.log(3.0))
    assert targets.get_algorithm("psi").state_value(values, log_prior).numpy()[0] == pytest.approx(np.log(4.0))
    assert targets.get_algorithm("g").state_value(values, log_prior).numpy()[0] == pytest.approx(np.log(2.5))


def test_split_rollout_cuts_at_ends_and_pads():
    # env 0: an episode ends at step 1, the next at step 3; env 1 never ends (truncated).
    obs = np.array([[5, 6, 9, 7], [8, 1, 2, 3]])
    action = np.array([[6, 0, 7, 0], [1, 2, 3, 4]])
    reward = np.arange(8, dtype=np.float32).reshape(2, 4)
    ended = np.array([[0, 1, 0, 1], [0, 0, 0, 0]], bool)
    done = ended.astype(np.float32)
    out = episodes.split_rollout({"obs": obs, "action": action, "reward": reward, "done": done}, ended)
    np.testing.assert_array_equal(out["length"], [2, 2, 4])
    np.testing.assert_array_equal(out["tokens"], [[5, 6, 0, 0, 0], [9, 7, 0, 0, 0], [8, 1, 2, 3, 4]])
    np.testing.assert_array_equal(out["reward"], [[0, 1, 0, 0], [2, 3, 0, 0], [4, 5, 6, 7]])
    np.testing.assert_array_equal(out["done"], [[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])


def test_split_rollout_keeps_the_bootstrapped_last_note_not_done():
    ended = np.array([[0, 0, 1]], bool)
    out = episodes.split_rollout({"obs": [[1, 2, 3]], "action": [[2, 3, 4]], "reward": np.ones((1, 3)),
                                  "done": np.zeros((1, 3))}, ended)
    np.testing.assert_array_equal(out["length"], [3])
    np.testing.assert_array_equal(out["done"], [[0, 0, 0]])


class _Setup:
    def __init__(self, name, lam, end=False, num_classes=7, units=8, steps=5, learning_rate=1e-4, eta=0.01):
        self.algorithm = targets.get_algorithm(name)
        pretrained = model_lib.build(model_lib.SequenceRNNConfig(num_classes=num_classes, layer_sizes=(units,)), seed=1)
        self.q = networks.q_network_from(pretrained)
        self.target = agent.build_target_network(self.q)
        rng = np.random.default_rng(0)
        for var in self.target.variables:  # a target network that differs from the online one
            var.assign(var + rng.normal(size=var.shape).astype(np.float32) * 0.3)
        spec = episodes.episode_spec(steps, num_classes, self.algorithm.uses_next_log_prior, end)
        self.memory = replay.make_replay("uniform", spec, 10)
        self.learner = sl.SequenceLearner(self.q, self.target, self.algorithm, self.memory,
                                          sl.SequenceLearnerConfig(discount=0.9, td_lambda=lam, end_token=0,
                                                                   learning_rate=learning_rate, target_update_rate=eta))
        self.batch = {"tokens": rng.integers(num_classes, size=(3, steps + 1)).astype(np.int32),
                      "reward": rng.normal(size=(3, steps)).astype(np.float32),
                      "done": np.array([[0, 0, 1, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]], np.float32),
                      "length": np.array([3, 5, 5], np.int32)}
        if self.algorithm.uses_next_log_prior:
            self.batch["next_log_prior"] = np.log(rng.dirichlet(np.ones(num_classes), size=(3, steps))).astype(np.float32)
        if end:
            self.batch["end_reward"] = rng.normal(size=(3, steps)).astype(np.float32)
            self.batch["has_end"] = (rng.uniform(size=(3, steps)) < 0.5).astype(np.float32)

    def stepped_values(self, network, tokens):
        """Values after each prefix, by stepping the network one token at a time from the zero state."""
        state = network.zero_state(tokens.shape[0])
        out = []
        for t in range(tokens.shape[1]):
            values, state = network(tf.constant(tokens[:, t]), network_state=state)
            out.append(values.numpy())
        return np.stack(out, axis=1)


@pytest.mark.parametrize("name", ["q", "psi", "g"])
def test_one_step_loss_equals_the_algorithms_target_on_stepped_networks(name):
    """lambda 0: the loss is the one-step TD error of every stored step, Q from the online network's
    state after tokens[:t+1] and the target from the TARGET network's own state after tokens[:t+2]."""
    s = _Setup(name, 0.0)
    b = s.batch
    online = s.stepped_values(s.q, b["tokens"][:, :-1])
    target = s.stepped_values(s.target, b["tokens"])[:, 1:]
    errors = []
    for i in range(3):
        for t in range(b["length"][i]):
            y = s.algorithm.target(b["reward"][i:i + 1, t], target[i:i + 1, t], 0.9, b["done"][i:i + 1, t],
                                   None if "next_log_prior" not in b else b["next_log_prior"][i:i + 1, t]).numpy()[0]
            errors.append(online[i, t, b["tokens"][i, t + 1]] - y)
    loss, _, mask = s.learner.loss(b)
    assert float(loss) == pytest.approx(np.mean(np.square(errors)), rel=1e-5)
    np.testing.assert_array_equal(mask.numpy().sum(1), b["length"])


def test_end_transitions_enter_the_loss_as_terminal_end_token_values():
    s = _Setup("psi", 0.0, end=True)
    b = s.batch
    without = {k: v for k, v in b.items() if k not in ("end_reward", "has_end")}
    base, _, mask = s.learner.loss(without)
    online = s.stepped_values(s.q, b["tokens"][:, :-1])
    end_errors = (online[:, :, 0] - b["end_reward"])[b["has_end"] == 1]
    steps = float(mask.numpy().sum())
    expected = (float(base) * steps + np.sum(np.square(end_errors))) / (steps + len(end_errors))
    assert float(s.learner.loss(b)[0]) == pytest.approx(expected, rel=1e-5)


def test_train_moves_the_online_network_toward_the_targets_and_counts_steps():
    s = _Setup("g", 1.0, learning_rate=1e-2, eta=1e-6)
    s.learner.add_and_train({k: np.tile(v, (4,) + (1,) * (v.ndim - 1)) for k, v in s.batch.items()}, 0)
    before = float(s.learner.loss(s.batch)[0])
    s.learner.config.batch_size = 12
    for _ in range(20):
        s.learner.train(tf.constant(1))
    assert int(s.learner.train_steps.numpy()) == 20
    assert float(s.learner.loss(s.batch)[0]) < before


def _path_setup(name):
    s = _Setup(name, 1.0)
    s.learner.config.path_consistency = True
    return s


@pytest.mark.parametrize("name", ["psi", "g"])
def test_path_consistency_loss_by_stepping_the_online_network(name):
    """C_t = -V(s_t) + sum_k>=t gamma^(k-t) (r_k - log-ratio_k) [+ the target network's V at a cut
    end], every value from the online network's own unroll."""
    s = _path_setup(name)
    b = s.batch
    online = s.stepped_values(s.q, b["tokens"])
    target = s.stepped_values(s.target, b["tokens"])
    lp = b.get("next_log_prior")
    errors = []
    for i in range(3):
        n = b["length"][i]
        prior_t = [None] * (n + 1) if lp is None else [None] + [lp[i, k] for k in range(n)]

        def value(q, k):
            return float(s.algorithm.state_value(q[i, k], prior_t[k]))
        for t in range(n):
            total = 0.0
            for k in range(t, n):
                a = b["tokens"][i, k + 1]
                ratio = 0.0 if k == t else online[i, k, a] - value(online, k)
                total += 0.9 ** (k - t) * (b["reward"][i, k] - ratio)
            if b["done"][i, n - 1] == 0:
                total += 0.9 ** (n - t) * value(target, n)
            errors.append(online[i, t, b["tokens"][i, t + 1]] - total)
    assert float(s.learner.loss(b)[0]) == pytest.approx(np.mean(np.square(errors)), rel=1e-4)


def test_path_consistency_moves_the_values_of_actions_never_played():
    """Regression on a target moves only Q(s, a) of played actions; the path loss also moves
    every action's value through V(s) (the soft maximum), so unplayed actions cannot drift up."""
    s = _path_setup("psi")
    b = dict(s.batch)
    b["tokens"] = np.where(b["tokens"] == 6, 5, b["tokens"]).astype(np.int32)  # token 6 is never played
    bias = s.q.rnn.dense.bias
    grads = {}
    for path in (False, True):
        s.learner.config.path_consistency = path
        with tf.GradientTape() as tape:
            loss = s.learner.loss(b)[0]
        grads[path] = tape.gradient(loss, bias).numpy()
    assert grads[False][6] == 0.0
    assert abs(grads[True][6]) > 1e-4


def test_path_learner_refused_for_hard_max_algorithms():
    from rl_tuner.runner.config import RLConfig
    with pytest.raises(ValueError, match="path-consistency learner is for the soft algorithms psi and g; q takes"):
        RLConfig(algorithm="q", learner="path").validate()
    with pytest.raises(ValueError, match="samples whole episodes uniformly"):
        RLConfig(algorithm="psi", learner="path", replay="prioritized").validate()


def test_split_rollout_complete_only_drops_the_cut_episode():
    ended = np.array([[0, 1, 0, 0], [0, 0, 0, 1]], bool)
    out = episodes.split_rollout({"obs": [[5, 6, 9, 7], [8, 1, 2, 3]], "action": [[6, 0, 7, 1], [1, 2, 3, 0]],
                                  "reward": np.ones((2, 4)), "done": ended.astype(float)}, ended, complete_only=True)
    np.testing.assert_array_equal(out["length"], [2, 4])
    np.testing.assert_array_equal(out["tokens"], [[5, 6, 0, 0, 0], [8, 1, 2, 3, 0]])


@pytest.mark.parametrize("name", ["q", "pure_rl"])
def test_hard_max_algorithms_use_pengs_q_lambda(name):
    """q: y_t = r_t + gamma [(1 - lambda) max Q-(s_t+1) + lambda y_t+1], whatever action was played
    next (the played action's value never enters)."""
    s = _Setup(name, 0.5)
    b = dict(s.batch)
    b["done"] = np.zeros_like(b["done"])
    b["done"][:, -1] = 1
    b["length"] = np.full(3, 5, np.int32)
    target = s.stepped_values(s.target, b["tokens"])[:, 1:]
    online = s.stepped_values(s.q, b["tokens"][:, :-1])
    errors = []
    for i in range(3):
        y = 0.0
        ys = []
        for t in reversed(range(5)):
            y = b["reward"][i, t] + (0.0 if t == 4 else 0.9 * (0.5 * target[i, t].max() + 0.5 * y))
            ys.append(y)
        for t, y in enumerate(reversed(ys)):
            errors.append(online[i, t, b["tokens"][i, t + 1]] - y)
    assert float(s.learner.loss(b)[0]) == pytest.approx(np.mean(np.square(errors)), rel=1e-5)


def test_train_head_only_leaves_the_lstm_as_the_prior():
    s = _Setup("psi", 1.0, learning_rate=1e-2)
    head_only = sl.SequenceLearner(s.q, s.target, s.algorithm, s.memory,
                                   sl.SequenceLearnerConfig(discount=0.9, learning_rate=1e-2, train_head_only=True))
    head_only.add_and_train({k: np.tile(v, (4,) + (1,) * (v.ndim - 1)) for k, v in s.batch.items()}, 0)
    head_only.config.batch_size = 12
    lstm = [v.numpy().copy() for v in s.q.rnn.lstm_layers[0].weights]
    dense = s.q.rnn.dense.kernel.numpy().copy()
    head_only.train(tf.constant(3))
    for before, var in zip(lstm, s.q.rnn.lstm_layers[0].weights):
        np.testing.assert_array_equal(var.numpy(), before)
    assert np.abs(s.q.rnn.dense.kernel.numpy() - dense).max() > 1e-4


def test_train_head_only_refused_for_the_transition_learner():
    from rl_tuner.runner.config import RLConfig
    with pytest.raises(ValueError, match="train_head_only is a setting of the sequence learners"):
        RLConfig(algorithm="psi", train_head_only=True).validate()


@pytest.mark.parametrize("name, path", [("psi", True), ("g", True), ("q", False), ("g", False)])
def test_stored_features_give_the_loss_of_the_unroll(name, path):
    """With only the output layer trained, the LSTM's outputs stored at acting time replace the
    unroll: the same loss and the same gradient of the output layer (float32 rounding)."""
    s = _Setup(name, 0.7)
    for target_var, var in zip(s.target.rnn.lstm_layers[0].weights, s.q.rnn.lstm_layers[0].weights):
        target_var.assign(var)  # head-only training: the target's LSTM is the online one's
    s.learner.config.path_consistency = path
    s.learner.config.train_head_only = True
    b = dict(s.batch)
    b["done"] = np.zeros_like(b["done"])
    for i, n in enumerate(b["length"]):
        b["done"][i, n - 1] = 1  # complete episodes only, as stored
    state = s.q.zero_state(3)
    features = []
    for t in range(b["tokens"].shape[1] - 1):
        _, state = s.q(tf.constant(b["tokens"][:, t]), network_state=state)
        features.append(state[0][0].numpy())
    with_features = dict(b, features=np.stack(features, axis=1))
    dense = [s.q.rnn.dense.kernel, s.q.rnn.dense.bias]
    results = []
    for batch in (b, with_features):
        with tf.GradientTape() as tape:
            loss = s.learner.loss(batch)[0]
        results.append((float(loss), [g.numpy() for g in tape.gradient(loss, dense)]))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-4)
    for got, want in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


def test_features_are_stored_only_when_the_lstm_never_changes():
    from rl_tuner.runner import train
    from rl_tuner.runner.config import RLConfig
    pretrained = model_lib.build(model_lib.SequenceRNNConfig(num_classes=7, layer_sizes=(8, 6)), seed=1)
    base = dict(algorithm="psi", learner="path", replay="uniform")
    assert train.feature_size(RLConfig(**base, train_head_only=True), pretrained) == 6
    assert train.feature_size(RLConfig(**base), pretrained) == 0
    assert train.feature_size(RLConfig(**base, train_head_only=True, bootstrap_final_step=True), pretrained) == 0
