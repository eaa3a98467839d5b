"""Builds the tutorials into a static site: each notebook executed, as HTML.

    python tutorials/build_site.py --out site          # every tutorials/*.ipynb
    python tutorials/build_site.py --out site --fast   # brief training (as the tests)

The notebooks are committed without outputs (small, readable diffs); this
executes them in a real Jupyter kernel and writes one page per notebook,
with its figures embedded, plus an index.html linking them in order. Any
notebook added to tutorials/ is picked up. tests/test_tutorials.py builds
each page the same way while it checks the notebook, and writes it into
$GRIDLAB_SITE_DIR when that is set (CI sets it), so CI builds the site
without executing anything twice.
"""

import argparse
import html
import os
import pathlib
import sys
import tempfile
from typing import List, Optional

import nbformat
from nbclient import NotebookClient

TUTORIALS = pathlib.Path(__file__).resolve().parent


def notebooks() -> List[pathlib.Path]:
    return sorted(TUTORIALS.glob('[0-9]*.ipynb'))


def execute(path: pathlib.Path, fast: bool = True,
            timeout: int = 600) -> nbformat.NotebookNode:
    """Runs a notebook top to bottom; returns it with its outputs.

    `fast` sets GRIDLAB_FAST=1, which the notebooks read to train briefly.
    Files the notebook writes go to a temporary folder.

    Raises:
        nbclient.exceptions.CellExecutionError: naming the cell that failed.
    """
    notebook = nbformat.read(path, as_version=4)
    saved = {name: os.environ.get(name) for name in ('GRIDLAB_FAST', 'MPLBACKEND')}
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    if fast:
        os.environ['GRIDLAB_FAST'] = '1'
    else:
        os.environ.pop('GRIDLAB_FAST', None)
    try:
        with tempfile.TemporaryDirectory() as folder:
            client = NotebookClient(notebook, timeout=timeout, kernel_name='python3',
                                    resources={'metadata': {'path': folder}})
            client.execute()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return notebook


def title_of(notebook: nbformat.NotebookNode, fallback: str) -> str:
    """The notebook's first '# ' heading."""
    for cell in notebook.cells:
        if cell.cell_type == 'markdown':
            for line in cell.source.splitlines():
                if line.startswith('# '):
                    return line[2:].strip()
    return fallback


def export(notebook: nbformat.NotebookNode, out: pathlib.Path, title: str) -> pathlib.Path:
    """Writes an executed notebook as one HTML page (figures embedded)."""
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(template_name='lab')
    body, _ = exporter.from_notebook_node(notebook, resources={'metadata': {'name': title}})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding='utf-8')
    return out


def write_index(site: pathlib.Path) -> pathlib.Path:
    """index.html linking every page in `site`, in file-name order."""
    items = []
    for page in sorted(site.glob('[0-9]*.html')):
        text = page.read_text(encoding='utf-8')
        start = text.find('<title>') + len('<title>')
        title = text[start:text.find('</title>', start)] if start >= len('<title>') else page.stem
        items.append(f'<li><a href="{html.escape(page.name)}">{title}</a></li>')
    index = site / 'index.html'
    index.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<title>gridlab tutorials</title></head><body style="font-family: sans-serif; '
        'max-width: 50em; margin: 2em auto"><h1>gridlab tutorials</h1>'
        '<p>Each tutorial executed, with its figures.</p>'
        f'<ol>{"".join(items)}</ol></body></html>\n', encoding='utf-8')
    return index


def build_page(path: pathlib.Path, site: pathlib.Path, fast: bool = True):
    """Executes one notebook and writes its page and the index; returns both."""
    notebook = execute(path, fast=fast)
    page = export(notebook, site / (path.stem + '.html'), title_of(notebook, path.stem))
    write_index(site)
    return notebook, page


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='site', help='folder for the site (default: site)')
    parser.add_argument('--fast', action='store_true',
                        help='train briefly (GRIDLAB_FAST=1), as the tests do')
    parser.add_argument('notebooks', nargs='*', type=pathlib.Path,
                        help='notebooks to build (default: every tutorial)')
    args = parser.parse_args(argv)
    site = pathlib.Path(args.out)
    for path in args.notebooks or notebooks():
        _, page = build_page(path, site, fast=args.fast)
        print(f'built {page}')
    print(f'index: {site / "index.html"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
