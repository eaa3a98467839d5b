"""Learner-steps per second: N tabular learners in one array vs one learner.

    python benchmarks/batched_tabular.py            # full run
    python benchmarks/batched_tabular.py --quick    # a smoke run (used by the tests)

`BatchedQLearning` / `BatchedSARSA` (agents/batched_tabular.py, every
learner bit-identical to the single agent with its seed) train N learners
on a `BatchedGridWorld` of N copies of `simple`: on the compiled path
(numba), which steps the copies inside its loop, a block of learners at a
time (`BatchedGridWorld.lockstep`); on the compiled path calling `step`
once per batch step, as it must when copies slip or draw goals (the row
"numba, step()"); and on the numpy path. Beside them, in the same run, the single-learner
`QLearning` / `SARSA` driven by gridlab's `EnvironmentLoop` on one GridWorld.
A learner-step is one transition a learner learns from (restart steps of
auto-reset copies are not counted). Medians over 5 repeats of the process's
CPU time (one core); the machine is shared by several developers, so wall
time also counts waiting for a core.

Measured (median of 5, one run; this 2-core VM has spells in which the same
code runs at about half speed, so compare the rows of one run): Q-learning
33.0 M, 32.2 M, 31.0 M, 29.1 M and 19.6 M learner-steps/s at 30, 256, 1,024,
4,096 and 16,384 learners (SARSA 37.8, 35.8, 34.3, 28.2, 21.2 M); calling
`step` every batch step, 0.7-11.6 M; the numpy path 0.17-5.7 M; one
QLearning in the EnvironmentLoop 89k (SARSA 74k).
"""

import argparse
import statistics
import time

import gridlab
from agents.batched_tabular import BatchedQLearning, BatchedSARSA
from agents.tabular import SARSA, QLearning
from gridlab.envs.batched import BatchedGridWorld
from gridlab.loops.batched import BatchedEnvironmentLoop
from gridlab.loops.loggers import NoOpLogger
from gridlab.loops.environment_loop import EnvironmentLoop


class SteppedGridWorld(BatchedGridWorld):
    """Offers no lockstep, so compiled learners call `step` every batch step
    (as they must when copies slip or draw goals)."""

    def lockstep(self):
        return None


def batched_rate(agent_class, task, num_learners, batch_steps, backend):
    stepped = backend.endswith('step()')
    env = (SteppedGridWorld if stepped else BatchedGridWorld).from_task(
        task, num_learners, seed=0)
    agent = agent_class(env.single_environment_spec(), num_learners, seeds=0,
                        backend='numba' if stepped else backend)
    loop = BatchedEnvironmentLoop(env, agent)
    loop.run(5 * num_learners)  # Warm-up: the first reset, buffers, compiled code.
    start = time.process_time()
    summary = loop.run(batch_steps * num_learners)
    return summary.transitions / (time.process_time() - start)


def single_rate(agent_class, task, steps):
    env, spec = gridlab.setup_environment(gridlab.build_gridworld_task(task, seed=0))
    agent = agent_class(spec, seed=0)
    loop = EnvironmentLoop(env, agent, logger=NoOpLogger(), progress=False)
    start = time.process_time()
    loop.run(num_steps=steps)
    return steps / (time.process_time() - start)


def compiled_backend():
    """'numba' when it is installed, else None (the compiled rows are skipped)."""
    try:
        import numba  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return None
    return 'numba'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='a smoke run')
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 5
    task = 'simple'
    sizes = [30, 1024] if args.quick else [30, 256, 1024, 4096, 16384]
    compiled = compiled_backend()
    backends = [compiled, compiled + ', step()', 'numpy'] if compiled else ['numpy']
    learner_steps = 20_000 if args.quick else 4_000_000  # Per measurement, at most
    max_batch_steps = 3_000  # ... and at most this many batch steps.
    print(f'{"agent":<40} {"learners":>9} {"learner-steps/s":>16}   (CPU clock, median '
          f'of {repeats}, task {task})', flush=True)
    if 'numba' not in backends:
        print('numba is not installed (pip install .[fast]): numpy path only')
    rows = []
    for batched, single in ((BatchedQLearning, QLearning), (BatchedSARSA, SARSA)):
        rate = statistics.median(
            single_rate(single, task, 2_000 if args.quick else 20_000)
            for _ in range(repeats))
        label = f'{single.__name__} (EnvironmentLoop)'
        rows.append(dict(label=label, learners=1, steps_per_second=rate))
        print(f'{label:<40} {1:>9} {rate:>16,.0f}', flush=True)
        for backend in backends:
            for n in sizes:
                steps = max(20, min(learner_steps // n, max_batch_steps))
                rate = statistics.median(batched_rate(batched, task, n, steps, backend)
                                         for _ in range(repeats))
                label = f'{batched.__name__} ({backend}) x{n}'
                rows.append(dict(label=label, learners=n, steps_per_second=rate))
                print(f'{label:<40} {n:>9} {rate:>16,.0f}', flush=True)
    return rows


if __name__ == '__main__':
    main()
