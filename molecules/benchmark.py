"""``molecules benchmark``: the PMO protocol (Gao et al. 2022; ``wenhao-gao/mol_opt``) on one task
or the whole suite.

One run optimises one objective (:mod:`molecules.objectives`) from the SMILES-RNN prior with a
budget of oracle calls (:class:`molecules.oracle.BudgetedOracle`: a call is a new valid
canonical SMILES; invalid strings and repeats are free; a progress line every 100 calls) and
writes ``DIR/result.json`` (task, seed, budget, oracle_calls, auc_top10 as mol_opt's
``top_auc``, top10, wall_s, algorithm, settings, ...) and ``DIR/oracle_calls.csv`` (``call,
smiles, score`` in call order; enough to recompute the AUC and re-score every call). The run
directory is written as a whole when the run ends (:func:`rl_tuner.plumbing.output_dir.directory`: never
into or over something this command did not create; ``--overwrite`` as the other commands).

``--suite pmo`` runs every task x seed into ``DIR/<task>/seed_<s>/``; a finished run with the
same settings is kept and skipped, so rerunning the command resumes the suite; ``DIR/summary.json``
collects the AUCs.

**The optimiser interface.** An algorithm is one function

    optimise(oracle, prior_path: str, seed: int, config, timer: dict | None = None) -> dict

that draws molecules however it likes and scores them only through ``oracle.score_batch``
(or ``oracle.score``) until ``oracle.finished`` (it may stop earlier; the AUC is then padded
as mol_opt does), adds seconds under ``"sampling"``, ``"scoring"``, ``"learning"`` to ``timer``
when given, and returns a JSON-able dict of facts about the run (e.g. ``{"steps": 120}``),
stored in result.json. ``config`` is a frozen dataclass of its settings (documented under
``Attributes:``; they become command-line flags and result.json's ``settings``).
:data:`ALGORITHMS` maps ``--algorithm`` names to ``(module, function, config class)``; adding
an algorithm is adding an entry there. ``dap`` is REINVENT's method (:mod:`molecules.dap`),
``sequence_tutor`` the project's KL-control learner (:mod:`molecules.sequence_tutor`). Every
algorithm's settings are flags of ``molecules benchmark`` (:func:`settings_flags`); one name
shared by two algorithms (``--batch-size``) is one flag with each algorithm's own default, and
a flag of another algorithm than the chosen one is refused.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import io
import json
import os
import statistics
import sys
import time

COMMAND = "molecules benchmark"
RESULT, CALLS, SUMMARY = "result.json", "oracle_calls.csv", "summary.json"
SUITES = ("pmo",)
DEFAULT_BUDGET = 10_000
LOG_EVERY = 100
# --algorithm name -> (module, optimiser function, settings dataclass)
ALGORITHMS = {"dap": ("molecules.dap", "optimise", "DapConfig"),
              "sequence_tutor": ("molecules.sequence_tutor", "optimise", "TutorConfig")}
# result.json fields that must match for a finished suite run to be kept
SAME_RUN = ("task", "seed", "budget", "algorithm", "settings", "prior")


def algorithm(name: str) -> tuple:
    """``(optimise function, config class)`` of ``--algorithm name``.

    Raises:
      ValueError: an unknown name (the known ones listed).
    """
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of: {', '.join(ALGORITHMS)}")
    module, function, config = ALGORITHMS[name]
    loaded = importlib.import_module(module)
    return getattr(loaded, function), getattr(loaded, config)


def settings_flags() -> dict:
    """``{field: {algorithm name: default}}`` over every algorithm's settings dataclass, in
    :data:`ALGORITHMS` order (the flags of ``molecules benchmark``)."""
    flags: dict = {}
    for name in ALGORITHMS:
        for field in dataclasses.fields(algorithm(name)[1]):
            flags.setdefault(field.name, {})[name] = field.default
    return flags


def check_flags(args, algorithm_name: str) -> None:
    """Refuses a settings flag of another algorithm than ``algorithm_name`` (set: not None).

    Raises:
      ValueError: ``--sigma is a setting of --algorithm dap, not sequence_tutor``.
    """
    for field, owners in settings_flags().items():
        if algorithm_name not in owners and getattr(args, field, None) is not None:
            raise ValueError(f"--{field.replace('_', '-')} is a setting of --algorithm {' and '.join(owners)}, "
                             f"not {algorithm_name}")


def calls_csv(calls) -> str:
    """The text of oracle_calls.csv: ``call,smiles,score`` then one row per call (call 1 first;
    the score as Python's shortest round-trip repr)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["call", "smiles", "score"])
    for i, (smiles, score) in enumerate(calls, 1):
        writer.writerow([i, smiles, repr(float(score))])
    return buf.getvalue()


def read_calls(path: str) -> list:
    """``[(smiles, score), ...]`` of an oracle_calls.csv, in call order."""
    with open(path, newline="") as f:
        return [(row["smiles"], float(row["score"])) for row in csv.DictReader(f)]


def result_record(task: str, seed: int, algorithm_name: str, config, prior: str, oracle, wall_s: float,
                  facts: dict, timer: dict) -> dict:
    """The content of result.json (see the module docstring)."""
    from molecules import objectives  # pylint: disable=import-outside-toplevel
    from molecules.oracle import top_mean  # pylint: disable=import-outside-toplevel
    scores = oracle.scores()
    return {
        "task": task, "seed": seed, "budget": oracle.budget, "oracle_calls": len(scores),
        "auc_top10": oracle.auc(10), "auc_top1": oracle.auc(1), "auc_top100": oracle.auc(100),
        "avg_top10": top_mean(scores, 10),
        "top10": [{"smiles": s, "score": v} for s, v in oracle.top(10)],
        "wall_s": wall_s, "algorithm": algorithm_name, "settings": dataclasses.asdict(config), "prior": prior,
        "free_invalid": oracle.invalid, "free_repeats": oracle.repeats, **facts,
        "seconds": {k: round(v, 3) for k, v in sorted(timer.items())},
        "isomer_based": task in objectives.ISOMER_BASED,
        "definitions": "PMO protocol (Gao et al. 2022): an oracle call is a new valid canonical SMILES; invalid "
                       "and repeated molecules are free; auc_topN is mol_opt's top_auc (trapezoid every 100 calls "
                       "from 0, padded to the budget with the final top-N mean, divided by the budget); "
                       "BUILD.md, \"PMO\"",
    }


def run_one(task: str, seed: int, out: str, budget: int = DEFAULT_BUDGET, algorithm_name: str = "dap",
            config=None, prior: str | None = None, overwrite: bool = False, log=print) -> dict:
    """One PMO run of ``algorithm_name`` on ``task``, written to the directory ``out``.

    Args:
      task: a PMO objective name (:data:`molecules.objectives.NAMES`).
      seed: the run's seed.
      out: the run directory (result.json, oracle_calls.csv).
      budget: oracle calls (PMO: 10,000).
      algorithm_name: a key of :data:`ALGORITHMS`.
      config: the algorithm's settings (None: its defaults).
      prior: the SMILES-RNN checkpoint (None: the shipped ``checkpoints/smiles_rnn``).
      overwrite: replace an ``out`` that is not this command's earlier output.
      log: called with each progress line.

    Returns:
      The result.json record.

    Raises:
      ValueError: an unknown task or algorithm, a bad budget, an ``out`` that may not be
        written (:class:`rl_tuner.plumbing.outputs.OutputError`), an unsuitable prior.
    """
    from molecules import chem, objectives  # pylint: disable=import-outside-toplevel
    from molecules.oracle import BudgetedOracle  # pylint: disable=import-outside-toplevel
    from rl_tuner.resources import shipped_checkpoint  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import atomic, output_dir, outputs  # pylint: disable=import-outside-toplevel
    objective = objectives.get(task)
    optimise, config_class = algorithm(algorithm_name)
    config = config if config is not None else config_class()
    if budget < 1:
        raise ValueError(f"--budget must be >= 1, got {budget}")
    prior = check_prior(prior or shipped_checkpoint("molecules", "smiles_rnn"))
    outputs.check_dir(out, COMMAND, overwrite, inputs=[prior])
    oracle = BudgetedOracle(objective.score, budget, chem.canonical, LOG_EVERY,
                            on_log=lambda o: log(f"{task} seed {seed}: {o.progress_line()}"))
    with output_dir.directory(out, COMMAND, overwrite) as tmp:
        timer, t0 = {}, time.perf_counter()
        facts = optimise(oracle, prior, seed, config, timer=timer) or {}
        record = result_record(task, seed, algorithm_name, config, prior, oracle, time.perf_counter() - t0,
                               facts, timer)
        atomic.write_json(os.path.join(tmp, RESULT), {outputs.WRITTEN_BY: COMMAND, **record})
        atomic.write_bytes(os.path.join(tmp, CALLS), calls_csv(oracle.calls).encode())
    log(f"{task} seed {seed}: {len(oracle.calls)} calls, auc_top10 {record['auc_top10']:.4f}, "
        f"top10 {record['avg_top10']:.4f}, {record['wall_s']:.0f} s -> {out}")
    return record


def check_prior(path: str) -> str:
    """``path`` if it holds a model checkpoint (or a ``molecules train-prior`` run), checked
    before any output is written (the optimiser loads it).

    Raises:
      FileNotFoundError: ``--prior PATH: no SMILES-RNN checkpoint there (...)``.
    """
    from rl_tuner.plumbing import checkpoint  # pylint: disable=import-outside-toplevel  (no TensorFlow)
    if not checkpoint.is_checkpoint(checkpoint.model_path(path)):
        raise FileNotFoundError(f"--prior {path}: no SMILES-RNN checkpoint there (a folder with config.json and "
                                "weights.npz, or a `molecules train-prior` run)")
    return path


def finished_run(run_dir: str, expected: dict) -> dict | None:
    """The result.json record of a finished run in ``run_dir`` with the ``expected`` settings
    (fields :data:`SAME_RUN`), None if there is no finished run.

    Raises:
      ValueError: ``run_dir`` holds a finished run with other settings (named).
    """
    path = os.path.join(run_dir, RESULT)
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("written_by") != COMMAND or not os.path.isfile(
            os.path.join(run_dir, CALLS)):
        return None
    changed = [k for k in SAME_RUN if json.dumps(record.get(k), sort_keys=True) != json.dumps(expected[k],
                                                                                            sort_keys=True)]
    if changed:
        raise ValueError(f"{run_dir} holds a finished run with other settings ({', '.join(changed)}); choose "
                         "another --out, or pass --overwrite to run it again")
    return record


def run_suite(out: str, seeds, budget: int = DEFAULT_BUDGET, algorithm_name: str = "dap", config=None,
              prior: str | None = None, overwrite: bool = False, tasks=None, log=print) -> dict:
    """Every task x seed of PMO into ``out/<task>/seed_<s>/`` (see the module docstring).

    Finished runs with the same settings are kept and skipped; with ``overwrite`` every run is
    done again. Writes ``out/summary.json``: ``{"algorithm", "budget", "settings", "tasks":
    {name: {"seeds": [...], "auc_top10": [...]}}}``.

    Returns:
      The summary.

    Raises:
      ValueError: an unknown task or algorithm, an ``out`` that is not this command's, a
        finished run with other settings (without ``overwrite``).
    """
    from molecules import objectives  # pylint: disable=import-outside-toplevel
    from rl_tuner.resources import shipped_checkpoint  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import atomic, outputs  # pylint: disable=import-outside-toplevel
    tasks = list(tasks or objectives.NAMES)
    for task in tasks:
        objectives.check_name(task)
    _, config_class = algorithm(algorithm_name)
    config = config if config is not None else config_class()
    prior = check_prior(prior or shipped_checkpoint("molecules", "smiles_rnn"))
    outputs.check_dir(out, COMMAND, overwrite, inputs=[prior])
    os.makedirs(out, exist_ok=True)
    atomic.write_json(os.path.join(out, outputs.MANIFEST), outputs.manifest(COMMAND, tasks + [SUMMARY]))
    runs = [(task, seed) for task in tasks for seed in seeds]
    summary = {"algorithm": algorithm_name, "budget": budget, "settings": dataclasses.asdict(config), "prior": prior,
               "tasks": {}}
    for i, (task, seed) in enumerate(runs, 1):
        run_dir = os.path.join(out, task, f"seed_{seed}")
        expected = {"task": task, "seed": seed, "budget": budget, "algorithm": algorithm_name,
                    "settings": dataclasses.asdict(config), "prior": prior}
        record = None if overwrite else finished_run(run_dir, expected)
        if record is not None:
            log(f"[{i}/{len(runs)}] {task} seed {seed}: finished earlier, auc_top10 {record['auc_top10']:.4f}")
        else:
            log(f"[{i}/{len(runs)}] {task} seed {seed}: running")
            record = run_one(task, seed, run_dir, budget, algorithm_name, config, prior, overwrite, log)
        entry = summary["tasks"].setdefault(task, {"seeds": [], "auc_top10": []})
        entry["seeds"].append(seed)
        entry["auc_top10"].append(record["auc_top10"])
        atomic.write_json(os.path.join(out, SUMMARY), {outputs.WRITTEN_BY: COMMAND, **summary})
    for task, entry in summary["tasks"].items():
        values = entry["auc_top10"]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        log(f"{task:26s} auc_top10 {statistics.mean(values):.3f} +- {sd:.3f} ({len(values)} seeds)")
    return summary


def main(args) -> int:
    """``molecules benchmark`` from parsed arguments (see :func:`molecules.cli.build_parser`).

    Raises:
      ValueError: neither or both of --task and --suite, --seeds without --suite, ...
    """
    from rl_tuner.plumbing.cli_utils import dataclass_from_args  # pylint: disable=import-outside-toplevel
    if (args.task is None) == (args.suite is None):
        raise ValueError("give --task NAME (one run) or --suite pmo (every task x seed)")
    if args.task is not None and (args.seeds is not None or args.tasks is not None):
        raise ValueError("--seeds and --tasks go with --suite; one run takes --task NAME --seed S")
    if args.suite is not None and args.seed is not None:
        raise ValueError("--suite takes --seeds S [S ...]; --seed goes with --task")
    _, config_class = algorithm(args.algorithm)
    check_flags(args, args.algorithm)
    config = dataclass_from_args(config_class, args)
    log = (lambda line: None) if args.quiet else (lambda line: print(line, flush=True))
    if args.task is not None:
        run_one(args.task, args.seed or 0, args.out, args.budget, args.algorithm, config, args.prior,
                args.overwrite, log)
        print(f"wrote {os.path.join(args.out, RESULT)} and {os.path.join(args.out, CALLS)}", file=sys.stdout)
    else:
        seeds = args.seeds if args.seeds is not None else [0, 1, 2, 3, 4]
        run_suite(args.out, seeds, args.budget, args.algorithm, config, args.prior, args.overwrite, args.tasks, log)
        print(f"wrote {os.path.join(args.out, SUMMARY)}")
    return 0
