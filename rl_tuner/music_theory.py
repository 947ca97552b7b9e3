"""The music-theory reward r_MT of Magenta's RL Tuner, vectorised over a batch of melodies.

Conventions:

* A *composition* is an int array ``[B, t]``: the tokens already played in each of ``B``
  melodies (all of the same length ``t >= 0``). ``notes`` is an int array ``[B]``: the token
  played now. It sits at 0-based position ``t``, which is also its *beat* (the original's
  ``self.beat``). ``num_notes`` is the melody length ``N`` (the original's
  ``num_notes_in_melody``, 32).
* Tokens follow :mod:`note_rnn.tokens`: 0 = no event (hold), 1 = note-off (rest),
  ``i >= 2`` = MIDI pitch ``46 + i``; a *pitch* is a token ``>= 2``. Magenta's ``rl_tuner.py``
  calls index 0 ``NOTE_OFF`` and index 1 ``NO_EVENT``. Every rule here is applied **by index**
  exactly as the original code does, so e.g. the tonic rule rewards token 1 at beat N-3.
  Constants are named by what the data means; the original's names are in comments.
* Every rule has the signature ``rule(composition, notes, num_notes=32) -> float64 [B]``
  and returns the *unscaled* component (before ``reward_scaler`` = 1/c).
* All functions are pure. The original's leap rule kept mutable state; here the state is
  derived from the composition by folding :func:`leap_transition` over it
  (:func:`leap_state`). This equals the original's training loop, which calls the rule once
  per note and resets the state with the composition.

Deviation from the original: :func:`reward_non_repeating` returns 0.0 on an excessive repeat,
where the original returned ``None`` (a crash when the reward is scaled).
"""

import collections
import functools

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
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer tokens, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= NUM_CLASSES):
        raise ValueError(f"{name} holds tokens outside 0..{NUM_CLASSES - 1} "
                         f"(min {array.min()}, max {array.max()})")
    return array.astype(np.int64, copy=False)


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
    """The interval code of each note (spec 3.2, ``detect_sequential_interval``).

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


# ----------------------------------------------------------------------------- components
_RULE_DOC = """
    Args:
      composition: int [B, t], the tokens already played; the note is at beat t.
      notes: int [B], the token played now.
      num_notes: the melody length N.

    Returns:
      float64 [B], the unscaled value.

    Raises:
      ValueError: on a batch-size mismatch or tokens outside 0..37.
    """


def _rule(function):
    """Decorator: validates a rule's inputs; the unvalidated rule stays as ``.unchecked``."""
    @functools.wraps(function)
    def checked(composition: np.ndarray, notes: np.ndarray, num_notes: int = 32) -> np.ndarray:
        composition, notes = validate_inputs(composition, notes)
        return function(composition, notes, num_notes)
    checked.unchecked = function
    checked.__doc__ = function.__doc__ + "\n" + _RULE_DOC
    return checked


@_rule
def key(composition, notes, num_notes=32):
    """reward_key: -1 if the note is not in C_MAJOR_KEY (tokens 0 and 1 are in key)."""
    return np.where(_IN_KEY[notes], 0.0, KEY_PENALTY)


@_rule
def tonic(composition, notes, num_notes=32):
    """reward_tonic: +3 for token 14 (C4) at beats 0 and N-4, for token 1 at beat N-3, and
    for token 0 or 1 at beats > N-3."""
    beat, first_note_of_final_bar = composition.shape[1], num_notes - 4
    if beat == 0 or beat == first_note_of_final_bar:
        hit = notes == C_MAJOR_TONIC
    elif beat == first_note_of_final_bar + 1:
        hit = notes == NOTE_OFF  # the original's NO_EVENT: token 1
    elif beat > first_note_of_final_bar + 1:
        hit = notes <= NOTE_OFF  # token 0 or 1
    else:
        hit = np.zeros(notes.shape, dtype=bool)
    return np.where(hit, TONIC_REWARD, 0.0)


@_rule
def repeating(composition, notes, num_notes=32):
    """reward_penalize_repeating: -100 if :func:`detect_repeating_notes`."""
    return np.where(detect_repeating_notes(composition, notes), REPEAT_PENALTY, 0.0)


@_rule
def autocorrelation(composition, notes, num_notes=32):
    """reward_penalize_autocorrelation: -3|r_k| for each lag k in 1..3 with |r_k| > 0.15,
    r_k = :func:`autocorrelations` of composition + [note] (NaN, a constant row: no penalty)."""
    sizes = np.abs(autocorrelations(_with_note(composition, notes)))
    penalty = np.zeros(notes.shape[0])
    for column in range(sizes.shape[1]):  # NaN fails the test below
        penalty += np.where(sizes[:, column] > AUTOCORRELATION_THRESHOLD,
                            sizes[:, column] * AUTOCORRELATION_WEIGHT, 0.0)
    return 0.0 - penalty  # (not -penalty: no -0.0)


def motif_reward(counts: np.ndarray) -> np.ndarray:
    """reward_motif of distinct-pitch counts u: 3 + max(0, 0.3 (u - 3)) if u >= 3, else 0."""
    bonus = np.maximum((counts - MIN_MOTIF_PITCHES) * MOTIF_BONUS_PER_PITCH, 0)
    return np.where(counts >= MIN_MOTIF_PITCHES, MOTIF_REWARD + bonus, 0.0)


def repeated_motif_reward(counts: np.ndarray, repeated: np.ndarray) -> np.ndarray:
    """reward_repeated_motif of counts u and repeat flags: 4 + max(0, u - 3) if repeated."""
    bonus = np.maximum(counts - MIN_MOTIF_PITCHES, 0)
    return np.where(repeated, REPEATED_MOTIF_REWARD + bonus, 0.0)


@_rule
def motif(composition, notes, num_notes=32):
    """reward_motif: 3 + max(0, 0.3 (u - 3)) if the last 8 tokens (note included) hold
    u >= 3 distinct pitches; 0 before beat 7."""
    if composition.shape[1] + 1 < BAR_LENGTH:
        return np.zeros(notes.shape[0])
    window = _with_note(composition[:, composition.shape[1] + 1 - BAR_LENGTH:], notes)
    return motif_reward(bar_windows(window)[0][:, 0])


@_rule
def repeated_motif(composition, notes, num_notes=32):
    """reward_repeated_motif: 4 + max(0, u - 3) if the motif's exact 8 tokens also occur as
    a window of composition[:-7], i.e. ending before the current window."""
    counts, codes = bar_windows(_with_note(composition, notes))
    last = codes.shape[1] - 1
    if last < BAR_LENGTH:
        return np.zeros(notes.shape[0])
    repeated = (counts[:, last] >= MIN_MOTIF_PITCHES) & (
        codes[:, :last - BAR_LENGTH + 1] == codes[:, last:]).any(axis=1)
    return repeated_motif_reward(counts[:, last], repeated)


def interval_reward(codes: np.ndarray) -> np.ndarray:
    """The reward_preferred_intervals value (base * 5) of an array of interval codes."""
    reward = np.zeros(codes.shape)
    for code, base in INTERVAL_BASE_REWARDS:
        reward = np.where(codes == code, base * INTERVAL_SCALER, reward)
    return np.where(codes > OCTAVE, LARGER_THAN_OCTAVE_REWARD * INTERVAL_SCALER, reward)


@_rule
def preferred_intervals(composition, notes, num_notes=32):
    """reward_preferred_intervals: the spec 3.2 value of :func:`sequential_interval`, x5."""
    return interval_reward(interval_codes(last_pitch(composition), notes))


def leap_reward(outcome: np.ndarray) -> np.ndarray:
    """reward_leap_up_back of leap outcomes: +5 resolved, -5 doubled, else 0."""
    return np.where(outcome == LEAP_RESOLVED, LEAP_RESOLVED_BONUS,
                    np.where(outcome == LEAP_DOUBLED, LEAP_DOUBLED_PENALTY, 0.0))


@_rule
def leap(composition, notes, num_notes=32):
    """reward_leap_up_back: +5 if the note resolves a leap, -5 if it doubles one (the state
    is :func:`leap_state` of the composition; 0 for an empty composition)."""
    if composition.shape[1] == 0:
        return np.zeros(notes.shape[0])
    state, previous = _fold_leaps(composition)
    return leap_reward(leap_transition(state, previous, notes)[1])


@_rule
def high_low_unique(composition, notes, num_notes=32):
    """reward_high_low_unique: only at the last note (t + 1 == N): +3 if the highest token
    and +3 if the lowest pitch of the whole melody occur exactly once."""
    if composition.shape[1] + 1 != num_notes:
        return np.zeros(notes.shape[0])
    melody = _with_note(composition, notes)
    return (np.where(high_unique(melody), HIGH_LOW_UNIQUE_REWARD, 0.0)
            + np.where(low_unique(melody), HIGH_LOW_UNIQUE_REWARD, 0.0))


COMPONENTS = {
    "key": key, "tonic": tonic, "repeating": repeating, "autocorrelation": autocorrelation,
    "motif": motif, "repeated_motif": repeated_motif, "preferred_intervals": preferred_intervals,
    "leap": leap, "high_low_unique": high_low_unique,
}


def component_rewards(composition: np.ndarray, notes: np.ndarray,
                      num_notes: int = 32) -> dict:
    """All nine unscaled components, ``{name: float64 [B]}`` in COMPONENTS order.

    Raises:
      ValueError: on a batch-size mismatch or tokens outside 0..37.
    """
    composition, notes = validate_inputs(composition, notes)
    return {name: rule.unchecked(composition, notes, num_notes)
            for name, rule in COMPONENTS.items()}


@_rule
def music_theory_reward(composition, notes, num_notes=32):
    """reward_music_theory: the unscaled r_MT, the nine components summed in order."""
    total = 0.0
    for rule in COMPONENTS.values():
        total = total + rule.unchecked(composition, notes, num_notes)  # the original's order
    return total


# ----------------------------------------------------------------------------- other modes
@_rule
def reward_key_distribute_prob(composition, notes, num_notes=32):
    """reward_key_distribute_prob ('key' mode): 1/23 for a note in C_MAJOR_KEY, else 0."""
    return np.where(_IN_KEY[notes], KEY_DISTRIBUTE_PROB, 0.0)


@_rule
def reward_non_repeating(composition, notes, num_notes=32):
    """reward_non_repeating: 0.1 unless :func:`detect_repeating_notes`, then 0.0 (the
    original returns None there, which crashes; 0.0 is this port's fix)."""
    return np.where(detect_repeating_notes(composition, notes), 0.0, 0.1)


def reward_scale(composition: np.ndarray, notes: np.ndarray, num_notes: int = 32,
                 previous: np.ndarray = None) -> np.ndarray:
    """``reward_scale(obs, action)``: teaches the C major scale C3..C5.

    +0.1 for token 1; +0.05 if obs < note < obs + 3; +0.01 for a note in C_MAJOR_SCALE, and
    +0.8 more if obs is in the scale and the note is its next degree (wrapping C5 -> C3).

    Args:
      composition: int [B, t], the tokens already played.
      notes: int [B], the token played now.
      num_notes: unused (uniform signature).
      previous: int [B], the previous observation ``obs``. Defaults to the last token of
        the composition; required at t = 0, where the original used the priming note.

    Returns:
      float64 [B].

    Raises:
      ValueError: on a shape mismatch, tokens outside 0..37, or t = 0 without ``previous``.
    """
    composition, notes = validate_inputs(composition, notes)
    if previous is None:
        if composition.shape[1] == 0:
            raise ValueError("reward_scale needs `previous` (the priming note) at beat 0")
        previous = composition[:, -1]
    else:
        previous = validate_tokens(previous, 1, "previous")
        if previous.shape != notes.shape:
            raise ValueError(f"previous has shape {previous.shape}, notes {notes.shape}")
    note_position, obs_position = _SCALE_POSITION[notes], _SCALE_POSITION[previous]
    reward = np.zeros(notes.shape[0])  # summed in the original's order (same floats)
    reward = reward + np.where(notes == NOTE_OFF, 0.1, 0.0)
    reward = reward + np.where((notes > previous) & (notes < previous + 3), 0.05, 0.0)
    in_scale = note_position >= 0
    reward = reward + np.where(in_scale, 0.01, 0.0)
    last = len(C_MAJOR_SCALE) - 1
    next_degree = in_scale & (obs_position >= 0) & (
        ((obs_position == last) & (note_position == 0)) | (note_position == obs_position + 1))
    return reward + np.where(next_degree, 0.8, 0.0)


# ----------------------------------------------------------------------------- whole melodies
def score_melodies(melodies: np.ndarray):
    """The unscaled r_MT of every note, as the original's training loop computes it.

    Note t is scored with composition = melodies[:, :t] and num_notes = N. Motifs and the
    leap state are computed incrementally, with the same results as the rules.

    Args:
      melodies: int [B, N] complete melodies.

    Returns:
      (total float64 [B, N], {component name: float64 [B, N]} in COMPONENTS order).

    Raises:
      ValueError: if ``melodies`` is not a 2-D array of tokens 0..37.
    """
    melodies = validate_tokens(melodies, 2, "melodies")
    batch, num_notes = melodies.shape
    parts = {name: np.zeros((batch, num_notes)) for name in COMPONENTS}
    counts, codes = bar_windows(melodies)
    parts["motif"][:, BAR_LENGTH - 1:] = motif_reward(counts)
    parts["repeated_motif"][:, BAR_LENGTH - 1:] = repeated_motif_reward(
        counts, repeated_bar_windows(counts, codes))
    columns = {name: [] for name in ("key", "tonic", "repeating", "autocorrelation",
                                      "high_low_unique")}
    codes = np.zeros((batch, num_notes))
    state = initial_leap_state(batch)
    previous = np.full(batch, NO_PITCH, dtype=np.int64)
    for beat in range(num_notes):
        composition, notes = melodies[:, :beat], melodies[:, beat]
        for name, column in columns.items():
            column.append(COMPONENTS[name].unchecked(composition, notes, num_notes))
        codes[:, beat] = interval_codes(previous, notes)
        if beat > 0:  # detect_leap_up_back returns 0 on an empty composition
            state, outcome = leap_transition(state, previous, notes)
            parts["leap"][:, beat] = leap_reward(outcome)
        previous = np.where(notes >= FIRST_PITCH, notes, previous)
    for name, column in columns.items():
        parts[name] = np.stack(column, axis=1) if column else parts[name]
    parts["preferred_intervals"] = interval_reward(codes)
    total = 0.0
    for value in parts.values():
        total = total + value  # the original's order
    return total, parts
