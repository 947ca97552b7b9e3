"""Pure feature detectors of melodies shared by the music-theory reward and Table-1 statistics.

Token conventions, index sets and constants of Magenta's ``rl_tuner`` / ``rl_tuner_ops``:
see :mod:`note_rnn.music_theory` for how the rules use them. Everything here is vectorised
over a batch of melodies (int arrays ``[B, t]``) and free of hidden state; the leap state
of the original's ``detect_leap_up_back`` is derived by folding :func:`leap_transition`.
"""

import collections

import numpy as np

from note_rnn import tokens

NUM_CLASSES = tokens.NUM_CLASSES
NO_EVENT = tokens.NO_EVENT  # 0: hold the previous note; the original calls it NOTE_OFF
NOTE_OFF = tokens.NOTE_OFF  # 1: start a rest; the original calls it NO_EVENT
FIRST_PITCH = tokens.FIRST_PITCH_TOKEN  # tokens >= 2 are pitches
NO_PITCH = -1  # "no previous pitch" marker (the original's None)

# Index sets (rl_tuner_ops). Pitch tokens: C3 = 2, C4 = 14 (tonic), C5 = 26.
C_MAJOR_KEY = (0, 1, 2, 4, 6, 7, 9, 11, 13, 14, 16, 18, 19, 21, 23, 25, 26, 28, 30, 31, 33, 35,
               37)  # both specials count as in key
C_MAJOR_SCALE = (2, 4, 6, 7, 9, 11, 13, 14, 16, 18, 19, 21, 23, 25, 26)  # C3..C5
C_MAJOR_TONIC = 14  # C4
C_PITCHES = (2, 14, 26)  # the original's c_notes / tonic_notes
E_PITCHES = (6, 18, 30)  # e_notes
G_PITCHES = (9, 21, 33)  # g_notes / fifth_notes

# Intervals in semitones (rl_tuner_ops).
OCTAVE, SEVENTH, SIXTH, FIFTH, FOURTH, THIRD, SECOND = 12, 11, 9, 7, 5, 4, 2
# Special interval codes of detect_sequential_interval (a "pitch" interval is |a - prev|).
NO_INTERVAL = 0.0  # empty composition, no previous pitch, or the same pitch
NO_EVENT_INTERVAL = -1.0  # token 0 after a pitch; the original's REST_INTERVAL
NOTE_OFF_INTERVAL = -1.5  # token 1 after a pitch; HOLD_INTERVAL
NO_EVENT_AFTER_C_OR_G = -2.0  # REST_INTERVAL_AFTER_THIRD_OR_FIFTH (checks C or G)
NOTE_OFF_AFTER_C_OR_G = -2.5  # HOLD_INTERVAL_AFTER_THIRD_OR_FIFTH (checks C or G)
IN_KEY_THIRD = -3.0  # 4 semitones up or down from a C or an E
IN_KEY_FIFTH = -5.0  # 7 semitones up or down from a C or a G

# Reward constants (default arguments of the original reward_* functions).
KEY_PENALTY = -1.0
TONIC_REWARD = 3.0
REPEAT_PENALTY = -100.0
MAX_REPEATED_NO_EVENTS = 1  # token 0 repeated more than this is excessive
MAX_REPEATS = 4  # ... a note repeated with no 0/1 token in between
MAX_REPEATS_WITH_SPECIALS = 6  # ... a note repeated with a 0 or 1 in between
AUTOCORRELATION_LAGS = (1, 2, 3)
AUTOCORRELATION_THRESHOLD = 0.15
AUTOCORRELATION_WEIGHT = 3.0
BAR_LENGTH = 8  # tokens per "bar" for motifs (the data's bar is 16 steps; it is the code)
MIN_MOTIF_PITCHES = 3
MOTIF_REWARD = 3.0
MOTIF_BONUS_PER_PITCH = 0.3
REPEATED_MOTIF_REWARD = 4.0
INTERVAL_SCALER = 5.0
LEAP_RESOLVED_BONUS = 5.0
LEAP_DOUBLED_PENALTY = -5.0
STEPS_BETWEEN_LEAPS = 6
LEAP_RESOLVED, LEAP_DOUBLED = 1, -1  # leap outcomes
ASCENDING, DESCENDING = 1, -1  # leap directions (0: no pending leap)
HIGH_LOW_UNIQUE_REWARD = 3.0
KEY_DISTRIBUTE_PROB = 1.0 / len(C_MAJOR_KEY)  # 1/23

# (code, base reward) of reward_preferred_intervals; the reward is base * INTERVAL_SCALER.
INTERVAL_BASE_REWARDS = (
    (NO_EVENT_INTERVAL, 0.05), (NOTE_OFF_INTERVAL, 0.075), (NO_EVENT_AFTER_C_OR_G, 0.15),
    (NOTE_OFF_AFTER_C_OR_G, 0.3), (SEVENTH, -0.3), (IN_KEY_FIFTH, 0.1), (IN_KEY_THIRD, 0.15),
    (THIRD, 0.09), (SECOND, 0.08), (FOURTH, 0.07), (SIXTH, 0.05), (FIFTH, 0.02))
LARGER_THAN_OCTAVE_REWARD = -1.0  # base reward of intervals > OCTAVE


def _lookup(indices):
    table = np.zeros(NUM_CLASSES, dtype=bool)
    table[list(indices)] = True
    return table


_IN_KEY = _lookup(C_MAJOR_KEY)
_C_OR_G = _lookup(C_PITCHES + G_PITCHES)
_C_OR_E = _lookup(C_PITCHES + E_PITCHES)
_CODE_BITS = 6  # 2**6 > NUM_CLASSES: a bar of 8 tokens codes into 48 bits
_SCALE_POSITION = np.full(NUM_CLASSES, -1, dtype=np.int64)
_SCALE_POSITION[list(C_MAJOR_SCALE)] = np.arange(len(C_MAJOR_SCALE))

LeapState = collections.namedtuple("LeapState", ["direction", "leapt_from", "steps_since_last_leap"])
LeapState.__doc__ = """Per-melody leap state of detect_leap_up_back, each an int64 [B] array.

direction: 0 (no pending leap), ASCENDING (+1) or DESCENDING (-1).
leapt_from: the pitch the pending leap started from, NO_PITCH (-1) if none.
steps_since_last_leap: notes played since the last leap.
"""


# ----------------------------------------------------------------------------- validation
def validate_tokens(array, ndim: int, name: str) -> np.ndarray:
    """Returns ``array`` as int64 after checking its rank, dtype and token range.

    Raises:
      ValueError: if the rank is not ``ndim``, the dtype is not integer, or a token is
        outside 0..NUM_CLASSES-1.
    """
    array = np.asarray(array)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D token array, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):  # (empty: any dtype)
        raise ValueError(f"{name} must hold integer tokens, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= NUM_CLASSES):
        raise ValueError(f"{name} holds tokens outside 0..{NUM_CLASSES - 1} "
                         f"(min {array.min()}, max {array.max()})")
    return array.astype(np.int64, copy=False)


def group_by_length(melodies) -> dict:
    """Groups melodies of possibly different lengths into equally long batches.

    Args:
      melodies: an int [B, N] array or a sequence of 1-D token sequences.

    Returns:
      ``{length: (indices int64 [b], tokens int64 [b, length])}``: the rows of each length,
      validated (:func:`validate_tokens`), and where they were in ``melodies``.

    Raises:
      ValueError: if ``melodies`` is empty, a melody is empty or not 1-D, or a token is
        invalid.
    """
    if isinstance(melodies, np.ndarray) and melodies.ndim == 2:  # one batch (fast path)
        melodies = validate_tokens(melodies, 2, "melodies")
        if melodies.size == 0:
            raise ValueError(f"need at least one melody of at least one note, got {melodies.shape}")
        return {melodies.shape[1]: (np.arange(len(melodies)), melodies)}
    if isinstance(melodies, np.ndarray):
        raise ValueError(f"melodies must be a 2-D token array or a list of melodies, got shape {melodies.shape}")
    else:
        rows = [np.asarray(m) for m in melodies]
    if not rows:
        raise ValueError("need at least one melody")
    groups = {}
    for i, row in enumerate(rows):
        row = validate_tokens(row, 1, f"melody {i}")
        if row.size == 0:
            raise ValueError(f"melody {i} is empty")
        groups.setdefault(len(row), []).append((i, row))
    return {n: (np.array([i for i, _ in items]), np.stack([r for _, r in items])) for n, items in groups.items()}


def validate_inputs(composition, notes):
    """Validates a rule's (composition [B, t], notes [B]); returns both as int64.

    Raises:
      ValueError: on a wrong rank or dtype, a batch-size mismatch, or tokens outside 0..37.
    """
    composition = validate_tokens(composition, 2, "composition")
    notes = validate_tokens(notes, 1, "notes")
    if composition.shape[0] != notes.shape[0]:
        raise ValueError(f"composition has {composition.shape[0]} melodies (shape "
                         f"{composition.shape}) but notes has {notes.shape[0]}")
    return composition, notes


def _with_note(composition, notes):
    return np.concatenate([composition, notes[:, None]], axis=1)


# ----------------------------------------------------------------------------- detectors
def last_pitch(composition: np.ndarray) -> np.ndarray:
    """The most recent pitch (token >= 2) of each melody, or NO_PITCH (-1) if it has none."""
    batch, length = composition.shape
    if length == 0:
        return np.full(batch, NO_PITCH, dtype=np.int64)
    is_pitch = composition[:, ::-1] >= FIRST_PITCH
    offset = is_pitch.argmax(axis=1)
    found = composition[np.arange(batch), length - 1 - offset]
    return np.where(is_pitch.any(axis=1), found, NO_PITCH)


def interval_codes(previous_pitch: np.ndarray, notes: np.ndarray) -> np.ndarray:
    """The detect_sequential_interval code from the previous pitch (inputs not validated).

    Args:
      previous_pitch: int [B], the most recent pitch before the note, or NO_PITCH.
      notes: int [B], the token played now.

    Returns:
      float64 [B]: NO_INTERVAL without a previous pitch; the special codes for tokens 0/1;
      IN_KEY_FIFTH / IN_KEY_THIRD; otherwise |note - previous_pitch| in semitones.
    """
    has_previous = previous_pitch >= FIRST_PITCH
    safe_previous = np.where(has_previous, previous_pitch, 0)
    after_c_or_g = _C_OR_G[safe_previous]
    semitones = np.abs(notes - previous_pitch)
    pitch_code = np.where((semitones == FIFTH) & after_c_or_g, IN_KEY_FIFTH,
                          np.where((semitones == THIRD) & _C_OR_E[safe_previous], IN_KEY_THIRD,
                                   semitones))
    code = np.where(notes == NOTE_OFF,
                    np.where(after_c_or_g, NOTE_OFF_AFTER_C_OR_G, NOTE_OFF_INTERVAL),
                    np.where(notes == NO_EVENT,
                             np.where(after_c_or_g, NO_EVENT_AFTER_C_OR_G, NO_EVENT_INTERVAL),
                             pitch_code))
    return np.where(has_previous, code, NO_INTERVAL).astype(np.float64)


def sequential_interval(composition: np.ndarray, notes: np.ndarray) -> np.ndarray:
    """The interval code of each note (Magenta's ``detect_sequential_interval``).

    Args:
      composition: int [B, t], the tokens already played.
      notes: int [B], the token played now.

    Returns:
      float64 [B] interval codes (see :func:`interval_codes`).

    Raises:
      ValueError: on a shape mismatch or tokens outside 0..37.
    """
    composition, notes = validate_inputs(composition, notes)
    return interval_codes(last_pitch(composition), notes)


def detect_repeating_notes(composition: np.ndarray, notes: np.ndarray) -> np.ndarray:
    """Whether each note repeats excessively (``detect_repeating_notes``; inputs not validated).

    Scanning back from the end, the run of tokens equal to the note or 0/1 is examined: a
    token 0 repeated more than once, a note repeated more than 4 times with no other 0/1 in
    the run, or more than 6 times with one, is excessive.

    Returns:
      bool [B].
    """
    same = composition == notes[:, None]
    in_run = same | (composition == NO_EVENT) | (composition == NOTE_OFF)
    run = np.logical_and.accumulate(in_run[:, ::-1], axis=1)[:, ::-1]
    num_repeated = (same & run).sum(axis=1)
    has_special = (run & ~same & (composition <= NOTE_OFF)).any(axis=1)
    return (((notes == NO_EVENT) & (num_repeated > MAX_REPEATED_NO_EVENTS))
            | (~has_special & (num_repeated > MAX_REPEATS))
            | (has_special & (num_repeated > MAX_REPEATS_WITH_SPECIALS)))


def autocorrelations(sequences: np.ndarray, lags=AUTOCORRELATION_LAGS) -> np.ndarray:
    """``rl_tuner_ops.autocorrelate`` of each row (raw tokens, 0/1 included) at each lag.

    Args:
      sequences: int [B, n].
      lags: the lags k >= 1.

    Returns:
      float64 [B, len(lags)]: sum_t (x_{t+k} - mean)(x_t - mean) / n / var, with the
      population variance; NaN for a constant row (0 / 0, as in the original).
    """
    length = sequences.shape[1]
    centred = sequences - sequences.mean(axis=1, keepdims=True)
    variance = (centred * centred).sum(axis=1) / length  # = np.var, same floats
    result = np.zeros((sequences.shape[0], len(lags)))
    with np.errstate(divide="ignore", invalid="ignore"):
        for column, lag in enumerate(lags):
            numerator = (centred[:, lag:] * centred[:, :max(length - lag, 0)]).sum(axis=1)
            result[:, column] = numerator / float(length) / variance
    return result


def _popcount(values):
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(values).astype(np.int64)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
    return table[values.view(np.uint8)].reshape(values.shape + (8,)).sum(axis=-1)


def bar_windows(melodies: np.ndarray):
    """Distinct-pitch counts and exact codes of every BAR_LENGTH-token window.

    Window s covers tokens s..s+7; the note at position s+7 "plays" it.

    Args:
      melodies: int [B, n] tokens (not validated).

    Returns:
      (counts, codes), int64 [B, max(n - 7, 0)] each: the number of distinct pitches
      (tokens >= 2) and an injective code of the 8 tokens (6 bits per token).
    """
    batch, length = melodies.shape
    width = max(length - BAR_LENGTH + 1, 0)
    pitch_bits = np.where(melodies >= FIRST_PITCH, np.left_shift(np.int64(1), melodies), 0)
    union = np.zeros((batch, width), dtype=np.int64)
    codes = np.zeros((batch, width), dtype=np.int64)
    for offset in range(BAR_LENGTH if width else 0):
        union |= pitch_bits[:, offset:offset + width]
        codes |= np.left_shift(melodies[:, offset:offset + width], _CODE_BITS * offset)
    return _popcount(union), codes


def repeated_bar_windows(counts: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """bool [B, W]: window s is a motif that also occurs at a start i <= s - 8 (no overlap)."""
    repeated = np.zeros(codes.shape, dtype=bool)
    for start in range(BAR_LENGTH, codes.shape[1]):
        earlier = codes[:, :start - BAR_LENGTH + 1]
        repeated[:, start] = (counts[:, start] >= MIN_MOTIF_PITCHES) & (
            earlier == codes[:, start:start + 1]).any(axis=1)
    return repeated


def in_key(tokens_: np.ndarray) -> np.ndarray:
    """Whether each token is in C_MAJOR_KEY (tokens 0 and 1 count as in key)."""
    return _IN_KEY[tokens_]


def high_unique(melodies: np.ndarray) -> np.ndarray:
    """``detect_high_unique``: the maximum *token* (specials included) occurs once. bool [B]."""
    return (melodies == melodies.max(axis=1, keepdims=True)).sum(axis=1) == 1


def low_unique(melodies: np.ndarray) -> np.ndarray:
    """``detect_low_unique``: the minimum *pitch* occurs once (False without pitches)."""
    is_pitch = melodies >= FIRST_PITCH
    lowest = np.where(is_pitch, melodies, NUM_CLASSES).min(axis=1, keepdims=True)
    return is_pitch.any(axis=1) & ((melodies == lowest).sum(axis=1) == 1)


# ----------------------------------------------------------------------------- leap state
def initial_leap_state(batch_size: int) -> LeapState:
    """The state after ``reset_composition``: no pending leap, zero steps."""
    zeros = np.zeros(batch_size, dtype=np.int64)
    return LeapState(zeros, np.full(batch_size, NO_PITCH, dtype=np.int64), zeros)


def leap_transition(state: LeapState, previous_pitch: np.ndarray, notes: np.ndarray):
    """One call of ``detect_leap_up_back(steps_between_leaps=6)`` on a non-empty composition.

    (On an empty composition the original returns 0 and leaves the state unchanged; callers
    skip the transition for the first note.)

    Args:
      state: the LeapState before the note.
      previous_pitch: int [B], the most recent pitch before the note, or NO_PITCH.
      notes: int [B], the token played now.

    Returns:
      (new_state, outcome): outcome is int64 [B], LEAP_RESOLVED (+1), LEAP_DOUBLED (-1) or 0.
    """
    direction, leapt_from, steps = state
    is_pitch = notes >= FIRST_PITCH
    # A leap: interval >= FIFTH (or the IN_KEY_FIFTH code, also 7 semitones).
    is_leap = is_pitch & (previous_pitch >= FIRST_PITCH) & (
        np.abs(notes - previous_pitch) >= FIFTH)
    leap_direction = np.where(notes > previous_pitch, ASCENDING, DESCENDING)
    pending = direction != 0
    starts = is_leap & ~pending
    doubled = is_leap & pending & (direction == leap_direction)
    leaps_back = is_leap & pending & (direction != leap_direction)
    gradual = is_pitch & ~is_leap & (((direction == ASCENDING) & (notes <= leapt_from))
                                     | ((direction == DESCENDING) & (notes >= leapt_from)))
    resolved = (leaps_back & (steps > STEPS_BETWEEN_LEAPS)) | gradual
    cleared = leaps_back | gradual
    new_state = LeapState(
        np.where(starts, leap_direction, np.where(cleared, 0, direction)),
        np.where(starts, previous_pitch, np.where(cleared, NO_PITCH, leapt_from)),
        np.where(is_leap, 0, steps + 1))
    outcome = np.where(resolved, LEAP_RESOLVED, np.where(doubled, LEAP_DOUBLED, 0))
    return new_state, outcome


def _fold_leaps(composition):
    """Returns (LeapState after the composition, its last pitch)."""
    batch = composition.shape[0]
    state, previous = initial_leap_state(batch), np.full(batch, NO_PITCH, dtype=np.int64)
    for position in range(composition.shape[1]):
        note = composition[:, position]
        if position > 0:
            state, _ = leap_transition(state, previous, note)
        previous = np.where(note >= FIRST_PITCH, note, previous)
    return state, previous


def leap_state(composition: np.ndarray) -> LeapState:
    """The leap state the original holds after playing ``composition`` (int [B, t]).

    Raises:
      ValueError: if ``composition`` is not a 2-D array of tokens 0..37.
    """
    return _fold_leaps(validate_tokens(composition, 2, "composition"))[0]
