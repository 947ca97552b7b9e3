"""The paper's melody results, to print beside this project's (facts, not code).

Source: Jaques et al., "Sequence Tutor: Conservative Fine-Tuning of Sequence Generation Models
with KL-control", ICML 2017, Table 1 (100,000 melodies per model); the same table is in the
ICLR 2017 submission "Tuning Recurrent Neural Networks with Reinforcement Learning", where the
MLE column is called Note RNN. Fractions are given as 0..1 (the paper prints percentages).
"""

# {statistic key of note_rnn.stats: {model: value}}; the paper has no pure-RL column.
TABLE_1 = {
    "notes_excessively_repeated": {"mle": 0.633, "q": 0.0, "psi": 0.0002, "g": 0.0003},
    "mean_autocorrelation_lag1": {"mle": -0.16, "q": -0.11, "psi": -0.10, "g": 0.55},
    "mean_autocorrelation_lag2": {"mle": 0.14, "q": 0.03, "psi": -0.01, "g": 0.31},
    "mean_autocorrelation_lag3": {"mle": -0.13, "q": 0.03, "psi": 0.01, "g": 0.17},
    "notes_not_in_key": {"mle": 0.001, "q": 0.0100, "psi": 0.0060, "g": 0.287},
    "melodies_starting_with_tonic": {"mle": 0.009, "q": 0.288, "psi": 0.287, "g": 0.0},
    "leaps_resolved": {"mle": 0.772, "q": 0.911, "psi": 0.900, "g": 0.522},
    "melodies_with_unique_max_note": {"mle": 0.647, "q": 0.564, "psi": 0.594, "g": 0.371},
    "melodies_with_unique_min_note": {"mle": 0.494, "q": 0.519, "psi": 0.583, "g": 0.565},
    "notes_in_motif": {"mle": 0.059, "q": 0.757, "psi": 0.738, "g": 0.693},
    "notes_in_repeated_motif": {"mle": 0.00007, "q": 0.0011, "psi": 0.0009, "g": 0.0001},
}

# Figure 2: pure RL's mean log p(a|s) at the end of training (about log 1/38 = -3.64).
PURE_RL_FINAL_LOG_PRIOR = -3.65
# The paper's KL weight for Table 1 ("c = 0.5 produced melodies that sounded better").
PAPER_C = 0.5
