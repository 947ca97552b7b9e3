"""A direct, loop-based, stateful transcription of Magenta's rl_tuner.py reward functions.

Spec section 3, one melody at a time, with the original's mutable composition and leap
state: the reference that the vectorised note_rnn.music_theory and note_rnn.stats are
compared with (tests/test_music_theory.py, tests/test_stats.py).
"""

import numpy as np

C4, D4, E4, F4, G4, A4, B4, C5 = 14, 16, 18, 19, 21, 23, 25, 26
ORIGINAL_NOTE_OFF, ORIGINAL_NO_EVENT = 0, 1  # the original's names of tokens 0 and 1

# --------------------------------------------------------------------------------------------
# A direct, loop-based, stateful transcription of Magenta's rl_tuner.py reward functions
# (spec section 3), for one melody at a time. Used as the reference for the vectorised code.
# --------------------------------------------------------------------------------------------
def ref_autocorrelate(signal, lag=1):
    n = len(signal)
    x = np.asarray(signal) - np.mean(signal)
    c0 = np.var(signal)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (x[lag:] * x[:n - lag]).sum() / float(n) / c0


class RefTuner:
    """The original RLTuner's composition state and reward functions (tokens as ints)."""

    C_MAJOR_KEY = [0, 1, 2, 4, 6, 7, 9, 11, 13, 14, 16, 18, 19, 21, 23, 25, 26, 28, 30, 31,
                   33, 35, 37]
    C_MAJOR_SCALE = [2, 4, 6, 7, 9, 11, 13, 14, 16, 18, 19, 21, 23, 25, 26]

    def __init__(self, num_notes_in_melody=32):
        self.num_notes_in_melody = num_notes_in_melody
        self.beat = 0
        self.composition = []
        self.composition_direction = 0
        self.leapt_from = None
        self.steps_since_last_leap = 0

    def play(self, note):
        self.composition.append(note)
        self.beat += 1

    def reward_key(self, a):
        return -1.0 if a not in self.C_MAJOR_KEY else 0

    def reward_tonic(self, a, tonic_note=14, reward_amount=3.0):
        first_note_of_final_bar = self.num_notes_in_melody - 4
        if self.beat == 0 or self.beat == first_note_of_final_bar:
            if a == tonic_note:
                return reward_amount
        elif self.beat == first_note_of_final_bar + 1:
            if a == ORIGINAL_NO_EVENT:
                return reward_amount
        elif self.beat > first_note_of_final_bar + 1:
            if a == ORIGINAL_NO_EVENT or a == ORIGINAL_NOTE_OFF:
                return reward_amount
        return 0.0

    def detect_repeating_notes(self, a):
        num_repeated, contains_held_notes, contains_breaks = 0, False, False
        for i in range(len(self.composition) - 1, -1, -1):
            if self.composition[i] == a:
                num_repeated += 1
            elif self.composition[i] == ORIGINAL_NOTE_OFF:
                contains_breaks = True
            elif self.composition[i] == ORIGINAL_NO_EVENT:
                contains_held_notes = True
            else:
                break
        if a == ORIGINAL_NOTE_OFF and num_repeated > 1:
            return True
        elif not contains_held_notes and not contains_breaks:
            if num_repeated > 4:
                return True
        elif contains_held_notes or contains_breaks:
            if num_repeated > 6:
                return True
        else:
            if num_repeated > 8:
                return True
        return False

    def reward_penalize_repeating(self, a):
        return -100.0 if self.detect_repeating_notes(a) else 0.0

    def reward_penalize_autocorrelation(self, a, penalty_weight=3.0):
        composition = self.composition + [a]
        sum_penalty = 0
        for lag in [1, 2, 3]:
            coeff = ref_autocorrelate(composition, lag=lag)
            if not np.isnan(coeff):
                if np.abs(coeff) > 0.15:
                    sum_penalty += np.abs(coeff) * penalty_weight
        return -sum_penalty

    def detect_last_motif(self, composition, bar_length=8):
        if len(composition) < bar_length:
            return None, 0
        last_bar = composition[-bar_length:]
        actual_notes = [x for x in last_bar if x != ORIGINAL_NO_EVENT and x != ORIGINAL_NOTE_OFF]
        num_unique_notes = len(set(actual_notes))
        if num_unique_notes >= 3:
            return last_bar, num_unique_notes
        return None, num_unique_notes

    def reward_motif(self, a, reward_amount=3.0):
        motif, num_notes_in_motif = self.detect_last_motif(self.composition + [a])
        if motif is not None:
            return reward_amount + max((num_notes_in_motif - 3) * .3, 0)
        return 0.0

    def detect_repeated_motif(self, a, bar_length=8):
        composition = self.composition + [a]
        if len(composition) < bar_length:
            return False, None
        motif, _ = self.detect_last_motif(composition, bar_length)
        if motif is None:
            return False, None
        prev_composition = self.composition[:-(bar_length - 1)]
        for i in range(len(prev_composition) - len(motif) + 1):
            for j in range(len(motif)):
                if prev_composition[i + j] != motif[j]:
                    break
            else:
                return True, motif
        return False, None

    def reward_repeated_motif(self, a, bar_length=8, reward_amount=4.0):
        is_repeated, motif = self.detect_repeated_motif(a, bar_length)
        if is_repeated:
            actual_notes = [x for x in motif if x != ORIGINAL_NO_EVENT and x != ORIGINAL_NOTE_OFF]
            return reward_amount + max(len(set(actual_notes)) - 3, 0)
        return 0.0

    def detect_sequential_interval(self, a):
        if not self.composition:
            return 0, None, None
        prev_note = self.composition[-1]
        c_notes, g_notes, e_notes = [2, 14, 26], [9, 21, 33], [6, 18, 30]
        prev_note_index = len(self.composition) - 1
        while prev_note in (ORIGINAL_NO_EVENT, ORIGINAL_NOTE_OFF) and prev_note_index >= 0:
            prev_note = self.composition[prev_note_index]
            prev_note_index -= 1
        if prev_note in (ORIGINAL_NOTE_OFF, ORIGINAL_NO_EVENT):
            return 0, a, prev_note
        if a == ORIGINAL_NO_EVENT:
            return (-2.5 if prev_note in c_notes + g_notes else -1.5), a, prev_note
        elif a == ORIGINAL_NOTE_OFF:
            return (-2 if prev_note in c_notes + g_notes else -1), a, prev_note
        interval = abs(a - prev_note)
        if interval == 7 and (prev_note in c_notes or prev_note in g_notes):
            return -5, a, prev_note
        if interval == 4 and (prev_note in c_notes or prev_note in e_notes):
            return -3, a, prev_note
        return interval, a, prev_note

    def reward_preferred_intervals(self, a, scaler=5.0):
        interval, _, _ = self.detect_sequential_interval(a)
        if interval == 0:
            return 0.0
        reward = 0.0
        table = [(-1, 0.05), (-1.5, 0.075), (-2, 0.15), (-2.5, 0.3), (11, -0.3)]
        for code, value in table:
            if interval == code:
                reward = value
        if interval > 12:
            reward = -1.0
        for code, value in [(-5, 0.1), (-3, 0.15), (4, 0.09), (2, 0.08), (5, 0.07), (9, 0.05),
                            (7, 0.02)]:
            if interval == code:
                reward = value
        return reward * scaler

    def detect_high_unique(self, composition):
        return list(composition).count(max(composition)) == 1

    def detect_low_unique(self, composition):
        pitches = [x for x in composition if x != ORIGINAL_NO_EVENT and x != ORIGINAL_NOTE_OFF]
        return bool(pitches) and list(composition).count(min(pitches)) == 1

    def reward_high_low_unique(self, a, reward_amount=3.0):
        if len(self.composition) + 1 != self.num_notes_in_melody:
            return 0.0
        composition = self.composition + [a]
        reward = 0.0
        if self.detect_high_unique(composition):
            reward += reward_amount
        if self.detect_low_unique(composition):
            reward += reward_amount
        return reward

    def detect_leap_up_back(self, a, steps_between_leaps=6):
        if not self.composition:
            return 0
        outcome = 0
        interval, action_note, prev_note = self.detect_sequential_interval(a)
        if action_note in (ORIGINAL_NOTE_OFF, ORIGINAL_NO_EVENT):
            self.steps_since_last_leap += 1
            return 0
        if interval >= 7 or interval == -5:
            leap_direction = 1 if action_note > prev_note else -1
            if self.composition_direction != 0:
                if self.composition_direction != leap_direction:
                    if self.steps_since_last_leap > steps_between_leaps:
                        outcome = 1
                    self.composition_direction = 0
                    self.leapt_from = None
                else:
                    outcome = -1
            else:
                self.composition_direction = leap_direction
                self.leapt_from = prev_note
            self.steps_since_last_leap = 0
        else:
            self.steps_since_last_leap += 1
            if (self.composition_direction == 1 and action_note <= self.leapt_from) or (
                    self.composition_direction == -1 and action_note >= self.leapt_from):
                outcome = 1
                self.composition_direction = 0
                self.leapt_from = None
        return outcome

    def reward_leap_up_back(self, a):
        outcome = self.detect_leap_up_back(a)
        return 5.0 if outcome == 1 else (-5.0 if outcome == -1 else 0.0)

    def reward_music_theory_components(self, a):
        """The nine components in the original's order (mutates the leap state once)."""
        return {
            "key": self.reward_key(a), "tonic": self.reward_tonic(a),
            "repeating": self.reward_penalize_repeating(a),
            "autocorrelation": self.reward_penalize_autocorrelation(a),
            "motif": self.reward_motif(a), "repeated_motif": self.reward_repeated_motif(a),
            "preferred_intervals": self.reward_preferred_intervals(a),
            "leap": self.reward_leap_up_back(a), "high_low_unique": self.reward_high_low_unique(a),
        }

    def reward_scale(self, obs, a):
        scale, reward = self.C_MAJOR_SCALE, 0
        if a == 1:
            reward += .1
        if obs < a < obs + 3:
            reward += .05
        if a in scale:
            reward += .01
            if obs in scale:
                if scale.index(obs) == len(scale) - 1 and scale.index(a) == 0:
                    reward += .8
                elif scale.index(a) == scale.index(obs) + 1:
                    reward += .8
        return reward


def ref_score(melody, num_notes=None):
    """Per-note component dicts of one melody, as the original's training loop scores it."""
    tuner = RefTuner(num_notes or len(melody))
    scores = []
    for note in melody:
        scores.append(tuner.reward_music_theory_components(int(note)))
        tuner.play(int(note))
    return scores


def random_melodies(rng, count, length=32):
    """Uniform, special-heavy, repeat-heavy and periodic (motif-heavy) melodies."""
    kinds = []
    for i in range(count):
        kind = i % 5
        if kind == 0:
            melody = rng.integers(0, 38, length)
        elif kind == 1:
            melody = np.where(rng.random(length) < 0.6, rng.integers(0, 2, length),
                              rng.integers(2, 38, length))
        elif kind == 2:
            melody = rng.choice([0, 1, C4, G4, C5, E4], size=length, p=[.3, .2, .2, .1, .1, .1])
        else:  # period 8 (kind 3) or 4..9 (kind 4), with a few random changes
            period = 8 if kind == 3 else int(rng.integers(4, 10))
            bar = rng.choice([0, 1, C4, D4, E4, G4, A4, 9, 33, 2], size=period)
            melody = np.concatenate([bar] * (length // period + 1))[:length]
            flips = rng.random(length) < 0.1
            melody = np.where(flips, rng.integers(0, 38, length), melody)
        kinds.append(melody)
    return np.array(kinds, dtype=np.int64)
