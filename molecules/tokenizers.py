"""SMILES tokenizers: the original's 35-character vocabulary and an atom-level vocabulary.

Two tokenizers with one interface (``split``, ``encode``, ``decode``, ``to_json``):

* :class:`CharTokenizer` is the Sequence Tutor original's vocabulary
  (``zinc_char_list.json`` of Gomez-Bombarelli et al.): 35 single
  characters, ``' '`` at index 0 serving as end token and padding, no begin token. ``Cl`` is
  ``C`` + ``l`` and ``[nH]`` is four tokens.
* :class:`AtomTokenizer` splits a SMILES into atoms and bonds: ``Cl``, ``Br``, every bracket
  atom (``[nH]``, ``[C@@H]``, ``[N+]``) and every two-digit ring closure (``%10``) are single
  tokens. Its vocabulary is fitted on a training set (:meth:`AtomTokenizer.fit`) and starts
  with ``<eos>`` (index 0, also padding) and ``<bos>`` (index 1).

Both are stored as JSON (:func:`to_json` / :func:`from_json`, :func:`save` / :func:`load`) so
a checkpoint carries the exact vocabulary it was trained with.
"""

from __future__ import annotations

import collections
import json
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

# Index order of zinc_char_list.json (the original's; BUILD.md, "Molecules: data, tokenizers and rewards"): ' ' is index 0 (EOS).
PAPER_SYMBOLS: Tuple[str, ...] = (
    " ", "#", "(", ")", "+", "-", "/", "1", "2", "3", "4", "5", "6", "7", "8", "=", "@",
    "B", "C", "F", "H", "I", "N", "O", "P", "S", "[", "\\", "]", "c", "l", "n", "o", "r", "s")
assert len(PAPER_SYMBOLS) == 35

# One SMILES token per match: a bracket atom, a two-letter organic-subset atom, a two-digit
# ring closure, or one character of the organic subset, bonds, branches and ring digits
# (after Schwaller et al. 2018, without the reaction symbols). Anything else is unknown.
ATOM_PATTERN = (r"\[[^\[\]]*\]|Br|Cl|%\d\d|[BCNOSPFIbcnops]|[()=#\-+\\/:~.*$@]|\d")
_ATOM_RE = re.compile(f"({ATOM_PATTERN})|(.)", re.S)

END_TOKEN = "<eos>"
BEGIN_TOKEN = "<bos>"
MAX_LINES_SHOWN = 5  # line numbers listed per unknown symbol in an error message


class Tokenizer:
    """The shared interface of the SMILES tokenizers (subclasses set ``kind`` and ``split``)."""

    kind = ""

    def __init__(self, symbols: Sequence[str], end: str, begin: Optional[str]):
        self.symbols: Tuple[str, ...] = tuple(symbols)
        if len(set(self.symbols)) != len(self.symbols):
            dup = sorted(s for s, n in collections.Counter(self.symbols).items() if n > 1)
            raise ValueError(f"{self.kind} tokenizer: duplicate symbols {dup}")
        self.index: Dict[str, int] = {s: i for i, s in enumerate(self.symbols)}
        for name, special in (("end", end), ("begin", begin)):
            if special is not None and special not in self.index:
                raise ValueError(f"{self.kind} tokenizer: {name} token {special!r} is not in its symbols")
        self.end, self.begin = end, begin
        self.end_id: int = self.index[end]
        self.begin_id: Optional[int] = None if begin is None else self.index[begin]

    @property
    def vocab_size(self) -> int:
        """Number of symbols, special tokens included."""
        return len(self.symbols)

    def _special(self) -> Tuple[str, ...]:
        return tuple(s for s in (self.end, self.begin) if s is not None)

    def split(self, smiles: str) -> List[str]:
        """Splits a SMILES into tokens (characters for the paper vocabulary).

        Characters no token pattern matches come back as one-character tokens; whether a
        token is in the vocabulary is checked by :meth:`unknown_symbols` and :meth:`encode`.
        """
        raise NotImplementedError

    def unknown_symbols(self, smiles: str) -> List[str]:
        """Returns the tokens of ``smiles`` outside the vocabulary (special tokens included),
        in order of first appearance, each once."""
        special = self._special()
        seen = []
        for token in self.split(smiles):
            if (token not in self.index or token in special) and token not in seen:
                seen.append(token)
        return seen

    def encode(self, smiles: str, add_begin: bool = True, add_end: bool = True) -> np.ndarray:
        """Encodes one SMILES string.

        Args:
          smiles: the SMILES text (no end symbol).
          add_begin: prepend the begin token (ignored for a vocabulary without one).
          add_end: append the end token.

        Returns:
          int32 array of token ids, shape [num_tokens (+1 begin) (+1 end)].

        Raises:
          ValueError: a symbol is outside the vocabulary (the message names it).
        """
        return self.encode_lines([smiles], add_begin=add_begin, add_end=add_end)[0]

    def encode_lines(self, lines: Sequence[str], source: str = "", first_line: int = 1,
                     add_begin: bool = True, add_end: bool = True) -> List[np.ndarray]:
        """Encodes many SMILES, checking all of them before failing.

        Args:
          lines: SMILES strings, one per line of ``source``.
          source: name of the file the lines came from, used in the error message.
          first_line: line number of ``lines[0]`` in ``source``.
          add_begin, add_end: as in :meth:`encode`.

        Returns:
          One int32 array per line.

        Raises:
          ValueError: some lines contain symbols outside the vocabulary; the message lists
            every such symbol with the numbers of the lines it occurs on.
        """
        problems: Dict[str, List[int]] = {}
        for number, line in enumerate(lines, start=first_line):
            for symbol in self.unknown_symbols(line):
                problems.setdefault(symbol, []).append(number)
        if problems:
            raise ValueError(unknown_symbols_message(problems, self.describe(), source))
        head = [self.begin_id] if add_begin and self.begin_id is not None else []
        tail = [self.end_id] if add_end else []
        return [np.asarray(head + [self.index[t] for t in self.split(line)] + tail, dtype=np.int32)
                for line in lines]

    def decode(self, ids: Iterable[int]) -> str:
        """Turns token ids back into a SMILES string.

        A leading begin token is dropped and decoding stops at the first end token.

        Raises:
          ValueError: an id is outside ``0 .. vocab_size-1`` or a begin token occurs later.
        """
        out = []
        for position, i in enumerate(ids):
            i = int(i)
            if not 0 <= i < len(self.symbols):
                raise ValueError(f"token id {i} is outside the {self.kind} vocabulary (0..{len(self.symbols) - 1})")
            if i == self.end_id:
                break
            if i == self.begin_id:
                if position == 0:
                    continue
                raise ValueError(f"begin token at position {position}")
            out.append(self.symbols[i])
        return "".join(out)

    def describe(self) -> str:
        """A short name used in messages, e.g. ``'the 35-symbol char vocabulary'``."""
        return f"the {len(self.symbols)}-symbol {self.kind} vocabulary"

    def to_json(self) -> dict:
        """The tokenizer as a JSON-serialisable dict (read back by :func:`from_json`)."""
        return {"kind": self.kind, "symbols": list(self.symbols), "end": self.end, "begin": self.begin}

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vocab_size} symbols)"


class CharTokenizer(Tokenizer):
    """The original's character vocabulary: one token per character, ``' '`` = end (index 0).

    Args:
      symbols: the vocabulary in index order; default :data:`PAPER_SYMBOLS`.
    """

    kind = "char"

    def __init__(self, symbols: Sequence[str] = PAPER_SYMBOLS):
        symbols = list(symbols)
        if not symbols or any(len(s) != 1 for s in symbols):
            raise ValueError("char tokenizer: symbols must be single characters, the end symbol first")
        super().__init__(symbols, end=symbols[0], begin=None)

    def split(self, smiles: str) -> List[str]:
        return list(smiles)


class AtomTokenizer(Tokenizer):
    """Atom-level tokens (``Cl``, ``Br``, bracket atoms, ``%nn``) with begin and end tokens.

    Args:
      tokens: the SMILES tokens of the vocabulary (without the special tokens); they are
        placed after ``<eos>`` (0) and ``<bos>`` (1) in the given order.
    """

    kind = "atom"

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        bad = [t for t in tokens if t in (END_TOKEN, BEGIN_TOKEN) or split_atoms(t) != [t]]
        if bad:
            raise ValueError(f"atom tokenizer: {bad} are not single SMILES tokens")
        super().__init__([END_TOKEN, BEGIN_TOKEN] + tokens, end=END_TOKEN, begin=BEGIN_TOKEN)

    @classmethod
    def fit(cls, smiles: Iterable[str]) -> "AtomTokenizer":
        """Builds the vocabulary of every token in ``smiles`` (sorted, so the result does not
        depend on the order of the lines).

        Raises:
          ValueError: a line contains characters that are no SMILES token (listed with
            their line numbers, counted from 1).
        """
        counts: collections.Counter = collections.Counter()
        problems: Dict[str, List[int]] = {}
        for number, line in enumerate(smiles, start=1):
            for token, unknown in atom_matches(line):
                if unknown:
                    problems.setdefault(token, []).append(number)
                else:
                    counts[token] += 1
        if problems:
            raise ValueError(unknown_symbols_message(problems, "SMILES tokens", ""))
        return cls(sorted(counts))

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> "AtomTokenizer":
        """Builds the vocabulary from token counts (e.g. summed over worker processes)."""
        return cls(sorted(t for t, n in counts.items() if n > 0))

    def split(self, smiles: str) -> List[str]:
        return split_atoms(smiles)

    def unknown_symbols(self, smiles: str) -> List[str]:
        seen = []
        for token, _ in atom_matches(smiles):
            if (token not in self.index or token in (END_TOKEN, BEGIN_TOKEN)) and token not in seen:
                seen.append(token)
        return seen

    def to_json(self) -> dict:
        out = super().to_json()
        out["pattern"] = ATOM_PATTERN
        return out


def atom_matches(smiles: str):
    """Yields (token, unknown) for each atom-level token of ``smiles``; ``unknown`` is True
    for a character no token pattern matches."""
    for m in _ATOM_RE.finditer(smiles):
        yield (m.group(1), False) if m.group(1) is not None else (m.group(2), True)


def split_atoms(smiles: str) -> List[str]:
    """Splits a SMILES into atom-level tokens; a character no token matches is its own token.

    >>> split_atoms("ClC[C@@H]1CC%10Br")
    ['Cl', 'C', '[C@@H]', '1', 'C', 'C', '%10', 'Br']
    """
    return [token for token, _ in atom_matches(smiles)]


def unknown_symbols_message(problems: Mapping[str, Sequence[int]], vocabulary: str, source: str) -> str:
    """Formats ``{symbol: [line numbers]}`` as a one-line error message.

    Example: ``data.smi: 2 symbols outside the 35-symbol char vocabulary: 'X' (line 3),
    'Z' (lines 4, 9, 11, 12, 20 and 3 more)``.
    """
    parts = []
    for symbol, lines in problems.items():
        shown = ", ".join(str(n) for n in lines[:MAX_LINES_SHOWN])
        more = f" and {len(lines) - MAX_LINES_SHOWN} more" if len(lines) > MAX_LINES_SHOWN else ""
        parts.append(f"{symbol!r} ({'line' if len(lines) == 1 else 'lines'} {shown}{more})")
    prefix = f"{source}: " if source else ""
    noun = "symbol" if len(problems) == 1 else "symbols"
    return f"{prefix}{len(problems)} {noun} outside {vocabulary}: " + ", ".join(parts)


def to_json(tokenizer: Tokenizer) -> dict:
    """Returns ``tokenizer.to_json()``."""
    return tokenizer.to_json()


def from_json(data: Mapping) -> Tokenizer:
    """Rebuilds a tokenizer from :func:`to_json` output.

    Raises:
      ValueError: unknown ``kind`` or inconsistent fields.
    """
    kind = data.get("kind")
    symbols = list(data.get("symbols") or [])
    if kind == "char":
        tok = CharTokenizer(symbols)
    elif kind == "atom":
        if symbols[:2] != [END_TOKEN, BEGIN_TOKEN]:
            raise ValueError(f"atom tokenizer JSON must start with {END_TOKEN!r}, {BEGIN_TOKEN!r}")
        if data.get("pattern", ATOM_PATTERN) != ATOM_PATTERN:
            raise ValueError("atom tokenizer JSON was written with a different token pattern")
        tok = AtomTokenizer(symbols[2:])
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r} (expected 'char' or 'atom')")
    if data.get("end", tok.end) != tok.end or data.get("begin", tok.begin) != tok.begin:
        raise ValueError(f"{kind} tokenizer JSON: begin/end tokens do not match the vocabulary")
    return tok


def save(tokenizer: Tokenizer, path: str) -> None:
    """Writes the tokenizer as JSON to ``path`` (atomically)."""
    from rl_tuner.plumbing import atomic  # no TensorFlow: note_rnn/__init__ only sets an env variable
    atomic.write_json(path, tokenizer.to_json())


def load(path: str) -> Tokenizer:
    """Reads a tokenizer written by :func:`save`.

    Raises:
      FileNotFoundError: no such file. ValueError: not a tokenizer JSON (names the file).
    """
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not a JSON file ({e})") from None
    try:
        return from_json(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def paper_tokenizer() -> CharTokenizer:
    """The original's 35-character vocabulary (for the ``paper`` preset)."""
    return CharTokenizer(PAPER_SYMBOLS)


