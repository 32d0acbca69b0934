"""The old-style APIs: /media/upload, getbymobile and /robot/sendBySession."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dingtalk_emulator import Via, rules
from dingtalk_emulator.testing import TEST_APP_KEY, TEST_GROUP_ID

from .app_helpers import JPEG, MP3, MP4, PNG, get, get_token, post, upload_form

if TYPE_CHECKING:
    import aiohttp

    from dingtalk_emulator import Emulator, EmulatorServer, ManualClock

GIF = b"GIF89a" + bytes(10)
BMP = b"BM" + bytes(10)
AMR = b"#!AMR\n" + bytes(10)
WAV = b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(8)


@pytest.fixture
async def token(app_server: EmulatorServer, http: aiohttp.ClientSession) -> str:
    """Return an access token of the test app."""
    return await get_token(http, app_server)


async def _upload(  # noqa: PLR0913 - every part of an upload can vary
    http: aiohttp.ClientSession,
    server: EmulatorServer,
    token: str,
    data: bytes,
    *,
    filename: str = "a.png",
    media_type: str = "image",
) -> dict[str, object]:
    """Upload with the type in the query; return the answer."""
    url = server.url(f"/media/upload?access_token={token}&type={media_type}")
    status, answer = await post(http, url, data=upload_form(data, filename))
    assert status == 200
    result: dict[str, object] = answer
    return result


@pytest.mark.parametrize(
    "case",
    [
        ("image", PNG, "a.png", "image/png"),
        ("image", JPEG, "photo.JPEG", "image/jpeg"),
        ("image", GIF, "a.gif", "image/gif"),
        ("image", BMP, "a.bmp", "image/bmp"),
        ("voice", AMR, "a.amr", "audio/amr"),
        ("voice", MP3, "a.mp3", "audio/mpeg"),
        ("voice", b"\xff\xfb" + bytes(10), "b.mp3", "audio/mpeg"),
        ("voice", WAV, "a.wav", "audio/wav"),
        ("video", MP4, "a.mp4", "video/mp4"),
        ("file", b"%PDF-1.7 anything", "report.pdf", "application/octet-stream"),
    ],
)
async def test_upload_and_fetch(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
    case: tuple[str, bytes, str, str],
) -> None:
    """Each type with a matching signature is kept; GET /api/media serves the bytes."""
    media_type, data, filename, content_type = case
    answer = await _upload(
        http, app_server, token, data, filename=filename, media_type=media_type
    )
    assert (answer["errcode"], answer["errmsg"], answer["type"]) == (
        0,
        "ok",
        media_type,
    )
    assert answer["created_at"] == 1_700_000_000_000
    media_id = str(answer["media_id"])
    assert media_id.startswith("@lA")
    async with http.get(app_server.url(f"/api/media/{media_id}")) as response:
        assert response.status == 200
        assert response.content_type == content_type
        assert await response.read() == data
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        inline = content_type.startswith("image/")
        assert ("Content-Disposition" in response.headers) is not inline
    media = app_server.emulator.apps.media(media_id)
    assert (media.client_id, media.filename) == (TEST_APP_KEY, filename)


@pytest.mark.parametrize(
    "case",
    [
        ("image", b"<html>not an image</html>", "a.png", 40005),  # signature
        ("image", PNG, "a.txt", 40005),  # file name
        ("image", PNG, "noextension", 40005),
        ("video", PNG, "a.mp4", 40005),
        ("voice", MP3 + bytes(2 * 1024 * 1024), "a.mp3", 40006),  # over 2 MiB
        ("picture", PNG, "a.png", 40004),  # no such type
        ("image", b"", "a.png", 41005),  # an empty file
    ],
)
async def test_upload_errors(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
    case: tuple[str, bytes, str, int],
) -> None:
    """Signatures, names, sizes and types are checked (§11.2): errcodes, HTTP 200."""
    media_type, data, filename, errcode = case
    answer = await _upload(
        http, app_server, token, data, filename=filename, media_type=media_type
    )
    assert answer["errcode"] == errcode
    assert app_server.emulator.apps.requests[-1].code == str(errcode)


async def test_upload_limit_is_inclusive(
    app_server: EmulatorServer, http: aiohttp.ClientSession, token: str
) -> None:
    """A voice file of exactly 2 MiB passes."""
    data = MP3 + bytes(2 * 1024 * 1024 - len(MP3))
    answer = await _upload(
        http, app_server, token, data, filename="a.mp3", media_type="voice"
    )
    assert answer["errcode"] == 0


async def test_upload_type_as_a_form_field(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
) -> None:
    """The SDK sends "type" as a form field: accepted too."""
    url = app_server.url(f"/media/upload?access_token={token}")
    form = upload_form(PNG, "a.png", media_type="image")
    status, answer = await post(http, url, data=form)
    assert (status, answer["errcode"], answer["type"]) == (200, 0, "image")
    assert "media='a.png'" in app_emulator.apps.requests[-1].body


async def test_upload_without_a_file(
    app_server: EmulatorServer, http: aiohttp.ClientSession, token: str
) -> None:
    """No "media" field: 41005; a JSON body: 41005 as well."""
    url = app_server.url(f"/media/upload?access_token={token}&type=image")
    form = upload_form(PNG, "a.png", media_type="image")
    form._fields = form._fields[:1]  # only the "type" field
    assert (await post(http, url, data=form))[1]["errcode"] == 41005
    assert (await post(http, url, {"media": "x"}))[1]["errcode"] == 41005


@pytest.mark.parametrize(
    ("query", "errcode"),
    [("", 41001), ("access_token=wrong", 40014)],
)
async def test_oapi_tokens(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    query: str,
    errcode: int,
) -> None:
    """A missing or unknown access_token: 41001 / 40014 (HTTP 200)."""
    url = app_server.url(f"/media/upload?{query}&type=image")
    assert (await post(http, url, data=upload_form(PNG)))[1]["errcode"] == errcode
    url = app_server.url(f"/topapi/v2/user/getbymobile?{query}")
    assert (await post(http, url, {"mobile": "13800000001"}))[1]["errcode"] == errcode


async def test_oapi_permissions_and_qps(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
    token: str,
) -> None:
    """Missing permissions: 60011; over the QPS: 90002."""
    app_emulator = app_server.emulator
    app_emulator.apps.set_permissions(TEST_APP_KEY, frozenset())
    upload = app_server.url(f"/media/upload?access_token={token}&type=image")
    lookup = app_server.url(f"/topapi/v2/user/getbymobile?access_token={token}")
    assert (await post(http, upload, data=upload_form(PNG)))[1]["errcode"] == 60011
    assert (await post(http, lookup, {"mobile": "13800000001"}))[1]["errcode"] == 60011
    app_emulator.apps.set_permissions(TEST_APP_KEY, rules.DEFAULT_PERMISSIONS)
    manual_clock.advance(1)
    for _ in range(20):
        assert (await post(http, lookup, {"mobile": "13800000001"}))[1]["errcode"] == 0
    assert (await post(http, lookup, {"mobile": "13800000001"}))[1]["errcode"] == 90002


@pytest.mark.parametrize(
    "case",
    [
        ({"mobile": "13800000002"}, 0, "bob"),
        ({"mobile": "13900000000"}, 60121, None),
        ({"mobile": "not a number"}, 40104, None),
        ({"mobile": 13800000002}, 40104, None),
        ({}, 40104, None),
    ],
)
async def test_get_by_mobile(
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    token: str,
    case: tuple[dict[str, object], int, str | None],
) -> None:
    """A known mobile answers the userid; unknown: 60121; malformed: 40104."""
    body, errcode, userid = case
    url = app_server.url(f"/topapi/v2/user/getbymobile?access_token={token}")
    status, answer = await post(http, url, body)
    assert (status, answer["errcode"]) == (200, errcode)
    if userid is not None:
        assert answer["result"]["userid"] == userid


async def test_get_by_mobile_needs_json(
    app_server: EmulatorServer, http: aiohttp.ClientSession, token: str
) -> None:
    """A body that is not JSON: 40035."""
    url = app_server.url(f"/topapi/v2/user/getbymobile?access_token={token}")
    assert (await post(http, url, data=b"mobile=1"))[1]["errcode"] == 40035


async def test_unknown_media_is_404(
    app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """GET /api/media of an unknown media_id: 404."""
    status, answer = await get(http, app_server.url("/api/media/@lAnothing"))
    assert (status, answer) == (404, {"error": "no media @lAnothing"})


# -- /robot/sendBySession ----------------------------------------------------------


async def _session(app_emulator: Emulator, group: str | None = None) -> str:
    """Write as alice (1:1 or @robot in the group); return the sessionWebhook."""
    chat = app_emulator.apps.chat(
        TEST_APP_KEY, "alice", "hello", group=group, at_robot=group is not None
    )
    assert chat.callback is not None
    return str(chat.callback["sessionWebhook"])


async def test_send_by_session(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """The sessionWebhook answers in the conversation (no signing)."""
    url = await _session(app_emulator)
    assert url.startswith(f"{app_server.base_url}/robot/sendBySession?session=")
    payload = {
        "msgtype": "markdown",
        "markdown": {"title": "t", "text": "**done** @alice"},
        "at": {"atUserIds": ["alice", 7]},
    }
    assert await post(http, url, payload) == (200, {"errcode": 0, "errmsg": "ok"})
    [message] = app_emulator.apps.messages()
    assert message.via is Via.SESSION
    assert message.conversation_id == app_emulator.apps.conversation_id(
        TEST_APP_KEY, "alice"
    )
    assert (message.payload, message.at_user_ids, message.user_id) == (
        payload,
        ("alice",),
        "alice",
    )
    record = app_emulator.apps.requests[-1]
    assert (record.api, record.client_id) == ("sendBySession", TEST_APP_KEY)
    assert record.query["session"].endswith("…")


async def test_send_by_session_in_a_group(
    app_emulator: Emulator, app_server: EmulatorServer, http: aiohttp.ClientSession
) -> None:
    """A group message's sessionWebhook answers in the group."""
    url = await _session(app_emulator, TEST_GROUP_ID)
    payload = {"msgtype": "text", "text": {"content": "ok"}, "at": "junk"}
    assert (await post(http, url, payload))[1]["errcode"] == 0
    [message] = app_emulator.apps.messages(conversation=TEST_GROUP_ID)
    assert (message.user_id, message.at_user_ids) == (None, ())
    assert app_server is not None


async def test_send_by_session_expires(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    manual_clock: ManualClock,
) -> None:
    """The session lives 90 minutes on the emulator clock; then an errcode."""
    url = await _session(app_emulator)
    text = {"msgtype": "text", "text": {"content": "late"}}
    manual_clock.advance(5399)
    assert (await post(http, url, text))[1]["errcode"] == 0
    manual_clock.advance(1)
    status, answer = await post(http, url, text)
    assert (status, answer["errcode"]) == (200, 300005)
    no_session = app_server.url("/robot/sendBySession")
    assert (await post(http, no_session, text))[1]["errcode"] == 300005


@pytest.mark.parametrize(
    "case",
    [
        (b'{"msgtype": "text", "text": {"content": "x"}}', "text/plain", 43004),
        (b"not json", "application/json", 40035),
        (b'{"msgtype": "image"}', "application/json", 400105),
        (b'{"msgtype": "text", "text": {}}', "application/json", 400401),
        (
            b'{"msgtype": "text", "text": {"content": "' + b"x" * 20_000 + b'"}}',
            "application/json",
            460101,
        ),
    ],
)
async def test_send_by_session_errors(
    app_emulator: Emulator,
    app_server: EmulatorServer,
    http: aiohttp.ClientSession,
    case: tuple[bytes, str, int],
) -> None:
    """The webhook's message checks apply (§4)."""
    body, content_type, errcode = case
    url = await _session(app_emulator)
    headers = {"Content-Type": content_type}
    async with http.post(url, data=body, headers=headers) as response:
        assert (await response.json())["errcode"] == errcode
    assert app_emulator.apps.messages() == []
    assert app_server is not None
