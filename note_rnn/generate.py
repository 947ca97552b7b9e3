"""Sampling melodies from a Note-RNN (``note-rnn generate``).

Every melody starts, as in Magenta's RL Tuner, from the zero state and a random priming
token drawn uniformly from all 38 tokens; the priming token is not part of the melody.
Sampling is stateless-seeded: the same seed and number of melodies give the same melodies.
"""

from __future__ import annotations

import os

import numpy as np

from note_rnn._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402


def sample_loop(step_fn, initial_state, num, length, temperature, seed, num_classes: int = 38, record_fn=None,
                num_records: int = 0):
    """Samples token sequences in a TensorFlow loop (usable inside ``tf.function``).

    Args:
      step_fn: ``(tokens [B], state) -> (logits [B, C], aux, state)``; the next token is drawn
        from softmax(logits / temperature). ``aux`` is passed to ``record_fn``.
      initial_state: the state before the priming token.
      num: scalar int32, number of sequences B.
      length: scalar int32, tokens per sequence.
      temperature: scalar float32 > 0.
      seed: scalar int64; the priming tokens use stateless seed (seed, -1), step t (seed, t).
      num_classes: vocabulary size C (the priming token is uniform over all C tokens).
      record_fn: optional ``(tempered logits, next tokens, aux) -> tuple of num_records [B]
        float32 tensors`` recorded at every step.
      num_records: number of tensors ``record_fn`` returns.

    Returns:
      int32 [B, length] sampled tokens (priming token excluded), followed, if ``record_fn``
      is given, by a list of ``num_records`` float32 [B, length] records.
    """
    seed = tf.cast(seed, tf.int64)
    first = tf.random.stateless_uniform([num], seed=tf.stack([seed, tf.constant(-1, tf.int64)]),
                                        maxval=num_classes, dtype=tf.int32)
    arrays = [tf.TensorArray(tf.int32, size=length)] + [tf.TensorArray(tf.float32, size=length)
                                                         for _ in range(num_records)]

    def body(t, tokens, state, arrays):
        logits, aux, state = step_fn(tokens, state)
        logits = logits / temperature
        step_seed = tf.stack([seed, tf.cast(t, tf.int64)])
        nxt = tf.random.stateless_categorical(logits, 1, seed=step_seed, dtype=tf.int32)[:, 0]
        values = (nxt,) + (tuple(record_fn(logits, nxt, aux)) if record_fn is not None else ())
        return t + 1, nxt, state, [a.write(t, v) for a, v in zip(arrays, values)]

    _, _, _, arrays = tf.while_loop(lambda t, *_: t < length, body, (tf.constant(0), first, initial_state, arrays))
    out = [tf.transpose(a.stack()) for a in arrays]
    return out[0] if record_fn is None else (out[0], out[1:])


def check_sampling_args(num: int, length: int, temperature: float) -> None:
    """Raises ValueError for arguments that cannot produce melodies."""
    if num < 1:
        raise ValueError(f"number of melodies must be >= 1, got {num}")
    if length < 1:
        raise ValueError(f"melody length must be >= 1, got {length}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


# Arguments of every compiled sampler (and of the exported SavedModel's signature).
SAMPLER_SIGNATURE = [tf.TensorSpec([], tf.int32, name="num_melodies"), tf.TensorSpec([], tf.int32, name="length"),
                     tf.TensorSpec([], tf.float32, name="temperature"), tf.TensorSpec([], tf.int64, name="seed")]


def sample_in_chunks(compiled, num: int, length: int, temperature: float, seed: int, batch_size: int) -> list:
    """Calls ``compiled(b, length, temperature, chunk_seed)`` over chunks of at most
    ``batch_size`` melodies and returns the outputs as NumPy (a nest per chunk).

    Chunk k uses seed + 1000003 k, so the same (seed, num, batch_size) gives the same melodies.
    """
    check_sampling_args(num, length, temperature)
    outputs = []
    for k, start in enumerate(range(0, num, batch_size)):
        out = compiled(tf.constant(min(batch_size, num - start)), tf.constant(length),
                       tf.constant(temperature, tf.float32), tf.constant(seed + 1_000_003 * k, tf.int64))
        outputs.append(tf.nest.map_structure(lambda t: t.numpy(), out))
    return outputs


def sample(model, num: int, length: int = 32, temperature: float = 1.0, seed: int = 0,
           batch_size: int = 8192) -> np.ndarray:
    """Samples melodies from a Note-RNN.

    Args:
      model: a :class:`note_rnn.model.NoteRNN`.
      num: number of melodies.
      length: tokens per melody.
      temperature: softmax temperature.
      seed: random seed; the same seed and num give the same melodies.
      batch_size: melodies per compiled call.

    Returns:
      int32 [num, length].
    """
    return np.concatenate(sample_in_chunks(_sampler(model), num, length, temperature, seed, batch_size), axis=0)


def _sampler(model):
    fn = getattr(model, "_note_rnn_sampler", None)
    if fn is None:
        @tf.function(input_signature=SAMPLER_SIGNATURE)
        def fn(num, length, temperature, seed):
            def step(tokens, state):
                logits, state = model.step(tokens, state)
                return logits, (), state
            return sample_loop(step, model.zero_state(num), num, length, temperature, seed, model.config.num_classes)
        model._note_rnn_sampler = fn
    return fn


def write_midi_files(melodies: np.ndarray, out_dir: str, prefix: str = "melody", qpm: float = 80.0) -> list[str]:
    """Writes one MIDI file per melody; returns the paths."""
    from note_rnn import encoding
    os.makedirs(out_dir, exist_ok=True)
    width = max(3, len(str(len(melodies))))
    paths = []
    for i, mel in enumerate(melodies):
        path = os.path.join(out_dir, f"{prefix}_{i:0{width}d}.mid")
        encoding.write_midi(mel, path, qpm=qpm)
        paths.append(path)
    return paths
