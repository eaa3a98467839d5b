"""Options (Sutton, Precup and Singh, 1999) and planning with them.

An option is a course of action that runs for several steps: it may start in
the states of its initiation set I, then picks primitive actions with its
policy pi until, on arriving in state s, it terminates with probability
beta(s). A primitive action a is the option that may start anywhere, always
picks a and always stops after one step.

Its model is what it does on average, in closed form (the paper's eq. 5-6):
for an option started in s,

    R(s)     = E[r_1 + g_1 r_2 + g_1 g_2 r_3 + ... until it stops]
    M(s, s') = E[g_1 ... g_k ; it stops in s' after k steps]

where g_t is the discount of step t (0 once the episode has ended). With P
the option policy's discounted one-step matrix and b = beta,
R = (I - P diag(1 - b))^-1 r and M = (I - P diag(1 - b))^-1 P diag(b).
SMDP value iteration then backs up whole options:
Q(s, o) = R_o(s) + sum_s' M_o(s, s') max_o' Q(s', o').

`hallway_options` builds the paper's eight options of the four-rooms grid:
from anywhere in a room to one of that room's two doorways. Training an
option agent until its greedy option policy is optimal is judging, a layer
up: `gridlab.evaluation.options.train_until_optimal_from_start`.
"""

import dataclasses
from typing import List, NamedTuple, Sequence, Tuple

import numpy as np

from gridlab.envs.actions import ACTION_NAMES, DELTAS, NUM_ACTIONS
from gridlab.envs.model import TabularModel


@dataclasses.dataclass(frozen=True)
class Option:
    """A Markov option over the states 0..S-1 of a finite environment.

    initiation: [S] bool, where the option may start.
    policy: [S] int, the primitive action it takes in each state (used only
      where it may run: its initiation set and wherever beta < 1).
    termination: [S] float beta(s), the chance it stops on arriving in s.
    """
    name: str
    initiation: np.ndarray
    policy: np.ndarray
    termination: np.ndarray

    def __post_init__(self):
        sizes = {np.shape(self.initiation), np.shape(self.policy), np.shape(self.termination)}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise ValueError(f'option {self.name!r}: initiation, policy and termination must '
                             f'be 1-D arrays of one length, got shapes {sorted(sizes)}')
        beta = np.asarray(self.termination, dtype=float)
        if np.any(beta < 0) or np.any(beta > 1):
            raise ValueError(f'option {self.name!r}: termination must lie in [0, 1]')

    @property
    def is_primitive(self) -> bool:
        return bool(np.all(self.termination == 1.) and np.all(self.initiation) and
                    np.unique(self.policy).size == 1)


def primitive_options(num_states: int, num_actions: int = NUM_ACTIONS,
                      names: Sequence[str] = ACTION_NAMES) -> List[Option]:
    """Each primitive action as a one-step option available everywhere."""
    return [Option(str(names[a]) if a < len(names) else f'action_{a}',
                   np.ones(num_states, dtype=bool),
                   np.full(num_states, a, dtype=np.int64),
                   np.ones(num_states))
            for a in range(num_actions)]


def hallways_and_rooms(walls: np.ndarray) -> Tuple[List[Tuple[int, int]], List[np.ndarray]]:
    """Doorways (free cells between walls on two opposite sides) and rooms.

    Rooms are the connected free regions once the doorways are removed, each
    an (H, W) bool mask.
    """
    walls = np.asarray(walls, dtype=bool)
    height, width = walls.shape

    def wall(y, x):
        return not (0 <= y < height and 0 <= x < width) or walls[y, x]

    hallways = [(y, x) for y in range(height) for x in range(width)
                if not walls[y, x] and ((wall(y - 1, x) and wall(y + 1, x)) or
                                        (wall(y, x - 1) and wall(y, x + 1)))]
    free = ~walls
    for y, x in hallways:
        free[y, x] = False
    rooms, seen = [], np.zeros_like(free)
    for y, x in np.argwhere(free):
        if seen[y, x]:
            continue
        room, stack = np.zeros_like(free), [(y, x)]
        seen[y, x] = room[y, x] = True
        while stack:
            cy, cx = stack.pop()
            for dy, dx in DELTAS:
                ny, nx = cy + dy, cx + dx
                if 0 <= ny < height and 0 <= nx < width and free[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = room[ny, nx] = True
                    stack.append((ny, nx))
        rooms.append(room)
    return hallways, rooms


def hallway_options(environment) -> List[Option]:
    """Sutton, Precup and Singh's hallway options for a GridWorld of rooms.

    For each room and each doorway h of that room: the option may start in
    the room or in the room's other doorways, follows a shortest path inside
    the room to h, and stops (beta = 1) at h or anywhere outside the room
    (beta = 0 inside). The goal cell is never a start: the episode is over
    there. On the four-rooms grid that gives eight options.
    """
    walls = environment.walls
    height, width = walls.shape
    hallways, rooms = hallways_and_rooms(walls)
    options = []
    for number, room in enumerate(rooms):
        doors = [h for h in hallways
                 if any(0 <= h[0] + dy < height and 0 <= h[1] + dx < width and
                        room[h[0] + dy, h[1] + dx] for dy, dx in DELTAS)]
        for target in doors:
            region = room.copy()
            for door in doors:
                region[door] = True
            policy = _shortest_path_policy(region, target)
            # Nobody acts at the goal (the episode is over): not a start.
            initiation = region & environment.decision_cells()
            initiation[target] = False
            termination = np.where(region, 0., 1.)
            termination[target] = 1.
            options.append(Option(f'room {number} to hallway {target}',
                                  initiation.ravel(), policy.ravel(), termination.ravel()))
    return options


def _shortest_path_policy(region: np.ndarray, target) -> np.ndarray:
    """[H, W] actions leading to `target` by a shortest path within `region`.

    Breadth-first search back from the target; among equally short moves the
    first in action order is taken, so the policy is deterministic.
    """
    height, width = region.shape
    distance = np.full(region.shape, np.inf)
    distance[target] = 0
    frontier = [target]
    while frontier:
        following = []
        for y, x in frontier:
            for dy, dx in DELTAS:
                ny, nx = y + dy, x + dx
                if (0 <= ny < height and 0 <= nx < width and region[ny, nx] and
                        distance[ny, nx] == np.inf):
                    distance[ny, nx] = distance[y, x] + 1
                    following.append((ny, nx))
        frontier = following
    policy = np.zeros(region.shape, dtype=np.int64)
    for y, x in np.argwhere(region):
        options = [distance[y + dy, x + dx] if 0 <= y + dy < height and 0 <= x + dx < width
                   else np.inf for dy, dx in DELTAS]
        policy[y, x] = int(np.argmin(options))
    return policy


class OptionModel(NamedTuple):
    """The models of a list of options: R [S, O], M [S, O, S], available [S, O]."""
    rewards: np.ndarray
    transitions: np.ndarray
    available: np.ndarray


def option_models(model: TabularModel, options: Sequence[Option]) -> OptionModel:
    """Each option's exact reward and discounted termination model (see above)."""
    num_states = model.num_states
    rows = np.arange(num_states)
    # P(s, s') and r(s) of one primitive action a, discount folded into P.
    one_step_p = np.zeros((model.num_actions, num_states, num_states))
    one_step_r = np.zeros((model.num_actions, num_states))
    for a in range(model.num_actions):
        for k in range(np.shape(model.next_states)[-1]):
            np.add.at(one_step_p[a], (rows, model.next_states[:, a, k]),
                      model.probabilities[:, a, k] * model.discounts[:, a, k])
        one_step_r[a] = np.sum(model.probabilities[:, a] * model.rewards[:, a], axis=-1)
    rewards = np.zeros((num_states, len(options)))
    transitions = np.zeros((num_states, len(options), num_states))
    available = np.zeros((num_states, len(options)), dtype=bool)
    for o, option in enumerate(options):
        if np.shape(option.policy) != (num_states,):
            raise ValueError(f'option {option.name!r} covers {np.shape(option.policy)[0]} '
                             f'states; the model has {num_states}')
        policy = np.asarray(option.policy, dtype=np.int64)
        p = one_step_p[policy, rows]  # [S, S]: row s under the option's action.
        r = one_step_r[policy, rows]
        beta = np.asarray(option.termination, dtype=float)
        inverse = np.linalg.inv(np.eye(num_states) - p * (1. - beta)[None, :])
        rewards[:, o] = inverse @ r
        transitions[:, o] = inverse @ (p * beta[None, :])
        available[:, o] = option.initiation
    return OptionModel(rewards, transitions, available)


def smdp_value_iteration(option_model: OptionModel, tolerance: float = 1e-10,
                         max_sweeps: int = 100_000, reference=None,
                         reference_tolerance: float = 1e-6):
    """Synchronous SMDP value iteration over options.

    Returns (V, sweeps): V [S] at convergence (change below `tolerance`), and
    the number of sweeps taken, or, with `reference` (e.g. V*), the number of
    sweeps until every state is within `reference_tolerance` of it.
    States with no available option keep the value 0 (nobody acts there).
    """
    rewards, transitions, available = option_model
    acting = available.any(axis=1)
    values = np.zeros(rewards.shape[0])
    for sweep in range(1, max_sweeps + 1):
        q = np.where(available, rewards + transitions @ values, -np.inf)
        new_values = np.where(acting, q.max(axis=1), 0.)
        change = np.max(np.abs(new_values - values))
        values = new_values
        if reference is not None:
            if np.max(np.abs(values - reference)) < reference_tolerance:
                return values, sweep
        elif change < tolerance:
            return values, sweep
    raise RuntimeError(f'SMDP value iteration did not converge in {max_sweeps} sweeps')


def option_policy_values(option_model: OptionModel, policy) -> np.ndarray:
    """V [S] of following option policy[s] in every state (call and return).

    States where policy[s] < 0 (nobody acts there) are worth 0. Raises a
    ValueError if the policy picks an option where it is not available.
    """
    rewards, transitions, available = option_model
    policy = np.asarray(policy, dtype=np.int64)
    acting = policy >= 0
    rows = np.arange(rewards.shape[0])
    chosen = np.where(acting, policy, 0)
    if np.any(acting & ~available[rows, chosen]):
        bad = int(np.flatnonzero(acting & ~available[rows, chosen])[0])
        raise ValueError(f'policy picks option {policy[bad]} in state {bad}, where it '
                         'is not available')
    r = np.where(acting, rewards[rows, chosen], 0.)
    m = np.where(acting[:, None], transitions[rows, chosen], 0.)
    return np.linalg.solve(np.eye(len(rows)) - m, r)

