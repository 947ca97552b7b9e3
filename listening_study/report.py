"""The paper's analysis of a listening study (Figure 3), with SciPy.

From the ratings (:meth:`listening_study.store.Store.ratings`):

* per model: comparisons (ratings it took part in), wins (its melody preferred), losses,
  ties ("About the same"); ties are left out of everything binomial: n = wins + losses
  decisive comparisons, win rate p = wins / n, its binomial standard deviation
  sqrt(p (1 - p) / n) (a fraction, like p), and the error bar of Figure 3, the same in wins,
  sqrt(n p (1 - p)) (Jaques et al. 2017, Figure 3);
* a Kruskal-Wallis H test (:func:`scipy.stats.kruskal`) over the ratings by model: each
  rating gives each of its two models a score on -2..2 from that model's side (+2: its
  melody "much better"), and the groups are the models' scores;
* Mann-Whitney U post-hoc tests (:func:`scipy.stats.mannwhitneyu`, two-sided) for every pair
  of models on the same scores, with the Holm-Bonferroni correction over the K (K - 1) / 2
  tests (:func:`note_rnn.stats.holm`, Holm 1979: the i-th smallest of m p-values is multiplied by m - i + 1, then made
  monotone and capped at 1).
"""

from __future__ import annotations

import csv
import html
import itertools
import math
import os
import re

from note_rnn import stats as stats_lib

ALPHA = 0.05
CORRECTION = "Holm-Bonferroni over all pairs of models (family-wise error rate 0.05)"
# What each per-model figure is, in words (report.json's "definitions", report.md's notes).
DEFINITIONS = {
    "comparisons": "ratings the model took part in (wins + losses + ties)",
    "ties": "ratings answered 'About the same'",
    "decisive": "n = wins + losses (ties left out of the win rate and both standard deviations)",
    "win_rate": "p = wins / n, a fraction 0..1 (null when n = 0)",
    "win_rate_std": "binomial standard deviation of the win rate, sqrt(p (1 - p) / n), a fraction 0..1",
    "binomial_std": "binomial standard deviation of the wins, sqrt(n p (1 - p)) = n x win_rate_std, in wins "
                    "(the error bar of figure3.png, as in the paper's Figure 3)",
}
# Characters with a meaning in Markdown (CommonMark, GitHub tables and math) that a model name
# may hold: backslash-escaped in report.md. "<", ">" and "&" become HTML entities instead.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")
# A CSV cell starting with one of these is read as a formula by spreadsheet programs
# (OWASP, "CSV Injection"); ratings.csv prefixes such text cells with "'".
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def scores_by_model(ratings, models) -> dict[str, list[int]]:
    """{model: [score, ...]}: a rating's answer seen from each of its two models (A's score
    is -answer, B's is +answer; +2 = this model's melody much better)."""
    scores = {m: [] for m in models}
    for r in ratings:
        scores[r["model_a"]].append(-r["answer"])
        scores[r["model_b"]].append(r["answer"])
    return scores


def binomial_std(wins: int, losses: int) -> float:
    """sqrt(n p (1 - p)) with n = wins + losses and p = wins / n (0 when n is 0): the
    standard deviation, in wins, of a binomial fit to a model's wins and losses."""
    n = wins + losses
    return 0.0 if n == 0 else math.sqrt(n * (wins / n) * (losses / n))


def win_rate_std(wins: int, losses: int) -> float | None:
    """sqrt(p (1 - p) / n) with n = wins + losses and p = wins / n (None when n is 0): the
    binomial standard deviation of the win rate, a fraction like the win rate itself."""
    n = wins + losses
    return None if n == 0 else math.sqrt((wins / n) * (losses / n) / n)


def analyse(ratings, models) -> dict:
    """The study's statistics (see the module docstring).

    Args:
      ratings: dicts with "model_a", "model_b" and "answer" (-2..2, negative prefers A), and
        "rater".
      models: the study's model names, in the order to report them.

    Returns:
      {"num_ratings", "num_raters", "per_model": {model: {"comparisons", "wins", "losses",
      "ties", "decisive", "win_rate", "win_rate_std", "binomial_std"}} (see :data:`DEFINITIONS`,
      also returned as "definitions"), "head_to_head": [{"model_a", "model_b",
      "a_preferred", "b_preferred", "ties"}], "kruskal_wallis": {"H", "df", "p"} or None
      (fewer than two models with ratings, or all scores equal), "mann_whitney": [{"model_a",
      "model_b", "U" (of model_a), "p", "p_holm", "higher", "significant"}], "correction"}.
    """
    from scipy import stats
    models = list(models)
    scores = scores_by_model(ratings, models)
    per_model = {}
    for m in models:
        wins = sum(1 for s in scores[m] if s > 0)
        losses = sum(1 for s in scores[m] if s < 0)
        n = len(scores[m])
        decisive = wins + losses
        per_model[m] = {"comparisons": n, "wins": wins, "losses": losses, "ties": n - decisive,
                        "decisive": decisive, "win_rate": wins / decisive if decisive else None,
                        "win_rate_std": win_rate_std(wins, losses), "binomial_std": binomial_std(wins, losses)}
    head_to_head = []
    for a, b in itertools.combinations(models, 2):
        pref = {a: 0, b: 0, None: 0}
        for r in ratings:
            if {r["model_a"], r["model_b"]} == {a, b}:
                pref[None if r["answer"] == 0 else (r["model_a"] if r["answer"] < 0 else r["model_b"])] += 1
        head_to_head.append({"model_a": a, "model_b": b, "a_preferred": pref[a], "b_preferred": pref[b],
                             "ties": pref[None]})
    groups = [scores[m] for m in models if scores[m]]
    kruskal = None
    if len(groups) >= 2 and len({s for g in groups for s in g}) > 1:
        h, p = stats.kruskal(*groups)
        kruskal = {"H": float(h), "df": len(groups) - 1, "p": float(p)}
    tests = []
    for a, b in itertools.combinations(models, 2):
        if scores[a] and scores[b]:
            u, p = stats.mannwhitneyu(scores[a], scores[b], alternative="two-sided")
            half = len(scores[a]) * len(scores[b]) / 2
            tests.append({"model_a": a, "model_b": b, "U": float(u), "p": float(p),
                          "higher": a if u > half else b if u < half else None})
    for test, adjusted in zip(tests, stats_lib.holm([t["p"] for t in tests])):
        test["p_holm"] = adjusted
        test["significant"] = adjusted < ALPHA
    return {"num_ratings": len(ratings), "num_raters": len({r["rater"] for r in ratings}),
            "per_model": per_model, "head_to_head": head_to_head, "kruskal_wallis": kruskal,
            "mann_whitney": tests, "correction": CORRECTION, "alpha": ALPHA, "definitions": dict(DEFINITIONS)}


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def markdown_text(name: str) -> str:
    """A model name as literal Markdown text: HTML's ``<``, ``>`` and ``&`` as entities (a name
    ``<script>`` stays text), and Markdown's ``\\ ` * _ [ ] | ~ $`` backslash-escaped (a name
    cannot add table columns, emphasis, links, code or math)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(str(name), quote=False))


_cell = markdown_text  # a model name in a table cell


def csv_cell(value):
    """A value for ``ratings.csv``: text that a spreadsheet would run as a formula (it starts
    with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, e.g. a model named
    ``+cmd|calc!A1``) gets a leading ``'``; numbers (answers -2..2) and other text are kept."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def markdown(result: dict, models) -> str:
    """The report as Markdown tables (model names escaped, :func:`markdown_text`), with the
    definition of every per-model column under its table."""
    lines = [f"# Listening study: {_count(result['num_ratings'], 'rating')} by "
             f"{_count(result['num_raters'], 'rater')}", "",
             "| model | comparisons | ties | decisive (n) | wins | losses | win rate (p) | std of p | std of wins |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m in models:
        s = result["per_model"][m]
        rate = "-" if s["win_rate"] is None else f"{s['win_rate']:.1%}"
        rate_std = "-" if s["win_rate_std"] is None else f"{s['win_rate_std']:.1%}"
        lines.append(f"| {_cell(m)} | {s['comparisons']} | {s['ties']} | {s['decisive']} | {s['wins']} | "
                     f"{s['losses']} | {rate} | {rate_std} | {s['binomial_std']:.2f} |")
    lines += ["", "Ties are left out of n, p and both standard deviations: n = wins + losses (the decisive "
                  "comparisons); win rate p = wins / n; std of p = sqrt(p (1 - p) / n), the binomial standard "
                  "deviation of p, in percent like p; std of wins = sqrt(n p (1 - p)) = n x std of p, "
                  "in wins: the error bar of figure3.png (the paper's Figure 3)."]
    kw = result["kruskal_wallis"]
    lines += ["", "Kruskal-Wallis H over the ratings by model: " +
              (f"chi2({kw['df']}) = {kw['H']:.3f}, p {_p(kw['p']) if kw['p'] < 0.001 else '= ' + _p(kw['p'])}"
               if kw else "not computable (fewer than two models with ratings, or all answers equal)"),
              "", f"Mann-Whitney U post-hoc tests (two-sided; correction: {result['correction']}):", "",
              "| model A | model B | U | p | p (Holm) | higher | significant |", "|---|---|---:|---:|---:|---|---|"]
    for t in result["mann_whitney"]:
        lines.append(f"| {_cell(t['model_a'])} | {_cell(t['model_b'])} | {t['U']:.1f} | {_p(t['p'])} | "
                     f"{_p(t['p_holm'])} | {_cell(t['higher'] or '-')} | {'yes' if t['significant'] else 'no'} |")
    lines += ["", "Head to head:", "", "| model A | model B | A preferred | B preferred | ties |",
              "|---|---|---:|---:|---:|"]
    for h in result["head_to_head"]:
        lines.append(f"| {_cell(h['model_a'])} | {_cell(h['model_b'])} | {h['a_preferred']} | {h['b_preferred']} | "
                     f"{h['ties']} |")
    return "\n".join(lines) + "\n"


def plot(result: dict, models, path: str) -> None:
    """Figure 3: wins per model (bars) with the binomial standard deviation (error bars), as PNG."""
    from note_rnn.figures import pyplot, save_png
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.6 * len(models) + 2, 3.6))
    wins = [result["per_model"][m]["wins"] for m in models]
    ax.bar(range(len(models)), wins, yerr=[result["per_model"][m]["binomial_std"] for m in models],
           capsize=6, color="tab:blue", alpha=0.8)
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels([f"{m}\n({result['per_model'][m]['comparisons']} comparisons)" for m in models],
                       parse_math=False)  # model names as typed: "$" is not TeX
    ax.set_ylabel("comparisons won\n(error bar: binomial std of wins)")
    ax.set_title(f"Listening study: {_count(result['num_ratings'], 'rating')}")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def write_report(ratings, models, out_dir: str) -> dict:
    """Writes ``report.json``, ``report.md``, ``figure3.png`` and ``ratings.csv`` (the raw
    ratings, columns of :data:`listening_study.store.RATING_COLUMNS`, text cells through
    :func:`csv_cell`) into ``out_dir`` (an existing folder); returns the result of :func:`analyse`."""
    from listening_study.store import RATING_COLUMNS
    from rl_tuner.plumbing import atomic
    result = analyse(ratings, models)
    atomic.write_json(os.path.join(out_dir, "report.json"), {"models": list(models), **result})  # NaN -> null
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(markdown(result, models))
    plot(result, models, os.path.join(out_dir, "figure3.png"))
    with open(os.path.join(out_dir, "ratings.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RATING_COLUMNS)
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in ratings)
    return result
