"""SMILES-RNN and molecule rewards (planned in a later issue; nothing here yet)."""
