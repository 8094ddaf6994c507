"""The model: NumPy, SciPy and Mesa only (no Hydra, OmegaConf, YAML, pandas or matplotlib).

The parameter schema with units and sources (``schema``), the calendar, firm arrays, population
synthesis, rules, chains, levers, recognition (``tiers``), the Mesa agents and ``TierModel``, and
the run record with its one reducer (``record``).
"""
