"""The CDN: attachments users pick for ATTACHMENT options and files the bot uploads, stored by id and served on
the emulator's own port at signed URLs (``ex``, ``is``, ``hm``) that stop working when tampered with or expired."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import time
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .protocol import ATTACHMENT_URL_LIFETIME, CDN_CHUNK, UserFile, _Upload


def _guess_content_type(filename: str) -> str:
    """The content type Discord's client gives an upload: from the name, text marked as UTF-8."""
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if filename.lower().endswith(".md"):
        guessed = "text/markdown"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


class CdnMixin:
    """Attachment bytes (``attachment_data``) and their types, signed URLs, and downloads (``downloads``)."""

    def _user_attachment(self, file: UserFile, channel_id: int) -> dict:
        """What Discord's client uploads when a user fills an ATTACHMENT option (refused over the size limit)."""
        if len(file.data) > self.attachment_size_limit:
            raise ValueError(
                f"{file.filename!r} is {len(file.data)} bytes; this server allows uploads up to "
                f"{self.attachment_size_limit} (set attachment_size_limit to model a boosted server)"
            )
        attachment_id = self._snowflake()
        content_type = file.content_type or _guess_content_type(file.filename)
        self.attachment_data[attachment_id] = file.data
        self._attachment_types[attachment_id] = content_type
        url = self._cdn_url("ephemeral-attachments", channel_id, attachment_id, file.filename)
        return {
            "id": str(attachment_id),
            "filename": file.filename,
            "size": len(file.data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            "ephemeral": True,
        }

    def _cdn_signature(self, path: str, expires: str, issued: str) -> str:
        return hmac.new(self._cdn_key, f"{path}|{expires}|{issued}".encode(), hashlib.sha256).hexdigest()

    def _cdn_url(self, prefix: str, channel_id: int, attachment_id: int, filename: str) -> str:
        path = f"/{prefix}/{channel_id}/{attachment_id}/{quote(filename, safe='')}"
        issued = int(time.time())
        expires, issued_hex = f"{issued + ATTACHMENT_URL_LIFETIME:x}", f"{issued:x}"
        signature = self._cdn_signature(path, expires, issued_hex)
        return f"http://127.0.0.1:{self.port}{path}?ex={expires}&is={issued_hex}&hm={signature}&"

    async def _cdn_handler(self, request: web.Request) -> web.StreamResponse:
        """Serves an attachment's bytes, as Discord's CDN does, when the URL's signature is intact."""
        path = request.raw_path.split("?", 1)[0]
        attachment_id = int(request.match_info["attachment_id"])
        record: dict[str, Any] = {"attachment_id": attachment_id, "path": path, "bytes_sent": 0, "complete": False}
        self.downloads.append(record)
        expires, issued = request.query.get("ex", ""), request.query.get("is", "")
        signature = request.query.get("hm", "")
        valid = hmac.compare_digest(signature, self._cdn_signature(path, expires, issued))
        data = self.attachment_data.get(attachment_id)
        if not valid or data is None or int(expires or "0", 16) < time.time():
            record["status"] = 404
            self._notify()
            return web.Response(status=404, text="This content is no longer available.")
        record["size"] = len(data)
        response = web.StreamResponse(status=200)
        response.content_type = self._attachment_types.get(attachment_id, "application/octet-stream").split(";")[0]
        if self.cdn_content_length:
            response.content_length = len(data)
        else:
            response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            for start in range(0, len(data), CDN_CHUNK):
                chunk = data[start : start + CDN_CHUNK]
                await response.write(chunk)
                record["bytes_sent"] += len(chunk)
            await response.write_eof()
            record["complete"] = True
        except (ConnectionError, RuntimeError):  # the client stopped reading and closed the connection
            pass
        finally:
            record["status"] = 200
            self._notify()
        return response

    def _make_attachments(self, body: dict, uploads: list[_Upload], channel_id: int) -> list[dict]:
        described = {str(a.get("id")): a for a in body.get("attachments") or [] if isinstance(a, dict)}
        attachments = []
        for upload in uploads:
            index = upload.field.removeprefix("files[").removesuffix("]")
            meta = described.get(index, {})
            attachment_id = self._snowflake()
            self.attachment_data[attachment_id] = upload.data
            filename = meta.get("filename") or upload.filename
            self._attachment_types[attachment_id] = upload.content_type
            url = self._cdn_url("attachments", channel_id, attachment_id, filename)
            attachment = {
                "id": str(attachment_id),
                "filename": filename,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url,
                "content_type": upload.content_type,
            }
            if meta.get("description"):
                attachment["description"] = meta["description"]
            attachments.append(attachment)
        return attachments
