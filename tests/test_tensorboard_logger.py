"""Tests for gridlab.loops.tensorboard_logger: event files read back by TensorBoard."""

import numpy as np
import pytest
import torch
from conftest import needs

needs('tensorboard', 'tensorboard')
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator  # noqa: E402

import gridlab
from gridlab.loops import loggers
from gridlab.loops.tensorboard_logger import TensorBoardLogger


def read_scalars(logdir):
    """tag -> [(step, value)] from the event files in `logdir`."""
    accumulator = EventAccumulator(str(logdir))
    accumulator.Reload()
    return {tag: [(event.step, event.value)
                  for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()['scalars']}


def test_numeric_fields_become_scalars_at_total_steps(tmp_path):
    with TensorBoardLogger(tmp_path) as logger:
        logger.write({'total_steps': 120, 'episode': 1, 'episode_return': 2.5,
                      'loss': np.float32(0.25), 'agent': 'dqn'})
        logger.write({'total_steps': 250, 'episode': 2,
                      'episode_return': torch.tensor(-1.0),
                      'loss': np.array(0.125), 'solved': True})
    assert read_scalars(tmp_path) == {
        'episode': [(120, 1.0), (250, 2.0)],
        'episode_return': [(120, 2.5), (250, -1.0)],
        'loss': [(120, 0.25), (250, 0.125)],
        'solved': [(250, 1.0)],
    }


def test_without_total_steps_the_step_counts_writes_and_label_prefixes(
        tmp_path):
    with TensorBoardLogger(tmp_path, label='evaluation') as logger:
        for value in (3.0, 4.0, 5.0):
            logger.write({'mean_return': value, 'frames': np.zeros(3)})
    assert read_scalars(tmp_path) == {
        'evaluation/mean_return': [(0, 3.0), (1, 4.0), (2, 5.0)]}


def test_writes_reach_the_file_through_a_dispatcher_with_a_csv_logger(
        tmp_path):
    csv_path = tmp_path / 'episodes.csv'
    logger = loggers.Dispatcher([loggers.CSVLogger(csv_path),
                                 TensorBoardLogger(tmp_path / 'tb')])
    with logger:
        logger.write({'total_steps': 7, 'episode_return': 1.0})
    assert csv_path.read_text().splitlines() == ['total_steps,episode_return',
                                                 '7,1.0']
    assert read_scalars(tmp_path / 'tb') == {'episode_return': [(7, 1.0)]}


def test_closed_logger_refuses_writes_and_closes_twice(tmp_path):
    logger = TensorBoardLogger(tmp_path)
    logger.close()
    logger.close()
    with pytest.raises(ValueError, match='closed TensorBoardLogger'):
        logger.write({'x': 1.0})


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='flush_secs must be > 0, got 0'):
        TensorBoardLogger(tmp_path, flush_secs=0)
    with pytest.raises(TypeError, match='label must be a string, got 3'):
        TensorBoardLogger(tmp_path, label=3)


def test_exported_lazily_from_gridlab(tmp_path):
    assert gridlab.TensorBoardLogger is TensorBoardLogger
    assert isinstance(TensorBoardLogger(tmp_path), gridlab.Logger)
