"""YAML text of agency files: tagged component content (``!name x``), block style, errors with file:line.

The only module importing PyYAML (about 10 ms), so only agency commands pay for it.
"""

from __future__ import annotations

import yaml

from ..errors import WgError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Tagged:
    """A tagged scalar such as a component's ``content: !inline some text``."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: str) -> None:
        self.tag, self.value = tag, value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tagged) and (other.tag, other.value) == (self.tag, self.value)

    def __hash__(self) -> int:
        return hash((self.tag, self.value))

    def __repr__(self) -> str:
        return f"Tagged({self.tag!r}, {self.value!r})"


class AgencyFileError(WgError):
    """A file that does not parse: ``<file>:<line>: <what>``."""

    def __init__(self, path: str, line: int, what: str) -> None:
        super().__init__(f"{path}:{line}: {what}")
        self.path, self.line, self.what = path, line, what


class _Load(_Loader):  # type: ignore[misc]
    pass


class _Dump(_Dumper):  # type: ignore[misc]
    pass


def _construct_tagged(loader: Any, suffix: str, node: Any) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return Tagged(suffix, str(loader.construct_scalar(node)))
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_sequence(node, deep=True)


def _represent_tagged(dumper: Any, data: Tagged) -> Any:
    return dumper.represent_scalar("!" + data.tag, data.value)


def _represent_str(dumper: Any, data: str) -> Any:
    style = "|" if "\n" in data and not data.endswith((" ", "\t")) and "\r" not in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Load.add_multi_constructor("!", _construct_tagged)
_Dump.add_representer(Tagged, _represent_tagged)
_Dump.add_representer(str, _represent_str)
# Timestamps stay text (YAML 1.1 would turn an unquoted date into a datetime) and are written unquoted.
for _cls, _base in ((_Load, _Loader), (_Dump, _Dumper)):
    _cls.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in _base.yaml_implicit_resolvers.items()
    }


def loads(text: str, path: str) -> Any:
    """Parse one document; a syntax error raises AgencyFileError with the 1-based line."""
    try:
        return yaml.load(text, Loader=_Load)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or exc.context or "invalid YAML"
        raise AgencyFileError(path, line, what) from None
    except yaml.YAMLError as exc:
        raise AgencyFileError(path, 1, str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None


def dumps(data: Any) -> str:
    text: str = yaml.dump(
        data, Dumper=_Dump, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1_000_000
    )
    return text
