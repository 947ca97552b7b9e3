"""Sequence Tutor / RL Tuner in TensorFlow + tf-keras (Keras 2 API)."""

from setuptools import setup

setup(
    name="sequence-tutor",
    version="0.1.0",
    description="Sequence Tutor (RL Tuner): KL-control RL fine-tuning of LSTM sequence models "
                "(melodies, molecules), a TensorFlow/Keras port of Magenta's rl_tuner",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",  # tf-agents 0.19 does not import on Python 3.12
    # The shipped checkpoints stay in the repository's checkpoints/ folder; each application's
    # are installed with it as package data: the Note-RNN as note_rnn/_checkpoints, the
    # SMILES-RNNs as molecules/_checkpoints (a top-level "checkpoints" package would collide in
    # site-packages); rl_tuner.resources.shipped_checkpoint() finds either place.
    packages=["note_rnn", "note_rnn._checkpoints", "listening_study", "rl_tuner", "rl_tuner.kl_control",
              "rl_tuner.models", "rl_tuner.runner", "rl_tuner.plumbing", "molecules", "molecules._checkpoints",
              "molecules.objectives"],
    package_dir={"note_rnn._checkpoints": "checkpoints", "molecules._checkpoints": "checkpoints"},
    package_data={"note_rnn._checkpoints": [f"note_rnn/*.{ext}" for ext in ("json", "npz")],
                  "molecules._checkpoints": [f"{name}/*.{ext}" for name in ("smiles_rnn", "smiles_rnn_paper")
                                             for ext in ("json", "npz")],
                  "listening_study": ["templates/*.html", "static/*.css"]},  # the listening study's page
    install_requires=[
        # The stack is pinned to the versions this project is tested with (constraints.txt has
        # the full tested set). tf-agents 0.19 needs the Keras 2 API, i.e. tf-keras of the same
        # minor version as TensorFlow; the packages set TF_USE_LEGACY_KERAS=1 themselves.
        "tensorflow==2.21.*",
        "tf-keras==2.21.*",
        "tensorboard==2.21.*",  # TF 2.21 no longer installs it by itself
        "tf-agents==0.19.0",
        "tensorflow-probability==0.23.0",  # the release that matches tf-agents 0.19
        "note-seq==0.0.5",
        # tf-agents pins typing-extensions 4.5.0, which breaks IPython >= 8.23; note-seq
        # imports IPython, so IPython must stay below 8.23.
        "ipython<8.23",
        "rdkit",
        # The paper preset's ring penalty is the original's networkx.cycle_basis, whose result
        # depends on the networkx version: 3.2 changed how cycle_basis picks its root node.
        "networkx>=3.2",
        "numpy",
        "matplotlib",
        "tqdm",
    ],
    extras_require={
        # `rl-tuner listen`, the listening study's web page (the default install stays without a web stack).
        "listen": ["Flask>=3.1"],
        # selenium drives Debian's chromium in the listening study's browser test; selenium
        # 4.17.2 and later need typing-extensions >= 4.9, which tf-agents' pin (4.5.0) forbids.
        "test": ["pytest", "Flask>=3.1", "selenium>=4.10,<4.17"],
        "data": ["music21>=9,<11"],  # the bundled folk corpora used to train the Note-RNN
        # `--runner NAME` of `molecules prepare`/`score` and `note-rnn prepare`. Beam 2.77 needs
        # protobuf 6, pillow 12 and python-dateutil 2.9: install it with constraints-beam.txt,
        # not constraints.txt (BUILD.md).
        "beam": ["apache-beam==2.77.*"],
    },
    entry_points={
        "console_scripts": [
            "note-rnn=note_rnn.cli:console_entry_point",
            "rl-tuner=rl_tuner.cli:console_entry_point",
            "molecules=molecules.cli:console_entry_point",
        ],
        # Tasks of `rl-tuner train --task NAME` (rl_tuner.tasks); another package adds its own.
        "rl_tuner.tasks": ["melody = note_rnn.task:MelodyTask", "smiles = molecules.task:SmilesTask"],
    },
)
