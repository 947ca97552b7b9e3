"""``molecules train-prior`` (molecules.prior): the checkpoint carries its vocabulary, the card,
resume and refused changes, the 35-character vocabulary, and the training windows."""

import json
import os
import shutil
import sys

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from molecules import cli, data, prior, tokenizers  # noqa: E402
from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner.models import mle  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from molecule_fixtures import SALTS, prepare_tiny, train_prior  # noqa: E402

COMMAND = ["molecules", "train-prior", "--epochs", "2"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return prepare_tiny(tmp_path_factory.mktemp("prior_data"))


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    """A 2-epoch atom-level run, shared by the read-only tests."""
    out = str(tmp_path_factory.mktemp("prior_run") / "run")
    argv = sys.argv
    sys.argv = COMMAND  # what the card records as the command
    try:
        assert train_prior(dataset, out) == 0
    finally:
        sys.argv = argv
    return out


def test_the_checkpoint_gives_back_the_data_sets_tokenizer(dataset, run):
    model, tokenizer = prior.load(os.path.join(run, "model"))
    assert tokenizer == data.load_tokenizer(dataset)
    assert tokenizer.kind == "atom" and "[nH]" in tokenizer.symbols and "[Na+]" in tokenizer.symbols
    assert model.config.num_classes == tokenizer.vocab_size and list(model.config.layer_sizes) == [8]
    _, again = prior.load(run)  # the run directory means its model/
    assert again == tokenizer


def test_the_card_has_hyperparameters_metrics_and_no_absolute_path(dataset, run):
    card = checkpoint.read_card(os.path.join(run, "model"))
    with open(os.path.join(run, "history.json")) as f:
        history = json.load(f)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    best = history["best"]
    assert card["hyperparameters"]["layer_sizes"] == [8] and card["hyperparameters"]["epochs"] == 2
    assert card["hyperparameters"]["max_validation"] == 50 and card["hyperparameters"]["tokenizer"] == "data"
    assert "data_dir" not in card["hyperparameters"] and "out_dir" not in card["hyperparameters"]
    for key in ("epoch", "step", "validation_accuracy", "validation_log_perplexity", "train_accuracy",
                "train_log_perplexity"):
        assert card["metrics"][key] == pytest.approx(best[key])
    assert card["tokenizer"] == data.load_tokenizer(dataset).to_json()
    train, validation = data.load_split(dataset, "train"), data.load_split(dataset, "validation")
    assert card["data"]["data_dir"] == os.path.basename(dataset)
    assert card["data"]["train_molecules"] == len(train)
    assert card["data"]["validation_molecules"] == min(50, len(validation))
    assert card["data"]["skipped_outside_vocabulary"] == {"train": 0, "validation": 0}
    assert card["command"] == "molecules train-prior --epochs 2"
    text = json.dumps(card)
    assert os.path.dirname(dataset) not in text and os.path.dirname(run) not in text and "/tmp" not in text


def test_rerun_resumes_and_refuses_other_settings(dataset, run, tmp_path, capsys):
    out = str(tmp_path / "resume")
    shutil.copytree(run, out)  # a finished 2-epoch run, moved
    assert train_prior(dataset, out, "--epochs", "3") == 0
    assert "resuming at epoch 3" in capsys.readouterr().err
    with open(os.path.join(out, "history.json")) as f:
        assert [e["epoch"] for e in json.load(f)["epochs"]] == [1, 2, 3]
    assert train_prior(dataset, out, "--epochs", "3") == 0
    assert f"run in {out} is complete (3 epochs, --epochs 3)" in capsys.readouterr().err
    assert run_main(cli.main, ["train-prior", "--data", dataset, "--out", out, "--layer-sizes", "16",
                               "--epochs", "3", "--max-validation", "50", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out} holds a run with different settings (layer_sizes: ")
    assert "use a new --out directory or the same settings to resume" in err
    with open(os.path.join(out, "history.json")) as f:
        assert len(json.load(f)["epochs"]) == 3  # nothing lost


def test_a_missing_data_set_is_a_clear_error(tmp_path, capsys):
    missing = str(tmp_path / "nope")
    assert run_main(cli.main, ["train-prior", "--data", missing, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        f"does not exist; build the data set with 'molecules prepare --out {missing}'")


def test_a_data_set_without_validation_split_says_so(dataset, tmp_path, capsys):
    """A data set prepared with --validation-fraction 0 has no validation split: the error
    says which flag makes one (not 'build the data set')."""
    import shutil
    data = str(tmp_path / "noval")
    shutil.copytree(dataset, data)
    os.remove(os.path.join(data, "validation.smi.gz"))
    assert run_main(cli.main, ["train-prior", "--data", data, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {data} has no validation split (validation.smi.gz): `molecules prepare` put no "
                   "molecule there; prepare it with more molecules or a larger --validation-fraction")
    assert not os.path.exists(tmp_path / "r")


def test_char_tokenizer_gives_the_35_symbols_and_skips_the_rest(dataset, tmp_path):
    out = str(tmp_path / "char")
    assert train_prior(dataset, out, "--tokenizer", "char", "--epochs", "1") == 0
    model, tokenizer = prior.load(out)
    assert tokenizer == tokenizers.paper_tokenizer() and model.config.num_classes == 35
    assert tuple(model.config.vocabulary) == tokenizers.PAPER_SYMBOLS
    card = checkpoint.read_card(os.path.join(out, "model"))
    paper = tokenizers.paper_tokenizer()
    expected = {split: sum(1 for s in data.load_split(dataset, split) if paper.unknown_symbols(s))
                for split in ("train", "validation")}
    assert sum(expected.values()) == len(SALTS)  # the salts ('.', 'a') and nothing else
    assert card["data"]["skipped_outside_vocabulary"] == expected


def test_tokenizer_of_recognises_smiles_vocabularies_only():
    atom = tokenizers.AtomTokenizer(["C", "O", "c"])
    assert prior.tokenizer_of(atom.symbols) == atom
    assert prior.tokenizer_of(tokenizers.PAPER_SYMBOLS) == tokenizers.paper_tokenizer()
    message = r"the model's vocabulary is not a SMILES vocabulary \(neither atom-level nor the original's 35"
    for bad in ([".", "a", "b"], None, list(tokenizers.PAPER_SYMBOLS[:-1]), ["<bos>", "<eos>", "C"]):
        with pytest.raises(ValueError, match=message):
            prior.tokenizer_of(bad)


def test_load_refuses_a_checkpoint_without_a_smiles_vocabulary(tmp_path):
    path = str(tmp_path / "melody_like")
    checkpoint.save_model(path, model_lib.build(model_lib.SequenceRNNConfig(
        num_classes=3, layer_sizes=(8,), vocabulary=(".", "a", "b")), seed=0))
    with pytest.raises(ValueError, match=f"^{path}: the model's vocabulary is not a SMILES vocabulary"):
        prior.load(path)


def test_encode_molecules_skips_and_counts_lines_outside_the_vocabulary():
    paper = tokenizers.paper_tokenizer()
    seqs, dropped = prior.encode_molecules(["CCO", "CC.[Na+]", "C[Si]C", "c1ccccc1Cl", "CC.O"], paper)
    assert dropped == 3
    assert [paper.decode(s) for s in seqs] == ["CCO", "c1ccccc1Cl"]
    atom = tokenizers.AtomTokenizer(["C", "O", "[Na+]", "."])
    seqs, dropped = prior.encode_molecules(["CCO", "CC.[Na+]", "CCN", "Cl"], atom)
    assert dropped == 2 and len(seqs) == 2


def test_windows_atom_bos_to_eos_and_char_without_the_first_target():
    atom = tokenizers.AtomTokenizer(["C", "Cl", "O", "c", "1"])
    (seq,), _ = prior.encode_molecules(["CCl"], atom)
    np.testing.assert_array_equal(seq, [1, atom.index["C"], atom.index["Cl"], 0])  # <bos> C Cl <eos>
    inputs, targets, weights = mle.window_arrays([seq], 5, 0)
    np.testing.assert_array_equal(inputs, [[1, atom.index["C"], atom.index["Cl"], 0]])
    np.testing.assert_array_equal(targets, [[atom.index["C"], atom.index["Cl"], 0, 0]])
    np.testing.assert_array_equal(weights, [[1, 1, 1, 0]])  # every token after <bos> is a target
    paper = tokenizers.paper_tokenizer()
    (seq,), _ = prior.encode_molecules(["CCl"], paper)
    np.testing.assert_array_equal(seq, [18, 18, 30, 0])  # C C l ' '
    inputs, targets, weights = mle.window_arrays([seq], 5, 0)
    np.testing.assert_array_equal(inputs, [[18, 18, 30, 0]])
    np.testing.assert_array_equal(targets, [[18, 30, 0, 0]])  # the first C is never a target
    np.testing.assert_array_equal(weights, [[1, 1, 1, 0]])


def test_no_command_replaces_a_file_of_a_train_prior_run_even_with_overwrite(run, tmp_path, capsys):
    """A `molecules train-prior` run is a training run: `--overwrite` of another command may not
    replace its files (a user lost the trained model this way) nor the run directory itself."""
    history = os.path.join(run, "history.json")
    before = open(history).read()
    smi = tmp_path / "in.smi"
    smi.write_text("CCO\n")
    assert run_main(cli.main, ["score", "--smiles", str(smi), "--out", history, "--overwrite"]) == 2
    assert "is part of the training run" in capsys.readouterr().err
    assert run_main(cli.main, ["sample", "--model", os.path.join(run, "model"), "--num", "2",
                               "--out", os.path.join(run, "model", "config.json"), "--overwrite"]) == 2
    capsys.readouterr()
    assert run_main(cli.main, ["prepare", "--source", str(smi), "--out", run, "--overwrite", "--workers", "1",
                               "--no-progress"]) == 2
    assert "training run" in capsys.readouterr().err
    assert open(history).read() == before
    from molecules import prior
    prior.load(run)  # the model is intact
