"""`gridlab bsuite`: bsuite's experiments as a sweep, scored by bsuite's own analysis.

    gridlab bsuite --agent dqn --experiments catch,deep_sea --ids 0-4 --out bsuite/dqn

Each experiment is one gridlab sweep (`run_sweep`: resumable, on a process
pool or Ray) over its ids, in OUT/EXPERIMENT/, every run an ordinary run
folder whose `bsuite/` subfolder holds bsuite's own CSV log. One sweep per
experiment because bsuite's budgets differ between experiments (10,000
episodes for catch and deep_sea, 1,000 for cartpole), and a run trains for
its experiment's budget by default, as bsuite's own baselines do. Then, from
those logs, with bsuite's own scoring functions
(`bsuite.experiments.summary_analysis.bsuite_score`): OUT/scores.csv (one
row per experiment), OUT/categories.csv (the mean score of each of bsuite's
categories: basic, exploration, credit assignment, noise, scale, memory,
generalization), OUT/scores.png, and OUT/report.html, which sets them beside
what the bsuite paper published about its baselines, quoted with its source.

bsuite 0.3.6's analysis calls two pandas methods that pandas 2 removed
(`Series.append` in deep_sea's `find_solution`, `Series.iteritems` in its
plots); `pandas_compat` puts them back while bsuite's code runs, nowhere else.
"""

import contextlib
import dataclasses
import math
import pathlib
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence

from gridlab.core import files
from gridlab.core.errors import ExperimentError
from gridlab.experiments import results, run_folder

# bsuite's categories (the tags of its experiments), in the order bsuite's
# paper draws its radar plot.
CATEGORIES = ('basic', 'exploration', 'credit_assignment', 'noise', 'scale', 'memory',
              'generalization')
SCORE_COLUMNS = ('experiment', 'score', 'runs', 'ids', 'episodes', 'finished',
                 'type', 'tags', 'note')
CATEGORY_COLUMNS = ('category', 'score', 'experiments')
DEFAULT_EXPERIMENTS = ('catch', 'deep_sea')

# What bsuite says of its baseline agents. The paper and the repository
# show the baselines' scores as pictures only (a bar plot per experiment and
# a radar plot per category; no table of numbers), so these are quoted as
# words, from the results commentary of bsuite's report template; the
# pictures are at the addresses given.
PAPER = ('Osband et al. (2020), "Behaviour Suite for Reinforcement Learning", ICLR 2020, '
         'https://openreview.net/forum?id=rygf-kSYwH')
BASELINE_SOURCE = ('the results commentary of bsuite\'s report template, '
                   'github.com/google-deepmind/bsuite, reports/bsuite_appendix.tex '
                   '(bsuite 0.3.6, commit effafc0), which accompanies ' + PAPER)
BASELINE_FIGURES = ('github.com/google-deepmind/bsuite, reports/standalone/images/'
                    'bar_plot.png and radar_plot.png')
BASELINE_QUOTES = (
    ('random', 'performs poorly across all aspects. This confirms that our scoring '
               'functions are working as intended.'),
    ('dqn', 'performs well on basic tasks, and quite well on credit assignment, '
            'generalization, noise and scale. DQN performs extremely poorly across '
            'memory and exploration tasks. The feedforward MLP has no mechanism for '
            'memory, and \u03b5=5%-greedy action selection is notoriously inefficient '
            'in domains that require efficient exploration.'),
    ('boot_dqn', 'performs mostly identically to DQN, except for exploration where it '
                 'greatly outperforms, and also a smaller boost to performance under '
                 'noise.'),
    ('actor_critic_rnn', 'typically performs worse than either DQN or Bootstrapped DQN '
                         'on all tasks apart from memory.'),
)


class BsuiteError(ExperimentError):
    """`gridlab bsuite` cannot start or score as asked: one line saying why."""


def _adapter():
    from gridlab.envs import suites
    return suites.SUITES['bsuite'].adapter()  # MissingExtra names the install.


# ------------------------------------------------------------- choosing

def parse_experiments(text) -> List[str]:
    """'catch,deep_sea' (or 'all') -> bsuite experiment names, each checked."""
    adapter = _adapter()
    names = [name.strip() for name in str(text).split(',') if name.strip()]
    if not names:
        raise BsuiteError(f'experiments must name bsuite experiments such as catch,'
                          f'deep_sea (or all), got {text!r}')
    if names == ['all']:
        return adapter.experiments()
    for name in names:
        try:
            adapter.ids_of(name)
        except ValueError as error:
            raise BsuiteError(str(error)) from None
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise BsuiteError(f'experiment {repeated!r} is given twice in {text!r}')
    return names


def parse_ids(text, experiment: str) -> List[int]:
    """'0-4', '0,3,7', '0-2,9' or 'all' -> indices into `experiment`'s sweep.

    Raises BsuiteError naming the text and the experiment's ids when one is
    out of range or the text is not of that form.
    """
    count = len(_adapter().ids_of(experiment))
    text = str(text).strip()
    if text == 'all':
        return list(range(count))
    expected = (f"ids as N, N-M, a comma-separated list of those, or all ({experiment} "
                f"has ids 0 to {count - 1})")
    ids: List[int] = []
    for part in text.split(','):
        match = re.fullmatch(r'\s*(\d+)\s*(?:-\s*(\d+)\s*)?', part)
        if match is None:
            raise BsuiteError(f'bad ids {text!r}: expected {expected}')
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise BsuiteError(f'bad ids {text!r}: the range {part.strip()!r} runs '
                              f'backwards; expected {expected}')
        if high >= count:
            raise BsuiteError(f'bad ids {text!r}: {experiment} has no id {high}; '
                              f'expected {expected}')
        ids.extend(index for index in range(low, high + 1) if index not in ids)
    return ids


def tasks_of(experiment: str, ids: Sequence[int]) -> List[str]:
    return [f'bsuite/{experiment}/{index}' for index in ids]


def episode_budget(experiment: str) -> int:
    """bsuite's episodes for `experiment` (`bsuite.experiments.<exp>.sweep.NUM_EPISODES`)."""
    return _adapter().num_episodes(f'bsuite/{experiment}/0')


# -------------------------------------------------------------- scoring

@contextlib.contextmanager
def pandas_compat() -> Iterator[None]:
    """pandas 1's `Series.append` and `iteritems`, for bsuite's analysis, within the block.

    bsuite 0.3.6 was written against pandas 1; pandas 2 removed
    `Series.append` (deep_sea's `find_solution` uses it to join its solved
    and unsolved sizes) and `Series.iteritems` (`items` since). Both are
    added back only where missing, as their documented pandas 1 meaning
    (`pd.concat`, `items`), and taken away again after the block.
    """
    import pandas as pd

    def append(self, other, ignore_index=False, verify_integrity=False):
        others = list(other) if isinstance(other, (list, tuple)) else [other]
        return pd.concat([self] + others, ignore_index=ignore_index,
                         verify_integrity=verify_integrity)

    added = []
    for cls, name, method in ((pd.Series, 'append', append),
                              (pd.Series, 'iteritems', pd.Series.items),
                              (pd.DataFrame, 'iteritems', pd.DataFrame.items)):
        if not hasattr(cls, name):
            setattr(cls, name, method)
            added.append((cls, name))
    try:
        yield
    finally:
        for cls, name in added:
            delattr(cls, name)


def log_directories(run_directories: Sequence) -> List[pathlib.Path]:
    """The `bsuite/` log folders of these run folders (those that have one)."""
    found = []
    for directory in run_directories:
        log = pathlib.Path(directory) / run_folder.BSUITE_LOG
        if any(log.glob('bsuite_id_-_*.csv')):
            found.append(log)
    return found


def load_logs(directories: Sequence):
    """bsuite's logs in `directories` as one DataFrame, joined with bsuite's
    sweep settings (`bsuite.logging.csv_load.load_one_result_set` on each)."""
    import pandas as pd
    from bsuite.logging import csv_load
    if not directories:
        raise BsuiteError('no bsuite logs to score (no run folder holds a bsuite/ '
                          'log: did every run fail?)')
    frames = [csv_load.load_one_result_set(str(directory)) for directory in directories]
    return pd.concat(frames, sort=False, ignore_index=True)


def score_frame(frame) -> List[Dict[str, Any]]:
    """One row per experiment in `frame` (bsuite's logs, `load_logs`), scored
    by bsuite's `summary_analysis.bsuite_score`: the score in [0, 1], its
    type and tags, whether every id ran its whole budget, and what was scored."""
    import matplotlib
    # bsuite's plotting module, which its analysis imports, switches the
    # whole process to matplotlib's ggplot style as it is imported: every
    # later figure (curves.png, the report's) would change. Not outside this.
    with matplotlib.rc_context():
        from bsuite.experiments import summary_analysis
    rows = []
    # One experiment at a time, so that one bsuite cannot score (too few
    # episodes: deep_sea_stochastic's analysis skips the first 100) costs
    # only its own row, which says why.
    for experiment, runs in frame.groupby('bsuite_env', sort=False):
        info = summary_analysis.BSUITE_INFO[experiment]
        ids = sorted({int(name.split('/')[1]) for name in runs.bsuite_id})
        episodes = int(runs.groupby('bsuite_id').episode.max().min())
        row = {'experiment': experiment, 'score': None, 'runs': len(ids),
               'ids': _ranges(ids), 'episodes': episodes, 'finished': False,
               'type': info.type, 'tags': ' '.join(info.tags), 'note': ''}
        try:
            with pandas_compat():
                record = summary_analysis.bsuite_score(runs).to_dict('records')[0]
        except Exception as error:  # bsuite's analysis fails in many ways on little data.
            row['note'] = (f'bsuite cannot score it from {episodes:,} episodes '
                           f'({type(error).__name__}: {error})')
        else:
            row.update(score=float(record['score']), finished=bool(record['finished']))
        rows.append(row)
    order = {name: index for index, name in enumerate(_adapter().experiments())}
    return sorted(rows, key=lambda row: order[row['experiment']])


def category_scores(rows: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The mean score of the experiments tagged with each category (bsuite's
    `ave_score_by_tag`); None for a category none of `rows` has."""
    scores = []
    for category in CATEGORIES:
        tagged = [row for row in rows if category in row['tags'].split()
                  and row['score'] is not None]
        scores.append({'category': category,
                       'score': (sum(row['score'] for row in tagged) / len(tagged)
                                 if tagged else None),
                       'experiments': ' '.join(row['experiment'] for row in tagged)})
    return scores


def score_runs(run_directories: Sequence) -> List[Dict[str, Any]]:
    """bsuite's score of each experiment in these run folders' bsuite logs."""
    return score_frame(load_logs(log_directories(run_directories)))


def _ranges(ids: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    parts, start = [], None
    for index, value in enumerate(ids):
        if start is None:
            start = value
        if index + 1 == len(ids) or ids[index + 1] != value + 1:
            parts.append(str(start) if start == value else f'{start}-{value}')
            start = None
    return ','.join(parts)


# ---------------------------------------------------------------- output

def format_table(rows: Sequence[Dict[str, Any]],
                 categories: Sequence[Dict[str, Any]]) -> str:
    """The scores as the terminal shows them."""
    lines = [f'{"experiment":<22}{"score":>7}  {"ids":<10}{"episodes":>9}  finished',
             *(f'{row["experiment"]:<22}{_score_text(row["score"]):>7}  '
               f'{row["ids"]:<10}{row["episodes"]:>9,}  '
               f'{"yes" if row["finished"] else "no"}'
               + (f'  ({row["note"]})' if row.get('note') else '') for row in rows),
             '', f'{"category":<22}{"score":>7}',
             *(f'{row["category"]:<22}{_score_text(row["score"]):>7}'
               for row in categories)]
    return '\n'.join(lines)


def _score_text(score: Optional[float]) -> str:
    return '-' if score is None else f'{score:.3f}'


def plot_scores(rows: Sequence[Dict[str, Any]], categories: Sequence[Dict[str, Any]],
                agent: str):
    """Bars of each experiment's score, and a radar of the categories (bsuite's pictures)."""
    import matplotlib.pyplot as plt
    import numpy as np
    from gridlab.viz import palette
    figure = plt.figure(figsize=(11, 4.5))
    bars = figure.add_subplot(1, 2, 1)
    names = [row['experiment'] for row in rows]
    bars.barh(names, [row['score'] or 0. for row in rows], color=palette.GOAL)
    for index, row in enumerate(rows):  # The number too: a bar of 0 is invisible.
        bars.text(min(row['score'] or 0., 0.85) + 0.02, index, _score_text(row['score']),
                  va='center', fontsize=9)
    bars.set_xlim(0, 1)
    bars.invert_yaxis()
    bars.set_xlabel('bsuite score')
    bars.set_title(f'{agent}: score by experiment')
    radar = figure.add_subplot(1, 2, 2, projection='polar')
    angles = np.linspace(0, 2 * math.pi, len(categories), endpoint=False)
    values = np.array([row['score'] if row['score'] is not None else 0.
                       for row in categories])
    closed = np.append(angles, angles[0])
    radar.plot(closed, np.append(values, values[0]), marker='o')
    radar.fill(closed, np.append(values, values[0]), alpha=0.25)
    radar.set_xticks(angles)
    radar.set_xticklabels([row['category'].replace('_', '\n') +
                           ('' if row['score'] is not None else '\n(not run)')
                           for row in categories], fontsize=8)
    radar.set_ylim(0, 1)
    radar.set_yticks([0.25, 0.5, 0.75, 1.])
    radar.set_yticklabels(['0.25', '0.5', '0.75', '1'], fontsize=7)
    radar.set_rlabel_position(90 / len(categories))
    radar.set_title(f'{agent}: mean score by category', pad=18)
    figure.tight_layout()
    return figure


def write_outputs(out: pathlib.Path, agent: str, rows: Sequence[Dict[str, Any]],
                  failed: Sequence[Dict[str, Any]] = ()) -> Dict[str, pathlib.Path]:
    """scores.csv, categories.csv, scores.png and report.html in `out`."""
    from gridlab.experiments.pictures import save_figure
    categories = category_scores(rows)
    written = {'scores': out / 'scores.csv', 'categories': out / 'categories.csv',
               'picture': out / 'scores.png', 'report': out / 'report.html'}
    results.write_csv(written['scores'], SCORE_COLUMNS, rows)
    results.write_csv(written['categories'], CATEGORY_COLUMNS, categories)
    save_figure(plot_scores(rows, categories, agent), written['picture'])
    write_report(out, agent, rows, categories, failed)
    return written


def write_report(out: pathlib.Path, agent: str, rows, categories, failed=()) -> pathlib.Path:
    """report.html: the scores, the picture, and the paper's baselines quoted."""
    from gridlab.viz import report
    title = f'bsuite: {agent}'
    sections = [f'<h1>{report.escape(title)}</h1>',
                '<p>Scores by bsuite\'s own analysis (bsuite.experiments.summary_analysis'
                '.bsuite_score) of the CSV logs bsuite wrote during training; each in '
                '[0, 1]. "finished": every id ran its experiment\'s whole episode '
                'budget (a shorter run is scored on the episodes it ran).</p>',
                '<h2>Scores by experiment</h2>' + report.table(
                    SCORE_COLUMNS, [[row[c] for c in SCORE_COLUMNS] for row in rows]),
                '<h2>Scores by category</h2>' + report.table(
                    CATEGORY_COLUMNS, [[row[c] for c in CATEGORY_COLUMNS]
                                       for row in categories])]
    if (out / 'scores.png').is_file():
        sections.append(report.picture(out / 'scores.png', 'Scores by experiment '
                                                           'and by category'))
    quotes = ''.join(f'<li><b>{report.escape(name)}</b> {report.escape(text)}</li>'
                     for name, text in BASELINE_QUOTES)
    sections.append(
        '<h2>Beside the published baselines</h2>'
        '<p>The bsuite paper and repository publish their baseline agents\' scores '
        f'as pictures only ({report.escape(BASELINE_FIGURES)}); no table of the '
        'numbers is published, so none is quoted here. What they say of each '
        f'baseline, quoted from {report.escape(BASELINE_SOURCE)}:</p>'
        f'<ul>{quotes}</ul>'
        '<p>bsuite\'s baselines ran every id of every experiment for bsuite\'s '
        'episode budget, with their own settings (their DQN acts 5%-greedily); '
        'compare a score here with theirs only for the same ids and budget.</p>')
    if failed:
        sections.append('<h2>Runs that did not complete</h2>' + report.table(
            ('task', 'status', 'directory'),
            [[row.get('task'), row.get('status'), row.get('directory')]
             for row in failed]))
    links = ''.join(f'<li><a href="{report.escape(row["experiment"])}/report.html">'
                    f'{report.escape(row["experiment"])}</a></li>' for row in rows
                    if (out / row['experiment'] / 'report.html').is_file())
    if links:
        sections.append(f'<h2>Each experiment\'s sweep</h2><ul>{links}</ul>')
    page = out / 'report.html'
    files.atomic_write_text(page, report.page(title, sections))
    return page


# ------------------------------------------------------------------ runs

@dataclasses.dataclass
class BsuiteResult:
    """What `run_bsuite` did: the folder, each experiment's score, and the
    runs that did not complete."""
    directory: pathlib.Path
    scores: List[Dict[str, Any]]
    categories: List[Dict[str, Any]]
    failed: List[Dict[str, Any]]


def run_bsuite(agent: str, experiments, out, *, ids='all', seed: int = 0,
               episodes: Optional[int] = None, steps: Optional[int] = None,
               hyperparameters: Optional[Dict[str, Sequence[Any]]] = None,
               backend: str = 'local', workers: Optional[int] = None,
               address: Optional[str] = None, progress: bool = True) -> BsuiteResult:
    """Runs `agent` on the ids of each experiment, then scores them (see above).

    Args:
      experiments: names ('catch,deep_sea', a list, or 'all').
      ids: which ids of each experiment: 'all', '0-4', '0,3,7'.
      seed: the agent's seed (and the environments' streams; see
        `gridlab.envs.adapters.bsuite`); bsuite's ids fix the problems.
      episodes, steps: each run's budget (default: bsuite's episodes for its
        experiment).
      hyperparameters: {name: [values]} as `run_sweep`'s grid; at most one
        value each, since bsuite scores one agent setting at a time.
      backend, workers, address: as `run_sweep`.

    Rerunning with the same arguments reuses the finished runs.
    """
    from gridlab.experiments.sweep import run_sweep
    names = parse_experiments(','.join(experiments) if isinstance(
        experiments, (list, tuple)) else experiments)
    grid = dict(hyperparameters or {})
    for name, values in grid.items():
        if isinstance(values, (list, tuple)) and len(values) > 1:
            raise BsuiteError(f'hyperparameter {name!r}: give one value, not '
                              f'{len(values)}; bsuite scores one setting of an agent '
                              'at a time (use one --out per setting)')
    if episodes is not None and steps is not None:
        raise BsuiteError('give episodes or steps, not both')
    plan = [(name, tasks_of(name, parse_ids(ids, name))) for name in names]
    root = pathlib.Path(out)
    rows: List[Dict[str, Any]] = []
    for name, tasks in plan:
        budget = episodes if episodes is not None or steps is not None else (
            episode_budget(name))
        if progress:
            print(f'gridlab: bsuite {name}: {len(tasks)} id{"s" * (len(tasks) > 1)}, '
                  f'{f"{steps:,} steps" if steps else f"{budget:,} episodes"} each '
                  f'-> {root / name}')
        result = run_sweep([agent], tasks, [seed], root / name,
                           {key: list(value) if isinstance(value, (list, tuple))
                            else [value] for key, value in grid.items()},
                           backend=backend, workers=workers, address=address,
                           steps=steps, episodes=None if steps else budget,
                           progress=progress, aggregate=False)
        rows.extend(result.rows)
    completed = [row['directory'] for row in rows if row['status'] == 'completed']
    failed = [row for row in rows if row['status'] != 'completed']
    scores = score_runs([root / directory if not pathlib.Path(directory).is_absolute()
                         else directory for directory in completed]) if completed else []
    if not scores:
        raise BsuiteError(f'no run completed, so nothing to score; see the run folders '
                          f'under {str(root)!r}')
    order = {name: index for index, (name, _) in enumerate(plan)}
    scores.sort(key=lambda row: order.get(row['experiment'], len(order)))
    write_outputs(root, agent, scores, failed)
    return BsuiteResult(root, scores, category_scores(scores), failed)
