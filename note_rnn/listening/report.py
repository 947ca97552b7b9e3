"""The paper's analysis of a listening study (Figure 3), with SciPy.

From the ratings (:meth:`note_rnn.listening.store.Store.ratings`):

* per model: comparisons (ratings it took part in), wins (its melody preferred), losses,
  ties ("About the same"), and the error bar of Figure 3, the standard deviation of a
  binomial fit to its wins and losses: with n = wins + losses and p = wins / n,
  sqrt(n p (1 - p)) wins (Jaques et al. 2017, Figure 3);
* a Kruskal-Wallis H test (:func:`scipy.stats.kruskal`) over the ratings by model: each
  rating gives each of its two models a score on -2..2 from that model's side (+2: its
  melody "much better"), and the groups are the models' scores;
* Mann-Whitney U post-hoc tests (:func:`scipy.stats.mannwhitneyu`, two-sided) for every pair
  of models on the same scores, with the Holm-Bonferroni correction over the K (K - 1) / 2
  tests (Holm 1979: the i-th smallest of m p-values is multiplied by m - i + 1, then made
  monotone and capped at 1).
"""

from __future__ import annotations

import csv
import itertools
import math
import os

ALPHA = 0.05
CORRECTION = "Holm-Bonferroni over all pairs of models (family-wise error rate 0.05)"


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


def holm(p_values) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given (see the module docstring)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def analyse(ratings, models) -> dict:
    """The study's statistics (see the module docstring).

    Args:
      ratings: dicts with "model_a", "model_b" and "answer" (-2..2, negative prefers A), and
        "rater".
      models: the study's model names, in the order to report them.

    Returns:
      {"num_ratings", "num_raters", "per_model": {model: {"comparisons", "wins", "losses",
      "ties", "win_rate", "binomial_std"}}, "head_to_head": [{"model_a", "model_b",
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
        per_model[m] = {"comparisons": n, "wins": wins, "losses": losses, "ties": n - wins - losses,
                        "win_rate": wins / n if n else None, "binomial_std": binomial_std(wins, losses)}
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
    for test, adjusted in zip(tests, holm([t["p"] for t in tests])):
        test["p_holm"] = adjusted
        test["significant"] = adjusted < ALPHA
    return {"num_ratings": len(ratings), "num_raters": len({r["rater"] for r in ratings}),
            "per_model": per_model, "head_to_head": head_to_head, "kruskal_wallis": kruskal,
            "mann_whitney": tests, "correction": CORRECTION, "alpha": ALPHA}


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _cell(name: str) -> str:
    """A model name as a Markdown table cell ("|" escaped, so a name cannot add columns)."""
    return str(name).replace("|", "\\|")


def markdown(result: dict, models) -> str:
    """The report as Markdown tables."""
    lines = [f"# Listening study: {result['num_ratings']} ratings by {result['num_raters']} raters", "",
             "| model | comparisons | wins | losses | ties | win rate | binomial std |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for m in models:
        s = result["per_model"][m]
        rate = "-" if s["win_rate"] is None else f"{s['win_rate']:.1%}"
        lines.append(f"| {_cell(m)} | {s['comparisons']} | {s['wins']} | {s['losses']} | {s['ties']} | {rate} | "
                     f"{s['binomial_std']:.2f} |")
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
    ax.set_ylabel("comparisons won")
    ax.set_title(f"Listening study: {result['num_ratings']} ratings")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)


def write_report(ratings, models, out_dir: str) -> dict:
    """Writes ``report.json``, ``report.md``, ``figure3.png`` and ``ratings.csv`` (the raw
    ratings, columns of :data:`note_rnn.listening.store.RATING_COLUMNS`) into ``out_dir``
    (an existing folder); returns the result of :func:`analyse`."""
    from note_rnn.listening.store import RATING_COLUMNS
    from rl_tuner import atomic
    result = analyse(ratings, models)
    atomic.write_json(os.path.join(out_dir, "report.json"), {"models": list(models), **result})  # NaN -> null
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(markdown(result, models))
    plot(result, models, os.path.join(out_dir, "figure3.png"))
    with open(os.path.join(out_dir, "ratings.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RATING_COLUMNS)
        writer.writeheader()
        writer.writerows(ratings)
    return result
