"""The melody task's ``rl-tuner`` subcommands: ``score``, ``stats``, ``generate`` and the
listening study's ``listen`` and ``listen-report`` (:mod:`listening_study`).

They reach ``rl-tuner`` through :meth:`note_rnn.task.MelodyTask.commands`, so the core
command imports no melody code. No TensorFlow is imported here (``--help`` stays fast).
"""

from __future__ import annotations

import argparse

from listening_study import commands as listening  # Flask and TensorFlow load only when it runs
from note_rnn.stats import TABLE_1_KEYS as TABLE1_KEYS

MODEL_HELP = ("run directory, policy directory or Note-RNN checkpoint (a plain Note-RNN is the MLE row of "
              "Table 1) (default: the shipped Note-RNN)")
MELODY_HELP = ("melody file: JSON of token lists (0..37), JSON of Magenta event lists (MIDI pitches 48..83, "
               "-2 hold, -1 note-off), or a MIDI file (one melody per instrument); melodies may differ in length")
FORMAT_HELP = ("how to read --melodies: auto (MIDI by .mid/.midi name or content, else JSON: magenta if a value is "
               "< 0 or > 47, else tokens) (default: %(default)s)")


def _add_melody_file_arguments(p: argparse.ArgumentParser, out_help: str) -> None:
    from note_rnn.melody_io import FORMATS
    from rl_tuner.plumbing.cli_utils import add_overwrite_flag
    p.add_argument("--melodies", required=True, help=MELODY_HELP)
    p.add_argument("--format", default="auto", choices=FORMATS, help=FORMAT_HELP)
    p.add_argument("--out", required=True, help=out_help)
    add_overwrite_flag(p, "file")


def add_score_arguments(p: argparse.ArgumentParser) -> None:
    """Adds the flags of ``rl-tuner score`` (and its description) to ``p``."""
    p.description = ("Scores given melodies note by note with the music-theory reward r_MT of the paper (Magenta's "
                     "rules: key, tonic, repetition, motifs, leaps, intervals, ...) and writes each note's total "
                     "and its components as JSON. Melodies may differ in length; each is scored as if alone.")
    _add_melody_file_arguments(p, "output JSON: tokens, total and components of each note's r_MT")


def _run_melody_file_command(args: argparse.Namespace, command: str, compute) -> tuple[list, object]:
    """The shared body of ``score`` and ``stats``: checks ``--out`` (never the input, see
    :mod:`rl_tuner.plumbing.outputs`), reads ``--melodies`` in ``--format``, writes ``compute(melodies)``
    as JSON; returns (melodies, result)."""
    from note_rnn.melody_io import read_melody_file
    from rl_tuner.plumbing import outputs
    outputs.check_file(args.out, command, args.overwrite, inputs=[args.melodies])
    melodies = read_melody_file(args.melodies, args.format)
    result = compute(melodies)
    outputs.write_json(args.out, result, command, args.overwrite, inputs=[args.melodies])
    return melodies, result


def run_score(args: argparse.Namespace) -> int:
    """Per-note music-theory reward of the melodies in ``--melodies`` -> ``--out`` JSON."""
    from note_rnn import music_theory

    def score(melodies):
        return {"melodies": [{"tokens": m.tolist(), "total": total.tolist(),
                              "components": {k: v.tolist() for k, v in components.items()}}
                             for m, (total, components) in zip(melodies, music_theory.score_melody_list(melodies))]}
    melodies, _ = _run_melody_file_command(args, "rl-tuner score", score)
    print(f"scored {len(melodies)} melodies -> {args.out}")
    return 0


def add_stats_arguments(p: argparse.ArgumentParser) -> None:
    """Adds the flags of ``rl-tuner stats`` (and its description) to ``p``."""
    p.description = ("Computes the paper's Table-1 statistics (repeated notes, notes in key, leaps resolved, "
                     "motifs, autocorrelation, ...) of given melodies, prints them and writes them as JSON; "
                     "`rl-tuner evaluate` does the same for melodies it samples from a model.")
    _add_melody_file_arguments(p, "output JSON")


def run_stats(args: argparse.Namespace) -> int:
    """Table-1 statistics of the melodies in ``--melodies`` -> ``--out`` JSON."""
    from note_rnn import stats
    from rl_tuner.cli import print_table
    _, result = _run_melody_file_command(args, "rl-tuner stats", stats.composition_stats)
    print_table({"melodies": result}, keys=TABLE1_KEYS)
    return 0


def add_generate_arguments(p: argparse.ArgumentParser) -> None:
    from note_rnn.generate_cli import add_generation_arguments
    add_generation_arguments(p, MODEL_HELP)


def run_generate(args: argparse.Namespace) -> int:
    """Samples melodies from a run, policy or Note-RNN to MIDI and WAV files."""
    from note_rnn.generate_cli import run_generation
    from rl_tuner import tasks
    task = tasks.get_task("melody")  # the registry's (no import of note_rnn.task: no import cycle)
    path = args.model or task.default_prior()

    def sample(num, length, temperature, seed, primer):
        from rl_tuner.runner import evaluate, policy
        pol = policy.load_policy(path, task=task)
        if primer is not None:  # the primer in the model's own classes
            from note_rnn import encoding
            primer = pol.prior_rnn.input_encoder.labels(encoding.tokens_to_events(primer))
        return evaluate.sample_policy(pol, num, length, temperature, seed, primer=primer)["tokens"]
    run_generation(args, sample, path, "rl-tuner generate")
    return 0


COMMANDS = {
    "score": ("per-note music-theory reward of given melodies", add_score_arguments, run_score),
    "stats": ("Table-1 statistics of given melodies", add_stats_arguments, run_stats),
    "generate": ("sample melodies to MIDI and WAV files (optionally from a primer)", add_generate_arguments,
                 run_generate),
    "listen": ("serve a web page rating pairs of melodies of several models (the paper's listening study)",
               listening.add_listen_arguments, listening.run_listen),
    "listen-report": ("the listening study's statistics (Figure 3, Kruskal-Wallis, Mann-Whitney U), JSON, "
                      "Markdown, PNG and CSV", listening.add_report_arguments, listening.run_report),
}
