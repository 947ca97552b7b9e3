"""Settings that cannot be right are refused: every numeric flag of every command and every
numeric field of the config dataclasses has a range (rl_tuner.plumbing.ranges), NaN and infinity
included, with a message naming the flag or field. Only parsing and validation run here."""

import argparse
import contextlib
import dataclasses
import io
import math
import os
import typing

import pytest

import rl_tuner  # noqa: F401
from note_rnn import cli as note_cli
from molecules import cli as molecules_cli
from molecules.data import PrepareConfig as MoleculesPrepareConfig
from molecules.prior_config import PriorConfig
from rl_tuner.plumbing import ranges
from rl_tuner.plumbing.cli_utils import range_type
from note_rnn.corpus import PrepareConfig
from note_rnn.train_config import TrainConfig
from rl_tuner import choices, cli as rl_cli
from note_rnn import reward_modes
from rl_tuner.runner.config import RLConfig, from_preset

SEED_MAX = 2**32 - 1

# (command, flag, value refused, the range said in the message): every numeric flag, hand-written.
REFUSED = [
    # rl-tuner train
    ("rl-tuner train", "--steps", "0", "an integer > 0"),
    ("rl-tuner train", "--steps", "1.5", None),
    ("rl-tuner train", "--c", "0", "> 0"),
    ("rl-tuner train", "--c", "inf", "> 0"),
    ("rl-tuner train", "--discount", "1.01", "in [0, 1]"),
    ("rl-tuner train", "--discount", "-0.1", "in [0, 1]"),
    ("rl-tuner train", "--batch-size", "0", "an integer > 0"),
    ("rl-tuner train", "--train-every", "0", "an integer > 0"),
    ("rl-tuner train", "--replay-capacity", "0", "an integer > 0"),
    ("rl-tuner train", "--learning-rate", "-1", "> 0"),
    ("rl-tuner train", "--learning-rate", "0", "> 0"),
    ("rl-tuner train", "--learning-rate", "nan", "> 0"),
    ("rl-tuner train", "--target-update-rate", "0", "in (0, 1]"),
    ("rl-tuner train", "--target-update-rate", "1.5", "in (0, 1]"),
    ("rl-tuner train", "--clip-norm", "0", "> 0"),
    ("rl-tuner train", "--clip-norm", "-5", "> 0"),
    ("rl-tuner train", "--exploration-fraction", "1.1", "in [0, 1]"),
    ("rl-tuner train", "--exploration-fraction", "-0.5", "in [0, 1]"),
    ("rl-tuner train", "--epsilon-start", "1.5", "in [0, 1]"),
    ("rl-tuner train", "--epsilon-start", "nan", "in [0, 1]"),
    ("rl-tuner train", "--epsilon-end", "-0.1", "in [0, 1]"),
    ("rl-tuner train", "--end-transitions", "1.5", "in [0, 1]"),
    ("rl-tuner train", "--td-lambda", "1.5", "in [0, 1]"),
    ("rl-tuner train", "--td-lambda", "-0.5", "in [0, 1]"),
    ("rl-tuner train", "--num-notes", "0", "an integer > 0"),
    ("rl-tuner train", "--max-length", "0", "an integer > 0"),  # --num-notes is its old name
    ("rl-tuner train", "--num-envs", "0", "an integer > 0"),
    ("rl-tuner train", "--eval-every", "-1", "an integer > 0"),
    ("rl-tuner train", "--eval-samples", "0", "an integer > 0"),
    ("rl-tuner train", "--final-eval-samples", "0", "an integer > 0"),
    ("rl-tuner train", "--eval-melodies", "0", "an integer > 0"),  # the old names, kept as aliases
    ("rl-tuner train", "--final-eval-melodies", "0", "an integer > 0"),
    ("rl-tuner train", "--num-samples", "-1", "an integer >= 0"),
    ("rl-tuner train", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("rl-tuner train", "--seed", str(SEED_MAX + 1), f"an integer in [0, {SEED_MAX}]"),
    ("rl-tuner train", "--intra-op-threads", "-1", "an integer >= 0"),
    # rl-tuner evaluate / generate
    ("rl-tuner evaluate", "--num-samples", "0", "an integer > 0"),
    ("rl-tuner evaluate", "--num-melodies", "0", "an integer > 0"),  # the old name, kept as an alias
    ("rl-tuner evaluate", "--length", "0", "an integer > 0"),
    ("rl-tuner evaluate", "--temperature", "0", "in [1e-06, 1000000000]"),
    ("rl-tuner evaluate", "--temperature", "1e999", "in [1e-06, 1000000000]"),  # overflows to inf
    ("rl-tuner evaluate", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("rl-tuner generate", "--num", "0", "an integer > 0"),
    ("rl-tuner generate", "--length", "-3", "an integer > 0"),
    ("rl-tuner generate", "--temperature", "nan", "in [1e-06, 1000000000]"),
    ("rl-tuner generate", "--seed", "-2", f"an integer in [0, {SEED_MAX}]"),
    ("rl-tuner generate", "--qpm", "-1", "> 0"),
    ("rl-tuner listen", "--num-per-model", "0", "an integer > 0"),
    ("rl-tuner listen", "--length", "0", "an integer > 0"),
    ("rl-tuner listen", "--temperature", "0", "in [1e-06, 1000000000]"),
    ("rl-tuner listen", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("rl-tuner listen", "--qpm", "inf", "> 0"),
    ("rl-tuner listen", "--port", "65536", "an integer in [0, 65535]"),
    ("rl-tuner listen", "--port", "-1", "an integer in [0, 65535]"),
    # note-rnn train
    ("note-rnn train", "--layer-sizes", "0", "an integer > 0"),
    ("note-rnn train", "--batch-size", "0", "an integer > 0"),
    ("note-rnn train", "--max-length", "1", "an integer >= 2"),
    ("note-rnn train", "--epochs", "0", "an integer > 0"),
    ("note-rnn train", "--learning-rate", "-0.01", "> 0"),
    ("note-rnn train", "--learning-rate", "nan", "> 0"),
    ("note-rnn train", "--decay-steps", "0", "an integer > 0"),
    ("note-rnn train", "--decay-rate", "0", "in (0, 1]"),
    ("note-rnn train", "--decay-rate", "1.5", "in (0, 1]"),
    ("note-rnn train", "--clip-norm", "0", "> 0"),
    ("note-rnn train", "--l2-reg", "-0.00001", ">= 0"),
    ("note-rnn train", "--skip-first-n-losses", "-1", "an integer >= 0"),
    ("note-rnn train", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("note-rnn train", "--min-window", "0", "an integer >= 1"),
    # note-rnn prepare
    ("note-rnn prepare", "--validation-fraction", "1", "in [0, 1)"),
    ("note-rnn prepare", "--validation-fraction", "-0.1", "in [0, 1)"),
    ("note-rnn prepare", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("note-rnn prepare", "--workers", "-1", "an integer >= 0"),  # 0 parses in this process
    ("note-rnn prepare", "--worker-memory-mb", "-1", "an integer >= 0"),  # 0 = no limit
    ("note-rnn prepare", "--min-bars", "-1", ">= 0"),
    ("note-rnn prepare", "--max-steps", "-1", "an integer >= 0"),
    ("note-rnn prepare", "--min-unique-pitches", "-1", "an integer >= 0"),
    ("note-rnn prepare", "--gap-bars", "0", "> 0"),
    ("note-rnn prepare", "--transpose-to-key", "12", "an integer in [-1, 11]"),
    ("note-rnn prepare", "--transpose-to-key", "-2", "an integer in [-1, 11]"),
    ("note-rnn prepare", "--limit", "0", "an integer >= 1"),
    ("note-rnn prepare", "--task-timeout", "-1", ">= 0"),
    ("note-rnn prepare", "--shards", "0", "an integer > 0"),
    # note-rnn generate
    ("note-rnn generate", "--num", "0", "an integer > 0"),
    ("note-rnn generate", "--length", "0", "an integer > 0"),
    ("note-rnn generate", "--temperature", "0", "in [1e-06, 1000000000]"),
    ("note-rnn generate", "--temperature", "nan", "in [1e-06, 1000000000]"),
    ("note-rnn generate", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("note-rnn generate", "--qpm", "0", "> 0"),
    ("note-rnn generate", "--qpm", "inf", "> 0"),
    # note-rnn evaluate
    ("note-rnn evaluate", "--max-length", "0", "an integer > 0"),
    ("note-rnn evaluate", "--skip-first-n-losses", "-1", "an integer >= 0"),
    ("note-rnn evaluate", "--min-window", "0", "an integer > 0"),
    ("molecules prepare", "--validation-fraction", "1", "in [0, 1)"), ("molecules prepare", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("molecules prepare", "--workers", "0", "an integer > 0"), ("molecules prepare", "--limit", "0", "an integer >= 1"),
    ("molecules prepare", "--shards", "0", "an integer > 0"),
    ("molecules train-prior", "--layer-sizes", "0", "an integer > 0"),
    ("molecules train-prior", "--batch-size", "0", "an integer > 0"),
    ("molecules train-prior", "--epochs", "0", "an integer > 0"),
    ("molecules train-prior", "--max-train", "0", "an integer >= 1"),
    ("molecules train-prior", "--max-validation", "0", "an integer >= 1"),
    ("molecules train-prior", "--learning-rate", "0", "> 0"),
    ("molecules train-prior", "--decay-steps", "0", "an integer > 0"),
    ("molecules train-prior", "--decay-rate", "0", "in (0, 1]"),
    ("molecules train-prior", "--clip-norm", "0", "> 0"), ("molecules train-prior", "--l2-reg", "-1", ">= 0"),
    ("molecules train-prior", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("molecules train-prior", "--card-samples", "-1", "an integer >= 0"),
    ("molecules sample", "--num", "0", "an integer > 0"), ("molecules sample", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("molecules sample", "--temperature", "0", "in [1e-06, 1000000000]"), ("molecules sample", "--max-length", "0", "an integer > 0"),
    ("molecules evaluate", "--num", "0", "an integer > 0"), ("molecules evaluate", "--seed", "-1", f"an integer in [0, {SEED_MAX}]"),
    ("molecules evaluate", "--temperature", "0", "in [1e-06, 1000000000]"), ("molecules evaluate", "--max-length", "0", "an integer > 0"),
    ("molecules evaluate", "--workers", "-1", "an integer >= 0"),
]

# (command, flag, value at the edge of its range): accepted, and parsed to that value.
ACCEPTED = [
    ("rl-tuner train", "--steps", "1"), ("rl-tuner train", "--c", "1e-9"), ("rl-tuner train", "--discount", "0"),
    ("rl-tuner train", "--discount", "1"), ("rl-tuner train", "--target-update-rate", "1"),
    ("rl-tuner train", "--learning-rate", "1e-9"), ("rl-tuner train", "--exploration-fraction", "0"),
    ("rl-tuner train", "--epsilon-start", "1"), ("rl-tuner train", "--epsilon-end", "0"),
    ("rl-tuner train", "--end-transitions", "0"), ("rl-tuner train", "--end-transitions", "1"),
    ("rl-tuner train", "--td-lambda", "0"), ("rl-tuner train", "--td-lambda", "1"),
    ("rl-tuner train", "--num-samples", "0"), ("rl-tuner train", "--seed", "0"),
    ("rl-tuner train", "--seed", str(SEED_MAX)), ("rl-tuner train", "--intra-op-threads", "0"),
    ("rl-tuner evaluate", "--temperature", "1e-3"), ("rl-tuner generate", "--num", "1"),
    ("note-rnn train", "--max-length", "2"), ("note-rnn train", "--decay-rate", "1"),
    ("note-rnn train", "--l2-reg", "0"), ("note-rnn train", "--skip-first-n-losses", "0"),
    ("note-rnn train", "--min-window", "1"), ("note-rnn prepare", "--validation-fraction", "0"),
    ("note-rnn prepare", "--max-steps", "0"), ("note-rnn prepare", "--transpose-to-key", "-1"),
    ("note-rnn prepare", "--transpose-to-key", "11"), ("note-rnn prepare", "--task-timeout", "0"),
    ("note-rnn prepare", "--min-bars", "0"), ("note-rnn generate", "--qpm", "1e-3"),
    ("note-rnn prepare", "--workers", "0"), ("note-rnn prepare", "--worker-memory-mb", "0"),
    ("note-rnn generate", "--seed", str(SEED_MAX)),
    ("rl-tuner listen", "--port", "0"), ("rl-tuner listen", "--port", "65535"),
    ("rl-tuner listen", "--num-per-model", "1"),
]


def parse(command, flag, value):
    program, sub = command.split()
    parser = {"rl-tuner": rl_cli, "note-rnn": note_cli, "molecules": molecules_cli}[program].build_parser()
    required = {"rl-tuner train": ["--out", "x"], "rl-tuner listen": ["--model", "a=x", "--model", "b=y", "--db", "d"],
                "molecules sample": ["--out", "x"], "molecules evaluate": ["--out", "x"]}
    argv = [sub, flag, value] + required.get(command, [])
    return parser.parse_args(argv)


def parse_error(command, flag, value) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as info:
        parse(command, flag, value)
    assert info.value.code == 2
    return err.getvalue().strip().splitlines()[-1]


@pytest.mark.parametrize("command,flag,value,words", REFUSED)
def test_every_numeric_flag_refuses_values_outside_its_range(command, flag, value, words):
    message = parse_error(command, flag, value)
    if words is None:  # not a number of the flag's kind
        assert message == f"{command}: error: argument {flag}: expected an integer, got {value!r}"
    else:
        assert message == f"{command}: error: argument {flag}: must be {words}, got {value}"


SAMPLING_COMMANDS = ["rl-tuner evaluate", "rl-tuner generate", "rl-tuner listen", "note-rnn generate",
                     "molecules sample", "molecules evaluate"]
# Positive and finite in float64 but 0, subnormal or inf in float32 (1e-46 and 1e-300 ended in a TensorFlow
# traceback "indices[0] = 25 is not in [0, 25)"; 1e39 was refused only by the SavedModel), outside the range
# just below and above its ends, and the values every range refuses.
TEMPERATURES_REFUSED = ["1e-46", "1e-300", "1e-40", "1e-50", "9.9e-07", "1.01e9", "1e39", "inf", "nan", "0", "-1",
                        "-0.5"]
TEMPERATURES_ACCEPTED = ["1e-06", "1.01e-06", "1", "9.9e8", "1e9"]


@pytest.mark.parametrize("command", SAMPLING_COMMANDS)
@pytest.mark.parametrize("value", TEMPERATURES_REFUSED)
def test_every_temperature_flag_refuses_what_float32_cannot_sample_with(command, value):
    assert parse_error(command, "--temperature", value) == (
        f"{command}: error: argument --temperature: must be in [1e-06, 1000000000], got {value}")


@pytest.mark.parametrize("command", SAMPLING_COMMANDS)
@pytest.mark.parametrize("value", TEMPERATURES_ACCEPTED)
def test_every_temperature_flag_accepts_its_range_ends(command, value):
    assert parse(command, "--temperature", value).temperature == float(value)


@pytest.mark.parametrize("value", TEMPERATURES_REFUSED)
def test_the_python_check_refuses_the_temperatures_the_flags_refuse(value):
    from rl_tuner.sampling_args import check_sampling_args
    with pytest.raises(ValueError) as info:
        check_sampling_args(2, 3, float(value))
    assert str(info.value) == f"temperature must be in [1e-06, 1000000000], got {float(value)!r}"


@pytest.mark.parametrize("value", TEMPERATURES_ACCEPTED)
def test_the_python_check_accepts_the_range_ends(value):
    from rl_tuner.sampling_args import check_sampling_args
    check_sampling_args(2, 3, float(value))


@pytest.mark.parametrize("command,flag,value", ACCEPTED)
def test_values_at_the_edge_of_a_range_are_accepted(command, flag, value):
    args = parse(command, flag, value)
    dest = next(a.dest for a in _subparser(command)._actions if flag in a.option_strings)
    assert float(getattr(args, dest)) == float(value)


def _subparser(command):
    program, sub = command.split()
    parser = {"rl-tuner": rl_cli, "note-rnn": note_cli, "molecules": molecules_cli}[program].build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[sub]


ALL_COMMANDS = ["rl-tuner train", "rl-tuner evaluate", "rl-tuner score", "rl-tuner stats", "rl-tuner generate",
                "rl-tuner export", "rl-tuner listen", "rl-tuner listen-report", "note-rnn prepare", "note-rnn train", "note-rnn evaluate", "note-rnn generate",
                "note-rnn import-magenta", "molecules prepare", "molecules train-prior", "molecules sample",
                "molecules evaluate", "molecules score"]


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_no_numeric_flag_is_left_unchecked(command):
    numeric = []
    for action in _subparser(command)._actions:
        assert action.type not in (int, float), f"{command} {action.option_strings}: plain {action.type.__name__}"
        if action.type is not None and action.type.__name__ in ("int", "float"):
            numeric.append(action.option_strings[0])
    tested = {flag for c, flag, *_ in REFUSED if c == command}
    assert set(numeric) == tested  # and every one of them is in the table above


# --------------------------------------------------------------------------- the config dataclasses
def _numeric_fields(cls):
    hints = typing.get_type_hints(cls)
    out = []
    for field in dataclasses.fields(cls):
        tp = hints[field.name]
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        base = args[0] if args and typing.get_origin(tp) is not tuple else tp
        if base in (int, float) or typing.get_origin(tp) is tuple and typing.get_args(tp)[0] is int:
            out.append(field.name)
    return out


@pytest.mark.parametrize("cls", [RLConfig, TrainConfig, PrepareConfig, MoleculesPrepareConfig, PriorConfig])
def test_every_numeric_config_field_has_a_range(cls):
    assert set(cls.RANGES) == set(_numeric_fields(cls))


@pytest.mark.parametrize("change,message", [
    (dict(learning_rate=-1.0), "learning_rate must be > 0, got -1.0"),
    (dict(clip_norm=0.0), "clip_norm must be > 0, got 0.0"),
    (dict(c=math.inf), "c must be > 0, got inf"),
    (dict(discount=math.nan), "discount must be in [0, 1], got nan"),
    (dict(epsilon_start=1.5), "epsilon_start must be in [0, 1], got 1.5"),
    (dict(exploration_fraction=-0.1), "exploration_fraction must be in [0, 1], got -0.1"),
    (dict(target_update_rate=0.0), "target_update_rate must be in (0, 1], got 0.0"),
    (dict(steps=2.5), "steps must be an integer > 0, got 2.5"),
    (dict(num_envs=True), "num_envs must be an integer > 0, got True"),
    (dict(num_samples=-1), "num_samples must be an integer >= 0, got -1"),
    (dict(seed=-1), f"seed must be an integer in [0, {SEED_MAX}], got -1"),
    (dict(replay_capacity=16, num_envs=32), "replay_capacity (16) must be at least batch_size (32) and num_envs (32)"),
    (dict(end_transitions=1.5), "end_transitions must be in [0, 1], got 1.5"),
    (dict(end_transitions=0.25), "end_transitions needs a task whose sequences end with an end token; the melody "
     "task's have a fixed length"),
    # Counts that would sample for days or exhaust memory, refused before training instead of at its end.
    (dict(final_eval_samples=10**12), "1000000000000 samples (--final-eval-samples) of 32 steps are "
     "32,000,000,000,000 tokens, more than one run samples (at most 268,435,456 = 2^28); use fewer or shorter ones"),
    (dict(num_samples=10**9), "1000000000 samples (--num-samples) of 32 steps are 32,000,000,000 tokens, more than "
     "one run samples (at most 268,435,456 = 2^28); use fewer or shorter ones"),
    (dict(eval_samples=2**23 + 1), "8388609 samples (--eval-samples) of 32 steps are 268,435,488 tokens, more "
     "than one run samples (at most 268,435,456 = 2^28); use fewer or shorter ones"),
])
def test_rl_config_validate_refuses_with_the_field_named(change, message):
    with pytest.raises(ValueError) as info:
        RLConfig(**change).validate()
    assert str(info.value) == message
    with pytest.raises(ValueError) as info:  # presets go through the same check
        from_preset("paper", **change)
    assert str(info.value) == message


@pytest.mark.parametrize("change,message", [
    (dict(learning_rate=-1.0), "learning_rate must be > 0, got -1.0"),
    (dict(learning_rate=math.nan), "learning_rate must be > 0, got nan"),
    (dict(clip_norm=0.0), "clip_norm must be > 0, got 0.0"),
    (dict(decay_rate=0.0), "decay_rate must be in (0, 1], got 0.0"),
    (dict(l2_reg=-1.0), "l2_reg must be >= 0, got -1.0"),
    (dict(layer_sizes=(16, 0)), "layer_sizes must be an integer > 0, got 0"),
    (dict(layer_sizes=()), "layer_sizes must not be empty"),
    (dict(epochs=0), "epochs must be an integer > 0, got 0"),
    (dict(seed=2**32), f"seed must be an integer in [0, {SEED_MAX}], got {2**32}"),
    (dict(min_window=0), "min_window must be an integer >= 1, got 0"),
    (dict(max_length=16, min_window=17), r"min_window (17) must not exceed max_length (16)"),
])
def test_train_config_refuses_with_the_field_named(change, message):
    with pytest.raises(ValueError) as info:
        TrainConfig(**change)
    assert str(info.value) == message


@pytest.mark.parametrize("change,message", [
    (dict(validation_fraction=1.0), "validation_fraction must be in [0, 1), got 1.0"),
    (dict(workers=-1), "workers must be an integer >= 0, got -1"),
    (dict(gap_bars=0.0), "gap_bars must be > 0, got 0.0"),
    (dict(transpose_to_key=12), "transpose_to_key must be an integer in [-1, 11], got 12"),
    (dict(limit=0), "limit must be an integer >= 1, got 0"),
    (dict(task_timeout=math.nan), "task_timeout must be >= 0, got nan"),
])
def test_prepare_config_refuses_with_the_field_named(change, message):
    with pytest.raises(ValueError) as info:
        PrepareConfig(**change)
    assert str(info.value) == message


def test_optional_prepare_settings_may_be_none():
    config = PrepareConfig(max_steps=None, transpose_to_key=None, limit=None)
    assert (config.max_steps, config.transpose_to_key, config.limit) == (None, None, None)


# --------------------------------------------------------------------------- the helpers
def test_range_descriptions_and_checks():
    assert ranges.positive().describe() == "> 0"
    assert ranges.COUNT.describe() == "an integer > 0"
    assert ranges.UNIT.describe() == "in [0, 1]"
    assert ranges.between(0.0, 1.0, high_open=True).describe() == "in [0, 1)"
    assert ranges.between(0.0, 1.0, low_open=True).describe() == "in (0, 1]"
    assert ranges.at_least(2).describe() == "an integer >= 2"
    assert ranges.UNIT.check(0.5, "x") == 0.5
    for bad in (math.nan, math.inf, -math.inf, "0.5", None, True):
        with pytest.raises(ValueError, match=r"^x must be in \[0, 1\], got "):
            ranges.UNIT.check(bad, "x")
    assert ranges.at_least(1, optional=True).check(None, "limit") is None
    with pytest.raises(ValueError, match=r"^n must be an integer > 0, got 1.5$"):
        ranges.COUNT.check(1.5, "n")
    assert ranges.COUNT.check(3.0, "n") == 3.0  # an integral float is an integer value


def test_range_type_parses_and_refuses_text():
    parse_rate = range_type(float, ranges.positive())
    assert parse_rate("1e-3") == 1e-3
    for text, message in (("-1", "must be > 0, got -1"), ("nan", "must be > 0, got nan"),
                          ("inf", "must be > 0, got inf"), ("abc", "expected a number, got 'abc'")):
        with pytest.raises(argparse.ArgumentTypeError, match=f"^{message}$"):
            parse_rate(text)
    parse_count = range_type(int, ranges.COUNT)
    assert parse_count("7") == 7 and isinstance(parse_count("7"), int)
    with pytest.raises(argparse.ArgumentTypeError, match="^expected an integer, got '1e3'$"):
        parse_count("1e3")


# --------------------------------------------------------------------------- reward mode of g and pure_rl
@pytest.mark.parametrize("algorithm,mode", [("q", "music_theory_all"), ("psi", "music_theory_all"),
                                            ("g", "music_theory_only"), ("pure_rl", "music_theory_only")])
def test_the_reward_mode_really_used_is_recorded(algorithm, mode):
    config = from_preset("default", algorithm=algorithm, prior="x")
    assert config.reward_mode == mode  # config.json is dataclasses.asdict(config)
    assert dataclasses.asdict(config)["reward_mode"] == mode
    assert reward_modes.reward_mode_for_algorithm(algorithm, config.reward_mode).name == mode


@pytest.mark.parametrize("algorithm", ["g", "pure_rl"])
@pytest.mark.parametrize("mode", sorted(set(reward_modes.REWARD_MODES) - {"music_theory_only"}))
def test_g_and_pure_rl_refuse_another_explicit_reward_mode(algorithm, mode):
    message = (f"--reward-mode {mode} cannot be used with --algorithm {algorithm}, which takes only "
               "music_theory_only (as in the original: its reward has no log p term)")
    with pytest.raises(ValueError) as info:
        from_preset("default", algorithm=algorithm, reward_mode=mode, prior="x")
    assert str(info.value) == message
    assert from_preset("default", algorithm=algorithm, reward_mode="music_theory_only",
                       prior="x").reward_mode == "music_theory_only"


def test_q_and_psi_take_any_reward_mode():
    for algorithm in ("q", "psi"):
        for mode in reward_modes.REWARD_MODES:
            assert from_preset("default", algorithm=algorithm, reward_mode=mode, prior="x").reward_mode == mode


def test_train_command_refuses_key_reward_for_g_before_anything_is_written(tmp_path, capsys):
    from rl_tuner.plumbing.cli_utils import run_main
    out = tmp_path / "run"
    code = run_main(rl_cli.main, ["train", "--algorithm", "g", "--reward-mode", "key", "--out", str(out)])
    assert code == 2
    assert capsys.readouterr().err == ("error: --reward-mode key cannot be used with --algorithm g, which takes "
                                       "only music_theory_only (as in the original: its reward has no log p "
                                       "term)\n")
    assert not out.exists()


def test_choice_names_match_the_implementations():
    from rl_tuner.kl_control import exploration, replay, targets
    assert tuple(targets.ALGORITHMS) == choices.ALGORITHMS
    assert exploration.MODES == choices.EXPLORATION_MODES
    from rl_tuner.kl_control import agent
    spec = agent.transition_spec((4,), 38)
    assert [type(replay.make_replay(kind, spec, 10)).__name__ for kind in choices.REPLAY_KINDS] == \
        ["UniformReplay", "PrioritizedReplay"]
    with pytest.raises(ValueError, match="choose one of uniform, prioritized"):
        replay.make_replay("bad", spec, 10)


@pytest.mark.parametrize("argv", [
    ["note-rnn", "generate", "--num", str(10**12), "--no-audio"],
    ["note-rnn", "generate", "--length", str(10**12), "--no-audio"],
    ["rl-tuner", "generate", "--num", str(10**12)],
    ["rl-tuner", "evaluate", "--num-samples", str(10**12)],
])
def test_sampling_counts_that_would_hang_or_exhaust_memory_are_refused_before_loading(argv, tmp_path, capsys):
    """`generate --num 10**12` sampled 8192 melodies at a time for ever; `--length 10**12` crashed
    inside TensorFlow (int64 length); `evaluate --num-melodies 10**12` hung."""
    from rl_tuner.plumbing.cli_utils import run_main
    main = note_cli.main if argv[0] == "note-rnn" else rl_cli.main
    out = str(tmp_path / ("out.json" if argv[1] == "evaluate" else "out"))
    assert run_main(main, argv[1:] + ["--model", str(tmp_path / "no_model"), "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "more than one run samples (at most 268,435,456 = 2^28)" in err, err  # not "no checkpoint at ..."
    assert not os.path.exists(out)
