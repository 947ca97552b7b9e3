"""The flat (fused) learner update equals the per-tensor one.

rl_tuner.kl_control.optim.FlatLayout packs all parameters into one vector so that the per-tensor clip,
TF1 Adam and the soft target update run as a few large kernels inside the compiled K-step
loop (rl_tuner.kl_control.agent.KLControlLearner._fused_train_step). These tests check the packing by
hand and the fused path against the per-tensor reference path (_train_step) on the same
batches, to float32 rounding.
"""

import numpy as np
import pytest

import note_rnn  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402

from rl_tuner.kl_control import optim  # noqa: E402
from test_learner import Setup, make_batch, snapshot, to_tf  # noqa: E402


@pytest.mark.math
def test_layout_offsets_padding_and_round_trip():
    # Sizes 6, 5, 1 in rows of 4: 2 + 2 + 1 rows, offsets 0, 8, 16, 20 elements in all.
    layout = optim.FlatLayout([(2, 3), (5,), (1,)], row_width=4)
    assert (layout.offsets, layout.sizes, layout.num_rows, layout.size) == ([0, 8, 16], [6, 5, 1], 5, 20)
    a = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    b = np.array([10, 20, 30, 40, 50], np.float32)
    c = np.array([-7], np.float32)
    flat = layout.flatten([a, b, c]).numpy()
    np.testing.assert_array_equal(flat, [1, 2, 3, 4, 5, 6, 0, 0, 10, 20, 30, 40, 50, 0, 0, 0, -7, 0, 0, 0])
    back = layout.split(tf.constant(flat))
    for x, y in zip(back, [a, b, c]):
        assert x.shape == y.shape
        np.testing.assert_array_equal(x.numpy(), y)


@pytest.mark.math
def test_layout_rejects_an_empty_list():
    with pytest.raises(ValueError, match="at least one tensor shape"):
        optim.FlatLayout([])


@pytest.mark.math
def test_layout_norms_by_hand():
    # ||(3, 4)|| = 5, ||(1, 2, 2)|| = 3, ||0|| = 0.
    layout = optim.FlatLayout([(2,), (3,), (1,)], row_width=2)
    flat = layout.flatten([[3.0, 4.0], [1.0, 2.0, 2.0], [0.0]])
    np.testing.assert_allclose(layout.norms(flat).numpy(), [5.0, 3.0, 0.0], rtol=1e-7)


@pytest.mark.math
def test_layout_clip_by_norm_is_tf_clip_by_norm_per_tensor():
    rng = np.random.default_rng(0)
    shapes = [(38, 40), (10, 40), (40,), (10, 38), (38,), (3,)]
    scales = [1.0, 10.0, 0.01, 3.0, 100.0, 0.0]  # some above the clip norm 5, one below, one zero
    tensors = [(s * rng.normal(size=shape)).astype(np.float32) for s, shape in zip(scales, shapes)]
    layout = optim.FlatLayout(shapes, row_width=16)
    clipped = layout.split(layout.clip_by_norm(layout.flatten(tensors), 5.0))
    for t, got in zip(tensors, clipped):
        want = tf.clip_by_norm(tf.constant(t), 5.0).numpy()
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(clipped[2].numpy(), tensors[2], rtol=1e-6)  # under the norm: g * 5 / 5
    np.testing.assert_array_equal(clipped[5].numpy(), 0.0)  # zero stays zero (no NaN)
    np.testing.assert_allclose(np.linalg.norm(clipped[4].numpy()), 5.0, rtol=1e-5)


@pytest.mark.math
def test_apply_flat_equals_apply_gradients_exactly():
    rng = np.random.default_rng(1)
    shapes = [(4, 6), (6,), (3, 2)]
    init = [rng.normal(size=s).astype(np.float32) for s in shapes]
    per_tensor = [tf.Variable(x) for x in init]
    opt_a = optim.FusedAdam(per_tensor, learning_rate=0.01)
    layout = optim.FlatLayout(shapes, row_width=8)
    flat_vars = [tf.Variable(layout.flatten(x)) for x in (init, opt_a.m, opt_a.v)]
    opt_b = optim.FusedAdam([tf.Variable(x) for x in init], learning_rate=0.01)
    for _ in range(3):
        grads = [rng.normal(size=s).astype(np.float32) for s in shapes]
        opt_a.apply_gradients(zip([tf.constant(g) for g in grads], per_tensor))
        opt_b.apply_flat(*flat_vars, layout.flatten(grads))
    # The same elementwise kernel: bit-identical parameters and slots.
    for key, flat in zip(("theta", "m", "v"), flat_vars):
        want = {"theta": per_tensor, "m": opt_a.m, "v": opt_a.v}[key]
        for got, w in zip(layout.split(flat), want):
            np.testing.assert_array_equal(got.numpy(), w.numpy(), err_msg=key)
    assert float(opt_b.beta1_power.numpy()) == float(opt_a.beta1_power.numpy())
    assert float(opt_b.beta2_power.numpy()) == float(opt_a.beta2_power.numpy())
    assert int(opt_b.iterations.numpy()) == int(opt_a.iterations.numpy()) == 3


@pytest.mark.parametrize("algorithm, double", [("q", False), ("psi", False), ("g", False), ("q", True),
                                               ("psi", True), ("g", True)])
def test_fused_k_steps_equal_per_tensor_steps(algorithm, double):
    # Two identical learners: one runs K steps in the compiled fused loop, the other K calls of
    # the per-tensor reference step, on the same minibatches. Huge rewards make every
    # gradient tensor exceed the clip norm, so the per-tensor clip is exercised.
    k = 4
    fused, reference = Setup(algorithm, seed=3, double=double), Setup(algorithm, seed=3, double=double)
    assert fused.learner.layout is not None
    rng = np.random.default_rng(20)
    batches = [make_batch(rng, n=4, reward_scale=1e4) for _ in range(k)]
    stacked = to_tf(tf.nest.map_structure(lambda *xs: np.stack(xs), *batches))
    total_loss, total_y = fused.learner._train_presampled(stacked, tf.constant(k))
    ref_loss = ref_y = 0.0
    for batch in batches:
        loss, _, y = reference.learner._train_step(to_tf(batch))
        ref_loss += float(loss)
        ref_y += float(np.mean(y.numpy()))
    np.testing.assert_allclose(float(total_loss), ref_loss, rtol=1e-5)
    np.testing.assert_allclose(float(total_y), ref_y, rtol=1e-5)
    pairs = [(fused.q_network.variables, reference.q_network.variables),
             (fused.target_network.variables, reference.target_network.variables),
             (fused.learner.optimizer.m, reference.learner.optimizer.m),
             (fused.learner.optimizer.v, reference.learner.optimizer.v)]
    for got_list, want_list in pairs:
        for got, want in zip(snapshot(got_list), snapshot(want_list)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for name in ("beta1_power", "beta2_power", "iterations"):
        assert getattr(fused.learner.optimizer, name).numpy() == getattr(reference.learner.optimizer, name).numpy()
    assert int(fused.learner.train_steps.numpy()) == int(reference.learner.train_steps.numpy()) == k
    # The test can fail: the networks moved, and the moves are larger than the tolerance.
    start = Setup(algorithm, seed=3, double=double)
    moved = [np.max(np.abs(a - b)) for a, b in zip(snapshot(fused.q_network.variables),
                                                      snapshot(start.q_network.variables))]
    assert min(moved) > 1e-4


def test_fused_train_is_the_compiled_uniform_path():
    # learner.train with uniform replay runs the fused step: the flat working copies end up
    # equal to the network variables and Adam slots.
    s = Setup("psi")
    s.replay.add(to_tf(make_batch(np.random.default_rng(21), n=16)))
    s.learner.train(tf.constant(3))
    layout, flat = s.learner.layout, s.learner._flat
    for key, tensors in (("theta", s.q_network.variables), ("target", s.target_network.variables),
                         ("m", s.learner.optimizer.m), ("v", s.learner.optimizer.v)):
        for got, want in zip(layout.split(flat[key]), tensors):
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=key)
    assert float(np.max(np.abs(s.learner.optimizer.m[0].numpy()))) > 0


@pytest.mark.parametrize("layers", [(8,), (8, 6)])
def test_target_values_equal_the_target_network_bit_for_bit(layers):
    # one_hot @ kernel picks the kernel row exactly: the learner's target values are the
    # target network's own outputs, bit for bit, for one and two LSTM layers.
    from rl_tuner.models import sequence_model as model_lib
    from rl_tuner.kl_control import agent, networks, replay, targets
    pretrained = model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=layers), seed=4)
    q_network = networks.q_network_from(pretrained)
    target = agent.build_target_network(q_network)
    learner = agent.KLControlLearner(q_network, target, targets.get_algorithm("q"),
                                     replay.UniformReplay(agent.transition_spec(layers, 38), 8),
                                     agent.LearnerConfig())
    rng = np.random.default_rng(5)
    tokens = tf.constant(rng.integers(0, 38, size=7).astype(np.int32))
    state = tuple((tf.constant(rng.normal(size=(7, n)).astype(np.float32)),
                   tf.constant(rng.normal(size=(7, n)).astype(np.float32))) for n in layers)
    want, _ = target(tokens, network_state=state)
    np.testing.assert_array_equal(learner.target_values(tokens, state).numpy(), want.numpy())


@pytest.mark.parametrize("eta", [0.0, 1.0, 0.25])
def test_fused_soft_update_special_rates(eta):
    # eta 0 leaves the target alone, eta 1 copies the network (tf-agents' special cases),
    # 0.25 mixes; the same as the per-tensor path.
    fused, reference = Setup("psi", seed=6), Setup("psi", seed=6)
    for s in (fused, reference):
        s.learner.config.target_update_rate = eta
    target0 = snapshot(fused.target_network.variables)
    batches = [make_batch(np.random.default_rng(30 + i), n=4) for i in range(2)]
    fused.learner._train_presampled(to_tf(tf.nest.map_structure(lambda *xs: np.stack(xs), *batches)),
                                    tf.constant(2))
    for batch in batches:
        reference.learner._train_step(to_tf(batch))
    got, want = snapshot(fused.target_network.variables), snapshot(reference.target_network.variables)
    for g, w, t0, q in zip(got, want, target0, snapshot(fused.q_network.variables)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
        if eta == 0.0:
            np.testing.assert_array_equal(g, t0)
        if eta == 1.0:
            np.testing.assert_array_equal(g, q)
