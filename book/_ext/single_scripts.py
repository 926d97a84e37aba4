"""Sphinx extension for the book: every script tag of a page once.

sphinx-thebe, which Jupyter Book loads even with its launch buttons off, registers its inline
configuration script (``const THEBE_JS_URL = ...``) each time the environment reads documents, so
a page could carry the declaration twice (once registered with no file name, ``None``, once with
``""``, so Sphinx kept both) and the browser logged a SyntaxError on every page
(``tests/test_book_pages.py`` catches console errors).
"""

from __future__ import annotations

from typing import Any


def _once(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Drop repeated script entries of a page's context, keeping the first of each."""
    if "script_files" not in context:
        return
    seen, kept = set(), []
    for script in context["script_files"]:
        attributes = tuple(sorted(getattr(script, "attributes", {}).items()))
        key = (getattr(script, "filename", script) or "", attributes)  # None and "": inline
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Any) -> dict[str, Any]:
    """Register the page-context hook."""
    app.connect("html-page-context", _once, priority=1000)  # after the handlers that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
