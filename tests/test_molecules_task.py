"""The ``smiles`` task (molecules.task) on tiny trained SMILES-RNNs: tokens from the prior's
vocabulary, decoding, statistics, the reward/prior check, one short ``rl-tuner train`` and
``export``; the sample files (molecules.media)."""

import json
import os
import re
import sys
import types

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
from molecules import data, evaluation, media, rewards, task as task_lib, tokenizers  # noqa: E402
from molecules.environment import SmilesEnvironment  # noqa: E402
from rl_tuner.plumbing import checkpoint  # noqa: E402
from rl_tuner import cli as rl_cli, tasks  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from molecule_fixtures import prepare_tiny, train_prior  # noqa: E402


@pytest.fixture(scope="module")
def priors(tmp_path_factory):
    """{"char": a one-epoch SMILES-RNN (one LSTM layer of 8) of the 35 characters, "atom": an
    untrained one with the data set's atom vocabulary (training is tested in test_molecules_prior)}."""
    root = tmp_path_factory.mktemp("task_priors")
    dataset = prepare_tiny(root)
    run = str(root / "prior_char")
    assert train_prior(dataset, run, "--epochs", "1", "--tokenizer", "char") == 0
    atom = str(root / "prior_atom")
    symbols = data.load_tokenizer(dataset).symbols
    checkpoint.save_model(atom, model_lib.build(model_lib.SequenceRNNConfig(
        num_classes=len(symbols), layer_sizes=(8,), vocabulary=symbols), seed=0))
    return {"char": os.path.join(run, "model"), "atom": atom}


def _loaded(path):
    task = task_lib.SmilesTask()
    task.load_prior(path)
    return task


def _config(reward_mode, algorithm="psi"):
    return types.SimpleNamespace(reward_mode=reward_mode, algorithm=algorithm, num_envs=3, max_length=20)


def test_get_task_finds_the_smiles_task():
    task = tasks.get_task("smiles")
    assert isinstance(task, task_lib.SmilesTask) and "smiles" in tasks.available()
    assert set(task.presets) == {"paper", "default"} and task.presets["paper"]["c"] == pytest.approx(1 / 0.35)


def test_no_vocabulary_before_the_prior_is_loaded():
    task = task_lib.SmilesTask()
    assert task.vocabulary() is None
    for ask in (task.first_tokens, task.exploration_actions, lambda: task.decode([1, 2])):
        with pytest.raises(ValueError, match="^the smiles task has no vocabulary before its prior is loaded$"):
            ask()


def test_a_character_prior_sets_the_originals_tokens(priors):
    task = _loaded(priors["char"])
    assert task.num_classes == 35 and task.end_token == 0
    assert task.vocabulary() == tokenizers.PAPER_SYMBOLS
    assert task.first_tokens() == list(range(1, 34)) and task.exploration_actions() == list(range(1, 34))
    c, o, end = 18, 23, 0
    assert task.decode([c, c, o, end, c]) == "CCO" and task.decode([c, o]) == "CO"


def test_an_atom_prior_primes_with_bos(priors):
    task = _loaded(priors["atom"])
    tok = task.tokenizer
    assert tok.kind == "atom" and task.num_classes == tok.vocab_size and task.end_token == 0
    assert task.first_tokens() == [1] and task.exploration_actions() == list(range(2, tok.vocab_size))
    c, o = tok.index["C"], tok.index["O"]
    assert task.decode([c, c, o, 0, c]) == "CCO" and task.decode([c, o]) == "CO"
    # A <bos> the policy wrote stays as text: no molecule, as the environment scored it.
    assert task.decode([c, 1, o]) == "C<bos>O"
    from molecules import chem
    assert chem.parse(task.decode([c, 1, o])) is None


def test_measure_is_the_statistics_of_the_decoded_smiles(priors):
    task = _loaded(priors["char"])
    texts = ["CCO", "c1ccccc1", "C1CC", "OCC", "", "CC(=O)O"]
    rows = [task.tokenizer.encode(t) for t in texts]  # chars + ' '
    tokens = np.zeros((len(rows), 10), np.int32)
    for i, r in enumerate(rows):
        tokens[i, :len(r)] = r
    tokens[1, 9] = 18  # after the end token: ignored
    lengths = np.array([len(r) for r in rows])
    assert task.smiles(tokens, lengths) == texts
    stats = task.measure(tokens, lengths)
    assert stats == evaluation.statistics(texts, reward_mode="default")
    assert stats["valid"] == 4 / 6 and stats["unique"] == 3 / 4
    # mean_reward under the default preset, invalid ones included: "C1CC" and "" are invalid and
    # shorter than 13 tokens (0 + the short penalty -1000); the valid ones pay 600 + 10 P - 1000
    reward = rewards.DomainReward(rewards.make_preset("default"))
    assert reward.finished("C1CC") == reward.finished("") == -1000.0
    assert stats["mean_reward"] == pytest.approx(sum(reward.finished(t) for t in texts) / 6)
    assert stats["mean_reward"] == pytest.approx(-472.2, abs=0.1)


def test_make_environment_follows_the_reward_preset(priors):
    char, atom = _loaded(priors["char"]), _loaded(priors["atom"])
    env = char.make_environment(_config("paper"))
    assert isinstance(env, SmilesEnvironment) and env.num_actions == 35 and env.num_envs == 3
    assert env.max_length == 20 and env.adds_log_prior and env.reward.preset.name == "paper"
    assert not char.make_environment(_config("paper", "g")).adds_log_prior
    env = atom.make_environment(_config("default", "q"))
    assert env.reward.preset.name == "default" and env.adds_log_prior and env.num_actions == atom.num_classes
    with pytest.raises(ValueError, match=r"the paper reward counts char tokens but the prior has the \d+-symbol atom "
                                         r"vocabulary; use checkpoints/smiles_rnn_paper \(35 characters\) or the "
                                         r"other --reward-mode"):
        atom.make_environment(_config("paper"))
    with pytest.raises(ValueError, match=r"the default reward counts atom tokens but the prior has the 35-symbol "
                                         r"char vocabulary; use an atom-level prior \(checkpoints/smiles_rnn\)"):
        char.make_environment(_config("default"))


def test_train_with_the_paper_preset_then_export(priors, tmp_path, capsys):
    out = str(tmp_path / "run")
    steps = 8 * 20
    argv = ["train", "--task", "smiles", "--prior", priors["char"], "--preset", "paper", "--reward-mode", "paper",
            "--steps", str(steps), "--num-envs", "8", "--num-notes", "20", "--batch-size", "16",
            "--replay-capacity", "1000", "--eval-every", str(steps), "--eval-samples", "20",
            "--final-eval-samples", "20", "--num-samples", "4", "--out", out, "--quiet"]
    assert rl_cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Table-2 statistics of 20 sampled molecules (psi" in printed
    with open(os.path.join(out, "stats.json")) as f:
        stats = json.load(f)
    for when in ("before", "after"):
        assert set(evaluation.TABLE_2_KEYS) <= set(stats[when])
        assert stats[when]["num_samples"] == 20 and 0 <= stats[when]["valid"] <= 1
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    assert config["task"] == "smiles" and config["algorithm"] == "psi" and config["max_length"] == 20
    sample_dirs = sorted(os.listdir(os.path.join(out, "samples")))
    assert sample_dirs and sample_dirs[-1] == f"step_{steps:08d}"
    for d in sample_dirs:
        with open(os.path.join(out, "samples", d, "molecules.smi")) as f:
            lines = f.read().split("\n")
        assert len(lines) == 5 and lines[-1] == ""  # 4 SMILES, each ending in a newline
    capsys.readouterr()
    assert rl_cli.main(argv) == 0
    assert f"The psi run in {out} is complete ({steps} steps, --steps {steps})" in "".join(capsys.readouterr())

    exported = str(tmp_path / "exported")
    assert rl_cli.main(["export", "--model", out, "--out", exported]) == 0
    with open(os.path.join(exported, "policy.json")) as f:
        info = json.load(f)
    assert info["task"] == "smiles" and info["end_token"] == 0 and info["first_tokens"] == list(range(1, 34))
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    module = tf.saved_model.load(exported)  # kept: generate needs the module's variables alive
    result = module.generate(num_samples=6, max_length=20, temperature=1.0, seed=3)
    tokens, lengths = result["tokens"].numpy(), result["lengths"].numpy()
    strings = [s.decode() for s in result["strings"].numpy()]
    task = _loaded(priors["char"])
    assert strings == [task.decode(row[:n]) for row, n in zip(tokens, lengths)]
    assert tokens.shape == (6, 20) and ((tokens >= 0) & (tokens < 35)).all()
    # the same tokens as in-process sampling with the task's primers 1..33
    from rl_tuner.runner import evaluate, policy  # pylint: disable=import-outside-toplevel
    expected = evaluate.sample_policy(policy.load_policy(out, task=task), 6, 20, 1.0, 3, end_token=0,
                               first_tokens=task.first_tokens())
    np.testing.assert_array_equal(tokens, expected["tokens"])
    np.testing.assert_array_equal(lengths, expected["lengths"])

    # rl-tuner evaluate finds the task in the run and measures molecules
    assert rl_cli.main(["evaluate", "--model", out, "--num-samples", "12", "--length", "20",
                        "--out", str(tmp_path / "eval.json")]) == 0
    with open(tmp_path / "eval.json") as f:
        result = json.load(f)
    assert result["task"] == "smiles" and result["num_samples"] == 12 and 0 <= result["valid"] <= 1


# --- media ---------------------------------------------------------------------------------


def test_write_molecules_writes_the_smiles_and_a_grid_of_the_valid_ones(tmp_path):
    from PIL import Image  # pylint: disable=import-outside-toplevel
    out = tmp_path / "s"
    media.write_molecules(["CCO", "", "C1CC", "c1ccccc1"], str(out))
    assert (out / "molecules.smi").read_bytes() == b"CCO\n\nC1CC\nc1ccccc1\n"
    with Image.open(out / "grid.png") as image:  # two valid molecules: one row of 4 cells
        assert image.size == (media.GRID_COLUMNS * media.CELL_PIXELS, media.CELL_PIXELS)


def test_write_molecules_to_tensorboard(tmp_path):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    media.write_molecules(["CCO", "C1CC"], str(tmp_path / "s"), writer=writer, step=7)
    writer.flush()
    (events,) = [os.path.join(tmp_path, "logs", f) for f in os.listdir(tmp_path / "logs")]
    tags = {(v.tag, e.step) for e in tf.compat.v1.train.summary_iterator(events) for v in e.summary.value}
    assert tags == {("samples/molecules", 7), ("samples/smiles", 7)}


def test_no_grid_without_a_valid_smiles(tmp_path):
    out = tmp_path / "s"
    media.write_molecules(["C1CC", "", "C("], str(out))
    assert (out / "molecules.smi").read_text() == "C1CC\n\nC(\n"
    assert not (out / "grid.png").exists()
    assert media.grid_image(["C1CC"]) is None
    media.write_molecules([], str(out))
    assert (out / "molecules.smi").read_bytes() == b""


# --------------------------------------------------------------------------- molecules sample / evaluate
def test_molecules_sample_and_evaluate_commands(priors, tmp_path, capsys):
    """`molecules sample` writes one line per sample (same seed, same lines, equal to the core's
    sampler decoded); `molecules evaluate` writes Table 2 + MOSES metrics equal to
    evaluation.statistics of the same samples, with novel against the data set's train split;
    both refuse to overwrite a file they did not write."""
    from molecules import cli as mol_cli, sampling
    from rl_tuner.plumbing.cli_utils import run_main
    model = priors["char"]
    out = tmp_path / "mols.smi"
    assert mol_cli.main(["sample", "--model", model, "--num", "30", "--seed", "4", "--max-length", "40",
                         "--out", str(out)]) == 0
    lines = out.read_text().split("\n")
    assert len(lines) == 31 and lines[-1] == ""  # 30 lines, each ended by a newline
    expected = sampling.sample_smiles(model, 30, seed=4, max_length=40)[0]
    assert lines[:30] == expected
    # a second run may not replace the file without --overwrite; with it, the same lines
    assert run_main(mol_cli.main, ["sample", "--model", model, "--num", "30", "--seed", "4", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    dataset = os.path.dirname(os.path.dirname(model))  # the fixture's prepared data set lives beside the run
    dataset = next(os.path.join(dataset, d) for d in os.listdir(dataset)
                   if os.path.isfile(os.path.join(dataset, d, "summary.json")))
    stats_path = tmp_path / "stats.json"
    assert mol_cli.main(["evaluate", "--model", model, "--num", "30", "--seed", "4", "--max-length", "40",
                         "--data", dataset, "--workers", "1", "--out", str(stats_path)]) == 0
    result = json.loads(stats_path.read_text())
    assert result["written_by"] == "molecules evaluate"
    want = evaluation.statistics(expected, training=set(data.load_split(dataset, "train")), workers=1, seed=4)
    for key in evaluation.TABLE_2_KEYS + evaluation.MOSES_KEYS + ("duplicate", "num_valid"):
        assert result[key] == pytest.approx(want[key], nan_ok=True), key
    assert {"mean_log_prior", "mean_log_policy", "mean_kl", "mean_length", "sampling_seconds"} <= set(result)
    assert result["definitions"] == ('fractions 0..1; Table-2 means over valid molecules (BUILD.md, "Table 2"); '
                                     "unique, novel, internal_diversity as MOSES")  # cites no spec/ file
    printed = capsys.readouterr().out
    assert re.search(r"^novel +\d\.\d{4}$", printed, re.M)
    # its own earlier output is replaced; a file it did not write is not. Without --data there is
    # no novel, and the output says why (the README's quick start has no --data).
    assert mol_cli.main(["evaluate", "--model", model, "--num", "10", "--out", str(stats_path), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert ("novel                         -  (novel not computed: it needs --data DIR, a `molecules prepare` data "
            "set whose train split the molecules are compared with)\n") in printed
    result = json.loads(stats_path.read_text())
    assert "novel" not in result and result["definitions"].endswith("; " + sampling.NO_NOVEL)
    assert run_main(mol_cli.main, ["evaluate", "--model", model, "--num", "10", "--out", str(out)]) == 2
    assert out.read_text().split("\n")[:30] == expected  # nothing lost


def test_end_transitions_refuse_the_paper_presets_bootstrapped_last_step():
    from rl_tuner.runner.config import from_preset  # pylint: disable=import-outside-toplevel
    with pytest.raises(ValueError, match=r"^end_transitions store terminal transitions; they do not go with "
                                         r"bootstrap_final_step \(the last step bootstraps\)$"):
        from_preset("paper", task="smiles", end_transitions=0.25)
    assert from_preset("default", task="smiles", end_transitions=0.25).end_transitions == 0.25


def test_end_transitions_that_round_to_no_row_a_step_are_refused():
    """--end-transitions 1e-9 (or the preset's 0.25 of --num-envs 1) stored no end transition at all."""
    from rl_tuner.runner.config import from_preset  # pylint: disable=import-outside-toplevel
    for fraction, num_envs, least in ((1e-9, 256, "0.00390625"), (0.25, 1, "1"), (0.0625, 8, "0.125")):
        with pytest.raises(ValueError, match=f"^end_transitions {fraction:g} of num_envs {num_envs} stores no end "
                                             rf"transition \(round\({fraction:g} x {num_envs}\) = 0\); give at least "
                                             f"{least}, or 0$"):
            from_preset("default", task="smiles", end_transitions=fraction, num_envs=num_envs)
    assert from_preset("default", task="smiles", end_transitions=1.0, num_envs=8).end_transitions == 1.0
    assert from_preset("default", task="smiles", end_transitions=0.07, num_envs=8).end_transitions == 0.07  # 1 row
    assert from_preset("default", task="smiles", end_transitions=0.0, num_envs=1).end_transitions == 0.0


# --- Special tokens are never sampled (issue 18) -------------------------------------------------

HOT = 1e9  # every token equally likely: `molecules sample` wrote `NF<bos>-s5C(1-Cln` at this temperature


def test_bos_is_never_sampled_by_any_molecule_sampler_even_at_temperature_1e9(priors, tmp_path, capsys):
    from molecules import sampling
    from rl_tuner.runner import evaluate, policy
    from rl_tuner.models import sampling as core_sampling
    path = priors["atom"]
    task = _loaded(path)
    bos = task.tokenizer.begin_id
    assert task.never_sampled_tokens() == [bos] and _loaded(priors["char"]).never_sampled_tokens() is None
    model = checkpoint.load_model(path)
    # without the mask the begin token is drawn (the test can fail)
    unmasked = core_sampling.sample_model(model, 400, 30, HOT, seed=0)
    assert (unmasked == bos).sum() > 100
    masked = core_sampling.sample_model(model, 400, 30, HOT, seed=0, never_sampled=[bos])
    assert (masked != bos).all() and len(set(masked.ravel().tolist())) == task.num_classes - 1
    # `molecules sample` and `molecules evaluate`
    out = tmp_path / "hot.smi"
    assert task_cli_main(["sample", "--model", path, "--num", "400", "--max-length", "30", "--temperature", "1e9",
                          "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 400 and not any("<bos>" in line for line in lines)
    smiles, samples, pol, _ = sampling.sample_smiles(path, 400, 1, HOT, 30)
    assert pol.never_sampled == (bos,) and not any("<bos>" in s for s in smiles)
    assert (samples["tokens"] != bos).all()
    # the Python API (rl_tuner.load_policy with the task, rl_tuner.sample) and rl-tuner evaluate's sampler
    api_policy = rl_tuner.load_policy(path, task=task)
    assert (rl_tuner.sample(api_policy, 400, 30, HOT, seed=2) != bos).all()
    stats = evaluate.evaluate_policy(policy.Policy(model), 400, 30, seed=3, temperature=HOT, task=task)
    assert stats["num_samples"] == 400
    assert (evaluate.sample_policy(policy.Policy(model), 400, 30, HOT, 3, never_sampled=[bos])["tokens"] != bos).all()
    capsys.readouterr()


def task_cli_main(argv):
    from molecules import cli as molecules_cli
    return molecules_cli.main(argv)


def test_bos_is_never_sampled_by_an_exported_smiles_policy(priors, tmp_path):
    import tensorflow as tf
    exported = str(tmp_path / "exported")
    assert rl_cli.main(["export", "--task", "smiles", "--model", priors["atom"], "--out", exported]) == 0
    with open(os.path.join(exported, "policy.json")) as f:
        assert json.load(f)["never_sampled"] == [1]
    module = tf.saved_model.load(exported)
    result = module.generate(num_samples=400, max_length=30, temperature=HOT, seed=0)
    tokens, lengths = result["tokens"].numpy(), result["lengths"].numpy()
    inside = np.arange(30)[None, :] < lengths[:, None]
    assert 1 not in set(tokens[inside].tolist()) and len(set(tokens[inside].tolist())) > 10
    assert not any(b"<bos>" in s for s in result["strings"].numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"temperature must be in \[1e-06, 1000000000\], got"):
        module.generate(num_samples=2, max_length=3, temperature=float("inf"), seed=0)


def test_sample_refuses_an_infinite_temperature(priors, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        task_cli_main(["sample", "--model", priors["atom"], "--temperature", "inf", "--out", str(tmp_path / "x.smi")])
    assert e.value.code == 2
    assert "argument --temperature: must be in [1e-06, 1000000000], got inf" in capsys.readouterr().err


def test_evaluate_reports_mean_reward_under_the_runs_own_preset(tmp_path):
    from molecules import sampling
    run = tmp_path / "run"
    (run / "policy").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": "smiles", "reward_mode": "paper"}))
    assert sampling.run_reward_mode(str(run)) == "paper"
    assert sampling.run_reward_mode(str(run / "policy")) == "paper"  # a policy folder inside the run
    (tmp_path / "melody").mkdir()
    (tmp_path / "melody" / "config.json").write_text(json.dumps({"task": "melody", "reward_mode": "x"}))
    assert sampling.run_reward_mode(str(tmp_path / "melody")) == "default"
    assert sampling.run_reward_mode(str(tmp_path / "nothing")) == "default"
