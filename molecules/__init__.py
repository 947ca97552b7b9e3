"""Molecules (SMILES) for Sequence Tutor: the paper's second experiment (section 6, Table 2).

Modules: :mod:`molecules.tokenizers` (the original's 35-character vocabulary and an
atom-level vocabulary), :mod:`molecules.data` (``molecules prepare``), :mod:`molecules.chem`
(RDKit access), :mod:`molecules.rewards` (reward components, the ``paper`` and ``default``
presets), :mod:`molecules.prior` + :mod:`molecules.prior_config` (the SMILES-RNN:
``molecules train-prior``, loading), :mod:`molecules.task` (the ``smiles`` task of the RL core:
``rl-tuner train --task smiles``), :mod:`molecules.environment` (the batched SMILES environment),
:mod:`molecules.evaluation` (Table 2 and the MOSES metrics), :mod:`molecules.sampling`
(``molecules sample`` / ``evaluate``), :mod:`molecules.media` (SMILES files, RDKit image grids),
:mod:`molecules.cli` (the ``molecules`` command). Only the prior, the sampling commands and the
task's training load TensorFlow (when used).
"""
