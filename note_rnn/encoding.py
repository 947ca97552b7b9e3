"""The 38-token melody encoding: tokens <-> Melody <-> NoteSequence <-> MIDI (and ABC in).

Everything goes through note_seq's ``MelodyOneHotEncoding(48, 84)``, exactly as Magenta's
Note-RNN data pipeline and MIDI export do:

* token 0 = no event (hold the previous note or rest), Melody value -2;
* token 1 = note-off (start a rest), Melody value -1;
* token i >= 2 = note-on of MIDI pitch ``i + 46`` (48..83).

One token is one 16th note (4 steps per quarter, 16 steps per 4/4 bar). At the default
tempo of 80 qpm (Magenta's export) one step lasts 60 / 80 / 4 = 0.1875 s.

Two canonical forms of note_seq are worth knowing: note-offs before the first note are
stored as holds (both are silence), and melodies read from a NoteSequence or MIDI file
start at the bar of their first note and end when their last note ends (trailing rests are
dropped).

ABC tunes are read by :mod:`note_rnn.abc` (music21).

No TensorFlow here; note_seq and numpy.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from typing import Iterable, List, Optional

import numpy as np

with warnings.catch_warnings():
    # pydub (imported by note_seq) warns about ffmpeg and audioop, which we never use.
    warnings.simplefilter("ignore")
    import mido
    import note_seq
    import pretty_midi
    from note_seq import events_lib, melodies_lib, sequences_lib
    from note_seq.melody_encoder_decoder import MelodyOneHotEncoding
    from note_seq.protobuf import music_pb2

from note_rnn.tokens import (DEFAULT_QPM, MAX_NOTE, MIN_NOTE, NUM_CLASSES,
                             STEPS_PER_QUARTER)

_ENCODING = MelodyOneHotEncoding(MIN_NOTE, MAX_NOTE)
STEPS_PER_BAR_4_4 = 4 * STEPS_PER_QUARTER
# pretty_midi's MAX_TICK: "If max_tick is huge, the MIDI file is probably corrupt and creating
# the __tick_to_time array will thrash memory" (80 MB of float64 at this limit).
MAX_MIDI_TICK = 10_000_000

# note_seq errors meaning "this piece gives no melody" (Magenta's pipelines drop it, too).
_UNQUANTIZABLE = (
    sequences_lib.BadTimeSignatureError,
    sequences_lib.MultipleTimeSignatureError,
    sequences_lib.MultipleTempoError,
    sequences_lib.NegativeTimeError,
    events_lib.NonIntegerStepsPerBarError,
)


class MidiReadError(ValueError):
    """A MIDI file is missing, unreadable or invalid; the message names file and cause."""

    def __init__(self, path: str, cause: str):
        super().__init__(f"cannot read MIDI file {path!r}: {cause}")
        self.path = str(path)
        self.cause = cause


@dataclasses.dataclass(frozen=True)
class ExtractionOptions:
    """How melodies are extracted from a NoteSequence (Magenta's ``MelodyExtractor``).

    The defaults keep every melody (no length filters) and transpose it to C major /
    A minor, folded into MIDI 48..83. :data:`MAGENTA_OPTIONS` adds the length and pitch
    filters of Magenta's melody_rnn data pipeline.

    Attributes:
      min_bars: melodies shorter than this many bars (of their own time signature) are
        dropped. 0 keeps every melody.
      max_steps: melodies longer than this many 16th-note steps are truncated to it.
        None keeps the whole melody.
      min_unique_pitches: melodies with fewer distinct pitches are dropped.
      gap_bars: a rest of this many bars or more ends a melody; the next note starts a
        new one.
      transpose_to_key: None keeps the key; 0 transposes to C major (minor tunes to
        A minor), as Magenta's ``Melody.squash(48, 84, transpose_to_key=0)``; 0..11 picks
        another major key. In every case notes are folded by octaves into MIDI 48..83.
      ignore_polyphonic_notes: if True, the highest of several notes starting on the same
        step is kept; if False, such a track yields no melody.
    """

    min_bars: float = 0
    max_steps: Optional[int] = None
    min_unique_pitches: int = 0
    gap_bars: float = 1.0
    transpose_to_key: Optional[int] = 0
    ignore_polyphonic_notes: bool = True


MAGENTA_OPTIONS = ExtractionOptions(min_bars=7, max_steps=512, min_unique_pitches=5)


# tokens <-> Melody


def validate_tokens(tokens: Iterable) -> np.ndarray:
    """Checks that ``tokens`` is a 1-D sequence of integers in 0..37.

    Args:
      tokens: a sequence (list, tuple or array) of token indices; integer-valued floats
        such as 2.0 are accepted.

    Returns:
      The tokens as a 1-D ``np.int8`` array.

    Raises:
      ValueError: if a token is not an integer or lies outside 0..37; the message names
        the first bad value and its position.
    """
    if isinstance(tokens, np.ndarray) and tokens.ndim == 1 and tokens.dtype.kind in "iu":
        bad = np.flatnonzero((tokens < 0) | (tokens >= NUM_CLASSES))  # fast path
        if bad.size:
            raise _invalid_token(tokens[bad[0]].item(), int(bad[0]))
        return tokens.astype(np.int8)
    values = list(tokens.tolist() if isinstance(tokens, np.ndarray) else tokens)
    for position, value in enumerate(values):
        if not _is_token(value):
            raise _invalid_token(value, position)
    return np.asarray([int(v) for v in values], dtype=np.int8)


def _is_token(value) -> bool:
    """True for an integer (or integer-valued float) in 0..37; False for bools."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return isinstance(value, (int, np.integer)) and 0 <= value < NUM_CLASSES


def _invalid_token(value, position: int) -> ValueError:
    return ValueError(f"invalid token {value!r} at position {position}: expected an integer "
                      f"in 0..{NUM_CLASSES - 1}")


def tokens_to_melody(tokens: Iterable) -> note_seq.Melody:
    """Decodes tokens into a note_seq ``Melody`` (4 steps per quarter, 16 per bar).

    Args:
      tokens: token indices in 0..37.

    Returns:
      A ``note_seq.Melody``. Note-offs before the first note become holds (note_seq's
      canonical form of a leading silence).

    Raises:
      ValueError: for an invalid token (see :func:`validate_tokens`).
    """
    events = [_ENCODING.decode_event(int(t)) for t in validate_tokens(tokens)]
    return note_seq.Melody(events, steps_per_quarter=STEPS_PER_QUARTER,
                           steps_per_bar=STEPS_PER_BAR_4_4)


def melody_to_tokens(melody: Iterable[int]) -> np.ndarray:
    """Encodes a ``Melody`` (or a sequence of Melody event values) into tokens.

    Args:
      melody: a ``note_seq.Melody`` or Melody event values (-2 hold, -1 note-off,
        MIDI pitches 48..83).

    Returns:
      A 1-D ``np.int8`` array of token indices.

    Raises:
      ValueError: if an event is below -2 or a pitch outside 48..83 (call
        ``melody.squash(48, 84)`` first to fold it into range); the message names the
        event and its position.
    """
    tokens = np.empty(len(melody), dtype=np.int8)
    for position, event in enumerate(melody):
        if event < -2 or (event >= 0 and not MIN_NOTE <= event < MAX_NOTE):
            raise ValueError(f"melody event {event} at position {position} cannot be encoded: "
                             f"expected -2, -1 or a MIDI pitch in {MIN_NOTE}..{MAX_NOTE - 1}")
        tokens[position] = _ENCODING.encode_event(int(event))
    return tokens


# tokens -> NoteSequence -> MIDI


def tokens_to_note_sequence(tokens: Iterable, qpm: float = DEFAULT_QPM) -> music_pb2.NoteSequence:
    """Renders tokens as a NoteSequence (velocity 100, program 0, one tempo).

    Args:
      tokens: token indices in 0..37.
      qpm: tempo in quarter notes per minute; one token lasts ``60 / qpm / 4`` seconds.

    Returns:
      A ``NoteSequence`` with one note per pitch token; a note lasts until the next pitch
      or note-off token, or the end of the melody.

    Raises:
      ValueError: for an invalid token or a non-positive ``qpm``.
    """
    if not qpm > 0:
        raise ValueError(f"qpm must be positive, got {qpm!r}")
    return _melody_to_note_sequence(tokens_to_melody(tokens), qpm)


def _melody_to_note_sequence(melody: note_seq.Melody, qpm: float) -> music_pb2.NoteSequence:
    sequence = melody.to_sequence(qpm=float(qpm))
    sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
    return sequence


def events_to_note_sequence(events: Iterable[int], qpm: float = DEFAULT_QPM) -> music_pb2.NoteSequence:
    """Renders Magenta melody events of any MIDI pitch (e.g. a mono_rnn melody) as a NoteSequence,
    as :func:`tokens_to_note_sequence` renders tokens.

    Args:
      events: -2 (hold), -1 (note off) or MIDI pitches 0..127, one 16th note each.
      qpm: tempo in quarter notes per minute.

    Raises:
      ValueError: for another value (naming it and its position) or a non-positive ``qpm``.
    """
    if not qpm > 0:
        raise ValueError(f"qpm must be positive, got {qpm!r}")
    events = [int(e) for e in events]
    for position, event in enumerate(events):
        if not -2 <= event <= 127:
            raise ValueError(f"melody event {event} at position {position}: expected -2, -1 or a MIDI pitch 0..127")
    return _melody_to_note_sequence(note_seq.Melody(events, steps_per_quarter=STEPS_PER_QUARTER,
                                                    steps_per_bar=STEPS_PER_BAR_4_4), qpm)


def tokens_to_events(tokens: Iterable) -> list[int]:
    """Magenta melody events of tokens, one for one (-2 hold, -1 note off, pitch = token + 46);
    unlike :func:`tokens_to_melody`, leading note-offs stay note-offs.

    Raises:
      ValueError: for an invalid token.
    """
    return [int(_ENCODING.decode_event(int(t))) for t in validate_tokens(tokens)]


def write_midi(tokens: Iterable, path: os.PathLike | str, qpm: float = DEFAULT_QPM) -> None:
    """Writes tokens as a one-track MIDI file (Magenta's export: 80 qpm, velocity 100).

    Args:
      tokens: token indices in 0..37.
      path: output file name; its folder must exist.
      qpm: tempo in quarter notes per minute.

    Raises:
      ValueError: for an invalid token or a non-positive ``qpm``.
      OSError: if the file cannot be written.
    """
    note_seq.sequence_proto_to_midi_file(tokens_to_note_sequence(tokens, qpm), os.fspath(path))


# NoteSequence / MIDI -> melodies


def note_sequence_to_melodies(
        sequence: music_pb2.NoteSequence,
        options: ExtractionOptions = ExtractionOptions()) -> List[np.ndarray]:
    """Extracts the monophonic melodies of a NoteSequence as token arrays.

    Follows Magenta's melody pipeline: split at time-signature and tempo changes,
    quantize to 4 steps per quarter, extract melodies per instrument (drums ignored; a
    rest of ``gap_bars`` ends a melody), filter them, then
    ``Melody.squash(48, 84, transpose_to_key)``. Pieces that cannot be quantized (e.g. an
    odd time signature such as 5/7) yield nothing, as in Magenta.

    Args:
      sequence: an unquantized NoteSequence (times in seconds).
      options: extraction filters and transposition (default: keep every melody,
        transpose to C major / A minor).

    Returns:
      A list of 1-D ``np.int8`` token arrays, in order of instrument then time.
    """
    melodies = []
    for piece in sequences_lib.split_note_sequence_on_time_changes(sequence):
        try:
            quantized = sequences_lib.quantize_note_sequence(piece, STEPS_PER_QUARTER)
            extracted = _extract_melodies(quantized, options)
        except _UNQUANTIZABLE:
            continue
        for melody in extracted:
            melody.squash(MIN_NOTE, MAX_NOTE, options.transpose_to_key)
            melodies.append(melody_to_tokens(melody))
    return melodies


def _extract_melodies(quantized: music_pb2.NoteSequence,
                      options: ExtractionOptions) -> List[note_seq.Melody]:
    """Magenta's ``melody_pipelines.extract_melodies`` (magenta is not a dependency)."""
    steps_per_bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(quantized))
    if steps_per_bar <= 0:
        return []
    instruments = sorted({n.instrument for n in quantized.notes if not n.is_drum})
    melodies = []
    for instrument in instruments:
        search_start = 0
        while True:
            melody = note_seq.Melody()
            try:
                melody.from_quantized_sequence(
                    quantized, search_start_step=search_start, instrument=instrument,
                    gap_bars=options.gap_bars,
                    ignore_polyphonic_notes=options.ignore_polyphonic_notes)
            except melodies_lib.PolyphonicMelodyError:
                break
            if not melody:
                break
            # The next search starts at the bar boundary at or after this melody's end.
            search_start = melody.end_step + (-melody.end_step) % steps_per_bar
            if _keep_melody(melody, options):
                melodies.append(melody)
    return melodies


def _keep_melody(melody: note_seq.Melody, options: ExtractionOptions) -> bool:
    """Applies the length and pitch filters; truncates a too-long melody in place."""
    if len(melody) < melody.steps_per_bar * options.min_bars:
        return False
    if options.max_steps is not None and len(melody) > options.max_steps:
        melody.set_length(options.max_steps)
    unique_pitches = np.count_nonzero(melody.get_note_histogram())
    return unique_pitches >= max(options.min_unique_pitches, 1)


def read_midi(path: os.PathLike | str,
              options: ExtractionOptions = ExtractionOptions()) -> List[np.ndarray]:
    """Reads the melodies of a MIDI file as token arrays.

    A file written by :func:`write_midi` from a melody that starts with a note and is
    already in C major (or read with ``ExtractionOptions(transpose_to_key=None)``) comes
    back with exactly the same tokens, unless it has a rest of a whole bar or more, which
    splits it (see ``gap_bars``).

    Args:
      path: a ``.mid``/``.midi`` file.
      options: extraction filters and transposition, see :class:`ExtractionOptions`.

    Returns:
      A list of 1-D ``np.int8`` token arrays (possibly empty).

    Raises:
      MidiReadError: if the file is missing, unreadable or not valid MIDI.
    """
    return note_sequence_to_melodies(read_note_sequence(path), options)


def read_note_sequence(path: os.PathLike | str) -> music_pb2.NoteSequence:
    """Reads a MIDI file into a NoteSequence.

    The file is parsed with mido and its largest tick checked before pretty_midi builds
    its tick-to-time table (8 bytes per tick): a corrupt file with a note at tick 2**31 - 1
    (note-seq issue 27) would otherwise allocate 16 GiB. The limit is pretty_midi's own
    (:data:`MAX_MIDI_TICK`), which note_seq raises to 1e10 on import.

    Args:
      path: a MIDI file.

    Returns:
      The unquantized NoteSequence.

    Raises:
      MidiReadError: if the file is missing, unreadable, not valid MIDI, or has a tick
        beyond :data:`MAX_MIDI_TICK`.
    """
    from rl_tuner.plumbing import file_checks
    path = os.fspath(path)
    problem = file_checks.not_a_regular_file(path)  # a FIFO or /dev/zero would block or never end
    if problem:
        raise MidiReadError(path, problem)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise MidiReadError(path, error.strerror or type(error).__name__) from error
    if not data:
        raise MidiReadError(path, "the file is empty")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), charset="latin1")  # pretty_midi's reading
    except Exception as error:  # mido raises OSError, EOFError, ValueError, KeyError...
        raise MidiReadError(path, f"not a valid MIDI file ({type(error).__name__}: {error})") \
            from error
    largest = largest_tick(midi)
    if largest > MAX_MIDI_TICK:
        raise MidiReadError(path, f"its largest tick is {largest:,} (more than {MAX_MIDI_TICK:,}): "
                                  "the file is likely corrupt")
    try:
        return note_seq.midi_to_note_sequence(pretty_midi.PrettyMIDI(mido_object=midi))
    except Exception as error:  # note_seq wraps most, but not all, pretty_midi errors.
        raise MidiReadError(path, f"not a valid MIDI file ({type(error).__name__}: {error})") \
            from error


def largest_tick(midi) -> int:
    """Returns the largest absolute tick of any event of a ``mido.MidiFile`` (0 if none)."""
    largest = 0
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
        largest = max(largest, tick)
    return largest
