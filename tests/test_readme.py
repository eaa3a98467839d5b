"""The README's promises: its test command is CI's, and its example runs."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / 'README.md').read_text()


def _blocks(language):
    return re.findall(rf'```{language}\n(.*?)```', README, flags=re.S)


def test_ci_runs_the_readme_test_command():
    shell = _blocks('sh')
    assert len(shell) == 2, 'the README shows two commands'
    test_command = shell[1].strip()
    assert 'pytest' in test_command
    ci_lines = (ROOT / '.ci' / 'run').read_text().splitlines()
    assert test_command in ci_lines


def test_main_job_command_runs_gridlab_train():
    main_command = _blocks('sh')[0].strip()
    assert main_command.startswith('python3 -m venv .venv')
    assert '.venv/bin/gridlab train --agent' in main_command


def test_the_ten_line_example_runs(tmp_path, monkeypatch):
    (example,) = _blocks('python')
    assert len(example.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)
    exec(compile(example, 'README.md', 'exec'), {})
    for name in ('returns.png', 'greedy_policy.png', 'episode.mp4'):
        assert (tmp_path / name).stat().st_size > 1000
