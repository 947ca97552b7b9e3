"""The listening study (listening_study): pair scheduling, the SQLite store, the web page's
input validation through Flask's test client, the report against SciPy and by hand, and the
``listen``/``listen-report`` commands. The browser and kill -9 tests are in
tests/test_listening_server.py."""

import csv
import itertools
import json
import os
import random
import re
import sqlite3
from collections import Counter

import pytest
from scipy import stats

from listening_study import report, schedule
from listening_study.store import RatingError, Store, open_existing
from rl_tuner import cli

MODELS = ("mle", "q", "psi")


def make_study(path, models=MODELS, num=2):
    """A study with ``num`` fake clips per model (a 4-byte stand-in for each WAV)."""
    store = Store(str(path))
    store.create_study({"models": {m: f"/models/{m}" for m in models}, "num_per_model": num, "length": 32,
                        "temperature": 1.0, "seed": 0, "qpm": 80.0},
                       {m: [([2 + i] * 32, b"RIFF" + bytes([k, i])) for i in range(num)] for k, m in enumerate(models)})
    return store


# --- scheduling ---------------------------------------------------------------------------

def simulate(clips, raters, per_rater, seed=0):
    """Hands out pairs as the store does; returns {rater: [(clip A, clip B), ...]}."""
    rng = random.Random(seed)
    model_of = {c: m for m, cs in clips.items() for c in cs}
    total, uses, handed = Counter(), Counter(), {r: [] for r in range(raters)}
    for _ in range(per_rater):
        for r in range(raters):
            mine = handed[r]
            heard = {schedule.clip_pair(a, b) for a, b in mine}
            counts = Counter(schedule.model_pair(model_of[a], model_of[b]) for a, b in mine)
            pair = schedule.choose_pair(clips, heard, counts, total, uses, rng)
            if pair is None:
                continue
            mine.append(pair)
            total[schedule.model_pair(model_of[pair[0]], model_of[pair[1]])] += 1
            uses.update(pair)
    return handed, model_of


def test_every_model_pair_equally_often_and_no_rater_hears_a_pair_twice():
    clips = {m: [f"{m}{i}" for i in range(3)] for m in ("a", "b", "c", "d")}
    rounds = 4  # 4 rounds of the 6 model pairs per rater
    handed, model_of = simulate(clips, raters=5, per_rater=6 * rounds)
    for pairs in handed.values():
        assert len(pairs) == 24
        assert len({schedule.clip_pair(a, b) for a, b in pairs}) == 24  # no repeat, in either order
        assert all(model_of[a] != model_of[b] for a, b in pairs)
        for k in range(1, 25):  # a rater's model pairs never differ by more than one
            counts = Counter(schedule.model_pair(model_of[a], model_of[b]) for a, b in pairs[:k])
            values = [counts[mp] for mp in schedule.model_pairs(list(clips))]
            assert max(values) - min(values) <= 1
        assert set(Counter(schedule.model_pair(model_of[a], model_of[b]) for a, b in pairs).values()) == {rounds}
    comparisons = Counter(model_of[c] for pairs in handed.values() for pair in pairs for c in pair)
    assert comparisons == {m: 5 * 24 * 2 // 4 for m in clips}  # every model in 60 comparisons
    sides = Counter(model_of[a] for pairs in handed.values() for a, _ in pairs)
    assert all(15 <= sides[m] <= 45 for m in clips)  # A/B order is random (60 comparisons each)
    uses = Counter(c for pairs in handed.values() for pair in pairs for c in pair)
    assert max(uses.values()) - min(uses.values()) <= 2  # all melodies are heard about as often


def test_a_rater_hears_every_pair_once_then_none():
    clips = {"a": ["a0", "a1"], "b": ["b0", "b1"], "c": ["c0"]}
    total = 2 * 2 + 2 * 1 + 2 * 1  # a-b, a-c, b-c
    handed, _ = simulate(clips, raters=1, per_rater=total + 3)
    assert len(handed[0]) == total
    assert {schedule.clip_pair(a, b) for a, b in handed[0]} == {
        schedule.clip_pair(x, y) for m, n in itertools.combinations(clips, 2) for x in clips[m] for y in clips[n]}


# --- the store ----------------------------------------------------------------------------

def test_store_round_trip_and_restart(tmp_path):
    store = make_study(tmp_path / "s.sqlite")
    pair = store.next_pair("r1", random.Random(0))
    assert store.next_pair("r1") == pair  # an unanswered pair is handed out again, not a new one
    assert pair["number"] == 1 and pair["total"] == 12  # 3 model pairs x 2 x 2 clips
    store.rate("r1", pair["id"], "2")
    again = Store(str(tmp_path / "s.sqlite"))  # a new server process on the same file
    assert again.study()["models"] == {m: f"/models/{m}" for m in MODELS}
    (row,) = again.ratings()
    a, b = (again.wav(pair["clip_a"]), again.wav(pair["clip_b"]))
    assert a[:4] == b"RIFF" and b[:4] == b"RIFF"
    assert (row["rater"], row["pair"], row["answer"]) == ("r1", pair["id"], 2)
    assert MODELS[a[4]] == row["model_a"] and MODELS[b[4]] == row["model_b"]
    assert row["model_a"] != row["model_b"]
    assert again.next_pair("r1")["number"] == 2 and again.next_pair("r1")["total"] == 12
    with pytest.raises(ValueError, match="already holds a study"):
        make_study(tmp_path / "s.sqlite")


def snapshot(path):
    with sqlite3.connect(path) as db:
        return [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("pairs", "ratings")]


@pytest.mark.parametrize("rater,pair,answer,message", [
    ("r1", "PAIR", "3", r"answer must be one of -2, -1, 0, 1, 2, got '3'"),
    ("r1", "PAIR", "", r"answer must be one of .*, got ''"),
    ("r1", "PAIR", "1.5", r"answer must be one of .*, got '1.5'"),
    ("r1", "nope", "1", r"unknown pair 'nope': the server did not hand it to you"),
    ("r2", "PAIR", "1", r"unknown pair .*: the server did not hand it to you"),  # another rater's pair
])
def test_bad_submissions_are_refused_and_change_nothing(tmp_path, rater, pair, answer, message):
    store = make_study(tmp_path / "s.sqlite")
    handed = store.next_pair("r1")["id"]
    before = snapshot(store.path)
    with pytest.raises(RatingError, match=message):
        store.rate(rater, handed if pair == "PAIR" else pair, answer)
    assert snapshot(store.path) == before


def test_a_repeated_submission_is_refused_and_the_first_answer_stands(tmp_path):
    store = make_study(tmp_path / "s.sqlite")
    pair = store.next_pair("r1")["id"]
    store.rate("r1", pair, -1)
    before = snapshot(store.path)
    with pytest.raises(RatingError, match="this pair was already rated; your first answer stands"):
        store.rate("r1", pair, 2)
    assert snapshot(store.path) == before
    assert [r["answer"] for r in store.ratings()] == [-1]


def test_foreign_files_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE accounts (x)")
    with pytest.raises(ValueError, match=r"other.sqlite: an SQLite database of something else \(tables: accounts\)"):
        Store(str(other))
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, just some text\n" * 10)
    with pytest.raises(ValueError, match=r"notes.txt: not a listening-study database"):
        Store(str(text))
    assert text.read_text().startswith("not a database")
    with pytest.raises(ValueError, match=r"notes.txt: not an SQLite database"):
        open_existing(str(text))
    with pytest.raises(FileNotFoundError, match=r"missing.sqlite: no such database"):
        open_existing(str(tmp_path / "missing.sqlite"))
    Store(str(tmp_path / "empty.sqlite"))
    with pytest.raises(ValueError, match=r"empty.sqlite: holds no listening study"):
        open_existing(str(tmp_path / "empty.sqlite"))


def test_foreign_sqlite_files_are_refused_unchanged(tmp_path):
    """A user's database is read, never written: no WAL switch, no tables added (also for a
    table that happens to be called ``study``, and for ``listen-report`` on a database without
    tables)."""
    import contextlib
    mine, other, empty = tmp_path / "mine.sqlite", tmp_path / "other.sqlite", tmp_path / "empty.sqlite"
    for path, sql in ((mine, "CREATE TABLE study (id INTEGER, subject TEXT)"), (other, "CREATE TABLE accounts (x)"),
                      (empty, "PRAGMA user_version = 3")):
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(sql)
            db.commit()
    before = {path: path.read_bytes() for path in (mine, other, empty)}
    for path, tables in ((mine, "study"), (other, "accounts")):
        message = rf"{path.name}: an SQLite database of something else \(tables: {tables}\); give a new --db file"
        with pytest.raises(ValueError, match=message):
            Store(str(path))
        with pytest.raises(ValueError, match=message):
            open_existing(str(path))
        with pytest.raises(ValueError, match=message):
            cli.main(["listen-report", "--db", str(path), "--out", str(tmp_path / "report")])
    with pytest.raises(ValueError, match=r"empty.sqlite: holds no listening study"):
        open_existing(str(empty))
    with pytest.raises(ValueError, match=r"empty.sqlite: holds no listening study"):
        cli.main(["listen-report", "--db", str(empty), "--out", str(tmp_path / "report")])
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(os.listdir(tmp_path)) == ["empty.sqlite", "mine.sqlite", "other.sqlite"]


# --- the web page (Flask test client) -----------------------------------------------------

@pytest.fixture
def client(tmp_path):
    from listening_study.app import create_app
    store = make_study(tmp_path / "s.sqlite")
    return store, create_app(store).test_client()


def current_pair(store, client):
    html = client.get("/").get_data(as_text=True)
    rater = client.get_cookie("rater").value
    pair = store.next_pair(rater)
    assert f'name="pair" value="{pair["id"]}"' in html
    return rater, pair, html


def test_page_hides_model_names_and_serves_the_audio(tmp_path):
    from listening_study.app import create_app
    names = ("NoteRnnBaseline", "QTunedModel", "PsiTunedModel")
    store = make_study(tmp_path / "s.sqlite", models=names)
    c = create_app(store).test_client()
    rater, pair, html = current_pair(store, c)
    for name in names + ("/models/",):
        assert name not in html
    for label in ("A much better", "About the same", "B much better"):
        assert label in html
    assert f'src="/audio/{pair["clip_a"]}.wav"' in html and f'src="/audio/{pair["clip_b"]}.wav"' in html
    response = c.get(f"/audio/{pair['clip_a']}.wav")
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.data == store.wav(pair["clip_a"])
    assert c.get("/audio/unknown.wav").status_code == 404
    assert c.get("/static/style.css").status_code == 200


def test_page_rates_and_refuses_bad_posts(client):
    store, c = client
    rater, pair, _ = current_pair(store, c)
    response = c.post("/rate", data={"pair": pair["id"], "answer": "7"})
    assert response.status_code == 400
    assert "Not saved: answer must be one of -2, -1, 0, 1, 2, got &#39;7&#39;" in response.get_data(as_text=True)
    assert store.count("ratings") == 0
    response = c.post("/rate", data={"pair": pair["id"], "answer": "-2"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    response = c.post("/rate", data={"pair": pair["id"], "answer": "1"})
    assert response.status_code == 400 and "already rated" in response.get_data(as_text=True)
    assert [(r["rater"], r["answer"]) for r in store.ratings()] == [(rater, -2)]
    assert "Pair 2 of 12 (stop whenever you like)" in c.get("/").get_data(as_text=True)
    from listening_study.app import create_app
    fresh = create_app(store).test_client()  # no cookie yet
    response = fresh.post("/rate", data={"pair": pair["id"], "answer": "1"})
    assert response.status_code == 400 and "no rater cookie" in response.get_data(as_text=True)
    assert store.count("ratings") == 1


class _Body:
    """A request body that claims ``size`` bytes and counts what the server reads of it."""

    def __init__(self, size):
        self.size, self.position, self.read_bytes = size, 0, 0

    def tell(self):  # the test client measures the body with tell and seek
        return self.position

    def seek(self, offset, whence=0):
        self.position = self.size + offset if whence == 2 else offset

    def read(self, n=-1):
        n = self.size - self.position if n is None or n < 0 else min(n, self.size - self.position)
        self.position += n
        self.read_bytes += n
        return b"a" * n

    def readline(self, n=-1):
        return self.read(n if n is not None and n >= 0 else 65536)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_rate_refuses_a_large_body_before_reading_it(client, content_type):
    """A 200 MB POST /rate is answered 413 from its Content-Length: nothing of it is read (so
    nothing is spooled to a temporary file) and nothing is stored; a rating still fits."""
    from listening_study.app import MAX_REQUEST_BYTES
    store, c = client
    rater, pair, _ = current_pair(store, c)
    body = _Body(200 * 2**20)
    response = c.post("/rate", input_stream=body, content_length=body.size, content_type=content_type)
    assert response.status_code == 413
    assert body.read_bytes == 0
    assert (f"Not saved: the request is larger than the {MAX_REQUEST_BYTES} bytes a rating needs "
            f"({200 * 2**20} bytes)") in response.get_data(as_text=True)
    assert store.count("ratings") == 0
    padded = {"pair": pair["id"], "answer": "1", "pad": "x" * (MAX_REQUEST_BYTES - 100)}  # just under the limit
    assert c.post("/rate", data=padded).status_code == 303
    assert [(r["rater"], r["answer"]) for r in store.ratings()] == [(rater, 1)]


def test_a_rater_who_heard_everything_is_thanked(tmp_path):
    from listening_study.app import create_app
    store = make_study(tmp_path / "s.sqlite", models=("a", "b"), num=1)
    c = create_app(store).test_client()
    rater, pair, _ = current_pair(store, c)
    assert c.post("/rate", data={"pair": pair["id"], "answer": "0"}).status_code == 303
    assert "You have rated every pair. Thank you!" in c.get("/").get_data(as_text=True)
    assert store.count("pairs") == 1


# --- the report ---------------------------------------------------------------------------

# A hand-made study: three models, answers from -2 (A much better) to 2 (B much better).
HAND = [("a", "b", -2), ("a", "b", -1), ("b", "a", 2), ("a", "b", 0), ("a", "c", -2), ("c", "a", 1),
        ("a", "c", -1), ("b", "c", 1), ("c", "b", -1), ("b", "c", 0)]


def hand_ratings():
    return [{"rater": f"r{i % 3}", "model_a": a, "model_b": b, "answer": x} for i, (a, b, x) in enumerate(HAND)]


def test_report_by_hand():
    result = report.analyse(hand_ratings(), ["a", "b", "c"])
    # Scores from each model's side (A: -answer, B: +answer), worked out by hand:
    # a: 2 1 2 0 2 1 1 -> 6 wins, 0 losses, 1 tie; b: -2 -1 -2 0 -1 -1 0 -> 0 wins, 5 losses, 2 ties;
    # c: -2 -1 -1 1 1 0 -> 2 wins, 3 losses, 1 tie.
    assert report.scores_by_model(hand_ratings(), "abc") == {
        "a": [2, 1, 2, 0, 2, 1, 1], "b": [-2, -1, -2, 0, -1, -1, 0], "c": [-2, -1, -1, 1, 1, 0]}
    assert {m: (s["comparisons"], s["wins"], s["losses"], s["ties"]) for m, s in result["per_model"].items()} == {
        "a": (7, 6, 0, 1), "b": (7, 0, 5, 2), "c": (6, 2, 3, 1)}
    assert result["per_model"]["c"]["binomial_std"] == pytest.approx((5 * 0.4 * 0.6) ** 0.5)  # 1.095
    assert result["per_model"]["a"]["binomial_std"] == 0.0 and result["per_model"]["b"]["binomial_std"] == 0.0
    # Ties are left out of the win rate as of the binomial figures: n = wins + losses.
    assert {m: (s["decisive"], s["win_rate"]) for m, s in result["per_model"].items()} == {
        "a": (6, 1.0), "b": (5, 0.0), "c": (5, 0.4)}
    assert result["per_model"]["c"]["win_rate_std"] == pytest.approx((0.4 * 0.6 / 5) ** 0.5)  # 0.219
    assert result["per_model"]["c"]["binomial_std"] == pytest.approx(5 * result["per_model"]["c"]["win_rate_std"])
    assert result["per_model"]["a"]["win_rate_std"] == 0.0
    assert result["head_to_head"] == [
        {"model_a": "a", "model_b": "b", "a_preferred": 3, "b_preferred": 0, "ties": 1},
        {"model_a": "a", "model_b": "c", "a_preferred": 3, "b_preferred": 0, "ties": 0},
        {"model_a": "b", "model_b": "c", "a_preferred": 0, "b_preferred": 2, "ties": 1}]
    assert (result["num_ratings"], result["num_raters"]) == (10, 3)
    # Kruskal-Wallis by hand: the 20 scores ranked with midranks (-2: ranks 1-3 -> 2, -1: 4-8 -> 6,
    # 0: 9-12 -> 10.5, 1: 13-17 -> 15, 2: 18-20 -> 19); rank sums a 112.5, b 43, c 54.5;
    # H = 12 / (20 * 21) * (112.5^2/7 + 43^2/7 + 54.5^2/6) - 3 * 21 = 10.34915, divided by the tie
    # correction 1 - (24 + 120 + 60 + 120 + 24) / (20^3 - 20) = 0.956391: H = 10.8210.
    kw = result["kruskal_wallis"]
    assert kw["H"] == pytest.approx(10.8210, abs=1e-4)
    assert kw["df"] == 2
    scipy_h, scipy_p = stats.kruskal([2, 1, 2, 0, 2, 1, 1], [-2, -1, -2, 0, -1, -1, 0], [-2, -1, -1, 1, 1, 0])
    assert (kw["H"], kw["p"]) == pytest.approx((scipy_h, scipy_p))
    tests = {(t["model_a"], t["model_b"]): t for t in result["mann_whitney"]}
    # U of a vs b by hand: for each a score, the b scores below it plus half the equal ones:
    # 2 -> 7 (x3), 1 -> 7 (x3), 0 -> 5 + 2/2 = 6: U = 21 + 21 + 6 = 48 (of 49).
    assert tests["a", "b"]["U"] == 48 and tests["a", "b"]["higher"] == "a"
    assert tests["b", "c"]["higher"] == "c"
    raw = []
    for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
        u, p = stats.mannwhitneyu(report.scores_by_model(hand_ratings(), "abc")[x],
                                  report.scores_by_model(hand_ratings(), "abc")[y], alternative="two-sided")
        assert (tests[x, y]["U"], tests[x, y]["p"]) == pytest.approx((u, p))
        raw.append(p)
    # Holm: sorted p1 <= p2 <= p3 -> 3 p1, max(3 p1, 2 p2), max(.., p3), capped at 1.
    order = sorted(range(3), key=lambda i: raw[i])
    expected = [0.0] * 3
    expected[order[0]] = min(1, 3 * raw[order[0]])
    expected[order[1]] = max(expected[order[0]], min(1, 2 * raw[order[1]]))
    expected[order[2]] = max(expected[order[1]], min(1, raw[order[2]]))
    assert [t["p_holm"] for t in result["mann_whitney"]] == pytest.approx(expected)
    assert [t["significant"] for t in result["mann_whitney"]] == [p < 0.05 for p in expected]


def test_report_without_enough_ratings():
    result = report.analyse([{"rater": "r", "model_a": "a", "model_b": "b", "answer": 0}], ["a", "b", "c"])
    assert result["kruskal_wallis"] is None  # all answers equal
    assert result["per_model"]["c"] == {"comparisons": 0, "wins": 0, "losses": 0, "ties": 0, "decisive": 0,
                                        "win_rate": None, "win_rate_std": None, "binomial_std": 0.0}
    assert result["per_model"]["a"] == {"comparisons": 1, "wins": 0, "losses": 0, "ties": 1, "decisive": 0,
                                        "win_rate": None, "win_rate_std": None, "binomial_std": 0.0}
    assert [(t["model_a"], t["model_b"]) for t in result["mann_whitney"]] == [("a", "b")]
    text = report.markdown(result, ["a", "b", "c"])
    assert "not computable" in text
    assert text.startswith("# Listening study: 1 rating by 1 rater\n")  # not "1 ratings by 1 raters"
    assert "| a | 1 | 1 | 0 | 0 | 0 | - | - | 0.00 |" in text.splitlines()


def test_listen_report_command(tmp_path, capsys):
    store = make_study(tmp_path / "s.sqlite", models=("a", "b", "c"), num=2)
    clips, used = store.clips(), Counter()
    for i, (a, b, x) in enumerate(HAND):  # the hand-made ratings, with A and B as listed
        rater = f"r{i % 3}"
        k = used[rater, a, b] = used[rater, a, b] + 1
        clip_a, clip_b = clips[a][(k - 1) // 2], clips[b][(k - 1) % 2]
        with sqlite3.connect(store.path) as db:
            db.execute("INSERT INTO pairs VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (f"p{i}", rater, clip_a, clip_b, *schedule.clip_pair(clip_a, clip_b), f"t{i:02d}"))
        store.rate(rater, f"p{i}", x)
    out = tmp_path / "report"
    assert cli.main(["listen-report", "--db", store.path, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "chi2(2) = 10.821" in printed
    assert sorted(os.listdir(out)) == [".sequence-tutor.json", "figure3.png", "ratings.csv", "report.json",
                                       "report.md"]
    data = json.loads((out / "report.json").read_text())
    assert data["models"] == ["a", "b", "c"]
    assert data["kruskal_wallis"]["H"] == pytest.approx(10.8210, abs=1e-4)
    assert data["correction"].startswith("Holm-Bonferroni")
    rows = list(csv.DictReader(open(out / "ratings.csv")))
    assert [(r["model_a"], r["model_b"], int(r["answer"])) for r in rows] == HAND
    assert (out / "figure3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "report.md").read_text()
    assert text.startswith("# Listening study: 10 ratings by 3 raters\n")
    # model | comparisons | ties | n | wins | losses | p | std of p | std of wins, each by hand:
    # c: 2 wins, 3 losses, 1 tie: p = 0.4, sqrt(0.4 * 0.6 / 5) = 0.219, sqrt(5 * 0.4 * 0.6) = 1.095.
    assert "| c | 6 | 1 | 5 | 2 | 3 | 40.0% | 21.9% | 1.10 |" in text.splitlines()
    assert "| b | 7 | 2 | 5 | 0 | 5 | 0.0% | 0.0% | 0.00 |" in text.splitlines()
    assert "| a | 7 | 1 | 6 | 6 | 0 | 100.0% | 0.0% | 0.00 |" in text.splitlines()
    assert "std of wins = sqrt(n p (1 - p)) = n x std of p, in wins: the error bar of figure3.png" in text
    assert data["per_model"]["c"]["win_rate"] == 0.4 and data["definitions"] == report.DEFINITIONS
    assert cli.main(["listen-report", "--db", store.path, "--out", str(out)]) == 0  # its own output: replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    from rl_tuner.plumbing.outputs import OutputError
    with pytest.raises(OutputError, match="mine"):
        cli.main(["listen-report", "--db", store.path, "--out", str(tmp_path / "mine")])


def test_listen_refuses_another_study_and_bad_models(tmp_path):
    store = make_study(tmp_path / "s.sqlite")
    base = ["listen", "--db", store.path, "--num-per-model", "2", "--port", "0"]  # port 0: any free one
    models = [f"--model={m}=/models/{m}" for m in MODELS]
    with pytest.raises(ValueError, match=r"s.sqlite holds a study of the models mle, q, psi, not mle, q; give the "
                                         r"same --model names"):
        cli.main(base + models[:2])
    with pytest.raises(ValueError, match=r"s.sqlite holds a study with --num-per-model 2, not 3"):
        cli.main(["listen", "--db", store.path, "--num-per-model", "3", "--port", "0"] + models)
    with pytest.raises(ValueError, match=r"argument --model: the name 'q' is given twice"):
        cli.main(base + models + ["--model", "q=/x"])
    with pytest.raises(FileNotFoundError, match=r"argument --model a=.*nothing: no such file or directory"):
        cli.main(["listen", "--db", str(tmp_path / "new.sqlite"), "--model", f"a={tmp_path / 'nothing'}",
                  "--model", f"b={tmp_path}", "--port", "0"])
    assert not (tmp_path / "new.sqlite").exists()
    assert store.count("pairs") == 0
    text = tmp_path / "notes.txt"
    text.write_text("my notes, not a database\n" * 10)
    with pytest.raises(ValueError, match=r"notes.txt: not a listening-study database"):
        cli.main(["listen", "--db", str(text), "--port", "0"] + models)
    assert text.read_text() == "my notes, not a database\n" * 10


def test_listen_samples_renders_and_serves(tmp_path, monkeypatch, capsys):
    """The whole ``listen`` command on two tiny Note-RNNs, the server replaced by a stub."""
    import io
    import wave
    from listening_study import commands
    from rl_tuner.plumbing import checkpoint
    from rl_tuner.models import sequence_model as model_lib
    paths = []
    for seed in (0, 1):
        paths.append(str(tmp_path / f"tiny{seed}"))
        checkpoint.save_model(paths[-1], model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)),
                                                         seed=seed))
    served = []
    monkeypatch.setattr(commands, "serve", lambda store, host, port: served.append((store.path, host, port)))
    db = str(tmp_path / "study.sqlite")
    argv = ["listen", "--db", db, "--model", f"one={paths[0]}", "--model", f"two={paths[1]}", "--num-per-model", "3",
            "--length", "8", "--port", "0"]
    assert cli.main(argv) == 0
    assert served == [(db, "127.0.0.1", 0)]
    store = Store(db)
    assert store.study() == {"models": {"one": paths[0], "two": paths[1]}, "num_per_model": 3, "length": 8,
                             "temperature": 1.0, "seed": 0, "qpm": 80.0}
    clips = store.clips()
    assert {m: len(c) for m, c in clips.items()} == {"one": 3, "two": 3}
    with sqlite3.connect(db) as conn:
        tokens = {(m, i): json.loads(t) for m, i, t in conn.execute("SELECT model, idx, tokens FROM clips")}
    from note_rnn import audio
    from listening_study.commands import render_clips
    for model in ("one", "two"):
        for i, clip in enumerate(clips[model]):  # the project's rendering of the stored tokens, 16 kHz mono
            assert store.wav(clip) == audio.wav_bytes(audio.synthesize(tokens[model, i], qpm=80.0))
            with wave.open(io.BytesIO(store.wav(clip))) as w:
                assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, audio.SAMPLE_RATE)
    again = render_clips(store.study())  # the same seeds give the same melodies (model i: seed + i)
    assert {(m, i): t for m, items in again.items() for i, (t, _) in enumerate(items)} == tokens
    assert all(len(t) == 8 for t in tokens.values())
    assert cli.main(argv) == 0  # a restart continues without sampling again
    assert "continuing the study in" in capsys.readouterr().out
    assert store.clips() == clips


def test_listen_without_flask_names_the_extra(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "flask", None)  # as if Flask were not installed
    message = r'rl-tuner listen needs Flask, .*: pip install -c constraints.txt "\.\[listen\]"'
    with pytest.raises(ValueError, match=message):
        cli.main(["listen", "--db", str(tmp_path / "s.sqlite"), "--model", "a=x", "--model", "b=y"])
    assert not (tmp_path / "s.sqlite").exists()


def test_listen_refuses_an_address_it_cannot_use_before_sampling(tmp_path):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        db = tmp_path / "new.sqlite"
        with pytest.raises(OSError, match=rf"cannot listen on 127.0.0.1:{port}: Address already in use"):
            cli.main(["listen", "--db", str(db), "--model", "a=x", "--model", "b=y", "--port", str(port)])
    with pytest.raises(OSError, match=r"cannot listen on no-such-host.invalid:8000: "):
        cli.main(["listen", "--db", str(db), "--model", "a=x", "--model", "b=y", "--host", "no-such-host.invalid"])
    assert not db.exists()


def test_listen_refuses_a_study_too_large_before_loading_anything(tmp_path):
    db = tmp_path / "new.sqlite"
    models = ["--model", "a=x", "--model", "b=y", "--port", "0"]
    with pytest.raises(ValueError, match=r"argument --num-per-model: at most 200 melodies per model, got 201"):
        cli.main(["listen", "--db", str(db), "--num-per-model", "201"] + models)
    with pytest.raises(ValueError, match=r"melodies of 601 s \(--length 3205 at --qpm 80: 15 / qpm s per step\) are "
                                         r"longer than 600 s; use a shorter --length or a larger --qpm"):
        cli.main(["listen", "--db", str(db), "--length", "3205"] + models)  # 3205 * 15 / 80 = 600.9 s
    # 2 models x 200 melodies of 32 steps at 1 qpm: 480 s each, 16-bit at 16 kHz = 5.7 GiB
    with pytest.raises(ValueError, match=r"2 models x 200 melodies of 480 s \(--length 32 at --qpm 1\) are "
                                         r"5.7 GiB of audio, more than 1 GiB; use fewer or shorter melodies"):
        cli.main(["listen", "--db", str(db), "--qpm", "1", "--num-per-model", "200"] + models)
    assert not db.exists()


def test_listen_checks_the_database_folder_before_loading_models(tmp_path, monkeypatch):
    from listening_study import commands
    monkeypatch.setattr(commands, "render_clips", lambda settings: pytest.fail("sampled before checking --db"))
    (tmp_path / "notes.txt").write_text("keep")
    models = ["--model", f"a={tmp_path}", "--model", f"b={tmp_path}", "--port", "0"]
    for db, reason in ((tmp_path / "missing" / "s.sqlite", "No such file or directory"),
                       (tmp_path / "notes.txt" / "s.sqlite", "Not a directory")):
        with pytest.raises(OSError, match=rf"cannot create the database {db}: {reason}"):
            cli.main(["listen", "--db", str(db)] + models)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_listen_loads_every_model_before_sampling(tmp_path, monkeypatch):
    """A path that is not a model is refused before the models before it are sampled."""
    from rl_tuner.plumbing import checkpoint
    from rl_tuner.runner import evaluate
    from rl_tuner.models import sequence_model as model_lib
    good = str(tmp_path / "tiny")
    checkpoint.save_model(good, model_lib.build(model_lib.SequenceRNNConfig(num_classes=38, layer_sizes=(8,)), seed=0))
    bad = tmp_path / "notes.txt"
    bad.write_text("my notes, not a model\n" * 10)
    sampled = []
    monkeypatch.setattr(evaluate, "sample_policy", lambda *a, **k: sampled.append(a) or pytest.fail("sampled"))
    db = tmp_path / "s.sqlite"
    with pytest.raises(ValueError, match=r"notes.txt"):
        cli.main(["listen", "--db", str(db), "--model", f"good={good}", "--model", f"bad={bad}", "--port", "0"])
    assert sampled == [] and not db.exists()


def test_listen_names_the_order_of_the_models(tmp_path):
    store = make_study(tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match=r"s.sqlite holds a study of the same models in another order: give "
                                         r"the --model flags in the order mle, q, psi \(model i samples with "
                                         r"--seed \+ i\)"):
        cli.main(["listen", "--db", store.path, "--num-per-model", "2", "--port", "0"] +
                 [f"--model={m}=/models/{m}" for m in ("psi", "q", "mle")])


def test_report_takes_model_names_as_typed(tmp_path):
    """"$" in a name is not TeX (matplotlib would refuse "$x^$"), "|" does not add a column."""
    models = ["$x^$", "a|b"]
    ratings = [{"rater": "r", "pair": f"p{i}", "model_a": models[i % 2], "model_b": models[1 - i % 2], "melody_a": 0,
                "melody_b": 0, "answer": x, "handed_out": "t", "time": "t"} for i, x in enumerate([2, 1, 1])]
    report.write_report(ratings, models, str(tmp_path))
    assert (tmp_path / "figure3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = (tmp_path / "report.md").read_text().splitlines()
    # A/B: ($x^$, a|b) +2 -> a|b wins; (a|b, $x^$) +1 -> $x^$ wins; ($x^$, a|b) +1 -> a|b wins.
    # $x^$: 1 win, 2 losses, std of p sqrt(1/3 * 2/3 / 3) = 27.2%, of wins sqrt(3 * 1/3 * 2/3) = 0.82;
    # a|b the opposite. "$" is escaped too (GitHub would read $x^$ as math).
    assert "| \\$x^\\$ | 3 | 0 | 3 | 1 | 2 | 33.3% | 27.2% | 0.82 |" in lines
    assert "| a\\|b | 3 | 0 | 3 | 2 | 1 | 66.7% | 27.2% | 0.82 |" in lines
    assert "| \\$x^\\$ | a\\|b | 1 | 2 | 0 |" in lines


HOSTILE_NAMES = ["<script>alert(1)</script>", "+cmd|calc!A1", "=HYPERLINK(\"http://x.invalid\")", "-2+3", "@SUM(A1)",
                 "*bold* _em_ [link](http://x.invalid) `code` ~~del~~ \\ & $x$ <b>"]


def hostile_ratings(models):
    pairs = list(itertools.combinations(models, 2))
    return [{"rater": "r", "pair": f"p{i}", "model_a": a, "model_b": b, "melody_a": 0, "melody_b": 1,
             "answer": (i % 5) - 2, "handed_out": "t", "time": "t"} for i, (a, b) in enumerate(pairs)]


class _Cells:
    """The text of every table cell of an HTML page, row by row (html.parser, no dependency)."""

    def __init__(self, page):
        import html.parser
        self.rows, self.tags, self.in_cell = [], set(), False
        cells = self

        class Parser(html.parser.HTMLParser):
            def handle_starttag(self, tag, attrs):
                cells.tags.add(tag)
                if tag == "tr":
                    cells.rows.append([])
                elif tag in ("td", "th"):
                    cells.rows[-1].append("")
                    cells.in_cell = True

            def handle_endtag(self, tag):
                if tag in ("td", "th"):
                    cells.in_cell = False

            def handle_data(self, data):
                if cells.in_cell:
                    cells.rows[-1][-1] += data

        Parser().feed(page)


def test_report_escapes_model_names_in_markdown(tmp_path):
    """A model name is text in report.md: rendered (CommonMark with GitHub tables), every table
    shows it exactly as typed and it makes no HTML element, link, emphasis, code or column."""
    markdown_it = pytest.importorskip("markdown_it")
    report.write_report(hostile_ratings(HOSTILE_NAMES), HOSTILE_NAMES, str(tmp_path))
    text = (tmp_path / "report.md").read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    cells = _Cells(page)
    assert cells.tags <= {"h1", "p", "table", "thead", "tbody", "tr", "th", "td"}  # no script, b, a, em, code, del
    per_model = [row for row in cells.rows if len(row) == 9][1:]  # the first table, without its header
    assert [row[0] for row in per_model] == HOSTILE_NAMES
    head_to_head = [row for row in cells.rows if len(row) == 5][1:]
    assert [tuple(row[:2]) for row in head_to_head] == list(itertools.combinations(HOSTILE_NAMES, 2))
    assert report.markdown_text("a|b") == "a\\|b" and report.markdown_text("plain name 1.0") == "plain name 1.0"


def test_ratings_csv_neutralises_formulas(tmp_path):
    """ratings.csv: a text cell a spreadsheet would run as a formula starts with "'", as the
    server does for rater cookies; answers stay numbers (-2 too) and other text stays as it is."""
    models = HOSTILE_NAMES
    ratings = hostile_ratings(models)
    report.write_report(ratings, models, str(tmp_path))
    rows = list(csv.DictReader(open(tmp_path / "ratings.csv", newline="")))
    assert len(rows) == len(ratings) == 15
    shown = {"+cmd|calc!A1": "'+cmd|calc!A1", '=HYPERLINK("http://x.invalid")': '\'=HYPERLINK("http://x.invalid")',
             "-2+3": "'-2+3", "@SUM(A1)": "'@SUM(A1)"}
    for row, rating in zip(rows, ratings):
        assert row["model_a"] == shown.get(rating["model_a"], rating["model_a"])
        assert row["model_b"] == shown.get(rating["model_b"], rating["model_b"])
        assert int(row["answer"]) == rating["answer"]
    assert {int(row["answer"]) for row in rows} == {-2, -1, 0, 1, 2}
    assert [report.csv_cell(v) for v in ("\tx", "\rx", "x=1", "", -2, 0)] == ["'\tx", "'\rx", "x=1", "", -2, 0]


def test_report_reads_a_study_in_a_folder_it_cannot_write(tmp_path, monkeypatch):
    """A WAL database in a read-only folder (or another user's) does not open normally: SQLite
    cannot create its -shm file. listen-report then reads it as an immutable snapshot, unless a
    -wal file holds changes not merged into it; listen (which writes) names the file."""
    import sqlite3 as sqlite
    store = make_study(tmp_path / "s.sqlite")
    rater = "r"
    for answer in (2, -1):
        store.rate(rater, store.next_pair(rater)["id"], answer)
    connect = sqlite.connect

    def read_only_folder(database, *args, uri=False, **kwargs):
        if not (uri and database.endswith("?immutable=1")):
            raise sqlite.OperationalError("unable to open database file")
        return connect(database, *args, uri=uri, **kwargs)

    monkeypatch.setattr(sqlite, "connect", read_only_folder)
    out = tmp_path / "report"
    assert cli.main(["listen-report", "--db", store.path, "--out", str(out)]) == 0
    assert [int(r["answer"]) for r in csv.DictReader(open(out / "ratings.csv"))] == [2, -1]
    with pytest.raises(OSError, match=r"s.sqlite: cannot open the database \(unable to open database file\)$"):
        cli.main(["listen", "--db", store.path, "--num-per-model", "2", "--port", "0"] +
                 [f"--model={m}=/models/{m}" for m in MODELS])
    (tmp_path / "s.sqlite-wal").write_bytes(b"\0" * 32)  # ratings a kill -9 left in the WAL
    with pytest.raises(OSError, match=r"s.sqlite: cannot open the database \(unable to open database file\); "
                                      r".*s.sqlite-wal holds changes not yet merged into it: copy both files"):
        open_existing(store.path)


@pytest.mark.parametrize("forged", ['=HYPERLINK("http://x.invalid","click")', "<b>me</b>", "x" * 65, "short",
                                    "A" * 21 + "!"])
def test_a_cookie_the_server_did_not_make_gets_a_new_rater_id(client, forged):
    """Rater ids end up in ratings.csv: a forged cookie (a spreadsheet formula, markup, a long
    value) is replaced by a new token, never stored."""
    store, c = client
    c.set_cookie("rater", forged)
    response = c.get("/")
    rater = c.get_cookie("rater").value
    assert response.status_code == 200 and rater != forged and len(rater) == 22
    pair = re.search(r'name="pair" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    assert c.post("/rate", data={"pair": pair, "answer": "1"}).status_code == 303
    assert [r["rater"] for r in store.ratings()] == [rater]
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT DISTINCT rater FROM pairs").fetchall() == [(rater,)]


@pytest.mark.parametrize("text, message", [
    ("mle", r"expected NAME=PATH \(e.g. psi=runs/psi\), got 'mle'"),
    ("=runs/psi", r"expected NAME=PATH .*got '=runs/psi'"),
    ("psi= ", r"expected NAME=PATH .*got 'psi= '"),
    ("a\nb=runs/psi", r"NAME may not hold control characters \(newlines, tabs\), got 'a\\nb'"),
    ("a\tb=runs/psi", r"NAME may not hold control characters \(newlines, tabs\), got 'a\\tb'"),
])
def test_model_spec_refuses_bad_values(text, message):
    import argparse
    from listening_study.commands import model_spec
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        model_spec(text)
    assert model_spec(" psi = runs/a=b ") == ("psi", "runs/a=b")
