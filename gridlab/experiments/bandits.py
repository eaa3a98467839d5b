"""Bandit experiments: every agent on many fresh bandits.

    results = run_bandit_experiment(lambda seed: MultiArmedBandit(means, seed=seed),
                                    {'UCB': lambda spec, seed: UCB(spec, seed=seed)},
                                    steps=1000, runs=20)
    gridlab.viz.diagnostics.plot_bandit_comparison(results)   # four panels

`run_bandit_experiment` averages over independent runs (a fresh bandit and a
fresh agent per run, seeded by run number), as bandit results always need.
"""

from typing import Callable, Dict, NamedTuple

import numpy as np

from gridlab.core import validation
from gridlab.envs.wrappers import setup_environment
from gridlab.loops.loggers import NoOpLogger
from gridlab.loops.environment_loop import EnvironmentLoop


class BanditResults(NamedTuple):
    """Per agent, arrays of shape [runs, steps]."""
    rewards: Dict[str, np.ndarray]
    best_arm: Dict[str, np.ndarray]  # 1 where the pull was a best arm.
    regret: Dict[str, np.ndarray]  # Expected reward lost by each pull.


def run_bandit_experiment(make_bandit: Callable, agents: Dict[str, Callable],
                          steps: int = 1_000, runs: int = 20) -> BanditResults:
    """Runs every agent on fresh bandits; `make_bandit(seed)`, `agent(spec, seed)`."""
    steps = validation.check_positive_int('steps', steps)
    runs = validation.check_positive_int('runs', runs)
    results = BanditResults({}, {}, {})
    for name, make_agent in agents.items():
        rewards = np.zeros((runs, steps))
        best = np.zeros((runs, steps))
        regret = np.zeros((runs, steps))
        for run in range(runs):
            bandit = make_bandit(run)
            environment, spec = setup_environment(bandit)
            agent = make_agent(spec, run)
            pulls = []
            recorder = _RecordPulls(agent, bandit, pulls)
            loop = EnvironmentLoop(environment, recorder, logger=NoOpLogger(),
                                   progress=False)
            for t in range(steps):
                rewards[run, t] = loop.run_episode()['episode_return']
            best[run] = [regret_of == 0. for regret_of in pulls]
            regret[run] = pulls
        results.rewards[name], results.best_arm[name] = rewards, best
        results.regret[name] = regret
    return results


class _RecordPulls:
    """Passes every call to `agent`, noting the regret of each pull."""

    def __init__(self, agent, bandit, regrets):
        self._agent, self._bandit, self._regrets = agent, bandit, regrets

    def select_action(self, observation):
        arm = self._agent.select_action(observation)
        self._regrets.append(self._bandit.regret(arm))
        return arm

    def observe_first(self, timestep):
        self._agent.observe_first(timestep)

    def observe(self, action, next_timestep):
        self._agent.observe(action, next_timestep)

    def update(self, wait=False):
        self._agent.update(wait)
