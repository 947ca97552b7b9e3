"""The building blocks of GuacaMol's goal-directed objectives (Brown et al., J. Chem. Inf. Model.
2019, "GuacaMol: benchmarking models for de novo molecular design", Section 2.2 and the
Supporting Information; package ``guacamol`` 0.5.5), written from their published definitions.

A *term* is a function ``mol -> float`` of an RDKit molecule: a descriptor, a fingerprint
similarity to a target, a SMARTS match, a closeness to a molecular formula, each followed by
a *modifier* that maps the raw value into [0, 1]; :func:`arithmetic_mean` and
:func:`geometric_mean` combine terms. Every number comes from RDKit; the fingerprints are
RDKit's count fingerprints (ECFP/FCFP: Morgan, AP: atom pairs up to 10 bonds) and the Gobbi
2D pharmacophore fingerprint (PHCO), compared by Tanimoto similarity. Equality with the
``guacamol`` wheel is checked to 1e-6 by ``tests/test_pmo_reference.py`` (BUILD.md, "PMO").
"""

from __future__ import annotations

import functools
import math
import re
from typing import Callable

from rdkit import Chem
from rdkit.Chem import Descriptors, rdFingerprintGenerator, rdMolDescriptors
from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D
from rdkit.DataStructs import TanimotoSimilarity

Term = Callable[[Chem.Mol], float]
Modifier = Callable[[float], float]


# --- modifiers: raw value -> [0, 1] -----------------------------------------------------------
def gaussian(mu: float, sigma: float) -> Modifier:
    """``exp(-0.5 ((x - mu) / sigma)^2)``: 1 at ``mu`` (GuacaMol's ``GaussianModifier``)."""
    return lambda x: math.exp(-0.5 * ((x - mu) / sigma) ** 2)


def min_gaussian(mu: float, sigma: float) -> Modifier:
    """1 for ``x <= mu``, then a Gaussian decay (``MinGaussianModifier``: "at most mu")."""
    return lambda x: gaussian(mu, sigma)(max(x, mu))


def max_gaussian(mu: float, sigma: float) -> Modifier:
    """1 for ``x >= mu``, a Gaussian rise below (``MaxGaussianModifier``: "at least mu")."""
    return lambda x: gaussian(mu, sigma)(min(x, mu))


def clipped(upper_x: float) -> Modifier:
    """``min(max(x / upper_x, 0), 1)`` (``ClippedScoreModifier(upper_x)``: linear from 0 to 1 on
    [0, upper_x])."""
    return lambda x: min(max(x / upper_x, 0.0), 1.0)


def identity(x: float) -> float:
    """The unmodified value (GuacaMol's default ``LinearModifier``)."""
    return float(x)


# --- fingerprints and similarity ------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _generator(fp_type: str):
    gen = rdFingerprintGenerator
    if fp_type == "ECFP4":
        return gen.GetMorganGenerator(radius=2)
    if fp_type == "ECFP6":
        return gen.GetMorganGenerator(radius=3)
    if fp_type == "FCFP4":
        return gen.GetMorganGenerator(radius=2, atomInvariantsGenerator=gen.GetMorganFeatureAtomInvGen())
    if fp_type == "AP":
        return gen.GetAtomPairGenerator(maxDistance=10)
    raise ValueError(f"unknown fingerprint type {fp_type!r}")


def fingerprint(mol: Chem.Mol, fp_type: str):
    """GuacaMol's fingerprint of ``mol``.

    Args:
      mol: an RDKit molecule.
      fp_type: ``ECFP4``/``ECFP6`` (Morgan count fingerprint of radius 2/3), ``FCFP4``
        (Morgan radius 2 on feature invariants), ``AP`` (atom-pair counts, distances 1..10
        bonds) or ``PHCO`` (Gobbi 2D pharmacophore bits).

    Returns:
      An RDKit sparse vector (counts, or bits for PHCO) for ``TanimotoSimilarity``.

    Raises:
      ValueError: an unknown ``fp_type``.
    """
    if fp_type == "PHCO":
        return Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)
    return _generator(fp_type).GetSparseCountFingerprint(mol)


def tanimoto(target_smiles: str, fp_type: str, modifier: Modifier = identity) -> Term:
    """Term: ``modifier(Tanimoto(fp(mol), fp(target)))`` (``TanimotoScoringFunction``).

    Raises:
      ValueError: the target is not a valid SMILES.
    """
    target = Chem.MolFromSmiles(target_smiles)
    if target is None:
        raise ValueError(f"similarity target {target_smiles!r} is not a valid molecule")
    reference = fingerprint(target, fp_type)
    return lambda mol: modifier(TanimotoSimilarity(fingerprint(mol, fp_type), reference))


def smarts(pattern: str, inverse: bool = False) -> Term:
    """Term: 1 if the molecule matches the SMARTS ``pattern`` else 0; the opposite with
    ``inverse`` (``SMARTSScoringFunction``)."""
    query = Chem.MolFromSmarts(pattern)
    if query is None:
        raise ValueError(f"invalid SMARTS {pattern!r}")
    return lambda mol: float(mol.HasSubstructMatch(query) != inverse)


def descriptor(function: Callable[[Chem.Mol], float], modifier: Modifier = identity) -> Term:
    """Term: ``modifier(function(mol))`` (``RdkitScoringFunction``)."""
    return lambda mol: modifier(function(mol))


# --- descriptors (RDKit) ----------------------------------------------------------------------
logp = Descriptors.MolLogP  # Crippen logP
tpsa = Descriptors.TPSA
bertz = Descriptors.BertzCT
qed = Descriptors.qed
num_rings = rdMolDescriptors.CalcNumRings
num_aromatic_rings = rdMolDescriptors.CalcNumAromaticRings


def atom_count(element: str) -> Callable[[Chem.Mol], int]:
    """Number of atoms of ``element`` (for ``H`` the implicit hydrogens are counted too)."""
    def count(mol: Chem.Mol) -> int:
        mol = Chem.AddHs(mol) if element == "H" else mol
        return sum(1 for atom in mol.GetAtoms() if atom.GetSymbol() == element)
    return count


def total_atoms(mol: Chem.Mol) -> int:
    """All atoms, hydrogens included."""
    return Chem.AddHs(mol).GetNumAtoms()


def parse_formula(formula: str) -> list:
    """``[(element, count), ...]`` of a molecular formula such as ``C9H10N2O2PF2Cl``, in order
    (a missing count is 1)."""
    return [(element, int(count) if count else 1) for element, count in re.findall(r"([A-Z][a-z]*)(\d*)", formula)]


def isomer(formula: str) -> Term:
    """Term: closeness to a molecular formula (``IsomerScoringFunction``, geometric mean): the
    geometric mean of ``gaussian(n_e, 1)`` of each element's count and ``gaussian(n, 2)`` of
    the total atom count (hydrogens included); 1 for an exact isomer."""
    elements = parse_formula(formula)
    parts = [descriptor(atom_count(e), gaussian(n, 1.0)) for e, n in elements]
    parts.append(descriptor(total_atoms, gaussian(sum(n for _, n in elements), 2.0)))
    return geometric_mean(parts)


# --- combinations -----------------------------------------------------------------------------
def arithmetic_mean(terms) -> Term:
    """Term: the mean of ``terms`` (``ArithmeticMeanScoringFunction``, equal weights)."""
    terms = list(terms)
    return lambda mol: sum(t(mol) for t in terms) / len(terms)


def geometric_mean(terms) -> Term:
    """Term: ``(prod of terms) ** (1 / len(terms))`` (``GeometricMeanScoringFunction``)."""
    terms = list(terms)
    return lambda mol: math.prod(t(mol) for t in terms) ** (1.0 / len(terms))
