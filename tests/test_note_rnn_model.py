"""Behaviour tests of rl_tuner.models.sequence_model: the Note-RNN's sequence and step interfaces.

The sequence call (Keras LSTM layers) and the step interface (hand-written LSTM cell) must
compute the same function, and both must equal a NumPy LSTM written here from the named
weights (z = x_onehot @ K + h @ R + b, gate order i, f, c, o; sigmoid gates, tanh).
"""

import math

import numpy as np
import pytest

import note_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from rl_tuner.models import sequence_model as model_lib
from rl_tuner.models.sequence_model import SequenceRNN, SequenceRNNConfig, check_tokens

import tensorflow as tf  # noqa: E402  (after note_rnn)

C = 38
TOL = 1e-5


# --- NumPy reference ------------------------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_logits(weights, layer_sizes, tokens):
    """Logits [B, T, 38] of a stacked Keras-order LSTM + dense layer, from the zero state."""
    tokens = np.asarray(tokens)
    batch, steps = tokens.shape
    w = {k: np.asarray(v, np.float64) for k, v in weights.items()}
    state = [(np.zeros((batch, n)), np.zeros((batch, n))) for n in layer_sizes]
    out = np.zeros((batch, steps, C))
    for t in range(steps):
        x = np.eye(C)[tokens[:, t]]
        for k in range(len(layer_sizes)):
            h, c = state[k]
            z = x @ w[f"lstm_{k}/kernel"] + h @ w[f"lstm_{k}/recurrent_kernel"] + w[f"lstm_{k}/bias"]
            i, f, g, o = np.split(z, 4, axis=-1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            state[k] = (h, c)
            x = h
        out[:, t] = x @ w["dense/kernel"] + w["dense/bias"]
    return out


def _random_weights(config, seed):
    """Random weights of every named shape (scale 0.5, so no gate is trivially saturated/zero)."""
    rng = np.random.default_rng(seed)
    return {k: (0.5 * rng.standard_normal(s)).astype(np.float32) for k, s in config.weight_shapes().items()}


def _model(layer_sizes, seed=0):
    config = SequenceRNNConfig(num_classes=38, layer_sizes=layer_sizes)
    net = SequenceRNN(config)
    net.set_named_weights(_random_weights(config, seed))
    return net


@pytest.fixture(scope="module", params=[(8,), (8, 6)], ids=["1layer", "2layers"])
def net(request):
    return _model(request.param, seed=len(request.param))


@pytest.fixture(scope="module")
def tokens():
    return np.random.default_rng(7).integers(0, C, size=(3, 9)).astype(np.int32)


# --- sequence call vs step vs NumPy -----------------------------------------------------------
def test_step_by_step_logits_equal_sequence_call(net, tokens):
    seq_logits = net(tf.constant(tokens)).numpy()
    state = net.zero_state(tokens.shape[0])
    step_logits = []
    for t in range(tokens.shape[1]):
        logits, state = net.step(tokens[:, t], state)
        step_logits.append(logits.numpy())
    step_logits = np.stack(step_logits, axis=1)
    assert seq_logits.shape == (3, 9, C)
    np.testing.assert_allclose(step_logits, seq_logits, atol=TOL, rtol=0)


def test_final_state_of_call_equals_state_after_steps(net, tokens):
    _, final = net(tf.constant(tokens), return_state=True)
    state = net.zero_state(tokens.shape[0])
    for t in range(tokens.shape[1]):
        _, state = net.step(tokens[:, t], state)
    assert len(final) == len(net.config.layer_sizes) == len(state)
    for (h1, c1), (h2, c2) in zip(final, state):
        np.testing.assert_allclose(h1.numpy(), h2.numpy(), atol=TOL, rtol=0)
        np.testing.assert_allclose(c1.numpy(), c2.numpy(), atol=TOL, rtol=0)


def test_call_continues_from_a_given_state(net, tokens):
    """Running the first 4 tokens, then the rest from the returned state == one full call."""
    full = net(tf.constant(tokens)).numpy()
    first, state = net(tf.constant(tokens[:, :4]), return_state=True)
    rest = net(tf.constant(tokens[:, 4:]), initial_state=state)
    np.testing.assert_allclose(np.concatenate([first.numpy(), rest.numpy()], axis=1), full, atol=TOL, rtol=0)


def test_sequence_logits_match_numpy_lstm_from_named_weights(net, tokens):
    got = net.sequence_logits(tokens)
    assert isinstance(got, np.ndarray)
    assert got.shape == (3, 9, C)
    assert got.dtype == np.float32
    expected = numpy_logits(net.get_named_weights(), net.config.layer_sizes, tokens)
    np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)


def test_sequence_logits_position_t_depends_only_on_prefix(net, tokens):
    """Position t is the distribution of token t + 1 given tokens 0..t, from the zero state."""
    got = net.sequence_logits(tokens)
    for t in (0, 4, 8):
        prefix = net.sequence_logits(tokens[:, :t + 1])
        np.testing.assert_allclose(got[:, t], prefix[:, -1], atol=TOL, rtol=0)
    # Changing the last token changes no earlier position, but does change the last one.
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % C
    other = net.sequence_logits(changed)
    np.testing.assert_allclose(other[:, :-1], got[:, :-1], atol=TOL, rtol=0)
    assert np.abs(other[:, -1] - got[:, -1]).max() > 1e-3


def test_sequence_logits_chunks_give_the_same_result(net, tokens):
    np.testing.assert_allclose(net.sequence_logits(tokens, batch_size=2), net.sequence_logits(tokens),
                               atol=TOL, rtol=0)


def test_sequence_logits_of_an_empty_batch_is_empty():
    net = _model((8,))
    out = net.sequence_logits(np.zeros((0, 5), np.int32))
    assert isinstance(out, np.ndarray) and out.shape == (0, 5, C)


def test_sequence_logits_of_zero_length_sequences_is_empty():
    """[B, 0] tokens -> [B, 0, 38] logits (as for B = 0), not a TensorFlow error."""
    net = _model((8,))
    out = net.sequence_logits(np.zeros((2, 0), np.int32))
    assert isinstance(out, np.ndarray) and out.shape == (2, 0, C)


def test_hand_computed_one_unit_lstm():
    """One LSTM unit, all pre-activations 0 except the candidate bias g = atanh(0.5).

    Gates: i = f = o = sigmoid(0) = 0.5, candidate tanh(g) = 0.5.
      t=0: c1 = 0.5 * 0 + 0.5 * 0.5 = 0.25,    h1 = 0.5 * tanh(0.25)  = 0.5 * 0.2449187 = 0.1224593
      t=1: c2 = 0.5 * 0.25 + 0.25 = 0.375,     h2 = 0.5 * tanh(0.375) = 0.5 * 0.3583574 = 0.1791787
    Token 3 has kernel row [ln 3, 0, 0, 0], so its input gate is sigmoid(ln 3) = 3 / 4:
      t=0 with token 3: c1 = 0.75 * 0.5 = 0.375, h1 = 0.1791787.
    Dense kernel: ones, bias: arange(38) / 100, so logit j = h + j / 100.
    """
    config = SequenceRNNConfig(num_classes=38, layer_sizes=(1,))
    kernel = np.zeros((C, 4), np.float32)
    kernel[3, 0] = math.log(3.0)
    weights = {"lstm_0/kernel": kernel,
               "lstm_0/recurrent_kernel": np.zeros((1, 4), np.float32),
               "lstm_0/bias": np.array([0, 0, math.atanh(0.5), 0], np.float32),
               "dense/kernel": np.ones((1, C), np.float32),
               "dense/bias": (np.arange(C) / 100).astype(np.float32)}
    net = model_lib.build(config, weights)
    logits = net.sequence_logits([[5, 7], [3, 5]])
    bias = np.arange(C) / 100
    np.testing.assert_allclose(logits[0, 0], 0.1224593 + bias, atol=1e-6)
    np.testing.assert_allclose(logits[0, 1], 0.1791787 + bias, atol=1e-6)
    np.testing.assert_allclose(logits[1, 0], 0.1791787 + bias, atol=1e-6)
    # t=1 after token 3: c2 = 0.5 * 0.375 + 0.5 * 0.5 = 0.4375,
    #                    h2 = 0.5 * tanh(0.4375) = 0.5 * 0.4115701 = 0.2057850
    np.testing.assert_allclose(logits[1, 1], 0.2057850 + bias, atol=1e-6)
    # step() computes the same numbers.
    step_logits, _ = net.step(np.array([5, 3]), net.zero_state(2))
    np.testing.assert_allclose(step_logits.numpy(), logits[:, 0], atol=1e-6)


def test_zero_state_shapes():
    net = _model((8, 6))
    state = net.zero_state(5)
    assert [(tuple(h.shape), tuple(c.shape)) for h, c in state] == [((5, 8), (5, 8)), ((5, 6), (5, 6))]
    assert all(np.all(h.numpy() == 0) and np.all(c.numpy() == 0) for h, c in state)
    assert net.state_size() == ((8, 8), (6, 6))


# --- token validation -----------------------------------------------------------------------
@pytest.mark.parametrize("bad, shown", [(38, "38"), (-1, "-1"), (100, "100")])
def test_check_tokens_rejects_out_of_range_values_naming_them(bad, shown):
    tokens = np.array([[0, 5, bad, 2]])
    with pytest.raises(ValueError, match=r"token " + shown + r" at position \(0, 2\) is outside 0\.\.37"):
        check_tokens(tokens, 38)


def test_check_tokens_rejects_non_integer_float_naming_the_value():
    with pytest.raises(ValueError, match=r"1\.5"):
        check_tokens(np.array([[2.0, 1.5, 3.0]]), 38)


def test_check_tokens_rejects_nan_and_strings():
    with pytest.raises(ValueError, match="integers"):
        check_tokens(np.array([[2.0, np.nan]]), 38)
    with pytest.raises(ValueError, match="integers"):
        check_tokens([["a", "b"]], 38)


def test_check_tokens_accepts_integer_valued_floats_and_returns_int32():
    out = check_tokens(np.array([[2.0, 0.0, 37.0]]), 38, ndim=2)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[2, 0, 37]])


def test_check_tokens_rejects_wrong_rank_naming_the_shape():
    with pytest.raises(ValueError, match=r"rank 2, got shape \(3,\)"):
        check_tokens([1, 2, 3], 38, ndim=2)
    with pytest.raises(ValueError, match=r"rank 2, got shape \(1, 2, 3\)"):
        check_tokens(np.zeros((1, 2, 3), np.int32), 38, ndim=2)


def test_sequence_logits_validates_tokens():
    net = _model((8,))
    with pytest.raises(ValueError, match="38"):
        net.sequence_logits([[1, 38]])
    with pytest.raises(ValueError, match="rank 2"):
        net.sequence_logits([1, 2, 3])


# --- named weights ---------------------------------------------------------------------------
def test_weight_shapes_of_the_paper_model():
    shapes = SequenceRNNConfig(num_classes=38, layer_sizes=(100,)).weight_shapes()
    # 4 gates x 100 units = 400 columns.
    assert shapes == {"lstm_0/kernel": (38, 400), "lstm_0/recurrent_kernel": (100, 400),
                      "lstm_0/bias": (400,), "dense/kernel": (100, 38), "dense/bias": (38,)}


def test_weight_shapes_of_two_layers():
    shapes = SequenceRNNConfig(num_classes=38, layer_sizes=(16, 8)).weight_shapes()
    assert shapes["lstm_1/kernel"] == (16, 32)
    assert shapes["lstm_1/recurrent_kernel"] == (8, 32)
    assert shapes["dense/kernel"] == (8, 38)


def test_named_weights_have_the_configured_shapes():
    net = _model((8, 6))
    got = {k: tuple(v.shape) for k, v in net.get_named_weights().items()}
    assert got == net.config.weight_shapes()


def test_set_named_weights_round_trip():
    net = _model((8,), seed=1)
    weights = _random_weights(net.config, seed=99)
    net.set_named_weights(weights)
    for key, value in net.get_named_weights().items():
        np.testing.assert_array_equal(value, weights[key])


def test_set_named_weights_wrong_shape_names_weight_and_both_shapes():
    net = _model((8,), seed=1)
    before = net.get_named_weights()
    weights = dict(before)
    weights["lstm_0/recurrent_kernel"] = np.zeros((8, 31), np.float32)
    with pytest.raises(ValueError) as info:
        net.set_named_weights(weights)
    message = str(info.value)
    assert "lstm_0/recurrent_kernel" in message
    assert "[8, 31]" in message and "[8, 32]" in message
    # Nothing was assigned.
    for key, value in net.get_named_weights().items():
        np.testing.assert_array_equal(value, before[key])


def test_set_named_weights_missing_and_unexpected_names():
    net = _model((8,), seed=1)
    weights = net.get_named_weights()
    del weights["dense/bias"]
    with pytest.raises(ValueError, match=r"missing dense/bias \(expected shape \[38\]\)"):
        net.set_named_weights(weights)
    weights = net.get_named_weights()
    weights["lstm_1/kernel"] = np.zeros((8, 32), np.float32)
    with pytest.raises(ValueError, match="unexpected weight lstm_1/kernel"):
        net.set_named_weights(weights)


def test_copy_weights_from_gives_identical_logits(tokens):
    a, b = _model((8,), seed=1), _model((8,), seed=2)
    assert not np.allclose(a.sequence_logits(tokens), b.sequence_logits(tokens))
    b.copy_weights_from(a)
    np.testing.assert_array_equal(a.sequence_logits(tokens), b.sequence_logits(tokens))


# --- config validation -------------------------------------------------------------------------
def test_config_defaults_and_normalisation():
    assert SequenceRNNConfig(num_classes=38) == SequenceRNNConfig(num_classes=38, layer_sizes=(100,))
    assert SequenceRNNConfig(num_classes=6, vocabulary="abcdef").vocabulary == ("a", "b", "c", "d", "e", "f")
    assert SequenceRNNConfig(num_classes=38, layer_sizes=[16, 8]).layer_sizes == (16, 8)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(num_classes=1), r"num_classes must be >= 2, got 1"),
    (dict(num_classes=38, layer_sizes=()), r"layer_sizes .*got \(\)"),
    (dict(num_classes=38, layer_sizes=(16, 0)), r"layer_sizes .*got \(16, 0\)"),
    (dict(num_classes=38, layer_sizes=(-4,)), r"layer_sizes .*got \(-4,\)"),
    (dict(num_classes=3, vocabulary=("a", "b")), r"vocabulary has 2 symbols but num_classes is 3"),
    (dict(num_classes=2, vocabulary=("a", "a")), r"vocabulary has repeated symbols: 'a'"),
])
def test_config_validation_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        SequenceRNNConfig(**kwargs)
