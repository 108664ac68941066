"""The live metrics tests use the app tests' fixtures: the OGX and gateway environments, a real redis-server."""

from tests.components.app.conftest import gateway_venv, ogx_python, redis

__all__ = ["gateway_venv", "ogx_python", "redis"]
