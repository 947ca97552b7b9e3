"""Tiny SMILES data sets and SMILES-RNN runs for the molecule tests (built in seconds)."""

import json
import os

import numpy as np

from molecules import chem, cli

# A hand-made SMILES-RNN whose every step predicts the same distribution (zero LSTM weights, the
# dense bias holds log-probabilities), so likelihoods are known by hand (uniform_prior).
UNIFORM_VOCAB = ["<eos>", "<bos>", "C", "N", "O", "(", ")", "=", "1"]
UNIFORM_PROBS = [0.15, 0.0, 0.45, 0.15, 0.15, 0.02, 0.02, 0.04, 0.02]  # <bos> is never sampled

SUBSTITUENTS = ["C", "CC", "CCC", "O", "OC", "N", "F", "Cl", "C(=O)O", "C#N", "C(C)C", "S"]
# Outside the original's 35 characters ('.' and 'a'): kept by an atom-level data set.
SALTS = ["CC(=O)[O-].[Na+]", "CCC(=O)[O-].[Na+]", "CCCC(=O)[O-].[Na+]", "OC(=O)C[O-].[Na+]"]


def tiny_smiles() -> list:
    """About 170 distinct valid SMILES (benzenes, pyrroles, chains) and the salts above."""
    out = []
    for x in SUBSTITUENTS:
        out.append(f"{x}c1cc[nH]c1")
        for y in SUBSTITUENTS:
            out.append(f"{x}c1ccc({y})cc1")
            out.append(f"{x}CC{y}")
    return [s for s in out if chem.parse(s) is not None] + SALTS


def prepare_tiny(root, tokenizer: str = "atom") -> str:
    """Writes tiny.smi under ``root`` and prepares it with ``molecules prepare``; returns the data dir."""
    root = str(root)
    src = os.path.join(root, "tiny.smi")
    with open(src, "w") as f:
        f.write("".join(s + "\n" for s in tiny_smiles()))
    out = os.path.join(root, f"data_{tokenizer}")
    assert cli.main(["prepare", "--source", src, "--out", out, "--workers", "1", "--no-progress",
                     "--tokenizer", tokenizer, "--validation-fraction", "0.2"]) == 0
    return out


def train_prior(data_dir: str, out: str, *extra) -> int:
    """``molecules train-prior`` with a tiny model (one LSTM layer of 8)."""
    return cli.main(["train-prior", "--data", data_dir, "--out", str(out), "--layer-sizes", "8", "--epochs", "2",
                     "--max-validation", "50", "--quiet", *extra])


def score_lines(tmp_path, lines, *extra, name: str = "in.txt") -> list:
    """``molecules score --smiles tmp_path/name --out tmp_path/out.json *extra`` of ``lines`` (one
    per line); asserts exit status 0 and the writer's name, returns the written ``molecules`` rows."""
    src = tmp_path / name
    src.write_text("".join(line + "\n" for line in lines))
    out = tmp_path / "out.json"
    assert cli.main(["score", "--smiles", str(src), "--out", str(out), *extra]) == 0
    written = json.loads(out.read_text())
    assert written["written_by"] == "molecules score"
    return written["molecules"]


def uniform_prior(path, random_lstm: bool = False) -> str:
    """Saves the 1 x 4 SMILES-RNN of :data:`UNIFORM_VOCAB` whose every step predicts
    :data:`UNIFORM_PROBS` at ``path``; returns ``path`` as a string. With ``random_lstm`` the
    LSTM keeps its random initial weights (its state then tells prefixes apart; the output
    kernel is still 0, so the predictions are the same)."""
    from rl_tuner.plumbing import checkpoint  # pylint: disable=import-outside-toplevel
    from rl_tuner.models import sequence_model  # pylint: disable=import-outside-toplevel  (TensorFlow)
    config = sequence_model.SequenceRNNConfig(num_classes=len(UNIFORM_VOCAB), layer_sizes=(4,),
                                              vocabulary=tuple(UNIFORM_VOCAB))
    model = sequence_model.build(config, seed=0)
    weights = {k: v if random_lstm and not k.startswith("dense") else np.zeros_like(v)
               for k, v in model.get_named_weights().items()}
    weights["dense/bias"] = np.log(np.maximum(UNIFORM_PROBS, 1e-30)).astype(np.float32)
    model.set_named_weights(weights)
    checkpoint.save_model(str(path), model)
    return str(path)
