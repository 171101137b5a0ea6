"""Signed, expiring download URLs served by the sandbox (no Authorization header needed)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

EXPIRED = "Request has expired."


def access_denied(message: str) -> bytes:
    """The S3-style body of a refused signed URL."""
    return f'<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>{message}</Message></Error>'.encode()


@dataclass
class StoredFile:
    body: bytes
    content_type: str
    expires_at: float


class FileStore:
    """Holds generated files in memory and signs their URLs with HMAC-SHA256 over id and expiry."""

    def __init__(self, ttl: float = 300.0, max_files: int = 256) -> None:
        self.ttl = ttl
        self.max_files = max_files
        self._key = secrets.token_bytes(32)
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()

    def _sign(self, file_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def put(self, base_url: str, body: bytes, content_type: str, ext: str) -> str:
        """Store a file and return its signed URL."""
        now = time.time()
        expires = int(now + self.ttl)
        file_id = f"{secrets.token_hex(12)}.{ext}"
        with self._lock:
            self._files = {k: f for k, f in self._files.items() if f.expires_at > now}
            while len(self._files) >= self.max_files:
                self._files.pop(next(iter(self._files)))
            self._files[file_id] = StoredFile(body, content_type, now + self.ttl)
        return f"{base_url}/files/{file_id}?expires={expires}&signature={self._sign(file_id, expires)}"

    def get(self, file_id: str, expires: str, signature: str) -> StoredFile | str:
        """The file, or the reason it is refused (tampered, expired or gone)."""
        try:
            exp = int(expires)
        except ValueError:
            return "Request has expired or the signature is invalid."
        if not hmac.compare_digest(self._sign(file_id, exp), signature):
            return "The request signature we calculated does not match the signature you provided."
        if exp < time.time():
            return EXPIRED
        with self._lock:
            f = self._files.get(file_id)
        return f if f is not None else "The specified key does not exist."
