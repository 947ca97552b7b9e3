"""SavedModel export of a generation policy, loadable without this package.

The exported module holds plain ``tf.Variable``s (no Keras objects) and one serving
signature::

    generate(num_samples: int32, max_length: int32, temperature: float32, seed: int32)
        -> {"tokens": int32 [num_samples, max_length], "lengths": int32 [num_samples],
            "strings": string [num_samples]   (only for a task with a vocabulary),
            "model_tokens": int32 [num_samples, max_length]   (only when the prior's input
                encoder maps its tokens to the task's: "tokens" are then the task's, as
                rl_tuner.runner.evaluate.sample_policy gives them, e.g. a lookback_rnn's repeat classes
                decoded to melody tokens)}

and the same function as a method, ``generate(...)``, returning the same dict. A task's
never-sampled tokens (a begin token) are never drawn, at any temperature, and ``temperature``
must be in [1e-06, 1000000000] (a value 0, subnormal or infinite in float32, NaN, or outside
that range is refused with the same rule and words as the command line's ``--temperature``,
:data:`rl_tuner.sampling_args.TEMPERATURE`; the call fails with an ``InvalidArgumentError``). A task's end token ends a sequence: ``lengths`` counts it, later positions repeat it, and ``strings`` join
the vocabulary's symbols of the tokens before it (without an end token every length is
``max_length``). Every integer input is int32 (TensorFlow's default integer type: what
``tf.constant(4)`` makes); Python numbers are converted, so plain ``int``/``float`` arguments
work with the method. ``seed`` is any int32 (0 .. 2**31 - 1 in practice). It samples exactly
as ``rl-tuner evaluate`` does (stateless seeds: the same seed gives the same sequences), so
``tf.saved_model.load(dir).generate(...)`` works in any TensorFlow 2 process::

    import tensorflow as tf
    m = tf.saved_model.load("exported")
    out = m.generate(num_samples=4, max_length=32, temperature=1.0, seed=0)   # out["tokens"]: [4, 32] int32
    out = m.signatures["generate"](num_samples=tf.constant(4), max_length=tf.constant(32),
                                   temperature=tf.constant(1.0), seed=tf.constant(0))
"""

from __future__ import annotations

import json
import os

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner.plumbing import atomic, output_dir  # noqa: E402
from rl_tuner.models.cells import ATTENTION_WEIGHTS, attention_cell_step, lstm_cell_step  # noqa: E402
from rl_tuner.runner import evaluate  # noqa: E402
from rl_tuner.runner.policy import MLE, Policy  # noqa: E402
from rl_tuner.sampling_args import TEMPERATURE, TEMPERATURE_MAX, TEMPERATURE_MIN  # noqa: E402


class _RawAttention(tf.Module):
    """Layer 0's attention-wrapped LSTM as plain variables (what ``attention_cell_step`` reads)."""

    def __init__(self, weights: dict, units: int, attention_length: int):
        super().__init__(name="attention")
        self.units, self.attention_length = units, attention_length
        for key in ("kernel", "recurrent_kernel", "bias"):
            setattr(self, key, tf.Variable(weights[f"lstm_0/{key}"], trainable=False))
        for key in ATTENTION_WEIGHTS:
            setattr(self, key, tf.Variable(weights[f"attention/{key}"], trainable=False))


class _RawRNN(tf.Module):
    """A sequence model as plain variables with ``step`` and ``zero_state`` (an attention layer
    and an input encoder's TensorFlow step included: the encoder's ops are traced into the
    SavedModel, so it needs no Python package when loaded)."""

    def __init__(self, rnn, name: str):
        super().__init__(name=name)
        self.config = rnn.config
        self.layer_sizes = list(rnn.config.layer_sizes)
        self._encoder = rnn.input_encoder if rnn.has_encoder_state else None
        self._state_size = rnn.state_size()
        weights = rnn.get_named_weights()
        self.attention = _RawAttention(weights, self.layer_sizes[0], rnn.config.attention_length) \
            if rnn.config.attention_length else None
        self.kernels = [tf.Variable(weights[f"lstm_{i}/kernel"], trainable=False) for i in range(len(self.layer_sizes))]
        self.recurrent = [tf.Variable(weights[f"lstm_{i}/recurrent_kernel"], trainable=False)
                          for i in range(len(self.layer_sizes))]
        self.biases = [tf.Variable(weights[f"lstm_{i}/bias"], trainable=False) for i in range(len(self.layer_sizes))]
        self.dense_kernel = tf.Variable(weights["dense/kernel"], trainable=False)
        self.dense_bias = tf.Variable(weights["dense/bias"], trainable=False)

    def zero_state(self, batch_size):
        layers = tuple(tuple(tf.zeros([batch_size, n]) for n in sizes) for sizes in self._state_size)
        return layers + ((self._encoder.zero_state(batch_size),) if self._encoder is not None else ())

    def step(self, tokens, state):
        new_state, x = [], None
        if self._encoder is not None:
            x, encoder_state = self._encoder.step(tokens, state[-1])
        elif self.attention is not None:
            x = tf.one_hot(tokens, self.config.num_classes)
        for i in range(len(self.layer_sizes)):
            if i == 0 and self.attention is not None:
                x, layer_state = attention_cell_step(x, tuple(state[0]), self.attention)
                new_state.append(layer_state)
                continue
            if i == 0 and self._encoder is None:
                x_proj = tf.gather(self.kernels[i], tokens)
            else:
                x_proj = tf.matmul(x, self.kernels[i])
            h, c = lstm_cell_step(x_proj, state[i][0], state[i][1], self.recurrent[i], self.biases[i])
            new_state.append((h, c))
            x = h
        if self._encoder is not None:
            new_state.append(encoder_state)
        return tf.matmul(x, self.dense_kernel) + self.dense_bias, tuple(new_state)


# Arguments of the exported generate(): every integer is int32 (TensorFlow's default integer
# type, what tf.constant(4) makes; Python numbers are converted).
SIGNATURE = [tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([], tf.int32, name="max_length"),
             tf.TensorSpec([], tf.float32, name="temperature"), tf.TensorSpec([], tf.int32, name="seed")]


def end_at_token(tokens, end_token: int | None):
    """In-graph :func:`rl_tuner.runner.evaluate.end_at_token`: (tokens cut at the first end token,
    int32 [N] lengths counting it)."""
    length = tf.shape(tokens)[1]
    if end_token is None:
        return tokens, tf.fill([tf.shape(tokens)[0]], length)
    is_end = tf.equal(tokens, end_token)
    first = tf.argmax(tf.cast(is_end, tf.int32), axis=1, output_type=tf.int32)
    lengths = tf.where(tf.reduce_any(is_end, axis=1), first + 1, length)
    valid = tf.range(length)[None, :] < lengths[:, None]
    return tf.where(valid, tokens, tf.fill(tf.shape(tokens), tf.constant(end_token, tf.int32))), lengths


class _ExportedPolicy(Policy):
    """The policy with plain-variable networks and the serving functions."""

    def __init__(self, policy: Policy, end_token: int | None = None, vocabulary=None, first_tokens=None,
                 never_sampled=None):
        q = None if policy.q_rnn is None else _RawRNN(policy.q_rnn, "q_network")
        super().__init__(_RawRNN(policy.prior_rnn, "prior"), q, policy.algorithm)
        self.never_sampled = never_sampled
        self.end_token = end_token
        encoder = getattr(policy.prior_rnn, "input_encoder", None)
        self._task_tokens = getattr(encoder, "tf_task_tokens", None)
        self.first_tokens = None if first_tokens is None else tuple(int(t) for t in first_tokens)
        self.vocabulary = None if vocabulary is None else tf.constant(list(vocabulary), tf.string)

    @tf.function(input_signature=SIGNATURE)
    def generate(self, num_samples, max_length, temperature, seed):
        tf.debugging.assert_positive(num_samples, message="num_samples must be > 0")
        tf.debugging.assert_positive(max_length, message="max_length must be > 0")
        check = tf.debugging.Assert(tf.logical_and(temperature >= TEMPERATURE_MIN, temperature <= TEMPERATURE_MAX),
                                    [f"temperature must be {TEMPERATURE.describe()}, got", temperature])
        with tf.control_dependencies([check]):  # before any sampling op can fail on NaN logits
            temperature = tf.identity(temperature)
        samples = evaluate.policy_sample_loop(self, num_samples, max_length, temperature, seed,
                                       first_tokens=self.first_tokens, never_sampled=self.never_sampled)
        tokens, lengths = end_at_token(samples["tokens"], self.end_token)
        out = {"tokens": tokens, "lengths": lengths}
        if self._task_tokens is not None:
            out.update(model_tokens=tokens, tokens=self._task_tokens(samples["first_tokens"], tokens))
        if self.vocabulary is not None:
            keep = tf.range(max_length)[None, :] < lengths[:, None]
            if self.end_token is not None:
                keep &= tf.not_equal(tokens, self.end_token)
            symbols = tf.where(keep, tf.gather(self.vocabulary, tokens), "")
            out["strings"] = tf.strings.reduce_join(symbols, axis=1)
        return out


COMMAND = "rl-tuner export"


def export(policy, out_dir: str, overwrite: bool = False, end_token: int | None = None, vocabulary=None,
           task: str | None = None, first_tokens=None, never_sampled=None) -> str:
    """Writes ``policy`` as a SavedModel directory (atomically) and returns ``out_dir``.

    Args:
      policy: the :class:`rl_tuner.runner.policy.Policy` to export.
      out_dir: the SavedModel directory.
      overwrite: replace a directory that is not an earlier export.
      end_token: the task's end token (sequences stop at it), or None.
      vocabulary: the symbol of each token (adds ``strings`` to the outputs), or None.
      task: the task's name, recorded in ``policy.json``.
      first_tokens: the tokens the (unreturned) priming token is drawn from (the task's
        :meth:`rl_tuner.tasks.Task.first_tokens`); None: all tokens.
      never_sampled: tokens ``generate`` never draws (default: those the policy was loaded
        with, :func:`rl_tuner.runner.evaluate.never_sampled_of`).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: if ``out_dir`` is not empty and not an earlier export
        (without ``overwrite``), or is a training run directory.
    """
    never_sampled = evaluate.never_sampled_of(policy, None, never_sampled)
    module = _ExportedPolicy(policy, end_token, vocabulary, first_tokens, never_sampled)
    outputs = "{'tokens': int32 [num_samples, max_length], 'lengths': int32 [num_samples]" + (
        ", 'strings': string [num_samples]" if vocabulary is not None else "") + (
        ", 'model_tokens': int32 [num_samples, max_length]" if module._task_tokens is not None else "") + "}"
    with output_dir.directory(out_dir, COMMAND, overwrite) as tmp:
        signature = module.generate.get_concrete_function()
        tf.saved_model.save(module, tmp, signatures={"serving_default": signature, "generate": signature})
        atomic.write_json(os.path.join(tmp, "policy.json"), {
            "algorithm": policy.algorithm if policy.algorithm else MLE, "num_classes": policy.num_classes,
            "task": task, "end_token": end_token,
            "encoder": _encoder_spec(policy.prior_rnn),
            "first_tokens": None if first_tokens is None else [int(t) for t in first_tokens],
            "never_sampled": None if never_sampled is None else list(never_sampled),
            "signature": f"generate(num_samples: int32, max_length: int32, temperature: float32, seed: int32) "
                         f"-> {outputs}"})
    return out_dir


def _encoder_spec(rnn):
    """The prior's input encoder settings (how its tokens read), or None."""
    encoder = getattr(rnn, "input_encoder", None)
    return encoder.spec() if encoder is not None and hasattr(encoder, "spec") else None


def load_info(out_dir: str) -> dict:
    with open(os.path.join(out_dir, "policy.json")) as f:
        return json.load(f)
