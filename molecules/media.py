"""Files a person looks at: sampled SMILES as a text file and an RDKit image grid.

TensorBoard gets the grid as an image (``samples/molecules``) and the SMILES as text; the
TensorFlow import happens only when a writer is given.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

GRID_MOLECULES = 16
GRID_COLUMNS = 4
CELL_PIXELS = 250


def grid_image(smiles: Sequence[str], max_molecules: int = GRID_MOLECULES):
    """A PIL image of the first ``max_molecules`` valid SMILES (RDKit ``MolsToGridImage``,
    each labelled with its SMILES), or None if none is valid."""
    from rdkit.Chem import Draw  # pylint: disable=import-outside-toplevel
    from molecules import chem  # pylint: disable=import-outside-toplevel
    mols, labels = [], []
    for s in smiles:
        mol = chem.parse(s)
        if mol is not None:
            mols.append(mol)
            labels.append(s if len(s) <= 40 else s[:37] + "...")
        if len(mols) >= max_molecules:
            break
    if not mols:
        return None
    return Draw.MolsToGridImage(mols, molsPerRow=GRID_COLUMNS, subImgSize=(CELL_PIXELS, CELL_PIXELS),
                                legends=labels, returnPNG=False)


def write_smiles(smiles: Sequence[str], path: str) -> None:
    """Writes one SMILES a line (an empty line for an empty sample) atomically."""
    from rl_tuner.plumbing import atomic  # pylint: disable=import-outside-toplevel
    atomic.write_bytes(path, "".join(s + "\n" for s in smiles).encode())


def write_molecules(smiles: Sequence[str], out_dir: str, writer=None, step: int = 0) -> None:
    """Writes ``molecules.smi`` and ``grid.png`` into ``out_dir`` and, with a TensorBoard
    ``writer``, the grid image and the SMILES at ``step``."""
    os.makedirs(out_dir, exist_ok=True)
    write_smiles(smiles, os.path.join(out_dir, "molecules.smi"))
    image = grid_image(smiles)
    if image is not None:
        image.save(os.path.join(out_dir, "grid.png"))
    if writer is not None:
        import tensorflow as tf  # pylint: disable=import-outside-toplevel
        with writer.as_default():
            if image is not None:
                tf.summary.image("samples/molecules", np.asarray(image.convert("RGB"))[None], step=step)
            tf.summary.text("samples/smiles", "\n\n".join(f"`{s}`" for s in smiles[:GRID_MOLECULES]), step=step)
