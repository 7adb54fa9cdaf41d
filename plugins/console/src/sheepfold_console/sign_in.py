"""Signing a browser in to the console: the admin token, exchanged once for a signed HttpOnly cookie.

A browser cannot send the admin token as a Bearer header on every page,
script and WebSocket, and the token must not sit in page storage where a
script could read it. So ``POST /console/sign-in`` takes the token once and
answers with a cookie that holds no secret: an expiry and a random sign-in
id, signed (HMAC-SHA256) with a key derived from ``admin.token``. Every
instance sharing the token accepts it; changing the token signs everyone
out. The cookie is ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict``
(no other site's page can make the browser send it) and ``Secure`` with the
``__Host-`` prefix unless ``console.cookie_secure`` is false.

A request bearing a valid cookie is the identity ``console:<sign-in id>``
with the attribute :data:`SIGNED_IN`, which the console's permission hook
allows the ``admin`` action (the admin surface) and nothing else: the
cookie opens what the admin token opens, no application permission. It is
honoured only on admin paths (``/-/...``) and WebSocket handshakes, so
application pages see the operator as whoever else they are.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from blacksheep import Cookie, Request
from blacksheep.cookies import CookieSameSiteMode

from sheepfold.http.admin import is_admin_path
from sheepfold.http.request_fields import cookie
from sheepfold.identity import Identity

#: The cookie's name over plain HTTP (``console.cookie_secure = false``).
COOKIE = "sheepfold_console"
#: Its name when Secure: the ``__Host-`` prefix binds it to this host, path ``/``, HTTPS.
SECURE_COOKIE = "__Host-sheepfold_console"
#: The identity attribute of a console sign-in (its value: the sign-in id).
SIGNED_IN = "console_sign_in"
#: Digits of an expiry (a Unix time) a cookie may hold: more is no cookie this module issued.
_EXPIRY_DIGITS = 12


class ConsolePass:
    """Issues and checks console cookies for one ``admin.token``.

    Without a token (the development environment's open admin surface)
    nothing is issued and no cookie is accepted.
    """

    def __init__(self, admin_token: str, *, ttl: float, secure: bool) -> None:
        self._token = admin_token.encode()
        self._key = hmac.new(self._token, b"sheepfold-console-cookie", hashlib.sha256).digest() if admin_token else b""
        self.ttl = ttl
        self.secure = secure
        self.cookie_name = SECURE_COOKIE if secure else COOKIE

    @property
    def enabled(self) -> bool:
        """Whether there is an admin token to sign in with."""
        return bool(self._key)

    def token_matches(self, presented: str) -> bool:
        """True when ``presented`` is the admin token (compared in constant time)."""
        return self.enabled and hmac.compare_digest(presented.encode(), self._token)

    def issue(self, now: float | None = None) -> tuple[str, str]:
        """A new cookie value and its sign-in id."""
        expires = int((time.time() if now is None else now) + self.ttl)
        sign_in = secrets.token_hex(6)
        return f"{expires}.{sign_in}.{self._signature(expires, sign_in)}", sign_in

    def verify(self, value: str, now: float | None = None) -> str | None:
        """The sign-in id of a valid, unexpired cookie value; None otherwise."""
        if not self.enabled:
            return None
        expires_text, _, rest = value.partition(".")
        sign_in, _, signature = rest.partition(".")
        # ASCII only: "²" is a digit to isdigit() but not to int(), and compare_digest refuses non-ASCII text.
        if not (expires_text.isascii() and expires_text.isdigit() and len(expires_text) <= _EXPIRY_DIGITS):
            return None
        if len(sign_in) != 12 or not signature.isascii():
            return None
        expires = int(expires_text)
        if expires <= (time.time() if now is None else now):
            return None
        return sign_in if hmac.compare_digest(signature, self._signature(expires, sign_in)) else None

    def identity_of(self, request: Request) -> Identity | None:
        """The console identity of ``request`` (an admin path or a WebSocket handshake with a valid cookie), or None."""
        if not self.enabled:
            return None
        scope: Any = request.scope
        if not (scope is not None and scope.get("type") == "websocket") and not is_admin_path(request.path):
            return None
        value = cookie(request, self.cookie_name)
        sign_in = self.verify(value) if value else None
        return None if sign_in is None else Identity(f"console:{sign_in}", attributes={SIGNED_IN: sign_in})

    def cookie(self, value: str) -> Cookie:
        """The cookie holding ``value`` (``""`` with ``max_age=0`` removes it)."""
        return Cookie(
            self.cookie_name,
            value,
            path="/",
            http_only=True,
            secure=self.secure,
            max_age=int(self.ttl) if value else 0,
            same_site=CookieSameSiteMode.STRICT,
        )

    def _signature(self, expires: int, sign_in: str) -> str:
        return hmac.new(self._key, f"{expires}.{sign_in}".encode(), hashlib.sha256).hexdigest()
