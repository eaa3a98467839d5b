"""Tests for gridlab.loops.loggers."""

import csv
import errno

import numpy as np
import pytest
import torch

from gridlab.loops import loggers


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def read_csv(path):
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.reader(f))


def test_terminal_logger_formats_one_line_per_write():
    lines = []
    logger = loggers.TerminalLogger('training_loop', print_fn=lines.append)
    logger.write({'episode': 3, 'episode_length': np.int64(12),
                  'episode_return': np.float32(5.0)})
    logger.write({'loss': np.array(2.5e-5), 'name': 'dqn'})
    assert lines == [
        '[Training Loop] Episode = 3 | Episode Length = 12 | Episode Return = 5.000',
        '[Training Loop] Loss = 2.500e-05 | Name = dqn',
    ]


def test_terminal_logger_without_label_has_no_brackets():
    lines = []
    loggers.TerminalLogger(print_fn=lines.append).write({'steps': 1, 'x': 0.12345})
    assert lines == ['Steps = 1 | X = 0.123']


def test_terminal_logger_drops_writes_within_time_delta():
    lines = []
    logger = loggers.TerminalLogger(time_delta=3600.0, print_fn=lines.append)
    logger.write({'episode': 1})
    logger.write({'episode': 2})
    assert lines == ['Episode = 1']


def test_time_filter_passes_a_write_only_after_time_delta():
    clock = FakeClock()
    inner = loggers.InMemoryLogger()
    logger = loggers.TimeFilter(inner, time_delta=1.0, clock=clock)
    logger.write({'step': 0})  # The first write always passes.
    clock.now += 0.5
    logger.write({'step': 1})
    clock.now += 0.5
    logger.write({'step': 2})  # 1.0 s since step 0.
    clock.now += 0.9
    logger.write({'step': 3})  # Measured from step 2, not from step 1.
    clock.now += 0.1
    logger.write({'step': 4})
    assert [row['step'] for row in inner.data] == [0, 2, 4]


def test_time_filter_with_zero_delta_passes_everything():
    clock = FakeClock()
    inner = loggers.InMemoryLogger()
    logger = loggers.TimeFilter(inner, time_delta=0.0, clock=clock)
    for step in range(3):
        logger.write({'step': step})
    assert len(inner.data) == 3


def test_time_filter_rejects_negative_delta():
    with pytest.raises(ValueError, match='-1'):
        loggers.TimeFilter(loggers.NoOpLogger(), time_delta=-1)


def test_csv_logger_flushes_every_row(tmp_path):
    path = tmp_path / 'log.csv'
    logger = loggers.CSVLogger(path)
    logger.write({'episode': 0, 'return': np.float32(0.1)})
    # Read while the logger is still open: the row must already be there.
    assert read_csv(path) == [['episode', 'return'], ['0', '0.1']]
    logger.write({'episode': 1, 'return': np.array(2.5)})
    assert read_csv(path)[-1] == ['1', '2.5']
    logger.close()


def test_csv_logger_widens_header_for_new_key(tmp_path):
    path = tmp_path / 'log.csv'
    with loggers.CSVLogger(path) as logger:
        logger.write({'episode': 0, 'return': 1.5})
        logger.write({'episode': 1, 'return': 2.5, 'loss': 0.25})
        logger.write({'episode': 2, 'loss': 0.5})  # 'return' missing.
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {'episode': '0', 'return': '1.5', 'loss': ''},
        {'episode': '1', 'return': '2.5', 'loss': '0.25'},
        {'episode': '2', 'return': '', 'loss': '0.5'},
    ]
    # No temporary file left behind by the rewrite.
    assert [p.name for p in tmp_path.iterdir()] == ['log.csv']


def test_csv_logger_keeps_values_with_commas_and_newlines(tmp_path):
    path = tmp_path / 'log.csv'
    with loggers.CSVLogger(path) as logger:
        logger.write({'note': 'a, "b"\nc'})
        logger.write({'note': 'x', 'step': 1})  # Forces a rewrite.
    assert read_csv(path) == [['note', 'step'], ['a, "b"\nc', ''], ['x', '1']]


def test_csv_logger_writes_arrays_tensors_and_dicts_whole(tmp_path):
    import json
    import torch
    path = tmp_path / 'log.csv'
    array = np.arange(5000, dtype=np.float64)
    tensor = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4
    nested = {'a': {'b': [1, 2]}, 'c': np.float32(0.5), 'd': np.array([True, False])}
    with loggers.CSVLogger(path) as logger:
        logger.write({'array': array, 'tensor': tensor, 'nested': nested})
    rows = read_csv(path)
    assert len(rows) == 2 and '\n' not in ''.join(rows[1])
    cells = dict(zip(*rows))
    np.testing.assert_array_equal(json.loads(cells['array']), array)
    np.testing.assert_array_equal(json.loads(cells['tensor']), tensor.numpy())
    assert json.loads(cells['nested']) == {'a': {'b': [1, 2]}, 'c': 0.5,
                                           'd': [True, False]}


def test_csv_logger_writes_no_row_for_an_empty_write(tmp_path):
    path = tmp_path / 'log.csv'
    with loggers.CSVLogger(path) as logger:
        logger.write({})
        assert read_csv(path) == []
        logger.write({'episode': 0})
        logger.write({})
    assert read_csv(path) == [['episode'], ['0']]


def test_csv_logger_refuses_a_value_it_cannot_write_back_naming_the_key(tmp_path):
    path = tmp_path / 'log.csv'
    with loggers.CSVLogger(path) as logger:
        logger.write({'episode': 0})
        with pytest.raises(TypeError, match="'agent'.*object"):
            logger.write({'episode': 1, 'agent': object()})
        with pytest.raises(TypeError, match="'names'.*dtype"):
            logger.write({'episode': 1, 'names': np.array(['a', 'b'])})
    assert read_csv(path) == [['episode'], ['0']]  # Nothing half-written.


def test_csv_logger_missing_folder_is_named(tmp_path):
    missing = tmp_path / 'no_such_folder'
    with pytest.raises(FileNotFoundError, match='no_such_folder'):
        loggers.CSVLogger(missing / 'log.csv')
    assert not missing.exists()


def test_in_memory_logger_keeps_copies():
    logger = loggers.InMemoryLogger()
    data = {'step': 1}
    logger.write(data)
    data['step'] = 2
    logger.write(data)
    assert logger.data == [{'step': 1}, {'step': 2}]


def test_dispatcher_writes_to_all_and_closes_all(tmp_path):
    lines = []
    memory = loggers.InMemoryLogger()
    terminal = loggers.TerminalLogger(print_fn=lines.append)
    csv_logger = loggers.CSVLogger(tmp_path / 'log.csv')
    dispatcher = loggers.Dispatcher([memory, terminal, csv_logger])
    dispatcher.write({'step': 7})
    assert memory.data == [{'step': 7}]
    assert lines == ['Step = 7']
    assert read_csv(tmp_path / 'log.csv') == [['step'], ['7']]
    dispatcher.close()
    for logger in (memory, terminal, csv_logger):
        with pytest.raises(ValueError, match='closed'):
            logger.write({'step': 8})


@pytest.mark.parametrize('make_logger', [
    loggers.NoOpLogger,
    loggers.InMemoryLogger,
    lambda: loggers.TerminalLogger(print_fn=print),
    lambda: loggers.TimeFilter(loggers.NoOpLogger(), 0.0),
    lambda: loggers.Dispatcher([loggers.NoOpLogger()]),
])
def test_write_after_close_raises(make_logger):
    logger = make_logger()
    logger.close()
    logger.close()  # Closing twice is harmless.
    with pytest.raises(ValueError, match='closed'):
        logger.write({'step': 1})


def test_csv_logger_write_after_context_raises(tmp_path):
    with loggers.CSVLogger(tmp_path / 'log.csv') as logger:
        logger.write({'step': 1})
    with pytest.raises(ValueError, match='closed CSVLogger'):
        logger.write({'step': 2})


def test_csv_logger_a_failed_first_write_leaves_the_header_to_the_next(tmp_path):
    logger = loggers.CSVLogger(tmp_path / 'log.csv')

    class Full:
        """A disk with no space left, then space again."""

        def __init__(self, file):
            self.file, self.full = file, True

        def write(self, text):
            if self.full:
                raise OSError(errno.ENOSPC, 'No space left on device')
            return self.file.write(text)

        def __getattr__(self, name):
            return getattr(self.file, name)
    logger._file = Full(logger._file)
    with pytest.raises(OSError):
        logger.write({'episode': 0, 'episode_return': 1.5})
    logger._file = logger._file.file if isinstance(logger._file, Full) else logger._file
    logger.write({'episode': 1, 'episode_return': 2.5})
    logger.close()
    with open(tmp_path / 'log.csv', newline='') as f:
        assert list(csv.reader(f)) == [['episode', 'episode_return'], ['1', '2.5']]


def test_csv_logger_refuses_a_complex_tensor_naming_its_key(tmp_path):
    with loggers.CSVLogger(tmp_path / 'log.csv') as logger:
        with pytest.raises(TypeError, match="'phase'"):
            logger.write({'phase': torch.tensor([1 + 2j])})
