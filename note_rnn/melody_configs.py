"""Magenta's melody_rnn configurations: their encoders, classes and input features.

A configuration fixes how melody events (MIDI pitch, -2 = no event / hold, -1 = note off) become
a model's input vectors and class labels. The encoders are note_seq's own, built with the
arguments of Magenta's ``melody_rnn_model.default_configs``:

==============  ================================================================  =====  =======
configuration   note_seq encoder-decoder                                          input  classes
==============  ================================================================  =====  =======
basic_rnn       ``OneHotEventSequenceEncoderDecoder(MelodyOneHotEncoding(48, 84))``  38     38
lookback_rnn    ``LookbackEventSequenceEncoderDecoder(MelodyOneHotEncoding(48, 84))``  121    40
attention_rnn   ``KeyMelodyEncoderDecoder(48, 84)`` (+ attention, length 40)          74     40
mono_rnn        ``OneHotEventSequenceEncoderDecoder(MelodyOneHotEncoding(0, 128))``  130    130
==============  ================================================================  =====  =======

(lookback distances [16, 32], binary counters 5 for lookback and 7 for key-melody, note_seq's
defaults.) The lookback and key-melody classes 38 and 39 (attention: classes 38 and 39 too)
mean "repeat the event of 1 bar / 2 bars ago"; :meth:`MelodyEncoder.decode` turns classes
back into events. basic_rnn's classes are this project's 38 tokens (:mod:`note_rnn.tokens`).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

NO_EVENT = -2  # note_seq.MELODY_NO_EVENT
NOTE_OFF = -1  # note_seq.MELODY_NOTE_OFF


@dataclasses.dataclass(frozen=True)
class MelodyConfig:
    """One melody_rnn configuration.

    Attributes:
      name: Magenta's configuration name (the bundle's ``generator_details.id``).
      encoder: ``"one_hot"``, ``"lookback"`` or ``"key_melody"``.
      min_note, max_note: encoded MIDI pitch range [min_note, max_note).
      attention_length: window of the attention wrapper on layer 0 (0 = none).
    """

    name: str
    encoder: str
    min_note: int
    max_note: int
    attention_length: int = 0

    def to_dict(self) -> dict:
        """The JSON form stored in a checkpoint's ``config.json`` (``encoder``)."""
        return {"kind": "melody_rnn", **dataclasses.asdict(self)}


CONFIGS = {c.name: c for c in (
    MelodyConfig("basic_rnn", "one_hot", 48, 84),
    MelodyConfig("lookback_rnn", "lookback", 48, 84),
    MelodyConfig("attention_rnn", "key_melody", 48, 84, attention_length=40),
    MelodyConfig("mono_rnn", "one_hot", 0, 128),
)}
DEFAULT = "basic_rnn"


class UnknownConfigError(ValueError):
    """A melody_rnn configuration this project cannot convert."""


def get(name: str, source: str = "") -> MelodyConfig:
    """Returns the configuration called ``name``.

    Raises:
      UnknownConfigError: naming the configuration (and ``source``, if given) and the supported ones.
    """
    if name not in CONFIGS:
        where = f"{source}: " if source else ""
        raise UnknownConfigError(f"{where}melody_rnn configuration {name!r} is not supported; supported: "
                                 f"{', '.join(CONFIGS)}")
    return CONFIGS[name]


def from_dict(data: dict, source: str = "") -> MelodyConfig:
    """Inverse of :meth:`MelodyConfig.to_dict`; the stored settings must equal the named configuration's.

    Raises:
      UnknownConfigError: for another kind, an unknown name or settings that differ.
    """
    if not isinstance(data, dict) or data.get("kind") != "melody_rnn":
        raise UnknownConfigError(f"{source}: encoder {data!r} is not a melody_rnn encoder")
    config = get(data.get("name"), source)
    if config.to_dict() != data:
        raise UnknownConfigError(f"{source}: encoder settings {data} differ from {config.name}'s {config.to_dict()}")
    return config


@functools.lru_cache(maxsize=None)
def note_seq_encoder(name: str):
    """note_seq's encoder-decoder of configuration ``name`` (built as Magenta's default_configs do)."""
    from note_seq import encoder_decoder, melody_encoder_decoder
    config = get(name)
    if config.encoder == "key_melody":
        return melody_encoder_decoder.KeyMelodyEncoderDecoder(min_note=config.min_note, max_note=config.max_note)
    one_hot = melody_encoder_decoder.MelodyOneHotEncoding(min_note=config.min_note, max_note=config.max_note)
    if config.encoder == "lookback":
        return encoder_decoder.LookbackEventSequenceEncoderDecoder(one_hot)
    return encoder_decoder.OneHotEventSequenceEncoderDecoder(one_hot)


def fold_pitch(event: int, low: int = 48, high: int = 84) -> int:
    """A Magenta event with a pitch outside [low, high) moved by octaves into it (holds and note-offs unchanged)."""
    if event < 0:
        return event
    while event < low:
        event += 12
    while event >= high:
        event -= 12
    return event


class MelodyEncoder:
    """The input encoder of a melody model (:class:`rl_tuner.models.sequence_model.InputEncoder`).

    Tokens are the model's classes; events are Magenta melody events. Features are note_seq's
    ``events_to_input`` at each position.

    Attributes:
      config: the :class:`MelodyConfig`.
      input_size: length of the feature vector.
      num_classes: number of classes.
      one_hot: True when the model's input is a one-hot of the last class (basic, mono).
    """

    def __init__(self, config: MelodyConfig):
        self.config = config
        self._enc = note_seq_encoder(config.name)
        self.input_size = self._enc.input_size
        self.num_classes = self._enc.num_classes
        self.one_hot = config.encoder == "one_hot"
        self._tf = None
        if config.name == DEFAULT:  # classes are the 38 tokens: nothing to decode
            self.tf_task_tokens = None

    def _features(self):
        """The TensorFlow step features (:mod:`note_rnn.melody_tf`) of an encoded configuration."""
        if self._tf is None:
            from note_rnn import melody_tf
            if self.config.encoder == "lookback":
                self._tf = melody_tf.LookbackFeatures(self.config.max_note - self.config.min_note + 2)
            elif self.config.encoder == "key_melody":
                self._tf = melody_tf.KeyMelodyFeatures(self.config.min_note, self.config.max_note)
            else:
                raise ValueError(f"{self.config.name} reads a one-hot of its classes: no encoder state")
            assert self._tf.input_size == self.input_size
        return self._tf

    def zero_state(self, batch_size):
        """Initial TensorFlow encoder state (:class:`rl_tuner.models.sequence_model.InputEncoder`)."""
        return self._features().zero_state(batch_size)

    def state_spec(self):
        """Unbatched spec of :meth:`zero_state`."""
        return self._features().state_spec()

    def step(self, tokens, state):
        """Features of the next classes, in TensorFlow (equal to :meth:`features`)."""
        return self._features().step(tokens, state)

    def tf_task_tokens(self, first, tokens):
        """:meth:`task_tokens` of sampled classes as TensorFlow ops (an exported model's melodies).

        Args:
          first: int32 [B], the class each sequence read first (the priming class), or None
            when ``tokens`` start with the first class read (a primer).
          tokens: int32 [B, T] classes.

        Returns:
          int32 [B, T] melody tokens (None for basic_rnn, whose classes are the tokens).
        """
        import tensorflow as tf
        tokens = tf.cast(tokens, tf.int32)
        if self.one_hot:  # mono_rnn: pitches folded by octaves into 48..83, as fold_pitch
            pitch = tokens - 2 + self.config.min_note
            pitch = tf.where(pitch < 48, pitch + 12 * tf.math.floordiv(59 - pitch, 12), pitch)
            pitch = tf.where(pitch >= 84, pitch - 12 * tf.math.floordiv(pitch - 72, 12), pitch)
            return tf.where(tokens < 2, tokens, pitch - 46)
        features = self._features()
        state = features.zero_state(tf.shape(tokens)[0])
        if first is not None:
            state = features.step(first, state)[1]

        def body(carry, token):
            new_state = features.step(token, carry[1])[1]
            return features.task_token(new_state), new_state
        out, _ = tf.scan(body, tf.transpose(tokens), initializer=(tf.zeros_like(tokens[:, 0]), state))
        return tf.transpose(out)

    def task_tokens(self, tokens) -> np.ndarray:
        """The 38 melody tokens of class sequences [N, T] (decoded to events in order). Pitches
        outside 48..83 (mono_rnn) are folded by octaves into that range, keeping their pitch
        class: that is what the music-theory rules and the Table-1 statistics see."""
        from note_rnn import encoding
        tokens = np.asarray(tokens)
        if self.config.name == DEFAULT:
            return tokens
        rows = [encoding.melody_to_tokens([fold_pitch(e) for e in self.decode(row)]) for row in tokens]
        return np.array(rows, np.int32).reshape(tokens.shape)

    @property
    def model_input_size(self) -> int | None:
        """``SequenceRNNConfig.input_size`` of this configuration's models (None: one-hot of the class)."""
        return None if self.one_hot else self.input_size

    def spec(self) -> dict | None:
        """Settings stored in a checkpoint's ``config.json``; None for basic_rnn (the default of
        a 38-class melody model, so such checkpoints keep format ``note_rnn/1``)."""
        return None if self.config.name == DEFAULT else self.config.to_dict()

    def check_model(self, model_config, source: str = "model") -> None:
        """Raises ValueError unless a ``SequenceRNNConfig`` fits this configuration (classes,
        input size, attention length)."""
        want = (self.num_classes, self.model_input_size, self.config.attention_length)
        got = (model_config.num_classes, model_config.input_size, model_config.attention_length)
        if want != got:
            raise ValueError(f"{source}: a {self.config.name} model has (classes, input_size, attention_length) = "
                             f"{want}, this one {got}")

    def check_events(self, events) -> list:
        """Returns ``events`` as a list of ints after checking each is encodable.

        Raises:
          ValueError: for anything but one flat sequence of integers (a nested or ragged
            list, a scalar, None, strings, booleans), or naming the first event outside
            -2, -1, min_note..max_note-1.
        """
        if isinstance(events, (str, bytes)) or not isinstance(events, (list, tuple, np.ndarray)):
            raise ValueError(f"melody events must be one sequence of integers, got {type(events).__name__}")
        out = []
        for t, e in enumerate(events.tolist() if isinstance(events, np.ndarray) else events):
            if isinstance(e, (bool, np.bool_)) or not isinstance(e, (int, float, np.integer, np.floating)):
                raise ValueError(f"melody event {e!r} at position {t} is not an integer (one melody is a flat "
                                 "list of events)")
            if isinstance(e, (float, np.floating)) and not float(e).is_integer():
                raise ValueError(f"melody event {e} at position {t} is not an integer")
            e = int(e)
            if e not in (NO_EVENT, NOTE_OFF) and not self.config.min_note <= e < self.config.max_note:
                raise ValueError(f"melody event {e} at position {t} is outside {self.config.name}'s range: -2 (hold), "
                                 f"-1 (note off) or MIDI {self.config.min_note}..{self.config.max_note - 1}")
            out.append(e)
        return out

    def labels(self, events) -> np.ndarray:
        """Class label of each event (note_seq's ``events_to_label``): int32 [T]."""
        events = self.check_events(events)
        return np.array([self._enc.events_to_label(events, t) for t in range(len(events))], np.int32)

    def features(self, events) -> np.ndarray:
        """Input vector at each position (note_seq's ``events_to_input``): float32 [T, input_size]."""
        events = self.check_events(events)
        return np.array([self._enc.events_to_input(events, t) for t in range(len(events))],
                        np.float32).reshape(len(events), self.input_size)

    def encode_events(self, events) -> np.ndarray:
        """The model's inputs: class labels [T] for one-hot models, else :meth:`features`."""
        return self.labels(events) if self.one_hot else self.features(events)

    def decode_one(self, label: int, events: list) -> int:
        """The event meant by class ``label`` after ``events`` (a repeat class looks back)."""
        return int(self._enc.class_index_to_event(int(label), events))

    def decode(self, labels) -> list:
        """Events of a sequence of class labels, decoded in order (note_seq's ``class_index_to_event``).

        Raises:
          ValueError: for a label outside 0..num_classes-1.
        """
        events = []
        for t, label in enumerate(np.asarray(labels).reshape(-1).tolist()):
            if not 0 <= int(label) < self.num_classes:
                raise ValueError(f"class {label} at position {t} is outside 0..{self.num_classes - 1}")
            events.append(self.decode_one(label, events))
        return events

    def class_names(self) -> list:
        """Name of each class: 'hold', 'off', a pitch name (C4 = MIDI 60) or 'repeat 1 bar' / 'repeat 2 bars'."""
        from note_rnn import tokens as tok
        names = []
        for c in range(self.num_classes):
            event = self.decode_one(c, [0] * 64)  # a history of pitch 0 tells repeats apart
            if event == 0 and not (self.config.min_note == 0 and c == 2 and self.one_hot):
                names.append("repeat 1 bar" if c == self.num_classes - 2 else "repeat 2 bars")
            else:
                names.append({NO_EVENT: "hold", NOTE_OFF: "off"}.get(event) or tok.pitch_name(event))
        return names

    def encode_tokens(self, tokens) -> np.ndarray:
        """Features of class sequences [B, T] (each decoded to events first): float32 [B, T, input_size]."""
        tokens = np.asarray(tokens)
        return np.stack([self.features(self.decode(row)) for row in tokens]).reshape(
            tokens.shape + (self.input_size,)) if len(tokens) else np.zeros(tokens.shape + (self.input_size,),
                                                                            np.float32)


def encoder_for(spec: dict | None, model_config, source: str = "model") -> "MelodyEncoder | None":
    """The melody encoder of a loaded model (the ``make_encoder`` of ``rl_tuner.plumbing.checkpoint.load_model``).

    Args:
      spec: the checkpoint's stored encoder settings; None means basic_rnn for a one-hot
        38-class model, and no encoder otherwise.
      model_config: the model's ``SequenceRNNConfig``.
      source: file named in errors.

    Returns:
      A :class:`MelodyEncoder`, or None for a model that is not a melody model.

    Raises:
      ValueError: for unknown settings, or a model that does not fit them.
    """
    from note_rnn import tokens
    if spec is None:
        if not (model_config.one_hot_inputs and not model_config.attention_length
                and model_config.num_classes == tokens.NUM_CLASSES):
            return None
        config = CONFIGS[DEFAULT]
    else:
        config = from_dict(spec, source)
    encoder = MelodyEncoder(config)
    encoder.check_model(model_config, source)
    return encoder

