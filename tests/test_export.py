"""Behaviour tests of the SavedModel export (rl_tuner.models.export).

The exported models are loaded in a separate Python process with a clean environment (no
PYTHONPATH, no TF_USE_LEGACY_KERAS, cwd outside the project), so neither note_rnn nor
rl_tuner can be imported there; the sampled tokens must equal rl_tuner.runner.evaluate.sample_policy's.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import tensorflow as tf  # noqa: E402,F401

from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.runner import evaluate, policy as policy_lib  # noqa: E402
from rl_tuner.models import export  # noqa: E402

NUM, LENGTH, TEMPERATURE, SEED, OTHER_SEED = 6, 20, 0.8, 7, 8

CHILD = textwrap.dedent("""
    import json, os, sys
    assert "TF_USE_LEGACY_KERAS" not in os.environ
    import tensorflow as tf
    out = {}
    for name in sys.argv[1:]:
        m = tf.saved_model.load(name)
        full = m.generate(num_samples=NUM, max_length=LENGTH, temperature=TEMPERATURE, seed=SEED)
        a = full["tokens"]
        b = m.signatures["generate"](num_samples=tf.constant(NUM), max_length=tf.constant(LENGTH),
                                     temperature=tf.constant(TEMPERATURE),
                                     seed=tf.constant(SEED))["tokens"]
        c = m.generate(num_samples=NUM, max_length=LENGTH, temperature=TEMPERATURE, seed=OTHER_SEED)["tokens"]
        cold = m.generate(num_samples=NUM, max_length=LENGTH, temperature=1e-4, seed=SEED)["tokens"]
        d = m.signatures["serving_default"](num_samples=tf.constant(2), max_length=tf.constant(3),
                                           temperature=tf.constant(1.0), seed=tf.constant(0))
        # int32 tensors (tf.constant's default) and Python numbers, mixed, as a user passes them
        e = m.generate(num_samples=tf.constant(NUM), max_length=LENGTH, temperature=TEMPERATURE,
                       seed=tf.constant(SEED, tf.int32))["tokens"]
        hot = m.generate(num_samples=500, max_length=LENGTH, temperature=1e9, seed=SEED)
        refused = {}
        for bad in ("inf", "nan", "0.0", "-1.0", "1e-46", "1e-40", "9.9e-07", "1.01e9", "1e39"):
            try:
                m.generate(num_samples=2, max_length=3, temperature=float(bad), seed=0)
                refused[bad] = None
            except tf.errors.InvalidArgumentError as error:
                refused[bad] = error.message
        ends = [m.generate(num_samples=2, max_length=3, temperature=float(t), seed=0)["tokens"].shape.as_list()
                for t in ("1e-06", "1e9")]
        specs = [(s.name, s.dtype.name) for s in
                 tf.nest.flatten(m.signatures["generate"].structured_input_signature)]
        out[name] = {"method": a.numpy().tolist(), "signature": b.numpy().tolist(),
                     "lengths": full["lengths"].numpy().tolist(), "output_keys": sorted(full),
                     "strings": [x.decode() for x in full["strings"].numpy()] if "strings" in full else None,
                     "other_seed": c.numpy().tolist(), "cold": cold.numpy().tolist(), "dtype": a.dtype.name, "sig_dtype": b.dtype.name,
                     "serving_shape": list(d["tokens"].shape), "int32_tensors": e.numpy().tolist(),
                     "input_dtypes": sorted(specs), "hot": hot["tokens"].numpy().tolist(),
                     "hot_lengths": hot["lengths"].numpy().tolist(),
                     "hot_strings": [x.decode() for x in hot["strings"].numpy()] if "strings" in hot else None,
                     "refused": refused, "ends": ends}
    out["modules"] = sorted(k for k in sys.modules if k.split(".")[0] in ("note_rnn", "rl_tuner"))
    print("RESULT " + json.dumps(out))
""").replace("NUM", str(NUM)).replace("LENGTH", str(LENGTH)).replace("TEMPERATURE", str(TEMPERATURE)) \
    .replace("OTHER_SEED", str(OTHER_SEED)).replace("SEED", str(SEED))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exports a tuned 'g' policy and a plain Note-RNN policy, then loads both in a subprocess."""
    root = tmp_path_factory.mktemp("export")
    prior = model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=0, name="prior_rnn")
    q_rnn = model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=1, name="q_rnn")
    # Larger Q weights, so that the tuned policy is clearly not the prior.
    q_rnn.dense.kernel.assign(q_rnn.dense.kernel * 8.0)
    policies = {"g": policy_lib.Policy(prior, q_rnn, "g"), "mle": policy_lib.Policy(prior)}
    for name, pol in policies.items():
        export.export(pol, str(root / name))
    # A task with an end token (0) and a vocabulary: lengths and strings.
    small = model_lib.build(model_lib.SequenceRNNConfig(num_classes=4, layer_sizes=(8,)), seed=3, name="small")
    policies["ended"] = policy_lib.Policy(small)
    export.export(policies["ended"], str(root / "ended"), end_token=0, vocabulary=(".", "C", "c1", "O"), task="toy")
    # A begin token (1) that only primes: never drawn by generate(), at any temperature.
    policies["begin"] = policy_lib.Policy(small)
    export.export(policies["begin"], str(root / "begin"), end_token=0, vocabulary=("<eos>", "<bos>", "C", "O"),
                  task="toy", first_tokens=[1], never_sampled=[1])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_USE_LEGACY_KERAS")}
    proc = subprocess.run([sys.executable, "-c", CHILD, *policies], cwd=str(root), env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return root, policies, json.loads(line[len("RESULT "):])


def test_child_process_did_not_import_the_project(exported):
    _, _, result = exported
    assert result["modules"] == []


@pytest.mark.parametrize("name", ["g", "mle"])
def test_exported_tokens_equal_in_process_sampling(exported, name):
    _, policies, result = exported
    expected = evaluate.sample_policy(policies[name], NUM, LENGTH, TEMPERATURE, SEED)["tokens"]
    got = np.array(result[name]["method"])
    assert got.shape == (NUM, LENGTH) and expected.shape == (NUM, LENGTH)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.array(result[name]["signature"]), expected)
    other = evaluate.sample_policy(policies[name], NUM, LENGTH, TEMPERATURE, OTHER_SEED)["tokens"]
    np.testing.assert_array_equal(np.array(result[name]["other_seed"]), other)


@pytest.mark.parametrize("name", ["g", "mle"])
def test_exported_tokens_shape_dtype_range_and_seed(exported, name):
    _, _, result = exported
    tokens = np.array(result[name]["method"])
    assert result[name]["dtype"] == "int32" and result[name]["sig_dtype"] == "int32"
    assert tokens.shape == (NUM, LENGTH)
    assert tokens.min() >= 0 and tokens.max() <= 37
    assert not np.array_equal(tokens, np.array(result[name]["other_seed"]))  # another seed, other melodies
    assert result[name]["serving_shape"] == [2, 3]


@pytest.mark.parametrize("name", ["g", "mle"])
def test_temperature_near_zero_is_greedy(exported, name):
    # At temperature 1e-4 every note is the argmax of the policy logits given the melody so far (the priming token is drawn with the stateless seed (seed, -1)).
    _, policies, result = exported
    pol = policies[name]
    cold = np.array(result[name]["cold"])
    np.testing.assert_array_equal(cold, evaluate.sample_policy(pol, NUM, LENGTH, 1e-4, SEED)["tokens"])
    token = tf.random.stateless_uniform([NUM], seed=tf.constant([SEED, -1], tf.int64), maxval=38, dtype=tf.int32)
    state = pol.zero_state(NUM)
    for t in range(LENGTH):
        logits, _, state = pol.step(token, state)
        logits = logits.numpy()
        chosen = logits[np.arange(NUM), cold[:, t]]
        # the argmax, up to near-ties of the tiny random network (a logit gap of 1e-3 is
        # e^-10 at temperature 1e-4)
        np.testing.assert_array_less(logits.max(axis=-1) - chosen, 1e-3)
        token = tf.constant(cold[:, t], tf.int32)
    assert not np.array_equal(cold, np.array(result[name]["method"]))


@pytest.mark.parametrize("name", ["g", "mle"])
def test_inputs_are_int32_and_int32_or_python_seeds_work(exported, name):
    # issue 8: seed was int64 while the other integers were int32, and tf.constant(0) as a seed failed.
    _, _, result = exported
    assert result[name]["input_dtypes"] == [["max_length", "int32"], ["num_samples", "int32"], ["seed", "int32"],
                                            ["temperature", "float32"]]
    np.testing.assert_array_equal(np.array(result[name]["int32_tensors"]), np.array(result[name]["method"]))
    np.testing.assert_array_equal(np.array(result[name]["signature"]), np.array(result[name]["method"]))


def test_tuned_policy_differs_from_prior(exported):
    _, _, result = exported
    assert not np.array_equal(np.array(result["g"]["method"]), np.array(result["mle"]["method"]))


def test_export_info(exported):
    root, _, _ = exported
    assert export.load_info(str(root / "g"))["algorithm"] == "g"
    assert export.load_info(str(root / "mle"))["algorithm"] == "mle"
    assert export.load_info(str(root / "g"))["num_classes"] == 38
    assert "seed: int32" in export.load_info(str(root / "g"))["signature"]


def test_in_process_g_policy_is_prior_weighted(exported):
    # The g policy's logits are Q + log p: check one step against the two networks directly.
    _, policies, _ = exported
    pol = policies["g"]
    tokens = tf.constant([3, 14], tf.int32)
    logits, log_prior, _ = pol.step(tokens, pol.zero_state(2))
    values, _ = pol.q_rnn.step(tokens, pol.q_rnn.zero_state(2))
    prior_logits, _ = pol.prior_rnn.step(tokens, pol.prior_rnn.zero_state(2))
    np.testing.assert_allclose(log_prior.numpy(), tf.nn.log_softmax(prior_logits).numpy(), rtol=1e-6)
    np.testing.assert_allclose(logits.numpy(), values.numpy() + log_prior.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["g", "mle"])
def test_without_an_end_token_every_length_is_max_length_and_there_are_no_strings(exported, name):
    _, _, result = exported
    assert result[name]["lengths"] == [LENGTH] * NUM
    assert result[name]["output_keys"] == ["lengths", "tokens"] and result[name]["strings"] is None


def test_an_end_token_gives_lengths_and_the_vocabulary_gives_strings(exported):
    root, policies, result = exported
    expected = evaluate.sample_policy(policies["ended"], NUM, LENGTH, TEMPERATURE, SEED, end_token=0)
    tokens, lengths = np.array(result["ended"]["method"]), np.array(result["ended"]["lengths"])
    np.testing.assert_array_equal(tokens, expected["tokens"])
    np.testing.assert_array_equal(lengths, expected["lengths"])
    assert result["ended"]["output_keys"] == ["lengths", "strings", "tokens"]
    symbols = (".", "C", "c1", "O")
    assert result["ended"]["strings"] == ["".join(symbols[t] for t in row[:n] if t != 0)
                                          for row, n in zip(tokens, lengths)]
    assert (lengths < LENGTH).any() and (tokens[lengths < LENGTH, -1] == 0).all()  # some ended, padded with 0
    info = export.load_info(str(root / "ended"))
    assert info["end_token"] == 0 and info["task"] == "toy" and "'strings': string" in info["signature"]


def test_never_sampled_tokens_are_never_drawn_by_the_savedmodel_even_at_temperature_1e9(exported):
    """The SMILES SavedModel wrote ``<bos>`` inside molecules at high temperature (issue 18)."""
    root, policies, result = exported
    assert export.load_info(str(root / "begin"))["never_sampled"] == [1]
    assert export.load_info(str(root / "ended"))["never_sampled"] is None
    for name, masked in (("begin", True), ("ended", False)):
        tokens, lengths = np.array(result[name]["hot"]), np.array(result[name]["hot_lengths"])
        inside = np.arange(LENGTH)[None, :] < lengths[:, None]
        drawn = set(tokens[inside].tolist())
        if masked:
            assert drawn == {0, 2, 3}  # everything but the begin token
            assert not any("<bos>" in s for s in result[name]["hot_strings"])
        else:
            assert drawn == {0, 1, 2, 3}  # the same model without the mask draws token 1
    # the same draws as the in-process sampler with the same never-sampled tokens
    expected = evaluate.sample_policy(policies["begin"], 500, LENGTH, 1e9, SEED, end_token=0, first_tokens=[1],
                               never_sampled=[1])
    np.testing.assert_array_equal(np.array(result["begin"]["hot"]), expected["tokens"])


@pytest.mark.parametrize("name", ["g", "mle", "begin"])
def test_savedmodel_refuses_the_temperatures_the_command_line_refuses(exported, name):
    """The SavedModel accepted temperature=inf, which the CLI refuses, and both accepted 1e-46 (0 in float32)
    and 1e-40 (subnormal): one rule for all, in float32."""
    from rl_tuner import sampling_args
    from rl_tuner.plumbing.cli_utils import range_type
    _, _, result = exported
    assert result[name]["ends"] == [[2, 3], [2, 3]]  # the range's ends are sampled with
    for bad, message in result[name]["refused"].items():
        assert message is not None, bad
        assert "temperature must be in [1e-06, 1000000000], got" in message, message
        with pytest.raises(ValueError, match=r"^temperature must be in \[1e-06, 1000000000\], got "):
            sampling_args.check_sampling_args(2, 3, float(bad))
        import argparse
        with pytest.raises(argparse.ArgumentTypeError, match=r"^must be in \[1e-06, 1000000000\], got "):
            range_type(float, sampling_args.TEMPERATURE)(bad)
