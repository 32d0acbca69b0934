"""Helpers of the emulator's JSON API handlers: errors, bodies, parameters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import functools
import json
from typing import Final, Protocol

from aiohttp import web

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: What a NON_JSON fault answers (HTTP 200).
NON_JSON_BODY: Final = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


class Sleeper(Protocol):
    """Sleeps in real time but wakes when the server shuts down (DELAY faults)."""

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the server shuts down."""
        ...


def dumps(value: object) -> str:
    """Serialise JSON compactly, keeping Chinese text readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ApiError(Exception):
    """An error answered as {"error": …} with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        """Remember the status and the message."""
        super().__init__(message)
        self.status = status


def api(handler: Handler) -> Handler:
    """Answer bad input with 400, unknown things with 404, as JSON."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        """Call the handler and turn its errors into JSON answers."""
        try:
            return await handler(request)
        except ApiError as err:
            return json_response({"error": str(err)}, status=err.status)
        except KeyError as err:
            return json_response({"error": str(err.args[0])}, status=404)
        except (TypeError, ValueError) as err:
            return json_response({"error": str(err)}, status=400)

    return wrapper


def json_response(value: object, status: int = 200) -> web.Response:
    """Return a JSON answer."""
    return web.json_response(value, status=status, dumps=dumps)


async def read_object(request: web.Request) -> dict[str, object]:
    """Return the request body as a JSON object (400 otherwise)."""
    try:
        value = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ApiError(400, "the body must be a JSON object") from None
    if not isinstance(value, dict):
        raise ApiError(400, "the body must be a JSON object")
    return value


def int_param(request: web.Request, name: str) -> int | None:
    """Return an integer query parameter, if given."""
    value = request.query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None


async def read_limited(request: web.Request, limit: int) -> bytes:
    """Return the body; HTTP 413 when it is larger than ``limit`` bytes."""
    body = await request.read()  # read in full: keeps the connection usable
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return body


def drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer (DROP faults)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response()  # never reaches the client: the connection is gone


def html_page() -> web.Response:
    """Return the HTML page a NON_JSON fault answers instead of JSON."""
    return web.Response(text=NON_JSON_BODY, content_type="text/html")
