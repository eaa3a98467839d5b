"""results.csv: one row per run of a sweep, the table `gridlab compare` reads.

The sweep writes it and the comparison reads it; its format lives here,
below both, so neither imports the other to know it.
"""

import csv
import io
import pathlib
from typing import Any, Dict, Iterable, List, Sequence

from gridlab.core import files
from gridlab.core.errors import ExperimentError

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


_TEXT_COLUMNS = ('agent', 'task', 'hyperparameters', 'status', 'directory', 'error')


def read_results(path) -> List[Dict[str, Any]]:
    """The rows of a results.csv, numbers as numbers (seeds as exact ints).

    A file that is not one gridlab wrote (a row of other width, a number
    that is not one, no seed column) is an ExperimentError naming the row.
    """
    shown = repr(str(path))
    try:
        with open(path, newline='', encoding='utf-8') as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ExperimentError(f'{shown} is not a readable results.csv ({error})') from None
    for number, row in enumerate(rows, start=1):
        where = f'{shown}, row {number}'
        if None in row or None in row.values():
            raise ExperimentError(f'{where}: {len(row) - (None in row)} columns in the '
                                  'header, another number in the row; not a results.csv '
                                  'gridlab wrote')
        try:
            seed = int(row['seed'])  # Not through float: seeds go up to 2**63 - 1.
        except KeyError:
            raise ExperimentError(f'{shown} has no seed column; not a results.csv '
                                  'gridlab wrote') from None
        except ValueError:
            raise ExperimentError(f'{where}: seed {row["seed"]!r} is not a whole '
                                  'number') from None
        for key, value in row.items():
            if key in _TEXT_COLUMNS:
                continue
            try:
                row[key] = None if value == '' else float(value)
            except ValueError:
                raise ExperimentError(f'{where}: {key} {value!r} is not a number') from None
        row['seed'] = seed
    return rows
