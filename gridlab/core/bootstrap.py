"""The percentile bootstrap, once for every estimator that gives an interval.

    estimate, low, high = bootstrap(strata, statistic, reps, confidence, rng)

`strata` is a list of arrays whose first axis holds the samples (the runs of
each task, or one stratum of logged episodes); every replicate draws each
stratum's samples with replacement, within the stratum. `statistic` takes a
list of arrays shaped [batch, samples, ...], one per stratum, and returns
[batch, ...]: the batch axis holds replicates, so a vectorised statistic
computes thousands at once; the point estimate is the statistic of the
sample itself as a batch of one. The interval is the percentile one (arch's,
and so rliable's, 'percentile' method: np.percentile, linear interpolation).

It lives in core because the off-policy estimators (planning) and the
aggregate statistics over runs (analysis) both need it, and core is the
lowest layer under both.
"""

from typing import Callable, Iterator, List, Optional

import numpy as np

# Replicates are computed in chunks holding about this many numbers, so that
# memory stays bounded however many replicates are asked for.
CHUNK_ELEMENTS = 2_000_000


def chunk_sizes(reps: int, numbers_per_rep: int) -> Iterator[int]:
    """Sizes of the chunks of replicates computed at once, summing to `reps`."""
    size = max(1, CHUNK_ELEMENTS // max(1, numbers_per_rep))
    for start in range(0, reps, size):
        yield min(size, reps - start)


def resample(strata: List[np.ndarray], size: int,
             rng: np.random.Generator) -> List[np.ndarray]:
    """`size` resamples of every stratum: [size, n, ...] drawn with replacement."""
    return [s[rng.integers(0, len(s), size=(size, len(s)))] for s in strata]


def percentile_interval(replicates: np.ndarray, confidence: float) -> np.ndarray:
    """[low, high] along the replicates' first axis, covering `confidence`."""
    alpha = (1 - confidence) / 2
    return np.percentile(replicates, [100 * alpha, 100 * (1 - alpha)], axis=0)


def bootstrap(strata: List[np.ndarray], statistic: Callable, reps: int,
              confidence: float, rng: np.random.Generator,
              numbers_per_rep: Optional[int] = None):
    """(estimate, low, high) of `statistic(strata)` by the percentile bootstrap.

    `numbers_per_rep` bounds the size of the statistic's intermediate arrays
    for one replicate, to size the chunks (by default the strata's size).
    Arguments are assumed checked: callers name their own parameters in
    their messages.
    """
    estimate = statistic([s[None] for s in strata])[0]
    if numbers_per_rep is None:
        numbers_per_rep = sum(s.size for s in strata)
    replicates = [statistic(resample(strata, size, rng))
                  for size in chunk_sizes(reps, numbers_per_rep)]
    low, high = percentile_interval(np.concatenate(replicates), confidence)
    return estimate, low, high
