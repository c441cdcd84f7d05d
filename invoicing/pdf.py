"""PDF rendering: HTML in, bytes out. No database, no broker, no network.

Documents contain text typed by customers (company names, addresses), so the HTML
comes from Django templates with autoescaping, and WeasyPrint gets a URL fetcher that
serves only the project's own static files and data: URIs. Anything else (http(s),
file: outside static, path traversal) is refused: WeasyPrint logs a warning and
renders the document without that resource.

Fonts come from the system (Debian's fonts-noto-cjk: "Noto Sans CJK SC",
"Noto Serif CJK SC", with real bold); WeasyPrint embeds only the glyphs used
(HarfBuzz subsetter, libharfbuzz-subset0). It keeps the glyph ids, and Noto CJK's
Chinese glyphs sit up to id ~65000, so each face used still weighs ~70-160 KB of
mostly empty glyph slots. Renumbering them (CIDs kept in the CFF charset) breaks
the text in pdfium (Chrome's viewer), so it is not done: use few faces per document.
"""

import mimetypes
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_SCHEME = "static:"


class ResourceRefused(ValueError):
    """A document referenced a resource outside the project's static files."""


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """The PDF of `html`. Relative and `/static/...` URLs resolve against `base_url`
    (default settings.SITE_URL, so links in the PDF point to the shop); static files
    are read from disk, never over the network."""
    base_url = base_url or settings.SITE_URL
    fetcher = StaticOnlyURLFetcher(origins={_origin(base_url), _origin(settings.SITE_URL)})
    return HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf()


def render_template_pdf(template_name: str, context: dict, *, base_url: str | None = None) -> bytes:
    """Renders a Django template (autoescaped: user text stays text) to a PDF."""
    return render_pdf(render_to_string(template_name, context), base_url=base_url)


class StaticOnlyURLFetcher(URLFetcher):
    """Serves data: URIs and the project's static files; raises for every other URL.

    Static files are addressed as `static:img/logo.png`, as `/static/img/logo.png`
    (resolved against the base URL, whose origin is listed in `origins`), or as a
    file: URL inside STATIC_ROOT or STATICFILES_DIRS."""

    def __init__(self, *, origins=frozenset(), **kwargs):
        super().__init__(timeout=1, allowed_protocols=("data",), allow_redirects=False, **kwargs)
        self._origins = {origin for origin in origins if origin}

    def fetch(self, url, headers=None):
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return super().fetch(url, headers)  # urllib decodes it; no I/O
        path = self._static_path(url, scheme)
        if path is None:
            raise ResourceRefused(f"Not a static file of this project: {url[:200]}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), {"Content-Type": content_type})

    def _static_path(self, url: str, scheme: str) -> Path | None:
        if scheme == "static":
            return _find_static(url[len(STATIC_SCHEME) :])
        if scheme in ("http", "https"):
            parts = urlsplit(url)
            prefix = "/" + settings.STATIC_URL.strip("/") + "/"
            if _origin(url) in self._origins and parts.path.startswith(prefix):
                return _find_static(parts.path[len(prefix) :])
            return None
        if scheme == "file":
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                return None
            return _static_file_at(Path(url2pathname(parts.path)))
        return None


def _origin(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def _find_static(relative: str) -> Path | None:
    """A file found by the staticfiles finders (or in STATIC_ROOT); None for a path
    that leaves the static tree."""
    relative = unquote(relative).lstrip("/")
    normalized = posixpath.normpath(relative)
    if not relative or normalized.startswith("..") or normalized != relative.rstrip("/") or "\\" in relative:
        return None
    try:
        found = finders.find(normalized)
    except SuspiciousFileOperation:
        return None
    if found:
        return _static_file_at(Path(found))
    if settings.STATIC_ROOT:
        return _static_file_at(Path(settings.STATIC_ROOT) / normalized)
    return None


def _static_roots() -> list[Path]:
    roots = [Path(settings.STATIC_ROOT)] if settings.STATIC_ROOT else []
    for entry in settings.STATICFILES_DIRS:
        roots.append(Path(entry[1] if isinstance(entry, (tuple, list)) else entry))
    for finder in finders.get_finders():
        # App directories (e.g. the admin's static files) the finders search too.
        for storage in getattr(finder, "storages", {}).values():
            location = getattr(storage, "location", None)
            if location:
                roots.append(Path(location))
    return roots


def _static_file_at(path: Path) -> Path | None:
    """`path` if it is an existing file inside a static root (symlinks resolved)."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_file():
        return None
    for root in _static_roots():
        try:
            if resolved.is_relative_to(root.resolve()):
                return resolved
        except OSError:
            continue
    return None

