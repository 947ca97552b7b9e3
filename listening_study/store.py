"""The listening study's SQLite database: the study, its clips, the pairs handed out, the ratings.

One file holds everything (the WAV audio too), so a study survives a restart of the server
and moves as one file. Every change is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``)
through parameterised queries, in WAL mode with ``synchronous=FULL``: a rating whose request
was answered is on disk, and a server killed (even with ``kill -9``) mid-write leaves the
database without that rating, never half of one.

Tables:
  study(key, value): ``models`` (JSON {name: path}), ``num_per_model`` and the sampling settings.
  clips(id, model, idx, tokens, wav): a rendered melody; ``id`` is a random token (the
    only name a rater's browser sees).
  pairs(id, rater, clip_a, clip_b, clip_lo, clip_hi, handed_out): a pair handed to a rater
    (A and B in the order shown; ``clip_lo`` <= ``clip_hi`` the unordered pair, unique per rater).
  ratings(pair, rater, answer, time): one answer per pair, on :data:`LIKERT` (-2..2).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import random
import secrets
import sqlite3
import urllib.parse

from rl_tuner.plumbing import file_checks
from listening_study import schedule

# The Likert scale: (answer stored, label shown). Negative prefers A, positive prefers B.
LIKERT = ((-2, "A much better"), (-1, "A slightly better"), (0, "About the same"), (1, "B slightly better"),
          (2, "B much better"))
ANSWERS = tuple(value for value, _ in LIKERT)

SCHEMA = """
CREATE TABLE IF NOT EXISTS study (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clips (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, idx INTEGER NOT NULL, tokens TEXT NOT NULL, wav BLOB NOT NULL,
    UNIQUE (model, idx));
CREATE TABLE IF NOT EXISTS pairs (
    id TEXT PRIMARY KEY, rater TEXT NOT NULL,
    clip_a TEXT NOT NULL REFERENCES clips (id), clip_b TEXT NOT NULL REFERENCES clips (id),
    clip_lo TEXT NOT NULL, clip_hi TEXT NOT NULL, handed_out TEXT NOT NULL,
    UNIQUE (rater, clip_lo, clip_hi));
CREATE TABLE IF NOT EXISTS ratings (
    pair TEXT PRIMARY KEY REFERENCES pairs (id), rater TEXT NOT NULL,
    answer INTEGER NOT NULL CHECK (answer BETWEEN -2 AND 2), time TEXT NOT NULL);
"""

# The ratings with their models, in the order they were given (the report's input and CSV).
RATINGS_QUERY = """
SELECT r.rater, r.pair, ca.model, cb.model, ca.idx, cb.idx, r.answer, p.handed_out, r.time
FROM ratings r JOIN pairs p ON p.id = r.pair JOIN clips ca ON ca.id = p.clip_a JOIN clips cb ON cb.id = p.clip_b
ORDER BY r.time, r.rowid
"""
TABLES = {"study", "clips", "pairs", "ratings"}  # the tables of SCHEMA

RATING_COLUMNS = ("rater", "pair", "model_a", "model_b", "melody_a", "melody_b", "answer", "handed_out", "time")


class RatingError(ValueError):
    """A submission the server refuses (unknown pair, a pair already rated, a bad answer)."""


def now() -> str:
    """The current UTC time as ISO 8601 with microseconds (how times are stored)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def new_token() -> str:
    """A random URL-safe token (128 bits): rater, pair and clip ids."""
    return secrets.token_urlsafe(16)


class Store:
    """The study database at ``path`` (created with its tables if missing, unless ``create``
    is False: then it must hold a study's tables, and nothing is written to it here).

    A Store opens one connection per call, so one object serves a threaded web server. With
    ``create=False``, a study that SQLite cannot open normally (a WAL database needs its
    ``-shm`` file, which a read-only folder cannot hold) is read as an immutable snapshot,
    provided no ``-wal`` file holds changes not yet merged into it.

    Raises:
      ValueError: naming ``path`` if it is not an SQLite database of this tool (the file is
        left unchanged), or, with ``create=False``, holds no study.
      OSError: naming ``path`` if it cannot be opened.
      IsADirectoryError: if ``path`` is a folder.
    """

    def __init__(self, path: str, create: bool = True):
        self.path = path
        self._snapshot = None  # the read-only URI used when the file cannot be opened normally
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path}: is a directory, not a database file")
        file_checks.check_path(path, "file")  # a FIFO, a link loop, a dangling link: said what it is
        tables = self._check_tables(create) if os.path.exists(path) else set()  # reads only: nothing is written
        if not create:
            if "study" not in tables:
                raise ValueError(f"{path}: holds no listening study")
            return
        try:
            with self._connect() as db:
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{path}: not a listening-study database ({e})") from None

    def _check_tables(self, create: bool) -> set:
        """The tables of the existing file at ``path``, read without writing anything (no WAL
        switch, no schema), so that a file of something else is refused unchanged.

        Raises:
          ValueError: if the file is not SQLite, or holds tables other than this tool's (or a
            ``study`` table of another shape).
          OSError: if it cannot be opened (and, without ``create``, not read as a snapshot).
        """
        def read():
            with contextlib.closing(self._open()) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                return tables, [row[1] for row in db.execute("PRAGMA table_info(study)")]
        try:
            try:
                tables, study_columns = read()
            except sqlite3.OperationalError as e:
                wal = self.path + "-wal"
                if create or (os.path.exists(wal) and os.path.getsize(wal) > 0):
                    raise OSError(f"{self.path}: cannot open the database ({e})"
                                  + ("" if create else f"; {wal} holds changes not yet merged into it: copy both "
                                     "files to a folder you can write to")) from None
                self._snapshot = f"file:{urllib.parse.quote(os.path.abspath(self.path))}?immutable=1"
                tables, study_columns = read()
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{self.path}: not a listening-study database ({e})") from None
        if tables and ("study" not in tables or not tables <= TABLES or study_columns != ["key", "value"]):
            raise ValueError(f"{self.path}: an SQLite database of something else (tables: "
                             f"{', '.join(sorted(tables)[:4])}); give a new --db file")
        return tables

    def _open(self) -> sqlite3.Connection:
        """A new connection to the file (or to its read-only snapshot), in autocommit mode."""
        if self._snapshot:
            return sqlite3.connect(self._snapshot, uri=True, isolation_level=None)
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    @contextlib.contextmanager
    def _connect(self, write: bool = False):
        """Yields a connection; with ``write`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT``
        (rolled back on any exception)."""
        if self._snapshot:
            if write:
                raise OSError(f"{self.path}: opened read-only")
            with contextlib.closing(self._open()) as db:
                yield db
            return
        try:
            db = self._open()
        except sqlite3.OperationalError as e:
            raise OSError(f"{self.path}: cannot open the database ({e})") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            if not write:
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # --- the study ------------------------------------------------------------------------
    def study(self) -> dict | None:
        """The study settings ({"models": {name: path}, "num_per_model": N, ...}) or None."""
        with self._connect() as db:
            rows = dict(db.execute("SELECT key, value FROM study").fetchall())
        return {k: json.loads(v) for k, v in rows.items()} or None

    def create_study(self, settings: dict, clips: dict) -> None:
        """Stores a new study and its clips in one transaction.

        Args:
          settings: JSON-able settings; must hold "models" ({name: path}) and "num_per_model".
          clips: {model name: [(tokens list of int, WAV bytes), ...]} in sampling order.

        Raises:
          ValueError: if the database already holds a study.
        """
        with self._connect(write=True) as db:
            if db.execute("SELECT COUNT(*) FROM study").fetchone()[0]:
                raise ValueError(f"{self.path} already holds a study")
            db.executemany("INSERT INTO study (key, value) VALUES (?, ?)",
                           [(k, json.dumps(v)) for k, v in settings.items()])
            db.executemany("INSERT INTO clips (id, model, idx, tokens, wav) VALUES (?, ?, ?, ?, ?)",
                           [(new_token(), model, i, json.dumps([int(t) for t in tokens]), sqlite3.Binary(wav))
                            for model, items in clips.items() for i, (tokens, wav) in enumerate(items)])

    def clips(self) -> dict[str, list[str]]:
        """{model name: [clip id, ...] in sampling order}."""
        out: dict[str, list[str]] = {}
        with self._connect() as db:
            for clip, model in db.execute("SELECT id, model FROM clips ORDER BY model, idx"):
                out.setdefault(model, []).append(clip)
        return out

    def wav(self, clip: str) -> bytes | None:
        """The WAV bytes of a clip, or None for an unknown id."""
        with self._connect() as db:
            row = db.execute("SELECT wav FROM clips WHERE id = ?", (clip,)).fetchone()
        return None if row is None else bytes(row[0])

    # --- pairs and ratings ----------------------------------------------------------------
    def next_pair(self, rater: str, rng: random.Random | None = None) -> dict | None:
        """The pair this rater should rate now: the one handed out and not yet rated, else a
        new one chosen by :func:`listening_study.schedule.choose_pair` (stored in the same
        transaction). Returns {"id", "clip_a", "clip_b", "number" (1-based count of this
        rater's pairs), "total" (how many different pairs one rater can hear: every clip of
        a model with every clip of each other model)} or None when the rater has heard every
        pair."""
        rng = rng or random.Random(secrets.randbits(64))
        with self._connect(write=True) as db:
            pending = db.execute(
                "SELECT p.id, p.clip_a, p.clip_b FROM pairs p LEFT JOIN ratings r ON r.pair = p.id "
                "WHERE p.rater = ? AND r.pair IS NULL ORDER BY p.handed_out LIMIT 1", (rater,)).fetchone()
            done = db.execute("SELECT COUNT(*) FROM ratings WHERE rater = ?", (rater,)).fetchone()[0]
            sizes = [n for (n,) in db.execute("SELECT COUNT(*) FROM clips GROUP BY model")]
            total = (sum(sizes) ** 2 - sum(n * n for n in sizes)) // 2
            if pending:
                return {"id": pending[0], "clip_a": pending[1], "clip_b": pending[2], "number": done + 1,
                        "total": total}
            clips: dict[str, list[str]] = {}
            model_of = {}
            for clip, model in db.execute("SELECT id, model FROM clips ORDER BY model, idx"):
                clips.setdefault(model, []).append(clip)
                model_of[clip] = model
            heard, rater_counts, total_counts, uses = set(), {}, {}, {}
            for who, a, b in db.execute("SELECT rater, clip_a, clip_b FROM pairs"):
                mp = schedule.model_pair(model_of[a], model_of[b])
                total_counts[mp] = total_counts.get(mp, 0) + 1
                uses[a], uses[b] = uses.get(a, 0) + 1, uses.get(b, 0) + 1
                if who == rater:
                    heard.add(schedule.clip_pair(a, b))
                    rater_counts[mp] = rater_counts.get(mp, 0) + 1
            chosen = schedule.choose_pair(clips, heard, rater_counts, total_counts, uses, rng)
            if chosen is None:
                return None
            pair = new_token()
            lo, hi = schedule.clip_pair(*chosen)
            db.execute("INSERT INTO pairs (id, rater, clip_a, clip_b, clip_lo, clip_hi, handed_out) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", (pair, rater, chosen[0], chosen[1], lo, hi, now()))
        return {"id": pair, "clip_a": chosen[0], "clip_b": chosen[1], "number": done + 1, "total": total}

    def rate(self, rater: str, pair: str, answer) -> None:
        """Stores one answer, in one transaction.

        Args:
          rater: the rater's token (from the cookie).
          pair: the id of a pair handed to this rater.
          answer: one of :data:`ANSWERS` (an int or its decimal string).

        Raises:
          RatingError: for an answer not on the scale, a pair not handed to this rater, or a
            pair already rated; the database is unchanged.
        """
        try:
            value = int(str(answer).strip())
        except ValueError:
            value = None
        if value not in ANSWERS:
            raise RatingError(f"answer must be one of {', '.join(map(str, ANSWERS))}, got {str(answer)[:40]!r}")
        with self._connect(write=True) as db:
            row = db.execute("SELECT rater FROM pairs WHERE id = ?", (pair,)).fetchone()
            if row is None or row[0] != rater:
                raise RatingError(f"unknown pair {str(pair)[:40]!r}: the server did not hand it to you")
            if db.execute("SELECT 1 FROM ratings WHERE pair = ?", (pair,)).fetchone():
                raise RatingError("this pair was already rated; your first answer stands")
            db.execute("INSERT INTO ratings (pair, rater, answer, time) VALUES (?, ?, ?, ?)",
                       (pair, rater, value, now()))

    def ratings(self) -> list[dict]:
        """Every rating with its models ({column of :data:`RATING_COLUMNS`: value}), oldest first."""
        with self._connect() as db:
            return [dict(zip(RATING_COLUMNS, row)) for row in db.execute(RATINGS_QUERY)]

    def count(self, table: str) -> int:
        """Rows in ``table`` (one of "clips", "pairs", "ratings")."""
        if table not in ("clips", "pairs", "ratings"):
            raise ValueError(f"unknown table {table!r}")
        with self._connect() as db:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def open_existing(path: str) -> Store:
    """The study database at ``path`` for reading (``listen-report``).

    Raises:
      FileNotFoundError: if there is no such file.
      ValueError: if it is not a study database or holds no study.
    """
    file_checks.check_path(path, "file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such database (run `rl-tuner listen --db {path}` first)")
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise ValueError(f"{path}: not an SQLite database")
    store = Store(path, create=False)  # reads only
    if store.study() is None:
        raise ValueError(f"{path}: holds no listening study")
    return store
