"""Reads original Magenta Note-RNN checkpoints and converts them exactly to this project's format.

Accepted inputs (:func:`read_magenta`): a TF checkpoint prefix (V2 ``prefix.index`` + data
shards, or a V1 single file such as ``model.ckpt-1994``), a directory (its ``checkpoint``
state file, else its only checkpoint) or a ``.mag`` GeneratorBundle (``checkpoint_file[0]``
is a V1 checkpoint). Accepted variable names, under one optional outer scope (``rnn_model/``,
``q_network/``, none...), for layers k = 0..n-1:

* TF 0.x: ``RNN/MultiRNNCell/Cell{k}/LSTMCell/W_0`` + ``B``, or
  ``RNN/MultiRNNCell/Cell{k}/BasicLSTMCell/Linear/Matrix`` + ``Linear/Bias``;
* TF 1.0-1.2: ``rnn/multi_rnn_cell/cell_{k}/lstm_cell/weights`` + ``biases`` (or basic_lstm_cell);
* TF >= 1.3: ``rnn/multi_rnn_cell/cell_{k}/lstm_cell/kernel`` + ``bias`` (or basic_lstm_cell);

plus ``fully_connected/weights`` + ``fully_connected/bias`` or ``biases``. For attention_rnn,
layer 0's cell lives under ``cell_0/attention_cell_wrapper/`` beside the wrapper's own
variables (TF >= 1.3 names, as Magenta 1.x/2.x write them): ``kernel``/``bias`` (input
projection), ``attention/attn_w``, ``attention/attn_v``, ``attention/kernel``/``bias`` (query)
and ``attn_output_projection/kernel``/``bias``. Optimizer slots,
``global_step``, ``beta1_power`` and other non-float variables are ignored. When a checkpoint
holds several networks (an RL Tuner checkpoint has ``q_network/``, ``target_q_network/`` and
``reward_rnn/``), ``scope`` selects one; without it ``q_network`` is used if present (the tuned
policy), otherwise the error lists the scopes found.

Configurations (:mod:`note_rnn.melody_configs`): a bundle names its own
(``generator_details.id``); for a checkpoint file or directory pass ``config`` (``--config``),
else basic_rnn is assumed. The configuration fixes the input size and number of classes
checked here (basic_rnn 38 -> 38, lookback_rnn 121 -> 40, attention_rnn 74 -> 40, mono_rnn
130 -> 130) and the encoder stored with the converted model.

Conversion (BUILD.md, "Magenta checkpoints"): a TF1 kernel ``W [in + H, 4H]`` with gate blocks (i, j, f, o) becomes
Keras ``kernel = reorder(W[:in])``, ``recurrent_kernel = reorder(W[in:])`` with blocks
(i, f, j, o), and ``bias = [b_i, b_f + 1.0, b_j, b_o]`` (TF1's run-time forget bias folded in).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import re

import numpy as np

from rl_tuner._tf_setup import use_legacy_keras

use_legacy_keras()
import tensorflow as tf  # noqa: E402  (must follow use_legacy_keras)

from rl_tuner.plumbing import file_checks  # noqa: E402
from note_rnn import melody_configs
from note_rnn import tokens as tok
from note_rnn.tf1_checkpoint import MagentaCheckpointError, open_checkpoint, resolve_path  # noqa: E402,F401

NUM_CLASSES = tok.NUM_CLASSES
FORGET_BIAS = 1.0
DEFAULT_SCOPE = "q_network"
MAX_LISTED = 20

_CELL_RE = re.compile(r"^(?P<scope>(?:.+/)?)(?:RNN/MultiRNNCell/Cell(?P<k0>\d+)|rnn/multi_rnn_cell/cell_(?P<k1>\d+))"
                      r"/(?P<wrap>attention_cell_wrapper/)?(?P<cell>LSTMCell|BasicLSTMCell|lstm_cell|basic_lstm_cell)"
                      r"/(?P<var>.+)$")
# TF1 AttentionCellWrapper variable -> project weight name (attention/<name>)
ATTENTION_VARIABLES = {"kernel": "input_kernel", "bias": "input_bias", "attention/attn_w": "attn_w",
                       "attention/attn_v": "attn_v", "attention/kernel": "query_kernel",
                       "attention/bias": "query_bias", "attn_output_projection/kernel": "output_kernel",
                       "attn_output_projection/bias": "output_bias"}
_ATTN_RE = re.compile(r"^(?P<scope>(?:.+/)?)rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/(?P<var>"
                      + "|".join(ATTENTION_VARIABLES) + r")$")
_FC_RE = re.compile(r"^(?P<scope>(?:.+/)?)fully_connected/(?P<var>weights|bias|biases)$")
_SLOT_RE = re.compile(r"^(Adagrad|AdagradDA|ProximalAdagrad|Adam|Adamax|Nadam|Momentum|RMSProp|Ftrl|Adadelta|"
                      r"ExponentialMovingAverage)(_\d+)?$")
_BOOKKEEPING_RE = re.compile(r"^(global_step|beta[12]_power|learning_rate|_CHECKPOINTABLE_OBJECT_GRAPH)(_\d+)?$")
# (TF 0.x names?, cell) -> [(era, kernel name, bias name)]
_CELL_SCHEMES = {
    (True, "LSTMCell"): [("TF 0.x", "W_0", "B")],
    (True, "BasicLSTMCell"): [("TF 0.x", "Linear/Matrix", "Linear/Bias")],
    (False, "lstm_cell"): [("TF 1.0-1.2", "weights", "biases"), ("TF >= 1.3", "kernel", "bias")],
    (False, "basic_lstm_cell"): [("TF 1.0-1.2", "weights", "biases"), ("TF >= 1.3", "kernel", "bias")],
}


def expected_layout(input_size: int = NUM_CLASSES, num_classes: int = NUM_CLASSES, config: str = "basic_rnn") -> str:
    """The variable layout a configuration's checkpoint must have, for error messages."""
    attention = (" (attention_rnn: layer 0 under cell_0/attention_cell_wrapper/ with the wrapper's "
                 f"{', '.join(ATTENTION_VARIABLES)})") if melody_configs.get(config).attention_length else ""
    return (
        f"a Magenta Note-RNN ({config}): for each layer k = 0..n-1 an LSTM kernel [in_k + H_k, 4*H_k] and bias "
        "[4*H_k] named [<scope>/]RNN/MultiRNNCell/Cell{k}/LSTMCell/W_0 + B or .../BasicLSTMCell/Linear/Matrix + "
        "Linear/Bias (TF 0.x), [<scope>/]rnn/multi_rnn_cell/cell_{k}/lstm_cell (or basic_lstm_cell)/weights + "
        f"biases (TF 1.0-1.2) or kernel + bias (TF >= 1.3), with in_0 = {input_size} and in_k = H_(k-1){attention}; "
        f"then [<scope>/]fully_connected/weights [H_last, {num_classes}] + fully_connected/bias or biases "
        f"[{num_classes}]")


EXPECTED_LAYOUT = expected_layout()
CONVERSION = (
    "TF1 LSTMCell/BasicLSTMCell -> Keras LSTM: kernel = reorder(W[:in]), recurrent_kernel = reorder(W[in:]) "
    "with column gate blocks (i, j, f, o) -> (i, f, j, o); bias = [b_i, b_f + 1.0, b_j, b_o] (forget_bias 1.0 "
    "folded in); fully_connected/weights -> dense/kernel, fully_connected/bias(es) -> dense/bias unchanged")
ATTENTION_CONVERSION = (
    "; attention_cell_wrapper/kernel, bias -> attention/input_kernel, input_bias; attention/attn_w [1, 1, H, H] -> "
    "attention/attn_w [H, H]; attention/attn_v -> attention/attn_v; attention/kernel, bias -> attention/query_kernel, "
    "query_bias; attn_output_projection/kernel, bias -> attention/output_kernel, output_bias (all unchanged)")


@dataclasses.dataclass(frozen=True)
class MagentaNetwork:
    """A converted Magenta Note-RNN and where it came from.

    Attributes:
      layer_sizes: LSTM units per layer.
      weights: NumPy float32 weights in project naming (see ``SequenceRNNConfig.weight_shapes``).
      scheme: naming scheme detected, e.g. ``"TF 0.x LSTMCell (W_0/B)"``.
      scope: outer scope of the network in the checkpoint (``""`` for none).
      source: path, format (``V1``/``V2``/``bundle``), resolved checkpoint, bundle details.
      variables: source variable name -> shape for every variable used.
      mapping: project weight name -> the source variable it was computed from.
      ignored: names of checkpoint variables not used (optimizer slots, counters, other networks).
      other_scopes: scopes of other networks found in the checkpoint.
      config: the melody_rnn configuration name (``basic_rnn``, ``lookback_rnn``...).
    """

    layer_sizes: tuple
    weights: dict
    scheme: str
    scope: str
    source: dict
    variables: dict
    mapping: dict
    ignored: tuple
    other_scopes: tuple
    config: str = melody_configs.DEFAULT


# --- conversion (pure) ---------------------------------------------------------------------
def reorder_gates(a: np.ndarray) -> np.ndarray:
    """Reorders the last axis's four gate blocks from TF1 (i, j, f, o) to Keras (i, f, j, o)."""
    i, j, f, o = np.split(np.asarray(a), 4, axis=-1)
    return np.concatenate([i, f, j, o], axis=-1)


def fold_forget_bias(keras_bias: np.ndarray, forget_bias: float = FORGET_BIAS) -> np.ndarray:
    """Adds TF1's run-time ``forget_bias`` to the f block of a bias in Keras order (i, f, c, o)."""
    b = np.array(keras_bias, copy=True)
    h = b.shape[-1] // 4
    b[..., h:2 * h] += b.dtype.type(forget_bias)
    return b


def convert_lstm(w: np.ndarray, b: np.ndarray, forget_bias: float = FORGET_BIAS):
    """Converts one TF1 LSTM layer to Keras.

    Args:
      w: TF1 kernel [in + H, 4H] (input rows first, gate blocks i, j, f, o).
      b: TF1 bias [4H] (forget bias not included).
      forget_bias: the cell's run-time forget bias.

    Returns:
      (kernel [in, 4H], recurrent_kernel [H, 4H], bias [4H]) in Keras gate order (i, f, c, o).
    """
    w = np.asarray(w, np.float32)
    b = np.asarray(b, np.float32)
    h = b.shape[0] // 4
    n_in = w.shape[0] - h
    return reorder_gates(w[:n_in]), reorder_gates(w[n_in:]), fold_forget_bias(reorder_gates(b), forget_bias)


# --- name-scheme detection (pure) ------------------------------------------------------------
def is_ignorable(name: str, dtype=None) -> bool:
    """True for optimizer slots, step counters and non-float variables."""
    if dtype is not None and not tf.as_dtype(dtype).is_floating:
        return True
    parts = name.split("/")
    return bool(_SLOT_RE.match(parts[-1]) or _BOOKKEEPING_RE.match(parts[-1]))


def cell_role(tf0_names: bool, cell: str, var: str) -> tuple[str, str | None]:
    """Returns ``(role, scheme)`` of a variable inside an LSTM cell scope.

    Args:
      tf0_names: True under ``RNN/MultiRNNCell/Cell{k}``, False under ``rnn/multi_rnn_cell/cell_{k}``.
      cell: cell scope name (``LSTMCell``, ``BasicLSTMCell``, ``lstm_cell``, ``basic_lstm_cell``).
      var: the rest of the name (``W_0``, ``Linear/Matrix``, ``kernel``...).

    Returns:
      ``kernel``/``bias`` and a label such as ``"TF 0.x LSTMCell (W_0/B)"``; ``("unknown", None)``
      for an unsupported variable (peepholes, projection, sharded W_1...).
    """
    for era, kernel, bias in _CELL_SCHEMES.get((tf0_names, cell), []):
        if var in (kernel, bias):
            return ("kernel" if var == kernel else "bias"), f"{era} {cell} ({kernel}/{bias})"
    return "unknown", None


def match_variable(name: str):
    """Classifies a variable name.

    Returns:
      ``(scope, layer, role, scheme)``: layer is an int for LSTM variables, None for the
      output layer and ``"attention"`` for the attention wrapper's variables; role is
      ``kernel``/``bias``, ``weights``/``fc_bias`` for the output layer, the project name
      (``input_kernel``...) for an attention variable, or ``unknown`` for an unsupported
      variable inside an LSTM cell scope. None for other names.
    """
    m = _ATTN_RE.match(name)
    if m:
        return m.group("scope"), "attention", ATTENTION_VARIABLES[m.group("var")], None
    m = _CELL_RE.match(name)
    if m:
        tf0 = m.group("k0") is not None
        layer = int(m.group("k0") if tf0 else m.group("k1"))
        role, scheme = cell_role(tf0, m.group("cell"), m.group("var"))
        if m.group("wrap") and layer != 0:
            role, scheme = "unknown", None
        return m.group("scope"), layer, role, scheme
    m = _FC_RE.match(name)
    if m:
        return m.group("scope"), None, "weights" if m.group("var") == "weights" else "fc_bias", None
    return None


def describe_variables(shapes: dict, limit: int = MAX_LISTED) -> str:
    """Lists ``name [shape]`` for at most ``limit`` variables (sorted), noting how many are left."""
    names = sorted(shapes)
    text = ", ".join(f"{n} {list(shapes[n])}" for n in names[:limit])
    more = len(names) - limit
    return (text + (f" ... and {more} more" if more > 0 else "")) or "no variables"


def _fail(path, problem, shapes, layout=EXPECTED_LAYOUT):
    raise MagentaCheckpointError(f"{path}: {problem}. Found {len(shapes)} variable(s): "
                                 f"{describe_variables(shapes)}. Expected {layout}.")


def plan_network(shapes: dict, dtypes: dict | None = None, scope: str | None = None, path: str = "checkpoint",
                 config: str = melody_configs.DEFAULT):
    """Finds and validates one Note-RNN among a checkpoint's variables (no tensor is read).

    Args:
      shapes: variable name -> shape of every checkpoint variable.
      dtypes: optional variable name -> dtype (non-float variables are ignored).
      scope: outer scope of the network to use (``"q_network"``, ``""`` for none); None picks
        the only network, or ``q_network`` among several.
      path: source name for error messages.
      config: the melody_rnn configuration (fixes input size, classes and attention).

    Returns:
      A dict with ``scope``, ``scheme``, ``layer_sizes``, ``layers`` (list of (kernel name, bias
      name)), ``fc`` ((weights name, bias name)), ``attention`` (project name -> variable name,
      empty without attention), ``ignored`` and ``other_scopes``.

    Raises:
      MagentaCheckpointError: for an unknown layout, wrong shapes or an ambiguous scope.
    """
    dtypes = dtypes or {}
    encoder = melody_configs.MelodyEncoder(melody_configs.get(config, path))
    has_attention = bool(encoder.config.attention_length)
    layout = expected_layout(encoder.input_size, encoder.num_classes, config)
    fail = functools.partial(_fail, layout=layout)

    candidates = {n: s for n, s in shapes.items() if not is_ignorable(n, dtypes.get(n))}
    matched = {n: match_variable(n) for n in candidates}
    matched = {n: m for n, m in matched.items() if m is not None}
    scopes = sorted({m[0] for m in matched.values()})
    if not scopes:
        fail(path, "no Note-RNN variables found", shapes)
    if scope is None:
        if len(scopes) > 1 and DEFAULT_SCOPE + "/" not in scopes:
            fail(path, f"several networks found (scopes {[s.rstrip('/') for s in scopes]}); pass scope= one of them",
                  shapes)
        chosen = scopes[0] if len(scopes) == 1 else DEFAULT_SCOPE + "/"
    else:
        chosen = scope.strip("/") + "/" if scope.strip("/") else ""
        if chosen not in scopes:
            fail(path, f"no network under scope {scope!r}; scopes found: {[s.rstrip('/') for s in scopes]}", shapes)
    mine = {n: m for n, m in matched.items() if m[0] == chosen}
    stray = sorted(n for n in candidates if n.startswith(chosen) and n not in matched)
    bad = sorted(n for n, m in mine.items() if m[2] == "unknown") + stray
    if bad:
        fail(path, f"unsupported variable(s) {bad} (peepholes, projections or another model type?)", shapes)
    schemes = sorted({m[3] for m in mine.values() if m[3] is not None})
    if len(schemes) > 1:
        fail(path, f"mixed naming schemes {schemes} under scope {chosen!r}", shapes)
    cells, fc, attention = {}, {}, {}
    for n, (_, layer, role, _) in mine.items():
        target = fc if layer is None else attention if layer == "attention" else cells.setdefault(layer, {})
        if role in target:
            fail(path, f"two variables for the same {role}: {target[role]} and {n}", shapes)
        target[role] = n
    if not cells or sorted(cells) != list(range(len(cells))) or any(len(c) != 2 for c in cells.values()):
        fail(path, f"incomplete LSTM layers under scope {chosen!r} (each needs a kernel and a bias, k = 0..n-1)",
              shapes)
    if set(fc) != {"weights", "fc_bias"}:
        fail(path, f"output layer fully_connected/weights + bias(es) missing under scope {chosen!r}", shapes)
    wrapped = "/attention_cell_wrapper/" in cells[0]["kernel"]
    if has_attention and (not wrapped or set(attention) != set(ATTENTION_VARIABLES.values())):
        missing = sorted(k for k, v in ATTENTION_VARIABLES.items() if v not in attention)
        fail(path, f"{config} needs layer 0 wrapped in an attention_cell_wrapper with all its variables "
                    f"(missing: {missing or ['attention_cell_wrapper/<cell>']}) under scope {chosen!r}", shapes)
    if not has_attention and (wrapped or attention):
        fail(path, f"attention_cell_wrapper variables found, but the configuration is {config} (an attention_rnn "
                    f"checkpoint? {_config_fix('attention_rnn')})", shapes)
    layers = [(cells[k]["kernel"], cells[k]["bias"]) for k in range(len(cells))]
    sizes = _check_shapes(layers, (fc["weights"], fc["fc_bias"]), shapes, path, encoder.input_size,
                          encoder.num_classes, layout)
    if has_attention:
        _check_attention_shapes(attention, shapes, path, encoder.input_size, sizes[0], layout)
    used = {n for pair in layers for n in pair} | set(fc.values()) | set(attention.values())
    return {"scope": chosen.rstrip("/"), "scheme": schemes[0], "layer_sizes": sizes, "layers": layers,
            "fc": (fc["weights"], fc["fc_bias"]), "attention": attention, "ignored": tuple(sorted(set(shapes) - used)),
            "other_scopes": tuple(s.rstrip("/") for s in scopes if s != chosen)}


def _check_attention_shapes(attention, shapes, path, n_in, h, layout) -> None:
    """Checks the shapes of the AttentionCellWrapper's variables (attention size = H of layer 0)."""
    expected = {"input_kernel": [n_in + h, n_in], "input_bias": [n_in], "attn_w": [1, 1, h, h], "attn_v": [h],
                "query_kernel": [2 * h, h], "query_bias": [h], "output_kernel": [2 * h, h], "output_bias": [h]}
    for key, shape in expected.items():
        if list(shapes[attention[key]]) != shape:
            _fail(path, f"attention variable {attention[key]} has shape {list(shapes[attention[key]])}, expected "
                        f"{shape} (input size {n_in}, H = {h})", shapes, layout)


def _config_hint(input_size: int) -> str:
    """Names the configurations whose input size is ``input_size`` (for a checkpoint read as another one)."""
    names = [n for n in melody_configs.CONFIGS
             if melody_configs.MelodyEncoder(melody_configs.CONFIGS[n]).input_size == input_size]
    return (f"; input size {input_size} is that of {' or '.join(names)}: {_config_fix(names[0])}" if names
            else "")


def _config_fix(name: str) -> str:
    """How to give the configuration (only ``import-magenta`` and ``note_rnn.load`` take one)."""
    return f"convert it with `{IMPORT_COMMAND} --config {name}` (or note_rnn.load(path, config={name!r}))"


def _check_shapes(layers, fc, shapes, path, n_in=NUM_CLASSES, num_classes=NUM_CLASSES, layout=EXPECTED_LAYOUT) -> tuple:
    """Checks every LSTM and output shape; returns the layer sizes."""
    sizes = []
    for k, (kernel, bias) in enumerate(layers):
        ks, bs = list(shapes[kernel]), list(shapes[bias])
        if len(bs) != 1 or bs[0] % 4 or not bs[0]:
            _fail(path, f"layer {k}: bias {bias} has shape {bs}, expected [4*H]", shapes, layout)
        h = bs[0] // 4
        if ks != [n_in + h, 4 * h]:
            _fail(path, f"layer {k}: kernel {kernel} has shape {ks}, expected [{n_in} + {h}, {4 * h}] = "
                        f"[{n_in + h}, {4 * h}] (input size {n_in}, H = {h} from the bias)"
                        + (_config_hint(ks[0] - h) if k == 0 and len(ks) == 2 else ""), shapes, layout)
        sizes.append(h)
        n_in = h
    ws, bs = list(shapes[fc[0]]), list(shapes[fc[1]])
    if ws != [n_in, num_classes] or bs != [num_classes]:
        _fail(path, f"output layer {fc[0]} {ws} + {fc[1]} {bs}, expected [{n_in}, {num_classes}] + [{num_classes}]",
              shapes, layout)
    return tuple(sizes)


def _get(reader, name: str, path, source: dict) -> np.ndarray:
    """Reads one tensor; a short read or bad checksum names the checkpoint's files."""
    try:
        value = reader.get_tensor(name)
    except Exception as e:  # pylint: disable=broad-except  # TF raises OpError, IndexError, ValueError...
        detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise MagentaCheckpointError(
            f"{path}: could not read variable {name} ({detail}); the checkpoint is truncated or corrupt: "
            f"{file_checks.describe_files(source['files'])}") from None
    try:
        file_checks.check_finite({name: value}, path)
    except ValueError as e:
        raise MagentaCheckpointError(str(e)) from None
    return value


# --- public API -------------------------------------------------------------------------------
def choose_config(path, bundle_id: str | None, config: str | None) -> str:
    """The melody_rnn configuration of a checkpoint: the bundle's id, else ``config``, else basic_rnn.

    Raises:
      MagentaCheckpointError: naming the configuration when it is not supported, or when
        ``config`` contradicts the bundle's id.
    """
    if bundle_id and config and bundle_id != config:
        raise MagentaCheckpointError(f"{path}: the bundle's configuration is {bundle_id!r} (generator_details.id), "
                                     f"but --config {config} was given")
    name = bundle_id or config or melody_configs.DEFAULT
    try:
        melody_configs.get(name)
    except melody_configs.UnknownConfigError:
        found = "the bundle's generator_details.id" if bundle_id else "--config"
        raise MagentaCheckpointError(
            f"{path}: unsupported melody_rnn configuration {name!r} ({found}); supported: "
            f"{', '.join(melody_configs.CONFIGS)}") from None
    return name


def read_magenta(path: str, scope: str | None = None, config: str | None = None) -> MagentaNetwork:
    """Reads a Magenta Note-RNN checkpoint and converts it exactly (see the module docstring).

    Args:
      path: checkpoint prefix (V1 file or V2 prefix), directory, or ``.mag`` bundle.
      scope: outer scope of the network to read; None = the only one, or ``q_network``.
      config: melody_rnn configuration of a checkpoint that is not a bundle (a bundle names
        its own; a different ``config`` is an error); None = the bundle's, else basic_rnn.

    Returns:
      A :class:`MagentaNetwork`.

    Raises:
      FileNotFoundError: if nothing exists at ``path``.
      MagentaCheckpointError: for unreadable files, unknown layouts or configurations, or wrong shapes.
    """
    with open_checkpoint(path) as (reader, source):
        name = choose_config(path, source.get("bundle", {}).get("generator_id"), config)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
        plan = plan_network(shapes, dtypes, scope, path=str(path), config=name)
        weights, mapping = {}, {}
        for key, src in sorted(plan["attention"].items()):
            value = np.asarray(_get(reader, src, path, source), np.float32)
            weights[f"attention/{key}"] = value.reshape(value.shape[-2:]) if key == "attn_w" else value
            mapping[f"attention/{key}"] = src
        for k, (kernel, bias) in enumerate(plan["layers"]):
            keras = convert_lstm(_get(reader, kernel, path, source), _get(reader, bias, path, source))
            for suffix, value, src in zip(("kernel", "recurrent_kernel", "bias"), keras, (kernel, kernel, bias)):
                weights[f"lstm_{k}/{suffix}"] = value
                mapping[f"lstm_{k}/{suffix}"] = src
        for suffix, src in zip(("kernel", "bias"), plan["fc"]):
            weights[f"dense/{suffix}"] = np.asarray(_get(reader, src, path, source), np.float32)
            mapping[f"dense/{suffix}"] = src
    if plan["other_scopes"]:
        logging.info("%s: using scope %r; other networks: %s", path, plan["scope"], plan["other_scopes"])
    used = sorted(set(mapping.values()))
    return MagentaNetwork(
        layer_sizes=plan["layer_sizes"], weights=weights, scheme=plan["scheme"], scope=plan["scope"], source=source,
        variables={n: list(shapes[n]) for n in used}, mapping=mapping, ignored=plan["ignored"],
        other_scopes=plan["other_scopes"], config=name)


def read_magenta_weights(path: str, scope: str | None = None) -> tuple[tuple[int, ...], dict[str, np.ndarray]]:
    """Returns ``(layer_sizes, weights)`` of a Magenta checkpoint in project naming.

    Args:
      path: checkpoint prefix, directory or ``.mag`` bundle.
      scope: see :func:`read_magenta`.

    Returns:
      LSTM sizes and float32 weights keyed as in ``SequenceRNNConfig.weight_shapes()``.

    Raises:
      FileNotFoundError: if nothing exists at ``path``.
      MagentaCheckpointError: for unreadable files, unknown layouts or wrong shapes.
    """
    net = read_magenta(path, scope)
    return net.layer_sizes, net.weights


def build_model(net: MagentaNetwork, name: str = "note_rnn"):
    """Builds the converted model of ``net`` with its configuration's melody encoder.

    Returns:
      A :class:`rl_tuner.models.sequence_model.SequenceRNN` whose ``input_encoder`` is a
      :class:`note_rnn.melody_configs.MelodyEncoder`.
    """
    from rl_tuner.models import sequence_model as model_lib
    encoder = melody_configs.MelodyEncoder(melody_configs.get(net.config))
    config = model_lib.SequenceRNNConfig(num_classes=encoder.num_classes, layer_sizes=tuple(net.layer_sizes),
                                         input_size=encoder.model_input_size,
                                         attention_length=encoder.config.attention_length)
    model = model_lib.SequenceRNN(config, name=name, input_encoder=encoder)
    model.set_named_weights(net.weights, source=net.source["path"])
    return model


IMPORT_COMMAND = "note-rnn import-magenta"


def import_magenta(src: str, out_dir: str, scope: str | None = None, overwrite: bool = False,
                   config: str | None = None) -> str:
    """Converts a Magenta checkpoint into a project checkpoint directory with a card.

    Args:
      src: checkpoint prefix, directory or ``.mag`` bundle.
      out_dir: project checkpoint directory to write (atomically). A non-empty directory is
        replaced only if it is an earlier import (or with ``overwrite``), never when it holds
        ``src`` or is a training run directory.
      scope: see :func:`read_magenta`.
      overwrite: replace a directory that is not an earlier import (other files are kept).
      config: see :func:`read_magenta`.

    Returns:
      ``out_dir`` (its ``config.json`` records the configuration's input size, attention
      length and encoder settings; basic_rnn stays format ``note_rnn/1``).

    Raises:
      FileNotFoundError: if nothing exists at ``src``.
      MagentaCheckpointError: for unreadable files, unknown layouts or wrong shapes.
      rl_tuner.plumbing.outputs.OutputError: if ``out_dir`` may not be replaced (checked first).
    """
    from rl_tuner.plumbing import checkpoint
    from rl_tuner.plumbing import outputs
    outputs.check_dir(out_dir, IMPORT_COMMAND, overwrite, inputs=[src])
    net = read_magenta(src, scope, config)
    encoder = melody_configs.MelodyEncoder(melody_configs.get(net.config))
    card = {
        "kind": "magenta_import",
        "source": net.source,
        "scope": net.scope,
        "other_scopes": list(net.other_scopes),
        "naming_scheme": net.scheme,
        "source_variables": net.variables,
        "ignored_variables": list(net.ignored),
        "mapping": net.mapping,
        "conversion": CONVERSION + (ATTENTION_CONVERSION if encoder.config.attention_length else ""),
        "configuration": net.config,
        "layer_sizes": list(net.layer_sizes),
        "num_classes": encoder.num_classes,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return checkpoint.save(out_dir, net.layer_sizes, net.weights, num_classes=encoder.num_classes, card=card,
                           command=IMPORT_COMMAND, overwrite=overwrite, input_size=encoder.model_input_size,
                           attention_length=encoder.config.attention_length, encoder=encoder.spec())


__all__ = ["MagentaCheckpointError", "MagentaNetwork", "read_magenta", "build_model", "choose_config", "read_magenta_weights", "import_magenta",
           "convert_lstm", "reorder_gates", "fold_forget_bias", "plan_network", "resolve_path", "open_checkpoint"]
