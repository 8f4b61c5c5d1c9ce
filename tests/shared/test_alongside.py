"""shared.alongside: two awaitables side by side, the first started first, failures raised as themselves."""

import anyio
import pytest

from mcp_suite.shared.alongside import alongside

pytestmark = pytest.mark.anyio


async def test_both_results_and_the_first_starts_before_the_second() -> None:
    events: list[str] = []

    async def first() -> int:
        events.append("first sent")
        await anyio.sleep(0.05)  # waits, as on a database's answer
        events.append("first answered")
        return 1

    async def second() -> str:
        events.append("second runs")
        return "two"

    assert await alongside(first, second) == (1, "two")
    assert events == ["first sent", "second runs", "first answered"]


async def test_a_failure_is_raised_as_itself_after_the_other_has_ended() -> None:
    finished: list[str] = []

    async def slow() -> None:
        await anyio.sleep(0.05)
        finished.append("slow")

    async def broken() -> None:
        raise LookupError("no such thing")

    with pytest.raises(LookupError, match="no such thing"):
        await alongside(slow, broken)
    with pytest.raises(LookupError, match="no such thing"):
        await alongside(broken, slow)
    assert finished == ["slow", "slow"]
