"""RDKit access in one place: parsing, canonical SMILES and the molecular properties.

Every chemistry number comes from RDKit (or networkx for the original's ring measure); this
module only decides what counts as a molecule and what happens on an RDKit exception.

* :func:`parse` returns an RDKit molecule or None. RDKit parses ``""`` as a valid empty
  molecule; here an empty or whitespace-only string, one with whitespace inside (RDKit
  would read the rest as a name) or one with a non-ASCII character is never a molecule (MOSES counts the empty string invalid).
  Surrounding whitespace is ignored, so the original's trailing end symbol ``' '`` is harmless.
* :func:`largest_cycle_basis_ring` is the original's ring measure (the largest cycle of
  ``networkx.cycle_basis`` on RDKit's adjacency matrix). It depends on the atom order of the
  SMILES as written and on the networkx version (3.2 changed how ``cycle_basis`` picks its
  root; ``setup.py`` pins ``networkx>=3.2``). :func:`largest_sssr_ring` is the
  order-independent alternative (largest ring of RDKit's ring perception).

RDKit's error logging is switched off when this module is imported (invalid prefixes are the
normal case during generation).
"""

from __future__ import annotations

import functools
from typing import Optional

from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, QED

RDLogger.DisableLog("rdApp.*")


def _sascorer():
    from rdkit.Contrib.SA_Score import sascorer  # RDKit Contrib; same fpscores as the original's copy
    return sascorer


def parse(smiles: str) -> Optional[Chem.Mol]:
    """Parses a SMILES with RDKit's default sanitisation.

    Args:
      smiles: SMILES text; surrounding whitespace is ignored.

    Returns:
      The molecule, or None if RDKit rejects it, the text is empty or whitespace-only, or it
      has whitespace or a non-ASCII character inside (RDKit skips some of those: it reads
      ``"\ufffdC"`` as methane).
    """
    text = smiles.strip()
    if not text or not text.isascii() or any(ch.isspace() for ch in text):
        return None
    return Chem.MolFromSmiles(text)


@functools.lru_cache(maxsize=1 << 18)
def is_valid(smiles: str) -> bool:
    """True if :func:`parse` returns a molecule (cached by SMILES string)."""
    return parse(smiles) is not None


def canonical(smiles: str) -> Optional[str]:
    """RDKit's canonical (isomeric) SMILES of ``smiles``, or None if it is not a molecule."""
    mol = parse(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def parse_problem(smiles: str) -> str:
    """Names why RDKit rejects ``smiles`` (for data-preparation reports).

    Returns:
      ``"empty"``, ``"whitespace inside"``, ``"non-ASCII characters"``, ``"syntax"`` (RDKit cannot read it even
      without sanitisation) or RDKit's problem type and message, e.g.
      ``"AtomValenceException: Explicit valence for atom # 1 C, 5, is greater than permitted"``;
      ``""`` if the SMILES is valid.
    """
    text = smiles.strip()
    if not text:
        return "empty"
    if any(ch.isspace() for ch in text):
        return "whitespace inside"
    if not text.isascii():
        return "non-ASCII characters"
    mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None:
        return "syntax"
    problems = Chem.DetectChemistryProblems(mol)
    if problems:
        return f"{problems[0].GetType()}: {problems[0].Message()}"
    return "" if Chem.MolFromSmiles(text) is not None else "sanitization"


def crippen_logp(mol: Chem.Mol) -> float:
    """Wildman-Crippen logP (``Crippen.MolLogP``, the same as ``Descriptors.MolLogP``)."""
    return Crippen.MolLogP(mol)


def qed(mol: Chem.Mol) -> float:
    """RDKit's QED (``rdkit.Chem.QED.qed``, mean weights; Bickerton et al. 2012), 0..1.

    The original used silicos-it's ``qed.py``, which returns 0 on modern RDKit (it treats
    ``GetSSSR``'s sequence as an int); the two implementations differ by about 0.004-0.03.
    """
    return QED.qed(mol)


def sa_score(mol: Chem.Mol) -> float:
    """Ertl and Schuffenhauer's synthetic accessibility score, raw (1 easy .. 10 hard), from
    RDKit Contrib's ``sascorer`` (no normalisation, as the original)."""
    return _sascorer().calculateScore(mol)


def largest_cycle_basis_ring(mol: Chem.Mol) -> int:
    """The original's ring size: largest cycle of ``networkx.cycle_basis`` of the atom graph.

    Computed exactly as the original: ``nx.cycle_basis(nx.Graph(Chem.GetAdjacencyMatrix(mol)))``.
    The cycle basis depends on the atom order (so on how the SMILES is written) and on the
    networkx version; the result is 0 for an acyclic molecule.
    """
    import networkx as nx  # pylint: disable=import-outside-toplevel
    cycles = nx.cycle_basis(nx.Graph(Chem.GetAdjacencyMatrix(mol)))
    return max((len(c) for c in cycles), default=0)


def largest_sssr_ring(mol: Chem.Mol) -> int:
    """Largest ring of RDKit's ring perception (symmetrized SSSR); independent of atom order.

    Returns 0 for an acyclic molecule.
    """
    return max((len(r) for r in mol.GetRingInfo().AtomRings()), default=0)
