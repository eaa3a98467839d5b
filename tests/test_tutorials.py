"""Every tutorial runs top to bottom in a real Jupyter kernel and becomes a page.

The notebooks are committed without outputs; tutorials/build_site.py turns
them into a static site of executed pages. Each test here builds its
notebook's page exactly that way, into $GRIDLAB_SITE_DIR when set (CI sets
it and so builds the site) or into a temporary folder.
"""

import importlib.util
import os
import pathlib
import re

import pytest
from conftest import needs

nbformat = needs('nbformat')
needs('nbclient')
needs('ipykernel')

ROOT = pathlib.Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / 'tutorials').glob('*.ipynb'))
# The tutorials that state their update rules and end with exercises.
# A new tutorial joins this list once it has both sections.
WITH_RULES_AND_EXERCISES = ('01', '02', '03', '04', '05', '06')
# Progress bars and warnings go to stderr; a notebook should not fill up with them.
MAX_STDERR_OUTPUTS = 100


def _build_site():
    spec = importlib.util.spec_from_file_location(
        'build_site', ROOT / 'tutorials' / 'build_site.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_tutorials():
    assert TUTORIALS
    assert [p.stem[:2] for p in TUTORIALS[:6]] == list(WITH_RULES_AND_EXERCISES)


@pytest.mark.parametrize('path', TUTORIALS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == 'code':
            assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.parametrize('path', [p for p in TUTORIALS
                                  if p.stem[:2] in WITH_RULES_AND_EXERCISES],
                         ids=lambda p: p.stem)
def test_notebook_states_update_rules_and_ends_with_exercises(path):
    notebook = nbformat.read(path, as_version=4)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == 'markdown']
    # Display maths: an update rule with an arrow or an equals sign in it.
    rules = [block for text in markdown
             for block in re.findall(r'\$\$(.+?)\$\$', text, flags=re.S)]
    assert any(('leftarrow' in rule or '=' in rule) for rule in rules), path.name
    last = notebook.cells[-1]
    assert last.cell_type == 'markdown' and last.source.startswith('## Try this'), path.name
    exercises = re.findall(r'^\d+\. ', last.source, flags=re.M)
    assert len(exercises) >= 3, path.name
    # Every exercise asks for a prediction before running it.
    assert last.source.count('Predict') >= len(exercises), path.name


@pytest.mark.parametrize('path', TUTORIALS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_into_a_page(path, tmp_path):
    site = pathlib.Path(os.environ.get('GRIDLAB_SITE_DIR') or tmp_path / 'site')
    # Raises CellExecutionError, naming the cell, if one fails.
    notebook, page = _build_site().build_page(path, site, fast=True)
    outputs = [output for cell in notebook.cells if cell.cell_type == 'code'
               for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == 'error']
    images = [o for o in outputs if 'image/png' in o.get('data', {})]
    assert images, 'a tutorial should draw something'
    stderr = [o for o in outputs if o.output_type == 'stream' and o.name == 'stderr']
    assert len(stderr) <= MAX_STDERR_OUTPUTS, ''.join(o.text for o in stderr)[:2000]
    # Progress bars are widgets in a notebook, never text on stderr.
    assert not any('it/s]' in o.text or 'step/s]' in o.text or 'episode/s]' in o.text
                   for o in stderr)
    text = page.read_text(encoding='utf-8')
    assert text.count('data:image/png;base64,') >= len(images)
    index = (site / 'index.html').read_text()
    assert f'href="{page.name}"' in index
