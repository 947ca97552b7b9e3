"""Experiments that reproduce the paper's results (not installed with the package; run them
from a checkout: ``python experiments/paper_study.py``)."""
