"""Melodies from users: token JSON, Magenta event lists, MIDI files, and generation primers.

Three formats are read (``--format`` of ``rl-tuner score``/``stats``):

* ``tokens``: a JSON list of melodies, each a list of token indices 0..37 (0 = hold,
  1 = note-off, i >= 2 = MIDI pitch i + 46); what ``generate`` writes as ``melodies.json``.
* ``magenta``: a JSON list of melodies, each a list of Magenta ``Melody`` event values
  (-2 = no event / hold, -1 = note-off, a MIDI pitch 48..83 = note-on), the notation of
  ``melody_rnn_generate --primer_melody "[60, -2, 62]"``.
* ``midi``: a MIDI file; one melody per instrument (drums ignored), extracted as Magenta's
  melody generator extracts a primer (quantised to 16th notes, no length filters, no gap
  splitting, the highest of simultaneous notes kept), in its own key, folded by octaves
  into 48..83 (Magenta's ``Melody.squash`` without the key transposition).

In both JSON formats a flat list of integers is one melody. ``auto`` picks ``midi`` for a
``.mid``/``.midi`` name or a file starting with the MIDI header ``MThd``, otherwise JSON:
``magenta`` if a value is negative or above 47 (no token is), else ``tokens``.

No TensorFlow here.
"""

from __future__ import annotations

import ast
import json
import os

import numpy as np

from note_rnn.tokens import MAX_NOTE, MIN_NOTE, NUM_CLASSES

FORMATS = ("auto", "tokens", "magenta", "midi")
MIDI_EXTENSIONS = (".mid", ".midi")
MIDI_MAGIC = b"MThd"
HOLD_EVENT, NOTE_OFF_EVENT = -2, -1  # Magenta's Melody event values


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def magenta_events_to_tokens(events, where: str = "melody") -> np.ndarray:
    """Encodes Magenta ``Melody`` event values as tokens.

    Args:
      events: a sequence of integers: -2 (hold), -1 (note-off) or MIDI pitches 48..83.
      where: how to name the melody in error messages (e.g. a file and melody number).

    Returns:
      int32 [len(events)] tokens: -2 -> 0, -1 -> 1, pitch p -> p - 46.

    Raises:
      ValueError: for a value that is not an integer, below -2, or a pitch outside 48..83
        (the message names the value and its position).
    """
    tokens = np.empty(len(events), np.int32)
    for position, event in enumerate(events):
        if not _is_int(event):
            raise ValueError(f"{where}: {event!r} at position {position} is not an integer Magenta event "
                             f"(-2 hold, -1 note-off, or a MIDI pitch {MIN_NOTE}..{MAX_NOTE - 1})")
        if event >= 0 and not MIN_NOTE <= event < MAX_NOTE:
            raise ValueError(f"{where}: pitch {event} at position {position} is outside {MIN_NOTE}..{MAX_NOTE - 1}, "
                             "the range of the 38-token encoding (transpose it by octaves)")
        if event < HOLD_EVENT:
            raise ValueError(f"{where}: event {event} at position {position} is not a Magenta event "
                             f"(-2 hold, -1 note-off, or a MIDI pitch {MIN_NOTE}..{MAX_NOTE - 1})")
        tokens[position] = event - MIN_NOTE + 2 if event >= 0 else event + 2  # -2 -> 0, -1 -> 1
    return tokens


def tokens_to_magenta_events(tokens) -> list[int]:
    """The inverse of :func:`magenta_events_to_tokens`: 0 -> -2, 1 -> -1, t -> t + 46."""
    return [int(t) + MIN_NOTE - 2 if t >= 2 else int(t) - 2 for t in tokens]


def _check_token_list(values, where: str) -> np.ndarray:
    for position, value in enumerate(values):
        if not _is_int(value):
            raise ValueError(f"{where}: {value!r} at position {position} is not an integer token")
        if not 0 <= value < NUM_CLASSES:
            raise ValueError(f"{where}: token {value} at position {position} is outside 0..{NUM_CLASSES - 1}")
    return np.asarray(values, np.int32)


def parse_primer_melody(text: str) -> np.ndarray:
    """Parses ``--primer-melody`` (Magenta's ``--primer_melody`` notation) into tokens.

    Args:
      text: a Python/JSON list of Magenta event values, e.g. ``"[60, -2, 62]"``.

    Returns:
      int32 [k] tokens, k >= 1.

    Raises:
      ValueError: if ``text`` is not a non-empty list of integers, or an event is invalid
        (see :func:`magenta_events_to_tokens`).
    """
    try:
        events = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"--primer-melody {text!r} is not a list of Magenta events such as "
                         "\"[60, -2, 62, -1]\"") from None
    if isinstance(events, tuple):
        events = list(events)
    if not isinstance(events, list):
        raise ValueError(f"--primer-melody {text!r} is not a list of Magenta events such as \"[60, -2, 62, -1]\"")
    if not events:
        raise ValueError("--primer-melody is an empty list; give at least one event, e.g. \"[60]\"")
    return magenta_events_to_tokens(events, "--primer-melody")


def read_midi_melodies(path: str) -> list[np.ndarray]:
    """The melodies of a MIDI file, one per instrument (see the module docstring).

    Raises:
      note_rnn.encoding.MidiReadError: (a ValueError) if the file is missing, empty or not
        valid MIDI.
    """
    from note_rnn import encoding
    options = encoding.ExtractionOptions(min_bars=0, min_unique_pitches=1, gap_bars=float("inf"),
                                         transpose_to_key=None)
    return [m.astype(np.int32) for m in encoding.read_midi(path, options)]


def _no_melody_reason(path: str) -> str:
    """Why MIDI file ``path`` gave no melody: no pitched notes, or notes Magenta's quantisation refuses."""
    from note_rnn import encoding
    sequence = encoding.read_note_sequence(path)
    if not any(not note.is_drum for note in sequence.notes):
        return "no notes outside drum tracks"
    signatures = sorted({f"{t.numerator}/{t.denominator}" for t in sequence.time_signatures})
    return ("its notes cannot be quantized to 16th-note steps as Magenta does; time signature "
            f"{', '.join(signatures) or '4/4'}")


def read_primer_midi(path: str) -> np.ndarray:
    """The primer of ``--primer-midi``: the first melody of the MIDI file (its first instrument).

    Returns:
      int32 [k] tokens, k >= 1.

    Raises:
      ValueError: if the file cannot be read as MIDI (the message names it) or holds no notes.
    """
    melodies = read_midi_melodies(path)
    if not melodies:
        raise ValueError(f"--primer-midi {path}: the file holds no melody ({_no_melody_reason(path)})")
    return melodies[0]


def midi_qpm(path: str) -> float | None:
    """The first tempo of a MIDI file in quarter notes per minute, or None if it sets none
    (Magenta's melody_rnn_generate plays its output at the primer MIDI's tempo).

    Raises:
      note_rnn.encoding.MidiReadError: if the file cannot be read as MIDI.
    """
    from note_rnn import encoding
    sequence = encoding.read_note_sequence(path)
    return float(sequence.tempos[0].qpm) if sequence.tempos and sequence.tempos[0].qpm > 0 else None


def detect_format(path: str, data: bytes) -> str:
    """``midi`` for a .mid/.midi name or MIDI content, else ``json`` (tokens or magenta)."""
    if os.path.splitext(path)[1].lower() in MIDI_EXTENSIONS or data.startswith(MIDI_MAGIC):
        return "midi"
    return "json"


def _json_melodies(path: str, data: bytes) -> list:
    if data.startswith(MIDI_MAGIC):
        raise ValueError(f"{path} is a MIDI file, not JSON; use --format midi (or --format auto)")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not an error
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a JSON text file (not UTF-8 text); melody files are JSON lists "
                         "or MIDI files (--format midi)") from None
    try:
        melodies = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply to be a list of melodies") from None
    if isinstance(melodies, list) and melodies and all(_is_int(v) for v in melodies):
        melodies = [melodies]  # a flat list of integers is one melody
    if not isinstance(melodies, list) or not melodies or not all(isinstance(m, list) for m in melodies):
        raise ValueError(f"{path} must hold a non-empty JSON list of melodies (lists of integers)")
    for i, melody in enumerate(melodies):
        if not melody:
            raise ValueError(f"{path}: melody {i} is empty")
    return melodies


def read_melody_file(path: str, fmt: str = "auto") -> list[np.ndarray]:
    """Reads the melodies of a file in any of :data:`FORMATS` (see the module docstring).

    Args:
      path: a JSON file (tokens or Magenta events) or a MIDI file.
      fmt: ``auto``, ``tokens``, ``magenta`` or ``midi``.

    Returns:
      A non-empty list of int32 1-D token arrays; lengths may differ.

    Raises:
      FileNotFoundError: if there is no file at ``path``.
      ValueError: for a file that is not of the format (a MIDI file given as JSON, binary
        data, invalid JSON, wrong structure, invalid values, a MIDI file without notes);
        the message names ``path``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown melody format {fmt!r}; choose one of {', '.join(FORMATS)}")
    from rl_tuner.plumbing import file_checks
    problem = file_checks.not_a_regular_file(path)
    if problem:
        raise ValueError(f"{path}: {problem}; give a melody file (JSON or MIDI)")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no melody file at {path}")
    with open(path, "rb") as f:
        data = f.read()
    if fmt == "midi" or (fmt == "auto" and detect_format(path, data) == "midi"):
        melodies = read_midi_melodies(path)
        if not melodies:
            raise ValueError(f"{path}: the MIDI file holds no melody ({_no_melody_reason(path)})")
        return melodies
    melodies = _json_melodies(path, data)
    detected = fmt == "auto"
    if detected:
        values = [v for m in melodies for v in m if _is_int(v)]
        fmt = "magenta" if values and (min(values) < 0 or max(values) >= MIN_NOTE) else "tokens"
    note = (f" (read as Magenta events: the file holds values below 0 or above {MIN_NOTE - 1}; "
            "--format tokens reads it as tokens)") if detected and fmt == "magenta" else ""
    check = magenta_events_to_tokens if fmt == "magenta" else _check_token_list
    return [check(m, f"{path}: melody {i}{note}") for i, m in enumerate(melodies)]
