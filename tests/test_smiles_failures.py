"""experiments/smiles_failures.py: the kinds of invalid SMILES (checked against RDKit's own
problem types) and the end-token shift of a policy (zero for a plain prior)."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import smiles_failures as sf  # noqa: E402


@pytest.mark.parametrize("smiles,kind", [
    ("CCO", "valid"), ("c1ccccc1", "valid"), ("", "empty"), ("  ", "empty"), ("C1CC", "syntax"),
    ("CC(C", "syntax"), ("[nH", "syntax"), ("CC)", "syntax"), ("C(C)(C)(C)(C)C", "AtomValenceException"),
    ("c1cccc1", "KekulizeException"), ("Cc1ccc", "syntax"), ("C=1CC1=", "parse"),
])
def test_invalid_kind(smiles, kind):
    assert sf.invalid_kind(smiles) == kind


def test_kind_shares_are_fractions_most_common_first():
    shares = sf.kind_shares(["CCO", "CCN", "C1CC", ""])
    assert shares == {"valid": 0.5, "syntax": 0.25, "empty": 0.25}
    assert list(shares)[0] == "valid"


@pytest.mark.parametrize("prefix,kind", [("CC", "valid"), ("CC(", "open"), ("c1cc", "open"),
                                         ("C(C)(C)(C)(C)C", "invalid"), ("c", "invalid"), ("c1cccc1", "invalid")])
def test_state_kind(prefix, kind):
    assert sf.state_kind(prefix) == kind


def test_a_plain_prior_does_not_shift_the_end_token():
    import rl_tuner  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    from molecules import tokenizers  # pylint: disable=import-outside-toplevel
    from rl_tuner.runner import policy as policy_lib  # pylint: disable=import-outside-toplevel
    from rl_tuner.models import sequence_model as model_lib  # pylint: disable=import-outside-toplevel
    tok = tokenizers.AtomTokenizer.fit(["CCO", "c1ccccc1", "CC(C)N"])
    model = model_lib.build(model_lib.SequenceRNNConfig(num_classes=tok.vocab_size, layer_sizes=(8,),
                                                        vocabulary=tuple(tok.symbols)), seed=0)
    result = sf.end_token_shift(policy_lib.Policy(model), tok, ["CCO", "c1ccccc1", "CC(C)N"], batch_size=2)
    # every prefix of 1..n tokens (the last: where the end token is chosen). CCO: C, CC, CCO valid;
    # c1ccccc1: c invalid (a lone aromatic atom), c1 .. c1ccccc open (6), c1ccccc1 valid;
    # CC(C)N: C, CC, CC(C), CC(C)N valid, CC( and CC(C open
    assert result["valid"]["states"] == 3 + 1 + 4 and result["open"]["states"] == 6 + 2
    assert result["invalid"]["states"] == 1
    for kind in ("valid", "open"):
        assert result[kind]["mean_log_ratio"] == pytest.approx(0.0, abs=1e-6)
        assert np.isclose(result[kind]["mean_prior_end"], result[kind]["mean_policy_end"])
