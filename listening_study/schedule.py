"""Which pair of melodies a rater hears next (pure Python: no database, no web).

A *pair* is two clips (rendered melodies) of two different models. The rules:

* every model meets every other equally often: the next pair comes from the model pair this
  rater has heard least (so after every full round of the K (K - 1) / 2 model pairs a rater's
  counts are equal, and never differ by more than one), ties broken by the model pair heard
  least by all raters together, then at random;
* no rater hears the same two clips twice (in either order); within the chosen model pair
  the clips used least so far are preferred, so that all melodies get heard;
* which clip is A and which is B is random.

A rater can hear at most ``K (K - 1) / 2 * N**2`` pairs with N clips per model; after
that :func:`choose_pair` returns None.
"""

from __future__ import annotations

import itertools
import random
from typing import Mapping, Sequence


def model_pair(a: str, b: str) -> tuple[str, str]:
    """The unordered pair of two model names as a sorted tuple."""
    return (a, b) if a <= b else (b, a)


def clip_pair(a: str, b: str) -> tuple[str, str]:
    """The unordered pair of two clip ids as a sorted tuple (how a heard pair is recorded)."""
    return (a, b) if a <= b else (b, a)


def model_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """All unordered pairs of different models, each a sorted tuple, in sorted order."""
    return sorted(model_pair(a, b) for a, b in itertools.combinations(models, 2))


def choose_pair(clips: Mapping[str, Sequence[str]], heard: set, rater_counts: Mapping, total_counts: Mapping,
                clip_uses: Mapping[str, int], rng: random.Random) -> tuple[str, str] | None:
    """The next pair for one rater, as (clip on side A, clip on side B).

    Args:
      clips: {model name: [clip id, ...]} (at least two models; clip ids unique overall).
      heard: the clip pairs (:func:`clip_pair`) this rater was already handed.
      rater_counts: {model pair (:func:`model_pair`): pairs handed to this rater} (missing = 0).
      total_counts: {model pair: pairs handed to all raters} (missing = 0).
      clip_uses: {clip id: times it was handed out to anyone} (missing = 0).
      rng: the source of the random tie breaks and of the A/B order.

    Returns:
      (clip A, clip B), or None when this rater has heard every pair.
    """
    candidates = []
    for mp in model_pairs(list(clips)):
        left, right = clips[mp[0]], clips[mp[1]]
        fresh = [(a, b) for a in left for b in right if clip_pair(a, b) not in heard]
        if fresh:
            candidates.append((rater_counts.get(mp, 0), total_counts.get(mp, 0), rng.random(), mp, fresh))
    if not candidates:
        return None
    *_, fresh = min(candidates, key=lambda c: c[:3])
    best = min(clip_uses.get(a, 0) + clip_uses.get(b, 0) for a, b in fresh)
    a, b = rng.choice([p for p in fresh if clip_uses.get(p[0], 0) + clip_uses.get(p[1], 0) == best])
    return (a, b) if rng.random() < 0.5 else (b, a)
