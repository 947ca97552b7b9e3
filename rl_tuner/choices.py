"""Names of the enumerated RL Tuner settings (pure Python, no TensorFlow).

The command line builds its choices from here, so ``rl-tuner --help`` and argument
errors never load TensorFlow; the implementations (rl_tuner.kl_control.targets.ALGORITHMS,
rl_tuner.kl_control.exploration, rl_tuner.kl_control.replay) use the same names (tested).
"""

ALGORITHMS = ("q", "psi", "g", "pure_rl")
EXPLORATION_MODES = ("egreedy", "boltzmann")
REPLAY_KINDS = ("uniform", "prioritized")
NEW_PRIORITIES = ("max", "td")
HEAD_INITS = ("prior", "centered", "zero")
VALUE_OFFSETS = ("none", "prior_return")
# rl_tuner.kl_control.agent.KLControlLearner; rl_tuner.kl_control.sequence_learner.SequenceLearner (TD(lambda), path consistency)
LEARNERS = ("transition", "sequence", "path")
STRATEGIES = ("default", "mirrored", "multi_worker")  # tf.distribute strategies of the MLE trainer (rl_tuner.models.mle)
