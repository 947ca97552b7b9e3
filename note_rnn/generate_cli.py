"""The one ``generate`` command style shared by ``note-rnn generate`` and ``rl-tuner generate``.

Both commands get the same flags from :func:`add_generation_arguments` and run through
:func:`run_generation`; they differ only in how a model is loaded and sampled. No
TensorFlow is imported here (``--help`` stays fast).
"""

from __future__ import annotations

import argparse
import os

from rl_tuner.plumbing.cli_utils import add_overwrite_flag, range_type
from rl_tuner.plumbing.ranges import COUNT, SEED, positive
from rl_tuner.sampling_args import TEMPERATURE
from note_rnn.tokens import DEFAULT_QPM


def add_generation_arguments(parser: argparse.ArgumentParser, model_help: str) -> None:
    """Adds the generation flags: the model (``--model``, alias ``--checkpoint``), ``--num``,
    ``--length``, ``--temperature``, ``--seed``, ``--qpm``, ``--no-audio``, ``--out`` and a
    primer (``--primer-melody`` or ``--primer-midi``, as Magenta's melody_rnn_generate), and
    the command's description."""
    parser.description = ("Samples --num melodies from a model, optionally continuing a primer melody as Magenta's "
                          "melody_rnn_generate does, and writes melody_NNN.mid, melody_NNN.wav (unless --no-audio) "
                          "and melodies.json (the tokens) into --out.")
    parser.add_argument("--model", "--checkpoint", dest="model", default=None, metavar="PATH", help=model_help)
    parser.add_argument("--num", type=range_type(int, COUNT), default=10,
                        help="number of melodies (default: %(default)s)")
    parser.add_argument("--length", type=range_type(int, COUNT), default=32,
                        help="16th-note steps per melody, a primer included (Magenta's --num_steps) "
                             "(default: %(default)s)")
    parser.add_argument("--temperature", type=range_type(float, TEMPERATURE), default=1.0,
                        help=f"softmax temperature, {TEMPERATURE.describe()} (default: %(default)s)")
    parser.add_argument("--seed", type=range_type(int, SEED), default=0,
                        help="random seed; same seed, same melodies (default: %(default)s)")
    parser.add_argument("--qpm", type=range_type(float, positive()), default=None,
                        help="tempo of the MIDI and WAV files, quarter notes per minute (default: the tempo of "
                             f"--primer-midi as in Magenta, else {DEFAULT_QPM:g})")
    parser.add_argument("--no-audio", action="store_true", help="write MIDI files and melodies.json only, no WAV")
    parser.add_argument("--out", default="generated",
                        help="output directory: melody_NNN.mid, melody_NNN.wav and melodies.json (the tokens; "
                             "events.json, Magenta events, for a mono_rnn model) "
                             "(default: %(default)s)")
    primer = parser.add_mutually_exclusive_group()
    primer.add_argument("--primer-melody", default=None, metavar="LIST",
                        help="every melody starts with these Magenta events, e.g. \"[60, -2, 62, -1]\" (MIDI "
                             "pitches 48..83, -2 = hold, -1 = note-off); the model continues from its state "
                             "after them")
    primer.add_argument("--primer-midi", default=None, metavar="FILE",
                        help="every melody starts with the melody of this MIDI file (its first instrument, "
                             "folded by octaves into 48..83)")
    add_overwrite_flag(parser)


def check_generation_args(args: argparse.Namespace):
    """Checks the flags before any model is loaded.

    Returns:
      (primer tokens int32 [k] or None, qpm): ``--qpm``, else the first tempo of
      ``--primer-midi`` (Magenta's rule), else 80.

    Raises:
      ValueError: for a non-positive --num, --length or --temperature (--qpm is checked by
        its argparse type, see :func:`add_generation_arguments`), a malformed
        or out-of-range primer, or a primer not shorter than --length.
      note_rnn.encoding.MidiReadError: for an unreadable --primer-midi.
    """
    from note_rnn import melody_io
    from rl_tuner.sampling_args import check_sampling_args
    check_sampling_args(args.num, args.length, args.temperature)  # before reading a primer file
    primer, qpm = None, args.qpm
    if args.primer_melody is not None:
        primer = melody_io.parse_primer_melody(args.primer_melody)
    elif args.primer_midi is not None:
        primer = melody_io.read_primer_midi(args.primer_midi)
        qpm = qpm or melody_io.midi_qpm(args.primer_midi)
    check_sampling_args(args.num, args.length, args.temperature, primer)
    return primer, qpm or DEFAULT_QPM


def run_generation(args: argparse.Namespace, sample, model_path: str, command: str) -> list[str]:
    """Samples and writes melodies for a ``generate`` command.

    ``--out`` is checked before sampling and written through :func:`rl_tuner.plumbing.output_dir.directory`:
    this command's earlier files there are replaced (never mixed with the new ones), anything
    else is kept, and a foreign non-empty folder needs ``--overwrite`` (:mod:`rl_tuner.plumbing.outputs`).

    Args:
      args: the parsed flags of :func:`add_generation_arguments`.
      sample: ``(num, length, temperature, seed, primer) -> int [num, length]`` tokens (or a
        :class:`note_rnn.generate.EventMelodies`); called after the flags were checked.
      model_path: the model's path, printed in the summary (an input: never replaced).
      command: the command's name, recorded in the output's manifest.

    Returns:
      The MIDI paths written (:func:`note_rnn.generate.write_outputs`).

    Raises:
      ValueError: see :func:`check_generation_args`; rl_tuner.plumbing.outputs.OutputError for an
        --out that may not be written.
    """
    from rl_tuner.plumbing import output_dir, outputs
    primer, qpm = check_generation_args(args)
    inputs = [model_path] + ([args.primer_midi] if args.primer_midi else [])
    outputs.check_dir(args.out, command, args.overwrite, inputs=inputs)
    melodies = sample(args.num, args.length, args.temperature, args.seed, primer)
    from note_rnn.generate import write_outputs
    with output_dir.directory(args.out, command, args.overwrite) as tmp:  # earlier files go, others stay
        written = write_outputs(melodies, tmp, qpm=qpm, audio=not args.no_audio)
    paths = [os.path.join(args.out, os.path.basename(p)) for p in written]
    from note_rnn.generate import EVENTS_FILE, TOKENS_FILE, EventMelodies
    kinds = "MIDI" + ("" if args.no_audio else ", WAV") + " and " + (
        EVENTS_FILE if isinstance(melodies, EventMelodies) else TOKENS_FILE)
    primed = f", primer of {len(primer)} steps" if primer is not None else ""
    print(f"wrote {len(paths)} melodies to {args.out} ({kinds}; model {model_path}{primed})")
    return paths
