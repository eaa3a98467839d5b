"""Rewards divided by the running spread of discounted returns.

Where a task's rewards are large or long-summed (MountainCar's -1 on each of
200 steps, a return near -87 at discount 0.99), a critic's targets and a
policy's advantages start far from the network's scale. `ReturnScaler`
divides each reward by the running standard deviation of the copies'
discounted returns, then clips it to [-clip, clip]: the rule of
Stable-Baselines3's `VecNormalize` (its `norm_reward`), which the RL Zoo's
settings for such tasks assume. The scale only divides (no mean is taken
off), so every reward keeps its sign; the scale moves while it learns, and
the clip cuts rare large rewards short.
"""

import dm_env
import numpy as np

_FIRST, _LAST = int(dm_env.StepType.FIRST), int(dm_env.StepType.LAST)


class ReturnScaler:
    """Scales the rewards of N copies by the spread of their discounted returns.

    Each copy carries `G <- discount * G + r` through its episode (0 again
    after a LAST step); every step's G of the copies that moved updates a
    running mean and variance (Chan's parallel rule), and the step's rewards
    are divided by sqrt(variance + epsilon) as it then stands. Copies on a
    FIRST step (a restart, not a transition) neither count nor change.
    """

    def __init__(self, clip: float = 10., epsilon: float = 1e-8):
        self.clip, self.epsilon = clip, epsilon
        # VecNormalize's start: variance 1 held by a tiny count, so the
        # first batch sets the scale almost alone.
        self.mean, self.var, self.count = 0., 1., 1e-4
        self.reset()

    def reset(self) -> None:
        """New episodes begin (an environment's reset): no return carried over."""
        self._returns = None  # Each copy's discounted return so far.
        self._carry = None  # The discount each copy's return carries into its next step.

    def __call__(self, rewards, step_types, discounts) -> np.ndarray:
        """The scaled rewards of one step of N copies (float32, shape (N,)).

        Args:
          rewards: the step's rewards, shape (N,).
          step_types: the step's step types (FIRST on a copy's restart).
          discounts: the discount from this step to the next, each copy's
            (the agent's times the TimeStep's; 0 after a termination).
        """
        rewards = np.asarray(rewards, np.float64).reshape(-1)
        step_types = np.asarray(step_types).reshape(-1)
        if self._returns is None or self._returns.shape != rewards.shape:
            self._returns = np.zeros_like(rewards)
            self._carry = np.zeros_like(rewards)
        moved = step_types != _FIRST
        self._returns = np.where(moved, self._returns * self._carry + rewards, 0.)
        if moved.any():
            self._update(self._returns[moved])
        self._carry = np.asarray(discounts, np.float64).reshape(-1)
        self._returns[step_types == _LAST] = 0.
        scaled = np.clip(rewards / np.sqrt(self.var + self.epsilon), -self.clip, self.clip)
        return np.where(moved, scaled, 0.).astype(np.float32)

    def _update(self, batch: np.ndarray) -> None:
        count = batch.size
        delta = batch.mean() - self.mean
        total = self.count + count
        self.mean += delta * count / total
        self.var = (self.var * self.count + batch.var() * count
                    + delta ** 2 * self.count * count / total) / total
        self.count = total

    def state(self) -> dict:
        """The running statistics, as plain floats (checkpoints load with
        torch's weights_only). The returns under way are not kept: training
        resumes from a reset environment, which `reset` starts afresh."""
        return {'mean': float(self.mean), 'var': float(self.var), 'count': float(self.count)}

    def load_state(self, state: dict) -> None:
        self.mean, self.var, self.count = (float(state[k]) for k in ('mean', 'var', 'count'))
        self.reset()


def save_scale(scaler, state: dict) -> None:
    """Puts `scaler`'s statistics (if it is not None) into a checkpoint `state`."""
    if scaler is not None:
        state['return_scaler'] = scaler.state()


def load_scale(scaler, state: dict, agent: str) -> None:
    """Takes `scaler`'s statistics (if it is not None) from a checkpoint
    `state`, or refuses a checkpoint without them, naming `agent`."""
    if scaler is None:
        return
    if 'return_scaler' not in state:
        raise ValueError(f'this checkpoint has no reward scale, which this {agent} keeps '
                         f'(normalize_rewards=True): it was saved by an agent that did '
                         f'not normalise rewards')
    scaler.load_state(state['return_scaler'])


class LearnsShapedRewards:
    """The rewards a policy agent learns from: the task's, plus its count
    bonus, scaled when it normalises rewards.

    For agents with `_visit_bonus` (a `VisitCountBonus`, falsy when off),
    `_return_scaler` (a `ReturnScaler` or None), `discount` and `steps`.
    """

    def _learned_rewards(self, rewards, observations, step_types, discounts) -> np.ndarray:
        """The learned rewards (float32) of a step of N copies; `discounts`
        are the TimeSteps'. A population calls it on each member's own copies."""
        rewards = np.asarray(rewards, np.float32)
        if self._visit_bonus:
            rewards = rewards + self._visit_bonus(observations, step_types, self.steps)
        if self._return_scaler is not None:
            rewards = self._return_scaler(rewards, step_types,
                                          self.discount * np.asarray(discounts))
        return rewards

    def _learned_reward(self, timestep: dm_env.TimeStep) -> float:
        """The learned reward of one environment's `timestep`."""
        return float(self._learned_rewards([timestep.reward], [timestep.observation],
                                           [timestep.step_type], [timestep.discount])[0])
