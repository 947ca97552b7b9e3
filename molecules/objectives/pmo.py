"""The definitions of the 20 PMO objectives (see :mod:`molecules.objectives`): GuacaMol v2's
targets, fingerprints, modifiers and means (Brown et al. 2019; ``guacamol.standard_benchmarks``,
whose function each comment names), built from :mod:`molecules.objectives.terms`."""

from __future__ import annotations

from molecules.objectives import terms as t

SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
DECO_HOP_START = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
QUINAZOLINE_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"


def _similarity(target: str, fp_type: str, threshold: float):
    return t.tanimoto(target, fp_type, t.clipped(threshold))


def _properties_of(smiles: str, descriptors):
    """Gaussian terms (mu = the value of ``smiles``) of ``[(descriptor, sigma), ...]``."""
    from rdkit import Chem  # pylint: disable=import-outside-toplevel
    mol = Chem.MolFromSmiles(smiles)
    return [t.descriptor(d, t.gaussian(d(mol), sigma)) for d, sigma in descriptors]


def definitions() -> dict:
    """name -> factory of the term (GuacaMol's function named in each comment)."""
    g, a = t.geometric_mean, t.arithmetic_mean
    return {
        # similarity(...) of goal_directed_suite_v2
        "albuterol_similarity": lambda: _similarity("CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", "FCFP4", 0.75),
        "mestranol_similarity": lambda: _similarity(
            "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1", "AP", 0.75),
        "celecoxib_rediscovery": lambda: _similarity(
            "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F", "ECFP4", 1.0),
        "troglitazone_rediscovery": lambda: _similarity(
            "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O", "ECFP4", 1.0),
        "thiothixene_rediscovery": lambda: _similarity(
            "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1", "ECFP4", 1.0),
        # isomers_c7h8n2o2(), isomers_c9h10n2o2pf2cl()
        "isomers_c7h8n2o2": lambda: t.isomer("C7H8N2O2"),
        "isomers_c9h10n2o2pf2cl": lambda: t.isomer("C9H10N2O2PF2Cl"),
        # median_camphor_menthol(), median_tadalafil_sildenafil()
        "median1": lambda: g([t.tanimoto("CC(C)C1CCC(C)CC1O", "ECFP4"),
                              t.tanimoto("CC1(C)C2CCC1(C)C(=O)C2", "ECFP4")]),
        "median2": lambda: g([t.tanimoto("O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C", "ECFP6"),
                              t.tanimoto("CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C",
                                         "ECFP6")]),
        # hard_osimertinib()
        "osimertinib_mpo": lambda: g([
            _similarity("COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34", "FCFP4", 0.8),
            t.tanimoto("COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34", "ECFP6",
                       t.min_gaussian(0.85, 0.1)),
            t.descriptor(t.tpsa, t.max_gaussian(100, 10)), t.descriptor(t.logp, t.min_gaussian(1, 1))]),
        # hard_fexofenadine()
        "fexofenadine_mpo": lambda: g([
            _similarity("CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4", "AP", 0.8),
            t.descriptor(t.tpsa, t.max_gaussian(90, 10)), t.descriptor(t.logp, t.min_gaussian(4, 1))]),
        # ranolazine_mpo()
        "ranolazine_mpo": lambda: g([
            _similarity("COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2", "AP", 0.7),
            t.descriptor(t.logp, t.max_gaussian(7, 1)), t.descriptor(t.atom_count("F"), t.gaussian(1, 1.0)),
            t.descriptor(t.tpsa, t.max_gaussian(95, 20))]),
        # perindopril_rings(), amlodipine_rings()
        "perindopril_mpo": lambda: g([t.tanimoto("O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC", "ECFP4"),
                                      t.descriptor(t.num_aromatic_rings, t.gaussian(2, 0.5))]),
        "amlodipine_mpo": lambda: g([t.tanimoto(r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC", "ECFP4"),
                                     t.descriptor(t.num_rings, t.gaussian(3, 0.5))]),
        # sitagliptin_replacement(), zaleplon_with_other_formula()
        "sitagliptin_mpo": lambda: g([t.tanimoto(SITAGLIPTIN, "ECFP4", t.gaussian(0, 0.1)),
                                      *_properties_of(SITAGLIPTIN, [(t.logp, 0.2), (t.tpsa, 5)]),
                                      t.isomer("C16H15F6N5O")]),
        "zaleplon_mpo": lambda: g([t.tanimoto("O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1", "ECFP4"),
                                   t.isomer("C19H17N3O2")]),
        # valsartan_smarts(): the valsartan SMARTS with sitagliptin's logP, TPSA and Bertz
        "valsartan_smarts": lambda: g([t.smarts("CN(C=O)Cc1ccc(c2ccccc2)cc1"), *_properties_of(
            "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F", [(t.logp, 0.2), (t.tpsa, 5), (t.bertz, 30)])]),
        # decoration_hop(), scaffold_hop()
        "deco_hop": lambda: a([t.tanimoto(DECO_HOP_START, "PHCO", t.clipped(0.85)),
                               t.smarts("CS([#6])(=O)=O", inverse=True),
                               t.smarts("[#7]-c1ccc2ncsc2c1", inverse=True), t.smarts(QUINAZOLINE_SCAFFOLD)]),
        "scaffold_hop": lambda: a([t.tanimoto(DECO_HOP_START, "PHCO", t.clipped(0.75)),
                                   t.smarts("[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"),
                                   t.smarts(QUINAZOLINE_SCAFFOLD, inverse=True)]),
        # qed_benchmark()
        "qed": lambda: t.descriptor(t.qed),
    }
