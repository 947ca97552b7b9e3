"""The ``beam`` fixture of the Beam tests: apache_beam, or a skip where it is not installed
(the default install has no Beam; see BUILD.md), with this checkout on the workers' path."""

import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def beam(monkeypatch):
    """apache_beam, or a skip; the Beam workers import this checkout."""
    module = pytest.importorskip("apache_beam")
    monkeypatch.setenv("PYTHONPATH", REPO)
    return module
