"""Environment steps per second of ``rl-tuner train --task smiles`` with the default and paper presets.

Runs the real command for each preset (a fresh run directory in /tmp, ``--steps`` steps, one
evaluation of 100 molecules at the start and the end, no sample files) and reports its wall
time and the training's own ``env_steps_per_s`` from ``history.json`` (the training loop
only: the prior's evaluation before tuning and the final one are outside it). Flags this
script does not know are passed to every ``rl-tuner train`` (e.g. ``--learner path``).

``--profile`` also plays the same settings in this process for ``--steps`` steps with timers
around the phases (acting: the compiled policy step; reward: the environment's RDKit reward
and end-transition rewards; learner: storing transitions and the train steps; the rest:
the loop), without the evaluations. Prints one line per preset and a JSON object as the
last line:

    python benchmarks/smiles_throughput.py                       # both presets, 61,440 steps
    python benchmarks/smiles_throughput.py --presets default --learner path --profile
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import _common

ROOT = _common.ROOT
PRESETS = ("default", "paper")
EVAL_SAMPLES = 100  # molecules of the first and last evaluation (small: the benchmark times training)


def train_argv(preset: str, steps: int, out: str, extra) -> list:
    """The ``rl-tuner train`` arguments of one benchmark run."""
    return ["train", "--task", "smiles", "--preset", preset, "--steps", str(steps), "--out", out, "--quiet",
            "--eval-every", str(steps), "--eval-samples", str(EVAL_SAMPLES), "--final-eval-samples",
            str(EVAL_SAMPLES), "--num-samples", "0", *extra]


def run_command(argv: list, out: str) -> dict:
    """Runs ``rl-tuner train`` as a subprocess (this checkout first on PYTHONPATH).

    Returns:
      {"wall_s", "env_steps", "train_steps", "env_steps_per_s"} (the last from history.json).

    Raises:
      RuntimeError: the training failed (its last output line).
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rl_tuner.cli", *argv], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"rl-tuner {' '.join(argv)} failed: {lines[-1] if lines else done.returncode}")
    with open(os.path.join(out, "history.json")) as f:
        history = json.load(f)
    with open(os.path.join(out, "stats.json")) as f:
        stats = json.load(f)
    return {"wall_s": round(wall, 2), "env_steps": stats["steps"], "train_steps": stats["train_steps"],
            "env_steps_per_s": round(history["train"][-1]["env_steps_per_s"], 1)}


def profile(argv: list, steps: int) -> dict:
    """Plays ``steps`` environment steps of the run ``argv`` describes in this process, timing
    the phases (see the module docstring); one warm-up rollout first.

    Returns:
      {"env_steps", "seconds", "env_steps_per_s", "us_per_step": {phase: microseconds}}.
    """
    from rl_tuner import cli  # pylint: disable=import-outside-toplevel  (TensorFlow)
    from rl_tuner.runner import train  # pylint: disable=import-outside-toplevel  (TensorFlow)
    config = cli.train_config(cli.build_parser().parse_args(argv))
    state = train.RunState(config, tempfile.mkdtemp(prefix="smiles_throughput_"))
    env = train.make_environment(config)
    totals = {}
    state.actor.act = _common.timed(state.actor.act, totals, "acting")
    env.step = _common.timed(env.step, totals, "reward")
    if hasattr(env, "end_rewards"):
        env.end_rewards = _common.timed(env.end_rewards, totals, "reward")
    state.learner.add_and_train = _common.timed(state.learner.add_and_train, totals, "learner")
    step = train._play_episodes(state, env, config, 0, train.Tally())  # warm-up: traces the compiled functions
    totals.clear()
    start, tally = step, train.Tally()
    t0 = time.perf_counter()
    while step - start < steps:
        step = train._play_episodes(state, env, config, step, tally)
    seconds = time.perf_counter() - t0
    played = step - start
    totals["loop/other"] = seconds - sum(totals.values())
    return {"env_steps": played, "seconds": round(seconds, 2), "env_steps_per_s": round(played / seconds, 1),
            "us_per_step": {k: round(1e6 * v / played, 2) for k, v in totals.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS))
    parser.add_argument("--steps", type=int, default=61_440, help="environment steps per run (default: %(default)s)")
    parser.add_argument("--profile", action="store_true", help="also time the phases in this process")
    args, extra = parser.parse_known_args(argv)
    result = {"steps": args.steps, "extra_args": extra, "presets": {}}
    for preset in args.presets:
        out = os.path.join(tempfile.mkdtemp(prefix=f"smiles_throughput_{preset}_"), "run")
        argv_train = train_argv(preset, args.steps, out, extra)
        row = run_command(argv_train, out)
        print(f"{preset}: {row['env_steps']} env steps, {row['train_steps']} train steps; training loop "
              f"{row['env_steps_per_s']:.0f} env steps/s; whole command {row['wall_s']:.1f} s "
              f"(rl-tuner {' '.join(argv_train)})")
        if args.profile:
            row["profile"] = profile(argv_train, args.steps)
            print(f"  profile: {row['profile']['env_steps_per_s']:.0f} env steps/s; us per env step: " +
                  ", ".join(f"{k} {v:.1f}" for k, v in row["profile"]["us_per_step"].items()))
        result["presets"][preset] = row
    print(json.dumps(result))


if __name__ == "__main__":
    main()
