"""How long `import gridlab` takes in a fresh interpreter, beside its peers.

    python benchmarks/import_time.py            # 15 fresh interpreters per row
    python benchmarks/import_time.py --quick    # a smoke run (used by the tests)

Each figure is the median wall time of `python -c "import X"` less that of
`python -c "pass"` (the interpreter's own start-up), so it is what importing
costs a script. gridlab's own layers load eagerly only where they are light;
pictures, video, torch and Gymnasium load on first use. The peers are the
libraries gridlab builds on or sits beside: dm_env (its core), and numpy,
Gymnasium and torch (what a user's script imports anyway).
"""

import argparse
import statistics
import subprocess
import sys
import time

MODULES = ('gridlab', 'dm_env', 'numpy', 'gymnasium', 'torch')


def import_seconds(statement: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, '-c', statement], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='3 interpreters per row')
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 15
    baseline = import_seconds('pass', repeats)
    rows = []
    print(f"{'import':<18} {'ms (median, start-up subtracted)':>34}")
    for module in MODULES:
        seconds = max(import_seconds(f'import {module}', repeats) - baseline, 0.)
        rows.append({'import': f'import {module}', 'milliseconds': 1000 * seconds})
        print(f"{'import ' + module:<18} {1000 * seconds:>34.0f}")
    return rows


if __name__ == '__main__':
    main()
