"""Attachments for ``send_message``: base64 data, or a URL the server downloads.

A URL download is a request the server makes on a model's behalf, so it is fenced: ``http`` and
``https`` only; the host must resolve to public addresses only (no loopback, private,
link-local, multicast or reserved ranges: a model must not reach the server's own network)
unless the runtime allows private URLs (the embedded sandbox and tests); the body is read up to
the size cap and refused beyond it; the whole download has a deadline. The resolved address is
checked, then connected to by name, so a DNS answer that changes in between (rebinding) is a
residual risk, noted here rather than hidden.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from urllib.parse import urlsplit

import aiohttp
import anyio

from actors.discord_port import FileUpload

DOWNLOAD_TIMEOUT = 20.0


class AttachmentError(ValueError):
    """An attachment that cannot be sent; the message says which and why."""


def decode_base64(filename: str, data: str, max_bytes: int) -> bytes:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AttachmentError(
            f"attachment {filename!r}: data_base64 is not valid base64 (standard alphabet, "
            "with padding)"
        ) from None
    if len(raw) > max_bytes:
        raise AttachmentError(
            f"attachment {filename!r} is {len(raw):,} bytes; the limit is {max_bytes:,}"
        )
    return raw


async def _check_host(host: str, port: int) -> None:
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AttachmentError(f"cannot resolve the attachment URL's host {host!r}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise AttachmentError(
                f"the attachment URL's host {host!r} resolves to a non-public address "
                f"({address}); give the file as data_base64 instead"
            )


async def download(url: str, filename: str, *, max_bytes: int, allow_private: bool) -> bytes:
    """The body at ``url`` (see the module docstring for the fences)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AttachmentError(
            f"attachment {filename!r}: url must be an absolute http(s) URL, not {url!r}"
        )
    if not allow_private:
        await _check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=allow_private) as response,
        ):
            if response.status != 200:
                raise AttachmentError(
                    f"attachment {filename!r}: downloading {url} answered HTTP {response.status}"
                    + ("" if allow_private else " (redirects are not followed)")
                )
            body = await response.content.read(max_bytes + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise AttachmentError(
            f"attachment {filename!r}: downloading {url} failed ({type(exc).__name__}); check "
            "the URL or give the file as data_base64"
        ) from None
    if len(body) > max_bytes:
        raise AttachmentError(
            f"attachment {filename!r} at {url} is larger than the {max_bytes:,}-byte limit"
        )
    return body


async def to_upload(
    filename: str,
    *,
    data_base64: str | None,
    url: str | None,
    description: str | None,
    max_bytes: int,
    allow_private: bool,
) -> FileUpload:
    if (data_base64 is None) == (url is None):
        raise AttachmentError(f"attachment {filename!r}: give exactly one of data_base64 or url")
    if data_base64 is not None:
        data = decode_base64(filename, data_base64, max_bytes)
    else:
        assert url is not None
        data = await download(url, filename, max_bytes=max_bytes, allow_private=allow_private)
    return FileUpload(filename=filename, data=data, description=description)
