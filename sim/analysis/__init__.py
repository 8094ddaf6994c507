"""Tables in, tables out: forecast quantiles, target reachability, paired policy effects, Sobol
indices, ABC-SMC and calibration, back-test scores.
"""
