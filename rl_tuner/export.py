"""SavedModel export of a generation policy, loadable without this package.

The exported module holds plain ``tf.Variable``s (no Keras objects) and one serving
signature::

    generate(num_melodies: int32, length: int32, temperature: float32, seed: int32)
        -> {"tokens": int32 [num_melodies, length]}

and the same function as a method, ``generate(...)``, returning the tokens tensor itself.
Every integer input is int32 (TensorFlow's default integer type: what ``tf.constant(4)``
makes); Python numbers are converted, so plain ``int``/``float`` arguments work with the
method. ``seed`` is any int32 (0 .. 2**31 - 1 in practice). It samples exactly as
``rl-tuner generate`` does (stateless seeds: the same seed gives the same melodies), so
``tf.saved_model.load(dir).generate(...)`` works in any TensorFlow 2 process::

    import tensorflow as tf
    m = tf.saved_model.load("exported")
    tokens = m.generate(num_melodies=4, length=32, temperature=1.0, seed=0)      # [4, 32] int32
    tokens = m.signatures["generate"](num_melodies=tf.constant(4), length=tf.constant(32),
                                      temperature=tf.constant(1.0), seed=tf.constant(0))["tokens"]
"""

from __future__ import annotations

import json
import os

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402

from rl_tuner import atomic  # noqa: E402
from note_rnn.generate import SAMPLER_SIGNATURE  # noqa: E402
from note_rnn.model import lstm_cell_step  # noqa: E402
from rl_tuner import evaluate  # noqa: E402
from rl_tuner.policy import MLE, Policy  # noqa: E402


class _RawRNN(tf.Module):
    """A Note-RNN as plain variables with ``step`` and ``zero_state``."""

    def __init__(self, rnn, name: str):
        super().__init__(name=name)
        self.config = rnn.config
        self.layer_sizes = list(rnn.config.layer_sizes)
        weights = rnn.get_named_weights()
        self.kernels = [tf.Variable(weights[f"lstm_{i}/kernel"], trainable=False) for i in range(len(self.layer_sizes))]
        self.recurrent = [tf.Variable(weights[f"lstm_{i}/recurrent_kernel"], trainable=False)
                          for i in range(len(self.layer_sizes))]
        self.biases = [tf.Variable(weights[f"lstm_{i}/bias"], trainable=False) for i in range(len(self.layer_sizes))]
        self.dense_kernel = tf.Variable(weights["dense/kernel"], trainable=False)
        self.dense_bias = tf.Variable(weights["dense/bias"], trainable=False)

    def zero_state(self, batch_size):
        return tuple((tf.zeros([batch_size, n]), tf.zeros([batch_size, n])) for n in self.layer_sizes)

    def step(self, tokens, state):
        new_state, x = [], None
        for i in range(len(self.layer_sizes)):
            x_proj = tf.gather(self.kernels[i], tokens) if i == 0 else tf.matmul(x, self.kernels[i])
            h, c = lstm_cell_step(x_proj, state[i][0], state[i][1], self.recurrent[i], self.biases[i])
            new_state.append((h, c))
            x = h
        return tf.matmul(x, self.dense_kernel) + self.dense_bias, tuple(new_state)


class _ExportedPolicy(Policy):
    """The policy with plain-variable networks and the serving functions."""

    def __init__(self, policy: Policy):
        q = None if policy.q_rnn is None else _RawRNN(policy.q_rnn, "q_network")
        super().__init__(_RawRNN(policy.prior_rnn, "prior"), q, policy.algorithm)

    @tf.function(input_signature=SAMPLER_SIGNATURE)
    def generate(self, num_melodies, length, temperature, seed):
        tf.debugging.assert_positive(num_melodies, message="num_melodies must be > 0")
        tf.debugging.assert_positive(length, message="length must be > 0")
        tf.debugging.assert_positive(temperature, message="temperature must be > 0")
        return evaluate.sample_loop(self, num_melodies, length, temperature, seed)["tokens"]

    @tf.function(input_signature=SAMPLER_SIGNATURE)
    def generate_signature(self, num_melodies, length, temperature, seed):
        return {"tokens": self.generate(num_melodies, length, temperature, seed)}


COMMAND = "rl-tuner export"


def export(policy, out_dir: str, overwrite: bool = False) -> str:
    """Writes ``policy`` as a SavedModel directory (atomically) and returns ``out_dir``.

    Raises:
      rl_tuner.outputs.OutputError: if ``out_dir`` is not empty and not an earlier export
        (without ``overwrite``), or is a training run directory.
    """
    module = _ExportedPolicy(policy)
    with atomic.directory(out_dir, COMMAND, overwrite) as tmp:
        signature = module.generate_signature.get_concrete_function()
        tf.saved_model.save(module, tmp, signatures={"serving_default": signature, "generate": signature})
        atomic.write_json(os.path.join(tmp, "policy.json"), {
            "algorithm": policy.algorithm if policy.algorithm else MLE, "num_classes": policy.num_classes,
            "signature": "generate(num_melodies: int32, length: int32, temperature: float32, seed: int32) "
                         "-> {'tokens': int32 [num_melodies, length]}"})
    return out_dir


def load_info(out_dir: str) -> dict:
    with open(os.path.join(out_dir, "policy.json")) as f:
        return json.load(f)
