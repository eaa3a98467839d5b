"""Test-session settings."""

import torch

# The agents' networks are tiny: one thread is faster than two, and on a busy
# machine threads that wait on each other make tests crawl.
torch.set_num_threads(1)
