"""The exact cache's key is stable: answers stored by one version are found by the next."""

from __future__ import annotations

from tunestudio.ops.cache import exact_key
from tunestudio.types import GenParams, Message


def test_the_key_of_a_request_is_pinned() -> None:
    # Computed by the first version (dataclasses.asdict of the parameters and messages); a
    # change here makes every stored answer unreachable.
    key = exact_key(
        "clova:HCX-005",
        GenParams(max_tokens=16, stop=("끝",), seed=7),
        [Message("system", "분류하세요"), Message("user", "환불 돼요?")],
    )
    assert key == "2d2e266edef979107ee53d89f9d95a05bcd042308cf40f7ef920beb9b66895aa"
