"""Models: one Backend protocol for every way of producing text, named by spec strings."""

from tunestudio.models.base import Backend, BaseBackend, Capabilities, StreamChunk
from tunestudio.models.registry import ModelSpec, load_backend, parse_spec

__all__ = [
    "Backend",
    "BaseBackend",
    "Capabilities",
    "ModelSpec",
    "StreamChunk",
    "load_backend",
    "parse_spec",
]
