"""Every tutorial notebook runs top to bottom in a real Jupyter kernel."""

import os
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = sorted((pathlib.Path(__file__).resolve().parents[1] / 'tutorials').glob('*.ipynb'))


def test_there_are_tutorials():
    assert TUTORIALS


@pytest.mark.parametrize('path', TUTORIALS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == 'code':
            assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.parametrize('path', TUTORIALS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    # Notebooks read GRIDLAB_FAST to train briefly; files go to a temp folder.
    monkeypatch.setenv('GRIDLAB_FAST', '1')
    monkeypatch.setenv('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
    client = NotebookClient(notebook, timeout=600, kernel_name='python3',
                            resources={'metadata': {'path': str(tmp_path)}})
    client.execute()  # Raises CellExecutionError, with the cell, if one fails.
    errors = [output for cell in notebook.cells if cell.cell_type == 'code'
              for output in cell.outputs if output.output_type == 'error']
    assert not errors
    images = [output for cell in notebook.cells if cell.cell_type == 'code'
              for output in cell.outputs if 'image/png' in output.get('data', {})]
    assert images, 'a tutorial should draw something'
