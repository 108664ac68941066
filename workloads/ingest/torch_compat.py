"""Guard against a torchvision build that does not match the installed torch.

PyPI's torchvision wheels are CUDA builds. Next to the CPU build of torch (what the development
machines and CI use) their compiled operators fail to load, and transformers, which imports
torchvision whenever it is installed, then fails on import. This job needs torchvision only for
Docling's layout models (the container installs a matching CPU pair); without them, hiding the
broken package from importers is safe.
"""

from __future__ import annotations

import functools
import logging
import sys

log = logging.getLogger(__name__)


@functools.cache
def hide_broken_torchvision() -> bool:
    """Import torchvision once; if it fails to load, make it look uninstalled. True when hidden."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return False  # not installed: nothing to do
    except Exception as err:  # RuntimeError "operator torchvision::nms does not exist", OSError ...
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision"] = None  # type: ignore[assignment]  # importlib: "not installed"
        _forget_cached_availability()
        log.info("torchvision does not match torch (%s); it is ignored", str(err).splitlines()[0][:120])
        return True
    return False


def _forget_cached_availability() -> None:
    """transformers caches whether torchvision is available (an lru_cache); a check made before the package was
    hidden would make it import torchvision later anyway."""
    import_utils = sys.modules.get("transformers.utils.import_utils")
    check = getattr(import_utils, "is_torchvision_available", None)
    if check is not None and hasattr(check, "cache_clear"):
        check.cache_clear()
