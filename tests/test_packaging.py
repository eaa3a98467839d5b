"""What a built wheel and sdist carry: the typing markers, the licence, the URLs.

The wheel is built for real (pip, as a user's install builds it; about two
seconds) from a copy of the project, so that a concurrent build in the
working tree and its stale build/ folder cannot leak into what is checked.
"""

import email.parser
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What setup.cfg builds from (the rest of the checkout is not packaged).
SOURCES = ('setup.cfg', 'pyproject.toml', 'README.md', 'LICENSE', 'gridlab', 'agents')
# The md5 of the Apache License 2.0 exactly as apache.org publishes it
# (https://www.apache.org/licenses/LICENSE-2.0.txt): the text is unmodified.
APACHE_2_MD5 = '3b83ef96387f14655fc854ddc3c6bd57'
URL_NAMES = ('Homepage', 'Source', 'Documentation', 'Issues')


@pytest.fixture(scope='module')
def project(tmp_path_factory) -> pathlib.Path:
    copy = tmp_path_factory.mktemp('project')
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        elif source.is_file():  # A missing one is what the tests below report.
            shutil.copy2(source, copy / name)
    return copy


@pytest.fixture(scope='module')
def wheel_path(project, tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp('wheel')
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
         '-w', str(out), str(project)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    wheels = list(out.glob('gridlab-*.whl'))
    assert len(wheels) == 1, f'expected one gridlab wheel in {out}, got {wheels}'
    return wheels[0]


@pytest.fixture(scope='module')
def wheel(wheel_path) -> zipfile.ZipFile:
    with zipfile.ZipFile(wheel_path) as archive:
        yield archive


def _metadata(wheel: zipfile.ZipFile):
    name = next(n for n in wheel.namelist() if n.endswith('.dist-info/METADATA'))
    return email.parser.Parser().parsestr(wheel.read(name).decode('utf-8'))


def test_the_repository_has_the_unmodified_apache_license():
    license_file = ROOT / 'LICENSE'
    assert license_file.is_file(), f'no LICENSE in {ROOT}, yet setup.cfg says Apache-2.0'
    digest = hashlib.md5(license_file.read_bytes()).hexdigest()
    assert digest == APACHE_2_MD5, (
        f'{license_file} has md5 {digest}; expected {APACHE_2_MD5}, the Apache '
        'License 2.0 text as published')


@pytest.mark.parametrize('package', ['gridlab', 'agents'])
def test_the_wheel_marks_both_packages_typed(wheel, package):
    names = wheel.namelist()
    assert f'{package}/py.typed' in names, (
        f'{package}/py.typed is not in the wheel (PEP 561: without it type checkers '
        f'ignore the inline types); its {package}/ files: '
        f'{sorted(n for n in names if n.startswith(package + "/") and "/" not in n[len(package) + 1:])}')


def test_the_wheel_carries_the_license_and_says_so(wheel):
    metadata = _metadata(wheel)
    licenses = [n for n in wheel.namelist()
                if '.dist-info/' in n and n.rsplit('/', 1)[-1] == 'LICENSE']
    assert licenses, f'no LICENSE in the wheel; its dist-info: ' \
                     f'{[n for n in wheel.namelist() if ".dist-info/" in n]}'
    assert hashlib.md5(wheel.read(licenses[0])).hexdigest() == APACHE_2_MD5, licenses[0]
    assert 'LICENSE' in metadata.get_all('License-File', []), (
        f'METADATA License-File is {metadata.get_all("License-File")}; expected LICENSE')
    expression = metadata.get('License-Expression') or metadata.get('License')
    assert expression == 'Apache-2.0', f'licence in METADATA is {expression!r}'


def test_the_wheel_names_the_project_urls(wheel):
    urls = dict(entry.split(', ', 1) for entry in _metadata(wheel).get_all('Project-URL', []))
    missing = [name for name in URL_NAMES if name not in urls]
    assert not missing, f'METADATA Project-URL lacks {missing}; it has {urls}'
    bad = {name: url for name, url in urls.items() if not url.startswith('https://')}
    assert not bad, f'Project-URLs that are not https addresses: {bad}'


def test_the_wheel_still_carries_the_tuned_hyperparameters(wheel):
    # Package data beside the markers: agents/entries.py reads it at import.
    assert 'agents/hyperparams.toml' in wheel.namelist()


def test_the_sdist_carries_the_license_and_the_markers(project, tmp_path):
    # What setuptools' PEP 517 backend does for `python -m build --sdist`.
    result = subprocess.run(
        [sys.executable, '-c', 'import sys; from setuptools import build_meta; '
         'print(build_meta.build_sdist(sys.argv[1]))', str(tmp_path)],
        cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    name = result.stdout.strip().splitlines()[-1]
    with tarfile.open(tmp_path / name) as archive:
        members = {member.split('/', 1)[1] for member in archive.getnames() if '/' in member}
    missing = [m for m in ('LICENSE', 'gridlab/py.typed', 'agents/py.typed')
               if m not in members]
    assert not missing, f'the sdist {name} lacks {missing}'


@pytest.fixture(scope='module')
def installed(wheel_path, tmp_path_factory) -> pathlib.Path:
    """A fresh virtual environment with the wheel installed: its site-packages.

    Its dependencies (torch and the rest) come from this environment, through
    a .pth line; a path added that way does not run this environment's own .pth
    files, so the editable gridlab here stays out of it.
    """
    venv = tmp_path_factory.mktemp('venv') / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True,
                   timeout=120)
    python = venv / 'bin' / 'python'
    result = subprocess.run([sys.executable, '-m', 'pip', '--python', str(python),
                             'install', '-q', '--no-deps', str(wheel_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    site = pathlib.Path(subprocess.run(
        [str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        capture_output=True, text=True, check=True).stdout.strip())
    (site / 'dependencies.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    return site


def _train(site, out):
    script = site.parents[2] / 'bin' / 'gridlab'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run([str(script), 'train', '--agent', 'q-learning', '--task',
                           'simple', '--steps', '100', '--no-progress', '--out', str(out)],
                          capture_output=True, text=True, env=env, cwd=out.parent,
                          timeout=300)


def test_the_installed_wheel_trains_and_names_an_agents_package_written_over_its_own(
        installed, tmp_path):
    result = _train(installed, tmp_path / 'before')
    assert result.returncode == 0, result.stderr
    # What `pip install openai-agents` does to it: its own agents/__init__.py
    # (here one whose dependencies are missing) over gridlab's, and a RECORD
    # that lists it.
    (installed / 'agents' / '__init__.py').write_text(
        'from ._dependency_not_installed import Agent\n')
    info = installed / 'openai_agents-0.0.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: openai-agents\n'
                                   'Version: 0.0.0\n')
    (info / 'RECORD').write_text('agents/__init__.py,,\n'
                                 'openai_agents-0.0.0.dist-info/METADATA,,\n'
                                 'openai_agents-0.0.0.dist-info/RECORD,,\n')
    result = _train(installed, tmp_path / 'after')
    err = result.stderr
    assert result.returncode == 2, f'exit {result.returncode}; stderr:\n{err}'
    assert err.count('\n') == 1, f'expected one line, got:\n{err}'
    where = installed / 'agents' / '__init__.py'
    assert err.startswith(f"gridlab: error: the top-level package 'agents' at {where} "
                          "is not gridlab's (its __init__.py is not the one gridlab "
                          "installed there): openai-agents also installs"), err
    assert 'reinstall gridlab in a virtual environment of its own' in err, err
