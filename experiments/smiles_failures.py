"""Why sampled SMILES are invalid, and how a tuned policy moved the end token.

Two measures behind BUILD.md's "End transitions" (Table 2 section):

* :func:`invalid_kind` sorts a SMILES into valid or the kind of error: ``syntax`` (an open
  ring bond, branch or bracket: the text stops mid-molecule, :func:`molecules.environment.
  cheap_invalid`), RDKit's problem types (``AtomValenceException``, ``KekulizeException``,
  ``AtomKekulizeException``, from ``Chem.DetectChemistryProblems``), ``parse`` (RDKit cannot
  read it even unsanitised) or ``empty``.
* :func:`end_token_shift` runs a policy and its prior over given molecules and reports, per kind
  of prefix state (``open``: ending now leaves a ring, branch or bracket open; ``valid``: the
  prefix is a molecule; ``invalid``: a closed prefix RDKit refuses), the mean of
  log pi(end|s) - log p(end|s): how much more (positive) the policy ends there than the prior.

Usage::

    python experiments/smiles_failures.py --model runs/smiles_default_g --molecules prior.smi

(``prior.smi`` e.g. from ``molecules sample --num 10000 --out prior.smi``.)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from molecules import chem  # noqa: E402
from molecules.environment import cheap_invalid  # noqa: E402

STATE_KINDS = ("open", "valid", "invalid")


def invalid_kind(smiles: str) -> str:
    """"valid", or why ``smiles`` is no molecule (see the module docstring).

    Raises nothing: every string gets a kind.
    """
    from rdkit import Chem  # pylint: disable=import-outside-toplevel
    text = smiles.strip()
    if not text:
        return "empty"
    if cheap_invalid(text):
        return "syntax"
    if chem.parse(text) is not None:
        return "valid"
    mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None:
        return "parse"
    problems = Chem.DetectChemistryProblems(mol)
    return problems[0].GetType() if problems else "other"


def kind_shares(smiles_list) -> dict:
    """{kind: share of the SMILES} over :func:`invalid_kind`, most common first."""
    counts = collections.Counter(invalid_kind(s) for s in smiles_list)
    total = max(sum(counts.values()), 1)
    return {kind: n / total for kind, n in counts.most_common()}


def state_kind(prefix: str) -> str:
    """The kind of a prefix state for :func:`end_token_shift`: "open", "valid" or "invalid"."""
    if cheap_invalid(prefix):
        return "open"
    return "valid" if chem.parse(prefix) is not None else "invalid"


def end_token_shift(policy, tokenizer, smiles_list, batch_size: int = 500) -> dict:
    """Mean log pi(end|s) - log p(end|s) over the prefix states of ``smiles_list``, by kind.

    Args:
      policy: a :class:`rl_tuner.runner.policy.Policy` (a tuned one, or a prior: shift 0).
      tokenizer: the prior's atom-level tokenizer (its begin token primes every molecule).
      smiles_list: molecules whose prefixes are the states (e.g. samples of the prior); the
        empty prefix (only the begin token) is left out.
      batch_size: molecules run together.

    Returns:
      {kind: {"states": n, "mean_log_ratio": nats, "mean_prior_end": p, "mean_policy_end": pi}}.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    sums = {k: np.zeros(4) for k in STATE_KINDS}
    end = tokenizer.end_id
    for start in range(0, len(smiles_list), batch_size):
        chunk = smiles_list[start:start + batch_size]
        encoded = [tokenizer.encode(s) for s in chunk]
        width = max(len(e) for e in encoded)
        tokens = np.full((len(chunk), width), end, np.int32)
        for i, e in enumerate(encoded):
            tokens[i, :len(e)] = e
        state = policy.zero_state(len(chunk))
        for t in range(width - 1):
            logits, log_prior, state = policy.step(tf.constant(tokens[:, t]), state)
            log_pi = tf.nn.log_softmax(logits).numpy()[:, end]
            log_p = log_prior.numpy()[:, end]
            if t == 0:
                continue
            for i, e in enumerate(encoded):
                if t + 1 < len(e):  # a state inside the molecule (its prefix: tokens 1..t)
                    kind = state_kind("".join(tokenizer.symbols[j] for j in e[1:t + 1]))
                    sums[kind] += [1, log_pi[i] - log_p[i], np.exp(log_p[i]), np.exp(log_pi[i])]
    return {k: {"states": int(v[0]), "mean_log_ratio": v[1] / max(v[0], 1), "mean_prior_end": v[2] / max(v[0], 1),
                "mean_policy_end": v[3] / max(v[0], 1)} for k, v in sums.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="tuned run or policy (or a prior: shift 0)")
    parser.add_argument("--molecules", required=True, help="SMILES file whose prefixes are the states")
    parser.add_argument("--num", type=int, default=2000, help="molecules of --molecules used (default: %(default)s)")
    parser.add_argument("--samples", help="optional SMILES file sampled from --model to sort by invalid_kind")
    args = parser.parse_args(argv)
    from molecules.sampling import load  # pylint: disable=import-outside-toplevel  (TensorFlow)
    with open(args.molecules) as f:
        lines = [line.strip() for line in f if line.strip()]
    policy, task = load(args.model)
    usable = [s for s in lines if not task.tokenizer.unknown_symbols(s)][: args.num]
    result = {"end_token_shift": end_token_shift(policy, task.tokenizer, usable)}
    if args.samples:
        with open(args.samples) as f:
            result["kinds"] = kind_shares([line.rstrip("\n") for line in f])
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
