"""The ``rl-tuner`` command: tune a Note-RNN with KL-control RL, evaluate, score, export."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from note_rnn.cli_utils import HelpFormatter, add_dataclass_arguments, add_overwrite_flag, range_type, run_main
from note_rnn.ranges import COUNT, SEED, at_least, positive
from note_rnn.tokens import NUM_CLASSES  # the melody encoding (a constant; no TensorFlow import)

TABLE1_KEYS = ("notes_excessively_repeated", "mean_autocorrelation_lag1", "mean_autocorrelation_lag2",
               "mean_autocorrelation_lag3", "notes_not_in_key", "melodies_starting_with_tonic", "leaps_resolved",
               "melodies_with_unique_max_note", "melodies_with_unique_min_note", "notes_in_motif",
               "notes_in_repeated_motif")
EXTRA_KEYS = ("mean_log_prior", "mean_music_theory_reward", "mean_kl", "mean_entropy")


def build_parser() -> argparse.ArgumentParser:
    """The ``rl-tuner`` argument parser (built from TensorFlow-free modules: --help is fast)."""
    from rl_tuner import choices, reward_modes
    from rl_tuner.config import PRESETS, RLConfig
    parser = argparse.ArgumentParser(prog="rl-tuner", description=__doc__, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="tune a Note-RNN (rerun the same command to resume)", formatter_class=HelpFormatter,
                       description="Fine-tunes a copy of a Note-RNN with q, psi, g or pure_rl against the music-theory "
                                   "reward; the frozen Note-RNN is the prior. Flags not given come from --preset.")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS),
                   help="settings to start from: 'paper' (the paper's, 1,000,000 steps) or 'default' (a short run); "
                        "(default: %(default)s)")
    p.add_argument("--out", required=True, help="run directory (TensorBoard events, checkpoints, stats.json)")
    help_defaults = {}
    for field in dataclasses.fields(RLConfig):
        d, pp = PRESETS["default"].get(field.name, field.default), PRESETS["paper"].get(field.name, field.default)
        help_defaults[field.name] = f"default: {d}" + (f"; paper preset: {pp}" if pp != d else "")
    help_defaults["note_rnn"] = "default: the shipped checkpoints/note_rnn"
    help_defaults["reward_mode"] = "default: music_theory_all for q and psi, music_theory_only for g and pure_rl"
    add_dataclass_arguments(p, RLConfig, help_defaults=help_defaults, choices={
        "algorithm": choices.ALGORITHMS, "exploration": choices.EXPLORATION_MODES, "replay": choices.REPLAY_KINDS,
        "reward_mode": reward_modes.REWARD_MODES})
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (one line per evaluation instead, as when stderr is not a terminal)")
    p.add_argument("--intra-op-threads", type=range_type(int, at_least(0)), default=1,
                   help="TensorFlow threads per op; 1 is fastest for these tiny networks, 0 = TensorFlow's "
                        "default (default: %(default)s)")

    p = sub.add_parser("evaluate", help="Table-1 statistics of melodies sampled from a model",
                       formatter_class=HelpFormatter)
    _add_sampling_arguments(p, "--num-melodies", 100_000)
    p.add_argument("--out", default="stats.json", help="output JSON (default: %(default)s)")
    add_overwrite_flag(p, "file")

    melody_help = ("melody file: JSON of token lists (0..37), JSON of Magenta event lists (MIDI pitches 48..83, "
                   "-2 hold, -1 note-off), or a MIDI file (one melody per instrument); melodies may differ in length")
    format_help = ("how to read --melodies: auto (MIDI by .mid/.midi name or content, else JSON: magenta if a value is "
                   "< 0 or > 47, else tokens) (default: %(default)s)")
    from note_rnn.melody_io import FORMATS
    p = sub.add_parser("score", help="per-note music-theory reward of given melodies", formatter_class=HelpFormatter)
    p.add_argument("--melodies", required=True, help=melody_help)
    p.add_argument("--format", default="auto", choices=FORMATS, help=format_help)
    p.add_argument("--out", required=True, help="output JSON: tokens, total and components of each note's r_MT")
    add_overwrite_flag(p, "file")

    p = sub.add_parser("stats", help="Table-1 statistics of given melodies", formatter_class=HelpFormatter)
    p.add_argument("--melodies", required=True, help=melody_help)
    p.add_argument("--format", default="auto", choices=FORMATS, help=format_help)
    p.add_argument("--out", required=True, help="output JSON")
    add_overwrite_flag(p, "file")

    p = sub.add_parser("generate", help="sample melodies to MIDI and WAV files (optionally from a primer)",
                       formatter_class=HelpFormatter)
    from note_rnn.generate_cli import add_generation_arguments
    add_generation_arguments(p, MODEL_HELP)

    p = sub.add_parser("export", help="write a SavedModel with a generate() signature", formatter_class=HelpFormatter)
    p.add_argument("--model", default=None, help="run/policy directory or Note-RNN checkpoint "
                                                 "(default: the shipped Note-RNN)")
    p.add_argument("--out", required=True, help="SavedModel directory")
    add_overwrite_flag(p)
    return parser


MODEL_HELP = ("run directory, policy directory or Note-RNN checkpoint (a plain Note-RNN is the MLE row of "
              "Table 1) (default: the shipped Note-RNN)")


def _add_sampling_arguments(p: argparse.ArgumentParser, num_flag: str, num_default: int) -> None:
    p.add_argument("--model", "--checkpoint", dest="model", default=None, metavar="PATH", help=MODEL_HELP)
    p.add_argument(num_flag, dest="num", type=range_type(int, COUNT), default=num_default,
                   help="melodies to sample (default: %(default)s)")
    p.add_argument("--length", type=range_type(int, COUNT), default=32, help="notes per melody (default: %(default)s)")
    p.add_argument("--temperature", type=range_type(float, positive()), default=1.0,
                   help="softmax temperature, > 0 (default: %(default)s)")
    p.add_argument("--seed", type=range_type(int, SEED), default=0,
                   help="random seed; same seed, same melodies (default: %(default)s)")


def print_table(columns: dict, keys=TABLE1_KEYS + EXTRA_KEYS, file=None) -> None:
    """Prints statistics side by side: {column title: stats dict} (to ``file`` or stdout)."""
    file = file or sys.stdout
    titles = list(columns)
    print(f"{'statistic':34s}" + "".join(f"{t:>14s}" for t in titles), file=file)
    for key in keys:
        row = [columns[t].get(key) for t in titles]
        print(f"{key:34s}" + "".join(f"{v:14.4f}" if isinstance(v, (int, float)) and v is not None
                                     else f"{'nan':>14s}" for v in row), file=file)


def _model_path(path):
    if path:
        return path
    from note_rnn.cli import default_checkpoint
    return default_checkpoint()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from note_rnn import outputs
    command = f"rl-tuner {args.command}"
    if args.command == "train":
        from rl_tuner import config as config_lib
        from rl_tuner.config import RLConfig
        overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(RLConfig)}
        overrides["note_rnn"] = overrides["note_rnn"] or _model_path(None)
        cfg = config_lib.from_preset(args.preset, **overrides)  # refuses bad settings before TensorFlow loads
        from rl_tuner import train
        train.set_intra_op_threads(args.intra_op_threads)
        final = train.run(cfg, args.out, progress=not args.quiet)
        print(f"\nTable-1 statistics of {cfg.final_eval_melodies} sampled melodies ({cfg.algorithm}, "
              f"{final['steps']} steps); full results in {os.path.join(args.out, 'stats.json')}")
        print_table({"Note-RNN": final["before"], f"RL ({cfg.algorithm})": final["after"]})
    elif args.command == "evaluate":
        from note_rnn.sampling_args import check_sampling_args
        check_sampling_args(args.num, args.length, args.temperature)  # before the model loads
        from rl_tuner import evaluate, policy
        outputs.check_file(args.out, command, args.overwrite, inputs=[_model_path(args.model)])
        pol = policy.load_policy(_model_path(args.model), num_classes=NUM_CLASSES)
        result = evaluate.evaluate_policy(pol, args.num, args.length, args.seed, args.temperature)
        result["model"] = _model_path(args.model)
        outputs.write_json(args.out, result, command, args.overwrite, inputs=[_model_path(args.model)])
        print_table({pol.algorithm: result})
        print(f"wrote {args.out} ({args.num} melodies, sampled in {result['sampling_seconds']:.1f} s, "
              f"scored in {result['scoring_seconds']:.1f} s)")
    elif args.command == "score":
        from note_rnn.melody_io import read_melody_file
        from rl_tuner import music_theory
        outputs.check_file(args.out, command, args.overwrite, inputs=[args.melodies])
        melodies = read_melody_file(args.melodies, args.format)
        scores = music_theory.score_melody_list(melodies)
        out = {"melodies": [{"tokens": m.tolist(), "total": total.tolist(),
                             "components": {k: v.tolist() for k, v in components.items()}}
                            for m, (total, components) in zip(melodies, scores)]}
        outputs.write_json(args.out, out, command, args.overwrite, inputs=[args.melodies])
        print(f"scored {len(melodies)} melodies -> {args.out}")
    elif args.command == "stats":
        from note_rnn.melody_io import read_melody_file
        from rl_tuner import stats
        outputs.check_file(args.out, command, args.overwrite, inputs=[args.melodies])
        melodies = read_melody_file(args.melodies, args.format)
        result = stats.composition_stats(melodies)
        outputs.write_json(args.out, result, command, args.overwrite, inputs=[args.melodies])
        print_table({"melodies": result}, keys=TABLE1_KEYS)
    elif args.command == "generate":
        from note_rnn.generate_cli import run_generation
        path = _model_path(args.model)

        def sample(num, length, temperature, seed, primer):
            from rl_tuner import evaluate, policy
            pol = policy.load_policy(path, num_classes=NUM_CLASSES)
            return evaluate.sample(pol, num, length, temperature, seed, primer=primer)["tokens"]
        run_generation(args, sample, path, command)
    elif args.command == "export":
        from rl_tuner import export, policy
        outputs.check_dir(args.out, command, args.overwrite, inputs=[_model_path(args.model)])
        pol = policy.load_policy(_model_path(args.model), num_classes=NUM_CLASSES)
        export.export(pol, args.out, overwrite=args.overwrite)
        print(f"exported {pol.algorithm} policy to {args.out} (tf.saved_model.load(...).generate(num_melodies, "
              f"length, temperature, seed))")
    return 0


def console_entry_point() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    console_entry_point()
