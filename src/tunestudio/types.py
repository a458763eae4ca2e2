"""Core data types shared by every stage. They mirror the domain, not any wire format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Turn:
    """One user utterance and the assistant answer to it (a CLOVA ``T_ID`` row)."""

    user: str
    assistant: str


@dataclass
class Conversation:
    """A tuning example: an optional system prompt and one or more turns.

    ``meta`` keeps any extra columns (for example the countries a generated row uses), so they
    survive conversion and reach error analysis later. ``source_rows`` are the 1-based rows of
    the file the conversation was read from (header = row 1), for error messages.
    """

    system: str
    turns: list[Turn]
    meta: dict[str, Any] = field(default_factory=dict)
    source_rows: list[int] = field(default_factory=list)

    def messages(self) -> list[Message]:
        """The conversation as chat messages (system first when it is not empty)."""
        out: list[Message] = [Message("system", self.system)] if self.system else []
        for turn in self.turns:
            out.append(Message("user", turn.user))
            out.append(Message("assistant", turn.assistant))
        return out


@dataclass(frozen=True)
class GenParams:
    """Generation parameters, in the domain's words; backends map them to their wire names."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False  # ask for ChatResult.logprobs (backends with capabilities.logprobs)


@dataclass(frozen=True)
class Usage:
    """Token counts for one call."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class ChatResult:
    """What a backend returns for one chat call."""

    content: str
    usage: Usage = Usage()
    finish_reason: str = "stop"
    model: str = ""
    # The log-probability of each output token, when GenParams.logprobs asked and the backend
    # can (a cascade's confidence gate reads it); None otherwise.
    logprobs: tuple[float, ...] | None = None
