"""Allowed ranges of numeric settings, declared once per job and checked in one place.

A config dataclass lists its numeric fields in a ``RANGES`` table ({field: Range}); its
``validate()`` (or ``__post_init__``) calls :func:`check_ranges`, and the command line
builds each flag's argparse type from the same table (:func:`rl_tuner.plumbing.cli_utils.range_type`),
so ``--learning-rate -1`` is refused before anything starts and the Python API refuses
the same values. Pure Python: importing this module imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

SEED_MAX = 2**32 - 1  # numpy's legacy seeding (tf.keras.utils.set_random_seed) takes 0..2**32-1


@dataclasses.dataclass(frozen=True)
class Range:
    """An interval of allowed values.

    Attributes:
      low: lower bound (None: unbounded).
      high: upper bound (None: unbounded).
      low_open: exclude ``low`` itself.
      high_open: exclude ``high`` itself.
      integer: values must be integers.
      optional: None is allowed (the setting is off or automatic).
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    optional: bool = False

    def describe(self) -> str:
        """The range in words, e.g. '> 0', 'in [0, 1)', 'an integer >= 1'."""
        lo, hi = _fmt(self.low), _fmt(self.high)
        if self.low is not None and self.high is not None:
            text = f"in {'(' if self.low_open else '['}{lo}, {hi}{')' if self.high_open else ']'}"
        elif self.low is not None:
            text = f"{'>' if self.low_open else '>='} {lo}"
        elif self.high is not None:
            text = f"{'<' if self.high_open else '<='} {hi}"
        else:
            text = "finite"
        return f"an integer {text}" if self.integer else text

    def contains(self, value) -> bool:
        """Whether ``value`` (a finite real number) lies in the range."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True

    def check(self, value, name: str):
        """Returns ``value`` if allowed, else raises ValueError naming ``name``.

        Raises:
          ValueError: for NaN, infinity, a non-number, a non-integer where an integer is
            required, None where it is not optional, or a value outside the range. The
            message reads ``"{name} must be {describe()}, got {value}"``.
        """
        if value is None and self.optional:
            return value
        ok = (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
              and (not self.integer or float(value).is_integer()) and self.contains(value))
        if not ok:
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return value


def _fmt(x) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def positive(integer: bool = False) -> Range:
    """> 0."""
    return Range(0, low_open=True, integer=integer)


def at_least(low, integer: bool = True, optional: bool = False) -> Range:
    """>= low."""
    return Range(low, integer=integer, optional=optional)


def between(low, high, low_open: bool = False, high_open: bool = False, integer: bool = False,
            optional: bool = False) -> Range:
    """low..high, each end closed unless said open."""
    return Range(low, high, low_open=low_open, high_open=high_open, integer=integer, optional=optional)


UNIT = between(0.0, 1.0)  # probabilities, fractions, epsilons
SEED = between(0, SEED_MAX, integer=True)
COUNT = positive(integer=True)


def check_ranges(obj, ranges: dict) -> None:
    """Checks every field of ``obj`` named in ``ranges`` ({field: Range}).

    A tuple or list value (e.g. layer sizes) is checked element by element and must not
    be empty.

    Raises:
      ValueError: naming the first field whose value is outside its range.
    """
    for name, rng in ranges.items():
        value = getattr(obj, name)
        if isinstance(value, (tuple, list)):
            if not value:
                raise ValueError(f"{name} must not be empty")
            for v in value:
                rng.check(v, name)
        else:
            rng.check(value, name)
