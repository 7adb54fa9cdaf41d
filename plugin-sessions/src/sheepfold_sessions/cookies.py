"""Session ids and the signed cookie that carries them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from blacksheep.cookies import Cookie, CookieSameSiteMode

#: 32 bytes from ``secrets``: 256 bits, twice OWASP's 128-bit minimum.
ID_BYTES = 32
_ID = re.compile(r"[A-Za-z0-9_-]{43}")
_SIGNATURE_LENGTH = 43  # an HMAC-SHA256, base64url without padding
COOKIE_LENGTH = 43 + 1 + _SIGNATURE_LENGTH


def new_session_id() -> str:
    """A fresh session id: 256 random bits, base64url (43 characters)."""
    return secrets.token_urlsafe(ID_BYTES)


def public_handle(session_id: str) -> str:
    """A name for a session that can be shown to its user without revealing (or letting anyone derive) its id."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:16]


def _key(secret: str) -> bytes:
    # A key for this purpose only, so the same secret used elsewhere signs nothing valid here.
    return hashlib.sha256(b"sheepfold-sessions/cookie\0" + secret.encode()).digest()


def _signature(key: bytes, session_id: str) -> str:
    # hmac.digest: the one-shot C implementation, several times faster than hmac.new per request.
    return base64.urlsafe_b64encode(hmac.digest(key, session_id.encode(), "sha256")).rstrip(b"=").decode()


class CookieSigner:
    """Signs session ids with the current secret and verifies them with it or any previous one."""

    def __init__(self, secret: str, previous_secrets: tuple[str, ...] = ()) -> None:
        self._current = _key(secret)
        self._keys = [self._current, *(_key(old) for old in previous_secrets)]

    def sign(self, session_id: str) -> str:
        return f"{session_id}.{_signature(self._current, session_id)}"

    def unsign(self, value: str) -> tuple[str, bool] | None:
        """``(session id, signed with the current secret)``, or None for anything this server did not issue.

        Wrong length, wrong alphabet, a bad signature or a signature by an
        unknown secret are all None; the comparison takes constant time.
        """
        if len(value) != COOKIE_LENGTH or value[43] != ".":
            return None
        session_id, signature = value[:43], value[44:]
        # compare_digest refuses text that is not ASCII (a TypeError, a 500): such a signature is simply wrong.
        if not _ID.fullmatch(session_id) or not signature.isascii():
            return None
        for index, key in enumerate(self._keys):
            if hmac.compare_digest(signature, _signature(key, session_id)):
                return session_id, index == 0
        return None


def session_cookie(name: str, value: str, *, secure: bool, max_age: int = -1) -> Cookie:
    """The session cookie: HttpOnly, SameSite=Lax, Path=/, Secure when ``secure``; ``max_age=0`` removes it."""
    return Cookie(
        name,
        value,
        path="/",
        http_only=True,
        secure=secure,
        max_age=max_age,
        same_site=CookieSameSiteMode.LAX,
    )
