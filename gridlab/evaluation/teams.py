"""Judging independent learners as a team, exactly, on the joint MDP.

`greedy_joint_policy` reads every actor's greedy action on every joint state
of a `MultiAgentGridWorld`, and `team_return` evaluates that joint policy on
the joint model, to set beside value iteration's optimum
(`optimal_team_return`). `train_independent` trains the actors together
(`train_until.train_until` drives `gridlab.loops.multiagent.MultiAgentLoop`)
and records the team's greedy return at every check.
"""

from typing import Dict, Mapping, Optional

import numpy as np

from gridlab import planning
from gridlab.evaluation.train_until import train_until
from gridlab.loops.multiagent import MultiAgentLoop


def greedy_joint_policy(environment, actors: Mapping[str, object]) -> np.ndarray:
    """The joint action the actors take greedily in every joint state, [S].

    Read through each actor's `q_values` (first best action on ties), so the
    environment is not stepped.
    """
    policy = np.zeros(environment.num_joint_states, dtype=np.int64)
    for s in range(environment.num_joint_states):
        observations = environment.observation_at(environment.joint_positions(s))
        actions = [int(np.argmax(actors[name].q_values(observations[name])))
                   for name in environment.agent_names]
        policy[s] = environment.joint_action(actions)
    return policy


def team_return(environment, policy, model=None) -> float:
    """The exact discounted team return of a joint policy [S] from the start."""
    if model is None:
        model = environment.joint_model()
    q = planning.policy_evaluation(model, np.asarray(policy, dtype=np.int64))
    start = environment.start_index
    return float(q[start, policy[start]])


def optimal_team_return(environment, model=None) -> float:
    """max_a Q*(start, a) of the joint MDP: the best the team can do."""
    if model is None:
        model = environment.joint_model()
    return float(planning.value_iteration(model)[environment.start_index].max())


def train_independent(environment, actors: Mapping[str, object], num_steps: int,
                      check_every: Optional[int] = None) -> Dict:
    """Trains the actors together; returns the team's exact greedy return over time.

    Every `check_every` steps (at the end of the episode crossing the mark;
    by default only at the end) the greedy joint policy is evaluated on the
    joint model. Training never stops early: independent learners can reach
    the joint optimum and leave it again, and the checks show when.
    Returns {'checks': [(steps, team return)], 'seconds': training time
    without the checks, 'optimal': the joint optimum}.
    """
    model = environment.joint_model()
    optimal = optimal_team_return(environment, model)
    loop = MultiAgentLoop(environment, actors)
    checks = []
    steps = 0

    def train(budget: int) -> int:
        nonlocal steps
        taken = loop.run_episode(max_steps=budget)['episode_length']
        steps += taken
        return taken

    def judge() -> float:
        value = team_return(environment, greedy_joint_policy(environment, actors), model)
        checks.append((steps, value))
        return float(abs(value - optimal) < 1e-6)

    result = train_until(train, judge, num_steps, check_every or num_steps,
                         stop_when_solved=False)
    return {'checks': checks, 'seconds': result.seconds, 'optimal': optimal}
