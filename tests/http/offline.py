"""Finding the pages an app serves and what in them would make a browser ask another host.

:func:`html_pages` requests every GET route of the app (path parameters
filled in, the admin token sent) and keeps those answering ``text/html``: a
page a plugin adds later is covered without naming it. :func:`foreign_references`
reads a page and every script and stylesheet of its own that it loads, and
lists each absolute ``http(s)`` URL on another host: in the HTML, the
attributes that load something (``src``, ``href`` of anything but a link the
user follows, ``srcset``, ``data``, ``poster``, ``action``), ``url()`` and
``@import`` in styles, and any URL in scripts. Scripts of vendored libraries
name hosts they never ask (XML namespaces, links in error messages):
:data:`NOT_FETCHED` lists those, each with the reason; any other host fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
from blacksheep import Router

#: Hosts that scripts of vendored libraries name without ever requesting them, and why.
NOT_FETCHED = {
    "www.w3.org": "XML namespaces (SVG, XHTML, XLink, MathML) in React and Swagger UI",
    "spec.openapis.org": "the OpenAPI 3.1 JSON Schema dialect's identifier",
    "json-schema.org": "JSON Schema $schema identifiers",
    "datatracker.ietf.org": "RFC references in Swagger UI's grammar messages",
    "www.rfc-editor.org": "RFC references in Swagger UI's grammar messages",
    "validator.swagger.io": "the validator badge of Swagger UI's standalone layout (/docs uses the base one) "
    "and /docs/start.js sets validatorUrl to null",
    "swagger.io": "a link in Swagger UI",
    "github.com": "core-js's licence notice",
    "spdx.org": "licence links Swagger UI renders from a spec's license identifier",
    "reactjs.org": "a link in React's minified error messages",
    "redux.js.org": "a link in Redux's minified error messages",
    "vladimirgorej.com": "a base URL for parsing relative URLs (new URL(path, base)), never requested",
    "twitter.com": "Autolinker's hashtag and mention link targets",
    "www.facebook.com": "Autolinker's hashtag link targets",
    "instagram.com": "Autolinker's hashtag and mention link targets",
    "soundcloud.com": "Autolinker's mention link targets",
    "www.tiktok.com": "Autolinker's hashtag and mention link targets",
    "실례.com": "a sample value of JSON Schema's idn-hostname format",
    "example.com": "sample values of JSON Schema formats (uri, uri-template) in generated examples",
    "fb.me": "a link in React's prop-types warning",
    "base${string": "sanitizeUrl's random base for new URL(url, base) (`https://base${String(Math.random())...}`)",
}

#: Attributes that make the browser fetch their URL (``href`` only on elements other than ``<a>``/``<area>``).
LOADING_ATTRIBUTES = {"src", "href", "srcset", "data", "poster", "action", "background", "formaction"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.IGNORECASE)
_ANY_URL = re.compile(r"""https?://[^\s"'`<>()\\]+""")
_PARAMETER = re.compile(r"\{[^}]*\}")


def get_paths(router: Router) -> Iterator[str]:
    """The path of every GET route (WebSocket routes excluded), parameters filled with ``x``."""
    for method, route in router.iter_with_methods():
        if method == "GET":
            yield _PARAMETER.sub("x", route.mustache_pattern)


async def html_pages(client: httpx.AsyncClient, router: Router) -> list[str]:
    """The URLs of the app's HTML pages, redirects followed (``/docs`` → ``/docs/``), each once."""
    pages: list[str] = []
    for path in sorted(set(get_paths(router))):
        response = await client.get(path, follow_redirects=True)
        if response.headers.get("content-type", "").startswith("text/html") and str(response.url) not in pages:
            pages.append(str(response.url))
    return pages


async def foreign_references(client: httpx.AsyncClient, page: str) -> list[str]:
    """``"<where>: <url>"`` for every URL on another host that ``page`` or its own scripts and styles load."""
    origin = _origin(page)
    found: list[str] = []
    html = (await client.get(page)).text
    reader = _PageReader()
    reader.feed(html)
    for where, url in reader.loads:
        if _foreign(url, origin):
            found.append(f"{page} {where}: {url}")
    found += [f"{page} <style>: {url}" for url in css_urls(" ".join(reader.styles)) if _foreign(url, origin)]
    found += [f"{page} <script>: {url}" for url in script_urls(" ".join(reader.scripts), origin)]
    for kind, url in reader.assets:
        asset = urljoin(page, url)
        if _origin(asset) != origin:
            continue  # reported above
        text = (await client.get(asset)).text
        if kind == "style":
            found += [f"{asset}: {ref}" for ref in css_urls(text) if _foreign(urljoin(asset, ref), origin)]
        else:
            found += [f"{asset}: {ref}" for ref in script_urls(text, origin)]
    return found


def css_urls(css: str) -> list[str]:
    """Every ``url(...)`` and ``@import`` target of ``css`` except ``data:`` URIs."""
    urls = [match.group(2) or match.group(4) or "" for match in _CSS_URL.finditer(css)]
    return [url for url in urls if url and not url.startswith("data:")]


def script_urls(script: str, origin: str) -> list[str]:
    """Absolute URLs in ``script`` on hosts other than ``origin``'s and :data:`NOT_FETCHED`'s."""
    own = urlsplit(origin).hostname
    return sorted(
        {url for url in _ANY_URL.findall(script) if urlsplit(url).hostname not in {own, *NOT_FETCHED}},
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _foreign(url: str, origin: str) -> bool:
    """True for an absolute (or scheme-relative) http(s) URL not on ``origin``."""
    url = url.strip()
    if url.startswith("//"):
        url = "http:" + url
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" != origin


class _PageReader(HTMLParser):
    """Collects what an HTML page loads: URLs in loading attributes, styles, inline scripts, own assets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[tuple[str, str]] = []  # (where, url)
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.assets: list[tuple[str, str]] = []  # ("script" | "style", url) to read in turn
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name in LOADING_ATTRIBUTES and not (name == "href" and tag in ("a", "area")):
                urls = [part.split()[0] for part in value.split(",") if part.strip()] if name == "srcset" else [value]
                self.loads += [(f"<{tag} {name}>", url) for url in urls]
            elif name == "style":
                self.styles.append(value)
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.loads.append(("<meta refresh>", values.get("content", "").partition("url=")[2]))
        if tag == "script" and values.get("src"):
            self.assets.append(("script", values["src"]))
        elif tag == "link" and "stylesheet" in values.get("rel", "").lower().split() and values.get("href"):
            self.assets.append(("style", values["href"]))
        self._in = tag if tag in ("script", "style") and not values.get("src") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)
