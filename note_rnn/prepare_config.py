"""The settings of ``note-rnn prepare`` (building the Note-RNN training set); no note-seq,
music21 or TensorFlow import.

Kept apart from :mod:`note_rnn.corpus` (which imports note-seq, and with it IPython, bokeh and
pandas) so that the command line and its ``--help`` are built without them.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Tuple

from rl_tuner.plumbing import records
from rl_tuner.plumbing.ranges import COUNT, SEED, at_least, between, check_ranges, positive

DEFAULT_COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")
NATIVE_FORMAT = "npz"  # the default output format (records.TFRECORD the other)
MIN_WORKER_MEMORY_MB = 1024


def _cpu_count() -> int:
    return os.cpu_count() or 1


@dataclasses.dataclass
class PrepareConfig:
    """Settings of ``note-rnn prepare`` (building the Note-RNN training set).

    Attributes:
      source: "music21" for music21's bundled ABC folk collections, or a folder searched
        recursively for MIDI files (*.mid, *.midi) and ABC tunebooks (*.abc).
      out_dir: folder that receives train.npz, validation.npz and summary.json.
      collections: music21 corpus collections to read when source is "music21".
      include_essen: also read music21's essenFolksong collection (Essen Folksong
        Collection, 8,514 mostly German and Chinese tunes). Its licence allows
        non-commercial use only, so it is off by default.
      validation_fraction: share of tunes (not melodies) put in the validation split.
      seed: salt of the split hash; the same seed gives the same split.
      workers: parsing processes; default: the number of CPUs. 0 parses in this process
        (no memory limit, and a crash of the parser ends the run: for tests and debugging).
      min_bars: drop melodies shorter than this many bars (Magenta: 7).
      max_steps: truncate melodies to this many 16th-note steps (Magenta: 512); 0 or
        None keeps whole melodies.
      min_unique_pitches: drop melodies with fewer distinct pitches (Magenta: 5).
      gap_bars: a rest this many bars long ends a melody (Magenta: 1.0).
      transpose_to_key: 0 transposes to C major / A minor (Magenta); 1..11 to that major
        key (and its relative minor); -1 or None keeps the key. Notes are always folded by
        octaves into MIDI 48..83.
      deduplicate: drop melodies whose tokens equal an earlier melody's. music21's
        O'Neill collection has overlapping files; without this the same tune would be
        counted twice, possibly once in each split.
      limit: read at most this many tunes (files, for MIDI); None reads all. For tests.
      task_timeout: seconds after which one tune's (file's) parsing is abandoned and it is
        skipped; 0 disables the limit. A worker stuck where the timeout cannot interrupt
        it (in C code) is killed after twice this time plus a second.
      worker_memory_mb: address-space limit of each parsing process in MiB (a file that
        needs more is skipped, MemoryError); 0: no limit. A worker killed by the system is
        also only a skipped file.
      runner: parse the tunes as an Apache Beam pipeline on this runner (DirectRunner,
        FlinkRunner, DataflowRunner, ...; Beam's own options follow on the command line)
        with the same per-tune function; default: no Beam. Same output; a tune whose job
        fails is skipped and named like any bad file (the dead letters are ``skipped``). On
        Beam ``workers``, ``task_timeout`` and ``worker_memory_mb`` do not apply (the
        runner's own settings do): the time limit needs the main thread of a process, and a
        parser crash is the runner's to retry.
      format: "npz" (train.npz, validation.npz) or "tfrecord" (``shards`` TFRecord files per
        split, ``train-00000-of-0000N.tfrecord`` ..., one tf.train.Example per melody: its
        tokens and source id; see :mod:`rl_tuner.plumbing.records`).
      shards: TFRecord files per split (with format "tfrecord" only).
      progress: show a tqdm progress bar on stderr (only when stderr is a terminal).
      verbose: print the summary to stdout when done.
    """

    source: str = "music21"
    out_dir: str = "data/folk"
    collections: Tuple[str, ...] = DEFAULT_COLLECTIONS
    include_essen: bool = False
    validation_fraction: float = 0.1
    seed: int = 0
    workers: int = dataclasses.field(default_factory=_cpu_count)
    min_bars: float = 7
    max_steps: Optional[int] = 512
    min_unique_pitches: int = 5
    gap_bars: float = 1.0
    transpose_to_key: Optional[int] = 0
    deduplicate: bool = True
    limit: Optional[int] = None
    task_timeout: float = 120.0
    worker_memory_mb: int = 4096
    runner: Optional[str] = None
    format: str = "npz"
    shards: int = 1
    progress: bool = True
    verbose: bool = True

    # Allowed values of every numeric setting (checked here and by the command line).
    RANGES = {
        "validation_fraction": between(0.0, 1.0, high_open=True), "seed": SEED, "workers": at_least(0),
        "min_bars": at_least(0.0, integer=False), "max_steps": at_least(0, optional=True),
        "min_unique_pitches": at_least(0), "gap_bars": positive(),
        "transpose_to_key": between(-1, 11, integer=True, optional=True), "limit": at_least(1, optional=True),
        "task_timeout": at_least(0.0, integer=False), "worker_memory_mb": at_least(0), "shards": COUNT,
    }

    def __post_init__(self):
        self.collections = tuple(self.collections)
        check_ranges(self, self.RANGES)
        records.check_format(self.format, NATIVE_FORMAT, self.shards)
        if self.worker_memory_mb != 0 and self.worker_memory_mb < MIN_WORKER_MEMORY_MB:
            raise ValueError(f"worker_memory_mb must be 0 (no limit) or >= {MIN_WORKER_MEMORY_MB} (a worker "
                             f"needs about 500 MiB to start), got {self.worker_memory_mb}")

    def extraction_options(self):
        """Returns the melody filters of this config for :mod:`note_rnn.encoding` (an
        :class:`note_rnn.encoding.ExtractionOptions`)."""
        from note_rnn.encoding import ExtractionOptions  # pylint: disable=import-outside-toplevel  (note-seq)
        key = None if self.transpose_to_key is None or self.transpose_to_key < 0 \
            else self.transpose_to_key
        return ExtractionOptions(min_bars=self.min_bars, max_steps=self.max_steps or None,
                                 min_unique_pitches=self.min_unique_pitches,
                                 gap_bars=self.gap_bars, transpose_to_key=key)
