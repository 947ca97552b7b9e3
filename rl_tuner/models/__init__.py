"""The sequence models: the Keras LSTM language model with a step interface (``sequence_model``),
its cell math (``cells``), maximum-likelihood training (``mle``), in-graph sampling
(``sampling``) and the SavedModel export (``export``)."""
