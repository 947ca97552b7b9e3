"""The ``note-rnn`` command: prepare data, train, generate, import Magenta checkpoints."""

from __future__ import annotations

import argparse
import os
import sys

from note_rnn.cli_utils import (HelpFormatter, add_dataclass_arguments, command_line, dataclass_from_args,
                                run_main)

# The `checkpoints` package sits beside `note_rnn` in a checkout and in an installation.
DEFAULT_CHECKPOINT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  "checkpoints", "note_rnn")


def default_checkpoint() -> str:
    """The shipped Note-RNN checkpoint (repository checkout or installed package data)."""
    return DEFAULT_CHECKPOINT


def build_parser() -> argparse.ArgumentParser:
    from note_rnn.corpus import PrepareConfig
    from note_rnn.train import TrainConfig

    parser = argparse.ArgumentParser(prog="note-rnn", description=__doc__, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="build a melody data set from music21's folk corpus or a MIDI folder",
                       formatter_class=HelpFormatter, description=PrepareConfig.__doc__.split("\n\n")[0])
    add_dataclass_arguments(p, PrepareConfig, rename={"out_dir": "out"})

    p = sub.add_parser("train", help="train a Note-RNN by maximum likelihood (rerun to resume)",
                       formatter_class=HelpFormatter, description=TrainConfig.__doc__.split("\n\n")[0])
    add_dataclass_arguments(p, TrainConfig, rename={"out_dir": "out", "data_dir": "data"})

    p = sub.add_parser("generate", help="sample melodies to MIDI files", formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", default=None,
                   help="Note-RNN checkpoint directory, Magenta checkpoint or .mag bundle "
                        "(default: the shipped checkpoints/note_rnn)")
    p.add_argument("--num", type=int, default=10, help="number of melodies (default: %(default)s)")
    p.add_argument("--length", type=int, default=32, help="16th-note steps per melody (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same melodies (default: %(default)s)")
    p.add_argument("--qpm", type=float, default=80.0, help="tempo of the MIDI files (default: %(default)s)")
    p.add_argument("--out", default="generated", help="output directory (default: %(default)s)")

    p = sub.add_parser("import-magenta", help="convert a Magenta Note-RNN checkpoint or .mag bundle",
                       formatter_class=HelpFormatter)
    p.add_argument("src", help="checkpoint prefix or file (V1/V2), checkpoint directory, or .mag bundle")
    p.add_argument("--out", required=True, help="output checkpoint directory")
    p.add_argument("--scope", default=None, help="network scope in multi-network checkpoints (default: auto)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "prepare":
        from note_rnn import corpus
        corpus.prepare(dataclass_from_args(corpus.PrepareConfig, args))
    elif args.command == "train":
        from note_rnn import train
        history = train.train(dataclass_from_args(train.TrainConfig, args), command=command_line())
        best = history.get("best", {})
        print(f"best validation accuracy {best.get('validation_accuracy', float('nan')):.4f}, "
              f"log perplexity {best.get('validation_log_perplexity', float('nan')):.4f}; "
              f"model in {os.path.join(args.out_dir, 'model')}")
    elif args.command == "generate":
        import note_rnn
        from note_rnn import generate, tokens
        path = args.checkpoint or default_checkpoint()
        model = note_rnn.load(path, num_classes=tokens.NUM_CLASSES)
        melodies = generate.sample(model, args.num, args.length, args.temperature, args.seed)
        paths = generate.write_midi_files(melodies, args.out, qpm=args.qpm)
        print(f"wrote {len(paths)} MIDI files to {args.out} (from {path})")
    elif args.command == "import-magenta":
        from note_rnn import magenta
        out = magenta.import_magenta(args.src, args.out, scope=args.scope)
        print(f"converted {args.src} -> {out}")
    return 0


def console_entry_point() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    console_entry_point()
