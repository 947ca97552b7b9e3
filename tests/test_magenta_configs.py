"""Magenta's four melody_rnn configurations: import, encoders and exact distributions.

The judge is ../shared/magenta/bundles/reference.json: Magenta's own graph's next-event
distributions for four melodies under each configuration (see its README). Tests that need
the bundles skip cleanly where ../shared is absent.
"""

import json
import pathlib

import numpy as np
import pytest

import note_rnn  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from note_rnn import cli, magenta, melody_configs
from rl_tuner.plumbing import checkpoint

import tensorflow as tf  # noqa: E402  (after note_rnn)

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUNDLES = ROOT.parent / "shared" / "magenta" / "bundles"
CONFIGS = ("basic_rnn", "lookback_rnn", "attention_rnn", "mono_rnn")
TOL = 1e-5
pytestmark = [pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning"),  # note_seq -> pydub
              pytest.mark.filterwarnings("ignore:Couldn't find ffmpeg:RuntimeWarning")]


@pytest.fixture(scope="module")
def reference():
    path = BUNDLES / "reference.json"
    if not path.is_file():
        pytest.skip(f"Magenta melody_rnn bundles not found at {BUNDLES} (see ../shared/magenta/bundles/README.md)")
    return json.loads(path.read_text())


def bundle(name):
    return str(BUNDLES / f"{name}.mag")


@pytest.fixture(scope="module")
def imported(reference, tmp_path_factory):
    """Each bundle converted with `note-rnn import-magenta`: name -> checkpoint directory."""
    root = tmp_path_factory.mktemp("imported")
    out = {}
    for name in CONFIGS:
        out[name] = str(root / name)
        assert cli.main(["import-magenta", bundle(name), "--out", out[name]]) == 0
    return out


def max_error(model, cases):
    worst = 0.0
    for case in cases:
        probs = model.event_distributions(case["events"])
        assert probs.shape == (len(case["events"]), len(case["probs"][0]))
        worst = max(worst, float(np.max(np.abs(probs - np.array(case["probs"])))))
    return worst


# --- exactness against Magenta's graph ----------------------------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
def test_bundle_and_imported_checkpoint_equal_reference(reference, imported, name):
    ref = reference[name]
    for model in (note_rnn.load(bundle(name)), note_rnn.load(imported[name])):
        assert model.config.num_classes == ref["config"]["num_classes"]
        assert model.config.layer_sizes == tuple(ref["config"]["layers"])
        assert model.config.attention_length == ref["config"]["attn_length"]
        assert max_error(model, ref["cases"]) < TOL


@pytest.mark.parametrize("name", CONFIGS)
def test_imported_checkpoint_records_configuration(imported, name):
    config = json.loads((pathlib.Path(imported[name]) / "config.json").read_text())
    card = checkpoint.read_card(imported[name])
    assert card["configuration"] == name and card["source"]["bundle"]["generator_id"] == name
    if name == "basic_rnn":  # unchanged format of the basic import
        assert config == {"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [24, 24]}
    else:
        assert config["format"] == "sequence_rnn/2"
        assert config["encoder"] == melody_configs.CONFIGS[name].to_dict()
        assert config["input_size"] == {"lookback_rnn": 121, "attention_rnn": 74, "mono_rnn": None}[name]
        assert config["attention_length"] == (40 if name == "attention_rnn" else 0)


def test_attention_has_teeth(reference):
    """Dropping the attention window (zeroing its output projection's attention half) changes the answer."""
    model = note_rnn.load(bundle("attention_rnn"))
    cell = model.lstm_layers[0].cell
    h = cell.units
    kernel = cell.output_kernel.numpy()
    cell.output_kernel.assign(np.concatenate([kernel[:h], np.zeros_like(kernel[h:])]))
    assert max_error(model, reference["attention_rnn"]["cases"]) > 1e-3


@pytest.mark.parametrize("name", CONFIGS)
def test_step_equals_sequence_call(reference, name):
    """Stepping on tokens (encoded models: features from the encoder's TensorFlow step) gives
    the sequence call's logits on note_seq's features."""
    model = note_rnn.load(bundle(name))
    events = reference[name]["cases"][2]["events"]
    labels = model.input_encoder.labels(events)
    inputs = model.input_encoder.encode_events(events)[None]
    whole = model(tf.constant(inputs)).numpy()[0]
    np.testing.assert_allclose(model.token_logits(tf.constant(labels[None])).numpy()[0], whole, atol=TOL)
    state = model.zero_state(1)
    for t in range(len(events)):
        logits, state = model.step(tf.constant(labels[t:t + 1]), state)
        np.testing.assert_allclose(logits.numpy()[0], whole[t], atol=TOL)
    assert tf.nest.map_structure(lambda s: s.shape[1:], state) == tf.nest.map_structure(lambda s: s.shape,
                                                                                       model.state_spec())
    if name == "attention_rnn":
        assert [tuple(s.shape) for s in state[0]] == [(1, 24), (1, 24), (1, 24), (1, 40 * 24)]
    if name in ("basic_rnn", "mono_rnn"):
        assert len(state) == 2  # the layers' (h, c) only


@pytest.mark.parametrize("name", ["lookback_rnn", "attention_rnn"])
def test_tensorflow_features_equal_note_seq(reference, name):
    encoder = melody_configs.MelodyEncoder(melody_configs.CONFIGS[name])
    rng = np.random.default_rng(0)
    sequences = [encoder.labels(c["events"]) for c in reference[name]["cases"]]
    sequences += [rng.integers(0, 40, 70) for _ in range(8)]  # repeat classes everywhere
    batch = np.stack([s[:24] for s in sequences])
    state = encoder.zero_state(len(batch))
    for t in range(batch.shape[1]):
        features, state = encoder.step(tf.constant(batch[:, t]), state)
        np.testing.assert_array_equal(features.numpy(), encoder.encode_tokens(batch[:, :t + 1])[:, t])
    for labels in sequences[4:]:  # longer than 2 bars
        state = encoder.zero_state(1)
        for t in range(len(labels)):
            features, state = encoder.step(tf.constant(labels[t:t + 1]), state)
        np.testing.assert_array_equal(features.numpy()[0], encoder.encode_tokens([labels])[0, -1])


# --- encoders -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
def test_labels_and_features_equal_note_seq(reference, name):
    encoder = melody_configs.MelodyEncoder(melody_configs.CONFIGS[name])
    ref = reference[name]
    note_seq_encoder = melody_configs.note_seq_encoder(name)
    assert (encoder.input_size, encoder.num_classes) == (ref["config"]["input_size"], ref["config"]["num_classes"])
    for case in ref["cases"]:
        events = case["events"]
        assert encoder.labels(events).tolist() == case["labels"]
        batch = np.array(note_seq_encoder.get_inputs_batch([events], full_length=True), np.float32)
        assert batch.shape == tuple(case["inputs_shape"])
        np.testing.assert_array_equal(encoder.features(events), batch[0])
        assert encoder.decode(encoder.labels(events)) == events  # labels decode back to the melody
        np.testing.assert_array_equal(encoder.encode_tokens([encoder.labels(events)])[0], batch[0])


def test_lookback_features_and_decoding_by_hand():
    encoder = melody_configs.MelodyEncoder(melody_configs.CONFIGS["lookback_rnn"])
    melody = [60, -2] * 8 + [62]  # 17 steps; position 16 (62) is not the event of 1 bar ago (60)
    x = encoder.features(melody)
    assert x.shape == (17, 121)
    assert x[0, 60 - 48 + 2] == 1 and x[0, :38].sum() == 1  # current event: C4 = class 14
    assert x[0, 38:76].argmax() == 0 and x[0, 76:114].argmax() == 0  # no history: lookbacks read "no event"
    assert x[15, 38 + 14] == 1  # position 15: the event after the 1-bar lookback is melody[0] = 60
    assert list(x[0, 114:119]) == [1, -1, -1, -1, -1]  # the next event's step 1 in binary (1, 2, 4, 8, 16)
    assert list(x[15, 114:119]) == [-1, -1, -1, -1, 1]  # step 16
    assert list(x[16, 119:121]) == [0, 0] and list(x[2, 119:121]) == [0, 0]
    assert list(encoder.features(melody[:16] + [60])[16, 119:121]) == [1, 0]  # repeats 1 bar ago
    # 38 = repeat the event of 1 bar ago, 39 = of 2 bars ago (before 2 bars: no event)
    assert encoder.decode([14, 0, 39]) == [60, -2, -2]
    assert encoder.decode([14] + [0] * 15 + [38, 38]) == [60] + [-2] * 15 + [60, -2]
    assert encoder.decode([16, 1, 2]) == [62, -1, 48]


def test_attention_and_mono_classes_by_hand():
    attention = melody_configs.MelodyEncoder(melody_configs.CONFIGS["attention_rnn"])
    assert attention.decode([12, 36, 37, 0, 35]) == [60, -2, -1, 48, 83]  # pitch - 48, hold 36, off 37
    mono = melody_configs.MelodyEncoder(melody_configs.CONFIGS["mono_rnn"])
    assert mono.labels([0, 127, -2, -1]).tolist() == [2, 129, 0, 1]
    with pytest.raises(ValueError, match=r"melody event 84 at position 1 is outside lookback_rnn's range"):
        melody_configs.MelodyEncoder(melody_configs.CONFIGS["lookback_rnn"]).features([60, 84])



@pytest.mark.parametrize("events, message", [
    ([[60, 62], [64, -2]], r"melody event \[60, 62\] at position 0 is not an integer \(one melody is a flat list"),
    (np.array([[60, -2, 62]]), r"melody event \[60, -2, 62\] at position 0 is not an integer"),
    ([60, None], r"melody event None at position 1 is not an integer"),
    (["60"], r"melody event '60' at position 0 is not an integer"),
    ([True, 60], r"melody event True at position 0 is not an integer"),
    (60, r"melody events must be one sequence of integers, got int"),
    (None, r"melody events must be one sequence of integers, got NoneType"),
    ("60", r"melody events must be one sequence of integers, got str"),
])
def test_events_must_be_one_flat_melody(events, message):
    """A batch, a scalar or non-numbers are refused, not flattened or crashed on (TypeError)."""
    for name in ("mono_rnn", "lookback_rnn"):  # mono: True would otherwise be MIDI pitch 1
        encoder = melody_configs.MelodyEncoder(melody_configs.CONFIGS[name])
        with pytest.raises(ValueError, match=message):
            encoder.encode_events(events)


def test_integral_floats_and_arrays_are_events():
    encoder = melody_configs.MelodyEncoder(melody_configs.CONFIGS["attention_rnn"])
    assert encoder.labels([60.0, 64.0, np.int64(62)]).tolist() == encoder.labels((60, 64, 62)).tolist() == [12, 16, 14]
    assert encoder.labels(np.array([60, 61])).tolist() == [12, 13]
    with pytest.raises(ValueError, match=r"melody event 62.5 at position 1 is not an integer"):
        encoder.labels([60, 62.5])

# --- choosing the configuration -----------------------------------------------------------------
def _bundle_with_id(tmp_path, source, generator_id):
    from note_seq.protobuf import generator_pb2
    b = generator_pb2.GeneratorBundle()
    b.ParseFromString(pathlib.Path(source).read_bytes())
    b.generator_details.id = generator_id
    path = tmp_path / f"{generator_id}.mag"
    path.write_bytes(b.SerializeToString())
    return path, b


def test_unknown_configuration_is_named(reference, tmp_path, capsys):
    path, _ = _bundle_with_id(tmp_path, bundle("lookback_rnn"), "drums_rnn")
    with pytest.raises(magenta.MagentaCheckpointError,
                       match=r"unsupported melody_rnn configuration 'drums_rnn' \(the bundle's generator_details.id\); "
                             r"supported: basic_rnn, lookback_rnn, attention_rnn, mono_rnn"):
        note_rnn.load(str(path))
    out = tmp_path / "out"
    assert cli.run_main(cli.main, ["import-magenta", str(path), "--out", str(out)]) == 2
    assert "'drums_rnn'" in capsys.readouterr().err and not out.exists()


def test_checkpoint_file_with_config_flag(reference, tmp_path):
    _, b = _bundle_with_id(tmp_path, bundle("lookback_rnn"), "lookback_rnn")
    ckpt = tmp_path / "ckpt" / "model.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b.checkpoint_file[0])
    with pytest.raises(magenta.MagentaCheckpointError, match=r"kernel has shape \[145, 96\], expected \[38 \+ 24, "
                                                             r"96\].*input size 121 is that of lookback_rnn: convert "
                                                             r"it with `note-rnn import-magenta --config lookback_rnn` "
                                                             r"\(or note_rnn.load\(path, config='lookback_rnn'\)\)"):
        note_rnn.load(str(ckpt))  # without --config: basic_rnn is assumed
    out = tmp_path / "out"
    assert cli.main(["import-magenta", str(ckpt.parent), "--config", "lookback_rnn", "--out", str(out)]) == 0
    assert max_error(note_rnn.load(str(out)), reference["lookback_rnn"]["cases"]) < TOL
    assert max_error(note_rnn.load(str(ckpt), config="lookback_rnn"), reference["lookback_rnn"]["cases"]) < TOL
    with pytest.raises(magenta.MagentaCheckpointError, match=r"configuration is 'lookback_rnn' .* --config mono_rnn"):
        magenta.read_magenta(bundle("lookback_rnn"), config="mono_rnn")
    with pytest.raises(magenta.MagentaCheckpointError, match=r"attention_rnn needs layer 0 wrapped"):
        note_rnn.load(str(ckpt), config="attention_rnn")


def test_load_refuses_a_config_the_converted_checkpoint_contradicts(imported):
    """As for a bundle: before, config= was silently ignored for a converted directory."""
    with pytest.raises(ValueError, match=r"lookback_rnn: this checkpoint is a converted lookback_rnn model, but "
                                         r"config='attention_rnn' was given"):
        note_rnn.load(imported["lookback_rnn"], config="attention_rnn")
    with pytest.raises(ValueError, match=r"converted basic_rnn model, but config='mono_rnn'"):
        note_rnn.load(imported["basic_rnn"], config="mono_rnn")
    assert note_rnn.load(imported["mono_rnn"], config="mono_rnn").input_encoder.config.name == "mono_rnn"


def test_attention_checkpoint_as_basic_is_refused(reference, tmp_path):
    _, b = _bundle_with_id(tmp_path, bundle("attention_rnn"), "attention_rnn")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b.checkpoint_file[0])
    with pytest.raises(magenta.MagentaCheckpointError, match=r"attention_cell_wrapper variables found, but the "
                                                             r"configuration is basic_rnn \(an attention_rnn checkpoint\? "
                                                             r"convert it with `note-rnn import-magenta --config "
                                                             r"attention_rnn`"):
        magenta.read_magenta(str(ckpt))


def test_config_hint_names_a_command_that_takes_it(reference, tmp_path, capsys):
    """`rl-tuner train --prior` has no --config: the hint names import-magenta, which has."""
    from rl_tuner import cli as rl_cli
    _, b = _bundle_with_id(tmp_path, bundle("lookback_rnn"), "lookback_rnn")
    ckpt = tmp_path / "ckpt" / "model.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b.checkpoint_file[0])
    run = tmp_path / "run"
    assert rl_cli.run_main(rl_cli.main, ["train", "--prior", str(ckpt.parent), "--steps", "256", "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {ckpt.parent}: layer 0")
    assert "input size 121 is that of lookback_rnn: convert it with `note-rnn import-magenta --config lookback_rnn`" in err
    assert not run.exists()


def test_stored_encoder_must_fit_the_model(imported, tmp_path):
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(imported["lookback_rnn"], bad)
    config = json.loads((bad / "config.json").read_text())
    config["encoder"]["min_note"] = 40
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config.json: encoder settings .* differ from lookback_rnn's"):
        note_rnn.load(str(bad))
    config["encoder"] = None
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"reads encoded inputs \(input_size 121, encoder None\) that this task "
                                         r"cannot compute"):
        note_rnn.load(str(bad))


# --- generation ---------------------------------------------------------------------------------
def python_sampler(model, num, length, temperature, seed, primer=None):
    """A reference sampler: note_seq's features in Python, the compiled sampler's random draws."""
    encoder = model.input_encoder
    k = 0 if primer is None else len(primer)
    first = np.tile(primer[:1], num) if k else tf.random.stateless_uniform(
        [num], seed=[seed, -1], maxval=model.config.num_classes, dtype=tf.int32).numpy()
    history, state = first[:, None], model.zero_state(num)[:-1]
    for t in range(1 if k else 0, length):
        features = encoder.encode_tokens(history)[:, -1]
        logits, state = model.step_inputs(tf.constant(features), state)
        nxt = np.full(num, primer[t]) if t < k else tf.random.stateless_categorical(
            logits / temperature, 1, seed=[seed, t], dtype=tf.int32)[:, 0].numpy()
        history = np.concatenate([history, nxt[:, None]], axis=1)
    return history[:, 0 if k else 1:]


@pytest.mark.parametrize("name", ["lookback_rnn", "attention_rnn"])
def test_compiled_sampler_equals_python_reference(reference, name):
    from rl_tuner.models import sampling
    model = note_rnn.load(bundle(name))
    for primer in (None, np.array([14, 39, 16], np.int32)):
        np.testing.assert_array_equal(sampling.sample_model(model, 5, 40, 0.8, seed=3, primer=primer),
                                      python_sampler(model, 5, 40, 0.8, seed=3, primer=primer))


@pytest.mark.parametrize("name", ["lookback_rnn", "attention_rnn"])
def test_generate_decodes_repeat_classes(reference, tmp_path, name):
    from note_rnn import encoding, generate
    from rl_tuner.models import sampling
    model = note_rnn.load(bundle(name))
    primer = encoding.melody_to_tokens([60, -2, 62, -1])
    melodies = generate.sample_melodies(model, 4, 40, seed=5, primer=primer)
    assert melodies.shape == (4, 40) and (melodies[:, :4] == primer).all()
    # the same draws, decoded by hand: a repeat class is the event 16 or 32 steps earlier
    labels = model.input_encoder.labels(encoding.tokens_to_events(primer))
    classes = sampling.sample_model(model, 4, 40, seed=5, primer=labels)
    assert (classes >= 38).any()  # repeat classes were drawn (random weights: about 1 in 20)
    for row, melody in zip(classes, melodies):
        events = []
        for t, c in enumerate(row):
            if c in (38, 39):
                back = 16 if c == 38 else 32
                events.append(events[t - back] if t >= back else -2)
            elif name == "lookback_rnn":
                events.append({0: -2, 1: -1}.get(int(c), int(c) + 46))
            else:
                events.append({36: -2, 37: -1}.get(int(c), int(c) + 48))
        assert encoding.melody_to_tokens(events).tolist() == melody.tolist()
    out = tmp_path / "out"
    assert cli.main(["generate", "--model", bundle(name), "--num", "4", "--length", "40", "--seed", "5",
                     "--primer-melody", "[60, -2, 62, -1]", "--no-audio", "--out", str(out)]) == 0
    assert json.loads((out / "melodies.json").read_text()) == melodies.tolist()
    assert len(list(out.glob("melody_*.mid"))) == 4


def test_generate_mono_writes_events_and_midi(reference, tmp_path):
    import note_seq
    out = tmp_path / "mono"
    assert cli.main(["generate", "--model", bundle("mono_rnn"), "--num", "2", "--length", "24", "--seed", "1",
                     "--out", str(out)]) == 0
    melodies = json.loads((out / "events.json").read_text())
    assert not (out / "melodies.json").exists() and len(list(out.glob("melody_*.wav"))) == 2
    pitches = [e for m in melodies for e in m if e >= 0]
    assert any(not 48 <= p < 84 for p in pitches)  # random weights: pitches all over 0..127
    for i, events in enumerate(melodies):
        sequence = note_seq.midi_file_to_note_sequence(str(out / f"melody_{i:03d}.mid"))
        assert [n.pitch for n in sequence.notes] == [e for e in events if e >= 0]


def test_corpus_evaluation_refuses_other_configurations(reference):
    with pytest.raises(ValueError, match=r"needs a basic_rnn model \(38 one-hot classes\); this is a lookback_rnn model"):
        note_rnn.evaluate(note_rnn.load(bundle("lookback_rnn")), [np.arange(2, 38)])


def test_note_rnn_evaluate_names_the_checkpoint_of_another_configuration(reference, tmp_path, capsys):
    """Refused before the data set is read (there is none here), naming the user's file."""
    out = tmp_path / "stats.json"
    argv = ["evaluate", "--checkpoint", bundle("attention_rnn"), "--data", str(tmp_path / "no_data"), "--out", str(out)]
    assert cli.run_main(cli.main, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {bundle('attention_rnn')}: evaluation on 38-token melodies needs a basic_rnn model (38 "
                   "one-hot classes); this is a attention_rnn model")
    assert not out.exists()
