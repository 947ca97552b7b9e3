"""Constants of the 38-token melody encoding (no TensorFlow, no note_seq import).

The encoding is note_seq's ``MelodyOneHotEncoding(min_note=48, max_note=84)``:

* index 0: no event -- the previous note (or rest) is held for another step;
* index 1: note-off -- a rest starts;
* index i >= 2: a note-on of MIDI pitch ``i + 46`` (48..83, C3..B5).

One token is one 16th note (4 steps per quarter note).

Magenta's ``rl_tuner.py`` calls index 0 ``NOTE_OFF`` and index 1 ``NO_EVENT``, the
opposite of what the data and the MIDI writer do. This project names the indices by what
they mean in the data and applies the reward rules by *index*, exactly as the original code
does (see BUILD.md, "Deviations and quirks").
"""

NUM_CLASSES = 38
MIN_NOTE = 48  # inclusive
MAX_NOTE = 84  # exclusive
NUM_SPECIAL_EVENTS = 2
NO_EVENT = 0  # hold the previous note or rest
NOTE_OFF = 1  # start a rest
FIRST_PITCH_TOKEN = 2
STEPS_PER_QUARTER = 4
DEFAULT_QPM = 80.0  # tempo of Magenta's MIDI export


def pitch_to_token(pitch: int) -> int:
    """Returns the token index of MIDI ``pitch`` (48..83)."""
    if not MIN_NOTE <= pitch < MAX_NOTE:
        raise ValueError(f"MIDI pitch {pitch} is outside the encoded range {MIN_NOTE}..{MAX_NOTE - 1}")
    return pitch - MIN_NOTE + NUM_SPECIAL_EVENTS


def token_to_pitch(token: int) -> int:
    """Returns the MIDI pitch of a pitch token (2..37)."""
    if not FIRST_PITCH_TOKEN <= token < NUM_CLASSES:
        raise ValueError(f"token {token} is not a pitch token (expected {FIRST_PITCH_TOKEN}..{NUM_CLASSES - 1})")
    return token + MIN_NOTE - NUM_SPECIAL_EVENTS


PITCH_CLASS_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
TOKEN_NAMES = {NO_EVENT: "hold", NOTE_OFF: "off"}


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch, middle C (60) = C4: 48 -> 'C3', 61 -> 'C#4'."""
    return f"{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}"


def token_name(token: int) -> str:
    """What a token means, for plots and messages: 0 -> 'hold', 1 -> 'off', 14 -> 'C4'.

    Raises:
      ValueError: for an index outside 0..NUM_CLASSES-1.
    """
    if token in TOKEN_NAMES:
        return TOKEN_NAMES[token]
    return pitch_name(token_to_pitch(token))
