"""The 20 RDKit-only objectives of the PMO benchmark (Gao et al., "Sample Efficiency Matters",
NeurIPS 2022 Datasets and Benchmarks; code ``wenhao-gao/mol_opt``), named as PMO names them.

PMO takes them from GuacaMol's goal-directed v2 suite (Brown et al. 2019) as served by TDC;
each is defined here from GuacaMol's published definition (the targets, fingerprints,
modifiers and means of ``guacamol.standard_benchmarks``), built from :mod:`molecules.objectives.terms`. The
isomer-based four (``isomers_c7h8n2o2``, ``isomers_c9h10n2o2pf2cl``, ``sitagliptin_mpo``,
``zaleplon_mpo``) use GuacaMol's isomer score, which TDC adopted after the PMO paper, so the
paper's numbers for them are not strictly comparable (BUILD.md, "PMO").

An :class:`Objective` scores a SMILES: None for a SMILES that is not a molecule
(:func:`molecules.chem.parse`), else a float in [0, 1]. The objectives are built on first use.
The definitions are in :mod:`molecules.objectives.pmo` (importing this package loads no RDKit).
"""

from __future__ import annotations

import functools
from typing import Optional

# PMO's names, in the order of the issue/paper table.
NAMES = ("albuterol_similarity", "amlodipine_mpo", "celecoxib_rediscovery", "deco_hop", "fexofenadine_mpo",
         "isomers_c7h8n2o2", "isomers_c9h10n2o2pf2cl", "median1", "median2", "mestranol_similarity",
         "osimertinib_mpo", "perindopril_mpo", "qed", "ranolazine_mpo", "scaffold_hop", "sitagliptin_mpo",
         "thiothixene_rediscovery", "troglitazone_rediscovery", "valsartan_smarts", "zaleplon_mpo")
# The objectives whose scorer changed after the PMO paper (reported apart).
ISOMER_BASED = ("isomers_c7h8n2o2", "isomers_c9h10n2o2pf2cl", "sitagliptin_mpo", "zaleplon_mpo")


class Objective:
    """One PMO objective (see the module docstring).

    Attributes:
      name: its PMO name.
    """

    def __init__(self, name: str, term):
        self.name = name
        self._term = term

    def score_mol(self, mol) -> float:
        """The score in [0, 1] of an RDKit molecule (a float)."""
        return float(self._term(mol))

    def score(self, smiles: str) -> Optional[float]:
        """The score of ``smiles``: None if it is not a molecule (:func:`molecules.chem.parse`),
        else a float in [0, 1]."""
        from molecules import chem  # pylint: disable=import-outside-toplevel
        mol = chem.parse(smiles)
        return None if mol is None else self.score_mol(mol)

    def __call__(self, smiles: str) -> Optional[float]:
        return self.score(smiles)


def check_name(name: str) -> str:
    """``name`` if it is a PMO objective.

    Raises:
      ValueError: ``unknown objective 'x'; choose one of: albuterol_similarity, ...``.
    """
    if name not in NAMES:
        raise ValueError(f"unknown objective {name!r}; choose one of: {', '.join(NAMES)}")
    return name


@functools.lru_cache(maxsize=None)
def get(name: str) -> Objective:
    """The objective ``name`` (built once per process).

    Raises:
      ValueError: an unknown name (see :func:`check_name`).
    """
    from molecules.objectives import pmo  # pylint: disable=import-outside-toplevel  (RDKit)
    return Objective(check_name(name), pmo.definitions()[name]())
