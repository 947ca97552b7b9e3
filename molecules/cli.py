"""The ``molecules`` command: prepare the SMILES data set, train a SMILES-RNN prior, score SMILES
with the RDKit reward.

Only ``train-prior`` imports TensorFlow (when it runs).
"""

from __future__ import annotations

import argparse
import os
import sys

from rl_tuner.cli_utils import (HelpFormatter, add_dataclass_arguments, add_overwrite_flag, command_line,
                                dataclass_from_args, run_main)

SCORE_COMMAND = "molecules score"


def build_parser() -> argparse.ArgumentParser:
    """The ``molecules`` argument parser (subcommands ``prepare`` and ``score``)."""
    from molecules.data import PrepareConfig  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(prog="molecules", description=__doc__, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="build the SMILES data set (MOSES or a .smi/.csv file)",
                       formatter_class=HelpFormatter, description=PrepareConfig.__doc__.split("\n\n")[0])
    add_dataclass_arguments(p, PrepareConfig, rename={"out_dir": "out"},
                            choices={"tokenizer": ("atom", "char")})
    add_overwrite_flag(p)

    from molecules.prior_config import PriorConfig, TOKENIZERS  # pylint: disable=import-outside-toplevel
    p = sub.add_parser("train-prior", help="train a SMILES-RNN by maximum likelihood (rerun to resume)",
                       formatter_class=HelpFormatter, description=PriorConfig.__doc__.split("\n\n")[0])
    add_dataclass_arguments(p, PriorConfig, rename={"out_dir": "out", "data_dir": "data"},
                            choices={"tokenizer": TOKENIZERS})
    p.add_argument("--quiet", action="store_true", help="no progress bar (the one line per epoch stays)")

    p = sub.add_parser("score", help="score SMILES (one per line) with a reward preset, as JSON",
                       formatter_class=HelpFormatter)
    p.add_argument("--smiles", required=True, help="text file, one SMILES per line")
    p.add_argument("--preset", choices=("default", "paper"), default="default",
                   help="reward preset (default: %(default)s)")
    p.add_argument("--data", default=None,
                   help="prepared data set whose statistics set the default preset's length and carbon "
                        "limits (default: the built-in MOSES statistics)")
    p.add_argument("--out", required=True,
                   help="output JSON file: {\"written_by\": \"molecules score\", \"molecules\": [one object per "
                        "input line]}")
    add_overwrite_flag(p, "file")
    return parser


def read_lines(path: str) -> list:
    """Lines of a text file without line ends (undecodable bytes become U+FFFD).

    Raises:
      FileNotFoundError: no such file (named).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SMILES file {path!r} does not exist")
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()


def score_file(smiles_path: str, preset_name: str, out_path: str, data_dir=None, overwrite: bool = False) -> list:
    """Scores every line of ``smiles_path`` and writes the records to ``out_path``.

    ``out_path`` follows :mod:`rl_tuner.outputs` (checked before any work): never an input,
    an existing file only if it is this command's earlier output or with ``overwrite``. It
    holds ``{"written_by": "molecules score", "molecules": records}``.

    Returns:
      The records (see :meth:`molecules.rewards.DomainReward.score`).

    Raises:
      rl_tuner.outputs.OutputError: if ``out_path`` may not be written.
    """
    from molecules import data, rewards  # pylint: disable=import-outside-toplevel
    from rl_tuner import outputs  # pylint: disable=import-outside-toplevel

    inputs = [smiles_path, data_dir]
    outputs.check_file(out_path, SCORE_COMMAND, overwrite, inputs=inputs)
    if data_dir and preset_name == "paper":
        raise ValueError("--data sets the default preset's limits; the paper preset has fixed ones")
    statistics = data.load_summary(data_dir)["statistics"] if data_dir else None
    reward = rewards.DomainReward(rewards.make_preset(preset_name, statistics))
    records = [reward.score(line.strip()) for line in read_lines(smiles_path)]
    outputs.write_json(out_path, {"molecules": records}, SCORE_COMMAND, overwrite, inputs=inputs)
    return records


def main(argv=None) -> int:
    """Runs one ``molecules`` subcommand; user errors raise (see ``console_entry_point``).

    Args:
      argv: the arguments without the program name; None reads ``sys.argv``.

    Returns:
      0 on success.
    """
    args = build_parser().parse_args(argv)
    if args.command == "prepare":
        from molecules import data  # pylint: disable=import-outside-toplevel
        data.prepare(dataclass_from_args(data.PrepareConfig, args), overwrite=args.overwrite)
    elif args.command == "train-prior":
        from molecules import prior  # pylint: disable=import-outside-toplevel  (TensorFlow)
        history = prior.train(dataclass_from_args(prior.PriorConfig, args), command=command_line(),
                              progress=not args.quiet)
        best = history.get("best", {})
        print(f"best validation accuracy {best.get('validation_accuracy', float('nan')):.4f}, "
              f"log perplexity {best.get('validation_log_perplexity', float('nan')):.4f}; "
              f"model in {os.path.join(args.out_dir, 'model')}")
    elif args.command == "score":
        records = score_file(args.smiles, args.preset, args.out, args.data, args.overwrite)
        valid = sum(r["valid"] for r in records)
        print(f"scored {len(records)} SMILES ({valid} valid) with the {args.preset} preset -> {args.out}")
    return 0


def console_entry_point() -> None:
    """The ``molecules`` console script: user errors print ``error: ...`` and exit 2."""
    sys.exit(run_main(main))


if __name__ == "__main__":
    console_entry_point()
