"""Send messages as an enterprise internal app robot (v1.0 OpenAPI and oapi)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import logging
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from yarl import URL

from .app_auth import DEFAULT_API_BASE
from .app_config import check_identifier, parse_base_url, parse_endpoint
from .app_errors import decode_oapi_answer, decode_v1_answer, decode_webhook_answer
from .app_messages import to_app_message
from .app_results import BatchSendResult
from .app_session import AppCall, AppSession
from .errors import DingTalkBadResponseError, InvalidMessageError, Problem
from .media import check_media, upload_filename
from .models import MOBILE_RE, serialize_payload
from .transport import JSON_HEADERS, USER_AGENT

if TYPE_CHECKING:
    from .app_auth import AccessTokenProvider, AppCredentials
    from .app_models import AppMessage, AppOnlyMessage
    from .media import MediaType
    from .models import Message

# Each public method is one logical call (see app_session.py for the one retry with
# a fresh token). The v1.0 send APIs have no msgUuid, so after a transport error
# ``maybe_delivered`` tells the caller whether a resend could duplicate. Requests are
# logged at debug level without token, secret or session (transport.async_request
# scrubs aiohttp's errors; URLs are logged without their query).

_LOGGER: Final = logging.getLogger(__name__)

DEFAULT_OAPI_BASE: Final = "https://oapi.dingtalk.com"
"""Where the old-style oapi lives (media upload, user lookup)."""

MAX_BATCH_USERS: Final = 20
"""The most user ids one batchSend accepts."""

TOKEN_HEADER: Final = "x-acs-dingtalk-access-token"  # noqa: S105 - a header name
"""The header that carries the access token on the v1.0 APIs."""

_FORM_HEADERS: Final = MappingProxyType(
    {"Accept": "application/json", "User-Agent": USER_AGENT}
)


def _stripped(value: object) -> str:
    """Return ``value`` stripped if it is a string, else an empty string."""
    return value.strip() if isinstance(value, str) else ""


def _user_ids(value: object) -> tuple[str, ...]:
    """Return 1 to MAX_BATCH_USERS distinct user ids, or raise InvalidMessageError."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidMessageError(Problem.INVALID_VALUE, field="user_ids")
    values = tuple(value)
    for user_id in values:
        if not isinstance(user_id, str) or not user_id.strip():
            raise InvalidMessageError(Problem.INVALID_USER_ID, field="user_ids")
    user_ids = tuple(dict.fromkeys(user_id.strip() for user_id in values))
    if not user_ids:
        raise InvalidMessageError(Problem.REQUIRED, field="user_ids")
    if len(user_ids) > MAX_BATCH_USERS:
        raise InvalidMessageError(Problem.TOO_MANY_RECIPIENTS, limit=MAX_BATCH_USERS)
    return user_ids


class DingTalkAppClient(AppSession):
    """Send messages as one enterprise internal app robot."""

    def __init__(  # noqa: PLR0913 - the credentials and keyword-only settings
        self,
        credentials: AppCredentials,
        *,
        robot_code: str | None = None,
        session: aiohttp.ClientSession | None = None,
        api_base: str = DEFAULT_API_BASE,
        oapi_base: str = DEFAULT_OAPI_BASE,
        token_provider: AccessTokenProvider | None = None,
        request_timeout: float = 10.0,
    ) -> None:
        """Set up the client; it creates (and owns) a session only if none is given."""
        super().__init__(
            credentials,
            session=session,
            api_base=api_base,
            token_provider=token_provider,
            request_timeout=request_timeout,
        )
        self._robot_code = check_identifier(
            credentials.client_id if robot_code is None else robot_code,
            field="robot_code",
        )
        self._oapi_base = parse_base_url(oapi_base, field="oapi_base")

    @property
    def robot_code(self) -> str:
        """Return the robotCode messages are sent with."""
        return self._robot_code

    def __repr__(self) -> str:
        """Show the Client ID and the robotCode, never a secret."""
        return (
            f"DingTalkAppClient(client_id={self._credentials.client_id!r}, "
            f"robot_code={self._robot_code!r})"
        )

    async def async_check(self) -> None:
        """Obtain an access token, proving the Client ID and Secret.

        Raises:
            AppCredentialsError: DingTalk refused the credentials.
            DingTalkError: any other failure (throttling, transport, server).

        """
        await self._get_provider().async_get_token()

    async def async_send_to_users(
        self,
        user_ids: Iterable[str],
        message: AppMessage | Message | AppOnlyMessage,
    ) -> BatchSendResult:
        """Send one message to up to 20 people in their 1:1 chat with the robot.

        Args:
            user_ids: 1 to 20 DingTalk user ids (duplicates count once).
            message: an AppMessage, or a model mapped with ``to_app_message``.

        Returns:
            Who was skipped; call ``raise_for_recipients()`` to raise for them.

        Raises:
            InvalidMessageError: no ids, over 20 ids (TOO_MANY_RECIPIENTS), or a
                message the app robot cannot send.
            DingTalkError: DingTalk's refusal, or a transport error.

        """
        ids = _user_ids(user_ids)
        app_message = to_app_message(message)
        body = {"robotCode": self._robot_code, "userIds": list(ids)}
        data = await self._async_v1(
            "/v1.0/robot/oToMessages/batchSend", body, app_message
        )
        return BatchSendResult.from_api(ids, data)

    async def async_send_to_group(
        self,
        open_conversation_id: str,
        message: AppMessage | Message | AppOnlyMessage,
        *,
        cool_app_code: str | None = None,
    ) -> str:
        """Send one message to a group the robot is in.

        Args:
            open_conversation_id: the group's id (``conversationId`` of its messages).
            message: an AppMessage, or a model mapped with ``to_app_message``.
            cool_app_code: the cool app's code, if the robot came with one.

        Returns:
            DingTalk's processQueryKey of the message.

        Raises:
            InvalidMessageError: a blank group id or an unsendable message.
            DingTalkError: DingTalk's refusal, or a transport error.

        """
        conversation = _stripped(open_conversation_id)
        if not conversation:
            raise InvalidMessageError(Problem.REQUIRED, field="open_conversation_id")
        app_message = to_app_message(message)
        body = {"robotCode": self._robot_code, "openConversationId": conversation}
        if cool_app_code is not None:
            body["coolAppCode"] = check_identifier(cool_app_code, field="cool_app_code")
        data = await self._async_v1("/v1.0/robot/groupMessages/send", body, app_message)
        key = data.get("processQueryKey")
        if not isinstance(key, str) or not key:
            raise DingTalkBadResponseError("DingTalk's answer has no processQueryKey")
        return key

    async def async_upload_media(
        self,
        content: bytes,
        *,
        filename: str,
        media_type: MediaType | None = None,
    ) -> str:
        """Upload an image, voice, video or file for use in a message.

        Args:
            content: the bytes; their format is recognised from the content.
            filename: the name to upload (its extension is made to fit the content).
            media_type: image, voice, video or file; None: inferred from the content.

        Returns:
            The media_id (for ``Image.photo_url``, ``File.media_id`` or markdown).

        Raises:
            InvalidMessageError: empty, too large or the wrong format, before any
                request (MEDIA_EMPTY, MEDIA_TOO_LARGE, MEDIA_TYPE), or refused by
                DingTalk (InputRejectedError).
            DingTalkError: DingTalk's refusal, or a transport error.

        """
        info = check_media(content, media_type)
        name = upload_filename(filename, info)
        endpoint = f"{self._oapi_base}/media/upload"

        def build(token: str) -> AppCall:
            """Return the upload request with ``token`` (a fresh form per attempt)."""
            form = aiohttp.FormData()
            form.add_field("type", info.media_type.value)
            form.add_field(
                "media", bytes(content), filename=name, content_type=info.mime_type
            )
            # ``type`` both in the query (older docs) and in the form (newer docs).
            query = {"access_token": token, "type": info.media_type.value}
            url = URL(endpoint).with_query(query)
            return AppCall(
                url, form, _FORM_HEADERS, (token,), endpoint, decode_oapi_answer
            )

        _LOGGER.debug(
            "Uploading %s (%d bytes) to %s", info.media_type, info.size, endpoint
        )
        data = await self._async_authorized(build)
        media_id = data.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise DingTalkBadResponseError("DingTalk's upload answer has no media_id")
        return media_id

    async def async_get_user_id_by_mobile(self, mobile: str) -> str:
        """Look up a person's user id by their mobile number.

        Args:
            mobile: the number, e.g. "13800000000" (a +country prefix allowed).

        Returns:
            The user id (for ``async_send_to_users``).

        Raises:
            InvalidMessageError: not a mobile number (INVALID_MOBILE), here or at
                DingTalk (InputRejectedError).
            RecipientNotFoundError: nobody in the organisation has that number.
            DingTalkError: any other refusal, or a transport error.

        """
        number = _stripped(mobile)
        if not MOBILE_RE.fullmatch(number):
            raise InvalidMessageError(Problem.INVALID_MOBILE, field="mobile")
        body = serialize_payload({"mobile": number})
        endpoint = f"{self._oapi_base}/topapi/v2/user/getbymobile"

        def build(token: str) -> AppCall:
            """Return the lookup request with ``token``."""
            url = URL(endpoint).with_query({"access_token": token})
            return AppCall(
                url, body, JSON_HEADERS, (token,), endpoint, decode_oapi_answer
            )

        data = await self._async_authorized(build)
        result = data.get("result")
        user_id = result.get("userid") if isinstance(result, dict) else None
        if not isinstance(user_id, str) or not user_id:
            raise DingTalkBadResponseError("DingTalk's lookup answer has no userid")
        return user_id

    async def async_send_by_session(
        self, session_webhook: str, payload: Mapping[str, Any]
    ) -> None:
        """Reply through an incoming message's sessionWebhook (no token, no signing).

        Args:
            session_webhook: the message's sessionWebhook (its query is a secret).
            payload: a custom-robot JSON payload, e.g. text with ``at.atUserIds``.

        Raises:
            InvalidAppConfigError: not an https URL (http only for a local host).
            InvalidMessageError: the payload is not a JSON object.
            DingTalkError: DingTalk's refusal (webhook errcodes), or a transport error.

        """
        url = parse_endpoint(session_webhook, field="session_webhook", allow_query=True)
        if not isinstance(payload, Mapping):
            raise InvalidMessageError(Problem.INVALID_VALUE, field="payload")
        body = serialize_payload(payload)
        secrets = (url.raw_query_string, url.query_string, *url.query.values())
        where = str(url.with_query(None).with_fragment(None))
        _LOGGER.debug(
            "Replying with %s (%d bytes) to %s",
            payload.get("msgtype"),
            len(body),
            where,
        )
        call = AppCall(url, body, JSON_HEADERS, secrets, where, decode_webhook_answer)
        await self._async_once(call)

    async def _async_v1(
        self, path: str, body: dict[str, Any], message: AppMessage
    ) -> dict[str, Any]:
        """POST a v1.0 robot request carrying ``message``; return the answer."""
        payload = serialize_payload(
            body | {"msgKey": message.msg_key, "msgParam": message.msg_param_json}
        )
        endpoint = f"{self._api_base}{path}"
        url = URL(endpoint)

        def build(token: str) -> AppCall:
            """Return the request with ``token`` in its header."""
            headers = {**JSON_HEADERS, TOKEN_HEADER: token}
            return AppCall(url, payload, headers, (token,), endpoint, decode_v1_answer)

        _LOGGER.debug(
            "Sending %s (%d bytes) to %s", message.msg_key, len(payload), endpoint
        )
        return await self._async_authorized(build)
