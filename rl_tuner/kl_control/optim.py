"""Adam exactly as TF1's ``tf.train.AdamOptimizer`` (the original's optimiser), fused.

Each variable is updated by one ``ResourceApplyAdam`` kernel, the op TF1 used:
lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t); m <- beta1 m + (1 - beta1) g;
v <- beta2 v + (1 - beta2) g^2; theta <- theta - lr_t m / (sqrt(v) + epsilon).
The Keras optimiser computes the same update with many more small ops, which dominated
the cost of a train step of these small networks (0.39 ms of about 0.45 ms).

:class:`FlatLayout` packs a list of tensors into one flat vector, so that Adam, the
per-tensor gradient clip and the soft target update run as a few large kernels over all
parameters instead of a few small kernels per tensor (see BUILD.md, "Learner throughput").
Both are elementwise, so the flat update equals the per-tensor one; only the sum inside each
tensor's clip norm is added up in another order.
"""

from __future__ import annotations

import math

from rl_tuner import _tf  # noqa: F401
import tensorflow as tf  # noqa: E402


class FlatLayout:
    """Where each tensor of a list lives in one flat float32 vector.

    Tensor ``i`` is flattened (row-major) and padded with zeros to whole rows of
    ``row_width`` elements, so the flat vector reshaped to ``[num_rows, row_width]`` holds
    every tensor in rows of its own; per-tensor sums are then a row sum and a small
    row-to-tensor sum.

    Args:
      shapes: the shapes of the tensors (fully defined).
      row_width: elements per row (padding per tensor is below one row).
    """

    def __init__(self, shapes, row_width: int = 128):
        self.shapes = [tf.TensorShape(s) for s in shapes]
        if not self.shapes:
            raise ValueError("FlatLayout needs at least one tensor shape")
        self.row_width = int(row_width)
        self.sizes = [int(s.num_elements()) for s in self.shapes]
        rows = [max(1, math.ceil(n / self.row_width)) for n in self.sizes]
        self.offsets = [self.row_width * sum(rows[:i]) for i in range(len(rows))]
        self.num_rows = sum(rows)
        self.size = self.num_rows * self.row_width
        self._row_segment = tf.constant([i for i, r in enumerate(rows) for _ in range(r)], tf.int32)
        self._row_to_segment = tf.one_hot(self._row_segment, len(rows), dtype=tf.float32)  # [R, S]

    def flatten(self, tensors):
        """Packs ``tensors`` (the layout's shapes) into one float32 vector [size]."""
        parts = []
        for t, n, (start, end) in zip(tensors, self.sizes, self._spans()):
            parts.append(tf.reshape(tf.convert_to_tensor(t), [-1]))
            if end - start > n:
                parts.append(tf.zeros([end - start - n], tf.float32))
        return tf.concat(parts, 0)

    def split(self, flat):
        """The tensors packed in ``flat`` [size], in their shapes (inverse of :meth:`flatten`)."""
        return [tf.reshape(flat[o:o + n], s) for o, n, s in zip(self.offsets, self.sizes, self.shapes)]

    def _spans(self):
        ends = self.offsets[1:] + [self.size]
        return list(zip(self.offsets, ends))

    def norms(self, flat):
        """The L2 norm of each packed tensor: float32 [number of tensors]."""
        # Both sums as matrix products: XLA on CPU lowers a reduce_sum of this size to a slow
        # windowed reduction.
        squares = tf.square(tf.reshape(flat, [self.num_rows, self.row_width]))
        row_sums = tf.linalg.matvec(squares, tf.ones([self.row_width]))
        return tf.sqrt(tf.linalg.matvec(self._row_to_segment, row_sums, transpose_a=True))

    def clip_by_norm(self, flat, clip_norm: float):
        """``tf.clip_by_norm(t, clip_norm)`` applied to each packed tensor ``t`` separately.

        Each element becomes ``g * clip_norm / max(||t||, clip_norm)`` as in ``tf.clip_by_norm``;
        the padding stays 0.
        """
        clip_norm = tf.constant(clip_norm, tf.float32)
        divisor = tf.gather(tf.maximum(self.norms(flat), clip_norm), self._row_segment)  # [R]
        rows = tf.reshape(flat, [self.num_rows, self.row_width])
        return tf.reshape(rows * clip_norm / divisor[:, None], [self.size])


class FusedAdam(tf.Module):
    """TF1-style Adam over a fixed list of variables.

    Args:
      variables: the variables it will update (slots are created for them now).
      learning_rate: step size.
      beta1, beta2, epsilon: TF1 defaults 0.9, 0.999, 1e-8.
    """

    def __init__(self, variables, learning_rate: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, name: str = "adam"):
        super().__init__(name=name)
        self.learning_rate = float(learning_rate)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self._var_refs = [v.ref() for v in variables]
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name="m") for v in variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name="v") for v in variables]
        self.beta1_power = tf.Variable(self.beta1, trainable=False, name="beta1_power")
        self.beta2_power = tf.Variable(self.beta2, trainable=False, name="beta2_power")
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")

    def apply_gradients(self, grads_and_vars):
        """Applies one Adam step; the variables must be those given at construction."""
        grads_and_vars = list(grads_and_vars)
        if [v.ref() for _, v in grads_and_vars] != self._var_refs:
            raise ValueError("FusedAdam.apply_gradients got different variables than it was built for")
        for (g, var), m, v in zip(grads_and_vars, self.m, self.v):
            self._apply(var, m, v, g)
        self._advance()

    def apply_flat(self, var, m, v, grad):
        """One Adam step of flat buffers (the same update as :meth:`apply_gradients`).

        Args:
          var, m, v: float32 variables [N]: the packed parameters and their two slots (e.g.
            :meth:`FlatLayout.flatten` of the variables and of :attr:`m`, :attr:`v`).
          grad: float32 [N], the packed gradient.
        """
        self._apply(var, m, v, grad)
        self._advance()

    def _apply(self, var, m, v, grad):
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle, m=m.handle, v=v.handle, beta1_power=self.beta1_power, beta2_power=self.beta2_power,
            lr=tf.constant(self.learning_rate), beta1=tf.constant(self.beta1), beta2=tf.constant(self.beta2),
            epsilon=tf.constant(self.epsilon), grad=tf.convert_to_tensor(grad))

    def _advance(self):
        self.beta1_power.assign(self.beta1_power * self.beta1)
        self.beta2_power.assign(self.beta2_power * self.beta2)
        self.iterations.assign_add(1)
