"""The listening study's ``rl-tuner`` subcommands: ``listen`` and ``listen-report``.

They reach ``rl-tuner`` through the melody task's commands (:mod:`note_rnn.rl_commands`).
Nothing heavy is imported at module level (``--help`` loads neither TensorFlow nor Flask).
"""

from __future__ import annotations

import argparse
import os
import signal

from rl_tuner.plumbing import file_checks
from rl_tuner.plumbing.cli_utils import add_overwrite_flag, range_type
from rl_tuner.plumbing.ranges import COUNT, SEED, Range, positive
from rl_tuner.sampling_args import TEMPERATURE
from note_rnn.tokens import DEFAULT_QPM

LISTEN = "rl-tuner listen"
REPORT = "rl-tuner listen-report"
SAMPLING_SETTINGS = ("num_per_model", "length", "temperature", "seed", "qpm")
# At most this many melodies per model: the scheduler looks at all N^2 clip pairs of every model
# pair for each page (about 0.1 s per page for 4 models of 200 melodies on one core), and no
# study needs more (the paper's had 192 ratings in all).
MAX_PER_MODEL = 200
# At most this much audio in a study (16-bit mono WAV at note_rnn.audio.SAMPLE_RATE): all of it
# is rendered in memory before it is stored.
MAX_AUDIO_BYTES = 2**30
# At most this long a melody (seconds): a rater listens to two of them per answer.
MAX_SECONDS = 600


def model_spec(text: str) -> tuple[str, str]:
    """Parses a ``--model NAME=PATH`` value into (name, path) (argparse type).

    Raises:
      argparse.ArgumentTypeError: without "=", with an empty name or path, or with a control
        character (a newline, a tab) in the name, which would break the report's tables.
    """
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. psi=runs/psi), got {text!r}")
    if not name.strip().isprintable():
        raise argparse.ArgumentTypeError(f"NAME may not hold control characters (newlines, tabs), got {name!r}")
    return name.strip(), path.strip()


def add_listen_arguments(p: argparse.ArgumentParser) -> None:
    """Adds the flags of ``rl-tuner listen`` (and its description) to ``p``."""
    p.description = ("Samples --num-per-model melodies from each --model, renders them to WAV once (stored in "
                     "--db) and serves a page where raters compare two melodies of different models (A and B "
                     "in random order, model names hidden) on a 5-point Likert scale. Pairs are scheduled so "
                     "that every model meets every other equally often and no rater hears a pair twice. "
                     "Rerun the same command to continue a study; `rl-tuner listen-report` analyses it.")
    p.add_argument("--model", dest="models", action="append", type=model_spec, required=True, metavar="NAME=PATH",
                   help="a model to compare (give at least two): NAME is how the report calls it (raters never "
                        "see it), PATH a run directory, policy directory or Note-RNN checkpoint")
    p.add_argument("--num-per-model", type=range_type(int, COUNT), default=10,
                   help=f"melodies sampled from each model, at most {MAX_PER_MODEL} (default: %(default)s)")
    p.add_argument("--db", required=True,
                   help="SQLite file of the study (melodies, audio, pairs handed out, ratings); created if missing, "
                        "continued if it holds this study")
    p.add_argument("--length", type=range_type(int, COUNT), default=32,
                   help="16th-note steps per melody (default: %(default)s)")
    p.add_argument("--temperature", type=range_type(float, TEMPERATURE), default=1.0,
                   help=f"softmax temperature, {TEMPERATURE.describe()} (default: %(default)s)")
    p.add_argument("--seed", type=range_type(int, SEED), default=0,
                   help="random seed; model i samples with seed + i (default: %(default)s)")
    p.add_argument("--qpm", type=range_type(float, positive()), default=DEFAULT_QPM,
                   help="tempo of the audio, quarter notes per minute (default: %(default)g)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on; 0.0.0.0 makes the page reachable from other machines "
                        "(default: %(default)s, this machine only)")
    p.add_argument("--port", type=range_type(int, Range(0, 65535, integer=True)), default=8000,
                   help="TCP port (default: %(default)s)")


def listen_settings(args: argparse.Namespace) -> dict:
    """The study settings ``listen`` stores: {"models": {name: path}, **sampling settings}.

    Raises:
      ValueError: for fewer than two models or a name given twice.
    """
    names = [name for name, _ in args.models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"argument --model: the name {duplicates[0]!r} is given twice")
    if len(names) < 2:
        raise ValueError("argument --model: give at least two models to compare (NAME=PATH each)")
    return {"models": dict(args.models), **{k: getattr(args, k) for k in SAMPLING_SETTINGS}}


def check_study_size(settings: dict) -> None:
    """Refuses a study too large to schedule or to render in memory (before anything is loaded).

    Raises:
      ValueError: for more than :data:`MAX_PER_MODEL` melodies per model, melodies longer than
        :data:`MAX_SECONDS` (``length`` x 15 / ``qpm`` seconds), or more than
        :data:`MAX_AUDIO_BYTES` of audio (models x melodies x seconds x 16-bit samples at
        :data:`note_rnn.audio.SAMPLE_RATE`), naming the flags.
    """
    from note_rnn.audio import SAMPLE_RATE
    n = settings["num_per_model"]
    if n > MAX_PER_MODEL:
        raise ValueError(f"argument --num-per-model: at most {MAX_PER_MODEL} melodies per model, got {n} (a rater "
                         f"hears a small fraction of them anyway)")
    seconds = settings["length"] * 15.0 / settings["qpm"]  # a 16th note lasts 15 / qpm seconds
    if seconds > MAX_SECONDS:
        raise ValueError(f"melodies of {seconds:,.0f} s (--length {settings['length']} at --qpm {settings['qpm']:g}: "
                         f"15 / qpm s per step) are longer than {MAX_SECONDS} s; use a shorter --length or a larger "
                         "--qpm")
    audio = len(settings["models"]) * n * seconds * SAMPLE_RATE * 2
    if audio > MAX_AUDIO_BYTES:
        raise ValueError(f"{len(settings['models'])} models x {n} melodies of {seconds:,.0f} s (--length "
                         f"{settings['length']} at --qpm {settings['qpm']:g}) are {audio / 2**30:,.1f} GiB of audio, "
                         f"more than {MAX_AUDIO_BYTES / 2**30:g} GiB; use fewer or shorter melodies")


def check_same_study(db_path: str, stored: dict, settings: dict) -> None:
    """Refuses to continue a study with other models or sampling settings (paths may differ).

    Raises:
      ValueError: naming the database and the first difference.
    """
    if sorted(stored["models"]) == sorted(settings["models"]) and list(stored["models"]) != list(settings["models"]):
        raise ValueError(f"{db_path} holds a study of the same models in another order: give the --model flags in "
                         f"the order {', '.join(stored['models'])} (model i samples with --seed + i)")
    if list(stored["models"]) != list(settings["models"]):
        raise ValueError(f"{db_path} holds a study of the models {', '.join(stored['models'])}, not "
                         f"{', '.join(settings['models'])}; give the same --model names to continue it, or a new --db")
    for key in SAMPLING_SETTINGS:
        if stored.get(key) != settings[key]:
            raise ValueError(f"{db_path} holds a study with --{key.replace('_', '-')} {stored.get(key)}, not "
                             f"{settings[key]}; give the same value to continue it, or a new --db")


def render_clips(settings: dict) -> dict:
    """Samples and renders every model's melodies: {name: [(tokens, WAV bytes), ...]}.

    Every model is loaded first (a path that is not a model fails before anything is sampled).
    Model i (in the order given) samples ``num_per_model`` melodies of ``length`` steps with
    seed ``seed + i`` (:func:`rl_tuner.runner.evaluate.sample_policy`); the audio is the project's sine
    rendering (:func:`note_rnn.audio.synthesize`) at ``qpm``.
    """
    from note_rnn.audio import synthesize, wav_bytes
    from note_rnn.tokens import NUM_CLASSES
    from rl_tuner import tasks
    from rl_tuner.runner import evaluate, policy
    task = tasks.get_task("melody")  # the registry's (no import of note_rnn.task: no import cycle)
    print(f"loading {len(settings['models'])} models, then sampling and rendering {settings['num_per_model']} "
          "melodies of each", flush=True)
    policies = {name: policy.load_policy(path, num_classes=NUM_CLASSES, task=task)
                for name, path in settings["models"].items()}
    clips = {}
    for i, (name, pol) in enumerate(policies.items()):
        tokens = evaluate.sample_policy(pol, settings["num_per_model"], settings["length"], settings["temperature"],
                                 settings["seed"] + i)["tokens"]
        clips[name] = [([int(t) for t in m], wav_bytes(synthesize(m, qpm=settings["qpm"]))) for m in tokens]
        print(f"{name}: {len(tokens)} melodies from {settings['models'][name]}", flush=True)
    return clips


def check_db_creatable(path: str) -> None:
    """Checks that a new database can be created at ``path`` (before anything is sampled), by
    creating and removing an unnamed temporary file in its folder.

    Raises:
      OSError: naming the file and the reason (no such folder, a read-only folder, ...).
    """
    import tempfile
    try:
        with tempfile.TemporaryFile(dir=os.path.dirname(os.path.abspath(path))):
            pass
    except OSError as e:
        raise OSError(f"cannot create the database {path}: {e.strerror or e}") from None


def require_flask() -> None:
    """Raises ValueError with the install command when Flask (the ``listen`` extra) is missing."""
    try:
        import flask  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        raise ValueError("rl-tuner listen needs Flask, which the default install leaves out: "
                         "pip install -c constraints.txt \".[listen]\"") from None


def check_address(host: str, port: int) -> None:
    """Checks that a server can listen on ``host``:``port`` (before anything is sampled).

    Raises:
      OSError: naming the address and the reason (an unknown host, a port in use).
    """
    import socket
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            sock.bind(address)
    except OSError as e:  # socket.gaierror included
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def run_listen(args: argparse.Namespace) -> int:
    """``rl-tuner listen``: prepares (or continues) the study in ``--db`` and serves its page."""
    from rl_tuner.sampling_args import check_sampling_args
    from listening_study.store import Store
    require_flask()  # before anything is sampled
    settings = listen_settings(args)
    check_sampling_args(args.num_per_model, args.length, args.temperature)
    check_study_size(settings)
    check_address(args.host, args.port)
    from rl_tuner.plumbing import outputs
    outputs.check_protected(args.db, "rl-tuner listen", flag="--db")  # never a file of a run, model or data set
    store = Store(args.db) if os.path.exists(args.db) else None  # an existing file is checked before sampling
    stored = store.study() if store else None
    if stored is None:
        for name, path in settings["models"].items():
            file_checks.check_path(path, "any")
            if not os.path.exists(path):
                raise FileNotFoundError(f"argument --model {name}={path}: no such file or directory")
        check_db_creatable(args.db)
        clips = render_clips(settings)
        store = store or Store(args.db)  # created only once the melodies are ready
        store.create_study(settings, clips)
        print(f"stored {sum(len(c) for c in store.clips().values())} melodies in {args.db}")
    else:
        check_same_study(args.db, stored, settings)
        print(f"continuing the study in {args.db}: {store.count('ratings')} ratings so far")
    serve(store, args.host, args.port)
    return 0


def serve(store, host: str, port: int) -> None:
    """Serves the study page with Werkzeug's threaded WSGI server until interrupted (Ctrl+C:
    returns normally after a line with the number of ratings stored).

    Raises:
      OSError: if the address cannot be bound (e.g. the port is in use), naming it.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server
    from listening_study.app import create_app

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, code="-", size="-"):  # no line per request (errors are still logged)
            pass

    try:
        server = make_server(host, port, create_app(store), threaded=True, request_handler=QuietHandler)
    except (OSError, SystemExit) as e:  # Werkzeug exits when it cannot bind (taken since check_address)
        raise OSError(f"cannot listen on {host}:{port}: {e if isinstance(e, OSError) else 'the address is taken'}") \
            from None
    shown = f"[{host}]" if ":" in host else host
    print(f"serving the listening study at http://{shown}:{server.server_port}/ (Ctrl+C stops; rerun the same "
          f"command to continue; `rl-tuner listen-report --db {store.path} --out DIR` analyses it)", flush=True)
    # Ctrl+C must stop the server even if this process inherited SIGINT ignored or blocked
    # (as a child of a process that ignores or masks it): restore Python's handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    server.serve_forever()  # Werkzeug's returns on Ctrl+C (KeyboardInterrupt) after closing the socket
    print(f"stopped; {store.count('ratings')} ratings in {store.path} (rerun the same command to continue)",
          flush=True)


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    """Adds the flags of ``rl-tuner listen-report`` (and its description) to ``p``."""
    p.description = ("The paper's analysis (Figure 3) of a listening study: wins and comparisons per model, the "
                     "bar chart with binomial error bars (figure3.png), a Kruskal-Wallis H test over the ratings "
                     "by model and Mann-Whitney U post-hoc tests for every pair with the Holm-Bonferroni "
                     "correction (report.json, report.md), and the raw ratings (ratings.csv).")
    p.add_argument("--db", required=True, help="the study's SQLite file (written by `rl-tuner listen`)")
    p.add_argument("--out", required=True, help="output directory")
    add_overwrite_flag(p)


def run_report(args: argparse.Namespace) -> int:
    """``rl-tuner listen-report``: writes the report of ``--db`` into ``--out``."""
    from rl_tuner.plumbing import output_dir, outputs
    from listening_study import report
    from listening_study.store import open_existing
    store = open_existing(args.db)
    outputs.check_dir(args.out, REPORT, args.overwrite, inputs=[args.db])
    models = list(store.study()["models"])
    ratings = store.ratings()
    with output_dir.directory(args.out, REPORT, args.overwrite) as tmp:
        result = report.write_report(ratings, models, tmp)
    kw = result["kruskal_wallis"]
    print(report.markdown(result, models).split("\n\nMann-Whitney")[0].split("\n", 2)[2])
    print(f"wrote {args.out} (report.json, report.md, figure3.png, ratings.csv; {len(ratings)} ratings"
          f"{'' if kw else '; Kruskal-Wallis not computable'})")
    return 0
