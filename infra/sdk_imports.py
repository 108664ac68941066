"""Import only the parts of the provider SDKs that the program uses, for the offline plan and the tests.

Each Pulumi provider SDK (pulumi_gcp, pulumi_aws, pulumi_kubernetes) groups its resources in subpackages whose
`__init__.py` star-imports every resource module: touching `gcp.compute.Network` executes all 287 modules of
`pulumi_gcp.compute` (2.7 s on this machine's cores, most of it building typing objects), `k8s.core.v1.Service`
all of core/v1 (1.3 s). The program uses a handful of each, so the offline plan of `prod` spent most of its time
importing resources it never creates.

`install()` puts a finder in front of the import system for those aggregating subpackages. The package module
it makes runs nothing at import; a name read from it (`compute.Network`, `core.v1.ServiceSpecArgs`,
`compute.outputs`) imports the one module that defines it, found from the package's own `from .X import *`
lines and each module's `__all__`, in the same order a star import would apply them. A name it cannot place
falls back to running the package's real `__init__.py`, so every name the SDK exports still resolves: the
program behaves the same, it only imports less (tests/infra/test_sdk_imports.py checks the plans stay
byte-identical). One difference remains, which the program never meets: a resource module imported by its own
dotted name before its package was read (`import pulumi_kubernetes.core.v1.Service`) binds the package's
attribute to that module, as any submodule import does, and no star import comes after to rebind the class.

Installed by the offline tooling only (importing infra/mocks.py, before any SDK is imported; a package imported
earlier loads as published, which is only slower); `pulumi up` and `pulumi preview` import the SDKs as published.
`LEANRAG_FULL_SDK_IMPORTS=1` turns it off. Standard library only.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import re
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

FULL_IMPORTS_ENV = "LEANRAG_FULL_SDK_IMPORTS"
SDK_PACKAGES = ("pulumi_gcp", "pulumi_aws", "pulumi_kubernetes")
"""Provider SDKs whose aggregating subpackages are imported on demand."""

_STAR_IMPORT = re.compile(r"^from \.(\w+) import \*\s*$", re.MULTILINE)
_SUBMODULE_IMPORT = re.compile(r"^from \. import (\w+)\s*$", re.MULTILINE)
_ALL_START = re.compile(r"^__all__\s*=\s*\[")
_QUOTED = re.compile(r"""['"](\w+)['"]""")
_ALLOWED_LINE = re.compile(
    r"^\s*($|#.*|import builtins as _builtins|import typing|from \.+ import _utilities|from \.\w+ import \*"
    r"|from \. import \w+|if typing\.TYPE_CHECKING:|else:|import [\w.]+ as __\w+|\w+ = __\w+"
    r"|\w+ = _utilities\.lazy_import\('[\w.]+'\))\s*$"
)
"""Every line an aggregating `__init__.py` of these SDKs holds; a package with any other line is left alone."""


def _exports(module_file: Path) -> list[str]:
    """The names in a generated module's `__all__` list (read up to its closing bracket, without importing)."""
    names: list[str] = []
    with module_file.open(encoding="utf-8") as f:
        inside = False
        for line in f:
            if not inside:
                if _ALL_START.match(line):
                    inside = True
                    line = line.split("[", 1)[1]
                else:
                    continue
            head, closed, _ = line.partition("]")
            names += _QUOTED.findall(head)
            if closed:
                return names
    return names


class _OnDemandPackage:
    """The module-level `__getattr__` of one aggregating package: imports the module that defines a name."""

    def __init__(self, module: types.ModuleType, init_source: str) -> None:
        self.module = module
        self.folder = Path(module.__file__ or "").parent
        self.star_modules = _STAR_IMPORT.findall(init_source)
        self.submodules = set(_SUBMODULE_IMPORT.findall(init_source))
        self.index: dict[str, str] | None = None

    def _candidates(self, name: str) -> Iterator[str]:
        """Modules likely to define `name`: the generators name a module after its resource, in the resource's
        own spelling (pulumi_kubernetes: Service.py) or in snake case (pulumi_gcp: router_nat.py)."""
        base = re.sub(r"(InitArgs|ArgsDict|Args)$", "", name)
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()
        yield from dict.fromkeys(m for m in (name, base, snake) if m in self.star_modules)

    def _build_index(self) -> dict[str, str]:
        """Every exported name -> its module (a later star import wins, as in the real `__init__.py`)."""
        return {name: star for star in self.star_modules for name in _exports(self.folder / f"{star}.py")}

    def _owner(self, name: str) -> str | None:
        """The star-imported module that exports `name`. Each name has one such module in these SDKs (the test
        checks every package), so the first module found is the one a star import would have bound."""
        for candidate in self._candidates(name):
            if name in _exports(self.folder / f"{candidate}.py"):
                return candidate
        if self.index is None:
            self.index = self._build_index()
        return self.index.get(name)

    def __call__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {self.module.__name__!r} has no attribute {name!r}")
        package = self.module.__name__
        if name in self.star_modules:  # a resource module; pulumi_kubernetes names it after its class
            module = importlib.import_module(f"{package}.{name}")
            value = getattr(module, name) if name in _exports(self.folder / f"{name}.py") else module
        elif name in self.submodules or (self.folder / name / "__init__.py").exists():
            value = importlib.import_module(f"{package}.{name}")
        elif (owner := self._owner(name)) is not None:
            value = getattr(importlib.import_module(f"{package}.{owner}"), name)
        else:
            return self._load_everything(name)
        setattr(self.module, name, value)  # found once: later reads do not come here
        return value

    def _load_everything(self, name: str) -> Any:
        """A name no star-imported module declares: run the package's real `__init__.py` into the module."""
        del self.module.__getattr__
        source = (self.folder / "__init__.py").read_text(encoding="utf-8")
        exec(compile(source, str(self.folder / "__init__.py"), "exec"), self.module.__dict__)
        return getattr(self.module, name)


class _OnDemandLoader(importlib.abc.Loader):
    def __init__(self, init_source: str) -> None:
        self.init_source = init_source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__getattr__ = _OnDemandPackage(module, self.init_source)  # type: ignore[method-assign]


class _OnDemandFinder(importlib.abc.MetaPathFinder):
    """Finds the aggregating subpackages of SDK_PACKAGES (the top-level packages load as published)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if "." not in fullname or fullname.split(".", 1)[0] not in SDK_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.submodule_search_locations or not spec.origin:
            return spec
        source = Path(spec.origin).read_text(encoding="utf-8")
        if not _STAR_IMPORT.search(source) or not all(_ALLOWED_LINE.match(line) for line in source.splitlines()):
            return spec
        spec.loader = _OnDemandLoader(source)
        return spec


_FINDER = _OnDemandFinder()


def install() -> None:
    """Import the SDKs' aggregating subpackages on demand from now on (for packages not imported yet)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def installed() -> bool:
    return _FINDER in sys.meta_path
