"""What a client calls to log in: the bot's user, its application, and the gateway URL."""

from __future__ import annotations

from .._app import Call, Reply, Router, ok
from .._serialize import application_json, self_user_json

router = Router()


def gateway_url(call: Call) -> str:
    """The WebSocket URL of this sandbox's gateway, as the client reached the REST API."""
    return f"ws://{call.request.host}"


@router.get("/users/@me")
async def get_current_user(call: Call) -> Reply:
    """``GET /users/@me``: the authenticated bot's user (401 for a bad token)."""
    return ok(self_user_json(call.me.user))


def _application(call: Call) -> Reply:
    bot = call.me
    owner = call.state.users.get(bot.owner_id or 0, bot.user)
    return ok(application_json(bot, owner))


@router.get("/oauth2/applications/@me")
async def get_current_application(call: Call) -> Reply:
    """``GET /oauth2/applications/@me``: the bot's application."""
    return _application(call)


@router.get("/applications/@me")
async def get_my_application(call: Call) -> Reply:
    """``GET /applications/@me``: the same application object."""
    return _application(call)


@router.get("/gateway", auth=False)
async def get_gateway(call: Call) -> Reply:
    """``GET /gateway``: where to connect (no token needed)."""
    return ok({"url": gateway_url(call)})


@router.get("/gateway/bot")
async def get_gateway_bot(call: Call) -> Reply:
    """``GET /gateway/bot``: the URL, one recommended shard and the session start limit."""
    call.me  # noqa: B018 - authenticates the caller
    return ok(
        {
            "url": gateway_url(call),
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }
    )
