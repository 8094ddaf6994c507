"""Running: executors (serial, joblib, Dask), ensembles of replicates, designs and sweeps (job
keys, resumable job files), and the atomic file writers every run folder uses (``files``).
"""
