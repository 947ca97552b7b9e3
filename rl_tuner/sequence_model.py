"""The generic sequence model: a Keras LSTM language model over tokens with a step interface.

Every task's prior is one of these (the Note-RNN of melodies, the SMILES-RNN of molecules);
only the vocabulary size and, optionally, the stored vocabulary (one string per token) differ.

The same weights serve two uses:

* ``model(tokens)`` runs whole sequences through Keras ``LSTM`` layers (training, scoring);
* ``model.step(tokens, state)`` advances B sequences by one token (RL acting, sampling).

Both start from the zero state and compute exactly the same function. The first layer's
input is a one-hot token, so its input projection is a row lookup of the kernel in ``step``.
The LSTM uses Keras gate order (i, f, c, o), sigmoid gates and tanh activations, which is
what Magenta's TF1 ``LSTMCell`` computes once its forget bias of 1.0 is folded into the bias.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402  (must follow use_legacy_keras)

# A recurrent state: one (h, c) pair of [B, units] tensors per LSTM layer.
State = tuple


@dataclasses.dataclass(frozen=True)
class SequenceRNNConfig:
    """Architecture of a sequence model.

    Attributes:
      num_classes: vocabulary size (input one-hot length and number of logits); 38 for
        the melody encoding.
      layer_sizes: units of each stacked LSTM layer; the paper's model is ``(100,)``,
        Magenta's basic_rnn bundle ``(512, 512)``.
      vocabulary: optional symbol of each token (``num_classes`` distinct strings), stored
        in the checkpoint so a model carries its own vocabulary (e.g. SMILES tokens); None
        for a task whose tokens need no table (melodies).
    """

    num_classes: int
    layer_sizes: tuple[int, ...] = (100,)
    vocabulary: tuple[str, ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "layer_sizes", positive_ints(self.layer_sizes, "layer_sizes"))
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.vocabulary is not None:
            vocabulary = tuple(str(v) for v in self.vocabulary)
            if len(vocabulary) != self.num_classes:
                raise ValueError(f"vocabulary has {len(vocabulary)} symbols but num_classes is {self.num_classes}")
            repeated = sorted({v for v in vocabulary if vocabulary.count(v) > 1})
            if repeated:
                raise ValueError(f"vocabulary has repeated symbols: {', '.join(map(repr, repeated))}")
            object.__setattr__(self, "vocabulary", vocabulary)
        if not self.layer_sizes or any(n < 1 for n in self.layer_sizes):
            raise ValueError(f"layer_sizes must be a non-empty list of positive ints, got {self.layer_sizes}")

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Returns the expected shape of every weight, keyed by checkpoint name."""
        shapes = {}
        inputs = self.num_classes
        for i, units in enumerate(self.layer_sizes):
            shapes[f"lstm_{i}/kernel"] = (inputs, 4 * units)
            shapes[f"lstm_{i}/recurrent_kernel"] = (units, 4 * units)
            shapes[f"lstm_{i}/bias"] = (4 * units,)
            inputs = units
        shapes["dense/kernel"] = (inputs, self.num_classes)
        shapes["dense/bias"] = (self.num_classes,)
        return shapes


def lstm_cell_step(x_proj, h, c, recurrent_kernel, bias):
    """One LSTM step given the input projection ``x @ kernel`` (Keras gate order i, f, c, o).

    Args:
      x_proj: [B, 4H] input projection.
      h: [B, H] previous output.
      c: [B, H] previous cell state.
      recurrent_kernel: [H, 4H].
      bias: [4H] (forget bias included).

    Returns:
      The new ``(h, c)``.
    """
    z = x_proj + tf.matmul(h, recurrent_kernel) + bias
    i, f, g, o = tf.split(z, 4, axis=-1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    h = tf.sigmoid(o) * tf.tanh(c)
    return h, c


class SequenceRNN(tf.keras.Model):
    """Stacked LSTM language model over one-hot tokens.

    Call it on int tokens [B, T] to get logits [B, T, num_classes]; position t holds the
    distribution of token t + 1 given tokens 0..t, starting from the zero state.
    """

    def __init__(self, config: SequenceRNNConfig, name: str = "note_rnn", **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = config
        self.lstm_layers = [
            tf.keras.layers.LSTM(
                units, return_sequences=True, return_state=True, activation="tanh",
                recurrent_activation="sigmoid", unit_forget_bias=True, name=f"lstm_{i}")
            for i, units in enumerate(self.config.layer_sizes)
        ]
        self.dense = tf.keras.layers.Dense(self.config.num_classes, name="dense")
        self.build_weights()

    def build_weights(self) -> None:
        """Creates all variables (a one-token call)."""
        self(tf.zeros([1, 1], tf.int32))

    def call(self, tokens, initial_state: State | None = None, return_state: bool = False, training=None):
        """Runs whole sequences.

        Args:
          tokens: int [B, T].
          initial_state: optional state from :meth:`zero_state` or :meth:`step`.
          return_state: also return the final state.

        Returns:
          logits [B, T, num_classes], and the final state if ``return_state``.
        """
        x = tf.one_hot(tf.cast(tokens, tf.int32), self.config.num_classes)
        final = []
        for i, layer in enumerate(self.lstm_layers):
            init = None
            if initial_state is not None:
                h0, c0 = initial_state[i]
                init = [h0, c0]
            x, h, c = layer(x, initial_state=init, training=training)
            final.append((h, c))
        logits = self.dense(x)
        return (logits, tuple(final)) if return_state else logits

    def zero_state(self, batch_size) -> State:
        """Returns the all-zero initial state for ``batch_size`` sequences."""
        return tuple((tf.zeros([batch_size, n]), tf.zeros([batch_size, n])) for n in self.config.layer_sizes)

    def state_size(self) -> tuple[tuple[int, int], ...]:
        """Returns the (h, c) sizes of each layer."""
        return tuple((n, n) for n in self.config.layer_sizes)

    def step(self, tokens, state: State):
        """Advances B sequences by one token.

        Args:
          tokens: int [B], the current input tokens.
          state: the state before ``tokens`` (e.g. :meth:`zero_state`).

        Returns:
          (logits [B, num_classes] of the next token, new state).
        """
        tokens = tf.cast(tokens, tf.int32)
        new_state = []
        x = None
        for i, layer in enumerate(self.lstm_layers):
            cell = layer.cell
            x_proj = tf.gather(cell.kernel, tokens) if i == 0 else tf.matmul(x, cell.kernel)
            h, c = lstm_cell_step(x_proj, state[i][0], state[i][1], cell.recurrent_kernel, cell.bias)
            new_state.append((h, c))
            x = h
        return self.dense(x), tuple(new_state)

    def sequence_logits(self, tokens, batch_size: int = 4096) -> np.ndarray:
        """Returns the logits after each prefix as NumPy, from the zero state.

        Args:
          tokens: int array-like [B, T] with values in 0..num_classes-1.
          batch_size: sequences per forward pass.

        Returns:
          float32 [B, T, num_classes]; position t is the distribution of token t + 1.

        Raises:
          ValueError: for a wrong rank or out-of-range tokens.
        """
        tokens = check_tokens(tokens, self.config.num_classes, ndim=2)
        if tokens.shape[1] == 0:
            return np.zeros(tokens.shape + (self.config.num_classes,), np.float32)
        chunks = [self._logits_fn(tf.constant(tokens[i:i + batch_size])).numpy()
                  for i in range(0, len(tokens), batch_size)]
        if not chunks:
            return np.zeros(tokens.shape + (self.config.num_classes,), np.float32)
        return np.concatenate(chunks, axis=0)

    @tf.function(reduce_retracing=True)
    def _logits_fn(self, tokens):
        return self(tokens)

    # --- weights in checkpoint naming ---------------------------------------------------
    def named_weights(self) -> dict[str, tf.Variable]:
        """Returns the variables keyed by checkpoint name (see SequenceRNNConfig.weight_shapes)."""
        named = {}
        for i, layer in enumerate(self.lstm_layers):
            cell = layer.cell
            named[f"lstm_{i}/kernel"] = cell.kernel
            named[f"lstm_{i}/recurrent_kernel"] = cell.recurrent_kernel
            named[f"lstm_{i}/bias"] = cell.bias
        named["dense/kernel"] = self.dense.kernel
        named["dense/bias"] = self.dense.bias
        return named

    def get_named_weights(self) -> dict[str, np.ndarray]:
        """Returns a NumPy copy of all weights keyed by checkpoint name."""
        return {k: v.numpy() for k, v in self.named_weights().items()}

    def set_named_weights(self, weights: dict[str, np.ndarray], source: str = "weights") -> None:
        """Assigns weights keyed by checkpoint name, checking names and shapes first.

        Raises:
          ValueError: naming every missing, unexpected or wrongly shaped weight.
        """
        check_weight_shapes(self.config, weights, source)
        for key, var in self.named_weights().items():
            var.assign(np.asarray(weights[key], np.float32))

    def copy_weights_from(self, other: "SequenceRNN") -> None:
        """Copies all weights from a model of the same configuration."""
        self.set_named_weights(other.get_named_weights(), source=other.name)


def positive_ints(values, name: str) -> tuple[int, ...]:
    """Returns ``values`` as a tuple of ints, or raises ValueError for non-integers or values < 1."""
    values = tuple(values)
    if not values or any(isinstance(v, bool) or not float(v).is_integer() or v < 1 for v in values):
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {values}")
    return tuple(int(v) for v in values)


MAX_PROBLEMS_SHOWN = 4  # a config of 46 layers for 1 stored layer would list 135 missing weights


def check_weight_shapes(config: SequenceRNNConfig, weights: dict, source: str = "weights") -> None:
    """Raises ValueError unless ``weights`` has exactly the names and shapes of ``config``."""
    expected = config.weight_shapes()
    problems = []
    for key, shape in expected.items():
        if key not in weights:
            problems.append(f"missing {key} (expected shape {list(shape)})")
        elif tuple(np.shape(weights[key])) != shape:
            problems.append(f"{key} has shape {list(np.shape(weights[key]))}, expected {list(shape)}")
    problems += [f"unexpected weight {key}" for key in weights if key not in expected]
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN] + ([f"and {len(problems) - MAX_PROBLEMS_SHOWN} more"]
                                                 if len(problems) > MAX_PROBLEMS_SHOWN else [])
        raise ValueError(
            f"{source} does not fit a sequence model with {config.num_classes} classes and layer sizes "
            f"{list(config.layer_sizes)}: " + "; ".join(shown))


def check_tokens(tokens, num_classes: int, ndim: int | None = None) -> np.ndarray:
    """Validates token indices and returns them as an int32 array.

    Raises:
      ValueError: for non-integer values, values outside 0..num_classes-1 or a wrong rank.
    """
    arr = np.asarray(tokens)
    if arr.dtype.kind == "f":
        bad = np.argwhere(~np.isfinite(arr) | (arr != np.round(arr)))
        if len(bad):
            pos = tuple(int(i) for i in bad[0])
            raise ValueError(f"tokens must be integers, got {arr[pos]} at position {pos}")
    elif arr.dtype.kind not in "iu" and arr.size:
        raise ValueError(f"tokens must be integers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"expected tokens of rank {ndim}, got shape {arr.shape}")
    arr = arr.astype(np.int64)
    bad = np.argwhere((arr < 0) | (arr >= num_classes))
    if len(bad):
        pos = tuple(int(i) for i in bad[0])
        raise ValueError(f"token {arr[pos]} at position {pos} is outside 0..{num_classes - 1}")
    return arr.astype(np.int32)


def build(config: SequenceRNNConfig, weights: dict | None = None, name: str = "note_rnn",
          seed: int | None = None) -> SequenceRNN:
    """Builds a sequence model, randomly initialised or from named weights."""
    if seed is not None:
        tf.keras.utils.set_random_seed(seed)
    model = SequenceRNN(config, name=name)
    if weights is not None:
        model.set_named_weights(weights)
    return model


def layer_sizes_from_weights(weights: dict) -> tuple[int, ...]:
    """Infers the LSTM layer sizes from weights in checkpoint naming."""
    sizes = []
    while f"lstm_{len(sizes)}/recurrent_kernel" in weights:
        sizes.append(int(np.shape(weights[f"lstm_{len(sizes)}/recurrent_kernel"])[0]))
    return tuple(sizes)


__all__: Sequence[str] = ["SequenceRNNConfig", "SequenceRNN", "build", "check_tokens", "lstm_cell_step"]
