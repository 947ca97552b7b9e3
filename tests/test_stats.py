"""Tests of note_rnn.stats.composition_stats (the paper's Table-1 statistics)."""

import math

import numpy as np
import pytest

from note_rnn import music_theory as mt
from note_rnn import stats

try:
    from music_reference import RefTuner, random_melodies, ref_autocorrelate
except ImportError:  # tests/ imported as a package
    from tests.music_reference import RefTuner, random_melodies, ref_autocorrelate

C4, D4, E4, F4, G4, A4, B4, C5 = 14, 16, 18, 19, 21, 23, 25, 26


# --------------------------------------------------------------------------------------------
# Reference: a loop-based transcription of rl_tuner_eval_metrics.compute_composition_stats on
# given melodies (the RefTuner holds the original's composition and leap state).
# --------------------------------------------------------------------------------------------
def ref_composition_stats(melodies, original_in_key_bug=False):
    d = dict.fromkeys([
        "notes_not_in_key", "notes_in_motif", "notes_in_repeated_motif", "num_starting_tonic",
        "num_repeated_notes", "num_octave_jumps", "num_fifths", "num_thirds", "num_sixths",
        "num_seconds", "num_fourths", "num_sevenths", "num_rest_intervals",
        "num_special_rest_intervals", "num_in_key_preferred_intervals", "num_resolved_leaps",
        "num_leap_twice", "num_high_unique", "num_low_unique"], 0)
    autocorrelations = {1: [], 2: [], 3: []}
    for melody in melodies:
        tuner = RefTuner(len(melody))
        for note in (int(x) for x in melody):
            interval = tuner.detect_sequential_interval(note)[0]
            if interval == 0:
                pass
            elif interval == -1:
                d["num_rest_intervals"] += 1
            elif interval == -2:
                d["num_special_rest_intervals"] += 1
            elif interval > 12:
                d["num_octave_jumps"] += 1
            elif (interval == (-5 or interval == -3)) if original_in_key_bug else (
                    interval in (-5, -3)):
                d["num_in_key_preferred_intervals"] += 1
            elif interval == 7:
                d["num_fifths"] += 1
            elif interval == 4:
                d["num_thirds"] += 1
            elif interval == 9:
                d["num_sixths"] += 1
            elif interval == 2:
                d["num_seconds"] += 1
            elif interval == 5:
                d["num_fourths"] += 1
            elif interval == 11:
                d["num_sevenths"] += 1
            d["notes_not_in_key"] += note not in RefTuner.C_MAJOR_KEY
            d["num_starting_tonic"] += tuner.beat == 0 and note == 14
            d["num_repeated_notes"] += tuner.detect_repeating_notes(note)
            d["notes_in_motif"] += tuner.detect_last_motif(tuner.composition + [note])[0] is not None
            d["notes_in_repeated_motif"] += tuner.detect_repeated_motif(note)[0]
            outcome = tuner.detect_leap_up_back(note)
            d["num_resolved_leaps"] += outcome == 1
            d["num_leap_twice"] += outcome == -1
            tuner.play(note)
        for lag in (1, 2, 3):
            autocorrelations[lag].append(ref_autocorrelate(tuner.composition, lag))
        d["num_high_unique"] += tuner.detect_high_unique(tuner.composition)
        d["num_low_unique"] += tuner.detect_low_unique(tuner.composition)
    comps, notes = float(len(melodies)), float(len(melodies) * len(melodies[0]))
    leaps = d["num_resolved_leaps"] + d["num_leap_twice"]
    result = {
        "notes_excessively_repeated": d["num_repeated_notes"] / notes,
        "notes_not_in_key": d["notes_not_in_key"] / notes,
        "melodies_starting_with_tonic": d["num_starting_tonic"] / comps,
        "leaps_resolved": d["num_resolved_leaps"] / leaps if leaps else math.nan,
        "melodies_with_unique_max_note": d["num_high_unique"] / comps,
        "melodies_with_unique_min_note": d["num_low_unique"] / comps,
        "notes_in_motif": d["notes_in_motif"] / notes,
        "notes_in_repeated_motif": d["notes_in_repeated_motif"] / notes,
    }
    for lag in (1, 2, 3):
        values = np.array(autocorrelations[lag])
        result[f"mean_autocorrelation_lag{lag}"] = (
            np.nanmean(values) if not np.isnan(values).all() else math.nan)
    for name in ("octave_jumps", "fifths", "thirds", "sixths", "seconds", "fourths", "sevenths",
                 "rest_intervals", "special_rest_intervals", "in_key_preferred_intervals"):
        result[f"{name}_per_composition"] = d["num_" + name] / comps
    return result


def assert_stats_equal(actual, expected):
    for key, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(actual[key]), key
        else:
            assert actual[key] == pytest.approx(value, abs=1e-12), key


# --------------------------------------------------------------------------------------------
# Equivalence with the reference.
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed, count, length", [(11, 300, 32), (12, 120, 20), (13, 40, 9)])
def test_stats_equal_reference_on_random_melodies(seed, count, length):
    melodies = random_melodies(np.random.default_rng(seed), count, length)
    actual = stats.composition_stats(melodies)
    expected = ref_composition_stats(melodies)
    assert_stats_equal(actual, expected)
    assert actual["num_melodies"] == count
    # The original's (buggy) in-key count equals the in-key fifths alone.
    buggy = ref_composition_stats(melodies, original_in_key_bug=True)
    assert actual["in_key_fifths_per_composition"] == pytest.approx(
        buggy["in_key_preferred_intervals_per_composition"])


def test_stats_agree_with_score_melodies():
    melodies = random_melodies(np.random.default_rng(21), 200)
    actual = stats.composition_stats(melodies)
    _, parts = mt.score_melodies(melodies)
    assert actual["notes_in_motif"] == np.mean(parts["motif"] > 0)
    assert actual["notes_in_repeated_motif"] == np.mean(parts["repeated_motif"] > 0)
    assert actual["notes_excessively_repeated"] == np.mean(parts["repeating"] < 0)
    assert actual["notes_not_in_key"] == np.mean(parts["key"] < 0)
    resolved, doubled = np.sum(parts["leap"] > 0), np.sum(parts["leap"] < 0)
    assert actual["leaps_resolved"] == resolved / (resolved + doubled)


# --------------------------------------------------------------------------------------------
# Hand-made melodies (N = 8).
# --------------------------------------------------------------------------------------------
SCALE = [C4, D4, E4, F4, G4, A4, B4, C5]
# G4 0 C4 1 E5 E5 C#4 C4: 0 after G (special rest), G->C 7 from G (in-key 5th, a leap down),
# 1 after C (special hold), C4->E5 14 semitones (octave jump; leap back too early), E5 E5,
# E5->C#4 13 (octave jump), C#4 off key, C#4->C4 1. Max E5 and min C4 both twice.
MIXED = [G4, 0, C4, 1, 28, 28, 15, C4]
# C4->G4 leap up (in-key 5th), 19 18 16 seconds except 19->18, 16->14 resolves (<= 14);
# C4->G4 in-key 5th starts a leap up, G4->E5 in-key 5th doubles it. Max E5 once, C4 twice.
LEAPS = [C4, G4, F4, E4, D4, C4, G4, 28]
RESTS = [0] * 8  # every 0 from the third on repeats excessively (two 0s before it)


def test_hand_made_table_1():
    result = stats.composition_stats(np.array([SCALE, MIXED, LEAPS, RESTS]))
    total_notes = 4 * 8
    assert result["notes_excessively_repeated"] == 6 / total_notes  # RESTS[2:]
    assert result["notes_not_in_key"] == 1 / total_notes  # C#4 in MIXED
    assert result["melodies_starting_with_tonic"] == 2 / 4  # SCALE, LEAPS
    assert result["leaps_resolved"] == 1 / (1 + 1)  # LEAPS: one resolved, one doubled
    assert result["melodies_with_unique_max_note"] == 2 / 4  # SCALE (C5), LEAPS (E5)
    assert result["melodies_with_unique_min_note"] == 1 / 4  # SCALE (C4)
    assert result["notes_in_motif"] == 3 / total_notes  # the 8th note of the first three
    assert result["notes_in_repeated_motif"] == 0.0
    assert result["num_melodies"] == 4


def test_hand_made_interval_counters():
    result = stats.composition_stats(np.array([SCALE, MIXED, LEAPS, RESTS]))
    per_composition = {key[:-len("_per_composition")]: value for key, value in result.items()
                       if key.endswith("_per_composition")}
    assert per_composition == {
        "seconds": (5 + 3) / 4,  # SCALE: 14-16-18, 19-21-23-25; LEAPS: 21-19, 18-16-14
        "in_key_preferred_intervals": (1 + 3) / 4,  # MIXED: G4->C4; LEAPS: three fifths
        "in_key_fifths": 4 / 4, "in_key_thirds": 0.0,
        "octave_jumps": 2 / 4, "special_rest_intervals": 1 / 4, "special_hold_intervals": 1 / 4,
        "rest_intervals": 0.0, "hold_intervals": 0.0, "fifths": 0.0, "thirds": 0.0,
        "sixths": 0.0, "fourths": 0.0, "sevenths": 0.0}


def test_in_key_thirds_are_counted():
    # C4->E4: 4 from C (in-key 3rd); E4->G#4 (22): 4 from E (in-key 3rd); G#4->E4: a plain 3rd.
    result = stats.composition_stats(np.array([[C4, E4, 22, E4]]))
    assert result["in_key_preferred_intervals_per_composition"] == 2.0  # the original: 0
    assert result["in_key_thirds_per_composition"] == 2.0
    assert result["thirds_per_composition"] == 1.0


def test_autocorrelation_means():
    # [14, 16, 14]: r1 = -2/3, r2 = 1/6, r3 = 0 (see test_music_theory); [14, 14, 14] is NaN.
    result = stats.composition_stats(np.array([[C4, D4, C4], [C4, C4, C4]]))
    assert result["mean_autocorrelation_lag1"] == pytest.approx(-2 / 3)
    assert result["mean_autocorrelation_lag2"] == pytest.approx(1 / 6)
    assert result["mean_autocorrelation_lag3"] == 0.0
    constant = stats.composition_stats(np.array([[C4, C4, C4]]))
    assert math.isnan(constant["mean_autocorrelation_lag1"])


def test_repeated_motif_fraction():
    melody = [C4, D4, E4, F4] * 4  # N = 16; every 8-window holds 4 pitches
    result = stats.composition_stats(np.array([melody]))
    assert result["notes_in_motif"] == 9 / 16  # notes 7..15
    assert result["notes_in_repeated_motif"] == 1 / 16  # only note 15 (window 8..15 = 0..7)


def test_repeated_motif_must_not_overlap():
    period7 = [C4, D4, E4, F4, G4, A4, B4] * 3 + [C4]  # window s equals window s - 7
    result = stats.composition_stats(np.array([period7, period7[:21] + [D4]]))
    assert result["notes_in_repeated_motif"] == 1 / 44  # only the first melody's last note


def test_leaps_resolved_is_nan_without_leaps():
    assert math.isnan(stats.composition_stats(np.array([SCALE]))["leaps_resolved"])


def test_keys():
    result = stats.composition_stats(np.array([SCALE]))
    assert set(stats.TABLE_1_KEYS) <= set(result)
    assert len(result) == len(stats.TABLE_1_KEYS) + 14 + 1  # + interval counters + count


@pytest.mark.parametrize("melodies, message", [
    (np.zeros((0, 32), int), "at least one melody"),
    (np.zeros(32, int), "2-D"),
    (np.full((2, 32), 38), "outside 0..37"),
    (np.zeros((2, 32)), "integer"),
])
def test_errors(melodies, message):
    with pytest.raises(ValueError, match=message):
        stats.composition_stats(melodies)


def test_holm_by_hand():
    # The one Holm-Bonferroni correction of both melody studies (listening study, Table 1).
    # sorted 0.01, 0.03, 0.04, 0.5: 4 x 0.01, max(0.04, 3 x 0.03), max(0.09, 2 x 0.04), max(0.09, 0.5)
    assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.holm([0.6, 0.4]) == pytest.approx([0.8, 0.8])
    assert stats.holm([]) == []
    # m = 3 (None, an undefined test, stays None and does not count): sorted 0.01, 0.02, 0.04 ->
    # 0.03, max(0.03, 0.04) = 0.04, max(0.04, 0.04) = 0.04; the step-down is monotone and capped at 1.
    assert stats.holm([0.04, 0.01, 0.02, None]) == [pytest.approx(0.04), pytest.approx(0.03), pytest.approx(0.04), None]
    assert stats.holm([0.6, 0.5]) == [1.0, 1.0]
