"""The ``note-rnn`` command: prepare data, train, evaluate, generate, import Magenta checkpoints."""

from __future__ import annotations

import argparse
import os
import sys

import note_rnn

from rl_tuner.plumbing.cli_utils import (HelpFormatter, add_dataclass_arguments, add_overwrite_flag, command_line,
                                dataclass_from_args, parse_with_pipeline_options, range_type, run_main)
from note_rnn.generate_cli import add_generation_arguments, run_generation
from rl_tuner.plumbing.ranges import COUNT, at_least
from note_rnn.melody_configs import CONFIGS as _MELODY_CONFIGS

MELODY_CONFIGS = tuple(_MELODY_CONFIGS)

CHECKPOINT_HELP = ("Note-RNN checkpoint directory, `note-rnn train` run directory, Magenta checkpoint or .mag "
                   "bundle (default: the shipped Note-RNN)")

def build_parser() -> argparse.ArgumentParser:
    """The ``note-rnn`` argument parser (built from TensorFlow-free modules: --help is fast)."""
    from note_rnn.prepare_config import PrepareConfig  # neither note-seq nor TensorFlow
    from note_rnn.train_config import TrainConfig

    parser = argparse.ArgumentParser(prog="note-rnn", formatter_class=HelpFormatter,
                                     description="Prepares melody data, trains and evaluates a Note-RNN (the LSTM "
                                                 "prior of the melody task), samples melodies and converts Magenta "
                                                 "checkpoints. `note-rnn COMMAND --help` explains each command.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="build a melody data set from music21's folk corpus or a MIDI folder",
                       formatter_class=HelpFormatter,
                       description="Builds the melody data set of `note-rnn train`: music21's bundled folk tunes "
                                   "(the data extra) or a --source folder of MIDI/ABC files, melodies extracted as "
                                   "Magenta's melody_rnn pipeline does, split into train.npz and validation.npz "
                                   "(or TFRecord shards) with summary.json. A file that cannot be parsed is skipped "
                                   "and named in the summary.")
    add_dataclass_arguments(p, PrepareConfig, rename={"out_dir": "out"}, skip=("format", "shards"))
    from rl_tuner.plumbing import records  # pylint: disable=import-outside-toplevel  (no TensorFlow)
    records.add_arguments(p, native="npz")
    add_overwrite_flag(p)

    p = sub.add_parser("train", help="train a Note-RNN by maximum likelihood (rerun to resume)",
                       formatter_class=HelpFormatter,
                       description="Trains a Note-RNN by maximum likelihood on a `note-rnn prepare` data set; the "
                                   "defaults are the shipped model's recipe. The epoch with the best validation "
                                   "log perplexity is exported to OUT/model. Rerun the same command to resume.")
    from rl_tuner.choices import STRATEGIES  # pylint: disable=import-outside-toplevel
    add_dataclass_arguments(p, TrainConfig, rename={"out_dir": "out", "data_dir": "data"},
                            choices={"strategy": STRATEGIES})
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (the one line per epoch stays)")

    p = sub.add_parser("evaluate", help="validation accuracy and log perplexity of a Note-RNN on a data set",
                       formatter_class=HelpFormatter,
                       description="Computes the trainer's validation metrics (next-token argmax accuracy and mean "
                                   "NLL in nats per token over windows from the zero state) for any Note-RNN, so "
                                   "that priors can be compared on the same data. Window settings default to the "
                                   "checkpoint card's hyperparameters (else the training defaults).")
    p.add_argument("--checkpoint", "--model", dest="model", default=None, metavar="PATH",
                   help=CHECKPOINT_HELP)
    p.add_argument("--data", required=True, help="data set written by `note-rnn prepare` (train.npz, validation.npz, or TFRecord shards)")
    p.add_argument("--split", default="validation", choices=("validation", "train"),
                   help="which split to evaluate (default: %(default)s)")
    p.add_argument("--max-length", type=range_type(int, COUNT), default=None, help="tokens per window (default: the card's, else 128)")
    p.add_argument("--skip-first-n-losses", type=range_type(int, at_least(0)), default=None,
                   help="unscored predictions at the start of each window (default: the card's, else 8)")
    p.add_argument("--min-window", type=range_type(int, COUNT), default=None,
                   help="shorter tail windows are dropped (default: the card's, else 16)")
    p.add_argument("--out", default=None, help="also write the metrics to this JSON file")
    add_overwrite_flag(p, "file")

    p = sub.add_parser("generate", help="sample melodies to MIDI and WAV files (optionally from a primer)",
                       formatter_class=HelpFormatter)
    add_generation_arguments(p, CHECKPOINT_HELP)

    p = sub.add_parser("import-magenta", help="convert a Magenta Note-RNN checkpoint or .mag bundle",
                       formatter_class=HelpFormatter,
                       description="Converts a Magenta melody_rnn checkpoint (V1 or V2 file, checkpoint directory) "
                                   "or .mag bundle of any configuration (basic_rnn, lookback_rnn, attention_rnn, "
                                   "mono_rnn) into this project's checkpoint folder (config.json, weights.npz, "
                                   "card.json), which every command reads.")
    p.add_argument("src", help="checkpoint prefix or file (V1/V2), checkpoint directory, or .mag bundle")
    p.add_argument("--out", required=True, help="output checkpoint directory")
    p.add_argument("--scope", default=None, help="network scope in multi-network checkpoints (default: auto)")
    p.add_argument("--config", default=None, choices=MELODY_CONFIGS,
                   help="melody_rnn configuration of a checkpoint that is not a .mag bundle (a bundle names its own; "
                        "default: basic_rnn)")
    add_overwrite_flag(p)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, beam_args = parse_with_pipeline_options(parser, argv)
    if args.command == "prepare":
        from note_rnn import corpus
        corpus.prepare(dataclass_from_args(corpus.PrepareConfig, args), overwrite=args.overwrite,
                       pipeline_args=beam_args)
    elif args.command == "train":
        from note_rnn import train
        history = train.train(dataclass_from_args(train.TrainConfig, args), command=command_line(),
                              progress=not args.quiet)
        from rl_tuner.models.mle import best_line  # pylint: disable=import-outside-toplevel
        from rl_tuner.plumbing import workers  # pylint: disable=import-outside-toplevel
        print(workers.final_line(args.strategy, args.out_dir, best_line(history, args.out_dir)))
    elif args.command == "evaluate":
        evaluate_command(args)
    elif args.command == "generate":
        path = args.model or note_rnn.default_checkpoint()

        def sample(num, length, temperature, seed, primer):
            from note_rnn import generate, prior
            return generate.sample_melodies(prior.load_melody_model(path), num, length, temperature, seed,
                                            primer=primer)
        run_generation(args, sample, path, "note-rnn generate")
    elif args.command == "import-magenta":
        from note_rnn import magenta
        out = magenta.import_magenta(args.src, args.out, scope=args.scope, overwrite=args.overwrite,
                                     config=args.config)
        print(f"converted {args.src} -> {out}")
    return 0


EVALUATE_COMMAND = "note-rnn evaluate"


def evaluate_command(args) -> dict:
    """``note-rnn evaluate``: metrics of a checkpoint on a data split (printed, optionally JSON)."""
    from rl_tuner.plumbing import checkpoint, outputs
    from note_rnn import corpus, train
    path = args.model or note_rnn.default_checkpoint()
    inputs = [path, args.data]
    if args.out is not None:  # before any work: never the data set, the checkpoint or a user's file
        outputs.check_file(args.out, EVALUATE_COMMAND, args.overwrite, inputs=inputs)
    settings = {"max_length": args.max_length, "skip_first_n_losses": args.skip_first_n_losses,
                "min_window": args.min_window}
    card_path = path if checkpoint.is_checkpoint(path) else os.path.join(path, "model")
    card = (checkpoint.read_card(card_path) if os.path.isdir(card_path) else None) or {}
    defaults = train.TrainConfig()
    for key, value in settings.items():
        if value is None:
            settings[key] = card.get("hyperparameters", {}).get(key, getattr(defaults, key))
    model = note_rnn.load(path)
    train.check_evaluable(model, path)  # before reading the data set
    melodies = corpus.load_split(args.data, args.split)
    metrics = train.evaluate_model(model, melodies, **settings)
    result = {"checkpoint": path, "data": args.data, "split": args.split, **settings, **metrics,
              "melodies": len(melodies)}
    print(f"{args.split} accuracy {metrics['accuracy']:.4f}, log perplexity {metrics['log_perplexity']:.4f} "
          f"nats/token ({metrics['tokens']} scored tokens in {metrics['windows']} windows of {len(melodies)} "
          f"melodies; max_length {settings['max_length']}, skip_first_n_losses {settings['skip_first_n_losses']}, "
          f"min_window {settings['min_window']}) -- {path}")
    if args.out is not None:
        outputs.write_json(args.out, result, EVALUATE_COMMAND, args.overwrite, inputs=inputs)
    return result


def console_entry_point() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    console_entry_point()
