"""People writing to a robot: the message in the chat and its Stream callback (§7.5)."""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING, Any

from . import app_checks, rules
from .app_models import ChatMessage, ConversationType, Session

if TYPE_CHECKING:
    from .app_models import AppConfig, Group, Person
    from .apps import AppRobots


def write(  # noqa: PLR0913 - who writes what where
    apps: AppRobots,
    client_id: str,
    user_id: str,
    text: str,
    *,
    group: str | None = None,
    at_robot: bool = False,
) -> ChatMessage:
    """Record a person's message; push it to the robot when DingTalk would.

    In a 1:1 chat every message is pushed; in a group only one that @-mentions
    the robot (S12 ``appbot/receive.md``).
    """
    config = apps.app(client_id)
    person = apps.person(user_id)
    if not text.strip():
        raise ValueError("text must be a non-empty string")
    found: Group | None = None
    if group is not None:
        found = apps.group(group)
        if user_id not in found.members:
            raise ValueError(f"user {user_id} is not in group {group}")
        if client_id not in found.robots:
            raise ValueError(f"the robot of {client_id} is not in group {group}")
        conversation_id, kind = group, ConversationType.GROUP
    else:
        conversation_id = apps.conversation_id(client_id, user_id)
        kind = ConversationType.SINGLE
    msg_id = "msg" + base64.b64encode(secrets.token_bytes(16)).decode()
    callback: dict[str, Any] | None = None
    message_id: str | None = None
    if found is None or at_robot:
        callback = _callback(
            apps,
            config,
            person=person,
            group=found,
            conversation_id=conversation_id,
            text=text,
            at_robot=at_robot,
            msg_id=msg_id,
        )
        if apps.pusher is not None:
            message_id = apps.pusher(client_id, callback)
    entry = ChatMessage(
        seq=apps.next_seq(),
        at=apps.clock.now(),
        client_id=client_id,
        conversation_id=conversation_id,
        conversation_type=kind,
        sender=user_id,
        text=text,
        at_robot=at_robot,
        msg_id=msg_id,
        callback=callback,
        message_id=message_id,
    )
    apps.add_entry(entry)
    return entry


def _callback(  # noqa: PLR0913 - every part of the payload
    apps: AppRobots,
    config: AppConfig,
    *,
    person: Person,
    group: Group | None,
    conversation_id: str,
    text: str,
    at_robot: bool,
    msg_id: str,
) -> dict[str, Any]:
    """Return the robot message payload of §7.5 (a text message)."""
    now_ms = round(apps.clock.now() * 1000)
    kind = ConversationType.SINGLE if group is None else ConversationType.GROUP
    expires_ms = now_ms + round(apps.settings.session_ttl * 1000)
    session = apps.open_session(
        Session(
            client_id=config.client_id,
            conversation_id=conversation_id,
            conversation_type=kind,
            user_id=person.user_id if group is None else None,
            expires_at=expires_ms / 1000,
        )
    )
    chatbot_user_id = app_checks.dingtalk_id("robot", config.client_id)
    data: dict[str, Any] = {
        "conversationId": conversation_id,
        "chatbotCorpId": rules.CORP_ID,
        "chatbotUserId": chatbot_user_id,
        "msgId": msg_id,
        "senderNick": person.nick,
        "isAdmin": person.admin,
        "sessionWebhookExpiredTime": expires_ms,
        "createAt": now_ms,
        "senderCorpId": rules.CORP_ID,
        "conversationType": kind.value,
        "senderId": app_checks.dingtalk_id("user", person.user_id),
        "sessionWebhook": apps.session_url(session),
        # DingTalk drops "@robot" from the text and keeps the space after it.
        "text": {"content": f" {text}" if at_robot else text},
        "robotCode": config.robot_code,
        "msgtype": "text",
        "isInAtList": at_robot or group is None,
    }
    if config.published:  # senderStaffId only once the robot is published (§7.5)
        data["senderStaffId"] = person.user_id
    if group is not None:
        data["conversationTitle"] = group.title
    if at_robot:
        data["atUsers"] = [{"dingtalkId": chatbot_user_id}]
    return data
