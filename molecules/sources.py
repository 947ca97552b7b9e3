"""The inputs of ``molecules prepare``: the MOSES training and test sets read from inside the
``molsets==0.3.1`` wheel, or one ``.smi``/``.csv`` file, as numbered SMILES lines.

The wheel is fetched with ``pip download --no-deps`` into a cache folder (molsets is never
installed: it pulls torch and an old pomegranate) and read with :mod:`zipfile`; nothing else
downloads. Lines without a SMILES field are kept aside as ``malformed`` with the reason, so
that :mod:`molecules.data` counts and reports them.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import os
import subprocess
import sys
import zipfile
from typing import List, Optional, Tuple

MOSES_REQUIREMENT = "molsets==0.3.1"
MOSES_MEMBERS = {"train": "moses/dataset/data/train.csv.gz", "test": "moses/dataset/data/test.csv.gz"}


@dataclasses.dataclass
class Input:
    """One input file: its lines as (line number, SMILES text) and the split it feeds.

    Attributes:
      name: the file as named in messages (``wheel!member`` for MOSES).
      split: "train" (divided into train and validation) or "test".
      items: (line number in the file, SMILES text) per data line.
      malformed: (line number, text, reason) of lines that have no SMILES field.
    """

    name: str
    split: str
    items: List[Tuple[int, str]]
    malformed: List[Tuple[int, str, str]] = dataclasses.field(default_factory=list)


def moses_wheel(wheel: Optional[str], cache_dir: str) -> str:
    """Finds the molsets 0.3.1 wheel, downloading it with pip when needed.

    Args:
      wheel: an explicit wheel path, or None.
      cache_dir: folder searched for ``molsets-0.3.1-*.whl`` and downloaded to.

    Returns:
      The wheel's path.

    Raises:
      FileNotFoundError: ``wheel`` does not exist. ValueError: ``wheel`` is not a readable
      file (:func:`rl_tuner.plumbing.file_checks.path_problem`), or pip failed (the message gives
      pip's last line and the command to run by hand).
      rl_tuner.plumbing.outputs.OutputError: ``cache_dir`` lies in a protected folder (a run, a model,
        a data set: :func:`rl_tuner.plumbing.outputs.check_protected`).
    """
    if wheel is not None:
        from rl_tuner.plumbing import file_checks  # pylint: disable=import-outside-toplevel
        file_checks.check_path(wheel, "file")
        if not os.path.isfile(wheel):
            raise FileNotFoundError(f"MOSES wheel {wheel!r} does not exist")
        return wheel
    found = sorted(glob.glob(os.path.join(cache_dir, "molsets-0.3.1-*.whl")))
    if found:
        return found[0]
    from rl_tuner.plumbing import outputs  # pylint: disable=import-outside-toplevel
    outputs.check_protected(cache_dir, flag="--cache-dir")  # never into a run, a model or a data set
    os.makedirs(cache_dir, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", MOSES_REQUIREMENT, "--no-deps", "-d", cache_dir]
    print(f"downloading {MOSES_REQUIREMENT} into {cache_dir} (pip download --no-deps)", file=sys.stderr)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = sorted(glob.glob(os.path.join(cache_dir, "molsets-0.3.1-*.whl")))
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        raise ValueError(f"could not download {MOSES_REQUIREMENT} ({last}); run "
                         f"'pip download {MOSES_REQUIREMENT} --no-deps -d {cache_dir}' or pass --wheel PATH")
    return found[0]


def read_moses(wheel: str, limit: Optional[int] = None) -> List[Input]:
    """Reads MOSES's train and test CSVs from inside the molsets wheel (no install), streaming
    each gzipped member (:func:`rl_tuner.plumbing.file_checks.text_lines`: at most
    ``MAX_DECOMPRESSED_BYTES`` decompressed, lines of at most ``MAX_LINE_CHARS``).

    Raises:
      ValueError: the file is not a zip, lacks the data files or holds a damaged or
        over-large member (names the wheel and member).
    """
    from rl_tuner.plumbing import file_checks  # pylint: disable=import-outside-toplevel
    file_checks.check_path(wheel, "file")
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{wheel}: not a readable wheel ({e})") from None
    inputs = []
    with archive:
        for split, member in MOSES_MEMBERS.items():
            name = f"{os.path.basename(wheel)}!{member}"
            try:
                stream = archive.open(member)
            except KeyError:
                raise ValueError(f"{wheel}: has no {member}; is it the molsets 0.3.1 wheel?") from None
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise ValueError(f"{wheel}: cannot read {member} ({e})") from None
            with stream, file_checks.text_lines(member, name=name, stream=stream, compressed=True) as lines:
                inputs.append(_read_csv_lines(lines, name, split, "SMILES", limit))
    return inputs


def read_source(path: str, column: str = "SMILES", limit: Optional[int] = None) -> Input:
    """Reads a .smi or .csv file (optionally gzipped) of SMILES, streaming it
    (:func:`rl_tuner.plumbing.file_checks.text_lines`).

    A ``.csv`` (or ``.tsv``) file needs a header with ``column``; any other file is read as
    SMILES lines whose first whitespace-separated field is the SMILES (a first line
    ``smiles`` is taken as a header). Blank lines are kept as empty SMILES (counted later).
    A SMILES longer than ``molecules.chem.MAX_SMILES_CHARS`` is kept here and skipped as
    ``too_long`` by :mod:`molecules.data`.

    Raises:
      FileNotFoundError: no such file. ValueError: a path that is not a readable file (a
      directory, FIFO, socket, device, symbolic-link loop or dangling link: said so), a
      damaged gzip file or one expanding beyond ``MAX_DECOMPRESSED_BYTES``, a line longer
      than ``MAX_LINE_CHARS`` (file and line named), or a CSV without ``column`` (the
      message lists a few of its columns).
    """
    from rl_tuner.plumbing import file_checks  # pylint: disable=import-outside-toplevel
    problem = file_checks.path_problem(path, "file")
    if problem:
        raise ValueError(f"SMILES source {path}: {problem}; give a .smi/.csv file (or 'moses')")
    if not os.path.lexists(path):
        raise FileNotFoundError(f"SMILES source {path!r} does not exist (use 'moses' or a .smi/.csv file)")
    base = path[:-3] if path.endswith(".gz") else path
    with file_checks.text_lines(path) as lines:
        if base.lower().endswith((".csv", ".tsv")):
            return _read_csv_lines(lines, path, "train", column, limit,
                                   delimiter="\t" if base.lower().endswith(".tsv") else ",")
        items = []
        for number, line in lines:
            fields = line.split()
            smiles = fields[0] if fields else ""
            if number == 1 and smiles.lower() == "smiles":
                continue
            items.append((number, smiles))
            if limit is not None and len(items) >= limit:
                break
    return Input(path, "train", items)


def _read_csv_lines(lines, name: str, split: str, column: str, limit: Optional[int], delimiter: str = ",") -> Input:
    """The SMILES column of CSV lines ((number, text) pairs of ``text_lines``)."""
    from rl_tuner.plumbing import file_checks  # pylint: disable=import-outside-toplevel
    if csv.field_size_limit() < file_checks.MAX_LINE_CHARS:  # 131,072 by default; lines are capped anyway
        csv.field_size_limit(file_checks.MAX_LINE_CHARS)
    where = [0]  # the number of the line the reader took last

    def feed():
        for number, line in lines:
            where[0] = number
            yield line

    reader = csv.reader(feed(), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{name}: empty CSV file (expected a header with a {column!r} column)") from None
    except csv.Error as e:
        raise ValueError(f"{name} line {where[0]}: not a CSV header ({e})") from None
    lowered = [h.strip().lower() for h in header]
    if column.lower() not in lowered:
        shown = file_checks.some_of(header) if header else "(none)"
        raise ValueError(f"{name}: no column {column!r}; columns: {shown}")
    index = lowered.index(column.lower())
    out = Input(name, split, [])
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise ValueError(f"{name} line {where[0]}: not a CSV row ({e})") from None
        number = where[0]
        if not row:
            out.items.append((number, ""))
        elif len(row) <= index:
            out.malformed.append((number, delimiter.join(row), f"no {column!r} field"))
        else:
            out.items.append((number, row[index].strip()))
        if limit is not None and len(out.items) + len(out.malformed) >= limit:
            break
    return out
