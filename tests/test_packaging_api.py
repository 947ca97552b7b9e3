"""The installed package (no top-level ``checkpoints``; the shipped model found from the
installation) and the README's Python API block, run exactly as written."""

import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import note_rnn  # noqa: E402
from rl_tuner import resources  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Builds the wheel from a copy of the sources (the checkout stays free of build files)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("setup.py", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    for name in ("note_rnn", "rl_tuner", "molecules", "listening_study", "checkpoints"):
        shutil.copytree(os.path.join(ROOT, name), src / name, ignore=ignore)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip(f"cannot build a wheel without build isolation here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (path,) = (tmp / "dist").glob("*.whl")
    return tmp, path


def test_wheel_has_no_top_level_checkpoints_package(wheel):
    _, path = wheel
    names = zipfile.ZipFile(path).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"note_rnn", "rl_tuner", "molecules", "listening_study"}
    for f in ("config.json", "weights.npz", "card.json"):
        assert f"note_rnn/_checkpoints/note_rnn/{f}" in names
    assert not any(n.startswith("checkpoints/") for n in names)


def test_wheel_has_every_module_of_the_checkout(wheel):
    _, path = wheel
    names = set(zipfile.ZipFile(path).namelist())
    modules = [os.path.relpath(os.path.join(folder, f), ROOT).replace(os.sep, "/")
               for package in ("note_rnn", "rl_tuner", "molecules", "listening_study")
               for folder, _, files in os.walk(os.path.join(ROOT, package)) if "__pycache__" not in folder
               for f in files if f.endswith(".py")]
    assert "molecules/objectives/pmo.py" in modules
    assert [m for m in modules if m not in names] == []  # e.g. a subpackage missing from setup.py


def test_wheel_has_the_listening_page(wheel):
    _, path = wheel
    names = set(zipfile.ZipFile(path).namelist())
    for f in ("app.py", "templates/pair.html", "static/style.css"):
        assert f"listening_study/{f}" in names


def test_installed_default_checkpoint_resolves_inside_the_installation(wheel, tmp_path):
    tmp, path = wheel
    target = tmp / "site"
    with zipfile.ZipFile(path) as z:  # what `pip install --target` lays out for a pure wheel
        z.extractall(target)
    code = ("import os, note_rnn; from rl_tuner.resources import shipped_checkpoint as s; "
            "print(note_rnn.__file__); print(note_rnn.default_checkpoint()); "
            "print(os.path.isfile(os.path.join(note_rnn.default_checkpoint(), 'weights.npz'))); "
            "print(s('molecules', 'smiles_rnn')); print(s('molecules', 'smiles_rnn_paper'))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    module, ckpt, exists, smiles, smiles_paper = proc.stdout.split()
    assert module == str(target / "note_rnn" / "__init__.py")
    assert ckpt == str(target / "note_rnn" / "_checkpoints" / "note_rnn") and exists == "True"
    # each application's checkpoints install with it
    assert smiles == str(target / "molecules" / "_checkpoints" / "smiles_rnn")
    assert smiles_paper == str(target / "molecules" / "_checkpoints" / "smiles_rnn_paper")
    for name in ("smiles_rnn", "smiles_rnn_paper"):
        assert (target / "molecules" / "_checkpoints" / name / "weights.npz").is_file()
        assert not (target / "note_rnn" / "_checkpoints" / name).exists()
    assert not (target / "molecules" / "_checkpoints" / "note_rnn").exists()
    assert not (target / "checkpoints").exists()


def test_checkout_default_checkpoint():
    assert note_rnn.default_checkpoint() == os.path.join(ROOT, "checkpoints", "note_rnn")
    assert os.path.isfile(os.path.join(note_rnn.default_checkpoint(), "weights.npz"))
    assert resources.shipped_checkpoint("molecules", "smiles_rnn") == os.path.join(ROOT, "checkpoints", "smiles_rnn")


def test_the_checkpoint_locator_of_a_missing_package_says_so():
    with pytest.raises(ValueError, match=r"^no package 'nothing_here' to find the shipped checkpoint 'x' in$"):
        resources.shipped_checkpoint("nothing_here", "x")


def _readme_block() -> str:
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index("## Python API"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    return match.group(1)


def test_readme_python_api_block_runs(tmp_path, monkeypatch, capsys):
    code = _readme_block()
    assert "note_rnn.load(" in code and "rl_tuner.train(" in code and "composition_stats(" in code
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102  (the documented lines, as written)
    melodies, stats, result, tuned = (namespace[k] for k in ("melodies", "stats", "result", "tuned"))
    assert melodies.shape == (100, 32) and (melodies[:, :3] == [14, 0, 16]).all()
    assert 0 <= stats["notes_not_in_key"] <= 1 and stats["num_melodies"] == 100
    assert namespace["total"].shape == (100, 32)
    assert set(result) >= {"before", "after"} and "notes_in_motif" in result["after"]
    assert os.path.isfile(tmp_path / "runs" / "api_demo" / "stats.json")
    assert tuned.shape == (10, 32)
    assert "r_MT per note" in capsys.readouterr().out


def test_package_level_api_is_documented():
    for module, names in ((note_rnn, ("load", "default_checkpoint", "evaluate", "read_melodies",
                                       "score_melodies", "composition_stats")),
                          (rl_tuner, ("from_preset", "RLConfig", "train", "load_policy", "sample", "get_task"))):
        for name in names:
            obj = getattr(module, name)
            assert obj.__doc__ and len(obj.__doc__) > 40, f"{module.__name__}.{name}"
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        rl_tuner.nothing  # noqa: B018
