"""The console's page, its assets (package data), signing in and out, and ``/`` in development."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from blacksheep import Request, Response, Router
from blacksheep.contents import Content
from blacksheep.server.openapi.common import ContentInfo, ResponseInfo

from sheepfold import (
    AdminGuard,
    JSONBody,
    Length,
    Platform,
    admin_docs,
    admin_only,
    problem,
    problem_response,
    route_docs,
)
from sheepfold.http.request_fields import peer_address
from sheepfold_console.audit import audit, from_another_site
from sheepfold_console.settings import ConsoleSettings
from sheepfold_console.sign_in import ConsolePass

logger = logging.getLogger("sheepfold.console")

PAGE = "/-/console"
SIGN_IN = "/console/sign-in"
ASSETS = "/console/assets"
#: What a browser may load on the console's pages: files from this host, nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
MEDIA_TYPES = {".html": b"text/html; charset=utf-8", ".css": b"text/css; charset=utf-8", ".js": b"text/javascript"}
_HTML = ResponseInfo("The page", content=[ContentInfo(str, content_type="text/html")])
_FILE = ResponseInfo(
    "The file", content=[ContentInfo(str, content_type=media.split(b";")[0].decode()) for media in MEDIA_TYPES.values()]
)


@dataclass
class SignIn:
    """The body of ``POST /console/sign-in``: the admin token (``admin.token``)."""

    token: Annotated[str, Length(1, 4096)]


@dataclass(frozen=True)
class Asset:
    """A file of the package's ``static`` folder, read once: its bytes, media type and ETag."""

    body: bytes
    media_type: bytes
    etag: bytes

    @classmethod
    def load(cls, name: str) -> Asset:
        body = resources.files("sheepfold_console").joinpath("static", name).read_bytes()
        suffix = name[name.rindex(".") :]
        return cls(body, MEDIA_TYPES[suffix], b'"' + hashlib.sha256(body).hexdigest()[:16].encode() + b'"')

    def response(self, request: Request) -> Response:
        if request.get_first_header(b"if-none-match") == self.etag:
            return Response(304, headers=[(b"ETag", self.etag)])
        headers = [(b"ETag", self.etag), (b"Cache-Control", b"no-cache"), (b"X-Content-Type-Options", b"nosniff")]
        if self.media_type.startswith(b"text/html"):
            headers += [(b"Content-Security-Policy", CONTENT_SECURITY_POLICY), (b"Referrer-Policy", b"no-referrer")]
        return Response(200, headers=headers, content=Content(self.media_type, self.body))


def load_assets() -> dict[str, Asset]:
    """Every file the pages load, by name."""
    static = resources.files("sheepfold_console").joinpath("static")
    return {entry.name: Asset.load(entry.name) for entry in static.iterdir() if entry.name.endswith(tuple(MEDIA_TYPES))}


def add_page_routes(router: Router, platform: Platform, settings: ConsoleSettings, console_pass: ConsolePass) -> None:
    """``GET /-/console``, ``GET /console/assets/{name}``, ``GET|POST /console/sign-in``, ``POST /-/console/sign-out``,
    and in development ``GET /`` (a redirect to the console) unless ``console.root_redirect`` is false."""
    assets = load_assets()
    page, sign_in_page = assets.pop("console.html"), assets.pop("sign-in.html")
    guard = platform.require(AdminGuard)

    @admin_only(sign_in=SIGN_IN)
    @admin_docs(summary="The operator console (a browser without the token is sent to sign in)", responses={200: _HTML})
    async def console(request: Request) -> Response:
        return page.response(request)

    @route_docs(
        summary="A file of the console's pages (CSS, JavaScript)",
        responses={
            200: ResponseInfo(
                "The file",
                content=[
                    ContentInfo(str, content_type=media.split(b";")[0].decode()) for media in MEDIA_TYPES.values()
                ],
            ),
            304: "Not modified (If-None-Match)",
            404: problem_response("No such file."),
        },
    )
    async def asset(name: str, request: Request) -> Response:
        found = assets.get(name)
        return problem(404, "No such file.") if found is None else found.response(request)

    @route_docs(
        summary="The console's sign-in page (the admin token, exchanged for a cookie)",
        responses={200: _HTML, 303: "The admin surface is open: straight to the console"},
    )
    async def show_sign_in(request: Request) -> Response:
        if guard.open:
            return Response(303, headers=[(b"Location", PAGE.encode())])
        return sign_in_page.response(request)

    @route_docs(
        summary="Sign a browser in to the console with the admin token",
        responses={
            204: "Signed in: the console's HttpOnly cookie is set",
            401: problem_response("Not the admin token."),
            403: problem_response("Sent from a page of another site."),
            409: problem_response("No admin.token is set: there is nothing to sign in with."),
        },
    )
    async def sign_in(request: Request, body: JSONBody[SignIn]) -> Response:
        if from_another_site(request):
            return problem(403, "Sign in from the console's own page.")
        if not console_pass.enabled:
            return problem(409, "No admin.token is set: there is nothing to sign in with.")
        client = peer_address(request)
        if not console_pass.token_matches(body.value.token):
            audit.warning(
                "console sign-in refused from %s", client,
                extra={"action": "console.sign_in", "outcome": "refused", "client": client},
            )  # fmt: skip
            return problem(401, "That is not the admin token.")
        value, sign_in_id = console_pass.issue()
        actor = f"console:{sign_in_id}"
        audit.info(
            "console sign-in %s from %s", actor, client,
            extra={"action": "console.sign_in", "outcome": "signed in", "actor": actor, "client": client},
        )  # fmt: skip
        response = Response(204)
        response.set_cookie(console_pass.cookie(value))
        return response

    @admin_only
    @admin_docs(summary="Sign this browser out of the console", responses={204: "The console's cookie is removed"})
    async def sign_out() -> Response:
        response = Response(204)
        response.set_cookie(console_pass.cookie(""))
        return response

    router.add_get(PAGE, console)
    router.add_get(ASSETS + "/{name}", asset)
    router.add_get(SIGN_IN, show_sign_in)
    router.add_post(SIGN_IN, sign_in)
    router.add_post(f"{PAGE}/sign-out", sign_out)
    if settings.root_redirect and str(getattr(platform.settings, "current_env", "")).lower() == "development":

        @route_docs(summary="The console (development only)", responses={307: "To /-/console"})
        async def root() -> Response:
            return Response(307, headers=[(b"Location", PAGE.encode())])

        router.add_get("/", root)
