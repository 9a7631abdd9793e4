"""The attachment CDN: serves uploaded files at the URLs messages carry."""

from __future__ import annotations

from aiohttp import web

from .. import _errors as errors
from .._app import Call, Router

router = Router()


@router.get("/attachments/{channel_id}/{attachment_id}/{filename}", auth=False, api=False)
async def get_attachment(call: Call) -> web.StreamResponse:
    """An uploaded file's bytes (404 when unknown), as Discord's CDN serves them."""
    attachment = call.state.attachment(call.snowflake("attachment_id"))
    if attachment is None or attachment.filename != call.request.match_info["filename"]:
        raise errors.http_error(*errors.NOT_FOUND)
    return web.Response(
        body=attachment.data, content_type=attachment.content_type or "application/octet-stream"
    )
