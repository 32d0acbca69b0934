"""Sections 6 and 7 of BENCHMARKS.md: an app robot's sends and tokens, receiving."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .app_path import APP_BARE, APP_ENTITY, APP_SERVICE
from .app_robots import ACK_TIMEOUT
from .app_tokens import SHORT_TOKEN_SECONDS
from .markdown import cells, code_name, number, paragraph, runs, table, times
from .receive import BARE, BARE_CLIENT, HA, HA_CLIENT
from .stats import ratio

if TYPE_CHECKING:
    from .app_path import AppResult
    from .app_tokens import TokenRun
    from .receive import ReceiveResult, Tally


def _run_name(run: TokenRun) -> str:
    """Return the run's label with what happened to its token, from its settings."""
    if run.token_seconds is not None:
        return f"{run.label} (its expireIn: {run.token_seconds} s)"
    if run.revoked_after is not None:
        return f"{run.label} (after {run.revoked_after} messages)"
    return f"{run.label} (expireIn: 7 200 s)"


def key_app(app: AppResult) -> str:
    """Return the app robot's bullet of the key figures."""
    bare, entity = app.latency_ms[APP_BARE], app.latency_ms[APP_ENTITY]
    tokens = "; ".join(
        f"{run.label}: {runs(run.emulator_token_requests, 'token request')},"
        f" {run.delivered} delivered"
        for run in app.tokens.runs
    )
    return paragraph(f"""
        - **App robot:** `notify.send_message` to a person of a DingTalk app takes
        {entity.median:.2f} ms (median) until DingTalk's answer, against
        {bare.median:.2f} ms for a bare aiohttp POST of the same batchSend body:
        **{times(ratio(entity, bare))}**. Access tokens for
        {app.tokens.messages:,} messages: {tokens}.
    """)


def app_section(app: AppResult) -> list[str]:
    """Return section 6."""
    bare = app.latency_ms[APP_BARE]
    latency_rows = [
        [code_name(name), *cells(app.latency_ms[name], 3), times(ratio(summary, bare))]
        for name, summary in (
            (APP_BARE, bare),
            (APP_ENTITY, app.latency_ms[APP_ENTITY]),
            (APP_SERVICE, app.latency_ms[APP_SERVICE]),
        )
    ]
    token_rows = [
        [
            _run_name(run),
            str(run.messages),
            str(run.sent),
            str(run.delivered),
            str(run.lost),
            str(run.duplicates),
            str(run.emulator_token_requests),
            str(run.client_token_requests),
            str(run.auth_retries),
        ]
        for run in app.tokens.runs
    ]
    token_header = [
        "Run",
        "messages",
        "answered sent",
        "delivered",
        "lost",
        "twice",
        "token requests (emulator)",
        "token requests (client)",
        "sends repeated with a new token",
    ]
    return [
        "## 6. An app robot: one message to a person, and its access tokens",
        "",
        paragraph(f"""
            What one message to a person of a DingTalk app (an enterprise internal
            app's robot, `batchSend`, dingtalk-api.md §6.3) costs through Home
            Assistant against the bare HTTP request: the ratio says how many times
            as long the action takes until DingTalk's answer. The app is set up in
            the Home Assistant of §1 with the emulator child of §1 (the app side's
            QPS and per-person limits lifted), and its paths take turns with §1's,
            message by message. The bare POST sends the same JSON body as the
            integration ({app.body_bytes} bytes; only the text differs) with an
            access token it requested once before timing began, as a careful
            script caches it.
        """),
        "",
        f"### Latency per message (ms), {app.latency_messages} messages per path",
        "",
        *table(
            ["Path", "median", "min", "max", "median vs bare batchSend POST"],
            latency_rows,
        ),
        f"### Access-token requests for {app.tokens.messages:,} messages",
        "",
        paragraph(f"""
            How often the integration asks DingTalk for an access token while it
            sends {app.tokens.messages:,} messages through `dingtalk.send_message`
            (half to the bench person, half to a group, the two side by side,
            sharing one client): DingTalk's token lives 7 200 s, so the one that
            setup obtains should serve them all, and a second request is due only
            when a token runs out or is revoked. Each run has a fresh app, so the
            emulator's count is that run's alone (setup's request included). In
            the short-lived run the emulator answers the first token with an
            expireIn of {SHORT_TOKEN_SECONDS} s and the second half starts once
            that has run out; in the revoked run it makes every token of the app invalid
            before the second half although its expireIn has not run out, so
            only DingTalk's refusal can tell the client.
        """),
        "",
        *table(token_header, token_rows),
    ]


def _tally_note(name: str, tally: Tally, redeliveries: int) -> str:
    """Say how one client's texts arrived."""
    exact = tally.duplicates == 0 and tally.missing == 0
    verdict = "each exactly once" if exact else "**not each exactly once**"
    return (
        f"{name}: {tally.arrived} of {tally.written} texts arrived, {verdict}"
        f" ({tally.duplicates} twice, {tally.missing} missing; the gateway pushed"
        f" {redeliveries} callbacks again)"
    )


def key_receive(receive: ReceiveResult) -> str:
    """Return the receiving bullet of the key figures."""
    ha, bare = receive.latency_ms[HA], receive.latency_ms[BARE]
    again = receive.reconnect_ms[HA_CLIENT]
    again_bare = receive.reconnect_ms[BARE_CLIENT]
    tally = receive.tallies[HA_CLIENT]
    exact = tally.duplicates == 0 and tally.missing == 0
    return paragraph(f"""
        - **Receiving:** a message written to an app's robot fires
        `dingtalk_message_received` {ha.median:.2f} ms (median;
        p95 {receive.p95_ms[HA]:.2f} ms) after it was written, against
        {bare.median:.2f} ms until a bare aiohttp WebSocket client has the frame:
        **{times(ratio(ha, bare))}**. After a disconnect frame it receives again
        {again.median:.1f} ms (median) later ({again_bare.median:.1f} ms for the bare
        client). {tally.written} messages written,
        {"each received exactly once" if exact else "**not each received once**"}.
    """)


def receive_section(receive: ReceiveResult) -> list[str]:
    """Return section 7."""
    bare = receive.latency_ms[BARE]
    latency_rows = [
        [
            name,
            number(summary.median, 3),
            number(receive.p95_ms[name], 3),
            *cells(summary, 3)[1:],
            times(ratio(summary, bare)),
        ]
        for name, summary in receive.latency_ms.items()
    ]
    floor = receive.reconnect_ms[BARE_CLIENT]
    reconnect_rows = [
        [name, *cells(summary, 1), times(ratio(summary, floor))]
        for name, summary in receive.reconnect_ms.items()
    ]
    reconnect_rows.append(
        [
            "… the bare client opening a connection (connections/open + handshake)",
            *cells(receive.bare_connect_ms, 1),
            times(ratio(receive.bare_connect_ms, floor)),
        ]
    )
    notes = "; ".join(
        _tally_note(name, receive.tallies[name], receive.redeliveries[name])
        for name in (HA_CLIENT, BARE_CLIENT)
    )
    return [
        "## 7. Receiving: a message written in DingTalk, until the event fires",
        "",
        paragraph("""
            How long a message someone writes to an app's robot takes until Home
            Assistant fires `dingtalk_message_received`, against a bare aiohttp
            WebSocket client receiving the same kind of push in the same run: the
            ratio is what the integration's Stream client (ACK, parsing,
            de-duplication, its queue) and Home Assistant's event bus add to the
            raw WebSocket path. The emulator runs in a child process with two
            apps, one received by Home Assistant (receiving on, the Stream client
            with its default timings), the other by the bare client, which ACKs
            every frame as dingtalk-api.md §7.3 asks. Each message is written as
            a person through the emulator's write path (`POST
            /api/apps/{id}/chat`, what its chat page does), which pushes it at
            once; the clock starts before that request.
        """),
        "",
        paragraph(f"""
            ### Latency per message (ms), {receive.messages} messages per path,
            taking turns
        """),
        "",
        *table(
            ["Path", "median", "p95", "min", "max", "median vs bare client"],
            latency_rows,
        ),
        paragraph(f"""
            ### Receiving again after a disconnect frame (ms),
            {runs(receive.disconnects, "disconnect")} per client
        """),
        "",
        paragraph(f"""
            How long DingTalk's recycling of a connection (a SYSTEM disconnect
            frame, dingtalk-api.md §7.4) leaves messages unreceived: from the
            request that makes the emulator send the frame until the first
            message written after it arrives as an event (or frame). Messages are
            written one after another until one arrives; the gateway pushes
            nothing to a connection it asked to go, so only the new connection
            can receive, and the messages written before it was up are pushed
            again {ACK_TIMEOUT:g} s later (a benchmark setting; DingTalk waits
            about a minute). Both clients open a new connection at once and read
            the old one meanwhile. Every disconnect meets a fresh connection (Home
            Assistant's entry is reloaded before each): a second disconnect frame
            within a minute makes the integration back off as after an error
            (about 1 s), which keeps a misbehaving server from causing a
            reconnect storm.
        """),
        "",
        *table(
            ["Client", "median", "min", "max", "median vs bare client"],
            reconnect_rows,
        ),
        paragraph(f"- Every text written was counted where it arrived: {notes}."),
        "",
    ]
