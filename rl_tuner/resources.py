"""Where the shipped checkpoints are: the one locator of every application (no TensorFlow).

The repository keeps them in its ``checkpoints/`` folder; an installation puts each
application's own under its package, as package data (setup.py): the Note-RNN in
``note_rnn/_checkpoints/note_rnn``, the SMILES-RNNs in ``molecules/_checkpoints/smiles_rnn`` and
``molecules/_checkpoints/smiles_rnn_paper`` (a top-level ``checkpoints`` package would collide
in site-packages).
"""

from __future__ import annotations

import importlib.util
import os

CHECKPOINTS_PACKAGE = "_checkpoints"  # the installed folder inside an application's package


def checkpoint_locations(package: str, name: str) -> tuple[str, str]:
    """Where the shipped checkpoint ``name`` of application ``package`` can be.

    Args:
      package: the application's top-level package (``note_rnn``, ``molecules``); it is
        located, not imported.
      name: the checkpoint's folder name in the repository's ``checkpoints/``.

    Returns:
      (the installed package data ``PACKAGE/_checkpoints/NAME``, the checkout's
      ``checkpoints/NAME`` beside the package).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"no package {package!r} to find the shipped checkpoint {name!r} in")
    package_dir = os.path.abspath(list(spec.submodule_search_locations)[0])
    return (os.path.join(package_dir, CHECKPOINTS_PACKAGE, name),  # installed
            os.path.join(os.path.dirname(package_dir), "checkpoints", name))  # checkout


def shipped_checkpoint(package: str, name: str) -> str:
    """The directory of the shipped checkpoint ``name`` of application ``package``.

    Args:
      package, name: see :func:`checkpoint_locations` (e.g. ``("note_rnn", "note_rnn")``,
        ``("molecules", "smiles_rnn_paper")``).

    Returns:
      The installed copy if it holds a checkpoint (``config.json``), else the checkout's
      ``checkpoints/NAME`` (also when neither does, so that the loader's error names it).

    Raises:
      ValueError: if ``package`` is not importable.
    """
    locations = checkpoint_locations(package, name)
    for path in locations:
        if os.path.isfile(os.path.join(path, "config.json")):
            return path
    return locations[-1]
