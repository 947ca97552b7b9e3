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

import functools

import numpy as np

from note_rnn.music_features import *  # noqa: F401,F403  (re-exported: the rules' vocabulary)
from note_rnn.music_features import (  # noqa: E402
    _IN_KEY, _SCALE_POSITION, _fold_leaps, _with_note)


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
    """reward_preferred_intervals: Magenta's value of :func:`sequential_interval`, x5."""
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


def score_melody_list(melodies) -> list:
    """:func:`score_melodies` of melodies of any lengths, each scored as if alone.

    Melodies of equal length are scored together (rows are independent, so the values
    equal scoring each melody by itself; ``num_notes`` is each melody's own length).

    Args:
      melodies: an int [B, N] array or a sequence of 1-D token sequences.

    Returns:
      A list, in input order, of (total float64 [N_i], {component: float64 [N_i]}).

    Raises:
      ValueError: for an empty list, an empty melody or an invalid token.
    """
    result = [None] * (len(melodies))
    for indices, batch in group_by_length(melodies).values():
        total, parts = score_melodies(batch)
        for row, i in enumerate(indices):
            result[i] = (total[row], {name: value[row] for name, value in parts.items()})
    return result
