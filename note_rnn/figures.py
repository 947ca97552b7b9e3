"""Matplotlib without a display, and PNG files written atomically (no TensorFlow here, so
commands that only draw, such as ``rl-tuner listen-report``, start fast)."""

from __future__ import annotations

import io


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_png(fig, path: str, dpi: int = 100) -> None:
    """Writes ``fig`` to ``path`` as a PNG atomically (:func:`rl_tuner.plumbing.atomic.write_bytes`)."""
    from rl_tuner.plumbing import atomic
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic.write_bytes(path, buf.getvalue())
