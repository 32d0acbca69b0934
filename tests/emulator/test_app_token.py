"""POST /v1.0/oauth2/accessToken and the access-token checks of every v1.0 API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator.testing import TEST_APP_KEY, TEST_APP_SECRET

from .app_helpers import BATCH, batch, get_token, post, send_v1

if TYPE_CHECKING:
    import aiohttp

    from dingtalk_emulator import Emulator, EmulatorServer, ManualClock

TOKEN_PATH = "/v1.0/oauth2/accessToken"


async def test_token(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A JSON body with the app's key and secret: a token valid 7200 s."""
    status, answer = await post(
        http,
        app_server.url(TOKEN_PATH),
        {"appKey": TEST_APP_KEY, "appSecret": TEST_APP_SECRET},
    )
    assert status == 200
    assert set(answer) == {"accessToken", "expireIn"}
    assert answer["expireIn"] == 7200
    assert app_emulator.apps.token_app(answer["accessToken"]) == TEST_APP_KEY
    assert app_emulator.apps.token_requests(TEST_APP_KEY) == 1
    record = app_emulator.apps.requests[-1]
    assert (record.api, record.client_id, record.ok) == ("token", TEST_APP_KEY, True)
    assert TEST_APP_SECRET not in record.body
    assert '"appSecret": "***"' in record.body


async def test_form_body_is_refused(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A form-encoded body: HTTP 400 Missingbody (only JSON is accepted, I15)."""
    status, answer = await post(
        http,
        app_server.url(TOKEN_PATH),
        data={"appKey": TEST_APP_KEY, "appSecret": TEST_APP_SECRET},
    )
    assert status == 400
    assert answer["code"] == "Missingbody"
    assert answer["message"] == "body is mandatory for this action."
    assert answer["requestid"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"appSecret": TEST_APP_SECRET}, "MissingappKey"),
        ({"appKey": TEST_APP_KEY}, "MissingappSecret"),
        ({"appKey": TEST_APP_KEY, "appSecret": ""}, "MissingappSecret"),
        ({"appKey": TEST_APP_KEY, "appSecret": "wrong"}, "invalidClientIdOrSecret"),
        (
            {"appKey": "dingnobody", "appSecret": TEST_APP_SECRET},
            "invalidClientIdOrSecret",
        ),
    ],
)
async def test_token_errors(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    body: dict[str, str],
    code: str,
) -> None:
    """Missing fields and wrong credentials: HTTP 400 with a v1.0 error."""
    status, answer = await post(http, app_server.url(TOKEN_PATH), body)
    assert (status, answer["code"]) == (400, code)
    assert app_emulator.apps.requests[-1].code == code


async def test_token_is_reused_and_renewed(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """Within its lifetime the same token comes back, valid for 7200 s again."""
    first = await get_token(http, app_server)
    manual_clock.advance(7000)
    assert await get_token(http, app_server) == first
    manual_clock.advance(7000)  # 14000 s after the first, 7000 s after the renewal
    assert app_emulator.apps.token_app(first) == TEST_APP_KEY
    manual_clock.advance(200)
    assert app_emulator.apps.token_app(first) is None
    second = await get_token(http, app_server)
    assert second != first
    assert app_emulator.apps.token_requests(TEST_APP_KEY) == 3


async def test_token_expires_on_the_emulator_clock(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """After expireIn seconds the token answers InvalidAuthentication (HTTP 400)."""
    token = await get_token(http, app_server)
    manual_clock.advance(7199.9)
    assert (await send_v1(http, app_server, BATCH, batch(), token))[0] == 200
    manual_clock.advance(0.1)
    status, answer = await send_v1(http, app_server, BATCH, batch(), token)
    assert (status, answer["code"]) == (400, "InvalidAuthentication")
    assert answer["message"] == "不合法的access_token"


async def test_missing_and_unknown_tokens(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """No header: MissingParameter; unknown token: InvalidAuthentication; not 401."""
    status, answer = await send_v1(http, app_server, BATCH, batch(), None)
    assert (status, answer["code"]) == (400, "AuthenticationFailed.MissingParameter")
    status, answer = await send_v1(http, app_server, BATCH, batch(), "nope")
    assert (status, answer["code"]) == (400, "InvalidAuthentication")
    assert app_emulator.apps.requests[-1].client_id is None
    assert app_emulator.apps.messages() == []


async def test_expire_tokens(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """expire_tokens invalidates the app's token at once; a new one works."""
    token = await get_token(http, app_server)
    app_emulator.apps.expire_tokens(TEST_APP_KEY)
    assert (await send_v1(http, app_server, BATCH, batch(), token))[0] == 400
    fresh = await get_token(http, app_server)
    assert fresh != token
    assert (await send_v1(http, app_server, BATCH, batch(), fresh))[0] == 200


async def test_one_token_request_for_many_messages(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """Token requests are counted per app (benchmarks assert 1 per N messages)."""
    token = await get_token(http, app_server)
    for index in range(5):
        body = batch(msgParam=f'{{"content": "n{index}"}}')
        assert (await send_v1(http, app_server, BATCH, body, token))[0] == 200
    assert app_emulator.apps.token_requests(TEST_APP_KEY) == 1
    assert len(app_emulator.apps.messages(TEST_APP_KEY)) == 5


async def test_short_lived_token_once(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """POST …/tokens {"expire_in": 2}: the next token says 2 s and lives 2 s, once."""
    url = app_server.url(f"/api/apps/{TEST_APP_KEY}/tokens")
    async with http.post(url, json={"expire_in": 2}) as answer:
        assert answer.status == 200
    status, short = await post(
        http,
        app_server.url(TOKEN_PATH),
        {"appKey": TEST_APP_KEY, "appSecret": TEST_APP_SECRET},
    )
    assert (status, short["expireIn"]) == (200, 2)
    manual_clock.advance(2)
    assert app_emulator.apps.token_app(short["accessToken"]) is None
    status, normal = await post(
        http,
        app_server.url(TOKEN_PATH),
        {"appKey": TEST_APP_KEY, "appSecret": TEST_APP_SECRET},
    )
    assert (status, normal["expireIn"]) == (200, 7200)
    assert normal["accessToken"] != short["accessToken"]


@pytest.mark.parametrize("expire_in", [0, 1.5, True, "2"])
async def test_short_lived_token_refuses_bad_lifetimes(
    app_server: EmulatorServer, http: aiohttp.ClientSession, expire_in: object
) -> None:
    """A lifetime that is not an int of at least 1 s: HTTP 400; an unknown app: 404."""
    url = app_server.url(f"/api/apps/{TEST_APP_KEY}/tokens")
    async with http.post(url, json={"expire_in": expire_in}) as answer:
        assert answer.status == 400
    nobody = app_server.url("/api/apps/dingnobody/tokens")
    async with http.post(nobody, json={"expire_in": 2}) as answer:
        assert answer.status == 404
