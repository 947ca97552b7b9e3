"""No command writes into, or replaces anything inside, a protected folder (rl_tuner.plumbing.outputs.
check_protected): a training run, a model checkpoint, a tuned policy or exported model, a
prepared data set, or the installed packages' shipped checkpoints, at any depth, with or
without --overwrite. Every writing command of the three CLIs is refused in one line and
leaves every byte as it was; a command's own earlier output folder, a user's own files and a
trainer's writes into the run it holds still work.

Tiny models; the refusals come before any work, the commands run in-process through
``run_main`` (exit 2 + one line).
"""

import json
import os
import shutil
import sys

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from rl_tuner.plumbing import checkpoint, outputs  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner import cli as rl_cli  # noqa: E402
from note_rnn import cli as note_cli  # noqa: E402
from note_rnn import encoding  # noqa: E402
from molecules import cli as mol_cli  # noqa: E402

from test_magenta_import import make_network, save_tf1  # noqa: E402
from test_listening import make_study  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_SMILES = os.path.join(REPO, "checkpoints", "smiles_rnn")
RL_TINY = ["--steps", "256", "--num-envs", "8", "--eval-every", "256", "--eval-samples", "10",
           "--final-eval-samples", "10", "--num-samples", "0", "--batch-size", "8", "--replay-capacity", "500",
           "--quiet"]


def _write(path, data=b"x"):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return str(path)


def _manifest(folder, command):
    _write(os.path.join(folder, outputs.MANIFEST), json.dumps({"command": command, "files": []}))


def _snapshot(path):
    files = {}
    for root, dirs, names in os.walk(path):
        for name in names + dirs:
            full = os.path.join(root, name)
            files[os.path.relpath(full, path)] = open(full, "rb").read() if os.path.isfile(full) else None
    return files


@pytest.fixture(autouse=True)
def registered_tasks_read_once(monkeypatch):
    """rl-tuner's parser reads the task entry points several times per call (0.6 s); the
    installed ones do not change during a test."""
    from rl_tuner import tasks
    found = tasks._entry_points()
    monkeypatch.setattr(tasks, "_entry_points", lambda: dict(found))


# --------------------------------------------------------------------------- inputs of the commands
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The files the commands read (never inside a protected folder of the tests)."""
    root = tmp_path_factory.mktemp("inputs")
    ckpt = checkpoint.save_model(str(root / "tiny"),
                                 model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=0))
    magenta = save_tf1(root / "magenta" / "model.ckpt", make_network(np.random.default_rng(0), "tf13_lstm", [8])[0])
    data = root / "folk"
    pattern = [14, 0, 16, 0, 18, 0, 19, 0]
    for split, n in (("train", 16), ("validation", 4)):
        mels = [np.array([pattern[(k + i) % 8] for i in range(48)], np.int8) for k in range(n)]
        os.makedirs(data, exist_ok=True)
        np.savez_compressed(data / f"{split}.npz", tokens=np.concatenate(mels),
                            lengths=np.array([len(m) for m in mels], np.int32))
    midi = root / "midi"
    os.makedirs(midi)
    encoding.write_midi([x for t in (14, 16, 18, 19) * 8 for x in (t, 0, 0, 0)], midi / "tune.mid")
    melodies = _write(root / "m.json", json.dumps([[14, 0, 16, 0] * 8, [2] * 32]))
    smi = _write(root / "one.smi", "CCO\nc1ccccc1\n")
    mol_data = root / "mol_data"  # a prepared SMILES data set's files (train-prior reads it)
    _write(mol_data / "summary.json", json.dumps({"splits": {}}))
    db = make_study(root / "study.sqlite").path
    return {"ckpt": ckpt, "magenta": magenta, "data": str(data), "midi": str(midi), "melodies": melodies,
            "smi": smi, "mol_data": str(mol_data), "db": db, "smiles_ckpt": SHIPPED_SMILES}


# Every writing command: (CLI, argv for an output T, whether T is a directory, the flag naming T,
# the kind of protected folder that is this command's own earlier output at depth 0).
COMMANDS = {
    "rl-tuner train": (rl_cli, lambda f, t: ["train", "--note-rnn", f["ckpt"], *RL_TINY, "--out", t], True, "rlrun"),
    "rl-tuner evaluate": (rl_cli, lambda f, t: ["evaluate", "--model", f["ckpt"], "--num-samples", "5", "--out", t],
                          False, None),
    "rl-tuner export": (rl_cli, lambda f, t: ["export", "--model", f["ckpt"], "--out", t], True, "export"),
    "rl-tuner score": (rl_cli, lambda f, t: ["score", "--melodies", f["melodies"], "--out", t], False, None),
    "rl-tuner stats": (rl_cli, lambda f, t: ["stats", "--melodies", f["melodies"], "--out", t], False, None),
    "rl-tuner generate": (rl_cli, lambda f, t: ["generate", "--model", f["ckpt"], "--num", "2", "--out", t], True,
                          None),
    "rl-tuner listen": (rl_cli, lambda f, t: ["listen", "--db", t, "--model", f"a={f['ckpt']}", "--model",
                                              f"b={f['ckpt']}", "--num-per-model", "2", "--port", "0"], False, None),
    "rl-tuner listen-report": (rl_cli, lambda f, t: ["listen-report", "--db", f["db"], "--out", t], True, None),
    "note-rnn prepare": (note_cli, lambda f, t: ["prepare", "--source", f["midi"], "--out", t, "--workers", "1",
                                                 "--no-progress", "--no-verbose"], True, "note_data"),
    "note-rnn train": (note_cli, lambda f, t: ["train", "--data", f["data"], "--out", t, "--layer-sizes", "8",
                                               "--epochs", "1"], True, None),
    "note-rnn evaluate": (note_cli, lambda f, t: ["evaluate", "--checkpoint", f["ckpt"], "--data", f["data"],
                                                  "--out", t], False, None),
    "note-rnn generate": (note_cli, lambda f, t: ["generate", "--checkpoint", f["ckpt"], "--num", "2", "--out", t],
                          True, None),
    "note-rnn import-magenta": (note_cli, lambda f, t: ["import-magenta", f["magenta"], "--out", t], True, None),
    "molecules prepare": (mol_cli, lambda f, t: ["prepare", "--source", f["smi"], "--out", t, "--workers", "1",
                                                 "--no-progress"], True, "mol_data"),
    "molecules train-prior": (mol_cli, lambda f, t: ["train-prior", "--data", f["mol_data"], "--out", t,
                                                     "--layer-sizes", "8", "--epochs", "1", "--quiet"], True, "mlerun"),
    "molecules sample": (mol_cli, lambda f, t: ["sample", "--model", f["smiles_ckpt"], "--num", "2", "--out", t],
                         False, None),
    "molecules evaluate": (mol_cli, lambda f, t: ["evaluate", "--model", f["smiles_ckpt"], "--num", "2", "--out", t],
                           False, None),
    "molecules score": (mol_cli, lambda f, t: ["score", "--smiles", f["smi"], "--out", t], False, None),
}
NO_OVERWRITE_FLAG = ("rl-tuner train", "rl-tuner listen", "note-rnn train", "molecules train-prior")


# --------------------------------------------------------------------------- the protected folders
def _protected(root, ckpt):
    """One folder of each protected kind under ``root``, as the project's writers leave them.

    Returns:
      {kind: (folder, noun as the message names it, [directory target at depth 0, 1, 2],
      [file target at depth 0, 1, 2])}; files that exist are refused unchanged, new ones are
      never created.
    """
    root = str(root)
    kinds = {}

    run = os.path.join(root, "rlrun")  # rl-tuner train
    _manifest(run, "rl-tuner train")
    _write(os.path.join(run, "config.json"), json.dumps({"algorithm": "q", "task": "melody"}))
    _write(os.path.join(run, "ckpt", "checkpoint"), 'model_checkpoint_path: "ckpt-0"\n')
    _write(os.path.join(run, "history.json"), "{}")
    _write(os.path.join(run, "samples", "index.json"), "[]")
    _write(os.path.join(run, "samples", "step_00000000", "tokens.json"), "[[1, 2]]")
    kinds["rlrun"] = (run, "training run directory", "`rl-tuner train`",
                      [run, os.path.join(run, "samples"), os.path.join(run, "samples", "step_00000000")],
                      [os.path.join(run, "history.json"), os.path.join(run, "samples", "index.json"),
                       os.path.join(run, "samples", "step_00000000", "tokens.json")])

    mle = os.path.join(root, "mlerun")  # molecules train-prior (and note-rnn train: the same layout)
    _manifest(mle, "molecules train-prior")
    _write(os.path.join(mle, "prior_config.json"), "{}")
    _write(os.path.join(mle, "history.json"), json.dumps({"epochs": [{"epoch": 1}]}))
    _write(os.path.join(mle, "logs", "events.out.tfevents.1"), b"\0events")
    _write(os.path.join(mle, "logs", "train", "events.out.tfevents.2"), b"\0events")
    kinds["mlerun"] = (mle, "training run directory", "`molecules train-prior`",
                       [mle, os.path.join(mle, "logs"), os.path.join(mle, "logs", "train")],
                       [os.path.join(mle, "history.json"), os.path.join(mle, "logs", "events.out.tfevents.1"),
                        os.path.join(mle, "logs", "train", "events.out.tfevents.2")])

    model = shutil.copytree(ckpt, os.path.join(root, "model"))  # a checkpoint: no manifest
    kinds["checkpoint"] = (model, "model checkpoint", "",
                           [model, os.path.join(model, "extra"), os.path.join(model, "extra", "deeper")],
                           [os.path.join(model, "config.json"), os.path.join(model, "extra", "x.json"),
                            os.path.join(model, "extra", "deeper", "x.json")])

    policy = os.path.join(root, "tuned")  # checkpoints/tuned/* or a run's policy/
    _write(os.path.join(policy, "policy.json"), json.dumps({"algorithm": "q", "task": "melody"}))
    _write(os.path.join(policy, "notes", "readme.txt"), "tuned with c = 0.5")
    kinds["policy"] = (policy, "tuned policy", "",
                       [policy, os.path.join(policy, "notes"), os.path.join(policy, "notes", "deeper")],
                       [os.path.join(policy, "policy.json"), os.path.join(policy, "notes", "readme.txt"),
                        os.path.join(policy, "notes", "deeper", "x.json")])

    export = os.path.join(root, "export")  # rl-tuner export
    _manifest(export, "rl-tuner export")
    _write(os.path.join(export, "saved_model.pb"), b"\x08\x01pb")
    _write(os.path.join(export, "policy.json"), "{}")
    _write(os.path.join(export, "variables", "variables.index"), b"\0index")
    kinds["export"] = (export, "exported model", "`rl-tuner export`",
                       [export, os.path.join(export, "variables"), os.path.join(export, "variables", "deeper")],
                       [os.path.join(export, "saved_model.pb"), os.path.join(export, "variables", "variables.index"),
                        os.path.join(export, "variables", "deeper", "x.json")])

    for kind, command, files in (("note_data", "note-rnn prepare", ("train.npz", "validation.npz", "summary.json")),
                                 ("mol_data", "molecules prepare", ("train.smi.gz", "tokenizer.json", "summary.json"))):
        data = os.path.join(root, kind)
        _manifest(data, command)
        for name in files:
            _write(os.path.join(data, name), b"\x1f\x8bdata")
        _write(os.path.join(data, "splits", "sources.txt"), "a.mid\n")
        kinds[kind] = (data, "data set", f"`{command}`",
                       [data, os.path.join(data, "splits"), os.path.join(data, "splits", "deeper")],
                       [os.path.join(data, files[0]), os.path.join(data, "splits", "sources.txt"),
                        os.path.join(data, "splits", "deeper", "x.json")])

    site = os.path.join(root, "site-packages")  # an installation: note_rnn/_checkpoints holds the shipped priors
    shipped = os.path.join(site, "note_rnn", "_checkpoints")
    _write(os.path.join(shipped, "__init__.py"), '"""Shipped checkpoints (data only)."""\n')
    shutil.copytree(ckpt, os.path.join(shipped, "smiles_rnn"))
    _write(os.path.join(shipped, "docs", "README"), "shipped")
    kinds["installed"] = (site, "installed-packages folder", "",
                          [shipped, os.path.join(shipped, "docs"), os.path.join(shipped, "docs", "deeper")],
                          [os.path.join(shipped, "__init__.py"), os.path.join(shipped, "docs", "README"),
                           os.path.join(shipped, "docs", "deeper", "x.json")])
    return kinds


def _expected(target, folder, noun, writer, flag="--out"):
    """The one line a refusal prints (rl_tuner.plumbing.outputs.check_protected)."""
    detail = f" ({writer})" if writer else ""
    if os.path.realpath(target) == os.path.realpath(folder):
        article = "an" if noun[0] in "aeiou" else "a"
        return f"error: {flag} {target} is {article} {noun}{detail}; it is never replaced: choose another {flag}\n"
    return (f"error: {flag} {target} is part of the {noun} {folder}{detail}; no command writes there, not even "
            f"with --overwrite: choose another {flag}\n")


def _run(cli, argv, capsys):
    code = run_main(cli.main, argv)
    err = "".join(line for line in capsys.readouterr().err.splitlines(True)
                  if not line.startswith(("Gym ", "Please upgrade", "See the migration")))
    return code, err


@pytest.fixture
def protected(inputs, tmp_path, monkeypatch):
    kinds = _protected(tmp_path / "protected", inputs["ckpt"])
    site = os.path.realpath(kinds["installed"][0])
    monkeypatch.setattr(outputs, "_installed_dirs", lambda: {site})  # the test's stand-in for site-packages
    return kinds


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_writing_command_refuses_every_protected_folder_at_every_depth(name, inputs, protected, tmp_path,
                                                                             capsys):
    cli, argv_of, is_dir, own_kind = COMMANDS[name]
    flag = "--db" if name == "rl-tuner listen" else "--out"
    root = str(tmp_path / "protected")
    before = _snapshot(root)
    variants = [[]] if name in NO_OVERWRITE_FLAG else [[], ["--overwrite"]]
    refused = 0
    for kind, (folder, noun, writer, dirs, files) in sorted(protected.items()):
        for depth, target in enumerate(dirs if is_dir else files):
            if depth == 0 and kind == own_kind:
                continue  # the command's own earlier output: a rerun (see the tests below)
            existed = os.path.lexists(target)
            for extra in variants:
                code, err = _run(cli, argv_of(inputs, target) + extra, capsys)
                assert (code, err) == (2, _expected(target, folder, noun, writer, flag)), (kind, depth, extra)
                assert os.path.lexists(target) == existed
                refused += 1
    assert _snapshot(root) == before  # not a byte changed, nothing added
    assert refused == (len(protected) * 3 - (own_kind is not None)) * len(variants)


# --------------------------------------------------------------------------- the cases
@pytest.fixture
def fake_site(inputs, tmp_path, monkeypatch):
    """An installation whose molecules/_checkpoints/smiles_rnn is a copy of the shipped SMILES prior."""
    site = tmp_path / "site-packages"
    prior = shutil.copytree(SHIPPED_SMILES, site / "molecules" / "_checkpoints" / "smiles_rnn")
    real = os.path.realpath(site)
    monkeypatch.setattr(outputs, "_installed_dirs", lambda: {real})
    return str(prior)


def test_score_overwrite_cannot_destroy_the_installed_smiles_prior(inputs, fake_site, tmp_path, capsys):
    """`molecules score --out <site-packages>/molecules/_checkpoints/smiles_rnn/config.json --overwrite`
    exited 0 and destroyed the installed prior (`unknown checkpoint format None` afterwards)."""
    config = os.path.join(fake_site, "config.json")
    before = _snapshot(fake_site)
    code, err = _run(mol_cli, ["score", "--smiles", inputs["smi"], "--out", config, "--overwrite"], capsys)
    assert code == 2
    assert err == (f"error: --out {config} is part of the model checkpoint {fake_site}; no command writes there, "
                   "not even with --overwrite: choose another --out\n")
    assert _snapshot(fake_site) == before
    out = str(tmp_path / "s.smi")
    code, err = _run(mol_cli, ["sample", "--model", fake_site, "--num", "3", "--out", out], capsys)
    assert code == 0, err
    assert len(open(out).read().splitlines()) == 3


def test_a_new_file_in_the_installed_checkpoints_folder_is_refused(inputs, fake_site, capsys):
    shipped = os.path.dirname(fake_site)
    site = os.path.dirname(os.path.dirname(shipped))
    target = os.path.join(shipped, "scores.json")
    code, err = _run(mol_cli, ["score", "--smiles", inputs["smi"], "--out", target, "--overwrite"], capsys)
    assert code == 2
    assert err == (f"error: --out {target} is part of the installed-packages folder {site}; no command writes "
                   "there, not even with --overwrite: choose another --out\n")
    assert not os.path.exists(target)


def test_the_real_site_packages_is_an_installed_packages_folder():
    import sysconfig
    purelib = sysconfig.get_paths()["purelib"]
    target = os.path.join(purelib, "note_rnn", "_checkpoints", "smiles_rnn", "config.json")
    with pytest.raises(outputs.OutputError, match="is part of the"):
        outputs.check_protected(target, "molecules score")
    assert os.path.realpath(purelib) in outputs._installed_dirs()


@pytest.fixture
def prior_run(inputs, tmp_path):
    """A `molecules train-prior` run as the trainer leaves it (manifest, config, model/, ckpt/)."""
    run = str(tmp_path / "runs" / "prior")
    _manifest(run, "molecules train-prior")
    _write(os.path.join(run, "prior_config.json"), "{}")
    _write(os.path.join(run, "history.json"), json.dumps({"epochs": [{"epoch": 1}]}))
    _write(os.path.join(run, "ckpt", "checkpoint"), 'model_checkpoint_path: "ckpt-1"\n')
    shutil.copytree(SHIPPED_SMILES, os.path.join(run, "model"))
    return run


def test_score_overwrite_into_a_train_prior_runs_model_is_refused(inputs, prior_run, tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _snapshot(prior_run)
    code, err = _run(mol_cli, ["score", "--smiles", inputs["smi"], "--out", "runs/prior/model/config.json",
                               "--overwrite"], capsys)
    assert code == 2
    assert err == ("error: --out runs/prior/model/config.json is part of the model checkpoint runs/prior/model; no "
                   "command writes there, not even with --overwrite: choose another --out\n")
    code, err = _run(mol_cli, ["prepare", "--source", inputs["smi"], "--out", "runs/prior/model", "--overwrite",
                               "--workers", "1", "--no-progress"], capsys)
    assert code == 2
    assert err == ("error: --out runs/prior/model is a model checkpoint; it is never replaced: choose another "
                   "--out\n")
    assert _snapshot(prior_run) == before


def test_export_overwrite_into_a_runs_policy_is_refused(inputs, tmp_path, capsys):
    run = str(tmp_path / "RUN")
    _manifest(run, "rl-tuner train")
    _write(os.path.join(run, "config.json"), "{}")
    for net in ("q_network", "prior"):
        shutil.copytree(inputs["ckpt"], os.path.join(run, "policy", net))
    _write(os.path.join(run, "policy", "policy.json"), json.dumps({"algorithm": "q", "task": "melody"}))
    before = _snapshot(run)
    target = os.path.join(run, "policy")
    code, err = _run(rl_cli, ["export", "--model", inputs["ckpt"], "--out", target, "--overwrite"], capsys)
    assert code == 2
    assert err == f"error: --out {target} is a tuned policy; it is never replaced: choose another --out\n"
    code, err = _run(rl_cli, ["export", "--model", inputs["ckpt"], "--out", os.path.join(target, "x"),
                              "--overwrite"], capsys)
    assert code == 2 and f"is part of the tuned policy {target};" in err
    assert _snapshot(run) == before


def test_symlinks_and_dot_dot_reach_the_protected_folder(inputs, prior_run, tmp_path, capsys):
    os.symlink(os.path.join(prior_run, "model"), tmp_path / "link")
    for target in (str(tmp_path / "link" / "config.json"),
                   os.path.join(prior_run, "model", "..", "model", "config.json")):
        code, err = _run(mol_cli, ["score", "--smiles", inputs["smi"], "--out", target, "--overwrite"], capsys)
        assert code == 2 and f"error: --out {target} is part of the model checkpoint " in err, err
    assert open(os.path.join(prior_run, "model", "config.json")).read() == \
        open(os.path.join(SHIPPED_SMILES, "config.json")).read()


# --------------------------------------------------------------------------- what still works
def test_a_users_own_plain_file_is_still_overwritten(inputs, tmp_path, capsys):
    mine = _write(tmp_path / "results" / "scores.json", "my old scores")
    code, err = _run(mol_cli, ["score", "--smiles", inputs["smi"], "--out", mine], capsys)
    assert code == 2 and "pass --overwrite to replace it" in err
    assert open(mine).read() == "my old scores"
    code, err = _run(mol_cli, ["score", "--smiles", inputs["smi"], "--out", mine, "--overwrite"], capsys)
    assert code == 0, err
    assert json.load(open(mine))["written_by"] == "molecules score"
    for command in ("score", "stats"):
        code, err = _run(rl_cli, [command, "--melodies", inputs["melodies"], "--out", mine, "--overwrite"], capsys)
        assert code == 0, err
        assert json.load(open(mine))["written_by"] == f"rl-tuner {command}"


def test_own_earlier_outputs_are_rewritten(protected):
    """A rerun of `export` or `prepare` and a resumed training run write their own folder (the
    commands themselves: tests/test_outputs_cli.py), even with --overwrite; another command not."""
    for kind, command in (("export", "rl-tuner export"), ("note_data", "note-rnn prepare"),
                          ("mol_data", "molecules prepare")):
        folder = protected[kind][0]
        for overwrite in (False, True):
            outputs.check_dir(folder, command, overwrite)
    for kind, command in (("rlrun", "rl-tuner train"), ("mlerun", "molecules train-prior")):
        outputs.check_protected(protected[kind][0], command)
    with pytest.raises(outputs.OutputError, match=r"is a data set \(`note-rnn prepare`\); it is never replaced"):
        outputs.check_dir(protected["note_data"][0], "molecules prepare", overwrite=True)
    with pytest.raises(outputs.OutputError, match=r"is a training run directory \(`rl-tuner train`\)"):
        outputs.check_protected(protected["rlrun"][0], "note-rnn train")


def test_a_checkpoint_written_by_a_library_call_is_replaced_by_one(inputs, tmp_path):
    """checkpoint.save replaces a folder holding only a checkpoint's files (its own kind), but
    never one inside a run that this process does not train (the trainer holding the run's
    lock does: every training test saves its model/ and policy/ so)."""
    model = checkpoint.load_model(inputs["ckpt"])
    out = str(tmp_path / "model")
    for _ in range(2):
        checkpoint.save_model(out, model)
    run = str(tmp_path / "run")
    _manifest(run, "note-rnn train")
    shutil.copytree(out, os.path.join(run, "model"))
    before = _snapshot(run)
    with pytest.raises(outputs.OutputError, match="is part of the training run directory"):
        checkpoint.save_model(os.path.join(run, "model"), model)
    assert _snapshot(run) == before


def test_library_calls_outside_a_held_run_are_refused_too(inputs, protected):
    run = protected["rlrun"][0]
    from rl_tuner.plumbing import output_dir
    with pytest.raises(outputs.OutputError, match="is part of the training run directory"):
        with output_dir.directory(os.path.join(run, "policy"), overwrite=True):
            pass
    from rl_tuner.plumbing import runs
    with runs.lock(run):  # as a trainer holds it
        outputs.check_protected(os.path.join(run, "policy"))
        outputs.check_protected(os.path.join(run, "samples", "step_00000256"), "note-rnn generate")
    with pytest.raises(outputs.OutputError):
        outputs.check_protected(os.path.join(run, "policy"))


def test_the_markers_are_the_writers_own_names():
    from note_rnn import corpus
    from rl_tuner.runner import policy
    from rl_tuner.plumbing import records
    assert (outputs._CHECKPOINT_CONFIG, outputs._CHECKPOINT_WEIGHTS, outputs._CHECKPOINT_CARD) == \
        (checkpoint.CONFIG_FILE, checkpoint.WEIGHTS_FILE, checkpoint.CARD_FILE)
    assert outputs._CHECKPOINT_FORMATS == checkpoint.FORMATS
    assert outputs._POLICY_FILE == policy.POLICY_FILE
    assert outputs._DATA_SUFFIX == records.SUFFIX
    assert set(corpus.PREPARE_FILES) <= set(outputs._DATA_FILES) | {outputs._DATA_SUMMARY}
    from molecules import data
    from rl_tuner.models import export
    from rl_tuner.runner import train
    from note_rnn import train as note_train
    from molecules import prior
    assert set(outputs.RUN_COMMANDS) == {train.COMMAND, note_train.COMMAND, prior.COMMAND}
    assert set(outputs.PREPARE_COMMANDS) == {corpus.PREPARE_COMMAND, data.PREPARE_COMMAND}
    assert outputs.EXPORT_COMMAND == export.COMMAND
    assert "rl_tuner.plumbing.runs" in sys.modules


# --------------------------------------------------------------------------- entries a rewrite replaces
# Commands that write a folder of named entries, with an entry name each writes (that a user's
# protected folder inside --out may carry).
FOLDER_WRITERS = {
    "rl-tuner export": (rl_cli, lambda f, t: ["export", "--model", f["ckpt"], "--out", t], ("variables", "assets")),
    "note-rnn generate": (note_cli, lambda f, t: ["generate", "--checkpoint", f["ckpt"], "--num", "2", "--no-audio",
                                                  "--out", t], ("melodies.json",)),
    "rl-tuner generate": (rl_cli, lambda f, t: ["generate", "--model", f["ckpt"], "--num", "2", "--no-audio",
                                                "--out", t], ("melodies.json",)),
}


@pytest.mark.parametrize("name", sorted(FOLDER_WRITERS))
def test_overwrite_never_replaces_a_protected_folder_inside_out(name, inputs, protected, tmp_path, capsys):
    """`rl-tuner export --out col1 --overwrite` deleted a data set the user kept as col1/variables
    (and a run as col2/assets, `note-rnn generate` a data set named col9/melodies.json)."""
    cli, argv_of, names = FOLDER_WRITERS[name]
    for entry in names:
        for kind, nested in (("mol_data", ""), ("mlerun", ""), ("checkpoint", "deep")):
            col = str(tmp_path / f"col-{entry}-{kind}")
            folder = os.path.join(col, entry, nested) if nested else os.path.join(col, entry)
            shutil.copytree(protected[kind][0], folder)
            _write(os.path.join(col, "notes.txt"), "note")
            before = _snapshot(col)
            code, err = _run(cli, argv_of(inputs, col) + ["--overwrite"], capsys)
            noun, writer = protected[kind][1], protected[kind][2]
            detail = f" ({writer})" if writer else ""
            assert (code, err) == (2, f"error: --out {col} holds the {noun} {folder.rstrip(os.sep)}{detail}, which "
                                      f"{name} would replace; it is never replaced, not even with --overwrite: "
                                      "choose another --out\n"), (entry, kind)
            assert _snapshot(col) == before
    # a plain folder or a link under that name is still replaced (the link's target stays)
    col = str(tmp_path / "plain")
    _write(os.path.join(col, names[0], "old.txt"), "mine")
    data = protected["mol_data"][0]
    before = _snapshot(data)
    code, err = _run(cli, argv_of(inputs, col) + ["--overwrite"], capsys)
    assert code == 0, err
    assert not os.path.exists(os.path.join(col, names[0], "old.txt"))
    link = str(tmp_path / "linked")
    os.makedirs(link)
    os.symlink(data, os.path.join(link, names[0]))
    code, err = _run(cli, argv_of(inputs, link) + ["--overwrite"], capsys)
    assert code == 0, err
    assert not os.path.islink(os.path.join(link, names[0]))
    assert _snapshot(data) == before


def test_replaced_entries_of_a_library_writer_are_checked_too(inputs, protected, tmp_path):
    """policy.save replaces q_network/ and prior/ (overwrite=True): a user's checkpoint kept as
    prior/ in a plain folder is refused; a tuned policy's own prior/ is replaced."""
    from rl_tuner.plumbing import output_dir
    col = str(tmp_path / "col")
    shutil.copytree(protected["checkpoint"][0], os.path.join(col, "prior"))
    _write(os.path.join(col, "notes.txt"), "note")
    before = _snapshot(col)
    with pytest.raises(outputs.OutputError, match=r"holds the model checkpoint .*col/prior, which this writer would"):
        with output_dir.directory(col, overwrite=True, owned=("q_network", "prior", "policy.json")) as tmp:
            _write(os.path.join(tmp, "policy.json"), "{}")
    assert _snapshot(col) == before
    own = str(tmp_path / "policy")
    for _ in range(2):
        with output_dir.directory(own, overwrite=True, owned=("q_network", "prior", "policy.json")) as tmp:
            shutil.copytree(inputs["ckpt"], os.path.join(tmp, "prior"))
            _write(os.path.join(tmp, "policy.json"), "{}")
    assert sorted(os.listdir(own)) == ["policy.json", "prior"]


# --------------------------------------------------------------------------- a run another process holds
HOLD = ("import sys, time\nfrom rl_tuner.plumbing import runs\nwith runs.lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n    time.sleep(120)\n")


@pytest.fixture
def held_run(tmp_path):
    """A folder holding only `.lock`, held by another process (a trainer before its config)."""
    import subprocess
    run = str(tmp_path / "live4")
    os.makedirs(run)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, run], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": REPO})
    try:
        assert holder.stdout.readline() == "held\n"
        yield run, holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_run_whose_lock_another_process_holds_is_refused(inputs, held_run, capsys):
    run, pid = held_run
    assert outputs.entries(run) == [outputs.LOCK]
    assert outputs.lock_holder(run) == str(pid)
    code, err = _run(mol_cli, ["prepare", "--source", inputs["smi"], "--out", run, "--workers", "1",
                               "--no-progress", "--overwrite"], capsys)
    assert (code, err) == (2, f"error: --out {run} is a training run directory (in use by pid {pid}); it is never "
                              "replaced: choose another --out\n")
    target = os.path.join(run, "x.json")
    code, err = _run(rl_cli, ["score", "--melodies", inputs["melodies"], "--out", target], capsys)
    assert (code, err) == (2, f"error: --out {target} is part of the training run directory {run} (in use by pid "
                              f"{pid}); no command writes there, not even with --overwrite: choose another --out\n")
    assert os.listdir(run) == [outputs.LOCK]
    assert open(os.path.join(run, outputs.LOCK)).read() == f"{pid}\n"


def test_a_free_lock_file_is_not_a_run(tmp_path):
    from rl_tuner.plumbing import runs
    run = str(tmp_path / "r")
    os.makedirs(run)
    with runs.lock(run):
        assert outputs.lock_holder(run) is None  # this process's own lock
    assert outputs.lock_holder(run) is None and outputs.entries(run) == []
    outputs.check_protected(os.path.join(run, "x.json"), "rl-tuner score")


def test_a_refused_command_leaves_the_lock_file_as_it_was(tmp_path):
    """A refused `rl-tuner train` (different settings) wrote its own pid into RUN/.lock."""
    import dataclasses
    from rl_tuner.plumbing import runs

    @dataclasses.dataclass
    class Config:
        steps: int = 1
        seed: int = 0

    run = str(tmp_path / "run")
    with runs.run_directory(run, "rl-tuner train") as r:
        r.start("config.json", Config())
    lock = os.path.join(run, outputs.LOCK)
    _write(lock, "4242\n")
    with pytest.raises(ValueError, match="holds a run with different settings"):
        with runs.run_directory(run, "rl-tuner train") as r:
            r.start("config.json", Config(seed=1))
    assert open(lock).read() == "4242\n"
    with runs.run_directory(run, "rl-tuner train") as r:  # the winner writes its pid
        r.start("config.json", Config(steps=2), may_change=("steps",))
        assert open(lock).read() == f"{os.getpid()}\n"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_empty_out_is_refused(name, inputs, tmp_path, monkeypatch, capsys):
    cli, argv_of, _, _ = COMMANDS[name]
    flag = "--db" if name == "rl-tuner listen" else "--out"
    monkeypatch.chdir(tmp_path)
    extra = [] if name in NO_OVERWRITE_FLAG else ["--overwrite"]
    code, err = _run(cli, argv_of(inputs, "") + extra, capsys)
    assert (code, err) == (2, f"error: {flag} is empty; give a path\n")
    assert os.listdir(tmp_path) == []
