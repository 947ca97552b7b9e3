"""Table 1 of the paper study: means and spread over seeds, and which differences from the
MLE column are significant (pure functions over ``stats.json`` contents).

The test (stated in results/README.md): for every statistic and tuned model, Welch's t-test
(``scipy.stats.ttest_ind(equal_var=False)``) of the model's per-seed values against the MLE
model's per-seed values (the same prior evaluated with each seed's sampling seed), with Holm's
step-down correction over the statistics of one model's column. A seed is one training run
evaluated on 100,000 melodies, so the test asks whether a difference holds across training
seeds, not only across melodies (with 100,000 melodies per run nearly any difference is
significant across melodies).
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

from note_rnn.stats import TABLE_1_KEYS, holm

EXTRA_ROWS = ("mean_log_prior", "mean_music_theory_reward", "mean_kl")
ROWS = tuple(TABLE_1_KEYS) + EXTRA_ROWS
LABELS = {
    "notes_excessively_repeated": "notes excessively repeated",
    "mean_autocorrelation_lag1": "mean autocorrelation lag 1",
    "mean_autocorrelation_lag2": "mean autocorrelation lag 2",
    "mean_autocorrelation_lag3": "mean autocorrelation lag 3",
    "notes_not_in_key": "notes not in key",
    "melodies_starting_with_tonic": "melodies starting with tonic",
    "leaps_resolved": "leaps resolved",
    "melodies_with_unique_max_note": "melodies with unique max note",
    "melodies_with_unique_min_note": "melodies with unique min note",
    "notes_in_motif": "notes in motif",
    "notes_in_repeated_motif": "notes in repeated motif",
    "mean_log_prior": "mean log p(a|s) per note",
    "mean_music_theory_reward": "mean r_MT per note",
    "mean_kl": "KL(policy || prior) per note (nats)",
}
# Rows that are fractions (shown as percentages); the others are plain numbers.
PERCENT_ROWS = frozenset(k for k in TABLE_1_KEYS if not k.startswith("mean_autocorrelation"))
ALPHA = 0.05


def welch_p(values: Sequence[float], reference: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test of ``values`` against ``reference``.

    Returns:
      The p-value, or None where the test is undefined (fewer than two values in a group,
      or both groups constant).
    """
    a, b = np.asarray(values, np.float64), np.asarray(reference, np.float64)
    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return None
    with warnings.catch_warnings():  # nearly equal groups: SciPy warns of precision loss
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(scipy_stats.ttest_ind(a, b, equal_var=False).pvalue)
    return None if math.isnan(p) else p


def summarize(values: Sequence[float]) -> dict:
    """Mean, sample standard deviation (ddof 1; 0 for one value) and the values themselves."""
    a = np.asarray(values, np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "values": [float(v) for v in a]}


def build_table(models: Mapping[str, Sequence[Mapping]], mle: Sequence[Mapping],
                rows: Sequence[str] = ROWS, alpha: float = ALPHA) -> dict:
    """Table 1 over seeds with significance marks.

    Args:
      models: {model name: the ``after`` statistics of each seed's run}.
      mle: the ``before`` statistics of each seed (the prior, the MLE column).
      rows: statistic keys.
      alpha: significance level of the Holm-adjusted p-values.

    Returns:
      ``{"rows": [...], "models": ["mle", ...], "cells": {row: {model: cell}}, "test": str}``
      where a cell is :func:`summarize` plus, for tuned models, ``p``, ``p_holm`` and
      ``significant`` (adjusted p < alpha).
    """
    cells = {row: {"mle": summarize([s[row] for s in mle])} for row in rows}
    for name, runs in models.items():
        raw = {row: welch_p([s[row] for s in runs], cells[row]["mle"]["values"]) for row in rows}
        adjusted = dict(zip(raw, holm(list(raw.values()))))
        for row in rows:
            cell = summarize([s[row] for s in runs])
            cell.update(p=raw[row], p_holm=adjusted[row],
                        significant=adjusted[row] is not None and adjusted[row] < alpha)
            cells[row][name] = cell
    return {"rows": list(rows), "models": ["mle", *models], "cells": cells,
            "test": (f"Welch's t-test over seeds against the MLE column, Holm-corrected within each model's "
                     f"column, alpha {alpha}")}


def format_value(row: str, value: float | None) -> str:
    """A statistic as printed: percentages with two decimals (three below 0.1%), else 3 decimals."""
    if value is None:
        return "-"
    if row in PERCENT_ROWS:
        percent = 100.0 * value
        return f"{percent:.3f}%" if 0 < abs(percent) < 0.1 else f"{percent:.2f}%"
    return f"{value:.3f}"


def format_cell(row: str, cell: Mapping) -> str:
    """``mean ± std`` (std over seeds when there are several), bold when significant."""
    text = format_value(row, cell["mean"])
    if len(cell["values"]) > 1:
        spread = format_value(row, cell["std"]).rstrip("%")
        text += f" ± {spread}" + ("%" if row in PERCENT_ROWS else "")
    return f"**{text}**" if cell.get("significant") else text


def markdown_table(table: Mapping, names: Mapping[str, str] | None = None,
                   paper: Mapping[str, Mapping[str, float]] | None = None) -> str:
    """Table 1 as Markdown: one column per model, the paper's value beside it where it has one.

    Args:
      table: :func:`build_table`'s result.
      names: display name of each model (default: the key).
      paper: ``{row: {model: value}}`` (experiments.paper_numbers.TABLE_1) or None.
    """
    names = dict(names or {})
    header, rule = ["statistic"], ["---"]
    for model in table["models"]:
        header.append(names.get(model, model))
        rule.append("---")
        if paper is not None and any(model in paper.get(row, {}) for row in table["rows"]):
            header.append(f"paper {names.get(model, model)}")
            rule.append("---")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    for row in table["rows"]:
        cols = [LABELS.get(row, row).replace("|", "\\|")]  # a bare | would split the cell
        for model in table["models"]:
            cols.append(format_cell(row, table["cells"][row][model]))
            if paper is not None and any(model in paper.get(r, {}) for r in table["rows"]):
                cols.append(format_value(row, paper.get(row, {}).get(model)))
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)
