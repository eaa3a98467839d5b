"""Hyperparameters from the command line and from files, typed by the agent.

    gridlab train --agent q-learning --task FrozenLake-v1 --set initial_value=0 --set step_size=0.1
    gridlab train --config my_run.toml           # or .yaml

`--set NAME=VALUE` names any constructor argument of the agent; VALUE is read
as the type the argument's annotation (or default) says: bool, int, float,
str, None for optional ones, and tuples such as `hidden_sizes=64,64`. A file
holds the same under a `[hyperparameters]` table, beside run settings:

    agent = "q-learning"
    task = "FrozenLake-v1"
    steps = 100_000
    [hyperparameters]
    initial_value = 0.0

In a sweep file a value may be a list of values to try (see `gridlab.experiments.sweep`).
"""

import ast
import difflib
import inspect
import pathlib
import sys
import typing
from typing import Any, Dict, Iterable, Mapping, Tuple

# What a config file may hold beside [hyperparameters], per command.
TRAIN_KEYS = ('agent', 'task', 'seed', 'steps', 'episodes', 'observation', 'discount',
              'device', 'eval_episodes', 'eval_every', 'num_envs', 'video_every')
SWEEP_KEYS = ('agents', 'tasks', 'seeds', 'steps', 'episodes', 'eval_every')
RUN_KEYS = tuple(dict.fromkeys(TRAIN_KEYS + SWEEP_KEYS))  # Either command's.
# Constructor arguments that are run settings, not hyperparameters: gridlab
# passes them itself (the run's seed and device), so --set cannot.
RUN_ARGUMENTS = {'seed': "the run's seed: give it with --seed (--seeds in a sweep), "
                         'seed in a config file or seed= in run_experiment',
                 'device': "the run's device: give it with --device, device in a "
                           'config file or device= in run_experiment'}


def suggestion(name: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for the choice nearest `name`, or ''."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f' (did you mean {close[0]!r}?)' if close else ''


def parse_assignment(text: str) -> Tuple[str, str]:
    """'name=value' -> ('name', 'value'), or a ValueError saying what is wrong."""
    name, sep, value = text.partition('=')
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(f'--set {text!r}: expected NAME=VALUE, e.g. --set step_size=0.1')
    return name, value.strip()


def _expected_type(parameter: inspect.Parameter):
    """(type, optional) for a parameter, from its annotation or its default."""
    annotation = parameter.annotation
    if isinstance(annotation, str):  # Postponed annotations: not evaluated here.
        annotation = inspect.Parameter.empty
    optional = parameter.default is None
    if annotation is not inspect.Parameter.empty:
        origin = typing.get_origin(annotation)
        if origin is typing.Union:
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            annotation = args[0] if len(args) == 1 else Any
            origin = typing.get_origin(annotation)
        if origin in (tuple, list) or annotation in (tuple, list) or (
                origin is not None and origin.__name__ in ('Sequence',)):
            return tuple, optional
        if annotation in (bool, int, float, str):
            return annotation, optional
        try:
            if issubclass(annotation, (tuple, list)):
                return tuple, optional
        except TypeError:
            pass
    default = parameter.default
    if default is not inspect.Parameter.empty and default is not None:
        if isinstance(default, (tuple, list)):
            return tuple, optional
        return type(default), optional
    return Any, optional


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def coerce(name: str, value: Any, parameter: inspect.Parameter) -> Any:
    """`value` (a string from the command line, or a parsed file value) as the
    type `parameter` takes; a ValueError names the parameter otherwise."""
    kind, optional = _expected_type(parameter)
    text = value.strip() if isinstance(value, str) else None
    if optional and (value is None or (text is not None and text.lower() == 'none')):
        return None

    def fail(expected: str):
        raise ValueError(f'hyperparameter {name}={value!r}: expected {expected}')

    if kind is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ('true', 'yes', '1', 'on'):
            return True
        if text is not None and text.lower() in ('false', 'no', '0', 'off'):
            return False
        fail('true or false')
    if kind is int:
        parsed = _literal(text) if text is not None else value
        if isinstance(parsed, float) and parsed.is_integer():
            parsed = int(parsed)
        if isinstance(parsed, bool) or not isinstance(parsed, int):
            fail('an integer' + (' or none' if optional else ''))
        return parsed
    if kind is float:
        parsed = _literal(text) if text is not None else value
        if isinstance(parsed, str):
            try:  # 'nan', 'inf': numbers, for the agent to refuse by name.
                parsed = float(parsed)
            except ValueError:
                pass
        if isinstance(parsed, bool) or not isinstance(parsed, (int, float)):
            fail('a number' + (' or none' if optional else ''))
        return float(parsed)
    if kind is tuple:
        if text is not None:
            parsed = _literal(text if text.startswith(('(', '[')) else f'({text},)')
        else:
            parsed = value
        if not isinstance(parsed, (tuple, list)):
            fail('a list such as 64,64')
        return tuple(parsed)
    if kind is str:
        if text is None:
            fail('a string')
        return text
    if kind is Any and isinstance(_object_type(parameter), type):
        # A network, a callable: only Python can pass one.
        cls = _object_type(parameter)
        if text is not None or not isinstance(value, cls):
            fail(f'a {_public_name(cls)} object, which only Python can '
                 f'pass (run_experiment(hyperparameters=...) or the agent\'s '
                 f'constructor), not --set or a config file; leave {name} unset for '
                 'the default')
        return value
    return _literal(text) if text is not None else value


def _public_name(cls: type) -> str:
    """'torch.nn.Module' for torch.nn.modules.module.Module: the shortest
    module path that offers the class."""
    parts = cls.__module__.split('.')
    for i in range(1, len(parts) + 1):
        module = sys.modules.get('.'.join(parts[:i]))
        if module is not None and getattr(module, cls.__qualname__, None) is cls:
            return f'{".".join(parts[:i])}.{cls.__qualname__}'
    return f'{cls.__module__}.{cls.__qualname__}'


def _object_type(parameter: inspect.Parameter):
    """The class an argument annotated with a class other than plain data
    takes (`Optional[nn.Module]` -> nn.Module), else None."""
    annotation = parameter.annotation
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    if (isinstance(annotation, type) and annotation is not inspect.Parameter.empty and
            typing.get_origin(annotation) is None and
            annotation not in (bool, int, float, str, object) and
            not issubclass(annotation, (tuple, list, dict))):
        return annotation
    return None


def typed(parameters: Mapping[str, inspect.Parameter], values: Mapping[str, Any],
          agent: str = 'the agent') -> Dict[str, Any]:
    """`values` typed by `parameters`; unknown names are one ValueError.

    `seed` and `device` are run settings (`RUN_ARGUMENTS`), refused here
    even for agents whose constructors take them.
    """
    for name in values:
        if name in RUN_ARGUMENTS:
            raise ValueError(f'{name} is not a hyperparameter but {RUN_ARGUMENTS[name]}')
    offered = [name for name in parameters if name not in RUN_ARGUMENTS]
    unknown = sorted(set(values) - set(offered))
    if unknown:
        hint = suggestion(unknown[0], offered) if len(unknown) == 1 else ''
        raise ValueError(f'{agent} has no hyperparameter '
                         f'{", ".join(map(repr, unknown))}{hint}; it takes '
                         f'{", ".join(offered) or "none"}')
    return {name: coerce(name, value, parameters[name]) for name, value in values.items()}


class _DuplicateKey(Exception):
    def __init__(self, key, first_line: int, line: int):
        super().__init__(key, first_line, line)
        self.key, self.first_line, self.line = key, first_line, line


def _yaml_loader():
    """PyYAML's SafeLoader, refusing a key given twice in one mapping (PyYAML
    keeps the last silently; TOML refuses, and so does gridlab)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == 'tag:yaml.org,2002:merge':  # '<<', YAML's merge key.
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:  # An unhashable key: SafeLoader refuses it itself.
                    continue
                if first is not key_node.start_mark:
                    raise _DuplicateKey(key, first.line + 1, key_node.start_mark.line + 1)
            return super().construct_mapping(node, deep)
    return UniqueKeyLoader


COMMANDS = {'train': TRAIN_KEYS, 'sweep': SWEEP_KEYS}


def read_table(path: pathlib.Path, where: str) -> Dict[str, Any]:
    """The table a TOML or YAML file holds; a ValueError naming `where` (the
    file, as the message should call it) for anything else: a folder, a file
    that is missing, not text or malformed, a key given twice."""
    if path.is_dir():
        raise ValueError(f'{where} is a folder; expected a .toml or .yaml file')
    if not path.is_file():
        raise ValueError(f'{where} does not exist')
    suffix = path.suffix.lower()
    if suffix not in ('.toml', '.yaml', '.yml'):
        raise ValueError(f'{where}: expected a .toml, .yaml or .yml file')
    kind = 'TOML' if suffix == '.toml' else 'YAML'
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f'{where} cannot be read: {error.strerror or error}') from None
    try:
        text = data.decode('utf-8-sig')  # A byte-order mark (Windows editors) is fine.
    except UnicodeDecodeError as error:
        raise ValueError(f'{where} is not text: byte 0x{data[error.start]:02x} at '
                         f'position {error.start} is not UTF-8; expected {kind} text '
                         'of settings') from None
    if '\x00' in text:
        raise ValueError(f'{where} is not text (it holds NUL bytes); expected {kind} '
                         'text of settings')
    if suffix == '.toml':
        try:
            import tomllib
        except ImportError:  # Python 3.10.
            import tomli as tomllib
        parse, errors = tomllib.loads, tomllib.TOMLDecodeError
    else:
        import yaml
        loader = _yaml_loader()
        parse, errors = (lambda source: yaml.load(source, Loader=loader)), yaml.YAMLError
    try:
        content = parse(text)
    except _DuplicateKey as duplicate:
        raise ValueError(f'{where}: key {duplicate.key!r} is given twice (lines '
                         f'{duplicate.first_line} and {duplicate.line}); expected each '
                         'setting once') from None
    except errors as error:
        message = ' '.join(str(error).split())
        raise ValueError(f'{where} is malformed {kind}: {message}') from None
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise ValueError(f'{where}: expected a table of settings (key = value), got '
                         f'a {type(content).__name__}')
    return content


def load_config(path, command: str = 'train') -> Dict[str, Any]:
    """A TOML or YAML file of settings for `gridlab train` (or `sweep`) as a dict.

    Beside `hyperparameters`, it may hold `TRAIN_KEYS` (or `SWEEP_KEYS`);
    anything else, a key given twice, or a file that is not TOML/YAML text
    is a ValueError naming the file.
    """
    path = pathlib.Path(path)
    where = f'config file {str(path)!r}'
    content = read_table(path, where)
    accepted = COMMANDS[command]
    for key in content:
        other = next((name for name, keys in COMMANDS.items()
                      if name != command and key in keys and key not in accepted), None)
        if other is not None:
            raise ValueError(f'{where}: {key!r} is a setting of `gridlab {other}`, not '
                             f'of `gridlab {command}`; expected '
                             f'{", ".join(accepted)} or a [hyperparameters] table')
    unknown = [key for key in content if key not in accepted and key != 'hyperparameters']
    if unknown:
        hint = suggestion(unknown[0], accepted + ('hyperparameters',))
        raise ValueError(f'{where}: unknown setting(s) '
                         f'{", ".join(map(repr, unknown))}{hint}; expected '
                         f'{", ".join(accepted)} or a [hyperparameters] table')
    if content.get('hyperparameters', ()) is None:  # YAML's `hyperparameters:` alone.
        content['hyperparameters'] = {}
    hyperparameters = content.get('hyperparameters', {})
    if not isinstance(hyperparameters, dict):
        raise ValueError(f'{where}: hyperparameters must be a table, got '
                         f'{hyperparameters!r}')
    for name in hyperparameters:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f'{where}: hyperparameter name {name!r} is not an '
                             'argument name')
    return content


def effective(parameters: Mapping[str, inspect.Parameter],
              given: Mapping[str, Any]) -> Dict[str, Any]:
    """Every constructor argument as the agent will use it (defaults filled in).

    Values that are not plain data (a network module) are recorded by repr.
    """
    result = {}
    for name, parameter in parameters.items():
        if name in ('seed', 'device'):
            continue
        value = given.get(name, parameter.default)
        if value is inspect.Parameter.empty:
            continue
        result[name] = _plain(value)
    return result


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return repr(value)


def merge(*layers: Mapping[str, Any]) -> Dict[str, Any]:
    """Later layers win: defaults < tuned < config file < --set."""
    merged: Dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def parse_sets(assignments: Iterable[str]) -> Dict[str, str]:
    """Repeated --set NAME=VALUE as a dict of strings (typed later); a name
    set twice is a ValueError (which of the two was meant?)."""
    values: Dict[str, str] = {}
    for text in assignments:
        name, value = parse_assignment(text)
        if name in values:
            raise ValueError(f'--set {name} is given twice ({name}={values[name]} and '
                             f'{name}={value}); expected each name once')
        values[name] = value
    return values
