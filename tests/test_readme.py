"""The README as a newcomer follows it: what its commands write into the checkout is ignored
by git (no untracked outputs left behind), and its listening study starts from shipped models.
"""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def readme_outputs() -> list[str]:
    """Every path the README's commands write (``--out X``, ``--db X`` and SQLite's -wal/-shm
    files beside a database), placeholders such as ``DIR``, ``RUN`` or ``OUT.json`` left out."""
    paths = set()
    for flag, path in re.findall(r"(--out|--db)[ =]([^\s`|\]\)]+)", README):
        if re.fullmatch(r"[A-Z_]+(\.\w+)?", path):  # a placeholder
            continue
        paths.add(path)
        if flag == "--db":
            paths.update({path + "-wal", path + "-shm"})
    return sorted(paths)


def test_the_readme_names_its_outputs():
    outputs = readme_outputs()
    for path in ("runs/quickstart", "data/folk", "generated", "ratings.sqlite", "ratings.sqlite-wal", "listening",
                 "stats.json", "mols.smi", "models/attention", "exported/attention", "data/moses"):
        assert path in outputs, path
    assert not any(re.fullmatch(r"[A-Z_]+(\.\w+)?", p) for p in outputs)


def test_what_the_readme_writes_is_ignored_by_git():
    if shutil.which("git") is None or subprocess.run(["git", "-C", ROOT, "rev-parse", "--git-dir"],
                                                     capture_output=True).returncode != 0:
        pytest.skip("needs git and a git checkout of the project (.gitignore is checked with git check-ignore)")
    # A folder is given with a trailing "/" (git cannot tell it from a file that does not exist).
    outputs = [p if re.search(r"\.\w+$|-wal$|-shm$", p) else p + "/" for p in readme_outputs()]
    proc = subprocess.run(["git", "-C", ROOT, "check-ignore", "--no-index", "--stdin"], input="\n".join(outputs),
                          capture_output=True, text=True)
    assert sorted(proc.stdout.split()) == sorted(outputs)  # every one ignored
    tracked = subprocess.run(["git", "-C", ROOT, "check-ignore", "--no-index", "--stdin"],
                             input="checkpoints/tuned/melody_psi/card.json\nREADME.md\nresults/README.md\n",
                             capture_output=True, text=True).stdout
    assert tracked == ""  # and nothing of the project's own


def test_the_listening_study_starts_from_the_shipped_tuned_models():
    block = README[README.index("Listening study (the paper's Figure 3)"):]
    block = block[block.index("```bash"):]
    block = block[:block.index("```\n", 7)]
    assert "rl-tuner train" not in block  # no training before the study
    for path in ("checkpoints/note_rnn", "checkpoints/tuned/melody_psi", "checkpoints/tuned/melody_g"):
        assert f"={path}" in block
        assert os.path.isfile(os.path.join(ROOT, path, "card.json")), path
