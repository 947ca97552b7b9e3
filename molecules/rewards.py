"""The molecule domain reward: RDKit scoring components, a weights table and two presets.

Each property component is a small scorer with a frozen parameters dataclass (REINVENT
style), found by name in :data:`COMPONENTS`; a preset's ``weights`` table combines them
into the property sum

    P = sum_k weights[k] * component_k(mol)       (paper: 3 logP + 5 ring + 50 QED - 2 SA)

The per-step domain reward of Sequence Tutor (``smiles_tutor.py`` of the original; BUILD.md, "Molecules: data,
tokenizers and rewards"), with ``seq``
the generated tokens plus the action ``a`` and ``terminal`` = ``a`` is the end token or
``len(seq) >= max_length``:

| case                          | reward                                          |
|-------------------------------|-------------------------------------------------|
| not terminal, invalid prefix  | invalid_step (-5) + carbon                      |
| not terminal, valid prefix    | valid_step (+5) + P (if property_on_prefix) + carbon |
| terminal, valid               | end_multiplier (10) * P + length + end_valid (600) + carbon |
| terminal, invalid             | length + end_invalid (0) + carbon               |

``carbon`` is -150 when ``a`` is ``C`` and more than ``max_run`` (11) ``C`` tokens directly
precede it; ``length`` is -200 below ``short`` tokens, else -25 below ``shortish``.

Presets:

* ``paper`` (:func:`paper_preset`): the original's exact constants, the 35-character
  vocabulary, lengths counted with the end token (as the original's ``len(seq)``), its
  hard-coded ZINC statistics (45.82 +- 9.37, min 19, at most 11 consecutive C) and its ring
  measure (``networkx.cycle_basis`` on the SMILES as given, so it depends on atom order).
* ``default`` (:func:`default_preset`): the same structure and weights, with an
  order-independent ring measure (largest ring of RDKit's ring perception), atom-level
  tokens, lengths counted without the end token, and length and carbon-chain limits derived
  from the training data (:func:`data_statistics`; the MOSES figures are built in).

:class:`DomainReward` evaluates a preset; the RDKit work is cached by SMILES string.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence

from molecules import chem, tokenizers

# ---------------------------------------------------------------------------------------------
# Property components (REINVENT style: a parameters dataclass and a scorer of one molecule).


@dataclasses.dataclass(frozen=True)
class LogPParams:
    """Attributes:
      on_error: value when RDKit raises (the original: 0).
    """
    on_error: float = 0.0


@dataclasses.dataclass(frozen=True)
class QEDParams:
    """Attributes:
      on_error: value when RDKit raises (the original: 0).
    """
    on_error: float = 0.0


@dataclasses.dataclass(frozen=True)
class SAParams:
    """Attributes:
      on_error: raw SA score assumed when ``sascorer`` raises; 5 makes the original's
        penalty -SA equal -5.
    """
    on_error: float = 5.0


@dataclasses.dataclass(frozen=True)
class RingParams:
    """Attributes:
      method: "cycle_basis" (the original: networkx cycle basis, depends on atom order) or
        "sssr" (largest ring of RDKit's ring perception, order-independent).
      max_size: rings up to this size are free; the penalty is -max(0, L - max_size).
    """
    method: str = "cycle_basis"
    max_size: int = 6

    def __post_init__(self):
        if self.method not in RING_MEASURES:
            raise ValueError(f"ring method must be one of {sorted(RING_MEASURES)}, got {self.method!r}")


RING_MEASURES: Dict[str, Callable] = {"cycle_basis": chem.largest_cycle_basis_ring,
                                      "sssr": chem.largest_sssr_ring}


def _guarded(function, mol, on_error: float) -> float:
    try:
        return float(function(mol))
    except Exception:  # pylint: disable=broad-except  # the original's bare except -> constant
        return float(on_error)


def logp(mol, params: LogPParams = LogPParams()) -> float:
    """Crippen logP (:func:`molecules.chem.crippen_logp`); ``params.on_error`` if RDKit raises."""
    return _guarded(chem.crippen_logp, mol, params.on_error)


def qed(mol, params: QEDParams = QEDParams()) -> float:
    """RDKit QED in 0..1 (:func:`molecules.chem.qed`); ``params.on_error`` if RDKit raises."""
    return _guarded(chem.qed, mol, params.on_error)


def sa(mol, params: SAParams = SAParams()) -> float:
    """Raw SA score 1..10 (:func:`molecules.chem.sa_score`); ``params.on_error`` if it raises.
    Its weight is negative (the paper: -2), i.e. the reward term is 2 * (-SA)."""
    return _guarded(chem.sa_score, mol, params.on_error)


def ring_penalty(mol, params: RingParams = RingParams()) -> float:
    """-max(0, L - max_size) with L the largest ring of ``params.method`` (0 without rings)."""
    return float(-max(0, RING_MEASURES[params.method](mol) - params.max_size))  # 0.0, never -0.0


@dataclasses.dataclass(frozen=True)
class Component:
    """A named property scorer and its parameters class."""
    score: Callable
    params: type


# The registry: name -> component. A preset's weights table refers to these names.
COMPONENTS: Dict[str, Component] = {
    "logp": Component(logp, LogPParams),
    "qed": Component(qed, QEDParams),
    "sa": Component(sa, SAParams),
    "ring_penalty": Component(ring_penalty, RingParams),
}

# ---------------------------------------------------------------------------------------------
# Sequence terms: length penalty, carbon chains, and the per-step constants.


@dataclasses.dataclass(frozen=True)
class LengthParams:
    """Penalties of a finished sequence by its length (in tokens).

    Attributes:
      short: lengths below this get ``short_penalty``.
      short_penalty: the original: -200.
      shortish: lengths below this (and not below ``short``) get ``shortish_penalty``.
      shortish_penalty: the original: -25.
      longish: lengths above this get ``longish_penalty`` (None: no such rule).
      longish_penalty: the original: 0.
      long: lengths above this get ``long_penalty`` instead (None: no such rule).
      long_penalty: the original: 0.
      count_end: the length includes the end token (the original's ``len(seq)``).
    """
    short: float = 19
    short_penalty: float = -200.0
    shortish: float = 45.82 - 2 * 9.37
    shortish_penalty: float = -25.0
    longish: Optional[float] = 45.82 + 2 * 9.37
    longish_penalty: float = 0.0
    long: Optional[float] = 78
    long_penalty: float = 0.0
    count_end: bool = True


def length_penalty(length: int, params: LengthParams = LengthParams()) -> float:
    """The length term of a terminal step.

    Args:
      length: tokens of the finished sequence (with the end token if ``params.count_end``;
        the caller counts).
    """
    if length < params.short:
        return params.short_penalty
    if length < params.shortish:
        return params.shortish_penalty
    if params.long is not None and length > params.long:
        return params.long_penalty
    if params.longish is not None and length > params.longish:
        return params.longish_penalty
    return 0.0


@dataclasses.dataclass(frozen=True)
class CarbonParams:
    """Penalty for long chains of the carbon token.

    Attributes:
      max_run: the penalty applies when more than this many ``symbol`` tokens directly
        precede an action that is ``symbol`` (the original: 11, so from the 13th C on).
      penalty: the original: -150.
      symbol: the token counted ("C"; with the character vocabulary the C of Cl counts).
    """
    max_run: int = 11
    penalty: float = -150.0
    symbol: str = "C"


def carbon_penalty(generated: Sequence[str], action: str, params: CarbonParams = CarbonParams()) -> float:
    """``params.penalty`` if ``action`` is the carbon token and more than ``max_run`` carbon
    tokens end ``generated``; else 0."""
    if action != params.symbol:
        return 0.0
    return params.penalty if trailing_run(generated, params.symbol) > params.max_run else 0.0


def trailing_run(tokens: Sequence[str], symbol: str) -> int:
    """Number of consecutive ``symbol`` tokens at the end of ``tokens``."""
    n = 0
    for token in reversed(tokens):
        if token != symbol:
            break
        n += 1
    return n


def longest_run(tokens: Sequence[str], symbol: str) -> int:
    """Length of the longest run of consecutive ``symbol`` tokens in ``tokens``."""
    best = run = 0
    for token in tokens:
        run = run + 1 if token == symbol else 0
        best = max(best, run)
    return best


@dataclasses.dataclass(frozen=True)
class StepParams:
    """The per-step constants of the domain reward (the original's rl_tutor_train.py).

    Attributes:
      valid_step: reward of a non-terminal step whose prefix is a valid molecule (+5).
      invalid_step: reward of a non-terminal step whose prefix is invalid (-5).
      property_on_prefix: add the property sum P at every valid non-terminal step (the
        original does).
      end_valid: bonus of a terminal step with a valid molecule (+600).
      end_invalid: reward of a terminal step with an invalid sequence (0).
      end_multiplier: the property sum is multiplied by this at a valid terminal step (10).
    """
    valid_step: float = 5.0
    invalid_step: float = -5.0
    property_on_prefix: bool = True
    end_valid: float = 600.0
    end_invalid: float = 0.0
    end_multiplier: float = 10.0


@dataclasses.dataclass(frozen=True)
class RewardPreset:
    """Everything the domain reward depends on.

    Attributes:
      name: "paper", "default" or a user's name.
      tokenizer: "char" (the 35-character vocabulary) or "atom": how a finished SMILES is
        cut into tokens for its length and carbon runs (:meth:`DomainReward.finished`).
      weights: {component name: weight} of the property sum; names from :data:`COMPONENTS`.
      params: {component name: parameters} overriding the components' defaults.
      length: the length penalty of terminal steps.
      carbon: the consecutive-carbon penalty.
      steps: the per-step constants.
      max_length: a sequence ends after this many generated tokens (end token included).
    """
    name: str
    tokenizer: str
    weights: Mapping[str, float]
    params: Mapping[str, object]
    length: LengthParams
    carbon: CarbonParams
    steps: StepParams = StepParams()
    max_length: int = 120

    def __post_init__(self):
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            raise ValueError(f"unknown reward components {unknown}; known: {sorted(COMPONENTS)}")
        for name, params in self.params.items():
            if name not in COMPONENTS:
                raise ValueError(f"params for unknown reward component {name!r}; known: {sorted(COMPONENTS)}")
            if not isinstance(params, COMPONENTS[name].params):
                raise ValueError(f"params[{name!r}] must be a {COMPONENTS[name].params.__name__}")
        if self.tokenizer not in ("char", "atom"):
            raise ValueError(f"tokenizer must be 'char' or 'atom', got {self.tokenizer!r}")


PAPER_WEIGHTS: Mapping[str, float] = {"logp": 3.0, "ring_penalty": 5.0, "qed": 50.0, "sa": -2.0}

# The original's hard-coded training-set statistics (rl_tutor_train.py; 250k ZINC, in characters).
PAPER_STATISTICS = {"length": {"mean": 45.82, "std": 9.37, "min": 19, "max": 78}, "max_consecutive_c": 11}


def paper_preset() -> RewardPreset:
    """The original's final reward (rl_tutor_train.py at 2d6b240)."""
    s = PAPER_STATISTICS["length"]
    return RewardPreset(
        name="paper", tokenizer="char", weights=dict(PAPER_WEIGHTS),
        params={"ring_penalty": RingParams(method="cycle_basis")},
        length=LengthParams(short=s["min"], shortish=s["mean"] - 2 * s["std"],
                            longish=s["mean"] + 2 * s["std"], long=s["max"], count_end=True),
        carbon=CarbonParams(max_run=PAPER_STATISTICS["max_consecutive_c"]))


def data_statistics(smiles: Iterable[str], tokenizer: str = "atom") -> dict:
    """Length and carbon-chain statistics of a data set, for :func:`default_preset`.

    Args:
      smiles: the training SMILES.
      tokenizer: "atom" (atom-level tokens) or "char" (characters).

    Returns:
      ``{"tokenizer", "count", "length": {"mean", "std", "min", "max"},
      "max_consecutive_c"}``: lengths in tokens without an end token, population std, and
      the longest run of consecutive ``C`` tokens.

    Raises:
      ValueError: no SMILES.
    """
    split = _splitter(tokenizer)
    n = total = total_sq = 0
    low, high, run = math.inf, 0, 0
    for s in smiles:
        tokens = split(s)
        length = len(tokens)
        n += 1
        total += length
        total_sq += length * length
        low, high = min(low, length), max(high, length)
        run = max(run, longest_run(tokens, "C"))
    if n == 0:
        raise ValueError("data_statistics: no SMILES")
    mean = total / n
    std = math.sqrt(max(0.0, total_sq / n - mean * mean))
    return {"tokenizer": tokenizer, "count": n,
            "length": {"mean": mean, "std": std, "min": int(low), "max": int(high)},
            "max_consecutive_c": int(run)}


# data_statistics of the MOSES training split written by `molecules prepare` (atom tokens;
# summary.json of `molecules prepare --out data/moses`, seed 0, RDKit 2026.09.1), used when
# no data set is given.
MOSES_STATISTICS = {"tokenizer": "atom", "count": 1426522,
                    "length": {"mean": 35.368980639625605, "std": 4.500146758556299, "min": 13, "max": 54},
                    "max_consecutive_c": 8}


# The default preset's length penalties: a molecule shorter or longer than any in the data
# loses more than the +600 of a valid end can win (the original's -200 leaves "C" + end at
# +452, which the paper-preset run learns to write: BUILD.md, Table 2); the "-ish" rules
# (beyond 2 std of the mean) cost -100 instead of -25 and 0.
DEFAULT_LENGTH_PENALTIES = dict(short_penalty=-1000.0, shortish_penalty=-100.0, longish_penalty=-100.0,
                                long_penalty=-1000.0)


def default_preset(statistics: Optional[Mapping] = None) -> RewardPreset:
    """The default reward: the paper's weights and constants with data-derived limits.

    The length penalties use the data's minimum (short, -1000) and mean - 2 std (shortish,
    -100), mean + 2 std (longish, -100) and the maximum (long, -1000), all in atom-level tokens
    without the end token (:data:`DEFAULT_LENGTH_PENALTIES`: a too short or too long molecule
    loses more than a valid end wins; the original's -200, 0, 0 make "C" + end worth +452). The carbon rule fires at a ``C`` that makes a run longer than the longest run
    of ``C`` tokens in the data (the paper's wording; the original's hard-coded rule fires one
    ``C`` later). The ring
    penalty uses RDKit's ring perception (independent of the atom order). Only the finished
    molecule is rewarded: the property sum (x10 at a valid end) is not paid at every valid
    prefix as the original does (paid per prefix it rewards long runs of valid prefixes over
    the molecule), and neither is the original's +-5 for a valid or invalid prefix: most
    atom-level prefixes are invalid only because a ring or branch is still open (the -5
    averaged -3.0 a step in a tuned run), so it charges a molecule by the tokens inside its
    rings and branches, and tuned policies shortened their molecules and lost validity
    (BUILD.md, Table 2).

    Args:
      statistics: :func:`data_statistics` of the training set (``summary.json``'s
        ``statistics`` of a prepared data set); None uses the MOSES training split's.

    Raises:
      ValueError: statistics of another tokenizer or missing fields.
    """
    stats = MOSES_STATISTICS if statistics is None else statistics
    if stats.get("tokenizer", "atom") != "atom":
        raise ValueError(f"default preset needs atom-level statistics, got {stats.get('tokenizer')!r}")
    try:
        s = stats["length"]
        mean, std, low, high = float(s["mean"]), float(s["std"]), int(s["min"]), int(s["max"])
        max_run = int(stats["max_consecutive_c"])
    except (KeyError, TypeError) as e:
        raise ValueError(f"data statistics lack {e}") from None
    return RewardPreset(
        name="default", tokenizer="atom", weights=dict(PAPER_WEIGHTS),
        params={"ring_penalty": RingParams(method="sssr")},
        length=LengthParams(short=low, shortish=mean - 2 * std, longish=mean + 2 * std, long=high,
                            count_end=False, **DEFAULT_LENGTH_PENALTIES),
        carbon=CarbonParams(max_run=max_run - 1),  # fires when a run gets longer than any in the data
        steps=StepParams(valid_step=0.0, invalid_step=0.0, property_on_prefix=False))


# name -> builder taking the data statistics (the paper preset ignores them).
PRESETS: Dict[str, Callable[[Optional[Mapping]], RewardPreset]] = {
    "paper": lambda statistics=None: paper_preset(), "default": default_preset}


def _splitter(tokenizer: str) -> Callable[[str], list]:
    if tokenizer == "char":
        return list
    if tokenizer == "atom":
        return tokenizers.split_atoms
    raise ValueError(f"tokenizer must be 'char' or 'atom', got {tokenizer!r}")


# ---------------------------------------------------------------------------------------------


class DomainReward:
    """Evaluates a :class:`RewardPreset`; RDKit results are cached by SMILES string.

    Args:
      preset: the reward's constants.
      cache_size: SMILES strings whose properties are kept (LRU).
    """

    def __init__(self, preset: RewardPreset, cache_size: int = 1 << 18):
        self.preset = preset
        self._params = {name: preset.params.get(name, COMPONENTS[name].params())
                        for name in COMPONENTS}
        self.split = _splitter(preset.tokenizer)
        self.properties = functools.lru_cache(maxsize=cache_size)(self._properties)

    def _properties(self, smiles: str) -> Optional[Mapping[str, float]]:
        """{component name: value} of a valid SMILES, None if invalid (read-only: it is cached)."""
        mol = chem.parse(smiles)
        if mol is None:
            return None
        return types.MappingProxyType(
            {name: component.score(mol, self._params[name]) for name, component in COMPONENTS.items()})

    def property_sum(self, properties: Mapping[str, float]) -> float:
        """P = sum of weight * component over the preset's weights table."""
        return float(sum(w * properties[name] for name, w in self.preset.weights.items()))

    def step(self, generated: Sequence[str], action: str, end: str, max_length: Optional[int] = None,
             known_invalid: Optional[Callable[[str], bool]] = None) -> Dict[str, float]:
        """The domain reward of appending ``action`` to ``generated``.

        Args:
          generated: the tokens generated so far (no primer or begin token).
          action: the new token.
          end: the vocabulary's end token.
          max_length: a step reaching this many tokens is terminal (default: the preset's).
          known_invalid: optional ``text -> bool``, True for a prefix that is certainly no
            molecule (then RDKit is not asked; e.g. :func:`molecules.environment.cheap_invalid`).

        Returns:
          ``{"total", "validity", "property", "length", "end", "carbon"}``: the reward and
          its terms (``validity`` is the +-5 of a non-terminal step, ``end`` the bonus of
          a terminal one, ``property`` the (multiplied) property sum).
        """
        seq = list(generated) + [action]
        text = "".join(t for t in seq if t != end)
        carbon = carbon_penalty(generated, action, self.preset.carbon)
        limit = self.preset.max_length if max_length is None else max_length
        if action == end or len(seq) >= limit:
            length = len(seq) if self.preset.length.count_end else sum(t != end for t in seq)
            return self._terminal(text, length, carbon, known_invalid)
        terms = {"validity": 0.0, "property": 0.0, "length": 0.0, "end": 0.0, "carbon": carbon}
        props = None if known_invalid is not None and known_invalid(text) else self.properties(text)
        if props is None:
            terms["validity"] = self.preset.steps.invalid_step
        else:
            terms["validity"] = self.preset.steps.valid_step
            if self.preset.steps.property_on_prefix:
                terms["property"] = self.property_sum(props)
        terms["total"] = float(sum(terms.values()))
        return terms

    def _terminal(self, text: str, length: int, carbon: float, known_invalid=None) -> Dict[str, float]:
        steps = self.preset.steps
        props = None if known_invalid is not None and known_invalid(text) else self.properties(text)
        terms = {"validity": 0.0,
                 "property": 0.0 if props is None else steps.end_multiplier * self.property_sum(props),
                 "length": length_penalty(length, self.preset.length),
                 "end": steps.end_invalid if props is None else steps.end_valid,
                 "carbon": carbon}
        terms["total"] = float(sum(terms.values()))
        return terms

    def finished(self, smiles: str) -> float:
        """The domain reward of the terminal (end-token) step of a finished SMILES.

        The SMILES is cut into the preset's tokens (characters or atom-level tokens) to count
        its length (plus one for the end token if the preset counts it); the carbon rule does
        not apply to the end token.
        """
        text = smiles.strip()
        length = len(self.split(text)) + (1 if self.preset.length.count_end else 0)
        return self._terminal(text, length, 0.0)["total"]

    def sequence(self, tokens: Sequence[str], end: str) -> list:
        """Per-step domain rewards of generating ``tokens`` one by one (a trace, as the
        original's reward_trace.py); ``tokens`` may end with ``end``."""
        return [self.step(tokens[:i], tokens[i], end)["total"] for i in range(len(tokens))]

    def score(self, smiles: str) -> Dict[str, object]:
        """One record of ``molecules score``: smiles, valid, logp, qed, sa, ring_penalty,
        reward (properties None for an invalid SMILES; reward is the :meth:`finished`
        reward, which an invalid SMILES also gets)."""
        props = self.properties(smiles.strip())
        record = {"smiles": smiles, "valid": props is not None}
        for name in ("logp", "qed", "sa", "ring_penalty"):
            record[name] = None if props is None else props[name]
        record["reward"] = self.finished(smiles)
        return record


def make_preset(name: str, statistics: Optional[Mapping] = None) -> RewardPreset:
    """Returns the preset called ``name`` ("paper" ignores ``statistics``).

    Raises:
      ValueError: unknown name.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown reward preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[name](statistics)
