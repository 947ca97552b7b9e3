"""The listening study's web page (Flask): one pair at a time, a Likert answer, the next pair.

Routes:
  ``GET /``: the instruction, two players (A and B) and the Likert scale for the rater's
    current pair (a rater is an anonymous random token in the cookie ``rater``, set here).
  ``GET /audio/<clip>.wav``: a clip's WAV (clip ids are random: they do not name the model).
  ``POST /rate``: form fields ``pair`` and ``answer``; stores the rating and redirects to
    ``/``; a bad or repeated submission gets HTTP 400 with the reason, and nothing is stored.
    A request body larger than :data:`MAX_REQUEST_BYTES` gets HTTP 413 before it is read.

Templates and static files live in this package (``templates/``, ``static/``).
"""

from __future__ import annotations

import re

import flask

from listening_study.store import LIKERT, RatingError, Store, new_token

COOKIE = "rater"
COOKIE_MAX_AGE = 365 * 24 * 3600  # seconds
# A rater id as new_token makes it (secrets.token_urlsafe(16): 22 URL-safe characters). Any other
# cookie value (too long, a formula for the researcher's spreadsheet, markup) gets a new token.
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
# The largest request body the server reads. The rating form is "pair=<22-character token>&answer=-2"
# (37 bytes); 4 KiB leaves room for a browser's extras. A larger body (a 200 MB upload) is refused
# from its Content-Length with HTTP 413 before any of it is read or spooled to a temporary file.
MAX_REQUEST_BYTES = 4096


def create_app(store: Store) -> flask.Flask:
    """The Flask application serving the study in ``store``."""
    app = flask.Flask(__name__)
    app.config["STORE"] = store
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES  # Werkzeug checks it before reading the body

    def rater_and_cookie():
        rater = flask.request.cookies.get(COOKIE)
        return (rater, False) if rater and TOKEN.fullmatch(rater) else (new_token(), True)

    def with_cookie(response, rater, fresh):
        if fresh:
            response.set_cookie(COOKIE, rater, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax")
        return response

    @app.get("/")
    def page():
        rater, fresh = rater_and_cookie()
        pair = store.next_pair(rater)
        html = flask.render_template("pair.html", pair=pair, likert=LIKERT, error=None)
        return with_cookie(flask.make_response(html), rater, fresh)

    @app.post("/rate")
    def rate():
        rater = flask.request.cookies.get(COOKIE)
        try:
            if not rater:
                raise RatingError("no rater cookie: open the study page first (cookies must be enabled)")
            store.rate(rater, flask.request.form.get("pair", ""), flask.request.form.get("answer", ""))
        except RatingError as e:
            html = flask.render_template("pair.html", pair=None, likert=LIKERT, error=str(e))
            return flask.make_response(html, 400)
        return flask.redirect(flask.url_for("page"), code=303)

    @app.errorhandler(413)
    def too_large(_):
        error = (f"the request is larger than the {MAX_REQUEST_BYTES} bytes a rating needs "
                 f"({flask.request.content_length or 'unknown'} bytes)")
        return flask.make_response(flask.render_template("pair.html", pair=None, likert=LIKERT, error=error), 413)

    @app.get("/audio/<clip>.wav")
    def audio(clip):
        wav = store.wav(clip)
        if wav is None:
            flask.abort(404)
        response = flask.make_response(wav)
        response.headers["Content-Type"] = "audio/wav"
        response.headers["Cache-Control"] = "private, max-age=86400"
        return response

    return app
