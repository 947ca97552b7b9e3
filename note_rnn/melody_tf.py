"""note_seq's lookback and key-melody input features, step by step inside TensorFlow.

:class:`note_rnn.melody_configs.MelodyEncoder` computes a melody model's inputs with note_seq
in Python; compiled loops (sampling, the RL actor and learner, an exported SavedModel) need
the same numbers from TensorFlow ops. These step functions carry what the features need in an
*encoder state* (a tuple of tensors, part of the model's recurrent state) and are tested equal
to note_seq's ``events_to_input`` (tests/test_magenta_configs.py).

Lookback (``LookbackEventSequenceEncoderDecoder(MelodyOneHotEncoding(48, 84))``, lookback
distances (16, 32), 5 counter bits), per step with n events so far and the new event e at
position n: one-hot(e) [38]; for each distance d the one-hot of the event at n - d + 1
(no event before the start) [2 x 38]; the binary counter of n + 1 as +-1 [5]; whether e
repeats the event at n - d [2]. State: the last 33 event classes and n.

Key-melody (``KeyMelodyEncoderDecoder(48, 84)``, distances (16, 32), 7 counter bits): the
playing pitch [36], note / silence [2], attack [1], ascending +-1 / 0 [1], repeats [2], the
counter of n + 1 [7], start of a bar [1], the major keys with the most note-ons of the melody
[12] and of its last three distinct notes [12]. State: the last 33 events, n, the playing
note, attack, direction, the last three distinct notes and the note-on count per pitch class.
"""

from __future__ import annotations

import numpy as np

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402

DISTANCES = (16, 32)
WINDOW = DISTANCES[-1] + 1
NO_EVENT, NOTE_OFF = -2, -1
STEPS_PER_BAR = 16
# NOTE_KEYS of note_seq: the major keys (by tonic pitch class) each pitch class belongs to.
NOTE_KEYS = [[0, 1, 3, 5, 7, 8, 10], [1, 2, 4, 6, 8, 9, 11], [0, 2, 3, 5, 7, 9, 10], [1, 3, 4, 6, 8, 10, 11],
             [0, 2, 4, 5, 7, 9, 11], [0, 1, 3, 5, 6, 8, 10], [1, 2, 4, 6, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10],
             [1, 3, 4, 6, 8, 9, 11], [0, 2, 4, 5, 7, 9, 10], [1, 3, 5, 6, 8, 10, 11], [0, 2, 4, 6, 7, 9, 11]]


def _counter(n, bits: int):
    """+1 where bit i of n is set, else -1: float32 [B, bits]."""
    on = tf.bitwise.bitwise_and(tf.bitwise.right_shift(n[:, None], tf.range(bits)), 1)
    return tf.cast(2 * on - 1, tf.float32)


def _lookback(window, n, label, num_events: int, default):
    """Decodes a repeat class: the event d steps back (default before d events), else None."""
    out = None
    for i, d in reversed(list(enumerate(DISTANCES))):  # note_seq checks the longest distance first
        back = tf.where(n < d, tf.fill(tf.shape(n), default), window[:, WINDOW - d])
        chosen = tf.equal(label, num_events + i)
        out = back if out is None else tf.where(chosen, back, out)
    return out


def _repeat_flags(window, n):
    """Whether the newest event repeats the event d steps before it (window already appended)."""
    return tf.stack([tf.cast((n >= d) & tf.equal(window[:, -1], window[:, WINDOW - 1 - d]), tf.float32)
                     for d in DISTANCES], axis=1)


class LookbackFeatures:
    """Lookback features of a one-hot event encoding with ``num_events`` classes (38 for melodies)."""

    def __init__(self, num_events: int = 38, counter_bits: int = 5, default_class: int = 0):
        self.num_events = num_events
        self.counter_bits = counter_bits
        self.default = default_class
        self.input_size = num_events * (1 + len(DISTANCES)) + counter_bits + len(DISTANCES)

    def zero_state(self, batch_size):
        return (tf.fill([batch_size, WINDOW], self.default), tf.zeros([batch_size], tf.int32))

    def state_spec(self):
        return (tf.TensorSpec([WINDOW], tf.int32), tf.TensorSpec([], tf.int32))

    def task_token(self, state):
        """The 38-token melody token of the newest event of a state (the event class itself)."""
        return state[0][:, -1]

    def step(self, labels, state):
        """Decodes ``labels`` int [B] (classes) to events, appends them and returns their features.

        Returns:
          (float32 [B, input_size], new state).
        """
        window, n = state
        labels = tf.cast(labels, tf.int32)
        event = tf.where(labels >= self.num_events, _lookback(window, n, labels, self.num_events, self.default),
                         labels)
        window = tf.concat([window[:, 1:], event[:, None]], axis=1)
        parts = [tf.one_hot(event, self.num_events)]
        for d in DISTANCES:  # the event after the one d steps back: position n - d + 1
            parts.append(tf.one_hot(tf.where(n - d + 1 < 0, self.default, window[:, WINDOW - d]), self.num_events))
        parts += [_counter(n + 1, self.counter_bits), _repeat_flags(window, n)]
        return tf.concat(parts, axis=1), (window, n + 1)


class KeyMelodyFeatures:
    """note_seq's ``KeyMelodyEncoderDecoder(min_note, max_note)`` features (74 for 48..84)."""

    def __init__(self, min_note: int = 48, max_note: int = 84, counter_bits: int = 7):
        self.min_note = min_note
        self.note_range = max_note - min_note
        self.counter_bits = counter_bits
        self.input_size = self.note_range + 2 + 1 + 1 + len(DISTANCES) + counter_bits + 1 + 12 + 12
        # [pitch class, key], kept as NumPy: it becomes a constant of whichever graph uses it
        self._keys = np.array([[1.0 if k in NOTE_KEYS[pc] else 0.0 for k in range(12)] for pc in range(12)],
                              np.float32)

    def zero_state(self, batch_size):
        """(events window, n, playing note (0 = none), attack, direction, last 3 notes, note-ons per pitch class)."""
        return (tf.fill([batch_size, WINDOW], NO_EVENT), tf.zeros([batch_size], tf.int32),
                tf.zeros([batch_size], tf.int32), tf.zeros([batch_size], tf.int32), tf.zeros([batch_size], tf.int32),
                tf.zeros([batch_size, 3], tf.int32), tf.zeros([batch_size, 12], tf.int32))

    def state_spec(self):
        return (tf.TensorSpec([WINDOW], tf.int32), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32), tf.TensorSpec([3], tf.int32),
                tf.TensorSpec([12], tf.int32))

    def decode(self, labels, window, n):
        """Events of classes: pitch min_note + c, no event, note off, or a repeat of 16 / 32 steps back."""
        r = self.note_range
        event = tf.where(tf.equal(labels, r + 1), NOTE_OFF,
                         tf.where(tf.equal(labels, r), NO_EVENT, self.min_note + labels))
        return tf.where(labels >= r + 2, _lookback(window, n, labels, r + 2, NO_EVENT), event)

    def task_token(self, state):
        """The 38-token melody token of the newest event of a state (-2 -> 0, -1 -> 1, pitch p -> p - 46)."""
        event = state[0][:, -1]
        return tf.where(event < 0, event + 2, event - 46)

    def _key_mask(self, counts):
        hist = tf.matmul(tf.cast(counts, tf.float32), self._keys)
        return tf.cast(tf.equal(hist, tf.reduce_max(hist, axis=1, keepdims=True)), tf.float32)

    def step(self, labels, state):
        """Decodes ``labels`` int [B] to events, appends them and returns their features.

        Returns:
          (float32 [B, input_size], new state).
        """
        window, n, note, attack, direction, last3, counts = state
        labels = tf.cast(labels, tf.int32)
        event = self.decode(labels, window, n)
        window = tf.concat([window[:, 1:], event[:, None]], axis=1)
        is_note = event >= 0
        attack = tf.where(is_note, 1, tf.where(tf.equal(event, NO_EVENT), 0, attack))
        note = tf.where(is_note, event, tf.where(tf.equal(event, NOTE_OFF), 0, note))
        previous = last3[:, -1]
        direction = tf.where(is_note & (previous > 0) & (event > previous), 1,
                             tf.where(is_note & (previous > 0) & (event < previous), -1, direction))
        # the deque of the last 3 distinct notes: drop the new note if present, append it
        kept = tf.where(tf.equal(last3, event[:, None]), 0, last3)
        slots = tf.concat([kept, event[:, None]], axis=1)  # [B, 4], 0 = empty
        order = tf.argsort(tf.cast(slots > 0, tf.int32) * 8 + tf.range(4), axis=1, stable=True)
        compact = tf.gather(slots, order, batch_dims=1)[:, 1:]
        last3 = tf.where(is_note[:, None], compact, last3)
        counts = counts + tf.cast(is_note, tf.int32)[:, None] * tf.one_hot(tf.math.floormod(event, 12), 12,
                                                                           dtype=tf.int32)
        playing = note > 0
        pitch = tf.one_hot(tf.where(playing, note - self.min_note, -1), self.note_range)
        last3_counts = tf.reduce_sum(tf.one_hot(tf.where(last3 > 0, tf.math.floormod(last3, 12), -1), 12,
                                                dtype=tf.int32), axis=1)
        parts = [pitch, tf.cast(tf.stack([playing, ~playing], axis=1), tf.float32),
                 tf.cast(attack, tf.float32)[:, None], tf.cast(direction, tf.float32)[:, None],
                 _repeat_flags(window, n), _counter(n + 1, self.counter_bits),
                 tf.cast(tf.equal(tf.math.floormod(n + 1, STEPS_PER_BAR), 0), tf.float32)[:, None],
                 self._key_mask(counts), self._key_mask(last3_counts)]
        return tf.concat(parts, axis=1), (window, n + 1, note, attack, direction, last3, counts)
