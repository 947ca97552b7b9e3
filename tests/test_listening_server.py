"""The listening study's server for real: ``rl-tuner listen`` in its own process killed with
kill -9 mid-study and restarted (no committed rating lost, none half-written), and the page
in headless Chromium (Selenium) clicking through ratings that land in SQLite.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs
them) and skips with a message where they are missing.
"""

import http.cookiejar
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import threading
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

from note_rnn.audio import wav_bytes
from listening_study.store import Store

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("mle", "q", "psi")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def make_study(path, num=2):
    """A study whose clips are 0.1 s of silence (real WAV files the browser can load)."""
    store = Store(str(path))
    silence = wav_bytes(np.zeros(1600, np.float32))
    store.create_study({"models": {m: f"/models/{m}" for m in MODELS}, "num_per_model": num, "length": 32,
                        "temperature": 1.0, "seed": 0, "qpm": 80.0},
                       {m: [([2 + i] * 32, silence) for i in range(num)] for m in MODELS})
    return store


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db, port):
    """``rl-tuner listen`` on an existing study (no model is loaded); returns once it serves."""
    args = [sys.executable, "-m", "rl_tuner.cli", "listen", "--db", str(db), "--num-per-model", "2",
            "--port", str(port)] + [f"--model={m}=/models/{m}" for m in MODELS]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [proc.stdout.readline()]  # "continuing the study ...", then "serving ..." once it is bound
    assert lines[0].startswith(f"continuing the study in {db}: ")
    lines.append(proc.stdout.readline())
    if not lines[1].startswith(f"serving the listening study at http://127.0.0.1:{port}/"):
        proc.kill()
        pytest.fail(f"the server did not start: {lines!r} {proc.communicate(timeout=60)}")
    return proc


class Rater:
    """A rater's browser without a browser: a cookie jar and form posts."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def page(self):
        return self.opener.open(self.base + "/", timeout=60).read().decode()

    def rate(self, html, answer):
        """Answers the pair on ``html``; returns (pair id, the next page)."""
        pair = re.search(r'name="pair" value="([^"]+)"', html).group(1)
        data = urllib.parse.urlencode({"pair": pair, "answer": answer}).encode()
        return pair, self.opener.open(self.base + "/rate", data=data, timeout=60).read().decode()


def stored(db):
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return dict(conn.execute("SELECT pair, answer FROM ratings").fetchall())


def test_kill_9_mid_study_and_restart_keep_every_committed_rating(tmp_path):
    db = tmp_path / "ratings.sqlite"
    make_study(db)
    port = free_port()
    proc = start_server(db, port)
    acknowledged, rng = {}, random.Random(0)
    try:
        rater = Rater(port)
        html = rater.page()
        for _ in range(5):
            answer = rng.choice([-2, -1, 0, 1, 2])
            pair, html = rater.rate(html, answer)
            acknowledged[pair] = answer
        # Kill -9 while a second rater keeps submitting (some answers may be in flight).
        other, stop, errors = Rater(port), threading.Event(), []

        def hammer():
            try:
                page = other.page()
                while not stop.is_set():
                    answer = rng.choice([-2, -1, 0, 1, 2])
                    pair, page = other.rate(page, answer)
                    acknowledged[pair] = answer
            except (urllib.error.URLError, ConnectionError, OSError, AttributeError) as e:
                errors.append(e)  # the server died under it

        thread = threading.Thread(target=hammer)
        thread.start()
        while len(acknowledged) < 8 and thread.is_alive():
            threading.Event().wait(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        stop.set()
        thread.join(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    after_kill = stored(db)
    assert len(acknowledged) >= 8, errors
    assert set(acknowledged) <= set(after_kill)  # every answered submission survived
    assert all(after_kill[p] == a for p, a in acknowledged.items())
    assert len(after_kill) - len(acknowledged) <= 1  # at most the one in flight, whole
    # A restarted server continues the study: the first rater's next pair is a new one.
    proc = start_server(db, port)
    try:
        html = rater.page()
        assert "Pair 6" in html
        pair, html = rater.rate(html, 2)
        assert pair not in after_kill and "Pair 7" in html
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert stored(db) == {**after_kill, pair: 2}


def chromium_driver(tmp_path):
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        pytest.skip(f"the browser test needs Debian's chromium and chromium-driver packages ({', '.join(missing)} "
                    f"missing; `apt-get install chromium chromium-driver`)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium (the test extra)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Without the networking flags Chromium waits for the network on a machine without one.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=840,640"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_the_page_in_a_real_browser(tmp_path):
    from werkzeug.serving import make_server
    from listening_study.app import create_app
    store = make_study(tmp_path / "ratings.sqlite")
    server = make_server("127.0.0.1", 0, create_app(store), threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    driver = None
    try:
        driver = chromium_driver(tmp_path)
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        driver.get(f"http://127.0.0.1:{server.server_port}/")
        assert driver.title == "Which melody do you prefer?"
        assert {e.tag_name for e in driver.find_elements(By.CSS_SELECTOR, "#audio-a, #audio-b")} == {"audio"}
        screenshot = os.environ.get("LISTENING_SCREENSHOT")  # how BUILD.md's picture was taken
        if screenshot:
            driver.save_screenshot(screenshot)
        answers = [-2, 1, 0, 2, -1]
        pairs = []
        for i, answer in enumerate(answers):
            pairs.append(driver.find_element(By.NAME, "pair").get_attribute("value"))
            driver.find_element(By.ID, f"answer{answer}").click()
            driver.find_element(By.ID, "submit").click()
            WebDriverWait(driver, 60).until(lambda d: f"Pair {i + 2}" in d.page_source)
        assert f"Pair {len(answers) + 1}" in driver.page_source
        # No answer chosen yet: the form is invalid (the scale is required), the browser sends nothing.
        assert driver.execute_script("return document.getElementById('rating').checkValidity()") is False
        driver.find_element(By.ID, "answer0").click()
        assert driver.execute_script("return document.getElementById('rating').checkValidity()") is True
        rater = driver.get_cookie("rater")["value"]
    finally:
        if driver is not None:
            driver.quit()
        server.shutdown()
        thread.join()
    rows = store.ratings()
    assert [(r["rater"], r["pair"], r["answer"]) for r in rows] == [(rater, p, a) for p, a in zip(pairs, answers)]
    assert all(r["model_a"] != r["model_b"] for r in rows)
    assert store.count("pairs") == len(answers) + 1  # the rated ones and the one on screen


@pytest.mark.parametrize("inherited", ["default", "ignored", "blocked"])
def test_ctrl_c_stops_the_server_and_says_what_is_stored(tmp_path, inherited):
    db = tmp_path / "ratings.sqlite"
    make_study(db)
    port = free_port()
    # A server started by a process that ignores or blocks SIGINT inherits that; Ctrl+C must
    # still stop it.
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if inherited == "ignored" else None
    if inherited == "blocked":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        proc = start_server(db, port)
    finally:
        if inherited == "ignored":
            signal.signal(signal.SIGINT, old)
        if inherited == "blocked":
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    idle = socket.create_connection(("127.0.0.1", port))  # a browser's idle keep-alive connection
    try:
        rater = Rater(port)
        rater.rate(rater.page(), 1)
        time.sleep(0.5)  # the server's thread for ``idle`` now waits for a request that never comes
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
            idle.close()
    assert (proc.returncode, out, err) == (0, f"stopped; 1 ratings in {db} (rerun the same command to continue)\n", "")
    assert len(stored(db)) == 1
