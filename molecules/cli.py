"""The ``molecules`` command: prepare the SMILES data set, train a SMILES-RNN prior, score SMILES
with the RDKit reward or a PMO objective, run the PMO benchmark.

``train-prior``, ``sample``, ``evaluate`` and ``benchmark`` load TensorFlow when they run;
``prepare`` and ``score`` never do.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from rl_tuner.plumbing.cli_utils import (HelpFormatter, add_dataclass_arguments, add_overwrite_flag, command_line,
                                dataclass_from_args, parse_with_pipeline_options, run_main)

SCORE_COMMAND = "molecules score"
SCORE_CHUNK = 1000  # lines per job of `molecules score --runner`
RUNNER_HELP = ("run as an Apache Beam pipeline on this runner (DirectRunner, FlinkRunner, DataflowRunner, ...); "
               "Beam's own pipeline options may follow (default: no Beam)")


def build_parser() -> argparse.ArgumentParser:
    """The ``molecules`` argument parser (prepare, train-prior, sample, evaluate, score, benchmark)."""
    from molecules.data import PrepareConfig  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(prog="molecules", formatter_class=HelpFormatter,
                                     description="The paper's molecule experiment: prepares the SMILES data set, "
                                                 "trains a SMILES-RNN prior, samples and evaluates molecules "
                                                 "(Table 2) and scores SMILES with the RDKit reward. "
                                                 "`rl-tuner train --task smiles` tunes. `molecules COMMAND --help` "
                                                 "explains each command.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="build the SMILES data set (MOSES or a .smi/.csv file)",
                       formatter_class=HelpFormatter,
                       description="Builds the SMILES data set of `molecules train-prior`: MOSES (from the "
                                   "molsets wheel, downloaded with pip, never installed) or a --source .smi/.csv "
                                   "file, canonicalised with RDKit and split into train and validation "
                                   "(train.smi.gz, validation.smi.gz or TFRecord shards, tokenizer.json, "
                                   "summary.json). Empty lines, SMILES that RDKit cannot parse and molecules the tokenizer "
                                   "cannot tokenize are skipped and counted.")
    add_dataclass_arguments(p, PrepareConfig, rename={"out_dir": "out"}, skip=("format", "shards"),
                            choices={"tokenizer": ("atom", "char")})
    from rl_tuner.plumbing import records  # pylint: disable=import-outside-toplevel  (no TensorFlow)
    records.add_arguments(p, native="smi.gz")
    add_overwrite_flag(p)

    from molecules.prior_config import PriorConfig, TOKENIZERS  # pylint: disable=import-outside-toplevel
    from rl_tuner.choices import STRATEGIES  # pylint: disable=import-outside-toplevel
    p = sub.add_parser("train-prior", help="train a SMILES-RNN by maximum likelihood (rerun to resume)",
                       formatter_class=HelpFormatter,
                       description="Trains a SMILES-RNN (the prior of `rl-tuner train --task smiles`) by maximum "
                                   "likelihood on a `molecules prepare` data set; the defaults are the shipped "
                                   "atom-level model's recipe. The best epoch's model is exported to OUT/model. "
                                   "Rerun the same command to resume.")
    add_dataclass_arguments(p, PriorConfig, rename={"out_dir": "out", "data_dir": "data"},
                            choices={"tokenizer": TOKENIZERS, "strategy": STRATEGIES})
    p.add_argument("--quiet", action="store_true", help="no progress bar (the one line per epoch stays)")

    descriptions = {
        "sample": "Samples SMILES from a SMILES-RNN or a tuned `rl-tuner train --task smiles` run and writes them "
                  "one per line (invalid ones too).",
        "evaluate": "Samples molecules from a model and writes the paper's Table 2 (valid, logP, QED, SA and ring "
                    "penalties over the valid molecules) and MOSES's unique, novel (needs --data) and internal "
                    "diversity as JSON."}
    for name, help_text in (("sample", "sample SMILES from a SMILES-RNN or a tuned run (one per line)"),
                            ("evaluate", "Table 2, unique, novel and internal diversity of sampled SMILES (JSON)")):
        p = sub.add_parser(name, help=help_text, formatter_class=HelpFormatter, description=descriptions[name])
        _add_sampling_arguments(p, name)

    from molecules.objectives import NAMES as OBJECTIVES  # pylint: disable=import-outside-toplevel  (no RDKit yet)
    p = sub.add_parser("score", help="score SMILES (one per line) with a reward preset or a PMO objective, as JSON",
                       formatter_class=HelpFormatter,
                       description="Scores each SMILES line with a reward preset: validity, logP, QED, SA, ring "
                                   "penalty and the finished-molecule reward, as JSON (one object per input line). "
                                   "With --objective NAME, with one of the 20 RDKit-only objectives of the PMO "
                                   "benchmark (Gao et al. 2022; GuacaMol v2's definitions, Brown et al. 2019) "
                                   "instead: {\"smiles\", \"valid\", \"score\"} per line, score in [0, 1], null "
                                   "for a line that is not a molecule.")
    p.add_argument("--smiles", required=True,
                   help="text file, one SMILES per line (a .smi file: the first field of each line; a name may follow)")
    p.add_argument("--preset", choices=("default", "paper"), default=None,
                   help="reward preset (default: default)")
    p.add_argument("--objective", default=None, metavar="NAME",
                   help="score with this PMO objective instead of a reward preset, one of: " + ", ".join(OBJECTIVES))
    p.add_argument("--data", default=None,
                   help="prepared data set whose statistics set the default preset's length and carbon "
                        "limits (default: the built-in MOSES statistics)")
    p.add_argument("--out", required=True,
                   help="output JSON file: {\"written_by\": \"molecules score\", \"molecules\": [one object per "
                        "input line]}")
    p.add_argument("--runner", default=None, help=RUNNER_HELP)
    add_overwrite_flag(p, "file")
    _add_benchmark_parser(sub, OBJECTIVES)
    return parser


def _add_benchmark_parser(sub, objective_names) -> None:
    from molecules import benchmark  # pylint: disable=import-outside-toplevel  (no TensorFlow)
    from rl_tuner.plumbing.cli_utils import range_type  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing.ranges import COUNT, SEED  # pylint: disable=import-outside-toplevel
    p = sub.add_parser("benchmark", help="the PMO benchmark: optimise a PMO objective under a budget of oracle calls",
                       formatter_class=HelpFormatter,
                       description="Runs the PMO protocol (Gao et al. 2022, mol_opt): an optimiser starts from the "
                                   "SMILES-RNN prior and may score --budget new valid molecules (canonical SMILES; "
                                   "invalid and repeated ones are free); a progress line every 100 calls. Writes "
                                   "OUT/result.json (auc_top10 as mol_opt's top_auc, top10, settings, timing) and "
                                   "OUT/oracle_calls.csv (call, smiles, score). --suite pmo runs every task x seed "
                                   "into OUT/TASK/seed_S/ and OUT/summary.json; rerun it to resume (finished runs "
                                   "are kept). --algorithm dap is REINVENT's augmented likelihood with PMO's tuned "
                                   "settings; --algorithm sequence_tutor is Sequence Tutor's KL-control learner "
                                   "(Jaques et al. 2017) with replay. Each algorithm's settings are the flags below "
                                   "(a flag names the algorithms it belongs to and their defaults). BUILD.md, \"PMO\".")
    p.add_argument("--task", default=None, metavar="NAME",
                   help="one run on this PMO objective, one of: " + ", ".join(objective_names))
    p.add_argument("--suite", choices=benchmark.SUITES, default=None, help="every task x seed (instead of --task)")
    p.add_argument("--tasks", nargs="+", default=None, metavar="NAME", help="with --suite: only these tasks "
                   "(default: all 20)")
    p.add_argument("--seed", type=range_type(int, SEED), default=None, help="with --task: the seed (default: 0)")
    p.add_argument("--seeds", type=range_type(int, SEED), nargs="+", default=None,
                   help="with --suite: the seeds (default: 0 1 2 3 4)")
    p.add_argument("--budget", type=range_type(int, COUNT), default=benchmark.DEFAULT_BUDGET,
                   help="oracle calls per run (default: %(default)s, PMO's)")
    p.add_argument("--algorithm", choices=tuple(benchmark.ALGORITHMS), default="dap",
                   help="the optimiser (default: %(default)s)")
    p.add_argument("--prior", default=None, help="SMILES-RNN checkpoint the optimiser starts from "
                   "(default: the shipped checkpoints/smiles_rnn)")
    p.add_argument("--out", required=True, help="run directory (--task) or suite directory (--suite)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    flags, added = benchmark.settings_flags(), set()
    for name in benchmark.ALGORITHMS:  # each setting once, defaulting to the chosen algorithm's
        config_class = benchmark.algorithm(name)[1]
        fields = {f.name for f in dataclasses.fields(config_class)}
        add_dataclass_arguments(p, config_class, skip=added, choices=getattr(config_class, "CHOICES", None),
                                help_defaults={f: "; ".join(f"{a}: {d}" for a, d in flags[f].items()) for f in fields})
        added |= fields
    add_overwrite_flag(p)


def _add_sampling_arguments(p: argparse.ArgumentParser, command: str) -> None:
    from molecules.sampling import DEFAULT_MAX_LENGTH  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing.cli_utils import range_type  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing.ranges import COUNT, SEED, at_least  # pylint: disable=import-outside-toplevel
    from rl_tuner.sampling_args import TEMPERATURE  # pylint: disable=import-outside-toplevel
    p.add_argument("--model", default=None,
                   help="SMILES-RNN checkpoint, `molecules train-prior` run, or tuned `rl-tuner train --task smiles` "
                        "run (default: the shipped checkpoints/smiles_rnn)")
    p.add_argument("--num", type=range_type(int, COUNT), default=10_000 if command == "evaluate" else 100,
                   help="molecules to sample (default: %(default)s)")
    p.add_argument("--seed", type=range_type(int, SEED), default=0, help="sampling seed (default: %(default)s)")
    p.add_argument("--temperature", type=range_type(float, TEMPERATURE), default=1.0,
                   help=f"softmax temperature, {TEMPERATURE.describe()} (default: %(default)s)")
    p.add_argument("--max-length", type=range_type(int, COUNT), default=DEFAULT_MAX_LENGTH,
                   help="tokens per molecule at most, the end token included (default: %(default)s)")
    if command == "evaluate":
        p.add_argument("--data", default=None,
                       help="`molecules prepare` data set whose train split defines `novel` (default: no novel)")
        p.add_argument("--workers", type=range_type(int, at_least(0)), default=0,
                       help="RDKit processes, 0 = one per CPU (default: %(default)s)")
        p.add_argument("--reward-mode", choices=("default", "paper"), default=None,
                       help="reward preset of mean_reward (default: a tuned run's own, else default)")
        p.add_argument("--out", required=True, help="output JSON file")
    else:
        p.add_argument("--out", required=True, help="output SMILES file, one molecule a line")
    add_overwrite_flag(p, "file")


def read_lines(path: str) -> list:
    """The lines of a SMILES file for ``molecules score``, without line ends, streamed with
    :func:`rl_tuner.plumbing.file_checks.text_lines` (gzipped if the name ends with ``.gz``;
    undecodable bytes become U+FFFD).

    Every line's first field (its SMILES) must be at most ``molecules.chem.MAX_SMILES_CHARS``
    long: a longer one is refused naming the file and line, before any scoring.

    Raises:
      FileNotFoundError: no such file (named). ValueError: a path that is not a readable file
      (said what it is), a line or SMILES over its cap (file and line named), a damaged or
      over-large gzip file.
    """
    from molecules import chem  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import file_checks  # pylint: disable=import-outside-toplevel
    problem = file_checks.path_problem(path, "file")
    if problem:
        raise ValueError(f"SMILES file {path}: {problem}; give a text file, one SMILES per line")
    if not os.path.lexists(path):
        raise FileNotFoundError(f"SMILES file {path!r} does not exist")
    out = []
    with file_checks.text_lines(path) as lines:
        for number, line in lines:
            fields = line.split(maxsplit=1)
            chem.check_length(fields[0] if fields else "", path, number)
            out.append(line)
    return out


def score_lines(job) -> list:
    """The per-molecule work of ``molecules score`` (both the default path and Beam's).

    Args:
      job: ``(preset name, data statistics or None, lines)``; each line's first field is
        its SMILES (as a .smi file: SMILES, then optionally a name).

    Returns:
      One :meth:`molecules.rewards.DomainReward.score` record per line.
    """
    from molecules import rewards  # pylint: disable=import-outside-toplevel
    preset_name, statistics, lines = job
    reward = rewards.DomainReward(rewards.make_preset(preset_name, statistics))
    return [reward.score(line.split()[0] if line.split() else "") for line in lines]


def score_objective_lines(job) -> list:
    """The per-molecule work of ``molecules score --objective`` (both the default path and Beam's).

    Args:
      job: ``(objective name, lines)``; each line's first field is its SMILES.

    Returns:
      ``{"smiles", "valid", "score"}`` per line (score None for a line that is not a molecule;
      see :class:`molecules.objectives.Objective`).
    """
    from molecules import objectives  # pylint: disable=import-outside-toplevel
    name, lines = job
    objective = objectives.get(name)
    records = []
    for line in lines:
        smiles = line.split()[0] if line.split() else ""
        score = objective.score(smiles)
        records.append({"smiles": smiles, "valid": score is not None, "score": score})
    return records


def score_file(smiles_path: str, preset_name: str | None, out_path: str, data_dir=None, overwrite: bool = False,
               runner=None, pipeline_args=(), objective: str | None = None) -> list:
    """Scores every line of ``smiles_path`` and writes the records to ``out_path``.

    ``preset_name`` (None: ``default``) picks the reward preset; with ``objective`` (a PMO
    objective, :mod:`molecules.objectives`) each record is ``{"smiles", "valid", "score"}``
    instead, and neither a preset nor ``data_dir`` may be given.

    With ``runner`` the scoring runs as an Apache Beam pipeline (``pipeline_args``: Beam's
    options) in jobs of ``SCORE_CHUNK`` lines; the records are the same. The lines of a job
    that failed get a record with ``"valid": False``, None properties and reward and
    ``"dead_letter": reason``.

    ``out_path`` follows :mod:`rl_tuner.plumbing.outputs` (checked before any work): never an input,
    an existing file only if it is this command's earlier output or with ``overwrite``. It
    holds ``{"written_by": "molecules score", "molecules": records}``.

    Returns:
      The records (see :meth:`molecules.rewards.DomainReward.score`).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: if ``out_path`` may not be written.
      ValueError: an unknown objective (the valid names listed), or an objective with a
        preset or ``data_dir``.
    """
    from molecules import data  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import outputs  # pylint: disable=import-outside-toplevel

    inputs = [smiles_path, data_dir]
    if objective is not None:
        from molecules import objectives  # pylint: disable=import-outside-toplevel
        objectives.check_name(objective)
        if preset_name or data_dir:
            raise ValueError(f"--objective {objective} scores the PMO objective alone; drop "
                             f"{'--preset' if preset_name else '--data'}")
    preset_name = preset_name or "default"
    outputs.check_file(out_path, SCORE_COMMAND, overwrite, inputs=inputs)
    if data_dir and preset_name == "paper":
        raise ValueError("--data sets the default preset's limits; the paper preset has fixed ones")
    statistics = data.load_summary(data_dir)["statistics"] if data_dir else None
    lines = read_lines(smiles_path)
    if objective is not None:
        work, failed = score_objective_lines, {"valid": False, "score": None}
        jobs = [(objective, lines[i:i + SCORE_CHUNK]) for i in range(0, len(lines), SCORE_CHUNK)]
    else:
        work, failed = score_lines, {"valid": False, "logp": None, "qed": None, "sa": None, "ring_penalty": None,
                                     "reward": None}
        jobs = [(preset_name, statistics, lines[i:i + SCORE_CHUNK]) for i in range(0, len(lines), SCORE_CHUNK)]
    if runner:
        from rl_tuner.plumbing import beam_map  # pylint: disable=import-outside-toplevel
        results, dead = beam_map.map_jobs(work, jobs, runner, pipeline_args)
        for index, reason in dead:
            results[index] = [{"smiles": line.split()[0] if line.split() else "", **failed, "dead_letter": reason}
                              for line in jobs[index][-1]]
        records = [record for chunk in results for record in chunk]
    else:
        records = work(jobs[0][:-1] + (lines,)) if jobs else []
    outputs.write_json(out_path, {"molecules": records}, SCORE_COMMAND, overwrite, inputs=inputs)
    return records


def main(argv=None) -> int:
    """Runs one ``molecules`` subcommand; user errors raise (see ``console_entry_point``).

    Args:
      argv: the arguments without the program name; None reads ``sys.argv``.

    Returns:
      0 on success.
    """
    parser = build_parser()
    args, beam_args = parse_with_pipeline_options(parser, argv)
    if args.command == "prepare":
        from molecules import data  # pylint: disable=import-outside-toplevel
        data.prepare(dataclass_from_args(data.PrepareConfig, args), overwrite=args.overwrite, pipeline_args=beam_args)
    elif args.command == "train-prior":
        from molecules import prior  # pylint: disable=import-outside-toplevel  (TensorFlow)
        history = prior.train(dataclass_from_args(prior.PriorConfig, args), command=command_line(),
                              progress=not args.quiet)
        from rl_tuner.models.mle import best_line  # pylint: disable=import-outside-toplevel
        from rl_tuner.plumbing import workers  # pylint: disable=import-outside-toplevel
        print(workers.final_line(args.strategy, args.out_dir, best_line(history, args.out_dir)))
    elif args.command in ("sample", "evaluate"):
        from molecules import sampling  # pylint: disable=import-outside-toplevel
        from rl_tuner.resources import shipped_checkpoint  # pylint: disable=import-outside-toplevel
        model = args.model or shipped_checkpoint("molecules", "smiles_rnn")
        if args.command == "sample":
            smiles = sampling.write_samples(model, args.num, args.out, args.seed, args.temperature, args.max_length,
                                            overwrite=args.overwrite)
            print(f"wrote {len(smiles)} SMILES to {args.out}")
        else:
            from molecules.evaluation import TABLE_2_KEYS, MOSES_KEYS  # pylint: disable=import-outside-toplevel
            result = sampling.evaluate(model, args.num, args.out, args.seed, args.temperature, args.max_length,
                                       args.data, args.workers, overwrite=args.overwrite,
                                       reward_mode=args.reward_mode)
            for key in ("mean_reward",) + TABLE_2_KEYS + MOSES_KEYS + ("mean_log_prior", "mean_length"):
                if key in result:
                    print(f"{key:20s} {result[key]:10.4f}")
                elif key == "novel":
                    print(f"{key:20s} {'-':>10s}  ({sampling.NO_NOVEL})")
            print(f"wrote {args.out} ({args.num} molecules, sampled in {result['sampling_seconds']:.1f} s, "
                  f"scored in {result['scoring_seconds']:.1f} s)")
    elif args.command == "benchmark":
        from molecules import benchmark  # pylint: disable=import-outside-toplevel
        benchmark.main(args)
    elif args.command == "score":
        records = score_file(args.smiles, args.preset, args.out, args.data, args.overwrite, args.runner, beam_args,
                             objective=args.objective)
        valid = sum(r["valid"] for r in records)
        scorer = f"the objective {args.objective}" if args.objective else f"the {args.preset or 'default'} preset"
        print(f"scored {len(records)} SMILES ({valid} valid) with {scorer} -> {args.out}")
        dead = [r for r in records if "dead_letter" in r]
        if dead:
            print(f"dead letters: {len(dead)} lines not scored (failed jobs), e.g. {dead[0]['dead_letter']}")
    return 0


def console_entry_point() -> None:
    """The ``molecules`` console script: user errors print ``error: ...`` and exit 2."""
    sys.exit(run_main(main))


if __name__ == "__main__":
    console_entry_point()
