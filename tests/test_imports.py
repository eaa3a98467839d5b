"""`import gridlab` is light and changes nothing global."""

import json
import pathlib
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
        'import gridlab, gridlab.core.files, gridlab.experiments, gridlab.cli, gridlab.viz\n'
        'import gridlab.viz.grid_plots, gridlab.viz.video, gridlab.envs.adapters.gymnasium\n'
        'import agents, agents.dqn, agents.policy_gradient\n'
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


SUBPACKAGES = {'analysis', 'cli', 'core', 'envs', 'evaluation', 'experiments', 'loops',
               'planning', 'registry', 'viz'}


def test_the_facade_shows_its_public_names_and_layers_only():
    names = json.loads(run_python(
        'import json, gridlab\n'
        'print(json.dumps([dir(gridlab), gridlab.__all__]))'))
    listed, public = names
    assert sorted(set(public)) == sorted(public) == public  # No name twice.
    assert set(listed) == set(public) | SUBPACKAGES
    assert not [name for name in listed if name.startswith('_')]
    assert not {'importlib', 'np', 'numpy', 'dm_env'} & set(listed)


def test_every_public_name_and_layer_is_reachable_without_an_import():
    # Lazy names and subpackages load on first use: no AttributeError
    # before someone happens to import the module behind them.
    missing = json.loads(run_python(
        'import json, gridlab\n'
        'missing = [n for n in dir(gridlab) if getattr(gridlab, n, None) is None]\n'
        'print(json.dumps(missing))'))
    assert missing == []


def test_star_import_binds_every_public_name():
    out = json.loads(run_python(
        'import json, gridlab\n'
        'scope = {}\n'
        'exec("from gridlab import *", scope)\n'
        'print(json.dumps(sorted(set(gridlab.__all__) - set(scope))))'))
    assert out == []


def test_an_unknown_attribute_is_an_attribute_error():
    out = run_python(
        'import gridlab\n'
        'try:\n'
        '    gridlab.plotting\n'
        'except AttributeError as error:\n'
        '    print(error)\n')
    assert "has no attribute 'plotting'" in out


def test_the_layers_contract_holds():
    # The same check CI runs: no module imports a layer above its own.
    result = subprocess.run([str(pathlib.Path(sys.executable).with_name('lint-imports'))],
                            capture_output=True, text=True,
                            cwd=pathlib.Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_import_graph_has_no_cycle():
    # Within a layer too: modules that import each other (even inside a
    # function) cannot be read, or tested, one at a time.
    import grimp  # import-linter's own graph builder
    graph = grimp.build_graph('gridlab', 'agents')
    imports = {module: graph.find_modules_directly_imported_by(module)
               for module in graph.modules}
    done, path = set(), []

    def visit(module):
        if module in path:
            raise AssertionError(' -> '.join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for imported in sorted(imports[module]):
            visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(imports):
        visit(module)
