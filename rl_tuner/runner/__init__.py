"""Running a tuning: the training loop, run directories and resume (``train``), the settings and
presets (``config``), what a rerun decides before TensorFlow loads (``train_precheck``),
evaluation (``evaluate``), tuned policies (``policy``) and the HParams summary (``hparams``)."""
