"""``/docs`` from the installed packages: Swagger UI's files served by the app itself, never from a CDN.

BlackSheep's Swagger UI page loads its script and stylesheet from a public
CDN, so ``/docs`` is blank wherever the browser cannot reach it (an air-gapped
network, a strict proxy) and tells a third party who reads the docs. Here the
page, its start script and Swagger UI's files (from the ``swagger-ui-bundle-v2``
distribution) are served under the UI's own path, by relative URLs, so the
page works offline and behind a path prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from blacksheep import Request, Response
from blacksheep.server.files.static import get_response_for_static_content
from blacksheep.server.openapi.ui import SwaggerUIProvider, UIOptions
from swagger_ui_bundle import swagger_ui_path

_OWN = resources.files("sheepfold.http") / "docs_assets"
#: What the page loads, by the name it uses: (content type, where the file is installed).
ASSETS: dict[str, tuple[bytes, Path]] = {
    "swagger-ui-bundle.js": (b"text/javascript; charset=utf-8", Path(str(swagger_ui_path), "swagger-ui-bundle.js")),
    "swagger-ui.css": (b"text/css; charset=utf-8", Path(str(swagger_ui_path), "swagger-ui.css")),
    "favicon.png": (b"image/png", Path(str(swagger_ui_path), "favicon-32x32.png")),
    "start.js": (b"text/javascript; charset=utf-8", Path(str(_OWN / "start.js"))),
}


class PackagedSwaggerUI(SwaggerUIProvider):
    """Swagger UI at ``ui_path`` (``/docs``), its files at ``ui_path/<name>``: nothing loaded from another host."""

    def get_openapi_ui_html(self, options: UIOptions) -> str:
        page = (_OWN / "docs.html").read_text(encoding="utf-8")
        return page.replace("##PAGE_TITLE##", _escape(options.page_title)).replace(
            "##SPEC_URL##", _escape(options.spec_url)
        )

    def asset_handlers(self) -> dict[str, Callable[[Request], Response]]:
        """``{path: handler}`` serving each of :data:`ASSETS` (read once, with ``ETag`` and ``Cache-Control``)."""
        return {f"{self.ui_path.rstrip('/')}/{name}": _file_handler(*asset) for name, asset in ASSETS.items()}


def _file_handler(content_type: bytes, path: Path) -> Callable[[Request], Response]:
    contents: list[bytes] = []  # read at the first request: most apps' docs are never opened
    modified = path.stat().st_mtime

    def serve(request: Request) -> Response:
        if not contents:
            contents.append(path.read_bytes())
        return get_response_for_static_content(request, content_type, contents[0], modified)

    return serve


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
