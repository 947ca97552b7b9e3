"""The KL-control algorithm (Jaques et al. 2017, Sections 3-4): TD targets and rewards of q, psi,
g and pure RL (``targets``), the learners (``agent``: one transition at a time; ``sequence_learner``
and ``episodes``: whole episodes), the replay buffers (``replay``), the recurrent Q-network and
frozen prior (``networks``), acting (``actor``, ``exploration``), the environment protocol
(``environment``) and TF1 Adam (``optim``)."""
