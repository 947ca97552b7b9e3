"""The ``rl-tuner`` command: tune a task's prior with KL-control RL, evaluate, export.

``train``, ``evaluate`` and ``export`` work for every task (``--task``, default melody; a
run's own task is read from its config.json); a task may add its own subcommands (the
melody task adds ``score``, ``stats`` and ``generate``, see :meth:`rl_tuner.tasks.Task.commands`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from rl_tuner import tasks
from rl_tuner.plumbing.cli_utils import (HelpFormatter, add_dataclass_arguments, add_hidden_aliases, add_overwrite_flag,
                                range_type, run_main)
from rl_tuner.plumbing.ranges import COUNT, SEED, at_least
from rl_tuner.sampling_args import TEMPERATURE

CORE_COMMANDS = ("train", "evaluate", "export")
DESCRIPTION = ("Tunes a task's pre-trained sequence model (the prior; for melodies a Note-RNN) with KL-control RL "
               "(Sequence Tutor: q, psi, g or pure_rl), evaluates and exports the result. train, evaluate and "
               "export work for every task (--task, default melody; a run's own task is read from the run); "
               "the melody task adds score, stats, generate, listen and listen-report. `rl-tuner COMMAND --help` "
               "explains each command.")


def task_commands() -> dict:
    """{name: (help, add_arguments, run)} of every registered task's own subcommands (a task
    that fails to load adds none; its error shows when it is used with --task)."""
    commands = {}
    for name in tasks.available():
        try:
            extra = tasks.get_task(name).commands()
        except Exception:  # pylint: disable=broad-except
            continue
        for command, spec in extra.items():
            if command not in CORE_COMMANDS:
                commands.setdefault(command, spec)
    return commands


def build_parser() -> argparse.ArgumentParser:
    """The ``rl-tuner`` argument parser (built from TensorFlow-free modules: --help is fast)."""
    from rl_tuner import choices
    from rl_tuner.runner.config import PRESETS, RLConfig
    parser = argparse.ArgumentParser(prog="rl-tuner", description=DESCRIPTION, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="tune a task's prior (rerun the same command to resume)",
                       formatter_class=HelpFormatter,
                       description="Fine-tunes a copy of a task's prior (for melodies a Note-RNN) with q, psi, g or "
                                   "pure_rl against the task reward; the frozen prior is the reward network. Flags "
                                   "not given come from --preset.")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS),
                   help="settings to start from: 'paper' (the paper's; melody: 1,000,000 steps) or 'default' (a short "
                        "run); a task may have its own (smiles: the original's final run and G from a zero head, "
                        "BUILD.md); the defaults shown below are the melody task's (default: %(default)s)")
    p.add_argument("--out", required=True, help="run directory (TensorBoard events, checkpoints, stats.json)")
    help_defaults = {}
    for field in dataclasses.fields(RLConfig):
        d, pp = PRESETS["default"].get(field.name, field.default), PRESETS["paper"].get(field.name, field.default)
        help_defaults[field.name] = f"default: {d}" + (f"; paper preset: {pp}" if pp != d else "")
    help_defaults["prior"] = "default: the task's shipped prior (melody: checkpoints/note_rnn)"
    help_defaults["reward_mode"] = ("default: the task's (melody: music_theory_all for q and psi, "
                                    "music_theory_only for g and pure_rl)")
    add_dataclass_arguments(p, RLConfig, help_defaults=help_defaults, choices={
        "task": tasks.available(), "algorithm": choices.ALGORITHMS, "exploration": choices.EXPLORATION_MODES,
        "replay": choices.REPLAY_KINDS, "new_priority": choices.NEW_PRIORITIES, "head_init": choices.HEAD_INITS,
        "value_offset": choices.VALUE_OFFSETS, "learner": choices.LEARNERS}, aliases={
            "prior": ["--note-rnn"], "max_length": ["--num-notes"], "eval_samples": ["--eval-melodies"],
            "final_eval_samples": ["--final-eval-melodies"], "bootstrap_final_step": ["--bootstrap-final-note"]})
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (one line per evaluation instead, as when stderr is not a terminal)")
    p.add_argument("--intra-op-threads", type=range_type(int, at_least(0)), default=1,
                   help="TensorFlow threads per op; 1 is fastest for these tiny networks, 0 = TensorFlow's "
                        "default (default: %(default)s)")

    p = sub.add_parser("evaluate", help="statistics of sequences sampled from a model (melodies: Table 1)",
                       formatter_class=HelpFormatter,
                       description="Samples sequences from a tuned run, a policy directory or a prior and writes "
                                   "the task's statistics as JSON (melodies: the paper's Table 1, plus the "
                                   "per-note means of the reward, log p(a|s) and KL). A run's task is read from "
                                   "the run.")
    _add_sampling_arguments(p, "--num-samples", 100_000, aliases=("--num-melodies",))
    p.add_argument("--out", default="stats.json", help="output JSON (default: %(default)s)")
    add_overwrite_flag(p, "file")

    for name, (help_text, add_arguments, _) in task_commands().items():
        add_arguments(sub.add_parser(name, help=help_text, formatter_class=HelpFormatter))

    p = sub.add_parser("export", help="write a SavedModel with a generate() signature", formatter_class=HelpFormatter,
                       description="Writes a TensorFlow SavedModel of a tuned run, policy or prior that samples "
                                   "without this package: generate(num_samples, max_length, temperature, seed) "
                                   "returns tokens and lengths (a task's end token ends a sequence), strings for "
                                   "a task with a vocabulary, and model_tokens for a lookback, attention or mono "
                                   "prior.")
    p.add_argument("--model", default=None, help="run/policy directory or prior checkpoint "
                                                 "(default: the task's shipped prior)")
    _add_task_argument(p)
    p.add_argument("--out", required=True, help="SavedModel directory")
    add_overwrite_flag(p)
    return parser


MODEL_HELP = ("run directory, policy directory or prior checkpoint (a plain prior, e.g. a Note-RNN, is the MLE "
              "row of Table 1) (default: the task's shipped prior)")


def _add_task_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", default=None, choices=tasks.available(),
                   help=f"the model's task (default: the one its run or policy records, else {tasks.DEFAULT_TASK})")


def _add_sampling_arguments(p: argparse.ArgumentParser, num_flag: str, num_default: int, aliases=()) -> None:
    p.add_argument("--model", "--checkpoint", dest="model", default=None, metavar="PATH", help=MODEL_HELP)
    _add_task_argument(p)
    p.add_argument(num_flag, dest="num", type=range_type(int, COUNT), default=num_default,
                   help="sequences (melodies) to sample (default: %(default)s)")
    add_hidden_aliases(p, aliases, dest="num", type=range_type(int, COUNT))
    p.add_argument("--length", type=range_type(int, COUNT), default=32,
                   help="tokens (notes) per sequence, the maximum with an end token (default: %(default)s)")
    p.add_argument("--temperature", type=range_type(float, TEMPERATURE), default=1.0,
                   help=f"softmax temperature, {TEMPERATURE.describe()} (default: %(default)s)")
    p.add_argument("--seed", type=range_type(int, SEED), default=0,
                   help="random seed; same seed, same sequences (default: %(default)s)")


def print_table(columns: dict, keys=None, file=None) -> None:
    """Prints statistics side by side: {column title: stats dict} (to ``file`` or stdout);
    ``keys`` default to the melody task's (Table 1 and the per-note means)."""
    if keys is None:
        keys = tasks.get_task(tasks.DEFAULT_TASK).statistics_to_print()
    file = file or sys.stdout
    titles = list(columns)
    print(f"{'statistic':34s}" + "".join(f"{t:>14s}" for t in titles), file=file)
    for key in keys:
        row = [columns[t].get(key) for t in titles]
        print(f"{key:34s}" + "".join(f"{v:14.4f}" if isinstance(v, (int, float)) and v is not None
                                     else f"{'nan':>14s}" for v in row), file=file)


def model_and_task(model: str | None, task_name: str | None):
    """The model path and task of ``evaluate``/``export``: an explicit --task, else the one
    the model's run or policy records (:func:`rl_tuner.runner.policy.task_of`), else the default; no
    --model means the task's shipped prior."""
    from rl_tuner.runner import policy
    name = task_name or (policy.task_of(model) if model else tasks.DEFAULT_TASK)
    task = tasks.get_task(name)
    return (model or task.default_prior()), task


def train_config(args: argparse.Namespace):
    """The :class:`rl_tuner.runner.config.RLConfig` of parsed ``rl-tuner train`` arguments: the
    preset's settings with the flags given on top (no TensorFlow is loaded).

    Raises:
      ValueError: an unknown preset or an invalid setting (:func:`rl_tuner.runner.config.from_preset`).
    """
    from rl_tuner.runner import config as config_lib
    from rl_tuner.runner.config import RLConfig
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(RLConfig)}
    return config_lib.from_preset(args.preset, **overrides)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from rl_tuner.plumbing import outputs
    command = f"rl-tuner {args.command}"
    if args.command == "train":
        cfg = train_config(args)  # refuses bad settings before TensorFlow loads
        from rl_tuner.runner import train_precheck
        final = train_precheck.check(cfg, args.out)  # a refusal or a finished run, still without TensorFlow
        if final is not None:
            print(train_precheck.complete_line(cfg.algorithm, args.out, final["steps"], cfg.steps))
        else:
            from rl_tuner.runner import train
            train.set_intra_op_threads(args.intra_op_threads)
            final = train.run(cfg, args.out, progress=not args.quiet)
        task = tasks.get_task(cfg.task)
        print(f"\n{task.statistics_title} of {cfg.final_eval_samples} sampled {task.nouns[1]} ({cfg.algorithm}, "
              f"{final['steps']} steps); full results in {os.path.join(args.out, 'stats.json')}")
        print_table({task.prior_title: final["before"], f"RL ({cfg.algorithm})": final["after"]},
                    keys=task.statistics_to_print())
    elif args.command == "evaluate":
        from rl_tuner.sampling_args import check_sampling_args
        check_sampling_args(args.num, args.length, args.temperature)  # before the model loads
        from rl_tuner.runner import evaluate, policy
        path, task = model_and_task(args.model, args.task)
        outputs.check_file(args.out, command, args.overwrite, inputs=[path])
        pol = policy.load_policy(path, task=task)
        result = evaluate.evaluate_policy(pol, args.num, args.length, args.seed, args.temperature, task=task)
        result["model"] = path
        result["task"] = task.name
        outputs.write_json(args.out, result, command, args.overwrite, inputs=[path])
        print_table({pol.algorithm: result}, keys=task.statistics_to_print())
        print(f"wrote {args.out} ({args.num} {task.nouns[1]}, sampled in {result['sampling_seconds']:.1f} s, "
              f"scored in {result['scoring_seconds']:.1f} s)")
    elif args.command == "export":
        from rl_tuner.models import export
        from rl_tuner.runner import policy
        path, task = model_and_task(args.model, args.task)
        outputs.check_dir(args.out, command, args.overwrite, inputs=[path])
        pol = policy.load_policy(path, task=task)
        vocabulary = task.vocabulary() or pol.prior_rnn.config.vocabulary
        export.export(pol, args.out, overwrite=args.overwrite, end_token=task.end_token, vocabulary=vocabulary,
                      task=task.name, first_tokens=task.first_tokens())
        print(f"exported {pol.algorithm} policy to {args.out} (tf.saved_model.load(...).generate(num_samples, "
              f"max_length, temperature, seed) -> tokens, lengths{', strings' if vocabulary else ''}"
              f"{', model_tokens' if 'model_tokens' in export.load_info(args.out)['signature'] else ''})")
    else:
        return task_commands()[args.command][2](args)
    return 0


def console_entry_point() -> None:
    sys.exit(run_main(main))


if __name__ == "__main__":
    console_entry_point()
