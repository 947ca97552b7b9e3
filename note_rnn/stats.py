"""Table-1 statistics of the RL Tuner paper for a batch of complete melodies.

Vectorised port of Magenta's ``rl_tuner_eval_metrics.compute_composition_stats``: the
statistics are computed on melodies already generated (``[B, N]`` tokens) rather than while
composing. Every per-note test is the one of :mod:`note_rnn.music_theory`, applied to the
note at position t with composition = ``melodies[:, :t]`` (position = beat), exactly as the
original updates its counters before appending the note. Token indices keep the original's
meaning by index (see :mod:`note_rnn.music_theory`).

Keys of :func:`composition_stats` (fractions in 0..1):

* ``notes_excessively_repeated``, ``notes_not_in_key``, ``notes_in_motif``,
  ``notes_in_repeated_motif``: counts / (B * N) (tokens 0 and 1 count as in key);
* ``melodies_starting_with_tonic``, ``melodies_with_unique_max_note``,
  ``melodies_with_unique_min_note``: counts / B;
* ``mean_autocorrelation_lag{1,2,3}``: ``np.nanmean`` of the per-melody autocorrelation
  (NaN for a constant melody; NaN if all are);
* ``leaps_resolved``: resolved / (resolved + doubled), NaN when there were no leaps;
* ``<counter>_per_composition``: the original's interval counters divided by B
  (``octave_jumps`` = > 12 semitones, ``sevenths``, ``sixths``, ``fifths`` (not in-key),
  ``fourths``, ``thirds`` (not in-key), ``seconds``, ``rest_intervals`` (token 0 after a
  pitch, code -1), ``special_rest_intervals`` (token 0 after C or G, code -2),
  ``in_key_preferred_intervals``), plus extras this port adds: ``in_key_fifths``,
  ``in_key_thirds``, ``hold_intervals`` (token 1 after a pitch, code -1.5) and
  ``special_hold_intervals`` (code -2.5);
* ``num_melodies``: B.

Deviation: the original's in-key test ``interval == (IN_KEY_FIFTH or interval ==
IN_KEY_THIRD)`` evaluates to ``interval == IN_KEY_FIFTH``, so in-key thirds were counted
nowhere. Here ``in_key_preferred_intervals`` counts in-key fifths *and* thirds, as intended;
the original's value is ``in_key_fifths_per_composition``. The hold codes had no counter in
the original; the two ``*hold_intervals`` keys are additions.
"""

import numpy as np

from note_rnn import music_theory as mt

TABLE_1_KEYS = (
    "notes_excessively_repeated", "mean_autocorrelation_lag1", "mean_autocorrelation_lag2",
    "mean_autocorrelation_lag3", "notes_not_in_key", "melodies_starting_with_tonic",
    "leaps_resolved", "melodies_with_unique_max_note", "melodies_with_unique_min_note",
    "notes_in_motif", "notes_in_repeated_motif")

# Interval counters: name -> test on the interval code (original add_interval_stat, fixed).
_INTERVAL_COUNTERS = {
    "rest_intervals": lambda code: code == mt.NO_EVENT_INTERVAL,
    "special_rest_intervals": lambda code: code == mt.NO_EVENT_AFTER_C_OR_G,
    "octave_jumps": lambda code: code > mt.OCTAVE,
    "in_key_preferred_intervals": lambda code: (code == mt.IN_KEY_FIFTH)
    | (code == mt.IN_KEY_THIRD),
    "fifths": lambda code: code == mt.FIFTH,
    "thirds": lambda code: code == mt.THIRD,
    "sixths": lambda code: code == mt.SIXTH,
    "seconds": lambda code: code == mt.SECOND,
    "fourths": lambda code: code == mt.FOURTH,
    "sevenths": lambda code: code == mt.SEVENTH,
    # Not in the original:
    "in_key_fifths": lambda code: code == mt.IN_KEY_FIFTH,
    "in_key_thirds": lambda code: code == mt.IN_KEY_THIRD,
    "hold_intervals": lambda code: code == mt.NOTE_OFF_INTERVAL,
    "special_hold_intervals": lambda code: code == mt.NOTE_OFF_AFTER_C_OR_G,
}


def _motif_stats(melodies: np.ndarray):
    """Per-note motif and repeated-motif flags, each bool [B, N]."""
    in_motif = np.zeros(melodies.shape, dtype=bool)
    in_repeated = np.zeros(melodies.shape, dtype=bool)
    counts, codes = mt.bar_windows(melodies)  # window s is played by the note at s + 7
    in_motif[:, mt.BAR_LENGTH - 1:] = counts >= mt.MIN_MOTIF_PITCHES
    in_repeated[:, mt.BAR_LENGTH - 1:] = mt.repeated_bar_windows(counts, codes)
    return in_motif, in_repeated


def _note_counts(melodies: np.ndarray) -> dict:
    """Counts of the per-note statistics over all melodies (ints)."""
    batch, length = melodies.shape
    counters = dict.fromkeys(_INTERVAL_COUNTERS, 0)
    repeated = resolved = doubled = 0
    state = mt.initial_leap_state(batch)
    previous = np.full(batch, mt.NO_PITCH, dtype=np.int64)
    for beat in range(length):
        notes = melodies[:, beat]
        code = mt.interval_codes(previous, notes)
        for name, test in _INTERVAL_COUNTERS.items():
            counters[name] += int(test(code).sum())
        repeated += int(mt.detect_repeating_notes(melodies[:, :beat], notes).sum())
        if beat > 0:  # detect_leap_up_back returns 0 on an empty composition
            state, outcome = mt.leap_transition(state, previous, notes)
            resolved += int((outcome == mt.LEAP_RESOLVED).sum())
            doubled += int((outcome == mt.LEAP_DOUBLED).sum())
        previous = np.where(notes >= mt.FIRST_PITCH, notes, previous)
    return {"intervals": counters, "repeated": repeated, "resolved": resolved,
            "doubled": doubled}


def _sums(melodies: np.ndarray) -> dict:
    """Additive counts of a [B, N] batch (so that batches of different lengths combine)."""
    batch, length = melodies.shape
    counts = _note_counts(melodies)
    in_motif, in_repeated = _motif_stats(melodies)
    return {
        "notes": float(batch * length), "melodies": float(batch),
        "repeated": float(counts["repeated"]), "resolved": float(counts["resolved"]),
        "doubled": float(counts["doubled"]),
        "not_in_key": float((~mt.in_key(melodies)).sum()),
        "tonic_start": float((melodies[:, 0] == mt.C_MAJOR_TONIC).sum()),
        "unique_max": float(mt.high_unique(melodies).sum()),
        "unique_min": float(mt.low_unique(melodies).sum()),
        "in_motif": float(in_motif.sum()), "in_repeated_motif": float(in_repeated.sum()),
        "intervals": counts["intervals"],
        "correlations": mt.autocorrelations(melodies),  # [B, 3], NaN for constant melodies
    }


def composition_stats(melodies) -> dict:
    """Table-1 statistics of complete melodies (see the module docstring).

    Melodies may differ in length: each is measured as if alone and the counts are pooled,
    so a fraction of notes is over all notes, a fraction of melodies over all melodies,
    ``leaps_resolved`` over all leaps and the autocorrelations are means over melodies.

    Args:
      melodies: int [B, N] tokens, or a list of B >= 1 token sequences of any lengths >= 1.

    Returns:
      ``{name: float}`` with the TABLE_1_KEYS, the ``*_per_composition`` interval counters
      and ``num_melodies``.

    Raises:
      ValueError: if there is no melody, a melody is empty or a token is outside 0..37.
    """
    if isinstance(melodies, np.ndarray) and melodies.ndim == 2 and 0 in melodies.shape:
        raise ValueError(f"need at least one melody of at least one note, got {melodies.shape}")
    parts = [_sums(batch) for _, batch in mt.group_by_length(melodies).values()]
    total = {key: sum(p[key] for p in parts) for key in parts[0] if key not in ("intervals", "correlations")}
    notes, batch = total["notes"], total["melodies"]
    leaps = total["resolved"] + total["doubled"]
    table = {
        "notes_excessively_repeated": total["repeated"] / notes,
        "notes_not_in_key": total["not_in_key"] / notes,
        "melodies_starting_with_tonic": total["tonic_start"] / batch,
        "leaps_resolved": total["resolved"] / leaps if leaps else float("nan"),
        "melodies_with_unique_max_note": total["unique_max"] / batch,
        "melodies_with_unique_min_note": total["unique_min"] / batch,
        "notes_in_motif": total["in_motif"] / notes,
        "notes_in_repeated_motif": total["in_repeated_motif"] / notes,
    }
    correlations = np.concatenate([p["correlations"] for p in parts])
    for column, lag in enumerate(mt.AUTOCORRELATION_LAGS):
        values = correlations[:, column]
        table[f"mean_autocorrelation_lag{lag}"] = (
            float(np.nanmean(values)) if not np.isnan(values).all() else float("nan"))
    stats = {key: table[key] for key in TABLE_1_KEYS}
    for name in _INTERVAL_COUNTERS:
        stats[f"{name}_per_composition"] = sum(p["intervals"][name] for p in parts) / batch
    stats["num_melodies"] = batch
    return stats


def holm(p_values) -> list:
    """Holm-Bonferroni adjusted p-values (Holm 1979) of one family of tests, in the order given:
    the one correction of both melody studies (the listening study's pairs, Table 1's rows).

    The k-th smallest of the m defined p-values becomes max over j <= k of
    min(1, (m - j + 1) p_(j)) (monotone, capped at 1).

    Args:
      p_values: a sequence of p-values; None (an undefined test) stays None and does not count in m.

    Returns:
      A list of the adjusted p-values (float or None), one per input.
    """
    defined = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(defined)
    adjusted, running = [None] * len(p_values), 0.0
    for rank, (p, i) in enumerate(defined):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
