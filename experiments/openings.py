"""How melodies open: measures of the tonic-rule exploit seen in tuned policies.

Magenta's tonic rule (Magenta's rl_tuner.py; note_rnn.music_theory.tonic) pays +3 for C4
(token 14) as the first note, and the repeating rule only penalises a note repeated more than
four times; a policy can bank the tonic reward by opening every melody with C4, often
re-attacked (C4 C4 C4 C4 as four sixteenths). These pure functions measure that over sampled
melodies (int tokens [N, T]: 0 = hold, 1 = note-off, 2..37 = MIDI 48..83).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from note_rnn import tokens as tok

C4_TOKEN = 14  # MIDI 60, the tonic rule's note (note_rnn.music_theory.tonic)
TONIC_TOKENS = (2, 14, 26)  # MIDI 48, 60, 72: every C of the 38-token range
OPENING = 4  # tokens of an opening (one beat of sixteenths)


def opening_statistics(melodies, opening: int = OPENING) -> dict:
    """Shares of melodies by how they open.

    Args:
      melodies: int tokens [N, T] with T >= ``opening``.
      opening: how many first tokens make the opening.

    Returns:
      ``first_note_c4``: first token is C4; ``first_note_any_c``: first token is a C of any
      octave; ``opening_repeated_c4``: the first ``opening`` tokens are all C4 (re-attacked,
      no hold); ``opening_repeated_note``: the first ``opening`` tokens are the same pitch
      token re-attacked; ``top_opening`` (names, e.g. "C4 C4 C4 C4") and
      ``top_opening_share``: the most common opening and its share; ``distinct_openings``:
      the number of different openings; ``num_melodies``.

    Raises:
      ValueError: if ``melodies`` is not 2-D with at least one melody of ``opening`` tokens.
    """
    m = np.asarray(melodies)
    if m.ndim != 2 or m.shape[0] == 0 or m.shape[1] < opening:
        raise ValueError(f"need int tokens [N, T] with N >= 1 and T >= {opening}, got shape {m.shape}")
    heads = m[:, :opening]
    first = heads[:, 0]
    same = (heads == heads[:, :1]).all(axis=1) & (first >= tok.FIRST_PITCH_TOKEN)
    counts = Counter(map(tuple, heads.tolist()))
    top, top_count = counts.most_common(1)[0]
    return {
        "first_note_c4": float(np.mean(first == C4_TOKEN)),
        "first_note_any_c": float(np.mean(np.isin(first, TONIC_TOKENS))),
        "opening_repeated_c4": float(np.mean(same & (first == C4_TOKEN))),
        "opening_repeated_note": float(np.mean(same)),
        "top_opening": " ".join(tok.token_name(int(t)) for t in top),
        "top_opening_share": top_count / len(m),
        "distinct_openings": len(counts),
        "num_melodies": int(len(m)),
    }
