"""The reward-KL frontier of the molecule learner: train, evaluate, and rebuild ``results/molecules/``.

For every algorithm, KL weight c and seed, trains (or resumes, or finds complete)
``rl-tuner train --task smiles --preset default --algorithm A --c C --seed S`` into
``RUNS/<A>_c<C>_s<S>``, evaluates each finished run and the prior once with ``molecules
evaluate`` (the same number of molecules, one fixed sampling seed, the runs' episode length
as the maximum length; ``novel`` needs a ``molecules prepare`` data set, else it is null),
and writes into ``results/molecules/`` (atomically; only its own files):

* ``frontier.json``: ``{"reward", "prior": {...}, "points": [{"algorithm", "c", "steps",
  "seed", "command", "eval_command", "kl", "valid", "unique", "mean_reward", ...}], ...}``
  (``kl``: KL(policy || prior) per token; ``mean_reward``: the preset's reward of the finished
  molecule, invalid ones included);
* ``README.md`` (from ``experiments/molecule_frontier_template.md``): a table per algorithm,
  the prior's row, the check of the issue's targets, every command;
* ``frontier.png``: mean reward against KL per token;
* ``runs.json``: every run's commands and wall times;
* ``tensorboard/``: one HParams session per point (``tensorboard --logdir results/molecules/tensorboard``).

Usage (hours of CPU at the defaults; see BUILD.md, "The frontier study"):

    python experiments/molecule_frontier.py --jobs 2 --train-arg=--learner=path

Rerun the same command to resume: finished runs and current evaluations are kept.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import shlex
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from experiments import study_runs  # noqa: E402

COMMAND = "experiments/molecule_frontier.py"
PRESET = "default"
EVALUATE_COMMAND = "molecules evaluate"
# The statistics of each point and of the prior (molecules evaluate's keys; ``kl`` is its mean_kl).
STAT_KEYS = ("valid", "unique", "mean_reward", "mean_logp", "mean_qed", "mean_sa_penalty", "mean_ring_penalty",
             "novel", "internal_diversity", "mean_length", "mean_log_prior", "mean_entropy")
NO_DATA = ("novel is null: no `molecules prepare` data set at {data} (make it with `molecules prepare --out "
           "{data}`, or give --data)")


class RunFailed(ValueError):
    """A training or evaluation subprocess of the study failed (one line: what, exit code, its log)."""


@dataclasses.dataclass(frozen=True)
class FrontierConfig:
    """Settings of the frontier study.

    Attributes:
      runs_dir: where the training runs (``<algorithm>_c<c>_s<seed>/``), their evaluations
        (``evaluations/``), the subprocesses' logs (``logs/``) and ``wall_times.json`` live.
      results_dir: the folder of results this study owns and rebuilds.
      algorithms: the algorithms (``rl-tuner train --algorithm``).
      c_values: the KL weights c, from "barely moves" to "KL above 2 nats/token".
      seeds: training seeds of every setting.
      steps: environment steps per run (None: the preset's).
      eval_samples: molecules sampled per evaluation.
      eval_seed: the sampling seed of every evaluation (the same molecules' randomness for all).
      data_dir: the ``molecules prepare`` data set whose train split defines ``novel``
        (missing: ``novel`` is null).
      train_args: further ``rl-tuner train`` flags for every run.
      algorithm_args: ``(algorithm, flag)`` pairs: further flags for that algorithm's runs.
      jobs: trainings and evaluations run at once (subprocesses).
      overwrite: replace a results folder this study did not write (only its own files).
    """

    runs_dir: str = "runs/molecule_frontier"
    results_dir: str = "results/molecules"
    algorithms: tuple[str, ...] = ("q", "psi", "g")
    c_values: tuple[float, ...] = (100.0, 30.0, 10.0, 3.0, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int | None = None
    eval_samples: int = 5000
    eval_seed: int = 0
    data_dir: str | None = "data/moses"
    train_args: tuple[str, ...] = ()
    algorithm_args: tuple[tuple[str, str], ...] = ()
    jobs: int = 1
    overwrite: bool = False


@dataclasses.dataclass(frozen=True)
class Point:
    """One training run of the frontier: an algorithm at one c and a seed."""

    algorithm: str
    c: float
    seed: int

    @property
    def name(self) -> str:
        return f"{self.algorithm}_c{self.c:g}_s{self.seed}"


def points_of(cfg: FrontierConfig) -> list[Point]:
    """Every point of the study: algorithm-major, then c as given, then seed."""
    return [Point(a, float(c), s) for a in cfg.algorithms for c in cfg.c_values for s in cfg.seeds]


def run_dir(cfg: FrontierConfig, point: Point) -> str:
    """``runs_dir/<algorithm>_c<c>_s<seed>``."""
    return os.path.join(cfg.runs_dir, point.name)


def train_argv(point: Point, cfg: FrontierConfig) -> list[str]:
    """The ``rl-tuner train`` arguments of a point (the ``command`` of frontier.json)."""
    argv = ["train", "--task", "smiles", "--preset", PRESET, "--algorithm", point.algorithm, "--c", f"{point.c:g}",
            "--seed", str(point.seed), "--out", run_dir(cfg, point), "--quiet"]
    if cfg.steps is not None:
        argv += ["--steps", str(cfg.steps)]
    return argv + list(cfg.train_args) + [flag for a, flag in cfg.algorithm_args if a == point.algorithm]


def eval_path(cfg: FrontierConfig, name: str) -> str:
    """The evaluation JSON of a point (by run name) or of the prior (``prior``)."""
    return os.path.join(cfg.runs_dir, "evaluations", f"{name}.json")


def eval_argv(cfg: FrontierConfig, model: str | None, out: str, max_length: int, data: str | None,
              reward_mode: str | None = None) -> list[str]:
    """The ``molecules evaluate`` arguments of one evaluation (model None: the shipped prior)."""
    argv = ["evaluate"] + (["--model", model] if model else [])
    argv += ["--num", str(cfg.eval_samples), "--seed", str(cfg.eval_seed), "--max-length", str(max_length)]
    argv += (["--data", data] if data else []) + (["--reward-mode", reward_mode] if reward_mode else [])
    return argv + ["--out", out]


def shell(program: str, argv) -> str:
    """The shell command line ``program argv...`` (quoted where needed)."""
    return f"{program} {shlex.join(argv)}"


def point_config(argv: list[str]):
    """The :class:`rl_tuner.runner.config.RLConfig` an ``rl-tuner train`` argv trains (no TensorFlow).

    Raises:
      ValueError: flags ``rl-tuner train`` refuses (its own message is printed first) or an
        invalid setting.
    """
    from rl_tuner import cli  # pylint: disable=import-outside-toplevel
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit:
        raise ValueError(f"rl-tuner train refuses the arguments `{shell('rl-tuner', argv)}` (see above); "
                         "check --train-arg and --algorithm-arg") from None
    return cli.train_config(args)


def finished_run(config, out: str) -> dict | None:
    """The final statistics of a run in ``out`` that is complete with ``config`` (decided as
    ``rl-tuner train`` decides it, without TensorFlow: :func:`rl_tuner.runner.train_precheck.check`),
    None if it must be trained or resumed.

    Raises:
      ValueError: ``out`` holds a run with other settings, or is no run of ``rl-tuner train``.
    """
    from rl_tuner.runner import train_precheck  # pylint: disable=import-outside-toplevel
    return train_precheck.check(config, out)


def evaluation_is_current(path: str, model: str, argv_settings: dict, since: float | None) -> bool:
    """True if ``path`` holds a ``molecules evaluate`` result of ``model`` with these settings
    (``num_samples``, ``seed``, ``max_length``, whether ``novel`` was computed, the reward preset),
    written after ``since`` (the run's stats.json mtime; None: any time)."""
    from rl_tuner.plumbing import outputs  # pylint: disable=import-outside-toplevel
    if not os.path.isfile(path) or outputs.written_by(path) != EVALUATE_COMMAND:
        return False
    if since is not None and os.path.getmtime(path) < since:
        return False
    result = study_runs.read_json(path)
    if os.path.abspath(str(result.get("model"))) != os.path.abspath(model):
        return False
    if ("novel" in result) != argv_settings["novel"]:
        return False
    return all(result.get(key) == value for key, value in argv_settings.items() if key != "novel")


def run_subprocess(module: str, argv: list[str], log_path: str, what: str) -> float:
    """Runs ``python -m MODULE argv...`` with this checkout first on PYTHONPATH, its output
    appended to ``log_path``; returns the wall seconds.

    Raises:
      RunFailed: a non-zero exit, naming ``what``, the exit code, the log's last line and the log.
    """
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    t0 = time.time()
    with open(log_path, "a") as log:
        log.write(f"$ {shell('python -m ' + module, argv)}\n")
        log.flush()
        code = subprocess.call([sys.executable, "-m", module, *argv], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env)
    if code:
        with open(log_path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
        raise RunFailed(f"{what} failed (exit {code}): {lines[-1] if lines else 'no output'} (log: {log_path})")
    return time.time() - t0


class Study:
    """One call of the frontier study: the points' configs, the wall times and the log."""

    def __init__(self, cfg: FrontierConfig, log=print):
        self.cfg, self._log, self._lock = cfg, log, threading.Lock()
        self.points = points_of(cfg)
        self.configs = {p: point_config(train_argv(p, cfg)) for p in self.points}  # refuses bad flags first
        first = self.configs[self.points[0]]
        self.reward = first.reward_mode
        self.max_length = first.max_length
        self.prior = first.prior
        others = {(c.reward_mode, c.max_length, c.prior) for c in self.configs.values()} - {
            (self.reward, self.max_length, self.prior)}
        if others:
            raise ValueError("every point of the frontier needs the same reward, --max-length and prior; the flags "
                             f"give {sorted(map(str, others | {(self.reward, self.max_length, self.prior)}))}")
        self.data = cfg.data_dir if cfg.data_dir and os.path.isdir(cfg.data_dir) else None
        self.times = study_runs.load_wall_times(cfg.runs_dir)

    def log(self, line: str) -> None:
        with self._lock:
            self._log(f"[frontier] {line}")

    def _record(self, key: str, seconds: float) -> None:
        with self._lock:
            self.times[key] = round(seconds, 1)
            study_runs.save_wall_times(self.cfg.runs_dir, self.times)

    def eval_settings(self, reward_mode: str | None) -> dict:
        return {"num_samples": self.cfg.eval_samples, "seed": self.cfg.eval_seed, "max_length": self.max_length,
                "novel": self.data is not None, "reward_mode": reward_mode or self.reward}

    def prior_eval_argv(self) -> list[str]:
        from rl_tuner.resources import shipped_checkpoint  # pylint: disable=import-outside-toplevel
        shipped = shipped_checkpoint("molecules", "smiles_rnn")
        model = None if os.path.abspath(self.prior) == os.path.abspath(shipped) else self.prior
        return eval_argv(self.cfg, model, eval_path(self.cfg, "prior"), self.max_length, self.data, self.reward)

    def point_eval_argv(self, point: Point) -> list[str]:
        return eval_argv(self.cfg, run_dir(self.cfg, point), eval_path(self.cfg, point.name), self.max_length,
                         self.data)

    def evaluate(self, name: str, model: str, argv: list[str], since: float | None) -> None:
        path = eval_path(self.cfg, name)
        if evaluation_is_current(path, model, self.eval_settings(None), since):
            return
        self.log(f"{name}: evaluating ({shell('molecules', argv)})")
        seconds = run_subprocess("molecules.cli", argv, os.path.join(self.cfg.runs_dir, "logs", f"{name}.log"),
                                 f"the evaluation of {name}")
        self._record(f"evaluate:{name}", seconds)
        r = study_runs.read_json(path)
        self.log(f"{name}: evaluated in {seconds:.0f} s: KL {r['mean_kl']:.3f}/token, mean reward "
                 f"{_fmt(r.get('mean_reward'), 1)}, valid {_fmt(r.get('valid'))}, unique {_fmt(r.get('unique'))}")

    def do_point(self, index: int, point: Point) -> None:
        """Trains or resumes the point's run if it is not complete, then evaluates it if needed."""
        out = run_dir(self.cfg, point)
        recorded = study_runs.finished_wall_time(out)  # before anything touches the run
        argv = train_argv(point, self.cfg)
        final = finished_run(self.configs[point], out)
        if final is not None:
            self.log(f"{point.name} ({index}/{len(self.points)}): complete ({final['steps']:,} steps), not retrained")
            if point.name not in self.times and recorded is not None:
                self._record(point.name, recorded)
        else:
            self.log(f"{point.name} ({index}/{len(self.points)}): training ({shell('rl-tuner', argv)})")
            seconds = run_subprocess("rl_tuner.cli", argv, os.path.join(self.cfg.runs_dir, "logs", f"{point.name}.log"),
                                     f"run {point.name}")
            self._record(point.name, seconds)
            self.log(f"{point.name}: trained in {seconds:.0f} s")
        stats = os.path.join(out, "stats.json")
        self.evaluate(point.name, out, self.point_eval_argv(point), os.path.getmtime(stats))

    def run_all(self) -> None:
        """The prior's evaluation and every point, ``jobs`` at a time; the first failure stops
        what has not started and is raised once the running jobs end."""
        if self.data is None:
            self.log(NO_DATA.format(data=self.cfg.data_dir or "data/moses"))
        os.makedirs(self.cfg.runs_dir, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max(1, self.cfg.jobs)) as pool:
            futures = [pool.submit(self.evaluate, "prior", self.prior, self.prior_eval_argv(), None)]
            futures += [pool.submit(self.do_point, i + 1, p) for i, p in enumerate(self.points)]
            done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and f.exception() is not None]
            if failed:
                for f in futures:
                    f.cancel()
                raise failed[0].exception()

    def collect(self) -> dict:
        """The frontier (frontier.json's content) from the finished runs and evaluations."""
        prior_argv = self.prior_eval_argv()
        prior_result = study_runs.read_json(eval_path(self.cfg, "prior"))
        prior = {"model": self.prior, "kl": prior_result.get("mean_kl"),
                 **{k: prior_result.get(k) for k in STAT_KEYS}, "eval_command": shell("molecules", prior_argv)}
        points = []
        for p in self.points:
            stats = study_runs.read_json(os.path.join(run_dir(self.cfg, p), "stats.json"))
            result = study_runs.read_json(eval_path(self.cfg, p.name))
            points.append({"algorithm": p.algorithm, "c": p.c, "steps": stats["steps"], "seed": p.seed,
                           "command": shell("rl-tuner", train_argv(p, self.cfg)),
                           "eval_command": shell("molecules", self.point_eval_argv(p)), "run": p.name,
                           "train_steps": stats.get("train_steps"), "kl": result.get("mean_kl"),
                           **{k: result.get(k) for k in STAT_KEYS}})
        from experiments import frontier_tables  # pylint: disable=import-outside-toplevel
        return {"reward": self.reward, "prior": prior, "points": points,
                "targets": frontier_tables.check_targets(prior, points),
                "evaluation": {"samples": self.cfg.eval_samples, "seed": self.cfg.eval_seed,
                               "max_length": self.max_length, "data": self.data},
                "study_command": study_command(self.cfg),
                "definitions": "kl: mean KL(policy || prior) per sampled token (nats); mean_reward: the preset's "
                               "reward of the finished molecule averaged over all samples, invalid ones included; "
                               "fractions 0..1; logP, QED, SA penalty means over valid molecules; novel null "
                               "without a data set (BUILD.md, \"The frontier study\")"}

    def run_rows(self, frontier: dict) -> list[dict]:
        rows = [{"run": p["run"], "algorithm": p["algorithm"], "c": p["c"], "seed": p["seed"], "steps": p["steps"],
                 "train_steps": p["train_steps"], "wall_seconds": self.times.get(p["run"]),
                 "eval_seconds": self.times.get(f"evaluate:{p['run']}"), "command": p["command"],
                 "eval_command": p["eval_command"]} for p in frontier["points"]]
        return [{"run": "prior", "steps": None, "wall_seconds": None, "eval_seconds": self.times.get("evaluate:prior"),
                 "command": None, "eval_command": frontier["prior"]["eval_command"]}] + rows


def _prior_name(path: str) -> str:
    """The prior as the README names it: the shipped one by its repository path, else as given."""
    from rl_tuner.resources import shipped_checkpoint  # pylint: disable=import-outside-toplevel
    shipped = shipped_checkpoint("molecules", "smiles_rnn")
    return "checkpoints/smiles_rnn" if os.path.abspath(path) == os.path.abspath(shipped) else path


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def write_hparams(frontier: dict, log_dir: str) -> None:
    """One TensorBoard HParams session per point (``algorithm``, ``c``, ``seed`` as hparams, ``kl``
    and the statistics as ``final/<name>`` metrics) and one for the prior, under ``log_dir``."""
    from rl_tuner import _tf  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from rl_tuner.runner import hparams  # pylint: disable=import-outside-toplevel
    sessions = [("prior", {"algorithm": "prior"}, 0, frontier["prior"])]
    sessions += [(p["run"], {"algorithm": p["algorithm"], "c": float(p["c"]), "seed": int(p["seed"])}, p["steps"], p)
                 for p in frontier["points"]]
    for name, settings, steps, values in sessions:
        writer = tf.summary.create_file_writer(os.path.join(log_dir, name))
        metrics = {k: values[k] for k in ("kl",) + STAT_KEYS if values.get(k) is not None}
        hparams.write_hparams(writer, settings, {"steps": steps, "after": metrics})
        writer.close()


def build_results(study: Study, out_dir: str) -> dict:
    """Writes frontier.json, runs.json, README.md, frontier.png and tensorboard/ into ``out_dir``
    (a fresh folder); returns the frontier."""
    from experiments import frontier_tables, study_figures  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import atomic  # pylint: disable=import-outside-toplevel
    frontier = study.collect()
    rows = study.run_rows(frontier)
    atomic.write_json(os.path.join(out_dir, "frontier.json"), frontier)
    atomic.write_json(os.path.join(out_dir, "runs.json"), rows)
    study_figures.plot_frontier(frontier_tables.settings(frontier["points"]), frontier["prior"],
                                os.path.join(out_dir, "frontier.png"), frontier["reward"])
    write_hparams(frontier, os.path.join(out_dir, "tensorboard"))
    cfg = study.cfg
    passed = sum(t["passed"] for t in frontier["targets"])
    readme = study_runs.fill_template(
        "molecule_frontier_template.md", study_command=frontier["study_command"], reward=frontier["reward"],
        prior=_prior_name(study.prior), results_dir=cfg.results_dir,
        algorithms=", ".join(cfg.algorithms), c_values=", ".join(f"{c:g}" for c in cfg.c_values),
        seeds=", ".join(map(str, cfg.seeds)), num_seeds=len(cfg.seeds),
        steps="the preset's" if cfg.steps is None else f"{cfg.steps:,}",
        flags=" ".join(f"`{flag}`" for flag in cfg.train_args) or "none",
        algorithm_flags=", ".join(f"{a}: `{flag}`" for a, flag in cfg.algorithm_args) or "none",
        eval_samples=f"{cfg.eval_samples:,}", eval_seed=cfg.eval_seed, max_length=study.max_length,
        novel_note=(f"`novel` against the train split of `{study.data}`" if study.data else
                    NO_DATA.format(data=cfg.data_dir or "data/moses")),
        prior_eval_command=frontier["prior"]["eval_command"],
        tables_md=frontier_tables.markdown_tables(frontier["prior"], frontier["points"]),
        targets_md=frontier_tables.targets_markdown(frontier["targets"]),
        targets_passed=f"{passed} of {len(frontier['targets'])}",
        runs_md=study_runs.runs_markdown(rows),
        run_minutes=f"{sum(r['wall_seconds'] or 0 for r in rows) / 60:.0f}",
        eval_minutes=f"{sum(r['eval_seconds'] or 0 for r in rows) / 60:.1f}")
    atomic.write_bytes(os.path.join(out_dir, "README.md"), readme.encode())
    return frontier


def check_results_dir(cfg: FrontierConfig) -> None:
    """Refuses a results folder the study may not write (:mod:`rl_tuner.plumbing.outputs`: one that is
    not empty and was not written by this study, without --overwrite; a run, a checkpoint, ...).

    Raises:
      rl_tuner.plumbing.outputs.OutputError: one line naming --results-dir.
    """
    from rl_tuner.plumbing import outputs  # pylint: disable=import-outside-toplevel
    try:
        outputs.check_dir(cfg.results_dir, COMMAND, cfg.overwrite)
    except outputs.OutputError as e:
        raise outputs.OutputError(str(e).replace("--out", "--results-dir")) from None


def run_frontier(cfg: FrontierConfig, log=print) -> dict:
    """Trains and evaluates what is missing and rebuilds the results folder; returns the frontier.

    Raises:
      rl_tuner.plumbing.outputs.OutputError: the results folder may not be written (before any work).
      ValueError: bad settings or flags (before any work); RunFailed: a training or
        evaluation failed (its log named).
    """
    from rl_tuner.plumbing import atomic, output_dir  # pylint: disable=import-outside-toplevel
    check_results_dir(cfg)
    study = Study(cfg, log)
    study.run_all()
    study.log("results")
    try:
        with output_dir.directory(cfg.results_dir, command=COMMAND, overwrite=cfg.overwrite) as tmp:
            frontier = build_results(study, tmp)
    except Exception as e:  # noqa: BLE001  (the refusal names --results-dir, as check_results_dir)
        from rl_tuner.plumbing import outputs  # pylint: disable=import-outside-toplevel
        if isinstance(e, outputs.OutputError):
            raise outputs.OutputError(str(e).replace("--out", "--results-dir")) from None
        raise
    for target in frontier["targets"]:
        study.log(f"target {'PASS' if target['passed'] else 'FAIL'}: {target['target']} ({target['detail']})")
    study.log(f"results in {cfg.results_dir}")
    return frontier


def study_command(cfg: FrontierConfig) -> str:
    """The command line that reruns this study with these settings."""
    default = FrontierConfig()
    argv = []
    for field, flag in (("runs_dir", "--runs-dir"), ("results_dir", "--results-dir"), ("steps", "--steps"),
                        ("eval_samples", "--eval-samples"), ("eval_seed", "--eval-seed"), ("data_dir", "--data"),
                        ("jobs", "--jobs")):
        if getattr(cfg, field) != getattr(default, field):
            argv += [flag, str(getattr(cfg, field) or "")]
    for field, flag in (("algorithms", "--algorithms"), ("c_values", "--c"), ("seeds", "--seeds")):
        if getattr(cfg, field) != getattr(default, field):
            argv += [flag, *(f"{v:g}" if isinstance(v, float) else str(v) for v in getattr(cfg, field))]
    argv += [f"--train-arg={flag}" for flag in cfg.train_args]
    argv += [f"--algorithm-arg={a}={flag}" for a, flag in cfg.algorithm_args]
    return shell(f"python {COMMAND}", argv) if argv else f"python {COMMAND}"


def parse_algorithm_args(values, algorithms) -> tuple[tuple[str, str], ...]:
    """``ALGORITHM=FLAG`` strings as ``(algorithm, flag)`` pairs.

    Raises:
      ValueError: no ``=``, or an algorithm not among ``algorithms``.
    """
    pairs = []
    for value in values:
        algorithm, sep, flag = value.partition("=")
        if not sep or not flag:
            raise ValueError(f"--algorithm-arg {value!r}: give ALGORITHM=FLAG, e.g. psi=--head-init=centered")
        if algorithm not in algorithms:
            raise ValueError(f"--algorithm-arg {value!r}: {algorithm!r} is not one of --algorithms "
                             f"({' '.join(algorithms)})")
        pairs.append((algorithm, flag))
    return tuple(pairs)


def build_parser() -> argparse.ArgumentParser:
    from rl_tuner.plumbing.cli_utils import HelpFormatter, range_type  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing.ranges import COUNT, SEED, at_least, positive  # pylint: disable=import-outside-toplevel
    d = FrontierConfig()
    p = argparse.ArgumentParser(prog="python " + COMMAND, description=__doc__.split("\n\n")[0],
                                formatter_class=HelpFormatter)
    p.add_argument("--algorithms", nargs="+", default=list(d.algorithms), help="(default: %(default)s)")
    p.add_argument("--c", nargs="+", type=range_type(float, positive()), default=list(d.c_values),
                   dest="c_values", help="KL weights c (default: %(default)s)")
    p.add_argument("--seeds", nargs="+", type=range_type(int, SEED), default=list(d.seeds),
                   help="training seeds (default: %(default)s)")
    p.add_argument("--steps", type=range_type(int, COUNT), default=None,
                   help="environment steps per run (default: the default preset's)")
    p.add_argument("--runs-dir", default=d.runs_dir, help="folder of the runs (default: %(default)s)")
    p.add_argument("--results-dir", default=d.results_dir, help="folder of the results, rebuilt (default: %(default)s)")
    p.add_argument("--eval-samples", type=range_type(int, COUNT), default=d.eval_samples,
                   help="molecules per evaluation (default: %(default)s)")
    p.add_argument("--eval-seed", type=range_type(int, SEED), default=d.eval_seed,
                   help="sampling seed of every evaluation (default: %(default)s)")
    p.add_argument("--data", default=d.data_dir, dest="data_dir",
                   help="`molecules prepare` data set for `novel`; missing: novel is null (default: %(default)s)")
    p.add_argument("--train-arg", action="append", default=[], dest="train_args",
                   help="a further rl-tuner train flag for every run (repeat; write --train-arg=--num-envs=8)")
    p.add_argument("--algorithm-arg", action="append", default=[], dest="algorithm_args", metavar="ALGORITHM=FLAG",
                   help="a further rl-tuner train flag for one algorithm's runs (repeat; e.g. "
                        "--algorithm-arg psi=--head-init=centered)")
    p.add_argument("--jobs", type=range_type(int, at_least(1)), default=d.jobs,
                   help="trainings/evaluations at once, as subprocesses (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a results folder this study did not write (only its own files)")
    return p


def config_from_args(args: argparse.Namespace) -> FrontierConfig:
    """The :class:`FrontierConfig` of parsed arguments.

    Raises:
      ValueError: a bad --algorithm-arg.
    """
    return FrontierConfig(runs_dir=args.runs_dir, results_dir=args.results_dir, algorithms=tuple(args.algorithms),
                          c_values=tuple(float(c) for c in args.c_values), seeds=tuple(args.seeds), steps=args.steps,
                          eval_samples=args.eval_samples, eval_seed=args.eval_seed, data_dir=args.data_dir or None,
                          train_args=tuple(args.train_args),
                          algorithm_args=parse_algorithm_args(args.algorithm_args, args.algorithms),
                          jobs=args.jobs, overwrite=args.overwrite)


def main(argv=None) -> int:
    cfg = config_from_args(build_parser().parse_args(argv))
    run_frontier(cfg)
    return 0


if __name__ == "__main__":
    from rl_tuner.plumbing.cli_utils import run_main
    sys.exit(run_main(main))
