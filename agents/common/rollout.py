"""What the agents that learn from rollouts of N copies share (PPO, A2C).

`Rollout` holds T batch steps of N copies in the layout their learning
takes; `gae` turns a rollout's rewards and values into advantages (lambda 1:
n-step returns bootstrapped from the critic, as A2C learns from); and
`SamplesRollouts` picks each copy's action by the Gumbel-max trick with noise
drawn once per rollout, so that acting on a batch step is one network call,
one addition and an argmax.

Bootstrapping uses the one rule of every gridlab agent, `discount *
timestep.discount`: 0 after a termination, the ordinary discount after a
truncation (the final observation's value is bootstrapped). Copies restart
on the step after a LAST one; those restart "transitions" are masked out.
"""

import dm_env
import numpy as np
import torch

_LAST = int(dm_env.StepType.LAST)


def gae(rewards: torch.Tensor, discounts: torch.Tensor, values: torch.Tensor,
        step_types: torch.Tensor, lambda_: float) -> torch.Tensor:
    """Generalised advantage estimates of a rollout of T steps from N copies.

    Step t goes from observation t (value `values[t]`, step type
    `step_types[t]`) to observation t + 1 with `rewards[t]` and
    `discounts[t]` (the agent's discount times the TimeStep's). `values` and
    `step_types` have T + 1 rows. A step from a LAST observation is a
    restart, not a transition: its advantage is 0 and nothing flows across it.

        delta_t = r_t + d_t * V(s_{t+1}) - V(s_t)
        A_t = delta_t + d_t * lambda * [s_{t+1} not LAST] * A_{t+1}
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    valid = step_types[:-1] != _LAST
    continues = (step_types[1:] != _LAST).float()
    deltas = rewards + discounts * values[1:] - values[:-1]
    future = torch.zeros_like(rewards[0])
    for t in range(steps - 1, -1, -1):
        future = deltas[t] + discounts[t] * lambda_ * continues[t] * future
        advantages[t] = future
    return torch.where(valid, advantages, torch.zeros_like(advantages))


class Rollout:
    """T batch steps of N copies: T + 1 observations and step types, T
    actions, rewards and discounts.

    The arrays are numpy arrays that torch tensors share (no copies): each
    step writes the environment's arrays in place, and learning reads the
    same memory as tensors (`tensors`, in the order above). Row 0 of the
    observations and step types is the step the rollout starts from (the
    last one of the rollout before).
    """

    def __init__(self, first: dm_env.TimeStep, length: int, dtype):
        observation = np.asarray(first.observation, dtype)
        self.num_envs = n = observation.shape[0]
        self.observations = np.empty((length + 1,) + observation.shape, dtype)
        self.actions = np.empty((length, n), np.int64)
        self.rewards = np.empty((length, n), np.float32)
        self.discounts = np.empty((length, n), np.float32)
        self.step_types = np.empty((length + 1, n), np.uint8)
        self.tensors = [torch.from_numpy(a) for a in (
            self.observations, self.actions, self.rewards, self.discounts,
            self.step_types)]
        self.observations[0] = observation
        self.step_types[0] = first.step_type
        self.t = 0  # Batch steps collected.
        self.noise = None  # The rollout's Gumbel noise, drawn at its first action.
        self.awaiting = True  # Whether the next select_actions is the loop's.

    @property
    def full(self) -> bool:
        return self.t == len(self.actions)

    def record(self, actions, timestep: dm_env.TimeStep, reward, discount: float) -> None:
        """One batch step: the actions taken, and what followed them (`reward`
        the environment's plus any bonus; `discount` the agent's own, times
        the TimeStep's). Callers `check` the step first, before any bonus
        counts its observations."""
        t = self.t
        self.actions[t] = actions
        self.rewards[t] = reward
        np.multiply(timestep.discount, discount, out=self.discounts[t])
        self.observations[t + 1] = timestep.observation
        self.step_types[t + 1] = timestep.step_type
        self.t += 1
        self.awaiting = True

    def check(self, timestep: dm_env.TimeStep) -> None:
        """Refuses a batch step that is not one observation per copy, naming it."""
        shape = np.shape(timestep.observation)
        if shape != self.observations.shape[1:]:
            raise ValueError(f'a batch step of observations of shape {shape}; this '
                             f'rollout holds {self.num_envs} copies of shape '
                             f'{self.observations.shape[2:]}, expected '
                             f'{self.observations.shape[1:]}')

    def start_next(self) -> None:
        self.observations[0] = self.observations[-1]
        self.step_types[0] = self.step_types[-1]
        self.t, self.noise = 0, None


class SamplesRollouts:
    """`select_actions` by Gumbel-max, for agents that learn from a `Rollout`.

    Needs `_as_inputs(observations)` (a batch as the network's input
    tensor), `_logits(inputs)`, `_generator` (a torch Generator),
    `_num_actions`, `_device`, `greedy`, `_rollout` (the current `Rollout`
    or None) and `batch_steps_per_update` (the rollout's length).
    """

    def select_actions(self, observations, acting=None) -> np.ndarray:
        """Actions for a batch of N observations, shape (N,): sampled, or each
        one's most probable action under `evaluation_mode`.

        Every copy acts (one network call for the batch; `acting` is
        accepted for `TrainsOnBatches` and changes nothing: the actions of
        copies about to restart are masked out of learning). In batched
        training the rollout's Gumbel noise, drawn once per rollout, picks
        the actions; elsewhere fresh noise does.
        """
        inputs = self._as_inputs(observations)
        if self.greedy:
            return self._sample(inputs, None)
        rollout = self._rollout
        if rollout is not None and rollout.awaiting and inputs.shape[0] == rollout.num_envs:
            if rollout.noise is None:
                rollout.noise = self._gumbel_noise(
                    (self.batch_steps_per_update, rollout.num_envs, self._num_actions))
            rollout.awaiting = False
            return self._sample(inputs, rollout.noise[rollout.t])
        return self._sample(inputs, self._gumbel_noise((inputs.shape[0], self._num_actions)))

    def _gumbel_noise(self, shape) -> torch.Tensor:
        uniform = torch.rand(shape, generator=self._generator).clamp_(min=1e-12)
        return uniform.log_().neg_().log_().neg_()

    def _sample(self, inputs: torch.Tensor, noise) -> np.ndarray:
        """Actions drawn from pi(. | inputs) (Gumbel-max; greedy under evaluation)."""
        with torch.inference_mode():
            logits = self._logits(inputs.to(self._device))
            if not self.greedy:
                logits = logits + noise.to(self._device)
            return logits.argmax(dim=-1).cpu().numpy()
