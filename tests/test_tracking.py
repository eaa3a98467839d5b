"""--track: a run mirrored into real MLflow (SQLite) and real W&B (offline),
read back from each store and checked against the run folder."""

import csv
import json
import struct
import time

import pytest
from conftest import needs

from gridlab import cli


def rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def train(tmp_path, *extra):
    out = tmp_path / 'run'
    code = cli.main(['train', '--agent', 'q-learning', '--task', 'simple', '--steps',
                     '1500', '--eval-every', '500', '--out', str(out), '--no-progress',
                     '--log-every', '100', *extra])
    assert code == 0
    return out


def test_mlflow_holds_the_config_every_row_and_the_files(tmp_path, monkeypatch):
    needs('mlflow', 'mlflow')
    import mlflow
    monkeypatch.delenv('MLFLOW_TRACKING_URI', raising=False)
    out = train(tmp_path, '--track', 'mlflow', '--seed', '4')
    client = mlflow.tracking.MlflowClient(f'sqlite:///{tmp_path / "mlflow.db"}')
    [run] = client.search_runs([client.get_experiment_by_name('gridlab').experiment_id])
    assert run.info.status == 'FINISHED' and run.data.tags['gridlab.status'] == 'completed'
    summary = json.loads((out / 'summary.json').read_text())
    assert run.data.params['seed'] == '4' and run.data.params['agent'] == 'q-learning'
    assert run.data.params['hyperparameters.step_size'] == str(
        summary['hyperparameters']['step_size'])
    episodes = rows(out / 'episodes.csv')
    history = client.get_metric_history(run.info.run_id, 'episode_return')
    assert sorted((m.step, m.value) for m in history) == sorted(
        (int(r['total_steps']), float(r['episode_return'])) for r in episodes)
    evaluations = client.get_metric_history(run.info.run_id, 'evaluation/mean_return')
    assert [m.step for m in sorted(evaluations, key=lambda m: m.step)] == [
        int(r['total_steps']) for r in rows(out / 'evaluation.csv')]
    stored = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {'summary.json', 'episodes.csv', 'agent.pt', 'best.pt', 'policy.png',
            'q_values.png', 'learning_curve.png'} <= stored
    local = client.download_artifacts(run.info.run_id, 'agent.pt', str(tmp_path))
    assert open(local, 'rb').read() == (out / 'agent.pt').read_bytes()


def _wandb_records(path):
    """The protobuf records of an offline W&B run file (LevelDB log format)."""
    from wandb.proto import wandb_internal_pb2
    # W&B's service process may still be flushing the file after finish()
    # returns (seen on a loaded machine): read it once its size stops changing.
    size, deadline = -1, time.monotonic() + 30
    while path.stat().st_size != size and time.monotonic() < deadline:
        size = path.stat().st_size
        time.sleep(0.5)
    data, block, position, pending = path.read_bytes(), 32768, 7, b''
    assert data[:4] == b':W&B'
    while position + 7 <= len(data):
        left = block - position % block
        _, length, kind = struct.unpack('<IHB', data[position:position + 7])
        if left < 7 or (length == 0 and kind == 0):  # A block's zero padding.
            position += left
            continue
        chunk = data[position + 7:position + 7 + length]
        position += 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # FULL or LAST: a whole record.
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def test_wandb_offline_holds_the_config_every_row_and_the_files(tmp_path, monkeypatch):
    needs('wandb', 'wandb')
    monkeypatch.delenv('WANDB_MODE', raising=False)
    monkeypatch.setenv('WANDB_SILENT', 'true')
    out = train(tmp_path, '--track', 'wandb')
    [run_file] = (tmp_path / 'wandb').glob('offline-run-*/run-*.wandb')
    history, config, artifacts, status = [], {}, [], None
    for record in _wandb_records(run_file):
        kind = record.WhichOneof('record_type')
        if kind == 'history':
            history.append({item.key or '/'.join(item.nested_key):
                            json.loads(item.value_json) for item in record.history.item})
        elif kind == 'run':
            config.update({item.key: json.loads(item.value_json)
                           for item in record.run.config.update})
        elif kind == 'artifact':
            artifacts.append({entry.path for entry in record.artifact.manifest.contents})
        elif kind == 'summary':
            for item in record.summary.update:
                if item.key == 'gridlab.status':
                    status = json.loads(item.value_json)
    assert config['agent'] == 'q-learning' and config['seed'] == 0
    episodes = rows(out / 'episodes.csv')
    logged = [(h['total_steps'], h['episode_return']) for h in history
              if 'episode_return' in h]
    assert logged == [(int(r['total_steps']), float(r['episode_return']))
                      for r in episodes]
    assert len([h for h in history if 'evaluation/mean_return' in h]) == len(
        rows(out / 'evaluation.csv'))
    assert {'summary.json', 'episodes.csv', 'agent.pt', 'best.pt'} <= artifacts[0]
    assert status == 'completed'


def test_a_tracker_that_is_not_installed_or_known_is_one_line(tmp_path, capsys,
                                                              monkeypatch):
    import builtins
    real_import = builtins.__import__

    def without_mlflow(name, *args, **kwargs):
        if name == 'mlflow' or name.startswith('mlflow.'):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, '__import__', without_mlflow)
    argv = ['train', '--agent', 'random', '--task', 'simple', '--episodes', '1',
            '--out', str(tmp_path / 'run'), '--track', 'mlflow']
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and "pip install 'gridlab[mlflow]'" in err
    assert not (tmp_path / 'run').exists()  # Refused before anything was written.
    with pytest.raises(SystemExit):
        cli.main(argv[:-1] + ['neptune'])
    assert "invalid choice: 'neptune'" in capsys.readouterr().err
