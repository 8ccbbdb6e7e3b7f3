"""Safe YAML loading that remembers where every mapping key and list item came from.

Only the constructors of `yaml.SafeLoader` ever run, so loading a config never executes code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from verify_compile.errors import ConfigError


class LocDict(dict):
    """A YAML mapping with the line of the mapping and of each of its keys (1-based)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LocList(list):
    """A YAML sequence with the line of the sequence and of each item (1-based)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line = 0
        self.item_lines: list = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    pass


# YAML 1.1 reads `1e-5` (no dot) as a string; users mean a float.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(path: Path) -> Any:
    """Parse `path` into plain data made of LocDict, LocList and scalars; ConfigError on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config: {e}", str(path)) from None
    return loads_yaml(text, str(path))


def loads_yaml(text: str, filename: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return _convert(node, loader, filename) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(p for p in (e.context, e.problem) if p) or "invalid YAML"
        raise ConfigError(f"YAML syntax error: {problem}", filename, mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"YAML error: {e}", filename) from None
    finally:
        loader.dispose()


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _convert(node: yaml.Node, loader: _Loader, filename: str) -> Any:
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
        raise ConfigError(f"unsupported YAML tag '{node.tag}': configs hold plain data only", filename,
                          node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = LocDict()
        out.line = node.start_mark.line + 1
        merged: list = []  # from `<<: *anchor`: the mapping's own keys override them, as YAML says
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    data = _convert(source, loader, filename)
                    if not isinstance(data, LocDict):
                        raise ConfigError("'<<' merges mappings only", filename, line)
                    merged += [(k, v, data.line_of(k)) for k, v in data.items()]
                continue
            key = _convert(key_node, loader, filename)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise ConfigError("mapping keys must be plain scalars", filename, line)
            if key in out:
                raise ConfigError(f"duplicate key '{key}' (first on line {out.key_lines[key]})", filename, line,
                                  "remove one of them")
            out[key] = _convert(value_node, loader, filename)
            out.key_lines[key] = line
        for key, value, line in merged:
            if key not in out:
                out[key] = value
                out.key_lines[key] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        out_list = LocList(_convert(item, loader, filename) for item in node.value)
        out_list.line = node.start_mark.line + 1
        out_list.item_lines = [item.start_mark.line + 1 for item in node.value]
        return out_list
    return loader.construct_object(node, deep=True)
