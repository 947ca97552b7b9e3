"""Molecules (SMILES) for Sequence Tutor: tokenizers, the MOSES data set and RDKit rewards.

Modules: :mod:`molecules.tokenizers` (the original's 35-character vocabulary and an
atom-level vocabulary), :mod:`molecules.data` (``molecules prepare``), :mod:`molecules.chem`
(RDKit access), :mod:`molecules.rewards` (reward components, the ``paper`` and ``default``
presets), :mod:`molecules.cli` (the ``molecules`` command). None of them imports TensorFlow.
The SMILES-RNN, the molecule task of the RL core and the Table-2 evaluation come later.
"""
