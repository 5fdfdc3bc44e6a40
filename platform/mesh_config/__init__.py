"""Configuration of the mesh: environment variables prefixed ``MESH_`` with local defaults.

The same code runs against the embedded stack, the docker-compose stack or remote services;
only these settings change.
"""

from mesh_config.settings import MeshSettings, load_settings

__all__ = ["MeshSettings", "load_settings"]
