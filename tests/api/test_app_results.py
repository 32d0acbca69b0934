"""Tell who did not get a batch-sent message, and raise for them precisely."""

from __future__ import annotations

import pytest

from custom_components.dingtalk.api.app_results import (
    BatchFlowControlledError,
    BatchRecipientsNotFoundError,
    BatchSendResult,
)
from custom_components.dingtalk.api.errors import (
    DingTalkBadResponseError,
    RecipientNotFoundError,
    UserFlowControlledError,
)

USERS = ("u1", "u2", "u3")


def _result(**lists: list[object]) -> BatchSendResult:
    """Return the result of an answer with the given id lists."""
    return BatchSendResult.from_api(USERS, {"processQueryKey": "k", **lists})


def test_everyone_delivered() -> None:
    """Raise nothing when nobody was skipped (missing or empty lists)."""
    for result in (_result(), _result(invalidStaffIdList=[])):
        assert result.complete
        assert result.delivered_user_ids == USERS
        assert result.process_query_key == "k"
        result.raise_for_recipients()


def test_flow_controlled_is_retryable_and_wins() -> None:
    """Raise BatchFlowControlledError for throttled ids, even beside unknown ones."""
    result = _result(flowControlledStaffIdList=["u2"], invalidStaffIdList=["u3"])
    with pytest.raises(BatchFlowControlledError) as excinfo:
        result.raise_for_recipients()
    error = excinfo.value
    assert isinstance(error, UserFlowControlledError)
    assert error.retryable
    assert error.user_ids == ("u2",)
    assert error.result is result
    assert error.result.invalid_user_ids == ("u3",)
    assert error.result.delivered_user_ids == ("u1",)
    assert (error.errcode, error.status) == ("flowControlledStaffIdList", 200)
    assert str(error) == (
        "DingTalk error flowControlledStaffIdList: "
        "1 of 3 user ids flow-controlled; 1 delivered"
    )


@pytest.mark.parametrize(
    ("lists", "user_ids"),
    [
        ({"invalidStaffIdList": ["u1", "u2", "u3"]}, ("u1", "u2", "u3")),
        ({"filteredStaffIdList": ["u3"]}, ("u3",)),
        ({"invalidStaffIdList": ["u1"], "filteredStaffIdList": ["u2"]}, ("u1", "u2")),
    ],
)
def test_unknown_ids_are_permanent(
    lists: dict[str, list[object]], user_ids: tuple[str, ...]
) -> None:
    """Raise BatchRecipientsNotFoundError (permanent) for unknown or filtered ids."""
    result = _result(**lists)
    with pytest.raises(BatchRecipientsNotFoundError) as excinfo:
        result.raise_for_recipients()
    error = excinfo.value
    assert isinstance(error, RecipientNotFoundError)
    assert not error.retryable
    assert error.user_ids == user_ids
    assert error.result is result
    assert "u1" not in str(error)


def test_numeric_ids_and_missing_key() -> None:
    """Read numeric ids as strings; a missing processQueryKey is None."""
    result = BatchSendResult.from_api(["1001"], {"invalidStaffIdList": [1001]})
    assert result.invalid_user_ids == ("1001",)
    assert result.process_query_key is None
    assert result.delivered_user_ids == ()


@pytest.mark.parametrize("value", ["u1", [True], [None], {"u1": 1}])
def test_malformed_lists(value: object) -> None:
    """Raise DingTalkBadResponseError (maybe delivered) for a list that is not ids."""
    with pytest.raises(DingTalkBadResponseError) as excinfo:
        BatchSendResult.from_api(USERS, {"flowControlledStaffIdList": value})
    assert excinfo.value.maybe_delivered
