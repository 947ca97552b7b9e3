"""The paper's listening study (Figure 3) as a tool: a local web page for pairwise ratings.

``rl-tuner listen`` samples melodies from several models, renders them to WAV once and
serves a page where raters compare two melodies (A and B, model names hidden) on a Likert
scale; ``rl-tuner listen-report`` computes the paper's statistics from the ratings.

Modules, one job each: :mod:`~listening_study.schedule` (which pair a rater hears next,
pure Python), :mod:`~listening_study.store` (the SQLite database), :mod:`~listening_study.app`
(the Flask web page), :mod:`~listening_study.report` (SciPy statistics and the figure),
:mod:`~listening_study.commands` (the two ``rl-tuner`` subcommands).
"""
