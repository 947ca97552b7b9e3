"""The recurrent cells' math, shared by the Keras model and the exported SavedModel.

* :func:`lstm_cell_step`: one LSTM step in Keras gate order (i, f, c, o), sigmoid gates and
  tanh activations; Magenta's TF1 ``LSTMCell`` computes the same once its forget bias of 1.0
  is folded into the bias (BUILD.md, "Magenta checkpoints": the TF1 LSTM -> Keras conversion).
* :func:`attention_cell_step` and :class:`AttentionLSTMCell`: TF1's ``AttentionCellWrapper``
  around an LSTM, as Magenta's attention_rnn uses it.

:mod:`rl_tuner.models.sequence_model` builds its layers from these; :mod:`rl_tuner.models.export` calls
the step functions inside the SavedModel's graph.
"""

from __future__ import annotations

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402  (must follow use_legacy_keras)


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


ATTENTION_WEIGHTS = ("input_kernel", "input_bias", "attn_w", "attn_v", "query_kernel", "query_bias",
                     "output_kernel", "output_bias")


def attention_cell_step(x, state, cell):
    """One step of TF1's ``AttentionCellWrapper`` around an LSTM (``state_is_tuple=True``).

    Reproduces ``tf.contrib.rnn.AttentionCellWrapper.call`` (TF 1.x ``contrib/rnn/python/ops/
    rnn_cell.py``, used by Magenta's attention_rnn with ``attn_size = attn_vec_size = H``)::

        x' = [x, attns] @ input_kernel + input_bias             # _linear1, back to the input size
        (h, c) = LSTM(x', (h, c))
        y = [c, h] @ query_kernel + query_bias                  # _linear3 on the flattened (c, h)
        s_j = sum(attn_v * tanh(window_j @ attn_w + y))         # j = 1..L (attn_w: 1x1 conv)
        attns' = sum_j softmax(s)_j * window_j
        out = [h, attns'] @ output_kernel + output_bias         # attn_output_projection
        window' = window[1:] + [out]

    Args:
      x: float [B, in], the layer's input.
      state: ``(h [B, H], c [B, H], attns [B, H], attn_states [B, L * H])``.
      cell: an :class:`AttentionLSTMCell` (its variables).

    Returns:
      ``(out [B, H], new state)``.
    """
    h, c, attns, attn_states = state
    length, units = cell.attention_length, cell.units
    x = tf.matmul(tf.concat([x, attns], 1), cell.input_kernel) + cell.input_bias
    h, c = lstm_cell_step(tf.matmul(x, cell.kernel), h, c, cell.recurrent_kernel, cell.bias)
    window = tf.reshape(attn_states, [-1, length, units])
    features = tf.einsum("blh,hv->blv", window, cell.attn_w)
    y = tf.matmul(tf.concat([c, h], 1), cell.query_kernel) + cell.query_bias
    scores = tf.reduce_sum(cell.attn_v * tf.tanh(features + y[:, None, :]), axis=2)
    weights = tf.nn.softmax(scores)
    attns = tf.reduce_sum(weights[:, :, None] * window, axis=1)
    out = tf.matmul(tf.concat([h, attns], 1), cell.output_kernel) + cell.output_bias
    window = tf.concat([window[:, 1:], out[:, None, :]], axis=1)
    return out, (h, c, attns, tf.reshape(window, [-1, length * units]))


class AttentionLSTMCell(tf.keras.layers.Layer):
    """A Keras RNN cell: an LSTM wrapped in TF1's ``AttentionCellWrapper`` (see :func:`attention_cell_step`).

    The LSTM's variables have the Keras ``LSTMCell`` names (``kernel``, ``recurrent_kernel``,
    ``bias``); the wrapper's are the :data:`ATTENTION_WEIGHTS`.
    """

    def __init__(self, units: int, attention_length: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.attention_length = int(attention_length)
        self.state_size = [self.units, self.units, self.units, self.units * self.attention_length]
        self.output_size = self.units

    def build(self, input_shape):
        n_in, h = int(input_shape[-1]), self.units
        shapes = {"kernel": (n_in, 4 * h), "recurrent_kernel": (h, 4 * h), "bias": (4 * h,),
                  "input_kernel": (n_in + h, n_in), "input_bias": (n_in,), "attn_w": (h, h), "attn_v": (h,),
                  "query_kernel": (2 * h, h), "query_bias": (h,), "output_kernel": (2 * h, h), "output_bias": (h,)}
        for name, shape in shapes.items():
            init = "zeros" if len(shape) == 1 else "glorot_uniform"
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer=init))
        super().build(input_shape)

    def call(self, inputs, states):
        out, new_state = attention_cell_step(inputs, tuple(states), self)
        return out, list(new_state)
