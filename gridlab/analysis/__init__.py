"""Numpy estimators for comparing runs (Agarwal et al., 2021): IQM, stratified
bootstrap intervals, probability of improvement, performance profiles.

    stats.py   the estimators (their plots: gridlab.viz.statistics; the rows of
               aggregate.csv: gridlab.experiments.aggregates)
"""
