"""Tokenizers: the original's 35 characters and the atom-level vocabulary (literal SMILES)."""

import json

import numpy as np
import pytest

from molecules import tokenizers
from molecules.tokenizers import AtomTokenizer, CharTokenizer


def test_paper_vocabulary_is_the_originals_index_order():
    tok = tokenizers.paper_tokenizer()
    assert tok.vocab_size == 35
    assert tok.symbols[0] == " " and tok.end_id == 0 and tok.begin_id is None
    # spec molecules.md section 1: 1-6 '#()+-/', 7-14 digits, 15 '=', 16 '@', C at 18, 29-34 'clnors'
    assert "".join(tok.symbols[1:7]) == "#()+-/"
    assert "".join(tok.symbols[7:15]) == "12345678"
    assert tok.index["="] == 15 and tok.index["@"] == 16 and tok.index["C"] == 18
    assert "".join(tok.symbols[17:26]) == "BCFHINOPS"
    assert "".join(tok.symbols[26:29]) == "[\\]"
    assert "".join(tok.symbols[29:]) == "clnors"


def test_char_tokenizer_spells_out_two_letter_and_bracket_atoms():
    tok = tokenizers.paper_tokenizer()
    assert tok.split("ClBr[nH]") == ["C", "l", "B", "r", "[", "n", "H", "]"]
    ids = tok.encode("CCl")
    assert ids.dtype == np.int32
    assert ids.tolist() == [18, 18, 30, 0]  # end token ' ' appended, no begin token
    assert tok.encode("CCl", add_end=False).tolist() == [18, 18, 30]
    assert tok.decode([18, 18, 30, 0, 18]) == "CCl"  # stops at the end token


@pytest.mark.parametrize("smiles", ["CC(=O)Oc1ccccc1C(=O)O", "C[C@@H](N)c1cc[nH]c1", "BrC/C=C\\Cl",
                                    "CN1C2CCC1C(C(=O)OC)C(OC(=O)c1ccccc1)C2"])
def test_char_round_trip(smiles):
    tok = tokenizers.paper_tokenizer()
    assert tok.decode(tok.encode(smiles)) == smiles


def test_atom_split():
    split = tokenizers.split_atoms
    assert split("Clc1ccc(Br)cc1") == ["Cl", "c", "1", "c", "c", "c", "(", "Br", ")", "c", "c", "1"]
    assert split("C[C@@H](N)c1cc[nH]c1") == ["C", "[C@@H]", "(", "N", ")", "c", "1", "c", "c", "[nH]", "c", "1"]
    assert split("C%10CC%10") == ["C", "%10", "C", "C", "%10"]
    assert split("[Na+].[Cl-]") == ["[Na+]", ".", "[Cl-]"]
    assert split("BC") == ["B", "C"]  # boron, not a broken Br
    assert split("C!") == ["C", "!"]  # an unknown character is its own token


def test_atom_tokenizer_fit_encode_decode():
    tok = AtomTokenizer.fit(["CCl", "c1ccccc1[nH]", "CCl"])
    assert tok.symbols == ("<eos>", "<bos>", "1", "C", "Cl", "[nH]", "c")  # specials, then sorted
    assert tok.end_id == 0 and tok.begin_id == 1
    assert tok.encode("CCl").tolist() == [1, 3, 4, 0]
    assert tok.encode("CCl", add_begin=False, add_end=False).tolist() == [3, 4]
    assert tok.decode([1, 3, 4, 0, 3]) == "CCl"
    # the same vocabulary whatever the order of the lines
    assert AtomTokenizer.fit(["c1ccccc1[nH]", "CCl"]) == tok


@pytest.mark.parametrize("smiles", ["C[C@@H](Cl)c1cc[nH]c1Br", "C%10CCCCCCCCC%10", "O=C(O)c1ccccc1"])
def test_atom_round_trip(smiles):
    tok = AtomTokenizer.fit([smiles])
    ids = tok.encode(smiles)
    assert ids[0] == tok.begin_id and ids[-1] == tok.end_id
    assert len(ids) == len(tokenizers.split_atoms(smiles)) + 2
    assert tok.decode(ids) == smiles


def test_unknown_symbols_error_lists_symbols_and_lines():
    tok = tokenizers.paper_tokenizer()
    lines = ["CCO", "CXC", "C.O", "CX"]
    with pytest.raises(ValueError) as e:
        tok.encode_lines(lines, source="in.smi")
    assert str(e.value) == ("in.smi: 2 symbols outside the 35-symbol char vocabulary: "
                            "'X' (lines 2, 4), '.' (line 3)")


def test_unknown_symbols_error_abbreviates_long_line_lists():
    tok = tokenizers.paper_tokenizer()
    with pytest.raises(ValueError, match=r"^1 symbol outside the 35-symbol char vocabulary: "
                                         r"'9' \(lines 11, 12, 13, 14, 15 and 2 more\)$"):
        tok.encode_lines(["C9CC9"] * 7, first_line=11)


def test_end_symbol_inside_a_smiles_is_unknown():
    tok = tokenizers.paper_tokenizer()
    assert tok.unknown_symbols("CC O") == [" "]
    with pytest.raises(ValueError, match=r"' ' \(line 1\)"):
        tok.encode("CC O")


def test_atom_tokenizer_unknown_tokens():
    tok = AtomTokenizer.fit(["CCO"])
    assert tok.unknown_symbols("C[Na+]CO!") == ["[Na+]", "!"]
    with pytest.raises(ValueError, match=r"2 symbols outside the 4-symbol atom vocabulary: "
                                         r"'\[Na\+\]' \(line 1\), '!' \(line 1\)"):
        tok.encode("C[Na+]CO!")
    with pytest.raises(ValueError, match=r"1 symbol outside SMILES tokens: '\?' \(lines 2, 3\)"):
        AtomTokenizer.fit(["CC", "C?", "?"])
    with pytest.raises(ValueError, match="not single SMILES tokens"):
        AtomTokenizer(["CC"])


def test_decode_errors():
    tok = AtomTokenizer.fit(["CCO"])
    with pytest.raises(ValueError, match=r"token id 9 is outside the atom vocabulary \(0..3\)"):
        tok.decode([1, 9])
    with pytest.raises(ValueError, match="begin token at position 2"):
        tok.decode([1, 2, 1])


@pytest.mark.parametrize("tok", [tokenizers.paper_tokenizer(), AtomTokenizer.fit(["C[C@@H](Cl)O", "c1ccccc1"])])
def test_json_round_trip(tok, tmp_path):
    data = json.loads(json.dumps(tok.to_json()))
    again = tokenizers.from_json(data)
    assert again == tok and type(again) is type(tok)
    assert again.encode("CCl").tolist() == tok.encode("CCl").tolist()
    path = str(tmp_path / "tokenizer.json")
    tokenizers.save(tok, path)
    assert tokenizers.load(path) == tok


def test_json_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown tokenizer kind 'bpe'"):
        tokenizers.from_json({"kind": "bpe", "symbols": ["a"]})
    atom = AtomTokenizer.fit(["CCO"]).to_json()
    with pytest.raises(ValueError, match="different token pattern"):
        tokenizers.from_json(dict(atom, pattern="."))
    with pytest.raises(ValueError, match="must start with '<eos>', '<bos>'"):
        tokenizers.from_json(dict(atom, symbols=["C", "O"]))
    with pytest.raises(ValueError, match="single characters"):
        tokenizers.from_json({"kind": "char", "symbols": []})
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=f"{path}: not a JSON file"):
        tokenizers.load(str(path))
    path.write_text('{"kind": "char", "symbols": [" ", "C", "C"]}')
    with pytest.raises(ValueError, match=rf"{path}: char tokenizer: duplicate symbols \['C'\]"):
        tokenizers.load(str(path))
    with pytest.raises(FileNotFoundError):
        tokenizers.load(str(tmp_path / "missing.json"))
    assert CharTokenizer() == tokenizers.paper_tokenizer()
