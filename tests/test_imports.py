"""`import gridlab` is light and changes nothing global."""

import json
import subprocess
import sys

HEAVY = ('torch', 'matplotlib', 'gymnasium', 'imageio', 'tqdm')


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, check=True)
    return result.stdout


def test_import_gridlab_loads_no_heavy_library():
    loaded = json.loads(run_python(
        'import json, sys, gridlab, agents, gridlab.registry\n'
        'gridlab.registry.agents()\n'
        f'print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))'))
    assert loaded == []


def test_lazy_names_load_on_first_use():
    out = run_python(
        'import sys, gridlab\n'
        'assert "matplotlib" not in sys.modules\n'
        'gridlab.plot_grid\n'
        'print("matplotlib" in sys.modules, "plot_grid" in dir(gridlab))')
    assert out.split() == ['True', 'True']


def test_importing_every_module_changes_no_environment_variable_or_umask():
    out = run_python(
        'import json, os\n'
        'os.umask(0o027)\n'
        # Gymnasium and pygame set variables of their own when imported.
        'import gymnasium, pygame\n'
        'before = dict(os.environ)\n'
        'import gridlab, gridlab.core.files, gridlab.experiments.experiment, gridlab.cli, gridlab.viz.video\n'
        'import gridlab.viz.plotting, gridlab.envs.adapters.gymnasium, agents\n'
        'import agents.dqn, agents.policy_gradient\n'
        'gridlab.core.files.atomic_write_text("/dev/null.not", "") if False else None\n'
        'mask = os.umask(0o022)\n'
        'print(json.dumps([dict(os.environ) == before, oct(mask)]))')
    assert json.loads(out) == [True, '0o27']


def test_gridlab_tasks_does_not_import_torch():
    out = run_python(
        'import sys\n'
        'from gridlab import cli\n'
        'cli.main(["tasks"])\n'
        'print("torch" in sys.modules, "matplotlib" in sys.modules)')
    assert out.split()[-2:] == ['False', 'False']
