"""The server: tunestudio's models over HTTP, in the OpenAI dialect (CLOVA Studio's next).

``build_app(ServerConfig(...))`` gives the FastAPI app; ``tunestudio serve`` runs it with
uvicorn. See docs/serving.md.
"""

from tunestudio.server.app import build_app
from tunestudio.server.config import ModelEntry, ServerConfig, load_server_config

__all__ = ["ModelEntry", "ServerConfig", "build_app", "load_server_config"]
