"""Sampling token sequences from a sequence model, inside TensorFlow and deterministic per seed.

Without a primer every sequence starts, as in Magenta's RL Tuner, from the zero state and a
random priming token drawn uniformly from all tokens; the priming token is not part of the
output. With a primer (Magenta's ``--primer_melody``) every sequence starts with the primer's
tokens and the model continues from its state after them. Sampling is stateless-seeded: the
same seed and number of sequences give the same sequences.
"""

from __future__ import annotations

import numpy as np

from rl_tuner._tf_setup import use_legacy_keras
from rl_tuner.sampling_args import check_sampling_args  # noqa: F401  (re-exported)

use_legacy_keras()
import tensorflow as tf  # noqa: E402


# How far below the best allowed logit a never-sampled token's logit is put (relative to the
# logits' size): exp(-1e4) is 0 in float32 and float64, so the token's probability is exactly 0
# at any temperature, while every logit stays finite (entropies and KL stay defined).
MASK_GAP = 1e4


def mask_logits(logits, blocked):
    """Logits whose ``blocked`` tokens have probability exactly 0 under softmax.

    Args:
      logits: float [B, C] (already divided by the temperature).
      blocked: bool [C], True for a token that must never be drawn (at least one False).

    Returns:
      float [B, C]: the allowed logits unchanged; each blocked one set to
      ``m - MASK_GAP * (1 + |m|)`` with m the row's largest allowed logit.
    """
    blocked = tf.broadcast_to(blocked, tf.shape(logits))
    best = tf.reduce_max(tf.where(blocked, tf.fill(tf.shape(logits), -np.inf), logits), axis=-1, keepdims=True)
    return tf.where(blocked, best - MASK_GAP * (1.0 + tf.abs(best)), logits)


def blocked_mask(never_sampled, num_classes: int):
    """bool [C] constant of the tokens in ``never_sampled`` (None or empty: None).

    Raises:
      ValueError: a token outside 0..C-1, or every token blocked.
    """
    if not never_sampled:
        return None
    tokens = sorted({int(t) for t in never_sampled})
    if tokens[0] < 0 or tokens[-1] >= num_classes or len(tokens) >= num_classes:
        raise ValueError(f"never_sampled tokens {tokens} must be some of 0..{num_classes - 1}, not all")
    return tf.constant(np.isin(np.arange(num_classes), tokens))


def sample_loop(step_fn, initial_state, num, length, temperature, seed, num_classes: int, record_fn=None,
                num_records: int = 0, primer=None, first_tokens=None, return_first: bool = False,
                never_sampled=None):
    """Samples token sequences in a TensorFlow loop (usable inside ``tf.function``).

    Without a primer every sequence starts from ``initial_state`` and a priming token drawn
    uniformly from all ``num_classes`` tokens, which is not part of the output (Magenta's
    RL Tuner). With a primer of k >= 1 tokens the output starts with the primer: its first
    token is fed from ``initial_state``, the others are fed in turn (teacher forcing, so the
    state after the primer is the state of the primer), and tokens k..length-1 are sampled
    from there.

    Args:
      step_fn: ``(tokens [B], state) -> (logits [B, C], aux, state)``; the next token is drawn
        from softmax(logits / temperature). ``aux`` is passed to ``record_fn``.
      initial_state: the state before the first input token.
      num: scalar int32, number of sequences B.
      length: scalar int32, tokens per sequence (the primer included).
      temperature: scalar float32 > 0.
      seed: scalar integer (cast to int64); the priming tokens use stateless seed (seed, -1),
        step t (seed, t), so the sampled tokens after a primer use the same seeds as the same
        positions without one.
      num_classes: vocabulary size C (the priming token is uniform over all C tokens).
      record_fn: optional ``(tempered logits, next tokens, aux) -> tuple of num_records [B]
        float32 tensors`` recorded at every step.
      num_records: number of tensors ``record_fn`` returns.
      primer: optional int32 [k] tokens every sequence starts with (k < length; an empty
        tensor or None means no primer). The primer's first position has no prediction, so
        its records are 0; later primer positions record the forced token.
      first_tokens: optional tokens the priming token is drawn from, uniformly (a task's
        :meth:`rl_tuner.tasks.Task.first_tokens`, e.g. only a begin token); None: all
        ``num_classes`` tokens (the same draws as before this option existed).

      return_first: also return the first input token of every sequence (the priming token,
        or the primer's first token).
      never_sampled: optional tokens that are never drawn (a task's
        :meth:`rl_tuner.tasks.Task.never_sampled_tokens`, e.g. a begin token): their tempered
        logits are masked (:func:`mask_logits`) so that their probability is exactly 0 at
        every temperature; ``record_fn`` sees the masked logits (the distribution sampled).

    Returns:
      int32 [B, length] tokens (priming token excluded), followed, if ``record_fn`` is given,
      by a list of ``num_records`` float32 [B, length] records, and, if ``return_first``, by
      the first input tokens int32 [B].
    """
    seed = tf.cast(seed, tf.int64)
    primer = tf.zeros([0], tf.int32) if primer is None else tf.cast(tf.reshape(primer, [-1]), tf.int32)
    k = tf.size(primer)
    padded = tf.concat([primer, tf.zeros([1], tf.int32)], 0)  # padded[t] is valid for every t <= k
    first_seed = tf.stack([seed, tf.constant(-1, tf.int64)])
    if first_tokens is None:
        random_first = tf.random.stateless_uniform([num], seed=first_seed, maxval=num_classes, dtype=tf.int32)
    else:
        choices = tf.constant(list(first_tokens), tf.int32)
        random_first = tf.gather(choices, tf.random.stateless_uniform(
            [num], seed=first_seed, maxval=tf.size(choices), dtype=tf.int32))
    first = tf.where(k > 0, tf.fill([num], padded[0]), random_first)
    start = tf.minimum(k, 1)  # the primer's first token is output position 0
    arrays = [tf.TensorArray(tf.int32, size=length)] + [tf.TensorArray(tf.float32, size=length)
                                                         for _ in range(num_records)]
    arrays = tf.cond(k > 0, lambda: [a.write(0, v) for a, v in zip(
        arrays, [first] + [tf.zeros([num], tf.float32)] * num_records)], lambda: arrays)

    blocked = blocked_mask(never_sampled, num_classes)

    def body(t, tokens, state, arrays):
        logits, aux, state = step_fn(tokens, state)
        logits = logits / temperature
        if blocked is not None:
            logits = mask_logits(logits, blocked)
        step_seed = tf.stack([seed, tf.cast(t, tf.int64)])
        sampled = tf.random.stateless_categorical(logits, 1, seed=step_seed, dtype=tf.int32)[:, 0]
        nxt = tf.where(t < k, tf.fill([num], padded[tf.minimum(t, k)]), sampled)
        values = (nxt,) + (tuple(record_fn(logits, nxt, aux)) if record_fn is not None else ())
        return t + 1, nxt, state, [a.write(t, v) for a, v in zip(arrays, values)]

    _, _, _, arrays = tf.while_loop(lambda t, *_: t < length, body, (start, first, initial_state, arrays))
    out = [tf.transpose(a.stack()) for a in arrays]
    result = (out[0],) + (() if record_fn is None else (out[1:],)) + ((first,) if return_first else ())
    return result[0] if len(result) == 1 else result


# Arguments of the in-process compiled samplers: the number of sequences, their length and
# temperature, a 64-bit seed (chunk seeds can pass 2**31) and the primer tokens (int32 [k], k = 0
# for none).
CHUNK_SIGNATURE = [tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([], tf.int32, name="length"),
                   tf.TensorSpec([], tf.float32, name="temperature"), tf.TensorSpec([], tf.int64, name="seed"),
                   tf.TensorSpec([None], tf.int32, name="primer")]


def sample_in_chunks(compiled, num: int, length: int, temperature: float, seed: int, batch_size: int,
                     primer=None, num_classes: int | None = None) -> list:
    """Calls ``compiled(b, length, temperature, chunk_seed, primer)`` (see
    :data:`CHUNK_SIGNATURE`) over chunks of at most ``batch_size`` sequences and returns the
    outputs as NumPy (a nest per chunk).

    Chunk k uses seed + 1000003 k, so the same (seed, num, batch_size) gives the same sequences.

    ``num_classes``: when given, the primer must be a flat list of integers 0..num_classes-1
    (the model's classes; else the compiled gather fails with a TensorFlow error or, for an
    encoded-input model, reads garbage).

    Raises:
      ValueError: see :func:`check_sampling_args`; for a primer of other values.
    """
    check_sampling_args(num, length, temperature, primer)
    if primer is not None and num_classes is not None:
        from rl_tuner.models.sequence_model import check_tokens
        try:
            primer = check_tokens(primer, num_classes, ndim=1)
        except ValueError as e:
            raise ValueError(f"primer: {e}") from None
    primer = tf.constant(np.zeros(0, np.int32) if primer is None else np.asarray(primer, np.int32))
    outputs = []
    for k, start in enumerate(range(0, num, batch_size)):
        out = compiled(tf.constant(min(batch_size, num - start)), tf.constant(length),
                       tf.constant(temperature, tf.float32), tf.constant(seed + 1_000_003 * k, tf.int64), primer)
        outputs.append(tf.nest.map_structure(lambda t: t.numpy(), out))
    return outputs


def sample_model(model, num: int, length: int = 32, temperature: float = 1.0, seed: int = 0,
           batch_size: int = 8192, primer=None, never_sampled=None) -> np.ndarray:
    """Samples token sequences from a sequence model.

    Args:
      model: a :class:`rl_tuner.models.sequence_model.SequenceRNN`.
      num: number of sequences.
      length: tokens per sequence (a primer included).
      temperature: softmax temperature.
      seed: random seed; the same seed and num give the same sequences.
      batch_size: sequences per compiled call.
      primer: optional tokens (0..C-1) every sequence starts with; the model continues from
        its state after the primer (see :func:`sample_loop`). Must be shorter than ``length``.
      never_sampled: tokens never drawn (see :func:`sample_loop`), e.g. a begin token.

    Returns:
      int32 [num, length].

    Raises:
      ValueError: for a non-positive num, length or temperature, or a primer that is empty,
        not shorter than ``length``, or not of integers 0..C-1.
    """
    return np.concatenate(sample_in_chunks(_sampler(model, never_sampled), num, length, temperature, seed, batch_size,
                                           primer, num_classes=model.config.num_classes), axis=0)


def _sampler(model, never_sampled=None):
    key = tuple(sorted({int(t) for t in never_sampled})) if never_sampled else None
    cache = model.__dict__.setdefault("_compiled_samplers", {})
    if key not in cache:
        @tf.function(input_signature=CHUNK_SIGNATURE)
        def fn(num, length, temperature, seed, primer):
            def step(tokens, state):
                logits, state = model.step(tokens, state)
                return logits, (), state
            return sample_loop(step, model.zero_state(num), num, length, temperature, seed, model.config.num_classes,
                               primer=primer, never_sampled=key)
        cache[key] = fn
    return cache[key]
