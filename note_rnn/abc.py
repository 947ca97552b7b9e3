"""ABC tunes -> NoteSequence, through music21's ABC parser (lazily imported).

Tunes are converted directly from the music21 stream, not through music21's MIDI export:
measured on O'Neill tunes that takes 22 ms per tune against 41 ms, and the MIDI export of
music21 10 fails on about a quarter of those tunes. Used by :mod:`note_rnn.corpus` for ABC
sources; the NoteSequence then goes through :mod:`note_rnn.encoding` like a MIDI file's.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import List, Tuple

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pydub (imported by note_seq) warns about ffmpeg and audioop
    from note_seq.protobuf import music_pb2

ABC_QPM = 120.0  # any constant tempo works: ABC durations are in quarter notes
ABC_VERSION = (2, 1, 0)  # accidentals hold to the bar line


def abc_to_note_sequence(abc_text: str):
    """Parses one ABC tune with music21 and converts it to a NoteSequence.

    Every part becomes an instrument; chord symbols and grace notes are ignored, tied
    notes are merged, and a pickup bar is shifted so that the first full bar starts at a
    multiple of the bar length. Tempo marks are ignored (one constant tempo), so that
    quantization is exact. An accidental holds to the end of its bar (ABC 2.1 and
    standard notation); music21 would otherwise read the tune as ABC 1.3, where it applies
    to one note only, which turns e.g. ``_B2B2`` (B flat twice) into B flat, B. Repeats
    are not expanded (each section once, as written). A tune without an ``L:`` field gets
    the standard's default unit note length (:func:`with_unit_note_length`). Known music21
    parser faults are worked around first (:func:`rewrite_abc_for_music21`). music21 makes a new part at every
    ``V:`` line, so a tune that alternates voices line by line yields fragments.

    Args:
      abc_text: a single ABC tune (one ``X:`` field).

    Returns:
      A ``NoteSequence`` (unquantized, seconds at 120 qpm).

    Raises:
      Exception: whatever music21 raises for a tune it cannot parse.
    """
    from music21 import abcFormat  # pylint: disable=import-outside-toplevel
    handler = abcFormat.ABCHandler(abcVersion=ABC_VERSION)
    handler.process(rewrite_abc_for_music21(with_unit_note_length(abc_text)))
    with _without_beaming():
        score = abcFormat.translate.abcToStreamScore(handler)
    return _stream_to_note_sequence(score)


_HEADER_FIELD = re.compile(r"^\s*([A-Za-z]):(.*)$")


def default_unit_note_length(meter: str | None) -> str:
    """The unit note length ABC 2.1 (section 3.1.7) assigns when a tune has no ``L:`` field.

    "If there is no L: field defined, a unit note length is set by default, based on the
    meter field M:. This default is calculated by computing the meter as a decimal: if it
    is less than 0.75 the default unit note length is a sixteenth note; if it is 0.75 or
    greater, it is an eighth note." Without ``M:`` (or with ``M:none``) it is an eighth
    note. ``M:C`` is 4/4 and ``M:C|`` 2/2; a complex meter's numerator is summed
    (``M:2+3/8`` is 5/8).

    Args:
      meter: the ``M:`` field's value (``"6/8"``, ``"C|"``, ``"none"``), or None.

    Returns:
      ``"1/16"`` or ``"1/8"`` (also for a meter that cannot be read).
    """
    text = (meter or "").split("%")[0].strip()
    text = {"C": "4/4", "C|": "2/2"}.get(text, text)
    match = re.fullmatch(r"\(?\s*(\d+(?:\s*\+\s*\d+)*)\s*\)?\s*/\s*(\d+)", text)
    if not match or int(match.group(2)) == 0:
        return "1/8"
    numerator = sum(int(x) for x in match.group(1).split("+"))
    return "1/16" if numerator / int(match.group(2)) < 0.75 else "1/8"


def with_unit_note_length(abc_text: str) -> str:
    """Adds the standard's default ``L:`` field to a tune header that has none.

    music21 refuses a tune without ``L:`` and ``M:`` ("no active default note length") and
    reads a complex meter such as ``M:2+3/8`` with the wrong default; ABC 2.1 defines the
    default (:func:`default_unit_note_length` of the last ``M:`` before ``K:``), so it is
    written out as an ``L:`` line right before the ``K:`` line that ends the header. Lines
    before ``X:`` (a tunebook's file header, which :func:`note_rnn.corpus.split_abc_tunes`
    prepends) count as header. A text that has an ``L:`` field in its header, or no ``K:``
    line, is returned unchanged.

    Args:
      abc_text: one ABC tune (with its file header, if any).

    Returns:
      The tune, with ``L:1/16`` or ``L:1/8`` inserted when its header has no ``L:``.
    """
    lines = abc_text.split("\n")
    meter = None
    for i, line in enumerate(lines):
        field = _HEADER_FIELD.match(line)
        if field is None:
            continue
        name, value = field.group(1), field.group(2)
        if name == "L":
            return abc_text
        if name == "M":
            meter = value
        elif name == "K":
            return "\n".join(lines[:i] + [f"L:{default_unit_note_length(meter)}"] + lines[i:])
    return abc_text


# A note letter directly followed by the repeat bar "::" (e.g. "G2 A::"), outside a field line.
_NOTE_BEFORE_DOUBLE_REPEAT = re.compile(r"(?<=[A-Z])::(?!:)")
_FIELD_LINE = re.compile(r"^\s*(?:[A-Za-z+]:|%)")


def rewrite_abc_for_music21(abc_text: str) -> str:
    """Rewrites ABC notation that music21 10 misreads into an equivalent it reads correctly.

    music21's tokenizer takes an upper-case letter followed by ``:`` and anything but
    ``|`` for the start of a header field (``A:``, ``B:``, ...) wherever it occurs, so in
    ``G2 A::`` (a note A, then the repeat bar ``::``) the note A and the rest of its line
    are read as a field and silently dropped (20 of the 180 tunes of the default
    collections with a note before ``::``). ``::`` is the shorthand of ``:|:`` (end one
    repeat, start the next; music21 itself splits it into ``:|`` and ``|:``), so the
    shorthand is written out in full after a note letter. Field lines (``X:``, ``K:``...)
    and comments are left alone.

    Args:
      abc_text: ABC text (one tune or a whole file).

    Returns:
      The text with each note-letter ``::`` replaced by ``:|:``; identical when there is none.
    """
    lines = abc_text.split("\n")
    return "\n".join(line if _FIELD_LINE.match(line) else _NOTE_BEFORE_DOUBLE_REPEAT.sub(":|:", line)
                     for line in lines)


@contextlib.contextmanager
def _without_beaming():
    """Skips music21's beaming of parsed ABC (notation only) for the duration of the block.

    Beaming is 40% of music21's ABC translation time and changes no note: on 580 tunes of
    the four default collections the NoteSequences were identical with and without it
    (38 -> 23 ms per tune). The original method is restored on exit.
    """
    from music21 import stream  # pylint: disable=import-outside-toplevel
    original = stream.Stream.makeBeams
    stream.Stream.makeBeams = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        stream.Stream.makeBeams = original


def _stream_to_note_sequence(score):
    """Converts a music21 Score (or Part) into a NoteSequence, see abc_to_note_sequence."""
    sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
    sequence.tempos.add(time=0.0, qpm=ABC_QPM)
    parts = list(score.parts) or [score]
    measures = parts[0].getElementsByClass("Measure")
    shift = float(measures[0].paddingLeft) if measures else 0.0
    seconds = 60.0 / ABC_QPM
    for offset, numerator, denominator in _meter_changes(measures, parts[0].highestTime):
        sequence.time_signatures.add(time=(offset + shift) * seconds if offset else 0.0,
                                     numerator=numerator, denominator=denominator)
    for instrument, part in enumerate(parts):
        _add_part_notes(sequence, part, instrument, shift, seconds)
    sequence.total_time = max((n.end_time for n in sequence.notes), default=0.0)
    return sequence


def _meter_changes(measures, end: float) -> List[Tuple[float, int, int]]:
    """Returns the (offset, numerator, denominator) meter changes worth a split.

    music21 gives an over- or under-full bar of a faulty tune its own meter (e.g. 1/16 for
    one extra 16th note). A change that lasts less than two bars of its own meter is such
    a patch and is ignored, and so is a restatement of the current meter; the first meter
    is always kept.
    """
    written = [(float(m.offset), m.timeSignature) for m in measures if m.timeSignature]
    kept: List[Tuple[float, int, int]] = []
    for i, (offset, meter) in enumerate(written):
        until = written[i + 1][0] if i + 1 < len(written) else float(end)
        if kept and (until - offset < 2 * float(meter.barDuration.quarterLength)
                     or (meter.numerator, meter.denominator) == kept[-1][1:]):
            continue
        kept.append((offset, meter.numerator, meter.denominator))
    return kept


def _add_part_notes(sequence, part, instrument: int, shift: float, seconds: float) -> None:
    """Adds the notes of one music21 part to ``sequence``, merging tied notes."""
    from music21 import harmony  # pylint: disable=import-outside-toplevel
    open_ties = {}  # MIDI pitch -> NoteSequence note waiting for its tie to continue
    for element in part.flatten().notes:
        length = float(element.duration.quarterLength)
        if isinstance(element, harmony.ChordSymbol) or length <= 0:
            continue
        start = (float(element.offset) + shift) * seconds
        end = start + length * seconds
        members = element.notes if element.isChord else [element]
        for member in members:
            pitch = getattr(member, "pitch", None)
            if pitch is None or not 0 <= pitch.midi <= 127:
                continue
            tie = (member.tie or element.tie)
            tie_type = tie.type if tie is not None else None
            held = open_ties.pop(pitch.midi, None)
            if held is not None and tie_type in ("stop", "continue") \
                    and abs(held.end_time - start) < 1e-6:
                held.end_time = end
                note = held
            else:
                note = sequence.notes.add(pitch=pitch.midi, velocity=100, start_time=start,
                                          end_time=end, instrument=instrument)
            if tie_type in ("start", "continue"):
                open_ties[pitch.midi] = note
