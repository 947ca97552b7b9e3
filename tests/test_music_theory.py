"""Behaviour tests of note_rnn.music_theory (the r_MT reward, vectorised over melodies).

Token reminders: 0/1 are the special tokens (the original calls 0 NOTE_OFF and 1 NO_EVENT);
pitch tokens: C3=2, C4=14, D4=16, E4=18, F4=19, G4=21, A4=23, B4=25, C5=26 (token = MIDI - 46).
"""

import numpy as np
import pytest

from note_rnn import music_theory as mt

try:
    from music_reference import RefTuner, random_melodies, ref_score
except ImportError:  # tests/ imported as a package
    from tests.music_reference import RefTuner, random_melodies, ref_score

C4, D4, E4, F4, G4, A4, B4, C5 = 14, 16, 18, 19, 21, 23, 25, 26
ORIGINAL_NOTE_OFF, ORIGINAL_NO_EVENT = 0, 1  # the original's names of tokens 0 and 1


def call(rule, composition, note, num_notes=32):
    """Applies a batched rule to one melody's composition and note; returns a float."""
    composition = np.array(composition, dtype=np.int64).reshape(1, -1)
    return float(rule(composition, np.array([note]), num_notes)[0])


# --------------------------------------------------------------------------------------------
# Equivalence with the reference.
# --------------------------------------------------------------------------------------------
def test_score_melodies_equals_reference_on_random_melodies():
    melodies = random_melodies(np.random.default_rng(1234), 320)
    total, components = mt.score_melodies(melodies)
    assert list(components) == list(mt.COMPONENTS)
    for b, melody in enumerate(melodies):
        for t, expected in enumerate(ref_score(melody)):
            for name, value in expected.items():
                assert components[name][b, t] == value, (b, t, name)  # bit-identical
            assert total[b, t] == sum(expected.values()), (b, t)  # same summation order


def test_every_batched_rule_equals_reference_at_every_beat():
    rng = np.random.default_rng(99)
    melodies = random_melodies(rng, 200, length=24)
    tuners = [RefTuner(24) for _ in melodies]
    for t in range(24):
        composition, notes = melodies[:, :t], melodies[:, t]
        batched = {name: rule(composition, notes, 24) for name, rule in mt.COMPONENTS.items()}
        total = mt.music_theory_reward(composition, notes, 24)
        codes = mt.sequential_interval(composition, notes)
        for b, tuner in enumerate(tuners):
            code = tuner.detect_sequential_interval(int(notes[b]))[0]
            expected = tuner.reward_music_theory_components(int(notes[b]))
            assert codes[b] == code
            for name, value in expected.items():
                assert batched[name][b] == value, (b, t, name)
            assert total[b] == sum(expected.values())
            state = mt.leap_state(melodies[b:b + 1, :t + 1])  # the tuner has now seen note t
            assert state.direction[0] == tuner.composition_direction
            assert state.leapt_from[0] == (mt.NO_PITCH if tuner.leapt_from is None
                                           else tuner.leapt_from)
            assert state.steps_since_last_leap[0] == tuner.steps_since_last_leap
            tuner.play(int(notes[b]))


def test_other_mode_rewards_equal_reference():
    rng = np.random.default_rng(7)
    melodies = random_melodies(rng, 200, length=12)
    for t in range(1, 12):
        composition, notes = melodies[:, :t], melodies[:, t]
        scale = mt.reward_scale(composition, notes)
        distribute = mt.reward_key_distribute_prob(composition, notes)
        non_repeating = mt.reward_non_repeating(composition, notes)
        for b in range(len(melodies)):
            tuner = RefTuner(12)
            tuner.composition = [int(x) for x in composition[b]]
            a = int(notes[b])
            assert scale[b] == tuner.reward_scale(tuner.composition[-1], a)
            assert distribute[b] == (1.0 / 23 if a in RefTuner.C_MAJOR_KEY else 0.0)
            assert non_repeating[b] == (0.0 if tuner.detect_repeating_notes(a) else 0.1)


# --------------------------------------------------------------------------------------------
# Hand-made cases, rule by rule.
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("note, expected", [
    (C4, 0.0), (0, 0.0), (1, 0.0), (37, 0.0),  # C4, both specials, B5: in key
    (15, -1.0), (36, -1.0), (3, -1.0)])  # C#4, A#5, C#3
def test_key(note, expected):
    assert call(mt.key, [C4], note) == expected


@pytest.mark.parametrize("beat, note, expected", [
    (0, C4, 3.0), (0, C5, 0.0), (0, 1, 0.0), (5, C4, 0.0),
    (28, C4, 3.0), (28, 1, 0.0),  # N-4: the tonic
    (29, 1, 3.0), (29, 0, 0.0), (29, C4, 0.0),  # N-3: token 1 only (the original's NO_EVENT)
    (30, 0, 3.0), (30, 1, 3.0), (31, 0, 3.0), (31, 1, 3.0), (31, C4, 0.0)])
def test_tonic_positions(beat, note, expected):
    assert call(mt.tonic, [D4] * beat, note) == expected


def test_tonic_follows_num_notes():
    assert call(mt.tonic, [D4] * 12, C4, num_notes=16) == 3.0  # beat 12 = 16 - 4
    assert call(mt.tonic, [D4] * 12, C4, num_notes=32) == 0.0


@pytest.mark.parametrize("composition, note, expected", [
    ([C4, 0, 0], 0, -100.0),  # [14,0,0,0]: the third 0 -> two 0s before it (> 1)
    ([C4, 0], 0, 0.0),  # the second 0: one before it
    ([C4, 1, 1, 1, 1, 1], 1, -100.0),  # [14,1,1,1,1,1,1]: 6th 1 -> 5 repeats, no other 0/1
    ([C4, 1, 1, 1, 1], 1, 0.0),  # 5th 1 -> 4 repeats
    ([C4] * 5, C4, -100.0),  # [14]*6: the 6th C -> 5 repeats > 4
    ([C4] * 4, C4, 0.0),
    ([C4, 1] * 7, C4, -100.0),  # [14,1]*8: the 8th C -> 7 repeats > 6 (holds in between)
    ([C4, 1] * 6, C4, 0.0),  # 7th C -> 6 repeats
    ([C4] * 5 + [D4], C4, 0.0),  # another pitch ends the scan
])
def test_repeating_worked_checks(composition, note, expected):
    assert call(mt.repeating, composition, note) == expected


def test_autocorrelation_hand_computed():
    # seq = [14, 16, 14]: mean 44/3, x = [-2/3, 4/3, -2/3], var = (4 + 16 + 4) / 9 / 3 = 8/9.
    # r1 = (x1 x0 + x2 x1) / 3 / var = (-16/9) / 3 / (8/9) = -2/3 -> |r1| > 0.15: 3 * 2/3 = 2
    # r2 = (x2 x0) / 3 / var = (4/9) / 3 / (8/9) = 1/6 = 0.1667 > 0.15: 3 * 1/6 = 0.5
    # r3 = 0 (n = 3). Total -2.5.
    assert call(mt.autocorrelation, [C4, D4], C4) == pytest.approx(-2.5)


def test_autocorrelation_threshold():
    # seq = [14, 18, 18, 16]: mean 16.5, x = [-2.5, 1.5, 1.5, -0.5], var = 11/4 / ... :
    # var = (6.25 + 2.25 + 2.25 + 0.25) / 4 = 2.75; r_k = sum / 4 / 2.75 = sum / 11.
    # lag 1: -3.75 + 2.25 - 0.75 = -2.25 -> r1 = -9/44 = -0.2045 -> 3 * 9/44 = 27/44
    # lag 2: -3.75 - 0.75 = -4.5 -> r2 = -9/22 = -0.409 -> 3 * 9/22 = 54/44
    # lag 3: (-0.5)(-2.5) = 1.25 -> r3 = 5/44 = 0.114 <= 0.15: no penalty
    # Total -81/44 (penalising r3 too would give -96/44).
    assert call(mt.autocorrelation, [C4, E4, E4], D4) == pytest.approx(-81 / 44)


def test_autocorrelation_constant_sequence_is_not_penalised():
    assert call(mt.autocorrelation, [C4, C4], C4) == 0.0  # var 0 -> NaN -> skipped
    assert call(mt.autocorrelation, [], C4) == 0.0


def test_motif_scale_is_4_5():
    # C4 D4 E4 F4 G4 A4 B4 C5 = 8 distinct pitches (C4 and C5 are different tokens):
    # u = 8 -> 3 + (8 - 3) * 0.3 = 4.5.
    assert call(mt.motif, [C4, D4, E4, F4, G4, A4, B4], C5) == pytest.approx(4.5)


@pytest.mark.parametrize("composition, note, expected", [
    ([C4, 0, D4, 1, E4, 0, 0], 0, 3.0),  # 3 distinct pitches: 3 + 0
    ([C4, 0, D4, 1, C4, 0, 0], 0, 0.0),  # 2 distinct pitches
    ([C4, D4, E4, F4, G4, A4], B4, 0.0),  # only 7 tokens
    # last 8 tokens = [9, C4, D4, E4, F4, G4, A4, C4]: 7 pitches -> 3 + 4 * 0.3 = 4.2
    ([C4, 9, C4, D4, E4, F4, G4, A4], C4, pytest.approx(4.2)),
])
def test_motif_cases(composition, note, expected):
    assert call(mt.motif, composition, note) == expected


def test_repeated_motif():
    bar = [C4, D4, E4, 0, F4, G4, 1, A4]  # 6 distinct pitches
    # Second occurrence complete at beat 15: 4 + (6 - 3) = 7.
    assert call(mt.repeated_motif, bar + bar[:7], bar[7]) == 7.0
    assert call(mt.repeated_motif, bar + bar[:6], bar[6]) == 0.0
    low_variety = [C4, C4, D4, D4, 0, 0, 1, 1]  # not a motif: only 2 pitches
    assert call(mt.repeated_motif, low_variety + low_variety[:7], 1) == 0.0


def test_repeated_motif_must_not_overlap():
    period = [C4, D4, E4, F4] * 4  # every 8-window is a motif with 4 pitches
    # Beat 11: window = tokens 4..11, earlier = composition[:-7] = tokens 0..3: too short.
    assert call(mt.repeated_motif, period[:11], period[11]) == 0.0
    # Beat 14: window 7..14 would overlap its match 3..10; earlier = tokens 0..6 only.
    assert call(mt.repeated_motif, period[:14], period[14]) == 0.0
    # Beat 15: window 8..15 equals window 0..7 -> 4 + (4 - 3) = 5.
    assert call(mt.repeated_motif, period[:15], period[15]) == 5.0


def test_repeated_motif_overlapping_by_one_token_does_not_count():
    period7 = [C4, D4, E4, F4, G4, A4, B4] * 3 + [C4]  # window s equals window s - 7
    # Beats 14..20: the windows 7 back overlap by one token; nothing non-overlapping matches.
    for beat in range(14, 21):
        assert call(mt.repeated_motif, period7[:beat], period7[beat]) == 0.0, beat
    # Beat 21: window 14..21 = [C4 .. B4, C4] = window 0..7 -> 4 + (7 - 3) = 8.
    assert call(mt.repeated_motif, period7[:21], period7[21]) == 8.0
    repeated = mt.score_melodies(np.array([period7]))[1]["repeated_motif"][0]
    assert repeated.tolist() == [0.0] * 21 + [8.0]


@pytest.mark.parametrize("composition, note, code, reward", [
    ([], C4, 0, 0.0),  # no interval
    ([0, 1, 0], C4, 0, 0.0),  # no previous pitch
    ([D4], D4, 0, 0.0),  # same pitch
    ([D4], 0, -1, 0.25),  # token 0 after a pitch: 0.05 * 5
    ([D4], 1, -1.5, 0.375),  # token 1 after a pitch: 0.075 * 5
    ([C4], 0, -2, 0.75), ([G4], 0, -2, 0.75),  # token 0 after C or G: 0.15 * 5
    ([C4], 1, -2.5, 1.5), ([G4], 1, -2.5, 1.5),  # token 1 after C or G: 0.3 * 5
    ([E4], 1, -1.5, 0.375),  # E is not in the "C or G" set
    ([D4, 0, 1], 0, -1, 0.25),  # specials are skipped to find the previous pitch
    ([C4], B4, 11, -1.5),  # major 7th: -0.3 * 5
    ([C4], 27, 13, -5.0),  # more than an octave: -1 * 5
    ([C4], C5, 12, 0.0),  # exactly an octave: nothing
    ([C4], G4, -5, 0.5), ([G4], C4, -5, 0.5), ([G4], 28, -5, 0.5),  # in-key 5th: 0.1 * 5
    ([D4], A4, 7, 0.1), ([A4], D4, 7, 0.1),  # other 5th: 0.02 * 5
    ([C4], E4, -3, 0.75), ([E4], 22, -3, 0.75), ([E4], C4, -3, 0.75),  # in-key 3rd: .15 * 5
    ([D4], 20, 4, 0.09 * 5),  # other major 3rd (0.44999...)
    ([C4], D4, 2, 0.4), ([C4], F4, 5, 0.35000000000000003), ([C4], A4, 9, 0.25),
    ([C4], 15, 1, 0.0), ([C4], 17, 3, 0.0), ([C4], 20, 6, 0.0), ([C4], 22, 8, 0.0),
    ([C4], 24, 10, 0.0),
])
def test_interval_table(composition, note, code, reward):
    assert call(lambda c, n, _: mt.sequential_interval(c, n), composition, note) == code
    assert call(mt.preferred_intervals, composition, note) == reward


def leap_rewards(melody):
    return mt.score_melodies(np.array([melody]))[1]["leap"][0].tolist()


def test_leap_resolved_by_steps():
    # C4 -> G4 (leap up from 14), then steps down: 19, 18, 16 stay above 14; 14 <= 14 -> +5.
    assert leap_rewards([C4, G4, F4, E4, D4, C4]) == [0, 0, 0, 0, 0, 5.0]
    assert call(mt.leap, [C4, G4, F4, E4, D4], C4) == 5.0


def test_leap_doubled():
    # 14 -> 21 starts a leap up; 21 -> 28 is another leap up: -5; the leap stays pending.
    assert leap_rewards([C4, G4, 28, 35]) == [0, 0, -5.0, -5.0]


def test_leap_back_needs_more_than_six_steps():
    # Leap up 14 -> 21 (steps = 0), then non-leap notes that stay above 14 (steps += 1 each;
    # 0/1 tokens count as steps too), then a leap down (7+ semitones): resolved only if
    # steps_since_last_leap > 6.
    six_steps = [C4, G4, 22, 23, 22, 23, 22, 23]  # 22 23 22 23 22 23: steps = 6
    assert leap_rewards(six_steps + [16]) == [0] * 9  # 23 -> 16: steps 6, not > 6
    seven_steps = six_steps + [22]  # steps = 7
    assert leap_rewards(seven_steps + [15]) == [0] * 9 + [5.0]  # 22 -> 15: 7 > 6
    with_rests = [C4, G4] + [0] * 7 + [C4]  # 7 special tokens = 7 steps, then 21 -> 14
    assert leap_rewards(with_rests)[-1] == 5.0
    assert leap_rewards([C4, G4] + [0] * 6 + [C4])[-1] == 0.0
    # An immediate leap back clears the leap without reward.
    state = mt.leap_state(np.array([[C4, G4, C4]]))
    assert (state.direction[0], state.leapt_from[0]) == (0, mt.NO_PITCH)


def test_leap_transition_and_state():
    # The first note is not a transition (the original returns early on an empty composition):
    assert mt.leap_state(np.array([[C4]])).steps_since_last_leap[0] == 0
    assert mt.leap_state(np.array([[C4, D4]])).steps_since_last_leap[0] == 1
    state = mt.leap_state(np.array([[C4, G4, F4]]))
    assert (state.direction[0], state.leapt_from[0], state.steps_since_last_leap[0]) == (1, C4, 1)
    new_state, outcome = mt.leap_transition(state, np.array([F4]), np.array([D4]))
    assert outcome[0] == 0 and new_state.steps_since_last_leap[0] == 2
    new_state, outcome = mt.leap_transition(new_state, np.array([D4]), np.array([C4]))
    assert outcome[0] == mt.LEAP_RESOLVED and new_state.direction[0] == 0


@pytest.mark.parametrize("melody, expected", [
    ([C4, D4, E4, G4], 6.0),  # max 21 once, min pitch 14 once
    ([C4, G4, E4, G4], 3.0),  # max repeated; min once
    ([C4, G4, E4, C4], 3.0),  # max once; min repeated
    ([0, C4, 0, C4], 0.0),  # max 14 twice, min pitch 14 twice
    ([0, 0, 1, 0], 3.0),  # all specials: max token 1 once; no pitch -> no min bonus
])
def test_high_low_unique_at_last_note(melody, expected):
    assert call(mt.high_low_unique, melody[:-1], melody[-1], num_notes=4) == expected
    assert call(mt.high_low_unique, melody[:-1], melody[-1], num_notes=5) == 0.0  # not last
    assert call(mt.high_low_unique, melody[:-2], melody[-2], num_notes=4) == 0.0


def test_music_theory_reward_is_sum_of_components():
    rng = np.random.default_rng(3)
    composition, notes = rng.integers(0, 38, (64, 20)), rng.integers(0, 38, 64)
    parts = mt.component_rewards(composition, notes)
    np.testing.assert_allclose(mt.music_theory_reward(composition, notes),
                               sum(parts.values()), rtol=0, atol=1e-12)


def test_score_melodies_scale_example():
    total, parts = mt.score_melodies(np.array([[C4, D4, E4, F4, G4, A4, B4, C5]]))
    assert parts["motif"][0].tolist() == [0] * 7 + [4.5]
    assert parts["high_low_unique"][0].tolist() == [0] * 7 + [6.0]  # N = 8: last note
    # N = 8: beat 0 and beat 4 (N-4, here G4) want C4; beat 5 wants token 1; 6, 7 want 0/1.
    assert parts["tonic"][0].tolist() == [3.0, 0, 0, 0, 0, 0, 0, 0]
    assert total.shape == (1, 8)


# --------------------------------------------------------------------------------------------
# Other reward modes' functions.
# --------------------------------------------------------------------------------------------
def test_reward_scale():
    # C4 -> D4: up 2 (< 3): .05; in scale: .01; next degree: .8 -> 0.86
    assert call(mt.reward_scale, [C4], D4) == pytest.approx(0.86)
    assert call(mt.reward_scale, [C5], 2) == pytest.approx(0.81)  # C5 wraps to C3
    assert call(mt.reward_scale, [C4], 1) == pytest.approx(0.1)
    prev = np.array([B4])  # at beat 0 the previous observation is the priming note
    assert mt.reward_scale(np.zeros((1, 0), int), np.array([C5]), previous=prev)[0] == \
        pytest.approx(0.86)
    with pytest.raises(ValueError, match="previous"):
        mt.reward_scale(np.zeros((1, 0), int), np.array([C5]))


def test_key_distribute_prob_and_non_repeating():
    assert call(mt.reward_key_distribute_prob, [], C4) == 1.0 / 23
    assert call(mt.reward_key_distribute_prob, [], 15) == 0.0
    assert call(mt.reward_non_repeating, [C4] * 4, C4) == 0.1
    assert call(mt.reward_non_repeating, [C4] * 5, C4) == 0.0  # the original returned None


# --------------------------------------------------------------------------------------------
# Errors.
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", list(mt.COMPONENTS.values()) + [
    mt.music_theory_reward, mt.reward_key_distribute_prob, mt.reward_non_repeating,
    mt.sequential_interval, mt.component_rewards])
def test_shape_mismatch_raises(rule):
    with pytest.raises(ValueError, match="melodies"):
        rule(np.zeros((3, 5), int), np.zeros(4, int))
    with pytest.raises(ValueError, match="1-D"):
        rule(np.zeros((3, 5), int), np.zeros((3, 1), int))


@pytest.mark.parametrize("composition, notes", [
    (np.full((2, 3), 38), np.zeros(2, int)), (np.full((2, 3), -1), np.zeros(2, int)),
    (np.zeros((2, 3), int), np.array([0, 38]))])
def test_tokens_out_of_range_raise(composition, notes):
    with pytest.raises(ValueError, match="outside 0..37"):
        mt.music_theory_reward(composition, notes)


def test_empty_composition_of_any_dtype_is_accepted():
    # np.zeros((B, 0)) is float64; an empty composition holds no tokens to check.
    rewards = mt.music_theory_reward(np.zeros((3, 0)), np.array([C4, 1, 15]))
    assert rewards.tolist() == [3.0, 0.0, -1.0]  # tonic at beat 0; nothing; off key


def test_non_integer_and_bad_rank_raise():
    with pytest.raises(ValueError, match="integer"):
        mt.key(np.zeros((2, 3)), np.zeros(2, int))
    with pytest.raises(ValueError, match="2-D"):
        mt.score_melodies(np.zeros(5, int))
    with pytest.raises(ValueError, match="outside"):
        mt.leap_state(np.array([[40]]))


# --------------------------------------------------------------------------------------------
# Reward modes.
# --------------------------------------------------------------------------------------------
def test_reward_modes_registry():
    from note_rnn import reward_modes as rm
    expected_log_prior = {
        "music_theory_all": True, "music_theory_only": False, "music_theory_basic": True,
        "music_theory_basic_plus_variety": True, "music_theory_random": False, "key": False,
        "key_and_tonic": False, "preferred_intervals": False, "scale": False,
        "non_repeating": False}
    assert {name: mode.adds_log_prior for name, mode in rm.REWARD_MODES.items()} == \
        expected_log_prior
    assert all(mode.name == name for name, mode in rm.REWARD_MODES.items())
    with pytest.raises(ValueError, match="music_theory_all"):
        rm.get_reward_mode("music_theory")
    assert rm.reward_mode_for_algorithm("g").name == "music_theory_only"
    assert rm.reward_mode_for_algorithm("pure_rl", "music_theory_only").name == "music_theory_only"
    with pytest.raises(ValueError, match="--reward-mode key cannot be used with --algorithm pure_rl"):
        rm.reward_mode_for_algorithm("pure_rl", "key")  # refused, not silently replaced
    assert rm.reward_mode_for_algorithm("psi", "key").name == "key"
    assert rm.reward_mode_for_algorithm("psi").name == "music_theory_all"


def test_reward_mode_task_rewards():
    from note_rnn import reward_modes as rm
    rng = np.random.default_rng(5)
    composition, notes = rng.integers(0, 38, (50, 29)), rng.integers(0, 38, 50)
    notes[:5] = 1
    parts = mt.component_rewards(composition, notes)

    def task(name):
        return rm.get_reward_mode(name).task_reward(composition, notes, 32)

    np.testing.assert_array_equal(task("music_theory_all"), mt.music_theory_reward(
        composition, notes))
    basic = parts["key"] + parts["tonic"] + parts["repeating"]
    np.testing.assert_array_equal(task("music_theory_basic"), basic)
    np.testing.assert_array_equal(task("music_theory_random"), basic)
    np.testing.assert_array_equal(task("music_theory_basic_plus_variety"),
                                  basic + parts["autocorrelation"])
    np.testing.assert_array_equal(task("key_and_tonic"), parts["key"] + parts["tonic"])
    np.testing.assert_array_equal(task("preferred_intervals"), parts["preferred_intervals"])
    # At beat 29 = N-3 the tonic rule rewards token 1.
    assert task("key_and_tonic")[:5].tolist() == [3.0] * 5


def test_reward_modes_say_whether_the_stored_reward_adds_log_p():
    # The sum is Algorithm.reward's (rl_tuner.kl_control.targets), fed the mode's adds_log_prior.
    from note_rnn import reward_modes as rm
    from rl_tuner.kl_control import targets
    log_p = np.array([-1.0, -2.0])
    r_t = np.array([3.0, -100.0])
    psi = targets.get_algorithm("psi")
    # music_theory_all: r_T / c + log p with c = 2 (reward_scaler 0.5)
    assert rm.get_reward_mode("music_theory_all").adds_log_prior
    np.testing.assert_allclose(psi.reward(r_t, log_p, 2.0, rm.get_reward_mode("music_theory_all").adds_log_prior),
                               [0.5, -52.0])
    assert not rm.get_reward_mode("music_theory_only").adds_log_prior
    np.testing.assert_allclose(psi.reward(r_t, log_p, 2.0, rm.get_reward_mode("music_theory_only").adds_log_prior),
                               [1.5, -50.0])
