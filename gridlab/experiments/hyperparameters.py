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
import inspect
import pathlib
import typing
from typing import Any, Dict, Iterable, Mapping, Tuple

RUN_KEYS = ('agent', 'task', 'seed', 'steps', 'episodes', 'observation', 'discount',
            'device', 'eval_episodes', 'eval_every', 'agents', 'tasks', 'seeds')


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
    return _literal(text) if text is not None else value


def typed(parameters: Mapping[str, inspect.Parameter], values: Mapping[str, Any],
          agent: str = 'the agent') -> Dict[str, Any]:
    """`values` typed by `parameters`; unknown names are one ValueError."""
    unknown = sorted(set(values) - set(parameters))
    if unknown:
        raise ValueError(f'{agent} has no hyperparameter '
                         f'{", ".join(map(repr, unknown))}; it takes '
                         f'{", ".join(parameters) or "none"}')
    return {name: coerce(name, value, parameters[name]) for name, value in values.items()}


def load_config(path) -> Dict[str, Any]:
    """A TOML or YAML run file as a dict (run settings and `hyperparameters`)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f'config file {str(path)!r} does not exist')
    suffix = path.suffix.lower()
    if suffix not in ('.toml', '.yaml', '.yml'):
        raise ValueError(f'config file {str(path)!r}: expected a .toml, .yaml or '
                         '.yml file')
    text = path.read_text(encoding='utf-8')
    if suffix == '.toml':
        try:
            import tomllib
        except ImportError:  # Python 3.10.
            import tomli as tomllib
        parse, errors = tomllib.loads, tomllib.TOMLDecodeError
    else:
        import yaml
        parse, errors = yaml.safe_load, yaml.YAMLError
    try:
        content = parse(text)
    except errors as error:
        message = ' '.join(str(error).split())
        raise ValueError(f'config file {str(path)!r} is malformed: {message}') from None
    if content is None:
        content = {}
    if not isinstance(content, dict):
        raise ValueError(f'config file {str(path)!r}: expected a table of settings')
    unknown = sorted(set(content) - set(RUN_KEYS) - {'hyperparameters'})
    if unknown:
        raise ValueError(f'config file {str(path)!r}: unknown setting(s) '
                         f'{", ".join(map(repr, unknown))}; expected '
                         f'{", ".join(RUN_KEYS)} or a [hyperparameters] table')
    hyperparameters = content.get('hyperparameters', {})
    if not isinstance(hyperparameters, dict):
        raise ValueError(f'config file {str(path)!r}: hyperparameters must be a table')
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
    """Repeated --set NAME=VALUE as a dict of strings (typed later)."""
    return dict(parse_assignment(text) for text in assignments)
