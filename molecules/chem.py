"""RDKit access in one place: parsing, canonical SMILES and the molecular properties.

Every chemistry number comes from RDKit (or networkx for the original's ring measure); this
module only decides what counts as a molecule and what happens on an RDKit exception.

* :func:`parse` returns an RDKit molecule or None. RDKit parses ``""`` as a valid empty
  molecule; here an empty or whitespace-only string, one with whitespace inside (RDKit
  would read the rest as a name) or one with a non-ASCII character is never a molecule (MOSES counts the empty string invalid).
  Surrounding whitespace is ignored, so the original's trailing end symbol ``' '`` is harmless.
* :data:`MAX_SMILES_CHARS` bounds what one SMILES may cost: :func:`parse` treats a longer
  text as no molecule without handing it to RDKit, and every reader of SMILES files refuses
  such a line naming the file and line (:func:`length_problem`, :func:`check_length`).
* :func:`largest_cycle_basis_ring` is the original's ring measure (the largest cycle of
  ``networkx.cycle_basis`` on the atom graph, built from the bonds in the order of RDKit's
  adjacency matrix). It depends on the atom order of the SMILES as written and on the
  networkx version (3.2 changed how ``cycle_basis`` picks its root; ``setup.py`` pins
  ``networkx>=3.2``). :func:`largest_sssr_ring` is the order-independent alternative
  (largest ring of RDKit's ring perception).

RDKit's error logging is switched off when this module is imported (invalid prefixes are the
normal case during generation).
"""

from __future__ import annotations

from typing import Optional

from rdkit import Chem, RDLogger
from rdkit.Chem import Crippen, QED

RDLogger.DisableLog("rdApp.*")


def _sascorer():
    from rdkit.Contrib.SA_Score import sascorer  # RDKit Contrib; same fpscores as the original's copy
    return sascorer


# The longest SMILES (in characters, surrounding whitespace excluded) that is handed to RDKit.
# Every atom takes at least one character, so it also bounds the atoms and bonds of a
# molecule. MOSES molecules have at most 57 characters and the samplers' default 120 tokens
# make at most a few hundred; at this length the costliest reward (the paper preset on a
# linear alkane: logP, QED, SA and the ring measure) takes well under a second and little
# memory, while RDKit crashed (segmentation fault) on a line of 20,000 C, did not return
# within minutes on 2,000,000, and the original's dense ring measure took 99 s and 19.9 GB on
# 40,000 (BUILD.md, "Bad input files").
MAX_SMILES_CHARS = 2000


def length_problem(smiles: str) -> Optional[str]:
    """Why ``smiles`` is too long to be read (None if it is not).

    Args:
      smiles: SMILES text; surrounding whitespace is not counted.

    Returns:
      e.g. ``"a SMILES of 40,000 characters, more than the 2,000 allowed"``, or None.
    """
    n = len(smiles.strip())
    if n > MAX_SMILES_CHARS:
        return f"a SMILES of {n:,} characters, more than the {MAX_SMILES_CHARS:,} allowed"
    return None


def check_length(smiles: str, source: str, line: int) -> None:
    """Refuses a SMILES read from a file that is longer than :data:`MAX_SMILES_CHARS`.

    Args:
      smiles: the SMILES text of the line.
      source: the file, as messages name it.
      line: the line number in the file (1-based).

    Raises:
      ValueError: ``"SOURCE line N: a SMILES of ... characters, more than the 2,000 allowed
        (...)"``.
    """
    problem = length_problem(smiles)
    if problem is not None:
        raise ValueError(f"{source} line {line}: {problem} (molecules.chem.MAX_SMILES_CHARS)")


def parse(smiles: str) -> Optional[Chem.Mol]:
    """Parses a SMILES with RDKit's default sanitisation.

    Args:
      smiles: SMILES text; surrounding whitespace is ignored.

    Returns:
      The molecule, or None if RDKit rejects it, the text is empty or whitespace-only, it
      has whitespace or a non-ASCII character inside (RDKit skips some of those: it reads
      ``"\ufffdC"`` as methane), or it is longer than :data:`MAX_SMILES_CHARS` (never
      given to RDKit).
    """
    text = smiles.strip()
    if not text or len(text) > MAX_SMILES_CHARS or not text.isascii() or any(ch.isspace() for ch in text):
        return None
    return Chem.MolFromSmiles(text)


def canonical(smiles: str) -> Optional[str]:
    """RDKit's canonical (isomeric) SMILES of ``smiles``, or None if it is not a molecule."""
    mol = parse(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def parse_problem(smiles: str) -> str:
    """Names why RDKit rejects ``smiles`` (for data-preparation reports).

    Returns:
      ``"empty"``, ``"too long: ..."`` (see :func:`length_problem`), ``"whitespace inside"``,
      ``"non-ASCII characters"``, ``"syntax"`` (RDKit cannot read it even without
      sanitisation) or RDKit's problem type and message, e.g.
      ``"AtomValenceException: Explicit valence for atom # 1 C, 5, is greater than permitted"``;
      ``""`` if the SMILES is valid.
    """
    text = smiles.strip()
    if not text:
        return "empty"
    if length_problem(text):
        return f"too long: {length_problem(text)}"
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

    The original computes ``nx.cycle_basis(nx.Graph(Chem.GetAdjacencyMatrix(mol)))``, which
    builds a dense atoms x atoms matrix (19.9 GB and 99 s for a chain of 40,000 atoms). The
    same graph is built here from the bonds: nodes 0..n-1 in atom order, each node's
    neighbours in increasing index order, exactly the graph (and the neighbour order
    ``cycle_basis`` walks) that ``nx.Graph`` makes of the matrix, so the cycles are the same
    (tested against the original's expression on thousands of molecules in random atom
    orders); time and memory grow with atoms + bonds. The cycle basis depends on the atom
    order (so on how the SMILES is written) and on the networkx version; the result is 0 for
    an acyclic molecule.
    """
    import networkx as nx  # pylint: disable=import-outside-toplevel
    graph = nx.Graph()
    graph.add_nodes_from(range(mol.GetNumAtoms()))
    # Sorted (low, high) pairs give each node its neighbours in increasing order, as the matrix's rows.
    graph.add_edges_from(sorted(tuple(sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))) for b in mol.GetBonds()))
    cycles = nx.cycle_basis(graph)
    return max((len(c) for c in cycles), default=0)


def largest_sssr_ring(mol: Chem.Mol) -> int:
    """Largest ring of RDKit's ring perception (symmetrized SSSR); independent of atom order.

    Returns 0 for an acyclic molecule.
    """
    return max((len(r) for r in mol.GetRingInfo().AtomRings()), default=0)
