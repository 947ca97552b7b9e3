"""The ``rl-tuner`` command: tune a Note-RNN with KL-control RL, evaluate, score, export."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from note_rnn.cli_utils import HelpFormatter, add_dataclass_arguments, run_main
from note_rnn.tokens import NUM_CLASSES  # the melody encoding (a constant; no TensorFlow import)

TABLE1_KEYS = ("notes_excessively_repeated", "mean_autocorrelation_lag1", "mean_autocorrelation_lag2",
               "mean_autocorrelation_lag3", "notes_not_in_key", "melodies_starting_with_tonic", "leaps_resolved",
               "melodies_with_unique_max_note", "melodies_with_unique_min_note", "notes_in_motif",
               "notes_in_repeated_motif")
EXTRA_KEYS = ("mean_log_prior", "mean_music_theory_reward", "mean_kl", "mean_entropy")


def build_parser() -> argparse.ArgumentParser:
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
    from rl_tuner import exploration, reward_modes, targets
    add_dataclass_arguments(p, RLConfig, help_defaults=help_defaults, choices={
        "algorithm": targets.ALGORITHMS, "exploration": exploration.MODES, "replay": ("uniform", "prioritized"),
        "reward_mode": reward_modes.REWARD_MODES})
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--intra-op-threads", type=int, default=1,
                   help="TensorFlow threads per op; 1 is fastest for these tiny networks, 0 = TensorFlow's "
                        "default (default: %(default)s)")

    p = sub.add_parser("evaluate", help="Table-1 statistics of melodies sampled from a model",
                       formatter_class=HelpFormatter)
    _add_sampling_arguments(p, "--num-melodies", 100_000)
    p.add_argument("--out", default="stats.json", help="output JSON (default: %(default)s)")

    p = sub.add_parser("score", help="per-note music-theory reward of given melodies", formatter_class=HelpFormatter)
    p.add_argument("--melodies", required=True, help="JSON list of melodies, each a list of token indices 0..37")
    p.add_argument("--out", required=True, help="output JSON: total and components of each note's r_MT")

    p = sub.add_parser("stats", help="Table-1 statistics of given melodies", formatter_class=HelpFormatter)
    p.add_argument("--melodies", required=True, help="JSON list of melodies, each a list of token indices 0..37")
    p.add_argument("--out", required=True, help="output JSON")

    p = sub.add_parser("generate", help="sample melodies to MIDI and WAV files", formatter_class=HelpFormatter)
    _add_sampling_arguments(p, "--num", 10)
    p.add_argument("--no-audio", action="store_true", help="write MIDI only")
    p.add_argument("--out", default="generated", help="output directory (default: %(default)s)")

    p = sub.add_parser("export", help="write a SavedModel with a generate() signature", formatter_class=HelpFormatter)
    p.add_argument("--model", default=None, help="run/policy directory or Note-RNN checkpoint "
                                                 "(default: the shipped Note-RNN)")
    p.add_argument("--out", required=True, help="SavedModel directory")
    return parser


def _add_sampling_arguments(p: argparse.ArgumentParser, num_flag: str, num_default: int) -> None:
    p.add_argument("--model", default=None, help="run directory, policy directory or Note-RNN checkpoint (a "
                                                 "plain Note-RNN is the MLE row of Table 1) (default: the shipped "
                                                 "Note-RNN)")
    p.add_argument(num_flag, dest="num", type=int, default=num_default, help="melodies to sample (default: %(default)s)")
    p.add_argument("--length", type=int, default=32, help="notes per melody (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same melodies (default: %(default)s)")


def read_melodies(path: str):
    """Reads a JSON list of equally long melodies of token indices; clear errors otherwise."""
    import numpy as np
    from note_rnn.model import check_tokens
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no melody file at {path}")
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, list) or not data or not all(isinstance(m, list) for m in data):
        raise ValueError(f"{path} must hold a non-empty JSON list of melodies (lists of token indices)")
    lengths = {len(m) for m in data}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{path}: all melodies must have the same non-zero length, found lengths {sorted(lengths)}")
    for i, m in enumerate(data):
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in m):
            raise ValueError(f"{path}: melody {i} holds a value that is not an integer token")
    try:
        return check_tokens(np.array(data), ndim=2)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


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
    from note_rnn import atomic
    if args.command == "train":
        from rl_tuner import config as config_lib, train
        from rl_tuner.config import RLConfig
        train.set_intra_op_threads(args.intra_op_threads)
        overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(RLConfig)}
        overrides["note_rnn"] = overrides["note_rnn"] or _model_path(None)
        cfg = config_lib.from_preset(args.preset, **overrides)
        final = train.run(cfg, args.out, progress=not args.quiet)
        print(f"\nTable-1 statistics of {cfg.final_eval_melodies} sampled melodies ({cfg.algorithm}, "
              f"{final['steps']} steps); full results in {os.path.join(args.out, 'stats.json')}")
        print_table({"Note-RNN": final["before"], f"RL ({cfg.algorithm})": final["after"]})
    elif args.command == "evaluate":
        from rl_tuner import evaluate, policy
        pol = policy.load_policy(_model_path(args.model), num_classes=NUM_CLASSES)
        result = evaluate.evaluate_policy(pol, args.num, args.length, args.seed, args.temperature)
        result["model"] = _model_path(args.model)
        atomic.write_json(args.out, result)
        print_table({pol.algorithm: result})
        print(f"wrote {args.out} ({args.num} melodies, sampled in {result['sampling_seconds']:.1f} s, "
              f"scored in {result['scoring_seconds']:.1f} s)")
    elif args.command == "score":
        from rl_tuner import music_theory
        melodies = read_melodies(args.melodies)
        total, components = music_theory.score_melodies(melodies)
        out = {"melodies": [{"total": total[i].tolist(),
                             "components": {k: v[i].tolist() for k, v in components.items()}}
                            for i in range(len(melodies))]}
        atomic.write_json(args.out, out)
        print(f"scored {len(melodies)} melodies -> {args.out}")
    elif args.command == "stats":
        from rl_tuner import stats
        melodies = read_melodies(args.melodies)
        result = stats.composition_stats(melodies)
        atomic.write_json(args.out, result)
        print_table({"melodies": result}, keys=TABLE1_KEYS)
    elif args.command == "generate":
        from rl_tuner import evaluate, media, policy
        pol = policy.load_policy(_model_path(args.model), num_classes=NUM_CLASSES)
        melodies = evaluate.sample(pol, args.num, args.length, args.temperature, args.seed)["tokens"]
        paths = media.write_melodies(melodies, args.out, audio=not args.no_audio)
        atomic.write_json(os.path.join(args.out, "melodies.json"), melodies.tolist())
        print(f"wrote {len(paths)} melodies (MIDI{'' if args.no_audio else ' and WAV'}) to {args.out}")
    elif args.command == "export":
        from rl_tuner import export, policy
        pol = policy.load_policy(_model_path(args.model), num_classes=NUM_CLASSES)
        export.export(pol, args.out)
        print(f"exported {pol.algorithm} policy to {args.out} (tf.saved_model.load(...).generate(num_melodies, "
              f"length, temperature, seed))")
    return 0


def console_entry_point() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    console_entry_point()
