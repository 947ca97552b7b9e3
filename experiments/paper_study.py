"""The paper's melody study end to end: train, evaluate, and rebuild ``results/``.

Runs (or resumes, or finds complete) ``rl-tuner train --preset paper`` for every algorithm and
seed and for the c sweep of Psi-learning, then writes into ``results/`` (atomically; only its
own files): Table 1 beside the paper's with significance marks (``table1.json``,
``table1.md``), the c trade-off (``tradeoff.json``, ``tradeoff.png``), Figure 2
(``figure2.png``), Figure 4 for the Note-RNN and each tuned model (``figure4_<model>.png``),
opening statistics (``openings.json``), MIDI and WAV samples (``samples/<model>/``), the
runs with their commands and wall times (``runs.json``) and ``README.md`` from
``experiments/results_template.md``. The seed-0 policy of each model is copied to
``checkpoints/tuned/melody_<model>/`` with a card.

Usage (the whole study, about an hour on 2 CPU cores; see results/README.md):

    python experiments/paper_study.py

Tests run it at a tiny size with ``--steps``, ``--final-eval-samples`` and ``--train-arg``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import note_rnn  # noqa: E402,F401  (selects Keras 2 before TensorFlow)
from experiments.study_runs import read_json as _read_json, runs_markdown  # noqa: E402,F401

COMMAND = "experiments/paper_study.py"
NAMES = {"mle": "MLE (Note-RNN)", "q": "Q", "psi": "Psi", "g": "G", "pure_rl": "pure RL",
         "psi_bootstrap": "Psi, last note bootstrapped", "psi_boltzmann": "Psi, Boltzmann exploration"}
FIGURE4_SEED = 3  # the priming note and melody of Figure 4, the same for every model
OPENING_SEED = 1000  # sampling seed of the opening statistics (plus the run's seed)


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Settings of the paper study.

    Attributes:
      runs_dir: where the training runs live (one folder per run, resumable).
      results_dir: the folder of results this study owns and rebuilds.
      checkpoints_dir: where the seed-0 policies are copied (None: not copied).
      algorithms: the algorithms of Table 1 and Figure 2 (c = the paper's 0.5).
      seeds: training seeds of every setting.
      c_sweep: further values of c run with Psi-learning (with 0.5 from the main runs).
      steps: environment steps per run (None: the paper preset's 1,000,000).
      final_eval_samples: melodies of the final statistics (None: the preset's 100,000).
      opening_samples: melodies per run sampled for :mod:`experiments.openings`.
      audio_samples: MIDI+WAV samples written per model (seed 0).
      ablations: ``(model name, algorithm, flags)`` of further Psi settings run at c = 0.5
        to ask what explains the tonic exploit (the original's bootstrapped last note,
        sampling instead of epsilon-greedy exploration).
      ablation_seeds: the seeds of the ablations.
      train_args: further ``rl-tuner train`` flags for every run (tests: tiny runs).
    """

    runs_dir: str = "runs/study"
    results_dir: str = "results"
    checkpoints_dir: str | None = "checkpoints/tuned"
    algorithms: tuple[str, ...] = ("q", "psi", "g", "pure_rl")
    seeds: tuple[int, ...] = (0, 1, 2)
    c_sweep: tuple[float, ...] = (2.0, 10.0)
    steps: int | None = None
    final_eval_samples: int | None = None
    opening_samples: int = 10000
    audio_samples: int = 1
    ablations: tuple[tuple[str, str, tuple[str, ...]], ...] = (
        ("psi_bootstrap", "psi", ("--bootstrap-final-step",)),
        ("psi_boltzmann", "psi", ("--exploration", "boltzmann")))
    ablation_seeds: tuple[int, ...] = (0,)
    train_args: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of the study: a model (an algorithm at one c) and a seed."""

    model: str
    algorithm: str
    c: float
    seed: int
    flags: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.model}_s{self.seed}"


def model_name(algorithm: str, c: float) -> str:
    """``psi`` at the paper's c = 0.5, else ``psi_c2``, ``psi_c10`` ..."""
    from experiments.paper_numbers import PAPER_C
    return algorithm if c == PAPER_C else f"{algorithm}_c{c:g}"


def runs_of(cfg: StudyConfig) -> list[Run]:
    """Every run of the study, seed-major (all models of seed 0 first)."""
    from experiments.paper_numbers import PAPER_C
    settings = [(a, PAPER_C) for a in cfg.algorithms] + [("psi", c) for c in cfg.c_sweep]
    runs = [Run(model_name(a, c), a, c, s) for s in cfg.seeds for a, c in settings]
    return runs + [Run(name, a, PAPER_C, s, tuple(flags)) for s in cfg.ablation_seeds for name, a, flags in cfg.ablations]


def train_argv(run: Run, cfg: StudyConfig) -> list[str]:
    """The ``rl-tuner train`` arguments of a run (the command listed in results/)."""
    argv = ["train", "--preset", "paper", "--algorithm", run.algorithm, "--c", f"{run.c:g}",
            "--seed", str(run.seed), "--out", os.path.join(cfg.runs_dir, run.name), "--quiet", *run.flags]
    if cfg.steps is not None:
        argv += ["--steps", str(cfg.steps)]
    if cfg.final_eval_samples is not None:
        argv += ["--final-eval-samples", str(cfg.final_eval_samples)]
    return argv + list(cfg.train_args)


def train_all(cfg: StudyConfig, log=print) -> dict:
    """Trains, resumes or finds complete every run; returns {run name: wall seconds}.

    A run finished before (by this script or by hand with the same command) keeps the wall
    time recorded then; one found without a record gets the time between its config.json
    and stats.json (written at its start and end), read before the run is touched again. A
    run this call resumes gets the time of this call.

    Raises:
      RuntimeError: naming the run and the command if a training fails.
    """
    from experiments import study_runs
    from rl_tuner import cli
    times = study_runs.load_wall_times(cfg.runs_dir)
    for run in runs_of(cfg):
        out = os.path.join(cfg.runs_dir, run.name)
        stats = os.path.join(out, "stats.json")
        if run.name not in times and study_runs.finished_wall_time(out) is not None:
            times[run.name] = study_runs.finished_wall_time(out)
        argv = train_argv(run, cfg)
        log(f"[study] rl-tuner {' '.join(argv)}")
        finished_at = os.path.getmtime(stats) if os.path.isfile(stats) else None
        t0 = time.time()
        code = cli.main(argv)
        if code:
            raise RuntimeError(f"run {run.name} failed (exit {code}): rl-tuner {' '.join(argv)}")
        if os.path.getmtime(stats) != finished_at:  # this call trained (or resumed) the run
            times[run.name] = round(time.time() - t0, 1)
        study_runs.save_wall_times(cfg.runs_dir, times)
    return times


def ensure_hparams(run_dir: str) -> None:
    """Logs a finished run to the HParams dashboard if it was trained before runs did so."""
    from rl_tuner import _tf  # noqa: F401
    import tensorflow as tf
    from rl_tuner.plumbing import atomic
    from rl_tuner.runner import hparams
    stats_path = os.path.join(run_dir, "stats.json")
    final = _read_json(stats_path)
    if final.get("hparams_logged"):
        return
    writer = tf.summary.create_file_writer(run_dir)
    hparams.write_hparams(writer, _read_json(os.path.join(run_dir, "config.json")), final)
    writer.close()
    atomic.write_json(stats_path, {**final, "hparams_logged": True})


def collect(cfg: StudyConfig) -> dict:
    """{model: [{"run", "stats", "history"} per seed]} of the finished runs."""
    models = {}
    for run in runs_of(cfg):
        out = os.path.join(cfg.runs_dir, run.name)
        ensure_hparams(out)
        models.setdefault(run.model, []).append(
            {"run": run, "stats": _read_json(os.path.join(out, "stats.json")),
             "history": _read_json(os.path.join(out, "history.json"))})
    return models


def build_results(cfg: StudyConfig, models: dict, times: dict, out_dir: str, log=print) -> dict:
    """Writes every result file into ``out_dir`` (a fresh folder) from the finished runs
    (``models``: :func:`collect`); returns the summary."""
    from experiments import openings, paper_numbers, study_figures, study_tables
    from note_rnn import media
    from rl_tuner.plumbing import atomic
    from rl_tuner.runner import evaluate, policy as policy_lib

    t0 = time.time()
    main = {m: models[m] for m in cfg.algorithms}
    mle = [r["stats"]["before"] for r in models[cfg.algorithms[0]]]
    table = study_tables.build_table({m: [r["stats"]["after"] for r in rs] for m, rs in main.items()}, mle)
    sweep_models = {f"psi_c{c:g}" if c != paper_numbers.PAPER_C else "psi": c
                    for c in (paper_numbers.PAPER_C, *cfg.c_sweep)}
    sweep_table = study_tables.build_table(
        {m: [r["stats"]["after"] for r in models[m]] for m in sweep_models if m in models}, mle)
    atomic.write_json(os.path.join(out_dir, "table1.json"), {**table, "paper": paper_numbers.TABLE_1})
    atomic.write_json(os.path.join(out_dir, "tradeoff.json"), {**sweep_table, "c": sweep_models})
    table_md = study_tables.markdown_table(table, NAMES, paper_numbers.TABLE_1)
    names = {**NAMES, **{m: f"Psi c={c:g}" for m, c in sweep_models.items() if m != "psi"}}
    sweep_md = study_tables.markdown_table(sweep_table, {**names, "psi": "Psi c=0.5"})
    ablation_models = ["psi"][:"psi" in models] + [name for name, _, _ in cfg.ablations if name in models]
    ablation_table = study_tables.build_table({m: [r["stats"]["after"] for r in models[m]] for m in ablation_models},
                                              mle)
    atomic.write_json(os.path.join(out_dir, "ablations.json"), {
        **ablation_table, "flags": {name: list(flags) for name, _, flags in cfg.ablations}})
    ablation_md = study_tables.markdown_table(ablation_table, names)

    log("[study] figures")
    study_figures.plot_figure2({m: [r["history"] for r in rs] for m, rs in main.items()},
                               os.path.join(out_dir, "figure2.png"), NAMES, paper_numbers.PURE_RL_FINAL_LOG_PRIOR)
    study_figures.plot_tradeoff({f"c = {c:g}": [r["stats"]["after"] for r in models[m]]
                                 for m, c in sweep_models.items() if m in models},
                                os.path.join(out_dir, "tradeoff.png"), reference=_mean_stats(mle))

    log("[study] Figure 4, samples and openings")
    opening_rows, figure4 = {}, []
    for model, rs in [("mle", models[cfg.algorithms[0]]), *models.items()]:
        per_seed = []
        for r in rs:
            pol = policy_lib.load_policy(os.path.join(cfg.runs_dir, r["run"].name, "policy"))
            if model == "mle":
                pol = policy_lib.Policy(pol.prior_rnn)
            tokens = evaluate.sample_policy(pol, cfg.opening_samples, 32, seed=OPENING_SEED + r["run"].seed)["tokens"]
            per_seed.append(openings.opening_statistics(tokens))
            if r["run"].seed == cfg.seeds[0]:
                figure4.append(f"figure4_{model}.png")
                media.plot_next_note_probabilities(pol, os.path.join(out_dir, figure4[-1]), seed=FIGURE4_SEED)
                media.write_samples(pol, os.path.join(out_dir, "samples", model), cfg.audio_samples, 32,
                                    seed=FIGURE4_SEED)
        opening_rows[model] = {"seeds": per_seed, **{k: study_tables.summarize([s[k] for s in per_seed])
                                                     for k in per_seed[0] if isinstance(per_seed[0][k], float)}}
    atomic.write_json(os.path.join(out_dir, "openings.json"), opening_rows)

    run_rows = [{"run": r["run"].name, "model": m, "algorithm": r["run"].algorithm, "c": r["run"].c,
                 "seed": r["run"].seed, "steps": r["stats"]["steps"], "train_steps": r["stats"]["train_steps"],
                 "wall_seconds": times.get(r["run"].name),
                 "command": "rl-tuner " + " ".join(train_argv(r["run"], cfg))}
                for m, rs in models.items() for r in rs]
    atomic.write_json(os.path.join(out_dir, "runs.json"), run_rows)
    summary = {"table1_md": table_md, "tradeoff_md": sweep_md, "ablations_md": ablation_md, "openings_md": openings_markdown(opening_rows, names),
               "runs_md": runs_markdown(run_rows), "test": table["test"], "figure4": figure4,
               "study_command": study_command(cfg), "num_seeds": len(cfg.seeds),
               "final_eval_samples": f"{mle[0].get('num_samples', mle[0].get('num_melodies')):,}",
               "run_minutes": f"{sum(r['wall_seconds'] or 0 for r in run_rows) / 60:.0f}",
               "build_minutes": f"{(time.time() - t0) / 60:.1f}"}
    from experiments.study_runs import fill_template
    readme = fill_template("results_template.md", **summary,
                           figure4_md="\n".join(f"![{name}]({name})" for name in figure4))
    atomic.write_bytes(os.path.join(out_dir, "README.md"), readme.encode())
    return summary


def _mean_stats(stats: list) -> dict:
    return {k: sum(s[k] for s in stats) / len(stats) for k in ("mean_log_prior", "mean_music_theory_reward")}


def openings_markdown(rows: dict, names: dict) -> str:
    """The openings table: one row per model (``names``: display names), mean over seeds."""
    from experiments.study_tables import format_value
    lines = ["| model | first note C4 | opens with C4 C4 C4 C4 | opens with one note x4 | most common opening "
             "(seed 0) | its share | distinct openings (seed 0) |", "|---|---|---|---|---|---|---|"]
    for model, row in rows.items():
        first = row["seeds"][0]
        pct = [format_value("notes_not_in_key", row[k]["mean"])
               for k in ("first_note_c4", "opening_repeated_c4", "opening_repeated_note")]
        lines.append(f"| {names.get(model, model)} | {' | '.join(pct)} | {first['top_opening']} | "
                     f"{format_value('notes_not_in_key', first['top_opening_share'])} | "
                     f"{first['distinct_openings']} of {first['num_melodies']} |")
    return "\n".join(lines)


def study_command(cfg: StudyConfig) -> str:
    """The command line that reruns this study with these settings."""
    default = StudyConfig()
    parts = ["python", COMMAND]
    for field, flag in (("runs_dir", "--runs"), ("results_dir", "--results"), ("steps", "--steps"),
                        ("final_eval_samples", "--final-eval-samples")):
        if getattr(cfg, field) != getattr(default, field):
            parts += [flag, str(getattr(cfg, field))]
    return " ".join(parts)


def copy_checkpoints(cfg: StudyConfig, models: dict) -> list[str]:
    """Copies each model's seed-0 policy to ``checkpoints_dir/melody_<model>/`` with a card."""
    from rl_tuner.plumbing import atomic, output_dir
    written = []
    for model, rs in models.items():
        r = rs[0]
        target = os.path.join(cfg.checkpoints_dir, f"melody_{model}")
        source = os.path.join(cfg.runs_dir, r["run"].name, "policy")
        prior = _prior_name(cfg, r["run"])
        with output_dir.directory(target, command=COMMAND, owned=("q_network", "prior", "policy.json", "card.json")) as tmp:
            for entry in ("q_network", "prior", "policy.json"):
                copy = shutil.copytree if os.path.isdir(os.path.join(source, entry)) else shutil.copy2
                copy(os.path.join(source, entry), os.path.join(tmp, entry))
            q_card = os.path.join(tmp, "q_network", "card.json")  # the run's, naming the prior as given
            if os.path.isfile(q_card):
                atomic.write_json(q_card, {**_read_json(q_card), "prior": prior})
            atomic.write_json(os.path.join(tmp, "card.json"), {
                "model": f"Sequence Tutor melody policy ({NAMES.get(r['run'].algorithm)}, c = {r['run'].c:g}, "
                         f"seed {r['run'].seed}), a `rl-tuner train --preset paper` run's policy/ folder",
                "task": "melody", "algorithm": r["run"].algorithm, "c": r["run"].c, "seed": r["run"].seed,
                "prior": prior, "steps": r["stats"]["steps"], "train_steps": r["stats"]["train_steps"],
                "final_statistics": {k: r["stats"]["after"][k] for k in sorted(r["stats"]["after"])
                                  if isinstance(r["stats"]["after"][k], float)},
                "command": "rl-tuner " + " ".join(train_argv(r["run"], cfg)),
                "rebuilt_by": f"python {COMMAND}",
                "evaluation_command": f"rl-tuner evaluate --model {target} --num-samples 100000 --out stats.json"})
        written.append(target)
    return written


def _prior_name(cfg: StudyConfig, run: Run) -> str:
    """The prior of a run as a card names it: the shipped one by its repository path."""
    prior = _read_json(os.path.join(cfg.runs_dir, run.name, "config.json"))["prior"]
    name = os.path.basename(os.path.normpath(prior))
    return "checkpoints/note_rnn" if name == "note_rnn" else name


def run_study(cfg: StudyConfig, log=print) -> dict:
    """Trains what is missing and rebuilds ``results/`` (and the tuned checkpoints)."""
    from rl_tuner.plumbing import atomic, output_dir
    times = train_all(cfg, log)
    models = collect(cfg)
    with output_dir.directory(cfg.results_dir, command=COMMAND) as tmp:
        summary = build_results(cfg, models, times, tmp, log)
    if cfg.checkpoints_dir:
        copy_checkpoints(cfg, models)
    log(f"[study] results in {cfg.results_dir}")
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = StudyConfig()
    p.add_argument("--runs", default=d.runs_dir, help="folder of the training runs")
    p.add_argument("--results", default=d.results_dir, help="folder of the results (rebuilt)")
    p.add_argument("--checkpoints", default=d.checkpoints_dir, help="where seed-0 policies go; '' for nowhere")
    p.add_argument("--algorithms", nargs="+", default=list(d.algorithms))
    p.add_argument("--seeds", nargs="+", type=int, default=list(d.seeds))
    p.add_argument("--c-sweep", nargs="*", type=float, default=list(d.c_sweep))
    p.add_argument("--ablation-seeds", nargs="*", type=int, default=list(d.ablation_seeds),
                   help="seeds of the ablations (none: no ablations)")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default: the paper preset's)")
    p.add_argument("--final-eval-samples", type=int, default=None, help="melodies of the final statistics")
    p.add_argument("--opening-samples", type=int, default=d.opening_samples)
    p.add_argument("--audio-samples", type=int, default=d.audio_samples)
    p.add_argument("--train-arg", action="append", default=[], dest="train_args",
                   help="a further rl-tuner train flag for every run (repeat; e.g. --train-arg=--num-envs=8)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cfg = StudyConfig(runs_dir=args.runs, results_dir=args.results, checkpoints_dir=args.checkpoints or None,
                      algorithms=tuple(args.algorithms), seeds=tuple(args.seeds), c_sweep=tuple(args.c_sweep),
                      ablation_seeds=tuple(args.ablation_seeds),
                      steps=args.steps, final_eval_samples=args.final_eval_samples,
                      opening_samples=args.opening_samples, audio_samples=args.audio_samples,
                      train_args=tuple(args.train_args))
    run_study(cfg)
    return 0


if __name__ == "__main__":
    from rl_tuner.plumbing.cli_utils import run_main
    sys.exit(run_main(main))
