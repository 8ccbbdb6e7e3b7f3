"""Safe YAML loading that remembers where every mapping key and list item came from.

Only the constructors of `yaml.SafeLoader` ever run, so loading a config never executes code. A config is
hostile input: its size, nesting, alias expansion and number lengths are bounded while it is composed, so a
495-byte "billion laughs" file is a located error in milliseconds, not gigabytes of memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

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


MAX_BYTES = 4 * 2**20  # a config of thousands of models is well under this
MAX_DEPTH = 64  # nesting of mappings and sequences; real configs need fewer than 10
MAX_NODES = 1_000_000  # nodes of the document once every alias is expanded (a 4 MiB config has fewer)
MAX_NUMBER_CHARS = 64  # an int or float scalar longer than this is a mistake (or an attack)


class _Loader(yaml.SafeLoader):
    """Composes with bounds: the size a node has once its aliases are expanded is known when it is composed, so
    an alias bomb or a recursive alias is refused before anything is built from it."""

    def __init__(self, text: str, filename: str) -> None:
        super().__init__(text)
        self.filename = filename
        self._sizes: dict = {}  # id(node) -> its node count with aliases expanded
        self._open_anchors: set = set()  # anchors of nodes being composed: an alias to one is a cycle
        self._depth = 0

    def _error(self, message: str, mark: Optional[yaml.Mark], hint: Optional[str] = None) -> ConfigError:
        return ConfigError(message, self.filename, mark.line + 1 if mark else None, hint)

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open_anchors:
                raise self._error(f"recursive alias '*{event.anchor}': it refers to a node that contains it",
                                  event.start_mark, "a config must be a tree; aliases may only repeat it")
            return super().compose_node(parent, index)
        event = self.peek_event()
        nested = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if nested:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise self._error(f"nesting deeper than {MAX_DEPTH} levels (the limit)", event.start_mark)
        if event.anchor is not None:
            self._open_anchors.add(event.anchor)
        node = super().compose_node(parent, index)
        self._open_anchors.discard(event.anchor)
        self._depth -= nested
        self._count(node)
        return node

    def _count(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode):
            self._sizes[id(node)] = 1
            if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
                raise self._error(f"a number of {len(node.value)} characters; the limit is {MAX_NUMBER_CHARS}",
                                  node.start_mark)
            return
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
        size = 1 + sum(self._sizes[id(child)] for child in children)
        self._sizes[id(node)] = size
        if size > MAX_NODES:
            raise self._error(f"this value has more than {MAX_NODES} YAML nodes once its aliases are expanded "
                              f"(the limit)", node.start_mark,
                              "aliases that repeat aliases grow exponentially; write the data out instead")


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


# YAML 1.1 reads `1e-5` (no dot) as a string; users mean a float.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(path: Path) -> Any:
    """Parse `path` into plain data made of LocDict, LocList and scalars; ConfigError on any problem."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("config file not found", str(path)) from None
    except OSError as e:
        raise ConfigError(f"cannot read config: {e.strerror or e}", str(path)) from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"the file is larger than {MAX_BYTES // 2**20} MiB (the limit for a config)", str(path),
                          data.count(b"\n", 0, MAX_BYTES) + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8: byte 0x{data[e.start]:02x} at offset {e.start}", str(path),
                          data.count(b"\n", 0, e.start) + 1) from None
    return loads_yaml(text, str(path))


def loads_yaml(text: str, filename: str) -> Any:
    if len(text) > MAX_BYTES:
        raise ConfigError(f"the document is larger than {MAX_BYTES // 2**20} MiB (the limit)", filename, 1)
    loader = None
    try:
        loader = _Loader(text, filename)  # the reader checks every character here: a NUL is refused at once
        node = loader.get_single_node()
        return _convert(node, loader, filename) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(p for p in (e.context, e.problem) if p) or "invalid YAML"
        raise ConfigError(f"YAML syntax error: {problem}", filename, mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise ConfigError(f"character {ord(e.character) if isinstance(e.character, str) else e.character:#06x} "
                          f"is not allowed in YAML", filename, line,
                          "remove control characters (e.g. NUL) from the file") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"YAML error: {e}", filename, 1) from None
    except RecursionError:
        raise ConfigError(f"nesting too deep to read (the limit is {MAX_DEPTH} levels)", filename, 1) from None
    finally:
        if loader is not None:
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
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError, KeyError, AttributeError, TypeError) as e:  # a bad date, `!!bool maybe`
        raise ConfigError(f"cannot read the value '{node.value[:40]}': {e}", filename,
                          node.start_mark.line + 1) from None
