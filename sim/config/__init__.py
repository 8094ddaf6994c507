"""From composed mappings to a validated run configuration: validation (``validate``), the one
dotted-key walker (``keys``), command-line overrides (``overrides``), Hydra composition once per
run (``compose``), posteriors (``posterior``) and data files of published counts (``history``).
"""
