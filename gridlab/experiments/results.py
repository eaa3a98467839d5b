"""results.csv: one row per run of a sweep, the table `gridlab compare` reads.

The sweep writes it and the comparison reads it; its format lives here,
below both, so neither imports the other to know it.
"""

import csv
import io
import pathlib
from typing import Any, Dict, Iterable, List, Sequence

from gridlab.core import files

RESULT_COLUMNS = ('agent', 'task', 'seed', 'hyperparameters', 'status', 'steps',
                  'seconds', 'mean_return', 'std_return', 'success_rate',
                  'optimal_fraction', 'steps_to_optimal', 'seconds_to_optimal',
                  'directory')


def write_csv(path: pathlib.Path, columns: Sequence[str], rows: Iterable[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction='ignore',
                            lineterminator='\n')
    writer.writeheader()
    for row in rows:
        writer.writerow({key: '' if row.get(key) is None else row.get(key)
                         for key in columns})
    files.atomic_write_text(path, buffer.getvalue())


def write_results(root: pathlib.Path, rows: List[Dict[str, Any]]) -> None:
    columns = list(RESULT_COLUMNS)
    if any('error' in row for row in rows):
        columns.append('error')
    write_csv(root / 'results.csv', columns, rows)


def read_results(path) -> List[Dict[str, Any]]:
    """The rows of a results.csv, numbers as numbers."""
    with open(path, newline='') as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key in ('agent', 'task', 'hyperparameters', 'status', 'directory', 'error'):
                continue
            row[key] = None if value == '' else float(value)
        row['seed'] = int(row['seed'])
    return rows
