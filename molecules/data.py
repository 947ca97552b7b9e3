"""Builds the SMILES data set: MOSES (or any .smi/.csv file) -> canonical SMILES per split.

``prepare(PrepareConfig(...))`` reads the MOSES training and test sets from inside the
``molsets==0.3.1`` wheel (fetched with ``pip download --no-deps``; molsets is never
installed), or one ``.smi``/``.csv`` file; canonicalises every SMILES with RDKit in
``workers`` processes; skips and counts (with examples) the lines that are empty, that RDKit
cannot parse (named by RDKit's problem type) and that the tokenizer cannot tokenize (named by
symbol); drops repeated molecules; splits the training lines into train and validation by a
hash of the canonical SMILES; and writes

    DIR/train.smi.gz, DIR/validation.smi.gz (, DIR/test.smi.gz)   one canonical SMILES a line
    DIR/tokenizer.json                                            the fitted tokenizer
    DIR/summary.json                                              counts, problems, statistics

With ``format="tfrecord"`` each split is written as ``shards`` TFRecord files instead
(``train-00000-of-0000N.tfrecord`` ..., one tf.train.Example per molecule: its token ids under
the fitted tokenizer and its canonical SMILES; :mod:`rl_tuner.plumbing.records`); :func:`load_split`
reads either format.

``summary.json``'s ``statistics`` (:func:`molecules.rewards.data_statistics` of the train
split, atom-level tokens) holds the limits of the ``default`` reward preset.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import hashlib
import json
import multiprocessing
import os
import sys
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from molecules import tokenizers
from molecules.sources import Input, moses_wheel, read_moses, read_source
from rl_tuner.plumbing.ranges import COUNT, SEED, at_least, between, check_ranges

SPLITS = ("train", "validation", "test")
NATIVE_FORMAT = "smi.gz"  # the default output format (rl_tuner.plumbing.records.TFRECORD the other)
SMILES_FEATURE = "smiles"  # the bytes feature of a molecule's Example: its canonical SMILES
PREPARE_COMMAND = "molecules prepare"
CHUNK_LINES = 4000
MAX_EXAMPLES = 20  # example lines kept in summary.json per kind of problem


def _cpu_count() -> int:
    return os.cpu_count() or 1


@dataclasses.dataclass
class PrepareConfig:
    """Settings of ``molecules prepare`` (building the SMILES data set).

    Attributes:
      source: "moses" for the MOSES data set (train and test CSVs of the molsets 0.3.1 wheel),
        or a .smi/.csv file of SMILES (optionally .gz); a .smi file's first field of each
        line is the SMILES.
      out_dir: folder that receives {train,validation,test}.smi.gz, tokenizer.json and
        summary.json (see :func:`prepare` for what may be replaced).
      column: the SMILES column of a CSV source (matched case-insensitively).
      wheel: path of the molsets-0.3.1 wheel; default: look in cache_dir and run
        `pip download molsets==0.3.1 --no-deps -d cache_dir` if it is not there.
      cache_dir: where the MOSES wheel is looked for and downloaded to.
      tokenizer: "atom" (atom-level, vocabulary fitted on the train split) or "char" (the
        original's 35 characters); lines it cannot tokenize are skipped and counted.
      validation_fraction: share of the training lines put in the validation split (by a
        hash of the canonical SMILES).
      seed: salt of the split hash; the same seed gives the same split.
      workers: RDKit processes; default: the number of CPUs. 1 works in this process.
      runner: run the RDKit work as an Apache Beam pipeline on this runner (DirectRunner,
        FlinkRunner, DataflowRunner, ...; Beam's own options follow on the command line);
        default: no Beam. Same output; lines of a failed job are skipped as "dead_letter",
        and every skipped line is listed in DIR/dead_letters.jsonl.
      limit: read at most this many lines of each input file; None reads all. For tests.
      format: "smi.gz" (one gzipped text file per split) or "tfrecord" (``shards`` TFRecord
        files per split, one tf.train.Example per molecule: token ids and canonical SMILES).
      shards: TFRecord files per split (with format "tfrecord" only).
      progress: show a tqdm progress bar on stderr (only when stderr is a terminal).
      verbose: print the summary to stdout when done.
    """

    source: str = "moses"
    out_dir: str = "data/moses"
    column: str = "SMILES"
    wheel: Optional[str] = None
    cache_dir: str = "data/cache"
    tokenizer: str = "atom"
    validation_fraction: float = 0.1
    seed: int = 0
    workers: int = dataclasses.field(default_factory=_cpu_count)
    runner: Optional[str] = None
    limit: Optional[int] = None
    format: str = "smi.gz"
    shards: int = 1
    progress: bool = True
    verbose: bool = True

    # Allowed values of every numeric setting (checked here and, naming the flag, by the command line).
    RANGES = {"validation_fraction": between(0.0, 1.0, high_open=True), "seed": SEED, "workers": COUNT,
              "limit": at_least(1, optional=True), "shards": COUNT}

    def __post_init__(self):
        check_ranges(self, self.RANGES)
        if self.tokenizer not in ("atom", "char"):
            raise ValueError(f"tokenizer must be 'atom' or 'char', got {self.tokenizer!r}")
        from rl_tuner.plumbing import records  # pylint: disable=import-outside-toplevel  (no TensorFlow)
        records.check_format(self.format, NATIVE_FORMAT, self.shards)


# ---------------------------------------------------------------------------------------------
# Parallel RDKit work


def split_of(canonical_smiles: str, seed: int, validation_fraction: float) -> str:
    """"validation" or "train" by a hash of the canonical SMILES (same input, same split).

    Uses blake2b of ``"{seed}:{smiles}"``; the first 8 bytes as a fraction of 2**64 are compared
    with ``validation_fraction``.
    """
    digest = hashlib.blake2b(f"{seed}:{canonical_smiles}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(digest, "big") / 2.0 ** 64 < validation_fraction else "train"


@dataclasses.dataclass
class _ChunkResult:
    kept: List[Tuple[int, str, str]]           # (line, split, canonical SMILES)
    rejected: List[Tuple[int, str, str, str, tuple]]  # (line, text, kind, detail, unknown symbols)
    tokens: Dict[str, collections.Counter]     # split -> atom token counts
    paper_misses: collections.Counter          # symbol -> lines outside the 35 characters


def canonicalise_line(number: int, text: str, split: str, tokenizer_kind: str, seed: int, fraction: float,
                      paper=None) -> tuple:
    """The per-molecule work of ``molecules prepare`` (both the default path and Beam's).

    Args:
      number: the line number in its file (kept in the result).
      text: the SMILES text of the line.
      split: the input's split, "train" (divided by :func:`split_of`) or "test".
      tokenizer_kind: "atom" or "char" (see :class:`PrepareConfig`).
      seed, fraction: the split hash's salt and validation fraction.
      paper: the paper's 35-character tokenizer (made if None; pass one to reuse it).

    Returns:
      ``("kept", number, target split, canonical SMILES, atom tokens (list, empty for
      "char"), symbols outside the paper's 35 characters)`` or ``("rejected", number, text,
      kind, detail, unknown symbols, symbols outside the paper's 35 characters)`` with kind
      one of "empty", "too_long" (longer than ``molecules.chem.MAX_SMILES_CHARS``), "rdkit",
      "round_trip" (RDKit cannot read its own canonical SMILES back, or reads it as another
      canonical SMILES: such a line would enter the data set as no molecule), "tokenizer".
      Never raises for a bad line (an RDKit exception is a rejection).
    """
    from molecules import chem  # pylint: disable=import-outside-toplevel  # RDKit per worker
    paper = paper or tokenizers.paper_tokenizer()
    if not text.strip():
        return ("rejected", number, text, "empty", "empty line", (), [])
    too_long = chem.length_problem(text)  # RDKit segfaults on ~20,000 C and hangs on longer lines
    if too_long:
        return ("rejected", number, text[:80] + "...", "too_long", too_long, (), [])
    again = None
    try:
        canonical = chem.canonical(text)
        problem = "" if canonical is not None else chem.parse_problem(text)
        again = None if canonical is None else chem.canonical(canonical)
    except Exception as e:  # pylint: disable=broad-except  # one odd line must not stop the run
        canonical, problem = None, f"{type(e).__name__}: {e}"
    if canonical is None:
        return ("rejected", number, text, "rdkit", problem or "sanitization", (), [])
    if again != canonical:
        detail = (f"RDKit cannot read back its canonical SMILES {canonical!r} ({chem.parse_problem(canonical)})"
                  if again is None else f"its canonical SMILES {canonical!r} reads back as {again!r}")
        return ("rejected", number, text, "round_trip", detail, (), [])
    paper_unknown = paper.unknown_symbols(canonical)
    tokens = []
    if tokenizer_kind == "char":
        unknown = paper_unknown
    else:
        unknown = []
        for token, bad in tokenizers.atom_matches(canonical):
            (unknown if bad else tokens).append(token)
    if unknown:
        symbols = tuple(dict.fromkeys(unknown))
        return ("rejected", number, text, "tokenizer", "outside the vocabulary: " + " ".join(map(repr, symbols)),
                symbols, paper_unknown)
    target = split if split == "test" else split_of(canonical, seed, fraction)
    return ("kept", number, target, canonical, tokens, paper_unknown)


def _process_chunk(job) -> _ChunkResult:
    """Canonicalises one chunk of lines with :func:`canonicalise_line` (runs in a worker)."""
    split, items, tokenizer_kind, seed, fraction = job
    paper = tokenizers.paper_tokenizer()
    out = _ChunkResult([], [], collections.defaultdict(collections.Counter), collections.Counter())
    for number, text in items:
        result = canonicalise_line(number, text, split, tokenizer_kind, seed, fraction, paper)
        out.paper_misses.update(result[-1])
        if result[0] == "rejected":
            out.rejected.append(result[1:6])
            continue
        _, number, target, canonical, tokens, _ = result
        if tokenizer_kind == "atom":
            out.tokens[target].update(tokens)
        out.kept.append((number, target, canonical))
    out.tokens = dict(out.tokens)
    return out


def _chunks(inputs: Sequence[Input], config: PrepareConfig):
    for inp in inputs:
        for start in range(0, len(inp.items), CHUNK_LINES):
            yield (inp.split, inp.items[start:start + CHUNK_LINES], config.tokenizer, config.seed,
                   config.validation_fraction)


def _run_jobs_on_beam(jobs: list, runner: str, pipeline_args: Sequence[str]) -> List[_ChunkResult]:
    """:func:`_process_chunk` of every job on a Beam runner; a failed job's lines become
    "dead_letter" rejections."""
    from rl_tuner.plumbing import beam_map  # pylint: disable=import-outside-toplevel
    results, dead = beam_map.map_jobs(_process_chunk, jobs, runner, pipeline_args)
    for index, reason in dead:
        rejected = [(number, text, "dead_letter", reason, ()) for number, text in jobs[index][1]]
        results[index] = _ChunkResult([], rejected, {}, collections.Counter())
    return results


def _run_jobs(jobs: list, workers: int, progress: bool, total: int) -> Iterable[_ChunkResult]:
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    bar = tqdm(total=total, desc="canonicalising", unit="mol", file=sys.stderr, disable=not (progress and sys.stderr.isatty()),
               smoothing=0.05)
    try:
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                result = _process_chunk(job)
                bar.update(len(job[1]))  # before the yield: the consumer may stop after the last item
                yield result
        else:
            # spawn: safe even if the caller has imported TensorFlow (fork is not).
            with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
                for job, result in zip(jobs, pool.imap(_process_chunk, jobs)):
                    bar.update(len(job[1]))
                    yield result
    finally:
        bar.close()


# ---------------------------------------------------------------------------------------------
# The job


def prepare(config: PrepareConfig, overwrite: bool = False, pipeline_args: Sequence[str] = ()) -> dict:
    """Builds the data set described in the module docstring.

    The output folder follows :mod:`rl_tuner.plumbing.outputs`, checked before any work: a non-empty
    ``out_dir`` is written only if it is this command's earlier output or with
    ``overwrite`` (other files are kept), and never when it is or holds the source.

    Args:
      config: the settings.
      overwrite: write into a non-empty folder that is not an earlier ``molecules prepare``.
      pipeline_args: Beam's pipeline options (with ``config.runner`` only).

    Returns:
      The summary (also written to ``out_dir/summary.json``).

    Raises:
      FileNotFoundError: a missing source or wheel. ValueError: an unreadable source, a CSV
      without the column, or no molecule left in the train split.
      rl_tuner.plumbing.outputs.OutputError: if ``out_dir`` may not be written.
    """
    from molecules import rewards  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import atomic, output_dir, outputs, records  # pylint: disable=import-outside-toplevel  # no TensorFlow
    import rdkit  # pylint: disable=import-outside-toplevel

    sources = [config.wheel] + ([config.source] if config.source != "moses" else [])
    if pipeline_args and not config.runner:
        raise ValueError(f"unrecognized arguments: {' '.join(pipeline_args)} (Beam options need --runner)")
    outputs.check_dir(config.out_dir, PREPARE_COMMAND, overwrite, inputs=sources)

    start = time.time()
    if config.source == "moses":
        wheel = moses_wheel(config.wheel, config.cache_dir)
        inputs = read_moses(wheel, config.limit)
    else:
        inputs = [read_source(config.source, config.column, config.limit)]
    names = {inp.split: inp.name for inp in inputs}
    jobs = list(_chunks(inputs, config))
    total = sum(len(inp.items) for inp in inputs)

    kept: Dict[str, List[str]] = {s: [] for s in SPLITS}
    seen: Dict[str, set] = {"train": set(), "test": set()}  # train and validation share one set
    skipped = collections.Counter()
    rdkit_problems = collections.Counter()
    unknown_lines = collections.Counter()
    examples: Dict[str, list] = collections.defaultdict(list)
    tokens: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    paper_misses = collections.Counter()
    kept_lines: Dict[str, List[Tuple[str, int]]] = {s: [] for s in SPLITS}  # (file, line)
    dead_letters: List[dict] = []  # every skipped line, written with a Beam runner

    def reject(file: str, number: int, text: str, kind: str, detail: str) -> None:
        skipped[kind] += 1
        if config.runner:
            dead_letters.append({"file": file, "line": number, "text": text, "kind": kind, "reason": detail})
        if len(examples[kind]) < MAX_EXAMPLES:
            examples[kind].append({"file": file, "line": number, "text": text, "reason": detail})

    for inp in inputs:
        for number, text, reason in inp.malformed:
            reject(inp.name, number, text, "malformed", reason)

    job_inputs = [names[job[0]] for job in jobs]
    # the generator first, so that it runs to its end (closing the pool and the bar) before zip stops
    if config.runner:
        results = _run_jobs_on_beam(jobs, config.runner, pipeline_args)
    else:
        results = _run_jobs(jobs, config.workers, config.progress, total)
    for result, file in zip(results, job_inputs):
        for number, text, kind, detail, symbols in result.rejected:
            reject(file, number, text, kind, detail)
            if kind == "rdkit":
                rdkit_problems[detail.split(":")[0]] += 1
            unknown_lines.update(symbols)
        for number, target, canonical in result.kept:
            group = seen["test" if target == "test" else "train"]
            if canonical in group:
                skipped["duplicate"] += 1
                continue
            group.add(canonical)
            kept[target].append(canonical)
            kept_lines[target].append((file, number))
        for split, counts in result.tokens.items():
            tokens[split].update(counts)
        paper_misses.update(result.paper_misses)
    del seen

    if config.tokenizer == "atom":
        tokenizer = tokenizers.AtomTokenizer.from_counts(tokens["train"])
        # Validation/test lines with a token the train split never has cannot be encoded.
        for split in ("validation", "test"):
            unseen = set(tokens[split]) - set(tokens["train"])
            if not unseen:
                continue
            keep, keep_lines = [], []
            for smiles, (file, number) in zip(kept[split], kept_lines[split]):
                missing = tokenizer.unknown_symbols(smiles)
                if missing:
                    reject(file, number, smiles, "tokenizer",
                           "not in the train vocabulary: " + " ".join(repr(s) for s in missing))
                    unknown_lines.update(missing)
                else:
                    keep.append(smiles)
                    keep_lines.append((file, number))
            kept[split], kept_lines[split] = keep, keep_lines
    else:
        tokenizer = tokenizers.paper_tokenizer()
    del kept_lines

    if not kept["train"]:
        raise ValueError(f"{config.source}: no molecule left for the train split "
                         f"(skipped: {dict(skipped) or 'nothing read'})")
    statistics = rewards.data_statistics(kept["train"], "atom")
    char_statistics = rewards.data_statistics(kept["train"], "char")

    summary = {
        "source": config.source,
        "inputs": [{"file": inp.name, "split": inp.split, "lines": len(inp.items) + len(inp.malformed)}
                   for inp in inputs],
        "tokenizer": config.tokenizer,
        "vocab_size": tokenizer.vocab_size,
        "validation_fraction": config.validation_fraction,
        "seed": config.seed,
        "rdkit_version": rdkit.__version__,
        "lines_read": total + sum(len(inp.malformed) for inp in inputs),
        "splits": {s: {"file": f"{s}.smi.gz", "molecules": len(kept[s])} for s in SPLITS if kept[s]},
        # (with format "tfrecord": "files", the shard names, instead of "file")
        "skipped": {k: skipped.get(k, 0) for k in ("empty", "malformed", "too_long", "rdkit", "round_trip", "tokenizer",
                                                    "duplicate")
                    + (("dead_letter",) if skipped["dead_letter"] else ())},
        "rdkit_problems": dict(rdkit_problems.most_common()),
        "unknown_symbols": dict(unknown_lines.most_common()),
        "paper_vocabulary_misses": dict(paper_misses.most_common()),
        "examples": dict(examples),
        "statistics": statistics,
        "char_statistics": char_statistics,
        "wall_time_s": 0.0,
    }
    if config.runner:  # the one key the default path does not write
        summary["beam"] = {"runner": config.runner, "pipeline_args": list(pipeline_args),
                           "dead_letters": {"file": "dead_letters.jsonl", "lines": len(dead_letters)}}
    owned = [f"{split}.smi.gz" for split in SPLITS] + records.shard_files_of(config.out_dir, SPLITS)  # both formats
    with output_dir.directory(config.out_dir, PREPARE_COMMAND, overwrite, owned=owned) as tmp:
        shard_files = {}
        for split in SPLITS:
            if not kept[split]:
                continue
            if config.format == records.TFRECORD:
                shard_files[split] = records.write_split(tmp, split, [tokenizer.encode(s) for s in kept[split]],
                                                         config.shards, SMILES_FEATURE, kept[split])
                summary["splits"][split] = {"files": shard_files[split], "molecules": len(kept[split])}
            else:
                with gzip.open(os.path.join(tmp, f"{split}.smi.gz"), "wt", compresslevel=6) as f:
                    f.write("\n".join(kept[split]) + "\n")
        if shard_files:
            summary["records"] = records.summary_entry(config.shards, shard_files, SMILES_FEATURE)
        tokenizers.save(tokenizer, os.path.join(tmp, "tokenizer.json"))
        if config.runner:
            with open(os.path.join(tmp, "dead_letters.jsonl"), "w") as f:
                f.writelines(json.dumps(d) + "\n" for d in dead_letters)
        summary["wall_time_s"] = round(time.time() - start, 1)
        atomic.write_json(os.path.join(tmp, "summary.json"), summary)
    if config.verbose:
        print(format_summary(summary, config.out_dir))
    return summary


def format_summary(summary: dict, out_dir: str) -> str:
    """A human-readable report of a :func:`prepare` summary."""
    splits = ", ".join(f"{s} {v['molecules']:,}" for s, v in summary["splits"].items())
    skipped = ", ".join(f"{k} {v:,}" for k, v in summary["skipped"].items())
    st = summary["statistics"]
    lines = [
        f"{summary['source']} -> {out_dir} ({summary['wall_time_s']:.1f} s): read {summary['lines_read']:,} lines",
        f"kept: {splits}",
        f"skipped: {skipped}",
    ]
    if summary["rdkit_problems"]:
        lines.append("RDKit problems: " + ", ".join(f"{k} {v:,}" for k, v in summary["rdkit_problems"].items()))
    if summary["unknown_symbols"]:
        lines.append("symbols outside the vocabulary (lines): " + ", ".join(
            f"{k!r} {v:,}" for k, v in summary["unknown_symbols"].items()))
    if summary["paper_vocabulary_misses"]:
        lines.append("symbols outside the paper's 35 characters (lines): " + ", ".join(
            f"{k!r} {v:,}" for k, v in summary["paper_vocabulary_misses"].items()))
    lines.append(f"{summary['tokenizer']} vocabulary: {summary['vocab_size']} symbols; train length "
                 f"{st['length']['mean']:.2f} +- {st['length']['std']:.2f} atom tokens "
                 f"(min {st['length']['min']}, max {st['length']['max']}), longest C run {st['max_consecutive_c']}")
    if "records" in summary:
        lines.append(f"TFRecord shards: {summary['records']['shards']} per split in {out_dir}")
    if "beam" in summary:
        beam = summary["beam"]
        lines.append(f"Beam {beam['runner']} {' '.join(beam['pipeline_args'])}".rstrip() +
                     f": {beam['dead_letters']['lines']:,} skipped lines in {out_dir}/{beam['dead_letters']['file']}")
    for kind, items in summary["examples"].items():
        for e in items[:3]:
            lines.append(f"  {kind}: {e['file']} line {e['line']}: {e['text']!r} ({e['reason']})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Reading a prepared data set


def load_summary(data_dir: str) -> dict:
    """Reads ``data_dir/summary.json``.

    Raises:
      FileNotFoundError: not a prepared data set (says how to make one). ValueError: a path
      that is not a readable folder or file (said what it is), or a damaged summary.json.
    """
    from rl_tuner.plumbing import file_checks  # pylint: disable=import-outside-toplevel
    check_data_dir(data_dir)
    path = os.path.join(data_dir, "summary.json")
    file_checks.check_path(path, "file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist; build the data set with 'molecules prepare --out {data_dir}'")
    return file_checks.read_json(path, "data set summary")


def data_format(data_dir: str) -> str:
    """The format of a prepared data set: "smi.gz" or "tfrecord" (from the files present;
    "smi.gz" when there are none, so that the loader names the missing file).

    Raises:
      ValueError: the folder holds both .smi.gz splits and TFRecord shards.
    """
    from rl_tuner.plumbing import records  # pylint: disable=import-outside-toplevel
    return records.detect_format(data_dir, NATIVE_FORMAT, [f"{split}.smi.gz" for split in SPLITS])


def split_files(data_dir: str, split: str) -> List[str]:
    """The files holding one split (``split.smi.gz``, or its TFRecord shards in order; [] when
    the data set has no such split): what a training run fingerprints as its data.

    Raises:
      ValueError: both formats in the folder, or a missing shard.
    """
    from rl_tuner.plumbing import records  # pylint: disable=import-outside-toplevel
    if data_format(data_dir) == records.TFRECORD:
        return records.split_files(data_dir, split)
    path = os.path.join(data_dir, f"{split}.smi.gz")
    return [path] if os.path.isfile(path) else []


def load_split(data_dir: str, split: str) -> List[str]:
    """Returns the canonical SMILES of one split of a prepared data set, in either format
    (:func:`data_format`), in the order they were written.

    Raises:
      ValueError: unknown split, both formats in the folder, or a corrupt, truncated or
        missing shard (the message names the file). FileNotFoundError: the split was not
        written.
    """
    from molecules import chem  # pylint: disable=import-outside-toplevel
    from rl_tuner.plumbing import file_checks, records  # pylint: disable=import-outside-toplevel
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
    check_data_dir(data_dir)
    if data_format(data_dir) == records.TFRECORD:
        files = records.split_files(data_dir, split)
        if not files:
            raise FileNotFoundError(f"{data_dir} has no {split} split ({split}-*{records.SUFFIX}); build the data "
                                    f"set with 'molecules prepare --out {data_dir}'")
        smiles = records.read_split(data_dir, split, SMILES_FEATURE)[1]
        for path, (start, stop) in zip(files, records.shard_bounds(len(smiles), len(files))):
            for i in range(start, stop):
                chem.check_length(smiles[i], f"{path} record", i - start + 1)
        return smiles
    path = os.path.join(data_dir, f"{split}.smi.gz")
    file_checks.check_path(path, "file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist; build the data set with 'molecules prepare --out {data_dir}'")
    smiles = []
    with file_checks.text_lines(path) as lines:
        for number, line in lines:
            chem.check_length(line, path, number)
            smiles.append(line)
    return smiles


def check_data_dir(data_dir: str) -> None:
    """Refuses a data-set path that is not a readable folder (a file, FIFO, symbolic-link
    loop, ...: :func:`rl_tuner.plumbing.file_checks.path_problem`); a missing one is left to the
    loaders, which say how to build it.

    Raises:
      ValueError: ``"DIR: it is a file, not a folder; give a folder written by 'molecules prepare'"``.
    """
    from rl_tuner.plumbing import file_checks  # pylint: disable=import-outside-toplevel
    problem = file_checks.path_problem(data_dir, "dir")
    if problem:
        raise ValueError(f"{data_dir}: {problem}; give a folder written by 'molecules prepare'")


def load_tokenizer(data_dir: str):
    """Reads the tokenizer a prepared data set was built with."""
    check_data_dir(data_dir)
    path = os.path.join(data_dir, "tokenizer.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist; build the data set with 'molecules prepare --out {data_dir}'")
    return tokenizers.load(path)
