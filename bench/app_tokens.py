"""Benchmark 6: how many access tokens an app asks DingTalk for per 1 000 messages.

A fresh bench app (its own Client ID in the emulator, so that nothing else counts)
is set up with the bench person and the bench group; half the messages go to each,
through ``dingtalk.send_message``, each target's one after another and both targets
side by side (two outboxes sharing one client and its token). The second half
starts once the first half was sent. Three runs, one app each:

- the token stays valid throughout;
- short-lived: the emulator issues the app's first token (the one setup obtains)
  with ``expireIn`` of ``SHORT_TOKEN_SECONDS`` (``POST /api/apps/{id}/tokens``),
  and the second half starts only once that has run out, so it expires once
  during the run;
- revoked: just before the second half the emulator makes every token of the app
  invalid (``DELETE /api/apps/{id}/tokens``) although its expireIn has not run
  out, so only DingTalk's refusal tells the client.

Counted: the token requests the emulator received from the app, the client's own
count (``DingTalkAppClient.stats``), its requests and retries, and every message's
text in the emulator's chats.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import time
from typing import TYPE_CHECKING, Final

from .app_robots import REVOKED_APP, SHORT_APP, VALID_APP

if TYPE_CHECKING:
    from .app_robots import BenchApp
    from .harness import BenchHass
    from .remote import RemoteEmulator

VALID: Final = "token valid throughout"
SHORT: Final = "first token short-lived, expires once"
REVOKED: Final = "token revoked once, halfway"
SHORT_TOKEN_SECONDS: Final = 1
"""The expireIn of the short-lived run's first token (DingTalk's is 7 200 s)."""
SHORT_MARGIN: Final = 0.05
"""Seconds waited beyond the short token's lifetime before the second half."""
TARGETS: Final = 2
"""The bench person and the bench group."""
DRAIN_TIMEOUT: Final = 60.0
POLL_SECONDS: Final = 0.01


@dataclass(frozen=True, slots=True)
class TokenRun:
    """What one run of ``messages`` sent and how many tokens it took."""

    label: str
    client_id: str
    messages: int
    token_seconds: int | None
    """The first token's expireIn when it was made short-lived (None: DingTalk's)."""
    revoked_after: int | None
    """After how many messages every token was made invalid (None: never)."""
    sent: int
    """Calls answered "sent"."""
    delivered: int
    """Distinct texts of the run that reached the person's or the group's chat."""
    duplicates: int
    lost: int
    emulator_token_requests: int
    """Token requests the emulator received from the app, setup's included."""
    client_token_requests: int
    requests: int
    """The client's requests other than token requests (sends, and retries)."""
    auth_retries: int
    """Sends the client repeated with a new token after DingTalk refused one."""


@dataclass(frozen=True, slots=True)
class AppTokenResult:
    """The three runs: token valid throughout, short-lived, revoked halfway."""

    messages: int
    targets: int
    runs: list[TokenRun]


async def _send_each(bench: BenchHass, entity_id: str, texts: list[str]) -> int:
    """Send ``texts`` one after another; return how many were answered "sent"."""
    sent = 0
    for text in texts:
        answer = await bench.send_to(entity_id, text)
        sent += answer.get("status") == "sent"
    return sent


async def _drain(bench: BenchHass) -> None:
    """Wait until no outbox holds a message (a call may have answered "queued")."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while bench.queued():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{bench.queued()} messages still queued")
        await asyncio.sleep(POLL_SECONDS)


async def _run(  # noqa: PLR0913 - one run's parts, keyword-only
    bench: BenchHass,
    emulator: RemoteEmulator,
    *,
    app: BenchApp,
    label: str,
    messages: int,
    short: bool = False,
    revoke: bool = False,
) -> TokenRun:
    """Set ``app`` up, send ``messages`` through it, and count."""
    if short:
        await emulator.short_token(app.client_id, SHORT_TOKEN_SECONDS)
    targets = await bench.add_app(emulator, app, group=True)
    expired_at = time.monotonic() + SHORT_TOKEN_SECONDS + SHORT_MARGIN
    if targets.group is None:
        raise RuntimeError("the bench app has no group")
    per_target = messages // TARGETS
    texts = {
        entity: [f"{label}: {index} to {entity}" for index in range(per_target)]
        for entity in (targets.person, targets.group)
    }
    half = per_target // 2
    sent = 0
    for first, last in ((0, half), (half, per_target)):
        if short and first:
            await asyncio.sleep(max(0.0, expired_at - time.monotonic()))
        if revoke and first:
            await emulator.expire_tokens(app.client_id)
        sent += sum(
            await asyncio.gather(
                *(
                    _send_each(bench, entity, chunk[first:last])
                    for entity, chunk in texts.items()
                )
            )
        )
    await _drain(bench)
    expected = {text for chunk in texts.values() for text in chunk}
    arrived = [
        str(message["msg_param"].get("content"))
        for message in await emulator.app_messages(app.client_id)
    ]
    stats = targets.entry.runtime_data.client.stats
    state = await emulator.app(app.client_id)
    return TokenRun(
        label=label,
        client_id=app.client_id,
        messages=messages,
        token_seconds=SHORT_TOKEN_SECONDS if short else None,
        revoked_after=half * TARGETS if revoke else None,
        sent=sent,
        delivered=len(expected.intersection(arrived)),
        duplicates=len(arrived) - len(set(arrived)),
        lost=len(expected.difference(arrived)),
        emulator_token_requests=int(state["token_requests"]),
        client_token_requests=stats.token_requests,
        requests=stats.requests,
        auth_retries=stats.auth_retries,
    )


async def run_app_tokens(
    bench: BenchHass, emulator: RemoteEmulator, messages: int
) -> AppTokenResult:
    """Send ``messages`` through three fresh apps, one per way a token may end."""
    if messages % (2 * TARGETS):
        raise ValueError(f"{messages} messages do not split into {2 * TARGETS}")
    runs = [
        await _run(bench, emulator, app=VALID_APP, label=VALID, messages=messages),
        await _run(
            bench, emulator, app=SHORT_APP, label=SHORT, messages=messages, short=True
        ),
        await _run(
            bench,
            emulator,
            app=REVOKED_APP,
            label=REVOKED,
            messages=messages,
            revoke=True,
        ),
    ]
    return AppTokenResult(messages=messages, targets=TARGETS, runs=runs)
