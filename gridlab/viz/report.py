"""One HTML page per run and per sweep: everything about it, in one offline file.

    write_run_report('runs/simple-dqn-seed0')     # -> runs/simple-dqn-seed0/report.html
    write_sweep_report('sweeps/tabular')          # -> sweeps/tabular/report.html
    write_report(directory)                       # whichever of the two fits

A run report shows the configuration and hyperparameters (summary.json's
"config"), how training and evaluation went ("training", "evaluation"), the
learning curve, the Q-value heatmaps and the policy picture, and the
evaluation video (plus any periodic videos in videos/), playing inline. A
sweep report shows the aggregate table with its intervals (aggregate.csv),
one row per run (results.csv), every picture in the folder, and a link to
each run's own report.

Images and videos are embedded as data URIs, so the page can be mailed or
moved on its own and opens with no network: it loads nothing from anywhere.
Videos larger than `EMBED_LIMIT` are referenced beside the page instead.
`gridlab report DIR` rebuilds a page.
"""

import base64
import csv
import html
import json
import os
import pathlib
from typing import Iterable, List, Optional

from gridlab.core import files

__all__ = ['EMBED_LIMIT', 'ReportError', 'write_report', 'write_run_report',
           'write_tune_report',
           'write_sweep_report']

REPORT_NAME = 'report.html'
# A bigger video is linked, not embedded: base64 makes pages a third larger,
# and a browser holds the whole page in memory.
EMBED_LIMIT = 20 * 1024 * 1024
RUN_PICTURES = (('learning_curve.png', 'Learning curve'),
                ('q_values.png', 'Action values'),
                ('policy.png', 'Greedy policy'))
AGGREGATE_COLUMNS = ('agent', 'task', 'metric', 'estimate', 'low', 'high')

_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif;
       margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
/* A long, wide table (results.csv) scrolls in its own box, both scroll bars
   in sight, its header row kept on top. */
.table-box { overflow: auto; max-width: 100%; max-height: 36em; }
.table-box th { position: sticky; top: 0; }
.table-box td { white-space: nowrap; }  /* 'q-' over 'learning' doubled each row */
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f4f6; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
video { max-width: 100%; border: 1px solid #ccc; }
.note { color: #8a4b00; }
.muted { color: #666; }
"""


class ReportError(ValueError):
    """A folder that is neither a run nor a sweep, or unreadable input."""


# ---------------------------------------------------------------------------
# HTML pieces.


def _escape(value) -> str:
    return html.escape(str(value), quote=True)


def _format(value) -> str:
    """Numbers to a few significant digits; anything else as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f'{value:.4g}'
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _table(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    head = ''.join(f'<th>{_escape(name)}</th>' for name in header)
    body = []
    for row in rows:
        cells = []
        for value in row:
            text = _format(value)
            kind = ' class="number"' if _is_number(value) and not isinstance(
                value, bool) else ''
            cells.append(f'<td{kind}>{_escape(text)}</td>')
        body.append('<tr>' + ''.join(cells) + '</tr>')
    # A table wider than the page (results.csv has 14 columns) scrolls in
    # its own box, so the page around it does not scroll sideways.
    return (f'<div class="table-box"><table><tr>{head}</tr>{"".join(body)}'
            '</table></div>')


def _key_values(mapping: dict) -> str:
    return _table(('name', 'value'), sorted(mapping.items()))


def _data_uri(path: pathlib.Path, mime: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode('ascii')
    return f'data:{mime};base64,{data}'


def _picture(path: pathlib.Path, caption: str) -> str:
    return (f'<figure><img src="{_data_uri(path, "image/png")}" '
            f'alt="{_escape(caption)}"><figcaption>{_escape(caption)}'
            '</figcaption></figure>')


def _video(path: pathlib.Path, page: pathlib.Path, caption: str) -> str:
    """A <video> of an MP4 (embedded when small), with a note if browsers
    cannot play its codec."""
    note = ''
    try:
        from gridlab.viz.video import probe_video
        info = probe_video(path)
        if (info['codec'], info['pixel_format']) != ('h264', 'yuv420p'):
            note = (f'<p class="note">{_escape(path.name)} is '
                    f'{_escape(info["codec"])}/{_escape(info["pixel_format"])}; '
                    'browsers play H.264 in yuv420p only.</p>')
    except (ImportError, OSError) as error:
        note = f'<p class="note">Cannot check {_escape(path.name)}: {_escape(error)}</p>'
    if path.stat().st_size <= EMBED_LIMIT:
        source = _data_uri(path, 'video/mp4')
    else:
        source = _escape(path.relative_to(page.parent).as_posix())
    return (f'<figure><video controls loop muted preload="auto" '
            f'src="{source}"></video><figcaption>{_escape(caption)}'
            f'</figcaption></figure>{note}')


def _page(title: str, sections: List[str]) -> str:
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            # No network: every resource is inline; the policy makes the
            # browser refuse anything else.
            '<meta http-equiv="Content-Security-Policy" content="default-src '
            "'none'; img-src data:; media-src data: 'self' file:; "
            "style-src 'unsafe-inline'\">"
            f'<title>{_escape(title)}</title><style>{_STYLE}</style></head>'
            f'<body>{"".join(sections)}</body></html>\n')


# The pieces of a page, for pages built elsewhere (`gridlab bsuite`'s report).
escape, table, picture, page = _escape, _table, _picture, _page


def _read_summary(run: pathlib.Path) -> dict:
    try:
        summary = json.loads((run / 'summary.json').read_text())
    except FileNotFoundError:
        raise ReportError(f'{str(run)!r} is not a run folder: it has no '
                          'summary.json (written by `gridlab train`)') from None
    except (OSError, ValueError) as error:
        raise ReportError(f'cannot read {str(run / "summary.json")!r}: '
                          f'{error}') from None
    if not isinstance(summary, dict) or not isinstance(
            summary.get('config'), dict):
        raise ReportError(f'{str(run / "summary.json")!r} has no "config" '
                          'object; is it from `gridlab train`?')
    return summary


# ---------------------------------------------------------------------------
# Run reports.


def _run_title(config: dict) -> str:
    return (f'{config.get("agent", "?")} on {config.get("task", "?")}, '
            f'seed {config.get("seed", "?")}')


def write_run_report(run_dir) -> pathlib.Path:
    """Writes run_dir/report.html from the files of one run; returns its path.

    Raises:
        ReportError: if `run_dir` has no readable summary.json with a config.
    """
    run = pathlib.Path(run_dir)
    summary = _read_summary(run)
    config = dict(summary['config'])
    hyperparameters = config.pop('hyperparameters', None) or {}
    page = run / REPORT_NAME
    title = _run_title(config)
    sections = [f'<h1>{_escape(title)}</h1>',
                f'<p class="muted">Run folder: {_escape(run.resolve().name)}</p>']
    if summary.get('interrupted'):
        sections.append('<p class="note">This run was interrupted: the '
                        'figures show what it had done by then.</p>')

    sections.append('<h2>Results</h2>')
    results = []
    for part in ('training', 'evaluation'):
        for name, value in (summary.get(part) or {}).items():
            results.append((part, name, value))
    sections.append(_table(('part', 'measure', 'value'), results) if results
                    else '<p class="muted">No results recorded.</p>')

    sections.append('<h2>Configuration</h2>' + _key_values(config))
    sections.append('<h2>Hyperparameters</h2>' + (
        _key_values(hyperparameters) if hyperparameters else
        '<p class="muted">The agent\'s defaults (none given).</p>'))

    pictures = [_picture(run / name, caption) for name, caption in RUN_PICTURES
                if (run / name).is_file()]
    sections.append('<h2>Figures</h2>' + (''.join(pictures) or
                                          '<p class="muted">No figures.</p>'))

    videos = []
    if (run / 'evaluation.mp4').is_file():
        videos.append(_video(run / 'evaluation.mp4', page,
                             'Greedy evaluation episode'))
    for path in sorted((run / 'videos').glob('*.mp4')):
        videos.append(_video(path, page, f'During training: {path.stem}'))
    if videos:
        sections.append('<h2>Videos</h2>' + ''.join(videos))
    files.atomic_write_text(page, _page(title, sections))
    return page


# ---------------------------------------------------------------------------
# Sweep reports.


def _read_csv(path: pathlib.Path) -> Optional[List[dict]]:
    if not path.is_file():
        return None
    try:
        with path.open(newline='') as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error) as error:
        raise ReportError(f'cannot read {str(path)!r}: {error}') from None


def _csv_value(text):
    """A CSV cell as the page shows it: a decimal number as a float (shown
    to a few significant digits), anything else, whole numbers such as seeds
    included, as written."""
    if not isinstance(text, str) or not _is_number(text):
        return text
    try:
        int(text)
    except ValueError:
        return float(text)
    return text  # A seed of 2**62 is not a float.


def _runs_table(sweep: pathlib.Path, rows: List[dict]) -> str:
    """results.csv, rounded for reading, run folders named from the sweep's."""
    def shown(name, value):
        if name == 'directory' and value:
            try:  # The sweep's own path, on every row, says nothing.
                return pathlib.Path(value).resolve().relative_to(
                    sweep.resolve()).as_posix()
            except (OSError, ValueError):  # Elsewhere, or not a path here.
                return value
        return _csv_value(value)
    return _table(list(rows[0]), [[shown(name, value) for name, value in row.items()]
                                  for row in rows])


def _run_folders(sweep: pathlib.Path) -> List[pathlib.Path]:
    """Folders below `sweep`, at any depth, that hold a run (a summary.json).

    A sweep nests its runs four deep (TASK/AGENT/SETTING/seedS), a folder
    of runs as the user made it. A run folder is a leaf: what it holds
    (videos/, checkpoints) belongs to that run, so the walk stops there.
    """
    found = []
    for folder, subfolders, names in os.walk(sweep):
        if 'summary.json' in names and pathlib.Path(folder) != sweep:
            found.append(pathlib.Path(folder))
            subfolders.clear()
    return sorted(found)


def _aggregate_section(rows: Optional[List[dict]]) -> str:
    if rows is None:
        return ('<h2>Aggregate</h2><p class="muted">No aggregate.csv in this '
                'folder yet.</p>')
    missing = [name for name in AGGREGATE_COLUMNS
               if rows and name not in rows[0]]
    if missing:
        raise ReportError(f'aggregate.csv lacks the columns {missing}; expected '
                          f'{", ".join(AGGREGATE_COLUMNS)}')

    def number(text):
        return float(text) if _is_number(text) else text

    table = _table(('agent', 'task', 'metric', 'estimate', 'interval'), [
        (row['agent'], row['task'], row['metric'], number(row['estimate']),
         f'[{_format(number(row["low"]))}, {_format(number(row["high"]))}]')
        for row in rows])
    return ('<h2>Aggregate</h2><p class="muted">Estimates with their '
            'intervals over seeds (low, high).</p>' + table)


def write_sweep_report(sweep_dir) -> pathlib.Path:
    """Writes sweep_dir/report.html; returns its path.

    Runs found below the folder (a summary.json at any depth) that have no
    report yet get one, so every link on the page leads somewhere.

    Raises:
        ReportError: if the folder does not exist or a CSV is unreadable.
    """
    sweep = pathlib.Path(sweep_dir)
    if not sweep.is_dir():
        raise ReportError(f'{str(sweep)!r} is not a folder')
    page = sweep / REPORT_NAME
    title = f'Sweep: {sweep.resolve().name}'
    sections = [f'<h1>{_escape(title)}</h1>']
    sections.append(_aggregate_section(_read_csv(sweep / 'aggregate.csv')))

    results = _read_csv(sweep / 'results.csv')
    if results:
        sections.append('<h2>Runs</h2>' + _runs_table(sweep, results))
    else:
        sections.append('<h2>Runs</h2><p class="muted">No results.csv in this '
                        'folder.</p>')

    pictures = [_picture(path, path.stem.replace('_', ' '))
                for path in sorted(sweep.glob('*.png'))]
    if pictures:
        sections.append('<h2>Comparisons</h2>' + ''.join(pictures))

    links = []
    for run in _run_folders(sweep):
        report = run / REPORT_NAME
        try:
            if not report.is_file():
                write_run_report(run)
            title_of_run = _run_title(_read_summary(run)['config'])
        except ReportError as error:
            links.append(f'<li class="note">{_escape(run.name)}: '
                         f'{_escape(error)}</li>')
            continue
        href = _escape(report.relative_to(sweep).as_posix())
        links.append(f'<li><a href="{href}">{_escape(title_of_run)}</a> '
                     f'<span class="muted">({_escape(run.relative_to(sweep).as_posix())})'
                     '</span></li>')
    sections.append('<h2>Run reports</h2>' + (
        f'<ul>{"".join(links)}</ul>' if links else
        '<p class="muted">No run folders below this one.</p>'))
    files.atomic_write_text(page, _page(title, sections))
    return page


def write_tune_report(study_dir, trials: List[dict], best: dict, best_value: float,
                      states: dict, metric: str = 'mean_return') -> pathlib.Path:
    """Writes study_dir/report.html for a `gridlab tune` study; returns its path.
    `metric` is the evaluation column whose mean over a trial's evaluations
    is its objective."""
    study = pathlib.Path(study_dir)
    page = study / REPORT_NAME
    title = f'Search: {study.resolve().name}'
    sections = [f'<h1>{_escape(title)}</h1>',
                '<h2>Best settings</h2>' + _key_values(
                    {**best, f'objective (mean evaluation {metric})': best_value}),
                '<h2>Trials</h2>' + _key_values(states)]
    pictures = [_picture(study / name, caption) for name, caption in
                (('history.png', 'Optimisation history'),
                 ('importance.png', 'Hyperparameter importance'))
                if (study / name).is_file()]
    if pictures:
        sections.append('<h2>Pictures</h2>' + ''.join(pictures))
    if trials:
        sections.append('<h2>Every trial</h2>' + _table(
            list(trials[0]), [list(row.values()) for row in trials]))
    files.atomic_write_text(page, _page(title, sections))
    return page


def write_report(directory) -> pathlib.Path:
    """A run report if `directory` holds summary.json, else a sweep report."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise ReportError(f'{str(directory)!r} is not a folder')
    if (directory / 'summary.json').is_file():
        return write_run_report(directory)
    if ((directory / 'results.csv').is_file() or
            (directory / 'aggregate.csv').is_file() or _run_folders(directory)):
        return write_sweep_report(directory)
    raise ReportError(f'{str(directory)!r} holds neither a run (summary.json) '
                      'nor a sweep (results.csv, aggregate.csv or run folders)')
