"""Runs as library calls: one run, a sweep of many, their comparison.

    experiment.py       one run and its folder (gridlab train)
    hyperparameters.py  --set and --config, typed by the agent's signature
    sweep.py            many runs on a process pool or Ray (gridlab sweep)
    compare.py          comparing runs (gridlab compare)
    diagnostics.py      bandit experiments
"""
