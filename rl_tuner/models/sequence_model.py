"""The generic sequence model: a Keras LSTM language model over tokens with a step interface.

Every task's prior is one of these (the Note-RNN of melodies, the SMILES-RNN of molecules);
only the vocabulary size and, optionally, the stored vocabulary (one string per token) differ.

The same weights serve two uses:

* ``model(tokens)`` runs whole sequences through Keras ``LSTM`` layers (training, scoring);
* ``model.step(tokens, state)`` advances B sequences by one token (RL acting, sampling).

Both start from the zero state and compute exactly the same function. By default the first
layer's input is a one-hot token, so its input projection is a row lookup of the kernel in
``step``. The LSTM uses Keras gate order (i, f, c, o), sigmoid gates and tanh activations,
which is what Magenta's TF1 ``LSTMCell`` computes once its forget bias of 1.0 is folded into
the bias.

Two generalisations serve priors whose input is not a one-hot of the last token (e.g.
Magenta's lookback_rnn and attention_rnn):

* ``input_size``: the model reads float feature vectors [B, T, input_size] computed from the
  tokens so far by an *input encoder* (``model.input_encoder``, supplied by the task that
  loads the model; see :class:`InputEncoder`). ``step`` still takes tokens: the encoder's
  TensorFlow step turns them into features, and its state (what the features need of the
  past) is the last element of the model's state;
* ``attention_length``: layer 0 is wrapped in TF1's ``AttentionCellWrapper`` (Bahdanau-style
  attention over a window of its last ``attention_length`` outputs, carried in the state), see
  :func:`rl_tuner.models.cells.attention_cell_step`. Its state is ``(h, c, attns, attn_states)``; every other layer's
  state is ``(h, c)``.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402  (must follow use_legacy_keras)

from rl_tuner.models.cells import ATTENTION_WEIGHTS, AttentionLSTMCell, attention_cell_step, lstm_cell_step  # noqa: E402,F401

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
      input_size: None (the input is a one-hot of the last token, ``num_classes`` long) or the
        length of the float feature vector the model reads at each step (computed by an
        :class:`InputEncoder`; 121 for Magenta's lookback_rnn, 74 for attention_rnn).
      attention_length: 0, or the window of TF1's ``AttentionCellWrapper`` on layer 0 (40
        for Magenta's attention_rnn).
    """

    @property
    def one_hot_inputs(self) -> bool:
        """True when the model's input is a one-hot of the last token."""
        return self.input_size is None

    @property
    def model_input_size(self) -> int:
        """Length of the first layer's input vector."""
        return self.num_classes if self.input_size is None else self.input_size

    num_classes: int
    layer_sizes: tuple[int, ...] = (100,)
    vocabulary: tuple[str, ...] | None = None
    input_size: int | None = None
    attention_length: int = 0

    def __post_init__(self):
        object.__setattr__(self, "layer_sizes", positive_ints(self.layer_sizes, "layer_sizes"))
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.input_size is not None:
            object.__setattr__(self, "input_size", positive_ints([self.input_size], "input_size")[0])
        if isinstance(self.attention_length, bool) or not float(self.attention_length).is_integer() or \
                self.attention_length < 0:
            raise ValueError(f"attention_length must be an integer >= 0, got {self.attention_length}")
        object.__setattr__(self, "attention_length", int(self.attention_length))
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
        inputs = self.model_input_size
        if self.attention_length:
            h = self.layer_sizes[0]
            shapes.update({"attention/input_kernel": (inputs + h, inputs), "attention/input_bias": (inputs,),
                           "attention/attn_w": (h, h), "attention/attn_v": (h,),
                           "attention/query_kernel": (2 * h, h), "attention/query_bias": (h,),
                           "attention/output_kernel": (2 * h, h), "attention/output_bias": (h,)})
        for i, units in enumerate(self.layer_sizes):
            shapes[f"lstm_{i}/kernel"] = (inputs, 4 * units)
            shapes[f"lstm_{i}/recurrent_kernel"] = (units, 4 * units)
            shapes[f"lstm_{i}/bias"] = (4 * units,)
            inputs = units
        shapes["dense/kernel"] = (inputs, self.num_classes)
        shapes["dense/bias"] = (self.num_classes,)
        return shapes


class InputEncoder:
    """Interface of a task's input encoder for models whose input is not a one-hot of the last token.

    A task that loads such a model sets ``model.input_encoder`` to an object with these
    members; the generic core never looks inside it.
    """

    input_size: int  # length of the feature vector at each position

    def encode_tokens(self, tokens) -> np.ndarray:
        """Features of token sequences.

        Args:
          tokens: int [B, T] in the model's classes.

        Returns:
          float32 [B, T, input_size]: row t is the model's input after tokens 0..t.
        """
        raise NotImplementedError

    def zero_state(self, batch_size):
        """The encoder's state before the first token (a tuple of tensors with batch ``batch_size``)."""
        raise NotImplementedError

    def state_spec(self):
        """Unbatched ``tf.TensorSpec`` nest of :meth:`zero_state`."""
        raise NotImplementedError

    def step(self, tokens, state):
        """TensorFlow ops: ``(tokens int [B], state) -> (features float32 [B, input_size], new state)``,
        equal to :meth:`encode_tokens` position by position."""
        raise NotImplementedError

    def task_tokens(self, tokens) -> np.ndarray:
        """The task's tokens meant by model tokens [N, T] (e.g. repeat classes decoded); same shape."""
        raise NotImplementedError

    def spec(self) -> dict | None:
        """The encoder's settings, stored in a checkpoint's ``config.json`` (JSON)."""
        raise NotImplementedError

    def encode_events(self, events) -> np.ndarray:
        """The model's inputs for one sequence of the task's raw events: float32 [T, input_size],
        or int tokens [T] for a one-hot model."""
        raise NotImplementedError


class SequenceRNN(tf.keras.Model):
    """Stacked LSTM language model over one-hot tokens (or encoded input features).

    Call it on int tokens [B, T] (or, when ``config.input_size`` is set, on float features
    [B, T, input_size]) to get logits [B, T, num_classes]; position t holds the distribution
    of token t + 1 given tokens 0..t, starting from the zero state.

    Attributes:
      config: the :class:`SequenceRNNConfig`.
      input_encoder: None for one-hot models, else the task's :class:`InputEncoder` mapping
        tokens (and, for :meth:`event_distributions`, the task's raw events) to features.
    """

    def __init__(self, config: SequenceRNNConfig, name: str = "note_rnn", input_encoder=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = config
        self.input_encoder = input_encoder
        self.lstm_layers = []
        for i, units in enumerate(self.config.layer_sizes):
            if i == 0 and self.config.attention_length:
                self.lstm_layers.append(tf.keras.layers.RNN(
                    AttentionLSTMCell(units, self.config.attention_length, name="attention_lstm_cell"),
                    return_sequences=True, return_state=True, name=f"lstm_{i}"))
            else:
                self.lstm_layers.append(tf.keras.layers.LSTM(
                    units, return_sequences=True, return_state=True, activation="tanh",
                    recurrent_activation="sigmoid", unit_forget_bias=True, name=f"lstm_{i}"))
        self.dense = tf.keras.layers.Dense(self.config.num_classes, name="dense")
        self.build_weights()

    def build_weights(self) -> None:
        """Creates all variables (a one-token call)."""
        if self.config.one_hot_inputs:
            self(tf.zeros([1, 1], tf.int32))
        else:
            self(tf.zeros([1, 1, self.config.input_size]))

    def _inputs(self, inputs):
        """One-hot tokens, or the given features (float32)."""
        if self.config.one_hot_inputs:
            return tf.one_hot(tf.cast(inputs, tf.int32), self.config.num_classes)
        return tf.cast(inputs, tf.float32)

    def call(self, tokens, initial_state: State | None = None, return_state: bool = False, training=None):
        """Runs whole sequences.

        Args:
          tokens: int [B, T], or float features [B, T, input_size] for an encoded-input model.
          initial_state: optional state from :meth:`zero_state` or :meth:`step`.
          return_state: also return the final state.

        Returns:
          logits [B, T, num_classes], and the final state if ``return_state``.
        """
        x = self._inputs(tokens)
        final = []
        for i, layer in enumerate(self.lstm_layers):
            init = None if initial_state is None else list(initial_state[i])
            x, *layer_state = layer(x, initial_state=init, training=training)
            final.append(tuple(layer_state))
        logits = self.dense(x)
        return (logits, tuple(final)) if return_state else logits

    @property
    def has_encoder_state(self) -> bool:
        """True when the state ends with the input encoder's state (encoded-input models)."""
        return not self.config.one_hot_inputs

    def zero_state(self, batch_size) -> State:
        """Returns the initial state for ``batch_size`` sequences: zero layer states (and the
        input encoder's initial state for an encoded-input model)."""
        layers = tuple(tuple(tf.zeros([batch_size, n]) for n in sizes) for sizes in self.state_size())
        return layers + ((self._encoder().zero_state(batch_size),) if self.has_encoder_state else ())

    def state_spec(self):
        """The unbatched ``tf.TensorSpec`` nest of one sequence's state (see :meth:`zero_state`)."""
        return state_spec(self.config, self.input_encoder)

    def state_size(self) -> tuple[tuple[int, ...], ...]:
        """Returns the state sizes of each layer: (h, c), or (h, c, attns, attn_states) for an
        attention layer."""
        sizes = []
        for i, n in enumerate(self.config.layer_sizes):
            if i == 0 and self.config.attention_length:
                sizes.append((n, n, n, n * self.config.attention_length))
            else:
                sizes.append((n, n))
        return tuple(sizes)

    def step(self, tokens, state: State):
        """Advances B sequences by one token.

        Args:
          tokens: int [B], the current input tokens.
          state: the state before ``tokens`` (e.g. :meth:`zero_state`).

        Returns:
          (logits [B, num_classes] of the next token, new state).
        """
        if not self.has_encoder_state:
            return self.step_inputs(tokens, state)
        inputs, encoder_state = self._encoder().step(tokens, state[-1])
        logits, layers = self.step_inputs(inputs, state[:-1])
        return logits, layers + (encoder_state,)

    def step_inputs(self, tokens, state: State):
        """:meth:`step` from the first layer's input: int tokens [B] for a one-hot model, float
        features [B, input_size] otherwise; ``state`` holds the layer states only.

        Returns:
          (logits [B, num_classes], new layer states).
        """
        new_state = []
        x = None
        for i, layer in enumerate(self.lstm_layers):
            cell = layer.cell
            if i == 0:
                x = self._inputs(tokens) if (isinstance(cell, AttentionLSTMCell) or not self.config.one_hot_inputs) \
                    else None
            if isinstance(cell, AttentionLSTMCell):
                x, layer_state = attention_cell_step(x, tuple(state[i]), cell)
                new_state.append(layer_state)
                continue
            if i == 0 and self.config.one_hot_inputs:
                x_proj = tf.gather(cell.kernel, tf.cast(tokens, tf.int32))
            else:
                x_proj = tf.matmul(x, cell.kernel)
            h, c = lstm_cell_step(x_proj, state[i][0], state[i][1], cell.recurrent_kernel, cell.bias)
            new_state.append((h, c))
            x = h
        return self.dense(x), tuple(new_state)

    def token_logits(self, tokens):
        """Logits after each prefix of int tokens [B, T] from the zero state, as TensorFlow ops
        (an encoded-input model's features come from its encoder's TensorFlow step)."""
        if not self.has_encoder_state:
            return self(tokens)
        encoder = self._encoder()
        tokens = tf.cast(tokens, tf.int32)

        def body(carry, token):
            features, state = encoder.step(token, carry[1])
            return features, state
        init = (tf.zeros([tf.shape(tokens)[0], self.config.input_size]), encoder.zero_state(tf.shape(tokens)[0]))
        features, _ = tf.scan(body, tf.transpose(tokens), initializer=init)
        return self(tf.transpose(features, [1, 0, 2]))

    def sequence_logits(self, tokens, batch_size: int = 4096) -> np.ndarray:
        """Returns the logits after each prefix as NumPy, from the zero state.

        Args:
          tokens: int array-like [B, T] with values in 0..num_classes-1 (an encoded-input
            model computes its features with ``input_encoder.encode_tokens``).
          batch_size: sequences per forward pass.

        Returns:
          float32 [B, T, num_classes]; position t is the distribution of token t + 1.

        Raises:
          ValueError: for a wrong rank or out-of-range tokens, or an encoded-input model
            without an input encoder.
        """
        tokens = check_tokens(tokens, self.config.num_classes, ndim=2)
        if tokens.shape[1] == 0:
            return np.zeros(tokens.shape + (self.config.num_classes,), np.float32)
        inputs = tokens if self.config.one_hot_inputs else self._encoder().encode_tokens(tokens)
        chunks = [self._logits_fn(tf.constant(inputs[i:i + batch_size])).numpy()
                  for i in range(0, len(inputs), batch_size)]
        if not chunks:
            return np.zeros(tokens.shape + (self.config.num_classes,), np.float32)
        return np.concatenate(chunks, axis=0)

    def event_distributions(self, events) -> np.ndarray:
        """The softmax after each prefix of one sequence of the task's raw events.

        Args:
          events: one sequence of events as the input encoder reads them (for melodies:
            Magenta melody events, MIDI pitch, -2 hold, -1 note off).

        Returns:
          float32 [T, num_classes]: row t is the distribution of the event after event t,
          from the zero state, over the model's own classes.

        Raises:
          ValueError: for events the encoder rejects, or a model without an input encoder.
        """
        inputs = np.asarray(self._encoder().encode_events(events))
        if inputs.shape[0] == 0:
            return np.zeros((0, self.config.num_classes), np.float32)
        logits = self(tf.constant(inputs[None]))  # eager: one melody of any length, no retracing
        return tf.nn.softmax(logits[0]).numpy()

    def _encoder(self):
        if self.input_encoder is None:
            raise ValueError(f"model {self.name} has no input encoder (its task supplies one when loading it)")
        return self.input_encoder

    @tf.function(reduce_retracing=True)
    def _logits_fn(self, tokens):
        return self(tokens)

    # --- weights in checkpoint naming ---------------------------------------------------
    def named_weights(self) -> dict[str, tf.Variable]:
        """Returns the variables keyed by checkpoint name (see SequenceRNNConfig.weight_shapes)."""
        named = {}
        for i, layer in enumerate(self.lstm_layers):
            cell = layer.cell
            if isinstance(cell, AttentionLSTMCell):
                named.update({f"attention/{w}": getattr(cell, w) for w in ATTENTION_WEIGHTS})
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


def state_spec(config: SequenceRNNConfig, input_encoder=None):
    """The unbatched ``tf.TensorSpec`` nest of the state of a model of ``config``: (h, c) per
    layer, (h, c, attns, attn_states) for an attention layer, then the input encoder's state
    for an encoded-input model.

    Raises:
      ValueError: for an encoded-input config without an input encoder.
    """
    layers = []
    for i, n in enumerate(config.layer_sizes):
        sizes = (n, n, n, n * config.attention_length) if i == 0 and config.attention_length else (n, n)
        layers.append(tuple(tf.TensorSpec([m], tf.float32) for m in sizes))
    if config.one_hot_inputs:
        return tuple(layers)
    if input_encoder is None:
        raise ValueError(f"a model with input_size {config.input_size} needs an input encoder")
    return tuple(layers) + (input_encoder.state_spec(),)


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


__all__: Sequence[str] = ["SequenceRNNConfig", "SequenceRNN", "InputEncoder", "AttentionLSTMCell", "build",
                          "check_tokens", "lstm_cell_step", "attention_cell_step"]
