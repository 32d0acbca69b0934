"""Map our message models onto the app robot's msgKey templates (§6.4).

* Text → sampleText {content}; Markdown → sampleMarkdown {title, text}.
* Link → sampleLink {text, title, picUrl, messageUrl}; a link without a picture has
  no picUrl key (whether DingTalk requires it is UNCONFIRMED).
* ActionCard: one whole-card button (single_title/single_url), or a list of one
  button, → sampleActionCard {title, text, singleTitle, singleURL}; exactly 2 buttons
  laid out horizontally → sampleActionCard6 {buttonTitle1, buttonUrl1, buttonTitle2,
  buttonUrl2}; 2-5 buttons otherwise → sampleActionCardN {actionTitle1, actionURL1, …}
  (vertical). Horizontal with 3-5 buttons has no template: it falls back to vertical.
  6 or more buttons: InvalidMessageError TOO_MANY_BUTTONS (limit 5). The ActionCard2-6
  key spellings are UNCONFIRMED (dingtalk-api.md §6.4).
* FeedCard: no template: InvalidMessageError NOT_SUPPORTED (msgtype "feedCard").
* Image → sampleImageMsg {photoURL}; File → sampleFile {mediaId, fileName, fileType}.

Mentions: the v1.0 send APIs cannot @ anyone (UNCONFIRMED, §6.2). The mapping keeps
the text as it is (any "@name" written in it stays, as plain text) and drops the
at-list of Text.mentions and Markdown.mentions; nobody is rung. Reply through the
sessionWebhook (``DingTalkAppClient.async_send_by_session``) to ring someone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .app_models import AppMessage, File, Image
from .errors import InvalidMessageError, Problem
from .models import ActionCard, ButtonOrientation, FeedCard, Link, Markdown, Text

if TYPE_CHECKING:
    from .app_models import AppOnlyMessage
    from .models import Message

MAX_ACTION_BUTTONS: Final = 5
"""The most buttons an app robot's action card template holds (sampleActionCard5)."""

_HORIZONTAL_BUTTONS: Final = 2


def _action_card(card: ActionCard) -> AppMessage:
    """Return the template for an action card by its buttons and their layout."""
    param = {"title": card.title, "text": card.text}
    buttons = card.buttons
    if card.single_title is not None and card.single_url is not None:
        param |= {"singleTitle": card.single_title, "singleURL": card.single_url}
        return AppMessage("sampleActionCard", param)
    if len(buttons) > MAX_ACTION_BUTTONS:
        raise InvalidMessageError(Problem.TOO_MANY_BUTTONS, limit=MAX_ACTION_BUTTONS)
    if len(buttons) == 1:
        param |= {"singleTitle": buttons[0].title, "singleURL": buttons[0].action_url}
        return AppMessage("sampleActionCard", param)
    if (
        card.orientation is ButtonOrientation.HORIZONTAL
        and len(buttons) == _HORIZONTAL_BUTTONS
    ):
        for number, button in enumerate(buttons, start=1):
            param[f"buttonTitle{number}"] = button.title
            param[f"buttonUrl{number}"] = button.action_url
        return AppMessage("sampleActionCard6", param)
    for number, button in enumerate(buttons, start=1):
        param[f"actionTitle{number}"] = button.title
        param[f"actionURL{number}"] = button.action_url
    return AppMessage(f"sampleActionCard{len(buttons)}", param)


def _template(message: Text | Markdown | Link | AppOnlyMessage) -> AppMessage:
    """Return the template of a message whose fields map one to one."""
    match message:
        case Text():
            return AppMessage("sampleText", {"content": message.content})
        case Markdown():
            return AppMessage(
                "sampleMarkdown", {"title": message.title, "text": message.text}
            )
        case Link():
            param = {"text": message.text, "title": message.title}
            if message.pic_url is not None:
                param["picUrl"] = message.pic_url
            param["messageUrl"] = message.message_url
            return AppMessage("sampleLink", param)
        case Image():
            return AppMessage("sampleImageMsg", {"photoURL": message.photo_url})
        case _:  # File
            param = {
                "mediaId": message.media_id,
                "fileName": message.file_name,
                "fileType": message.file_type,
            }
            return AppMessage("sampleFile", param)


def to_app_message(message: Message | AppOnlyMessage | AppMessage) -> AppMessage:
    """Return the app robot message for ``message`` (an AppMessage as it is)."""
    if isinstance(message, AppMessage):
        return message
    if isinstance(message, ActionCard):
        return _action_card(message)
    if isinstance(message, FeedCard):
        raise InvalidMessageError(Problem.NOT_SUPPORTED, msgtype="feedCard")
    if not isinstance(message, (Text, Markdown, Link, Image, File)):
        raise InvalidMessageError(Problem.INVALID_VALUE, field="message")
    return _template(message)
