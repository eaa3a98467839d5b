"""The bottom layer: what every other part of gridlab builds on.

    actor.py        the Actor interface, PassiveActor, the optional capabilities (Protocols)
    specs.py        EnvironmentSpec, make_environment_spec
    validation.py   the parameter checks behind every "must be ..." message
    files.py        atomic file writes
    checkpoints.py  checksummed, all-or-nothing agent checkpoints (torch, loaded when used)
    replay.py       ReplayBuffer, Transitions
    bootstrap.py    the one percentile bootstrap (off-policy estimates, aggregates)
    errors.py       the exceptions a run reports in one line
"""

from gridlab.core.actor import (Actor, Checkpointable, HasActionProbabilities,
                                HasDiscount, HasQValues, PassiveActor, ReportsLoss,
                                TrainsOnBatches, agent_discount, evaluation_mode)
from gridlab.core.specs import EnvironmentSpec, make_environment_spec

__all__ = ['Actor', 'Checkpointable', 'EnvironmentSpec', 'HasActionProbabilities',
           'HasDiscount', 'HasQValues', 'PassiveActor', 'ReportsLoss', 'TrainsOnBatches',
           'agent_discount', 'evaluation_mode', 'make_environment_spec']
