"""I/O and command-line plumbing shared by every command: atomic writes (``atomic``), what an
``--out`` may replace (``outputs``), run directories and locks (``runs``), the checkpoint format
(``checkpoint``), sharded TFRecords (``records``), multi-worker output (``workers``), Apache
Beam (``beam_map``), argument ranges (``ranges``), input-file checks (``file_checks``) and
argparse helpers (``cli_utils``)."""
