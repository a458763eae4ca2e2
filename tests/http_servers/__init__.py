"""Local stand-ins for remote model APIs, served over real HTTP for the tests.

``ClovaServer`` speaks the CLOVA Studio REST protocol and ``OpenAIServer`` the OpenAI Chat
Completions protocol, each answering with any Backend given to it; ``LiveServer`` runs either
app with uvicorn on 127.0.0.1 in a background thread. Both take scripted faults (429 with
Retry-After, 5xx, slow answers) through ``.faults`` and record requests in ``.seen``.
"""

from tests.http_servers.clova import ClovaServer
from tests.http_servers.live import Fault, Faults, LiveServer, Recorder, Seen
from tests.http_servers.openai import OpenAIServer

__all__ = ["ClovaServer", "Fault", "Faults", "LiveServer", "OpenAIServer", "Recorder", "Seen"]
