"""Prepares the process for TensorFlow: Keras 2 API, quiet logs, then a quiet import.

tf-agents 0.19 only works with the legacy Keras 2 API; TensorFlow 2.21 uses Keras 3 unless
``TF_USE_LEGACY_KERAS=1`` is set before ``import tensorflow``.

Third-party noise silenced here, at its source (each line was seen on every command):

* ``WARNING: All log messages before absl::InitializeLog() ...``, ``oneDNN custom
  operations are on ...`` and ``Could not find cuda drivers ...`` (twice each): C++ info
  lines written to fd 2 while ``import tensorflow`` loads its libraries, before absl logging
  is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot filter them. :func:`import_tensorflow`
  captures fd 2 for the duration of the import only and writes back every line that the
  log level lets through (so an import error or any unknown line still shows).
* ``failed call to cuInit`` and ``oneDNN supports DT_INT32 only on platforms with
  AVX-512`` (error level, at the first op / first compiled loop): harmless on a CPU-only
  machine; ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 here. A failure that matters reaches
  Python as an exception, which the commands print. Set ``TF_CPP_MIN_LOG_LEVEL=0`` in the
  environment to see TensorFlow's C++ log again.
* gym's "Gym has been unmaintained since 2022 ..." (three lines, imported by tf-agents):
  gym prints whatever ``gym_notices.notices`` holds for its version; the table is emptied.
* autograph recompiling ``tf_agents.utils.common`` (``state is not ()``, a SyntaxWarning)
  and note-seq's pydub looking for ffmpeg (never used): Python warning filters.
"""

import os
import re
import sys
import tempfile
import warnings

# absl log lines: severity letter I/W/E/F, then MMDD; TF_CPP_MIN_LOG_LEVEL hides I (>= 1),
# W (>= 2) and E (>= 3).
_LOG_LINE = re.compile(r"^([IWEF])\d{4} ")
_LEVELS = {"I": 0, "W": 1, "E": 2, "F": 3}
_CONTINUATION = "To enable the following instructions:"
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def configure() -> None:
    """Sets the environment TensorFlow reads at import; imports nothing heavy.

    Sets ``TF_USE_LEGACY_KERAS=1`` and, unless already set, ``TF_CPP_MIN_LOG_LEVEL=3``;
    installs the warning filters and empties gym's notice table.

    Raises:
      RuntimeError: if TensorFlow was already imported without the Keras 2 API.
    """
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise RuntimeError(
            "TensorFlow was imported before this package without TF_USE_LEGACY_KERAS=1; "
            "import note_rnn / rl_tuner first or set TF_USE_LEGACY_KERAS=1 in the environment.")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=SyntaxWarning, message='"is not" with a literal')
    warnings.filterwarnings("ignore", category=RuntimeWarning, message="Couldn't find ffmpeg")
    _empty_gym_notices()


def _empty_gym_notices() -> None:
    try:
        import gym_notices.notices as gym_notices
    except ImportError:  # gym's notice package is optional
        return
    gym_notices.notices.clear()


def min_log_level() -> int:
    """TF_CPP_MIN_LOG_LEVEL as an int (0 if unset or not a number)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def filter_import_log(text: str, level: int) -> str:
    """Drops the absl log lines below ``level`` (TF_CPP_MIN_LOG_LEVEL) from ``text``.

    Args:
      text: what was written to fd 2 during ``import tensorflow``.
      level: 0 keeps everything; 1 drops info lines; 2 also warnings; 3 also errors.
        The absl pre-initialisation notice goes once anything is dropped, and so does the
        known second line of the CPU-feature notice ("To enable the following
        instructions: ...") when its message goes.

    Returns:
      The remaining text: every other line (a Python traceback, say) is kept.
    """
    kept, dropped_last = [], False
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if match:
            drop = _LEVELS[match.group(1)] < level
        elif line.rstrip("\n") == _ABSL_PREAMBLE:
            drop = level > 0
        else:
            drop = dropped_last and line.startswith(_CONTINUATION)
        dropped_last = drop
        if not drop:
            kept.append(line)
    return "".join(kept)


def import_tensorflow():
    """Imports TensorFlow (Keras 2 API) with its import-time C++ noise filtered; returns it.

    fd 2 is redirected to a temporary file only while the import runs; what was written
    there is filtered by :func:`filter_import_log` and written back to stderr (also when
    the import fails).
    """
    configure()
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            rest = filter_import_log(capture.read().decode("utf-8", "replace"), min_log_level())
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()
    return tensorflow


def use_legacy_keras() -> None:
    """Selects the Keras 2 API and imports TensorFlow quietly (call before ``import tensorflow``).

    Raises:
      RuntimeError: if TensorFlow was already imported without the Keras 2 API.
    """
    import_tensorflow()
