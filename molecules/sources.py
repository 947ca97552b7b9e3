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
import gzip
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
      FileNotFoundError: ``wheel`` does not exist. ValueError: pip failed (the message
      gives pip's last line and the command to run by hand).
      rl_tuner.outputs.OutputError: ``cache_dir`` lies in a protected folder (a run, a model,
        a data set: :func:`rl_tuner.outputs.check_protected`).
    """
    if wheel is not None:
        if not os.path.isfile(wheel):
            raise FileNotFoundError(f"MOSES wheel {wheel!r} does not exist")
        return wheel
    found = sorted(glob.glob(os.path.join(cache_dir, "molsets-0.3.1-*.whl")))
    if found:
        return found[0]
    from rl_tuner import outputs  # pylint: disable=import-outside-toplevel
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
    """Reads MOSES's train and test CSVs from inside the molsets wheel (no install).

    Raises:
      ValueError: the file is not a zip or lacks the data files (names the wheel).
    """
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{wheel}: not a readable wheel ({e})") from None
    inputs = []
    with archive:
        for split, member in MOSES_MEMBERS.items():
            try:
                data = gzip.decompress(archive.read(member))
            except KeyError:
                raise ValueError(f"{wheel}: has no {member}; is it the molsets 0.3.1 wheel?") from None
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise ValueError(f"{wheel}: cannot read {member} ({e})") from None
            inputs.append(_read_csv_text(_decode(data), f"{os.path.basename(wheel)}!{member}", split,
                                         "SMILES", limit))
    return inputs


def read_source(path: str, column: str = "SMILES", limit: Optional[int] = None) -> Input:
    """Reads a .smi or .csv file (optionally gzipped) of SMILES.

    A ``.csv`` (or ``.tsv``) file needs a header with ``column``; any other file is read as
    SMILES lines whose first whitespace-separated field is the SMILES (a first line
    ``smiles`` is taken as a header). Blank lines are kept as empty SMILES (counted later).

    Raises:
      FileNotFoundError: no such file. ValueError: a CSV without ``column`` (the message lists
      the columns it has).
    """
    if os.path.isdir(path):
        raise ValueError(f"SMILES source {path!r} is a directory; give a .smi/.csv file (or 'moses')")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"SMILES source {path!r} does not exist (use 'moses' or a .smi/.csv file)")
    with open(path, "rb") as f:
        data = f.read()
    name = path
    base = path[:-3] if path.endswith(".gz") else path
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: not a readable gzip file ({e})") from None
    text = _decode(data)
    if base.lower().endswith((".csv", ".tsv")):
        return _read_csv_text(text, name, "train", column, limit, delimiter="\t" if base.lower().endswith(".tsv") else ",")
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        smiles = fields[0] if fields else ""
        if number == 1 and smiles.lower() == "smiles":
            continue
        items.append((number, smiles))
        if limit is not None and len(items) >= limit:
            break
    return Input(name, "train", items)


def _decode(data: bytes) -> str:
    # Undecodable bytes become U+FFFD and the line is then rejected by RDKit (counted).
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _read_csv_text(text: str, name: str, split: str, column: str, limit: Optional[int],
                   delimiter: str = ",") -> Input:
    lines = text.splitlines()
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{name}: empty CSV file (expected a header with a {column!r} column)") from None
    lowered = [h.strip().lower() for h in header]
    if column.lower() not in lowered:
        raise ValueError(f"{name}: no column {column!r}; columns: {', '.join(header) or '(none)'}")
    index = lowered.index(column.lower())
    out = Input(name, split, [])
    for number, row in enumerate(reader, start=2):  # csv.reader over lines: row i is line i
        if not row:
            out.items.append((number, ""))
        elif len(row) <= index:
            out.malformed.append((number, delimiter.join(row), f"no {column!r} field"))
        else:
            out.items.append((number, row[index].strip()))
        if limit is not None and len(out.items) + len(out.malformed) >= limit:
            break
    return out
