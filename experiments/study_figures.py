"""Figures of the paper study: Figure 2 (training curves over seeds) and the c trade-off.

Both read only what runs wrote (``history.json`` and ``stats.json``) and write PNGs through
:func:`note_rnn.figures.save_png` (atomic).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from note_rnn import figures

COLORS = {"q": "tab:blue", "psi": "tab:orange", "g": "tab:green", "pure_rl": "tab:red"}


def curves(histories: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and per-seed values of one evaluation statistic.

    Args:
      histories: the ``history.json`` of each seed's run.
      key: an evaluation statistic (e.g. ``mean_log_prior``).

    Returns:
      (steps [S], values [seeds, S]) over the evaluation steps all seeds share.
    """
    steps = sorted(set.intersection(*[{e["step"] for e in h["evaluations"]} for h in histories]))
    values = np.array([[next(e[key] for e in h["evaluations"] if e["step"] == s) for s in steps]
                       for h in histories], np.float64)
    return np.array(steps), values


def plot_figure2(histories: Mapping[str, Sequence[Mapping]], path: str, names: Mapping[str, str] | None = None,
                 pure_rl_reference: float | None = None) -> None:
    """The paper's Figure 2: mean log p(a|s) and mean r_MT per note over training.

    Args:
      histories: {algorithm: the ``history.json`` of each seed}.
      path: the PNG to write.
      names: display names.
      pure_rl_reference: the paper's final pure-RL log p, drawn as a dotted line (or None).

    Lines are the mean over seeds, bands the range (min to max) over seeds.
    """
    plt = figures.pyplot()
    names = dict(names or {})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for algorithm, runs in histories.items():
        color = COLORS.get(algorithm)
        for ax, key in zip(axes, ("mean_log_prior", "mean_music_theory_reward")):
            steps, values = curves(runs, key)
            label = f"{names.get(algorithm, algorithm)} ({len(runs)} seed{'s' * (len(runs) != 1)})"
            ax.plot(steps, values.mean(axis=0), color=color, label=label)
            ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2, linewidth=0)
    if pure_rl_reference is not None:
        axes[0].axhline(pure_rl_reference, color="0.4", linestyle=":", label="paper: pure RL ends here")
    axes[0].set_title("(a) mean log p(a|s) under the Note-RNN")
    axes[1].set_title("(b) mean music-theory reward r_MT per note")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    figures.save_png(fig, path)
    plt.close(fig)


def plot_tradeoff(points: Mapping[str, Sequence[Mapping]], path: str, reference: Mapping | None = None) -> None:
    """Mean r_MT against mean log p(a|s) for each setting (e.g. each c of Psi-learning).

    Args:
      points: {label: the final ``after`` statistics of each seed}; a point is the mean over
        seeds with error bars of one standard deviation.
      path: the PNG to write.
      reference: the prior's statistics (the MLE point), or None.
    """
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, runs in points.items():
        x = np.array([r["mean_log_prior"] for r in runs])
        y = np.array([r["mean_music_theory_reward"] for r in runs])
        xerr = x.std(ddof=1) if len(x) > 1 else 0.0
        yerr = y.std(ddof=1) if len(y) > 1 else 0.0
        ax.errorbar(x.mean(), y.mean(), xerr=xerr, yerr=yerr, fmt="o", capsize=3, label=label)
        ax.annotate(label, (x.mean(), y.mean()), textcoords="offset points", xytext=(6, 6), fontsize=8)
    if reference is not None:
        ax.plot(reference["mean_log_prior"], reference["mean_music_theory_reward"], "k*", markersize=10,
                label="Note-RNN (prior)")
    ax.set_xlabel("mean log p(a|s) per note (higher: closer to the data)")
    ax.set_ylabel("mean r_MT per note (higher: more music theory)")
    ax.set_title("The KL weight c trades the prior against the rules (Psi-learning)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures.save_png(fig, path)
    plt.close(fig)


def plot_frontier(settings: Mapping[str, Mapping[float, Sequence[Mapping]]], prior: Mapping, path: str,
                  reward: str = "default") -> None:
    """The molecule reward-KL frontier: mean reward against KL per token, one line per algorithm.

    Args:
      settings: {algorithm: {c: the points of each seed}} (:func:`experiments.frontier_tables.settings`);
        a point holds ``kl`` (nats per token) and ``mean_reward``. Each c is drawn at the mean
        over seeds with error bars of one standard deviation (ddof 1) in both directions, the
        line joins the c values from large to small, and each point is annotated with its c.
      prior: the prior's statistics (``mean_reward``), drawn as a star at KL 0.
      path: the PNG to write.
      reward: the reward preset's name (for the axis label).
    """
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for algorithm, by_c in settings.items():
        xs, ys, xerr, yerr, labels = [], [], [], [], []
        for c, points in by_c.items():
            x = np.array([p["kl"] for p in points], np.float64)
            y = np.array([np.nan if p.get("mean_reward") is None else p["mean_reward"] for p in points], np.float64)
            xs.append(x.mean())
            ys.append(y.mean())
            xerr.append(x.std(ddof=1) if len(x) > 1 else 0.0)
            yerr.append(y.std(ddof=1) if len(y) > 1 else 0.0)
            labels.append(f"c={c:g}")
        ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt="o-", capsize=3, color=COLORS.get(algorithm),
                    label=f"{algorithm} ({len(next(iter(by_c.values())))} seed"
                          f"{'s' * (len(next(iter(by_c.values()))) != 1)})")
        for x, y, label in zip(xs, ys, labels):
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=7)
    if prior.get("mean_reward") is not None:
        ax.plot([prior.get("kl") or 0.0], [prior["mean_reward"]], "k*", markersize=12, label="prior")
    ax.set_xlabel("KL(policy || prior) per token (nats)")
    ax.set_ylabel(f"mean reward ({reward} preset, invalid molecules included)")
    ax.set_title("Reward-KL frontier on SMILES")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures.save_png(fig, path)
    plt.close(fig)
