"""Cluster hash tags made from any text: what places a key, and with it every key that must share its slot.

Redis Cluster places a key by the text between its first ``{`` and the
first ``}`` after it (the whole key when that text is empty). The adapters
tag keys with the text a script's keys have in common (a session id, a
cache key, a rate-limited client), so keys of different sessions, entries
and clients spread over every slot while each script stays in one.
"""

from __future__ import annotations


def tag_text(text: str) -> str:
    """``text`` made fit to stand between braces: non-empty, brace-free, and one-to-one with ``text``.

    ``%``, ``{`` and ``}`` become ``%25``, ``%7B`` and ``%7D``; the empty text
    becomes ``%`` (which no escaped text is). Texts without these characters,
    the common case, are returned as they are.
    """
    if text and "{" not in text and "}" not in text and "%" not in text:
        return text
    if not text:
        return "%"
    return text.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def braced(text: str) -> str:
    """``{<tag_text(text)>}``: the hash tag of keys built from ``text``."""
    return "{" + tag_text(text) + "}"
