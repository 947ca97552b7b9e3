"""Output a person can follow: --help and argument errors load no TensorFlow, and commands
print no third-party noise (TensorFlow C++ log, CUDA, gym) on stderr, only their own lines.

Each check runs in a fresh Python process, as a user's command does, with the logging
variables of this test process removed from its environment.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import note_rnn  # noqa: F401
from rl_tuner import _tf_setup

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = {"rl_tuner": ["train", "evaluate", "score", "stats", "generate", "export", "listen", "listen-report"],
            "note_rnn": ["prepare", "train", "generate", "import-magenta"]}


def run_python(args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_USE_LEGACY_KERAS")}
    return subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_help_and_argument_errors_do_not_import_tensorflow():
    script = textwrap.dedent("""
        import contextlib, io, json, sys
        from note_rnn import cli as note_cli
        from rl_tuner import cli as rl_cli
        results = []
        cases = [(rl_cli, [])]
        for cli, commands in ((rl_cli, %r), (note_cli, %r)):
            cases += [(cli, ["--help"]), (cli, ["nonsense"])]
            for c in commands:
                cases += [(cli, [c, "--help"]), (cli, [c, "--no-such-flag"])]
        cases += [(rl_cli, ["train", "--out", "x", "--learning-rate", "-1"]),
                  (note_cli, ["generate", "--temperature", "nan"])]
        for cli, argv in cases:
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                try:
                    cli.main(argv)
                    code = 0
                except SystemExit as e:
                    code = e.code
            results.append([cli.__name__, argv, code, "tensorflow" in sys.modules])
        print(json.dumps(results + [["flask" in sys.modules]]))
    """ % (COMMANDS["rl_tuner"], COMMANDS["note_rnn"]))
    proc = run_python(["-c", script])
    assert proc.returncode == 0, proc.stderr
    *results, (flask_loaded,) = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not flask_loaded  # nor the listening study's web stack
    assert len(results) == 1 + 2 * 2 + 2 * 12 + 2  # every case ran
    for module, argv, code, loaded in results:
        assert not loaded, (module, argv)
        assert code == (0 if argv and argv[-1] == "--help" else 2), (module, argv, code)


# What no --help may import (seconds each to load): TensorFlow, note-seq and what it pulls in
# (IPython, bokeh, pandas, SciPy), RDKit, music21, matplotlib, Flask, Apache Beam.
HEAVY_MODULES = ("tensorflow", "note_seq", "IPython", "bokeh", "pandas", "scipy", "rdkit", "music21", "matplotlib",
                 "flask", "apache_beam")
CLIS = {"rl-tuner": "rl_tuner.cli", "note-rnn": "note_rnn.cli", "molecules": "molecules.cli"}
HELP_SCRIPT = textwrap.dedent("""
    import argparse, contextlib, importlib, io, json, sys
    heavy = %r
    cli = importlib.import_module(sys.argv[1])
    results = []

    def run(argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                cli.main(argv)
                code = 0
            except SystemExit as e:
                code = e.code
        results.append([argv, code, [m for m in heavy if m in sys.modules], out.getvalue()])

    run(["--help"])  # first, in a fresh process: what the command's own --help loads
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in sub.choices:
        run([command, "--help"])
    print(json.dumps(results))
""" % (HEAVY_MODULES,))


@pytest.fixture(scope="module")
def help_runs():
    """{command name: [[argv, exit code, heavy modules loaded by then, output], ...]}: the
    command's --help, then every subcommand's, in one fresh process per command."""
    runs = {}
    for name, module in CLIS.items():
        proc = run_python(["-c", HELP_SCRIPT, module])
        assert proc.returncode == 0, proc.stderr
        runs[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return runs


def test_help_of_every_command_loads_no_heavy_module(help_runs):
    """--help is instant (README): no TensorFlow, note-seq (IPython, bokeh, pandas), RDKit, ...
    for the three commands and each subcommand (note-rnn's imported note-seq: 5-20 s)."""
    seen = {name: [argv[0] for argv, _, _, _ in results] for name, results in help_runs.items()}
    assert seen["note-rnn"] == ["--help", "prepare", "train", "evaluate", "generate", "import-magenta"]
    assert seen["molecules"][:3] == ["--help", "prepare", "train-prior"] and len(seen["molecules"]) == 7
    assert seen["molecules"][-1] == "benchmark"
    assert {"train", "evaluate", "export", "score", "stats", "listen", "listen-report"} <= set(seen["rl-tuner"])
    for name, results in help_runs.items():
        for argv, code, loaded, output in results:
            assert code == 0 and output.startswith("usage: "), (name, argv, code, output)
            assert loaded == [], (name, argv, loaded)


def help_description(output: str) -> str:
    """The text between the usage lines and the first argument section of a --help output."""
    body = output.split("\n\n", 1)[1] if "\n\n" in output else ""
    for heading in ("options:", "positional arguments:"):
        if body.startswith(heading):
            return ""
    return body.split("\n\n")[0].strip()


def test_every_help_has_a_description_in_plain_text(help_runs):
    """Every command and subcommand says what it does above its flags, and no --help shows
    Sphinx markup or cites a file a user does not have (spec/...)."""
    for name, results in help_runs.items():
        for argv, _, _, output in results:
            assert len(help_description(output)) > 20, (name, argv, output[:400])
            for markup in (":func:", ":class:", ":meth:", ":mod:", ":data:", ":attr:", "``", "spec/", "../shared"):
                assert markup not in output, (name, argv, markup)


def test_plain_text_of_docstring_markup():
    from rl_tuner.plumbing.cli_utils import plain_text
    assert plain_text("see :func:`rl_tuner.kl_control.networks.mean_log_partition`, :class:`~a.b.Tokenizer` and "
                      ":meth:`X.y`; ``--note-rnn`` is an alias") == \
        "see rl_tuner.kl_control.networks.mean_log_partition, Tokenizer and X.y; `--note-rnn` is an alias"
    assert plain_text("no markup: `rl-tuner listen`, 50%") == "no markup: `rl-tuner listen`, 50%"


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    from rl_tuner.plumbing import checkpoint
    from rl_tuner.models import sequence_model as model_lib
    root = tmp_path_factory.mktemp("startup")
    ckpt = str(root / "tiny")
    checkpoint.save_model(ckpt, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=0))
    melodies = root / "melodies.json"
    melodies.write_text(json.dumps([[14, 0, 16, 0, 18, 1, 19, 0] * 4]))
    return root, ckpt, str(melodies)


def test_commands_print_no_third_party_noise(tiny_files):
    root, ckpt, melodies = tiny_files
    stats = run_python(["-m", "rl_tuner.cli", "stats", "--melodies", melodies, "--out", str(root / "stats.json")])
    assert stats.returncode == 0 and stats.stderr == ""
    assert stats.stdout.startswith("statistic")
    generate = run_python(["-m", "note_rnn.cli", "generate", "--checkpoint", ckpt, "--num", "1", "--length", "8",
                           "--out", str(root / "generated")])
    assert generate.returncode == 0 and generate.stderr == ""
    assert generate.stdout == (f"wrote 1 melodies to {root / 'generated'} (MIDI, WAV and melodies.json; "
                               f"model {ckpt})\n")
    # tf-agents (and gym under it) and a compiled sampling loop with int32 tensors: silent too.
    tuner = run_python(["-c", "import rl_tuner.runner.train, note_rnn.media; import note_rnn; from rl_tuner.models import sampling; "
                              f"sampling.sample_model(note_rnn.load({ckpt!r}), 2, 8)"])
    assert tuner.returncode == 0 and tuner.stderr == ""


def test_real_errors_stay_visible(tiny_files):
    root, _, _ = tiny_files
    missing = str(root / "no_such_checkpoint")
    proc = run_python(["-m", "note_rnn.cli", "generate", "--checkpoint", missing, "--out", str(root / "g")])
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and missing in lines[0]


IMPORT_LOG = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796026448.094437    5732 port.cc:153] oneDNN custom operations are on.
I0000 00:00:1796026448.094887    5732 cudart_stub.cc:31] Could not find cuda drivers on your machine.
I0000 00:00:1796026448.764922    6608 cpu_feature_guard.cc:227] This TensorFlow binary is optimized
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.
W0000 00:00:1796026448.1    5732 some.cc:1] a warning
E0000 00:00:1796026448.2    5732 other.cc:2] an error
Traceback (most recent call last):
"""


def test_import_log_filter_follows_the_log_level():
    lines = IMPORT_LOG.splitlines(keepends=True)
    assert _tf_setup.filter_import_log(IMPORT_LOG, 0) == IMPORT_LOG
    assert _tf_setup.filter_import_log(IMPORT_LOG, 1) == "".join(lines[5:])  # info and its continuation gone
    assert _tf_setup.filter_import_log(IMPORT_LOG, 2) == "".join(lines[6:])
    assert _tf_setup.filter_import_log(IMPORT_LOG, 3) == lines[7]  # anything else is always kept
    assert _tf_setup.filter_import_log("", 3) == ""


def test_the_packages_set_the_log_level_only_by_default():
    proc = run_python(["-c", "import os, note_rnn; print(os.environ['TF_CPP_MIN_LOG_LEVEL'], "
                             "os.environ['TF_USE_LEGACY_KERAS'])"])
    assert proc.stdout == "3 1\n"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0")
    proc = subprocess.run([sys.executable, "-c", "import os, note_rnn; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout == "0\n"
