"""Read a Pulumi stack file (`Pulumi.<stack>.yaml`) for the offline plan, refusing with the line what YAML
loaders take silently or answer with a stack trace:

- a YAML syntax error, a file that is not a mapping, or a `config` that is not a mapping: `StackFileError`
  (nothing else can be read);
- a key written twice, anywhere (PyYAML keeps the last one silently; so would a plan), including `region`
  next to `leanrag:region`, which name the same key;
- a top-level key that Pulumi stack files do not have (a `confg:` typo would leave the stack without config);
- a config key that is not `namespace:key`, or that has no value.

The last three are `Problem`s, reported together with the program's own (schema, provider keys, preflight);
`StackFile.locate` adds the file and line to any problem whose key is written in the file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stacks.config import NAMESPACE
from stacks.preflight import Problem

TOP_LEVEL_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")
"""The keys of a Pulumi stack file."""
OFFLINE_SECRET = "offline-placeholder"
"""What an encrypted (`secure:`) value becomes offline: it cannot be decrypted without the stack's key."""
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class StackFileError(Exception):
    """A stack file that cannot be read at all; the message names the file, the line and the fix."""


def path_of(stack: str, root: Path) -> Path:
    """A stack argument -> its file: a path when it ends in .yaml/.yml, else `<root>/Pulumi.<stack>.yaml`."""
    return Path(stack) if stack.endswith((".yaml", ".yml")) else root / f"Pulumi.{stack}.yaml"


def known_stacks(root: Path) -> list[str]:
    """The stacks that have a file in `root` (the names `path_of` takes)."""
    return sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))


def _full_key(key: str) -> str:
    """A config key as Pulumi names it: keys without a namespace belong to the project."""
    return key if ":" in key else f"{NAMESPACE}:{key}"


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _path_parts(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PATH_PART.findall(path)]


@dataclass
class StackFile:
    path: Path
    config: dict[str, Any]
    """Full config key (leanrag:region, aws:region) -> its value as written."""
    secure_keys: list[str]
    """Full keys whose value is encrypted (`{secure: ...}`)."""
    problems: list[Problem] = field(default_factory=list)
    _config_node: yaml.MappingNode | None = None

    def engine_config(self) -> tuple[dict[str, str], list[str]]:
        """The config as the engine passes it to the program: strings as they are, structured values as JSON,
        encrypted values as placeholders (the program sees the secret as set); and the secret keys."""
        out: dict[str, str] = {}
        for key, value in self.config.items():
            if key in self.secure_keys:
                out[key] = OFFLINE_SECRET
            else:
                out[key] = value if isinstance(value, str) else json.dumps(value, default=str)
        return out, list(self.secure_keys)

    def line_of(self, namespace: str, path: str) -> int | None:
        """The line of a config key path (e.g. leanrag, serving.models[0].precision): of the key itself, or of
        its deepest ancestor written in the file (a missing key is reported where it belongs)."""
        if self._config_node is None:
            return None
        parts = _path_parts(path)
        if not parts:
            return None
        head = f"{namespace}:{parts[0]}"
        found = [(k, v) for k, v in self._config_node.value if isinstance(k.value, str) and _full_key(k.value) == head]
        if not found:
            return None
        key_node, node = found[-1]
        line = _line(key_node)
        for part in parts[1:]:
            if isinstance(part, int) and isinstance(node, yaml.SequenceNode) and part < len(node.value):
                node = node.value[part]
                line = _line(node)
            elif isinstance(part, str) and isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if k.value == part]
                if not match:
                    break
                key_node, node = match[-1]
                line = _line(key_node)
            else:
                break
        return line

    def locate(self, problem: Problem) -> Problem:
        """`problem` with the file and line of its key, when the key is written in this file; a value the key
        cannot take because it is encrypted (`secure:`, which the program sees as a string) says so."""
        top = _path_parts(problem.path)[:1]
        if top and f"{problem.namespace}:{top[0]}" in self.secure_keys and problem.message.startswith("Input should"):
            key = f"{problem.namespace}:{top[0]}"
            problem = dataclasses.replace(
                problem,
                message=f"{problem.message} ({key} is encrypted, `secure:`: offline it cannot be decrypted, and "
                "the placeholder the plan gets instead is not a valid value)",
                fix=f"{key} is not a secret: keep it in plain text, `pulumi config set {key} VALUE` (without "
                "--secret; add --path for a nested key)",
            )
        if problem.location:
            return problem
        line = self.line_of(problem.namespace, problem.path)
        return dataclasses.replace(problem, location=f"{self.path.name}:{line}") if line else problem


def _load(path: Path) -> tuple[yaml.Node | None, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise StackFileError(f"{path}: cannot be read ({e.strerror}); check the path and its permissions") from None
    except UnicodeDecodeError as e:
        raise StackFileError(f"{path.name}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        what = "; ".join(str(s) for s in (e.context, e.problem) if s)
        raise StackFileError(f"{where}: not valid YAML: {what}; fix the indentation or quoting there") from None
    except yaml.YAMLError as e:
        raise StackFileError(f"{path.name}: not valid YAML: {e}") from None
    finally:
        loader.dispose()
    return node, data


def _duplicates(node: yaml.Node, namespace: str, path: str, is_config: bool = False) -> list[Problem]:
    """Keys written twice in any mapping below `node` (the key path of each names where)."""
    out: list[Problem] = []
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicates(item, namespace, f"{path}[{i}]")
        return out
    if not isinstance(node, yaml.MappingNode):
        return out
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
            continue
        name = _full_key(key_node.value) if is_config else key_node.value
        ns, key_path = (name.split(":", 1)[0], name.split(":", 1)[1]) if is_config else (namespace, name)
        full_path = key_path if is_config or not path else f"{path}.{key_path}"
        if name in seen:
            first, again = seen[name], _line(key_node)
            lines = f"on line {again}" if first == again else f"on lines {first} and {again}"
            out.append(
                Problem(
                    full_path,
                    f"written twice, {lines} (the last would win silently)",
                    "keep one of them",
                    namespace=ns,
                    location=f"line {_line(key_node)}",
                )
            )
        seen[name] = _line(key_node)
        out += _duplicates(value_node, ns, full_path)
    return out


def read(path: Path) -> StackFile:
    """The stack file's config, with the problems that can be found in the file alone; StackFileError when it
    cannot be read as a stack file at all."""
    node, data = _load(path)
    if data is None:
        return StackFile(path, {}, [])
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise StackFileError(
            f"{path.name}:1: a stack file is a mapping with a `config:` key, not a {type(data).__name__}; "
            "see Pulumi.dev.yaml for the shape"
        )
    problems: list[Problem] = []
    config_node: yaml.Node | None = None
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
        if key in seen:
            problems.append(
                Problem(
                    key,
                    f"written twice, on lines {seen[key]} and {_line(key_node)} (the last would win silently)",
                    "keep one of them",
                    namespace="",
                    location=f"{path.name}:{_line(key_node)}",
                )
            )
        seen[key] = _line(key_node)
        if key == "config":
            config_node = value_node
        elif key not in TOP_LEVEL_KEYS:
            problems.append(
                Problem(
                    key,
                    "not a key of Pulumi stack files",
                    f"use one of: {', '.join(TOP_LEVEL_KEYS)} (every setting goes under config:)",
                    namespace="",
                    location=f"{path.name}:{_line(key_node)}",
                )
            )
    raw = data.get("config")
    if raw is None:
        return StackFile(path, {}, [], problems)
    if not isinstance(raw, dict) or not isinstance(config_node, yaml.MappingNode):
        line = _line(config_node) if config_node is not None else 1
        raise StackFileError(
            f"{path.name}:{line}: `config` must be a mapping of `namespace:key: value` lines, not a "
            f"{type(raw).__name__}; indent one `leanrag:cloud: aws` line per key under it"
        )
    problems += [
        dataclasses.replace(p, location=f"{path.name}:{p.location.removeprefix('line ')}")
        for p in _duplicates(config_node, "", "", is_config=True)
    ]
    constructor = yaml.SafeLoader("")
    config: dict[str, Any] = {}
    secure: list[str] = []
    for key_node, value_node in config_node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        where = f"{path.name}:{_line(key_node)}"
        if not isinstance(key, str) or not key or key.count(":") > 1 or key.startswith(":") or key.endswith(":"):
            problems.append(
                Problem(
                    str(key),
                    "a config key is `namespace:key` (or a key of this project without a namespace)",
                    f"write it as {NAMESPACE}:<key> or <provider>:<key>, e.g. {NAMESPACE}:region or aws:region",
                    namespace="config",
                    location=where,
                )
            )
            continue
        full = _full_key(key)
        value = constructor.construct_object(value_node, deep=True)
        if value is None:
            ns, name = full.split(":", 1)
            problems.append(
                Problem(name, "has no value", "give it a value or remove the line", namespace=ns, location=where)
            )
            continue
        config[full] = value
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.append(full)
    return StackFile(path, config, secure, problems, config_node)
