"""Tables and the issue's target check of the molecule reward-KL frontier (pure functions over
the points of ``results/molecules/frontier.json``).

A point is one training run evaluated: ``{"algorithm", "c", "seed", "kl", "mean_reward",
"valid", "unique", ...}`` (``kl``: mean KL(policy || prior) per token, nats; fractions 0..1;
a statistic may be None, e.g. ``novel`` without a data set, or a mean over no valid molecule).
The prior is one such dict without algorithm, c and seed.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from experiments.study_tables import summarize

# The statistics of the tables, in column order, with their headers and formats.
COLUMNS = (("kl", "KL/token", "{:.3f}"), ("mean_reward", "mean reward", "{:.1f}"), ("valid", "valid", "pct"),
           ("unique", "unique", "pct"), ("novel", "novel", "pct"), ("internal_diversity", "int. div.", "{:.3f}"),
           ("mean_length", "length", "{:.1f}"), ("mean_logp", "logP", "{:.2f}"), ("mean_qed", "QED", "{:.3f}"),
           ("mean_sa_penalty", "SA penalty", "{:.2f}"))
# The targets of the frontier (issue 20, "The frontier, published"), with the thresholds used below.
KL_KEEP, UNIQUE_KEEP = 1.0, 0.9  # every point with KL <= 1 nat/token: valid >= the prior's, unique >= 0.9
KL_GAIN, VALID_GAIN, UNIQUE_GAIN = 0.5, 0.97, 0.95  # at KL <= 0.5: valid >= 97%, unique >= 0.95
TARGETS = (
    "reward rises monotonically with KL along c",
    "no point below the prior's reward",
    f"every point with KL <= {KL_KEEP:g} keeps validity >= the prior's and uniqueness >= {UNIQUE_KEEP:g}",
    f"at KL <= {KL_GAIN:g}: validity >= {VALID_GAIN:.0%} with uniqueness >= {UNIQUE_GAIN:g}",
)
# How each target is read (printed beside the check in the README).
READINGS = (
    "per algorithm, the settings (c; means over seeds) ordered by KL: each has a mean reward at least "
    "that of the one with the next smaller KL",
    "every single run (each algorithm, c and seed): mean reward >= the prior's",
    f"every single run with KL <= {KL_KEEP:g}",
    f"every algorithm has a setting (c; means over seeds) with KL <= {KL_GAIN:g}, valid >= {VALID_GAIN:g} and "
    f"unique >= {UNIQUE_GAIN:g}",
)


def _at_least(value, bound) -> bool:
    """value >= bound, False where either is missing (None)."""
    return value is not None and bound is not None and value >= bound


def settings(points: Sequence[Mapping]) -> dict:
    """``{algorithm: {c: [points]}}``: algorithms in first-seen order, c from large to small."""
    grouped: dict = {}
    for p in points:
        grouped.setdefault(p["algorithm"], {}).setdefault(float(p["c"]), []).append(p)
    return {a: dict(sorted(cs.items(), key=lambda item: -item[0])) for a, cs in grouped.items()}


def mean_of(points: Sequence[Mapping], key: str) -> float | None:
    """Mean of ``key`` over ``points``; None if any point lacks it (None)."""
    values = [p.get(key) for p in points]
    return None if not values or any(v is None for v in values) else sum(values) / len(values)


def check_targets(prior: Mapping, points: Sequence[Mapping]) -> list[dict]:
    """The issue's four targets, computed from the data.

    Args:
      prior: the prior's statistics (``mean_reward``, ``valid``, ...).
      points: the frontier's points (see the module docstring).

    Returns:
      One ``{"target", "reading", "passed", "detail"}`` per entry of :data:`TARGETS`, in that
      order; ``detail`` names the points or settings that fail (or why a target holds).
    """
    grouped = settings(points)
    results = []

    # 1. Along c, reward rises with KL (per algorithm, seed means ordered by KL).
    broken = []
    for algorithm, by_c in grouped.items():
        rows = sorted(((mean_of(ps, "kl"), mean_of(ps, "mean_reward"), c) for c, ps in by_c.items()),
                      key=lambda row: (float("inf") if row[0] is None else row[0]))
        for (kl0, r0, c0), (kl1, r1, c1) in zip(rows, rows[1:]):
            if not _at_least(r1, r0) or kl0 is None or kl1 is None:
                broken.append(f"{algorithm}: c {c0:g} -> {c1:g} (KL {_num(kl0)} -> {_num(kl1)}) reward "
                              f"{_num(r0, 1)} -> {_num(r1, 1)}")
    results.append((not broken, "; ".join(broken) or "monotone for " + ", ".join(grouped)))

    # 2. No point below the prior's reward.
    below = [f"{_name(p)} ({_num(p.get('mean_reward'), 1)})" for p in points
             if not _at_least(p.get("mean_reward"), prior.get("mean_reward"))]
    results.append((not below, (f"below the prior's {_num(prior.get('mean_reward'), 1)}: " + ", ".join(below))
                    if below else f"all {len(points)} points >= {_num(prior.get('mean_reward'), 1)}"))

    # 3. Every point with KL <= 1 keeps validity and uniqueness.
    near = [p for p in points if p.get("kl") is not None and p["kl"] <= KL_KEEP]
    lost = [f"{_name(p)} (KL {_num(p['kl'])}, valid {_num(p.get('valid'))}, unique {_num(p.get('unique'))})"
            for p in near if not (_at_least(p.get("valid"), prior.get("valid")) and
                                  _at_least(p.get("unique"), UNIQUE_KEEP))]
    results.append((not lost, ("fails: " + ", ".join(lost)) if lost else
                    f"{len(near)} points with KL <= {KL_KEEP:g}, all keep them (prior valid {_num(prior.get('valid'))})"))

    # 4. Some setting of every algorithm reaches 97% valid and 0.95 unique within 0.5 nats.
    reached, missing = [], []
    for algorithm, by_c in grouped.items():
        good = [c for c, ps in by_c.items()
                if mean_of(ps, "kl") is not None and mean_of(ps, "kl") <= KL_GAIN
                and _at_least(mean_of(ps, "valid"), VALID_GAIN) and _at_least(mean_of(ps, "unique"), UNIQUE_GAIN)]
        (reached if good else missing).append(f"{algorithm}" + (f" (c = {', '.join(f'{c:g}' for c in good)})"
                                                                 if good else ""))
    detail = "; ".join(part for part in ("reached by " + ", ".join(reached) if reached else "",
                                         "not reached by " + ", ".join(missing) if missing else "") if part)
    results.append((bool(grouped) and not missing, detail or "no points"))

    return [{"target": target, "reading": reading, "passed": passed, "detail": detail}
            for target, reading, (passed, detail) in zip(TARGETS, READINGS, results)]


def _name(point: Mapping) -> str:
    return f"{point['algorithm']} c={float(point['c']):g} seed {point['seed']}"


def _num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_value(fmt: str, value: float | None) -> str:
    """A statistic as printed: ``pct`` as a percentage with one decimal, else ``fmt``; None: ``-``."""
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if fmt == "pct" else fmt.format(value)


def format_cell(fmt: str, values: Sequence) -> str:
    """``mean ± sd`` over seeds (sd with ddof 1; the mean alone for one seed), ``-`` if a value
    is missing."""
    if not values or any(v is None for v in values):
        return "-"
    s = summarize(values)
    text = format_value(fmt, s["mean"])
    if len(values) > 1:
        text += " ± " + format_value(fmt, s["std"])
    return text


def markdown_tables(prior: Mapping, points: Sequence[Mapping]) -> str:
    """One Markdown table per algorithm: a row per c (mean ± sd over seeds of each statistic
    of :data:`COLUMNS`) under the prior's row."""
    header = "| c | seeds | " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    rule = "|" + "---|" * (len(COLUMNS) + 2)
    prior_row = "| prior | - | " + " | ".join(format_value(fmt, prior.get(key)) for key, _, fmt in COLUMNS) + " |"
    parts = []
    for algorithm, by_c in settings(points).items():
        lines = [f"### {algorithm}", "", header, rule, prior_row]
        for c, ps in by_c.items():
            cells = [format_cell(fmt, [p.get(key) for p in ps]) for key, _, fmt in COLUMNS]
            lines.append(f"| {c:g} | {len(ps)} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def targets_markdown(checks: Sequence[Mapping]) -> str:
    """The target check as a Markdown table (target, reading, PASS/FAIL, detail)."""
    lines = ["| target | read as | result | detail |", "|---|---|---|---|"]
    for check in checks:
        lines.append(f"| {check['target']} | {check['reading']} | {'PASS' if check['passed'] else '**FAIL**'} | "
                     f"{check['detail'].replace('|', '/')} |")
    return "\n".join(lines)
