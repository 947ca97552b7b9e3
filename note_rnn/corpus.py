"""Builds the Note-RNN training set: folk tunes or MIDI files -> 38-token melodies.

``prepare(PrepareConfig(...))`` reads music21's bundled ABC folk collections (no network)
or a folder of MIDI/ABC files, extracts monophonic melodies like Magenta's melody_rnn
pipeline (quantize to 16th notes, extract per instrument, transpose to C major / A minor,
fold into MIDI 48..83, drop short ones), splits them into train and validation by a hash of
each tune's source id and writes ``train.npz``, ``validation.npz`` and ``summary.json`` (or,
with ``format="tfrecord"``, sharded TFRecord files: :mod:`rl_tuner.plumbing.records`).
``load_split(out_dir, "train")`` reads a split back as a list of token arrays, in either format.

Multi-tune ABC files are split into single tunes in this process; the tunes (and MIDI
files) are then parsed in ``workers`` processes, each catching every error of its tune.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import pathlib
import signal
import sys
import threading
import time
import warnings
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

from rl_tuner.plumbing import file_checks, output_dir, outputs, records
from note_rnn import abc, encoding, isolated_pool
from note_rnn.encoding import ExtractionOptions
# The settings live in their own module (no note-seq: --help stays fast); re-exported here.
from note_rnn.prepare_config import DEFAULT_COLLECTIONS, MIN_WORKER_MEMORY_MB, NATIVE_FORMAT, PrepareConfig  # noqa: F401
from note_rnn.tokens import FIRST_PITCH_TOKEN, NO_EVENT, NOTE_OFF, NUM_CLASSES

ESSEN_COLLECTION = "essenFolksong"
SPLITS = ("train", "validation")
SOURCE_FEATURE = "source"  # the bytes feature of a melody's Example: its tune's source id
MIDI_SUFFIXES = (".mid", ".midi")


@dataclasses.dataclass
class SplitStats:
    """Size of one split: number of melodies and of tokens."""

    melodies: int = 0
    tokens: int = 0


@dataclasses.dataclass
class PrepareSummary:
    """What ``prepare`` read, skipped and wrote (also stored as summary.json).

    Attributes:
      source: the config's source. out_dir: where the data set was written.
      files_read: files opened (ABC tunebooks or MIDI files).
      tunes_parsed: tunes (MIDI files) converted without error.
      tunes_without_melodies: parsed tunes of which no melody passed the filters.
      duplicates_dropped: melodies dropped as exact copies of earlier ones.
      skipped: one {"source", "reason"} dict per file or tune that failed.
      train, validation: melodies and tokens of each split.
      token_histogram: fraction of hold (0), note-off (1) and pitch tokens in train.
      wall_time_s: duration of the run.
    """

    source: str
    out_dir: str
    files_read: int = 0
    tunes_parsed: int = 0
    tunes_without_melodies: int = 0
    duplicates_dropped: int = 0
    skipped: List[Dict[str, str]] = dataclasses.field(default_factory=list)
    train: SplitStats = dataclasses.field(default_factory=SplitStats)
    validation: SplitStats = dataclasses.field(default_factory=SplitStats)
    token_histogram: Dict[str, float] = dataclasses.field(default_factory=dict)
    wall_time_s: float = 0.0

    def format(self) -> str:
        """Returns a human-readable report."""
        lines = [
            f"source {self.source} -> {self.out_dir} ({self.wall_time_s:.1f} s)",
            f"files read {self.files_read}, tunes parsed {self.tunes_parsed}, "
            f"without melodies {self.tunes_without_melodies}, "
            f"duplicates dropped {self.duplicates_dropped}, skipped {len(self.skipped)}",
            f"train: {self.train.melodies} melodies, {self.train.tokens} tokens; "
            f"validation: {self.validation.melodies} melodies, {self.validation.tokens} tokens",
            "token histogram (train): " + ", ".join(
                f"{k} {v:.3f}" for k, v in self.token_histogram.items()),
        ]
        lines += [f"  skipped {s['source']}: {s['reason']}" for s in self.skipped]
        return "\n".join(lines)


class _Task(NamedTuple):
    """One unit of parallel work: an ABC tune (text) or a MIDI file (path)."""

    source_id: str
    kind: str  # "abc" or "midi"
    payload: str


class _Result(NamedTuple):
    source_id: str
    melodies: List[np.ndarray]
    error: Optional[str]


# Finding the tunes


def split_abc_tunes(text: str) -> List[str]:
    """Splits an ABC tunebook into single tunes (each starts at an ``X:`` line).

    Lines before the first tune (the file header, e.g. default ``L:`` or ``M:`` fields) are
    prepended to every tune so that each one parses on its own.

    Args:
      text: the content of an .abc file.

    Returns:
      The tunes' texts in file order (empty if the file has no ``X:`` line).
    """
    header, tunes = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("X:"):
            tunes.append([line])
        elif tunes:
            tunes[-1].append(line)
        else:
            header.append(line)
    prefix = "".join(header)
    return [prefix + "".join(lines) for lines in tunes]


def _music21_files(config: PrepareConfig) -> Iterator[Tuple[str, pathlib.Path]]:
    """Yields (source id, path) of the ABC files of the configured music21 collections."""
    from music21 import common  # pylint: disable=import-outside-toplevel
    root = pathlib.Path(common.getCorpusFilePath())
    names = list(config.collections)
    if config.include_essen and ESSEN_COLLECTION not in names:
        names.append(ESSEN_COLLECTION)
    for name in names:
        files = sorted((root / name).rglob("*.abc")) if (root / name).is_dir() else []
        if not files:
            known = sorted(p.parent.name for p in root.glob("*/*.abc"))
            raise ValueError(f"music21 collection {name!r} has no ABC files; collections with "
                             f"ABC files: {sorted(set(known))}")
        for path in files:
            yield display_name(path.relative_to(root).as_posix()), path


def display_name(name: str) -> str:
    """Returns a file name (or text holding one) as valid UTF-8, whatever bytes it is made of.

    Python gives a name that is not valid UTF-8 (e.g. Latin-1 ``caf\\xe9.mid``) as a string
    with surrogate escapes, which cannot be written as UTF-8 (JSON, NumPy, the terminal).
    Its undecodable bytes are shown as ``\\xNN`` instead; valid names are unchanged. The
    result is the file's source id, so its split does not depend on the locale.

    Args:
      name: a file name or relative path as returned by ``os`` / ``pathlib``.

    Returns:
      The name with each undecodable byte replaced by a backslash escape.
    """
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _folder_files(folder: pathlib.Path) -> Iterator[Tuple[str, pathlib.Path]]:
    """Yields (source id, path) of every MIDI and ABC file under ``folder``."""
    problem = file_checks.path_problem(str(folder), "dir")
    if problem:
        raise ValueError(f"source folder {display_name(str(folder))!r}: {problem} (use 'music21' or a folder of "
                         "MIDI files)")
    if not folder.is_dir():
        raise FileNotFoundError(f"source folder {display_name(str(folder))!r} does not exist "
                                "(use 'music21' or a folder of MIDI files)")
    suffixes = MIDI_SUFFIXES + (".abc",)
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in suffixes and path.is_file():
            yield display_name(path.relative_to(folder).as_posix()), path


def _collect_tasks(config: PrepareConfig, summary: PrepareSummary) -> List[_Task]:
    """Lists the tunes to parse; unreadable ABC files are recorded in ``summary.skipped``."""
    if config.source == "music21":
        files = _music21_files(config)
    else:
        files = _folder_files(pathlib.Path(config.source))
    tasks: List[_Task] = []
    for source_id, path in files:
        if config.limit is not None and len(tasks) >= config.limit:
            break
        summary.files_read += 1
        if path.suffix.lower() in MIDI_SUFFIXES:
            tasks.append(_Task(source_id, "midi", str(path)))
            continue
        try:
            tunes = split_abc_tunes(path.read_bytes().decode("utf-8", errors="replace"))
        except OSError as error:
            summary.skipped.append({"source": source_id, "reason": f"unreadable: {error}"})
            continue
        if not tunes:
            summary.skipped.append({"source": source_id, "reason": "no ABC tune (no X: line)"})
        tasks += [_Task(f"{source_id}#{i}", "abc", tune) for i, tune in enumerate(tunes, 1)]
    return tasks[:config.limit] if config.limit is not None else tasks


# Parsing one tune (runs in the worker processes)


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raises TimeoutError in the block after ``seconds`` (main thread, Unix only)."""
    usable = (seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise TimeoutError(f"gave up after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _parse_task(task: _Task, options: ExtractionOptions) -> List[np.ndarray]:
    """Returns the melodies of one tune or MIDI file (raises whatever the parsers raise)."""
    if task.kind == "midi":
        sequence = encoding.read_note_sequence(task.payload)
    else:
        sequence = abc.abc_to_note_sequence(task.payload)
    return encoding.note_sequence_to_melodies(sequence, options)


def _run_task(job: Tuple[_Task, ExtractionOptions, float, Callable]) -> _Result:
    """Parses one tune; catches every exception and reports it as the skip reason."""
    task, options, timeout, parse = job
    try:
        with warnings.catch_warnings(), _time_limit(timeout):
            warnings.simplefilter("ignore")
            melodies = parse(task, options)
        return _Result(task.source_id, melodies, None)
    except Exception as error:  # pylint: disable=broad-except
        reason = str(error) if isinstance(error, encoding.MidiReadError) else \
            f"{type(error).__name__}: {error}"
        return _Result(task.source_id, [], display_name(reason[:300]))  # printable, whatever the path


def _parse_on_beam(jobs: list, tasks: List[_Task], runner: str, pipeline_args) -> List[_Result]:
    """:func:`_run_task` of every job on a Beam runner; a failed job is a skipped tune."""
    from rl_tuner.plumbing import beam_map  # pylint: disable=import-outside-toplevel
    results, dead = beam_map.map_jobs(_run_task, jobs, runner, pipeline_args)
    for index, reason in dead:
        results[index] = _Result(tasks[index].source_id, [], display_name(reason[:300]))
    return results


def _parse_all(tasks: List[_Task], config: PrepareConfig, pipeline_args=()) -> List[_Result]:
    """Parses the tasks in ``config.workers`` processes; returns results in task order.

    A task whose worker dies or hangs becomes a result with an error (see
    :mod:`note_rnn.isolated_pool`); the other tasks are parsed as usual.
    """
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    # _parse_task is looked up at call time, so a test can replace it (also in the workers).
    jobs = [(task, config.extraction_options(), config.task_timeout, _parse_task)
            for task in tasks]
    if config.runner and jobs:
        return _parse_on_beam(jobs, tasks, config.runner, pipeline_args)
    results: List[Optional[_Result]] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="parsing", unit="tune", file=sys.stderr,
               disable=not (config.progress and sys.stderr.isatty()))  # no bar in a log file
    with bar:
        if config.workers == 0 or not jobs:
            outputs = enumerate(map(_run_task, jobs))
        else:
            hang_timeout = 2 * config.task_timeout + 1 if config.task_timeout else 0
            outputs = isolated_pool.imap_isolated(
                _run_task, jobs, min(config.workers, len(jobs)), hang_timeout=hang_timeout,
                memory_mb=config.worker_memory_mb)
        for index, result in outputs:
            if isinstance(result, isolated_pool.JobFailed):
                result = _Result(tasks[index].source_id, [], result.reason)
            results[index] = result
            bar.update()
    return results  # type: ignore[return-value]


# Splitting, writing, reading


def split_of(source_id: str, validation_fraction: float, seed: int = 0) -> str:
    """Returns "train" or "validation" for a tune, from a hash of its source id.

    The split of a tune depends only on its id, the fraction and the seed: not on the
    other files, the worker order or the machine.
    """
    digest = hashlib.sha256(f"{seed}\0{source_id}".encode("utf-8", "surrogateescape")).digest()
    return "validation" if int.from_bytes(digest[:8], "big") / 2**64 < validation_fraction \
        else "train"


def _assign_splits(results: List[_Result], config: PrepareConfig, summary: PrepareSummary
                   ) -> Dict[str, List[Tuple[str, np.ndarray]]]:
    """Distributes the melodies to the splits; records skips and drops duplicates."""
    splits: Dict[str, List[Tuple[str, np.ndarray]]] = {name: [] for name in SPLITS}
    seen = set()
    for result in results:
        if result.error is not None:
            summary.skipped.append({"source": result.source_id, "reason": result.error})
            continue
        summary.tunes_parsed += 1
        if not result.melodies:
            summary.tunes_without_melodies += 1
        split = split_of(result.source_id, config.validation_fraction, config.seed)
        for melody in result.melodies:
            key = melody.tobytes()
            if config.deduplicate and key in seen:
                summary.duplicates_dropped += 1
                continue
            seen.add(key)
            splits[split].append((result.source_id, melody))
    return splits


def _write_split(path: pathlib.Path, items: List[Tuple[str, np.ndarray]]) -> SplitStats:
    """Writes one split as ``tokens`` (int8), ``lengths`` (int32), ``sources`` (str)."""
    melodies = [melody for _, melody in items]
    tokens = np.concatenate(melodies).astype(np.int8) if melodies else np.zeros(0, np.int8)
    lengths = np.array([len(m) for m in melodies], dtype=np.int32)
    sources = np.array([source for source, _ in items], dtype=str)
    temporary = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(temporary, tokens=tokens, lengths=lengths, sources=sources)
    os.replace(temporary, path)
    return SplitStats(melodies=len(melodies), tokens=int(tokens.size))


def token_histogram(melodies: List[np.ndarray]) -> Dict[str, float]:
    """Fractions of hold (0), note-off (1) and pitch (2..37) tokens over ``melodies``."""
    tokens = np.concatenate(melodies) if melodies else np.zeros(0, np.int8)
    total = max(tokens.size, 1)
    return {"hold": float(np.sum(tokens == NO_EVENT)) / total,
            "note_off": float(np.sum(tokens == NOTE_OFF)) / total,
            "pitch": float(np.sum(tokens >= FIRST_PITCH_TOKEN)) / total}


PREPARE_COMMAND = "note-rnn prepare"
PREPARE_FILES = ("train.npz", "validation.npz", "summary.json")


def prepare(config: PrepareConfig, overwrite: bool = False, pipeline_args=()) -> PrepareSummary:
    """Builds the data set described by ``config`` (see the module docstring).

    A file or tune that cannot be read or parsed is skipped and named in the summary;
    the run never stops on one bad file. The output folder is checked before any parsing
    (see :mod:`rl_tuner.plumbing.outputs`) and written atomically; other files in it are kept.

    Args:
      config: where to read, what to keep and where to write.
      overwrite: write into a non-empty folder that is not an earlier ``prepare`` output.
      pipeline_args: Beam's pipeline options (with ``config.runner`` only).

    Returns:
      The summary, also written to ``<out_dir>/summary.json``.

    Raises:
      FileNotFoundError: if ``config.source`` is neither "music21" nor a folder.
      ValueError: if a music21 collection does not exist.
      rl_tuner.plumbing.outputs.OutputError: if the output folder may not be written (it holds other
        files and no --overwrite, it is or contains the source, or it is a training run).
    """
    if pipeline_args and not config.runner:
        raise ValueError(f"unrecognized arguments: {' '.join(pipeline_args)} (Beam options need --runner)")
    outputs.check_dir(config.out_dir, PREPARE_COMMAND, overwrite,
                      inputs=[] if config.source == "music21" else [config.source])
    started = time.perf_counter()
    summary = PrepareSummary(source=display_name(config.source),
                             out_dir=display_name(str(config.out_dir)))
    tasks = _collect_tasks(config, summary)
    # The temporary output folder is made before the long parse: an unwritable --out fails at once.
    owned = PREPARE_FILES + tuple(records.shard_files_of(config.out_dir, SPLITS))  # both formats
    with output_dir.directory(config.out_dir, PREPARE_COMMAND, overwrite, owned=owned) as tmp:
        splits = _assign_splits(_parse_all(tasks, config, pipeline_args), config, summary)
        out_dir = pathlib.Path(tmp)
        shard_files = {}
        for split in SPLITS:
            if config.format == records.TFRECORD:
                items = splits[split]
                shard_files[split] = records.write_split(tmp, split, [m for _, m in items], config.shards,
                                                         SOURCE_FEATURE, [source for source, _ in items])
                stats = SplitStats(melodies=len(items), tokens=sum(len(m) for _, m in items))
            else:
                stats = _write_split(out_dir / f"{split}.npz", splits[split])
            setattr(summary, split, stats)
        summary.token_histogram = token_histogram([m for _, m in splits["train"]])
        summary.wall_time_s = round(time.perf_counter() - started, 2)
        settings = dict(dataclasses.asdict(config), source=summary.source, out_dir=summary.out_dir)
        if config.runner:  # the default path's summary stays as it was
            settings["pipeline_args"] = list(pipeline_args)
        else:
            del settings["runner"]
        if config.format == NATIVE_FORMAT:  # so does the default format's
            del settings["format"], settings["shards"]
        record = {"config": settings, "summary": dataclasses.asdict(summary), "versions": _library_versions()}
        if shard_files:
            record["records"] = records.summary_entry(config.shards, shard_files, SOURCE_FEATURE)
        (out_dir / "summary.json").write_text(json.dumps(record, indent=2) + "\n")
    if config.verbose:
        print(summary.format())
        if config.format == records.TFRECORD:
            print(f"TFRecord shards: {config.shards} per split in {summary.out_dir}")
    return summary


def _library_versions() -> Dict[str, str]:
    """Versions of the libraries that shape the data (parsing, quantization)."""
    versions = {}
    for name in ("note-seq", "music21", "numpy"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def data_format(data_dir: os.PathLike | str) -> str:
    """The format of a data set written by :func:`prepare`: "npz" or "tfrecord" (from the files
    present; "npz" when there are none, so that the loader names the missing file).

    Raises:
      ValueError: the folder holds both train/validation.npz and TFRecord shards.
    """
    return records.detect_format(str(data_dir), NATIVE_FORMAT, [f"{split}.npz" for split in SPLITS])


def split_files(data_dir: os.PathLike | str, split: str) -> List[str]:
    """The files holding one split (``split.npz``, or its TFRecord shards in order): what a
    training run fingerprints as its data.

    Raises:
      ValueError: both formats in the folder, or a missing shard.
    """
    if data_format(data_dir) == records.TFRECORD:
        return records.split_files(str(data_dir), split)
    return [os.path.join(str(data_dir), f"{split}.npz")]


def _check_tokens(path, tokens: np.ndarray) -> None:
    if tokens.size and not (tokens.min() >= 0 and tokens.max() < NUM_CLASSES):
        raise ValueError(f"{path}: tokens must lie in 0..{NUM_CLASSES - 1}, found {int(tokens.min())}.."
                         f"{int(tokens.max())}")


def load_split(data_dir: os.PathLike | str, split: str) -> List[np.ndarray]:
    """Reads one split written by :func:`prepare`, in either format (:func:`data_format`).

    Args:
      data_dir: the ``out_dir`` of a ``prepare`` run.
      split: "train" or "validation".

    Returns:
      The melodies as a list of 1-D ``np.int8`` token arrays, in the order they were written
      (the same list from ``train.npz`` as from the TFRecord shards of the same data).

    Raises:
      ValueError: for an unknown split name, a folder holding both formats, or a split file
        that is broken (empty, truncated, a git-lfs pointer, missing arrays, lengths that do
        not add up, tokens outside 0..37; a corrupt, truncated or missing shard); the message
        names the file.
      FileNotFoundError: if the split file is missing.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    file_checks.check_path(str(data_dir), "dir")  # a file, a FIFO, a link loop: said what it is
    if data_format(data_dir) == records.TFRECORD:
        melodies, _ = records.read_split(str(data_dir), split, SOURCE_FEATURE)
        _check_tokens(os.path.join(str(data_dir), f"{split}-*{records.SUFFIX}"),
                      np.concatenate(melodies) if melodies else np.zeros(0, np.int64))
        return [melody.astype(np.int8) for melody in melodies]
    path = pathlib.Path(data_dir) / f"{split}.npz"
    file_checks.check_path(str(path), "file")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: build the data set first with "
                                f"`note-rnn prepare --out {data_dir}`")
    data = file_checks.load_npz(str(path), "data set split")
    missing = [name for name in ("tokens", "lengths") if name not in data]
    if missing:
        raise ValueError(f"{path}: the data set split has no {' or '.join(missing)} array (not written by "
                         "`note-rnn prepare`?)")
    tokens, lengths = data["tokens"], data["lengths"]
    if tokens.ndim != 1 or lengths.ndim != 1 or tokens.dtype.kind not in "iu" or lengths.dtype.kind not in "iu":
        raise ValueError(f"{path}: tokens and lengths must be 1-D integer arrays, got {tokens.dtype} "
                         f"{list(tokens.shape)} and {lengths.dtype} {list(lengths.shape)}")
    if np.any(lengths < 0) or int(lengths.sum()) != tokens.size:
        raise ValueError(f"{path}: the melody lengths add up to {int(lengths.sum())} tokens, but the file holds "
                         f"{tokens.size}")
    _check_tokens(path, tokens)
    return [part.astype(np.int8) for part in np.split(tokens, np.cumsum(lengths)[:-1])] \
        if lengths.size else []
