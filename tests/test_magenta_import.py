"""Tests of note_rnn.magenta: reading Magenta TF1 checkpoints and converting them exactly.

Every converted model is checked against a NumPy implementation of the TF1 LSTMCell
equations computed from the raw checkpoint arrays.
"""

import json
import os
import pathlib

import numpy as np
import pytest

import note_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from rl_tuner.plumbing import checkpoint
from note_rnn import magenta

import tensorflow as tf  # noqa: E402  (after note_rnn)

ROOT = pathlib.Path(__file__).resolve().parent.parent
REAL_CKPT = ROOT.parent / "shared" / "magenta" / "model.ckpt-1994"
NUM_CLASSES = 38
TOL = 1e-5
pytestmark = [pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning"),  # note_seq -> pydub
              pytest.mark.filterwarnings("ignore:Couldn't find ffmpeg:RuntimeWarning")]


# --- NumPy reference of the TF1 graph -------------------------------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def tf1_reference_logits(layers, w_fc, b_fc, tokens, forget_bias=1.0):
    """Logits of a TF1 MultiRNNCell of LSTMCells + linear output, from the zero state.

    Args:
      layers: list of raw TF1 (W [in + H, 4H], b [4H]) with gate blocks (i, j, f, o).
      w_fc, b_fc: output layer [H_last, 38], [38].
      tokens: int [B, T].

    Returns:
      float64 [B, T, 38].
    """
    tokens = np.asarray(tokens)
    batch, steps = tokens.shape
    state = [(np.zeros((batch, len(b) // 4)), np.zeros((batch, len(b) // 4))) for _, b in layers]
    out = np.zeros((batch, steps, NUM_CLASSES))
    for t in range(steps):
        x = np.eye(NUM_CLASSES)[tokens[:, t]]
        for k, (w, b) in enumerate(layers):
            c, h = state[k]
            z = np.concatenate([x, h], axis=1) @ np.float64(w) + np.float64(b)
            i, j, f, o = np.split(z, 4, axis=1)
            c = _sigmoid(f + forget_bias) * c + _sigmoid(i) * np.tanh(j)
            h = _sigmoid(o) * np.tanh(c)
            state[k] = (c, h)
            x = h
        out[:, t] = x @ np.float64(w_fc) + np.float64(b_fc)
    return out


def _token_batches(seed=0):
    rng = np.random.default_rng(seed)
    return [np.array([[14]]),
            np.array([[14, 0, 16, 0, 18, 1, 19, 0, 0, 21, 23, 0, 26, 1, 2, 37]]),
            rng.integers(0, NUM_CLASSES, size=(3, 20))]


def max_logit_diff(model, layers, w_fc, b_fc):
    """Max |converted - reference| over several token batches."""
    return max(float(np.max(np.abs(model.sequence_logits(t) - tf1_reference_logits(layers, w_fc, b_fc, t))))
               for t in _token_batches())


# --- writing synthetic TF1 checkpoints -----------------------------------------------------------
def save_tf1(prefix, variables, version="V2", global_step=None):
    """Saves ``variables`` (name -> array) with a tf.compat.v1 Saver; returns the checkpoint path."""
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        for name, value in variables.items():
            tf.compat.v1.Variable(value, name=name)
        write_version = tf.compat.v1.train.SaverDef.V1 if version == "V1" else tf.compat.v1.train.SaverDef.V2
        saver = tf.compat.v1.train.Saver(write_version=write_version)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return saver.save(sess, str(prefix), global_step=global_step, write_meta_graph=False)


SCHEMES = {  # name -> (cell path format for layer k, kernel name, bias name)
    "tf0_lstm": ("RNN/MultiRNNCell/Cell{k}/LSTMCell", "W_0", "B"),
    "tf0_basic": ("RNN/MultiRNNCell/Cell{k}/BasicLSTMCell", "Linear/Matrix", "Linear/Bias"),
    "tf10_lstm": ("rnn/multi_rnn_cell/cell_{k}/lstm_cell", "weights", "biases"),
    "tf13_basic": ("rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell", "kernel", "bias"),
    "tf13_lstm": ("rnn/multi_rnn_cell/cell_{k}/lstm_cell", "kernel", "bias"),
}


def make_network(rng, scheme, sizes, scope="", fc_bias="bias", slots=(), out_classes=NUM_CLASSES):
    """Random TF1 Note-RNN variables; returns (variables dict, raw layers, w_fc, b_fc)."""
    cell, kernel, bias = SCHEMES[scheme]
    variables, layers, n_in = {}, [], NUM_CLASSES
    for k, h in enumerate(sizes):
        w = rng.normal(0, 0.5, (n_in + h, 4 * h)).astype(np.float32)
        b = rng.normal(0, 0.5, 4 * h).astype(np.float32)
        variables[f"{scope}{cell.format(k=k)}/{kernel}"] = w
        variables[f"{scope}{cell.format(k=k)}/{bias}"] = b
        layers.append((w, b))
        n_in = h
    w_fc = rng.normal(0, 0.5, (n_in, out_classes)).astype(np.float32)
    b_fc = rng.normal(0, 0.5, out_classes).astype(np.float32)
    variables[f"{scope}fully_connected/weights"] = w_fc
    variables[f"{scope}fully_connected/{fc_bias}"] = b_fc
    for slot in slots:
        for name in [n for n in variables if not n.endswith(tuple(slots))]:
            variables[f"{scope}{name}/{slot}"] = np.ones_like(variables[name])
    return variables, layers, w_fc, b_fc


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """Synthetic checkpoints: name -> (path, raw layers, w_fc, b_fc)."""
    rng = np.random.default_rng(1234)
    root = tmp_path_factory.mktemp("magenta")
    out = {}

    def add(name, version, *args, extra=None, **kwargs):
        variables, layers, w_fc, b_fc = make_network(rng, *args, **kwargs)
        variables.update(extra or {})
        path = save_tf1(root / name / "model.ckpt", variables, version, global_step=7)
        out[name] = (path, layers, w_fc, b_fc)

    add("tf0_lstm_v1", "V1", "tf0_lstm", [16], scope="rnn_model/", slots=("Adagrad",),
        extra={"rnn_model/global_step": np.int32(1994)})
    add("tf0_basic_v2", "V2", "tf0_basic", [16, 12])
    add("tf10_lstm_v2", "V2", "tf10_lstm", [16], scope="rnn_model/", fc_bias="biases")
    add("tf13_basic_v1", "V1", "tf13_basic", [16, 16], fc_bias="biases", slots=("Adam", "Adam_1"),
        extra={"beta1_power": np.float32(0.9), "beta2_power": np.float32(0.999), "global_step": np.int64(3)})
    add("tf13_lstm_v2", "V2", "tf13_lstm", [16], scope="q_network/")
    add("wrong_output", "V2", "tf13_lstm", [16], out_classes=40)
    add("wrong_input", "V2", "tf0_lstm", [16],
        extra={"RNN/MultiRNNCell/Cell0/LSTMCell/W_0": np.zeros((58, 64), np.float32)})

    # An RL Tuner-like checkpoint with three networks.
    nets = {s: make_network(rng, "tf13_lstm", [16], scope=s + "/")
            for s in ("q_network", "target_q_network", "reward_rnn")}
    merged = {k: v for net in nets.values() for k, v in net[0].items()}
    path = save_tf1(root / "rl_tuner" / "model.ckpt", {**merged, "global_step": np.int64(5)})
    out.update({f"rl_tuner/{s}": (path,) + net[1:] for s, net in nets.items()})
    two = {k: v for s in ("a", "b") for k, v in make_network(rng, "tf13_lstm", [16], scope=s + "/")[0].items()}
    out["two_nets"] = (save_tf1(root / "two_nets" / "model.ckpt", two),)

    # A directory with a state file naming the second of two checkpoints.
    save_tf1(root / "state_dir" / "model.ckpt", make_network(rng, "tf13_lstm", [16])[0], global_step=1)
    variables, layers, w_fc, b_fc = make_network(rng, "tf13_lstm", [16])
    save_tf1(root / "state_dir" / "model.ckpt", variables, global_step=2)
    out["state_dir"] = (str(root / "state_dir"), layers, w_fc, b_fc)

    # A .mag bundle: checkpoint_file[0] holds the bytes of a V1 checkpoint.
    from note_seq.protobuf import generator_pb2
    v1_path, layers, w_fc, b_fc = out["tf13_basic_v1"]
    bundle = generator_pb2.GeneratorBundle()
    bundle.generator_details.id = "basic_rnn"
    bundle.checkpoint_file.append(pathlib.Path(v1_path).read_bytes())
    (root / "basic_rnn.mag").write_bytes(bundle.SerializeToString())
    out["mag"] = (str(root / "basic_rnn.mag"), layers, w_fc, b_fc)

    (root / "unknown").mkdir()
    out["unknown"] = (save_tf1(root / "unknown" / "model.ckpt", {"foo/bar": np.zeros((10, 10), np.float32),
                                                                 "baz": np.zeros(3, np.float32)}),)
    (root / "random.bin").write_bytes(np.random.default_rng(0).bytes(4096))
    out["random"] = (str(root / "random.bin"),)
    out["root"] = (str(root),)
    return out


# --- the real checkpoint -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real():
    if not REAL_CKPT.is_file():
        pytest.skip(f"real Magenta checkpoint not found at {REAL_CKPT} (see ../shared/magenta/README.md)")
    reader = tf.train.load_checkpoint(str(REAL_CKPT))
    cell = "rnn_model/RNN/MultiRNNCell/Cell0/LSTMCell/"
    layers = [(reader.get_tensor(cell + "W_0"), reader.get_tensor(cell + "B"))]
    fc = "rnn_model/fully_connected/"
    return layers, reader.get_tensor(fc + "weights"), reader.get_tensor(fc + "bias")


def test_real_checkpoint_import_and_load_match_tf1(real, tmp_path):
    out = magenta.import_magenta(str(REAL_CKPT), str(tmp_path / "imported"))
    card = checkpoint.read_card(out)
    assert card["naming_scheme"] == "TF 0.x LSTMCell (W_0/B)" and card["scope"] == "rnn_model"
    assert card["source"]["path"] == str(REAL_CKPT) and card["source"]["format"] == "V1"
    assert card["source_variables"]["rnn_model/RNN/MultiRNNCell/Cell0/LSTMCell/W_0"] == [138, 400]
    assert "forget" in card["conversion"] and card["date"]
    assert "rnn_model/global_step" in card["ignored_variables"]
    for model in (note_rnn.load(out), note_rnn.load(str(REAL_CKPT))):
        assert model.config.layer_sizes == (100,)
        assert max_logit_diff(model, *real) < TOL


def test_real_checkpoint_top5_after_middle_c(real):
    model = note_rnn.load(str(REAL_CKPT))
    logits = model.sequence_logits([[14]])[0, -1]
    assert list(np.argsort(-logits)[:5]) == [0, 14, 1, 16, 13]


def test_real_checkpoint_conversion_has_teeth(real):
    layers, w_fc, b_fc = real
    model = note_rnn.load(str(REAL_CKPT))
    tokens = _token_batches()[1]
    wrong = tf1_reference_logits(layers, w_fc, b_fc, tokens, forget_bias=0.0)
    assert np.max(np.abs(model.sequence_logits(tokens) - wrong)) > 1e-2


# --- synthetic checkpoints ---------------------------------------------------------------------
@pytest.mark.parametrize("name, scheme, sizes", [
    ("tf0_lstm_v1", "TF 0.x LSTMCell (W_0/B)", (16,)),
    ("tf0_basic_v2", "TF 0.x BasicLSTMCell (Linear/Matrix/Linear/Bias)", (16, 12)),
    ("tf10_lstm_v2", "TF 1.0-1.2 lstm_cell (weights/biases)", (16,)),
    ("tf13_basic_v1", "TF >= 1.3 basic_lstm_cell (kernel/bias)", (16, 16)),
    ("tf13_lstm_v2", "TF >= 1.3 lstm_cell (kernel/bias)", (16,)),
])
def test_synthetic_schemes_round_trip(cases, name, scheme, sizes):
    path, layers, w_fc, b_fc = cases[name]
    net = magenta.read_magenta(path)
    assert net.scheme == scheme and net.layer_sizes == sizes
    assert max_logit_diff(note_rnn.load(path), layers, w_fc, b_fc) < TOL


def test_v2_index_file_path_is_accepted(cases):
    path, layers, w_fc, b_fc = cases["tf10_lstm_v2"]
    sizes, weights = magenta.read_magenta_weights(path + ".index")
    assert sizes == (16,) and set(weights) == {"lstm_0/kernel", "lstm_0/recurrent_kernel", "lstm_0/bias",
                                               "dense/kernel", "dense/bias"}


def test_directory_uses_state_file(cases):
    path, layers, w_fc, b_fc = cases["state_dir"]
    assert len([f for f in os.listdir(path) if f.endswith(".index")]) == 2
    assert max_logit_diff(note_rnn.load(path), layers, w_fc, b_fc) < TOL


def test_directory_without_state_file_uses_its_only_checkpoint(cases, tmp_path):
    path, layers, w_fc, b_fc = cases["tf0_lstm_v1"]
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "note_rnn.ckpt").write_bytes(pathlib.Path(path).read_bytes())
    assert max_logit_diff(note_rnn.load(str(tmp_path / "one")), layers, w_fc, b_fc) < TOL
    (tmp_path / "one" / "other.ckpt").write_bytes(pathlib.Path(path).read_bytes())
    with pytest.raises(magenta.MagentaCheckpointError, match=r"2 checkpoints: \['note_rnn.ckpt', 'other.ckpt'\]"):
        magenta.read_magenta(str(tmp_path / "one"))


def test_mag_bundle_round_trip_and_import(cases, tmp_path):
    path, layers, w_fc, b_fc = cases["mag"]
    assert max_logit_diff(note_rnn.load(path), layers, w_fc, b_fc) < TOL
    out = magenta.import_magenta(path, str(tmp_path / "from_mag"))
    card = json.loads((pathlib.Path(out) / "card.json").read_text())
    assert card["source"]["bundle"]["generator_id"] == "basic_rnn"
    assert card["naming_scheme"] == "TF >= 1.3 basic_lstm_cell (kernel/bias)"
    assert max_logit_diff(note_rnn.load(out), layers, w_fc, b_fc) < TOL


def test_multi_network_checkpoint_scopes(cases):
    path, layers, w_fc, b_fc = cases["rl_tuner/q_network"]
    net = magenta.read_magenta(path)
    assert net.scope == "q_network" and set(net.other_scopes) == {"target_q_network", "reward_rnn"}
    assert max_logit_diff(note_rnn.load(path), layers, w_fc, b_fc) < TOL
    _, layers, w_fc, b_fc = cases["rl_tuner/reward_rnn"]
    sizes, weights = magenta.read_magenta_weights(path, scope="reward_rnn")
    np.testing.assert_array_equal(weights["dense/kernel"], w_fc)
    scopes = r"\['q_network', 'reward_rnn', 'target_q_network'\]"
    with pytest.raises(magenta.MagentaCheckpointError, match=r"scope 'nope'; scopes found: " + scopes):
        magenta.read_magenta(path, scope="nope")
    with pytest.raises(magenta.MagentaCheckpointError, match=r"several networks found \(scopes \['a', 'b'\]\)"):
        magenta.read_magenta(cases["two_nets"][0])


# --- pure helpers ------------------------------------------------------------------------------
def test_reorder_and_fold_forget_bias():
    b = np.arange(8, dtype=np.float32)  # blocks i=[0,1] j=[2,3] f=[4,5] o=[6,7]
    np.testing.assert_array_equal(magenta.reorder_gates(b), [0, 1, 4, 5, 2, 3, 6, 7])
    np.testing.assert_array_equal(magenta.fold_forget_bias(magenta.reorder_gates(b)), [0, 1, 5, 6, 2, 3, 6, 7])
    assert magenta.match_variable("x/rnn/multi_rnn_cell/cell_0/lstm_cell/w_f_diag")[2] == "unknown"
    assert magenta.match_variable("RNN/MultiRNNCell/Cell0/LSTMCell/kernel")[2] == "unknown"
    assert magenta.is_ignorable("a/kernel/Adam_1") and magenta.is_ignorable("global_step")


# --- errors ------------------------------------------------------------------------------------
def test_wrong_output_shape(cases):
    with pytest.raises(magenta.MagentaCheckpointError) as err:
        magenta.read_magenta(cases["wrong_output"][0])
    msg = str(err.value)
    assert "fully_connected/weights [16, 40]" in msg and "expected [16, 38] + [38]" in msg
    assert "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel [54, 64]" in msg  # lists what was found


def test_wrong_input_size(cases):
    with pytest.raises(magenta.MagentaCheckpointError, match=r"W_0 has shape \[58, 64\], expected \[38 \+ 16"):
        magenta.read_magenta(cases["wrong_input"][0])


def test_unknown_variable_names(cases):
    with pytest.raises(magenta.MagentaCheckpointError) as err:
        note_rnn.load(cases["unknown"][0])
    msg = str(err.value)
    assert "no Note-RNN variables found" in msg and "baz [3], foo/bar [10, 10]" in msg
    assert "Expected a Magenta Note-RNN" in msg and "fully_connected/weights" in msg and "W_0" in msg


def test_missing_path(cases):
    missing = os.path.join(cases["root"][0], "does", "not", "exist.ckpt")
    with pytest.raises(FileNotFoundError, match=missing):
        magenta.read_magenta_weights(missing)
    with pytest.raises(FileNotFoundError):
        note_rnn.load(missing)


def test_random_bytes(cases):
    path = cases["random"][0]
    with pytest.raises(magenta.MagentaCheckpointError) as err:
        magenta.read_magenta(path)
    msg = str(err.value)
    assert path in msg and "neither a TensorFlow checkpoint" in msg and "Expected a V1 checkpoint file" in msg
