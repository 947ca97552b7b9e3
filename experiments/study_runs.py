"""Bookkeeping shared by the study scripts (``paper_study.py``, ``molecule_frontier.py``):
the wall times of their training runs and their README templates.

A study keeps ``wall_times.json`` (``{run name: seconds}``) in its runs folder: the time a
study call spent training (or resuming) each run. A run finished before without a record
(trained by hand with the same command, or before the file existed) gets the time between
its ``config.json`` and ``stats.json``, which ``rl-tuner train`` writes at its start and end.
"""

from __future__ import annotations

import json
import os

EXPERIMENTS = os.path.dirname(os.path.abspath(__file__))
WALL_TIMES = "wall_times.json"


def read_json(path: str):
    """The JSON value stored at ``path`` (a file the study or a run wrote)."""
    with open(path) as f:
        return json.load(f)


def load_wall_times(runs_dir: str) -> dict:
    """``{run name: seconds}`` recorded in ``runs_dir/wall_times.json`` ({} if there is none)."""
    path = os.path.join(runs_dir, WALL_TIMES)
    return read_json(path) if os.path.isfile(path) else {}


def save_wall_times(runs_dir: str, times: dict) -> None:
    """Writes ``{run name: seconds}`` to ``runs_dir/wall_times.json`` atomically."""
    from rl_tuner.plumbing import atomic  # pylint: disable=import-outside-toplevel
    os.makedirs(runs_dir, exist_ok=True)
    atomic.write_json(os.path.join(runs_dir, WALL_TIMES), times)


def finished_wall_time(run_dir: str) -> float | None:
    """Seconds between a finished run's ``config.json`` and ``stats.json`` (rounded to 0.1 s),
    None if either is missing. Read it before the run is touched again."""
    stats, config = os.path.join(run_dir, "stats.json"), os.path.join(run_dir, "config.json")
    if not (os.path.isfile(stats) and os.path.isfile(config)):
        return None
    return round(os.path.getmtime(stats) - os.path.getmtime(config), 1)


def fill_template(name: str, **fields) -> str:
    """The template ``experiments/NAME`` with its ``{placeholders}`` filled (``str.format``).

    Raises:
      KeyError: a placeholder without a field.
    """
    with open(os.path.join(EXPERIMENTS, name)) as f:
        return f.read().format(**fields)


def runs_markdown(rows: list) -> str:
    """The runs of a study as a Markdown table: name, steps, wall time here and command, plus
    the evaluation's wall time and command where rows have ``eval_command``.

    Args:
      rows: ``{"run", "steps", "wall_seconds", "command"}`` per run (steps and wall seconds may
        be None), optionally with ``eval_seconds`` and ``eval_command``.
    """
    evaluated = any("eval_command" in r for r in rows)
    minutes = lambda s: "-" if s is None else f"{s / 60:.1f} min"  # noqa: E731
    if evaluated:
        lines = ["| run | steps | wall time here | evaluation | command | evaluation command |",
                 "|---|---|---|---|---|---|"]
    else:
        lines = ["| run | steps | wall time here | command |", "|---|---|---|---|"]
    for r in rows:
        steps = "-" if r.get("steps") is None else f"{r['steps']:,}"
        command = f"`{r['command']}`" if r.get("command") else "-"
        line = f"| {r['run']} | {steps} | {minutes(r.get('wall_seconds'))} | "
        if evaluated:
            line += f"{minutes(r.get('eval_seconds'))} | {command} | `{r.get('eval_command', '')}` |"
        else:
            line += f"{command} |"
        lines.append(line)
    return "\n".join(lines)
