"""PDF rendering: HTML in, bytes out. No database, no broker, no network.

Documents contain text typed by customers (company names, addresses), so the HTML
comes from Django templates with autoescaping, and WeasyPrint gets a URL fetcher that
serves only the project's own static files and data: URIs. Anything else (http(s),
file: outside static, path traversal) is refused: WeasyPrint logs a warning and
renders the document without that resource.

Fonts come from the system (Debian's fonts-noto-cjk: "Noto Sans CJK SC", with real
bold). WeasyPrint embeds only the glyphs used (HarfBuzz subsetter,
libharfbuzz-subset0) but keeps their glyph ids, and Noto CJK's Chinese glyphs sit up
to id ~65000: each face would still weigh ~140 KB (compressed) of empty glyph slots
in an OpenType wrapper (FontFile3 /OpenType), ~300 KB for a one-page invoice.

So `compact_cff_fonts` (a WeasyPrint finisher) rewrites each such font program as a
bare CID-keyed CFF (FontFile3 /CIDFontType0C) holding only the used glyphs, each under
its CID (= the old glyph id = the code in the content stream, the /W key and the
ToUnicode key, none of which change): ~5-15 KB a face, ~30-60 KB a document.

Why bare CFF and not a renumbered OpenType font: readers built on FreeType (pdfium,
i.e. Chrome; poppler) look a CIDFontType0 glyph up by passing the CID as glyph index.
FreeType maps that index through the CFF charset (CID -> glyph) only for a bare CFF;
in an OpenType wrapper it is taken as the glyph id itself, so a renumbered OpenType
subset draws the wrong glyphs in Chrome (measured: garbage text). With a bare CFF the
CID lookup is what the PDF spec prescribes, and pdfium, poppler and pypdf agree.

Speed (docs/performance.md): HarfBuzz's subsetter spends most of its ~20-60 ms a face
desubroutinizing outlines, and WeasyPrint runs it twice a face. During render_pdf,
WeasyPrint's subsetting of a CID-keyed CFF face is replaced by `FaceGlyphs`: each
glyph's outline is made by HarfBuzz once per process (the first document that uses the
glyph) and kept, so a document costs HarfBuzz only its glyphs no earlier one used, and
the compact font is put together from the kept outlines.
"""

import contextvars
import logging
import mimetypes
import posixpath
import struct
import threading
from bisect import bisect_right
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string
from pydyf import Stream
from weasyprint import CSS, HTML
from weasyprint.pdf import fonts as weasyprint_fonts
from weasyprint.text.ffi import ffi, harfbuzz, harfbuzz_subset
from weasyprint.text.fonts import FontConfiguration, get_hb_object_data
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_SCHEME = "static:"

logger = logging.getLogger(__name__)


class ResourceRefused(ValueError):
    """A document referenced a resource outside the project's static files."""


# The stylesheets of the shop's documents (static files), applied by render_template_pdf.
DOCUMENT_STYLESHEETS = ("css/documents.css",)


def render_pdf(html: str, *, base_url: str | None = None, stylesheets=()) -> bytes:
    """The PDF of `html`. Relative and `/static/...` URLs resolve against `base_url`
    (default settings.SITE_URL, so links in the PDF point to the shop); static files
    are read from disk, never over the network. `stylesheets` are static paths of
    stylesheets applied too, each parsed once per process (again when the file changes)."""
    base_url = base_url or settings.SITE_URL
    fetcher = StaticOnlyURLFetcher(origins={_origin(base_url), _origin(settings.SITE_URL)})
    font_config = _font_config()
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
        font_config=font_config, stylesheets=[_stylesheet(path, font_config) for path in stylesheets]
    )
    finisher = compact_cff_fonts
    if finisher is None:  # WeasyPrint's own fonts (the tests compare with them)
        return document.write_pdf()
    token = _compact_programs.set({})
    try:
        return document.write_pdf(finisher=finisher)
    finally:
        _compact_programs.reset(token)


def render_template_pdf(
    template_name: str, context: dict, *, base_url: str | None = None, stylesheets=DOCUMENT_STYLESHEETS
) -> bytes:
    """Renders a Django template (autoescaped: user text stays text) to a PDF."""
    return render_pdf(render_to_string(template_name, context), base_url=base_url, stylesheets=stylesheets)


# What every document reuses, per thread (Pango's font map is not meant to be shared by
# threads): WeasyPrint's font configuration, whose font map keeps the fonts it opened
# (a new one per document reopened and re-measured them: ~15% of a render), and the
# parsed stylesheets (~7%), keyed by file and modification time.
_reused = threading.local()


def _font_config() -> FontConfiguration:
    if getattr(_reused, "font_config", None) is None:
        _reused.font_config = FontConfiguration()
        _reused.stylesheets = {}
    return _reused.font_config


def _stylesheet(path: str, font_config: FontConfiguration) -> CSS:
    found = _find_static(path)
    if found is None:
        raise ResourceRefused(f"Not a static file of this project: {path}")
    stat = found.stat()
    key = (str(found), stat.st_mtime_ns, stat.st_size)
    sheet = _reused.stylesheets.get(key)
    if sheet is None:
        fetcher = StaticOnlyURLFetcher(origins={_origin(settings.SITE_URL)})
        sheet = CSS(filename=str(found), url_fetcher=fetcher, font_config=font_config)
        _reused.stylesheets = {key: sheet for key, sheet in _reused.stylesheets.items() if key[0] != str(found)}
        _reused.stylesheets[key] = sheet
    return sheet


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


# --- Compact CJK fonts -----------------------------------------------------------------
# A CFF font program (Adobe TN #5176) is a header, then INDEXes (counted lists of byte
# strings) for names, the Top DICT, strings and global subroutines, then the structures
# the Top DICT points at by absolute offset: charset (glyph -> CID), FDSelect (glyph ->
# Font DICT), CharStrings (glyph outlines) and FDArray (Font DICTs, each pointing at its
# Private DICT). Only the used glyphs' outlines are copied; the DICTs are copied token
# by token with their offsets rewritten.


def compact_cff_fonts(document, pdf) -> None:
    """WeasyPrint finisher: every subset CID-keyed OpenType/CFF font program in `pdf`
    becomes a bare CFF (/CIDFontType0C) holding only the glyphs the document uses, each
    under its CID. Fonts it cannot handle are left as WeasyPrint made them."""
    made = _compact_programs.get() or {}  # id(font program) -> its compact CFF (FaceGlyphs)
    fonts_by_file = defaultdict(list)
    for font in document.fonts.values():
        fonts_by_file[font.hash].append(font)
    glyphs_by_program = {}
    for fonts in fonts_by_file.values():
        if any(font.used_in_forms for font in fonts):
            continue  # embedded whole, not subset
        glyphs = set()
        for font in fonts:
            glyphs.update(font.widths)
            glyphs.update(font.to_unicode)
        # WeasyPrint embeds the first font's (subset) program for all fonts of a file.
        glyphs_by_program[id(fonts[0].file_content)] = glyphs
    for obj in pdf.objects:
        if not (isinstance(obj, Stream) and obj.extra.get("Subtype") == "/OpenType" and len(obj.stream) == 1):
            continue
        program = made.get(id(obj.stream[0]))
        if program is None:
            glyphs = glyphs_by_program.get(id(obj.stream[0]))
            if not glyphs:
                continue
            try:
                program = cid_cff_subset(obj.stream[0], glyphs)
            except CFF_ERRORS as error:
                logger.warning("Font program kept as OpenType (larger PDF): %s", error)
                continue
        obj.stream = [program]
        obj.extra["Subtype"] = "/CIDFontType0C"


class CFFNotHandled(ValueError):
    """A font program this module does not rewrite (left as it is)."""


CFF_ERRORS = (CFFNotHandled, struct.error, IndexError, KeyError, ValueError)
CHARSET, ENCODING, CHARSTRINGS, PRIVATE, SUBRS = 15, 16, 17, 18, 19
CHARSTRING_TYPE, ROS, FDARRAY, FDSELECT, FONTNAME = (12, 6), (12, 30), (12, 36), (12, 37), (12, 38)
STANDARD_STRINGS = 391  # SIDs below this name CFF's standard strings; the String INDEX holds the rest


def cid_cff_subset(otf: bytes, cids) -> bytes:
    """A bare CID-keyed CFF with only the glyphs `cids` of `otf`, an OpenType font with
    a CID-keyed CFF whose glyph ids are the CIDs the PDF uses (as in HarfBuzz's
    retain-gids subset). The result's glyph n has CID cids[n] (sorted, .notdef first)."""
    cff = _CIDFont(_sfnt_table(otf, b"CFF "))
    cids = sorted({0, *(cid for cid in cids if 0 <= cid < cff.charstrings.count)})
    old_fds = [cff.fd_of(cid) for cid in cids]
    used_fds = sorted(set(old_fds))
    if used_fds[-1] >= cff.fdarray.count:
        raise CFFNotHandled("FDSelect out of range")
    fd_number = {old: new for new, old in enumerate(used_fds)}
    font_dicts = [_dict_tokens(cff.fdarray.item(fd)) for fd in used_fds]
    privates = [cff.private(tokens) for tokens in font_dicts]
    return _cff_bytes(
        names=cff.names.raw(),
        top=cff.top,
        strings=cff.strings.raw(),
        global_subrs=cff.global_subrs.raw(),
        cids=cids,
        charstrings=[cff.charstrings.item(cid) for cid in cids],
        fds=[fd_number[fd] for fd in old_fds],
        font_dicts=font_dicts,
        privates=privates,
    )


class _CIDFont:
    """The parts of a CID-keyed CFF (version 1, one font, Type 2 charstrings) this module
    reads; anything else is CFFNotHandled."""

    def __init__(self, cff: bytes):
        if cff[0] != 1:
            raise CFFNotHandled("not CFF version 1")
        self.cff = cff
        self.names = _Index(cff, cff[2])
        tops = _Index(cff, self.names.end)
        self.strings = _Index(cff, tops.end)
        self.global_subrs = _Index(cff, self.strings.end)
        if tops.count != 1:
            raise CFFNotHandled("not a single font")
        self.top = _dict_tokens(tops.item(0))
        operands = {operator: values for operator, _, values in self.top}
        if ROS not in operands or FDARRAY not in operands or FDSELECT not in operands:
            raise CFFNotHandled("not CID-keyed")
        if operands.get(CHARSTRING_TYPE, [2]) != [2] or operands.get(ENCODING, [0]) != [0]:
            raise CFFNotHandled("unexpected Top DICT")
        self.charstrings = _Index(cff, operands[CHARSTRINGS][0])
        self.fd_of = _fd_select(cff, operands[FDSELECT][0], self.charstrings.count)
        self.fdarray = _Index(cff, operands[FDARRAY][0])

    def private(self, font_dict: list[tuple]) -> bytes:
        """The Private DICT a Font DICT points at. HarfBuzz desubroutinizes, so there are
        no local subroutines to carry (a font with them is left alone)."""
        size, offset = next((values for operator, _, values in font_dict if operator == PRIVATE), (None, None))
        if offset is None:
            raise CFFNotHandled("Font DICT without Private DICT")
        private = self.cff[offset : offset + size]
        if len(private) != size or any(operator == SUBRS for operator, _, _ in _dict_tokens(private)):
            raise CFFNotHandled("local subroutines")
        return private

    def string(self, sid: int) -> bytes | None:
        """A custom string by SID; None for a standard one (the same SID in every CFF)."""
        return None if sid < STANDARD_STRINGS else self.strings.item(sid - STANDARD_STRINGS)


def _cff_bytes(*, names, top, strings, global_subrs, cids, charstrings, fds, font_dicts, privates) -> bytes:
    """A CID-keyed CFF: glyph n has CID cids[n], outline charstrings[n] and Font DICT
    fds[n] (of `font_dicts`, whose Private DICTs are `privates`, equal ones written once).
    `names`, `strings` and `global_subrs` are INDEXes as bytes; `top` and `font_dicts`
    DICT tokens, their offsets rewritten here."""
    header = bytes((1, 0, 4, 4))
    charset = b"\x00" + b"".join(struct.pack(">H", cid) for cid in cids[1:])  # format 0
    fdselect = b"\x00" + bytes(fds)  # format 0
    charstrings_index = _index_bytes(charstrings)
    distinct = list(dict.fromkeys(privates))
    private_of = [distinct.index(private) for private in privates]
    # Offsets are written as 5-byte integers, so the layout is known before they are.
    top_length = len(_dict_bytes(top, dict.fromkeys((CHARSET, CHARSTRINGS, FDSELECT, FDARRAY), [0])))
    at_charset = len(header) + len(names) + len(_index_bytes([bytes(top_length)])) + len(strings) + len(global_subrs)
    at_fdselect = at_charset + len(charset)
    at_charstrings = at_fdselect + len(fdselect)
    at_fdarray = at_charstrings + len(charstrings_index)
    font_dict_lengths = [len(_dict_bytes(tokens, {PRIVATE: [0, 0]})) for tokens in font_dicts]
    at_private = [at_fdarray + len(_index_bytes([bytes(n) for n in font_dict_lengths]))]
    for private in distinct:
        at_private.append(at_private[-1] + len(private))

    top_dict = _dict_bytes(
        top, {CHARSET: [at_charset], CHARSTRINGS: [at_charstrings], FDSELECT: [at_fdselect], FDARRAY: [at_fdarray]}
    )
    fdarray_index = _index_bytes(
        [
            _dict_bytes(tokens, {PRIVATE: [len(distinct[n]), at_private[n]]})
            for tokens, n in zip(font_dicts, private_of, strict=True)
        ]
    )
    program = b"".join(
        [header, names, _index_bytes([top_dict]), strings, global_subrs]
        + [charset, fdselect, charstrings_index, fdarray_index, *distinct]
    )
    if len(program) != at_private[-1]:
        raise CFFNotHandled("layout mismatch")
    return program


def _sfnt_table(otf: bytes, tag: bytes) -> bytes:
    if otf[:4] != b"OTTO":
        raise CFFNotHandled("not an OpenType font with CFF outlines")
    (table_count,) = struct.unpack_from(">H", otf, 4)
    for number in range(table_count):
        entry_tag, _, offset, length = struct.unpack_from(">4sLLL", otf, 12 + 16 * number)
        if entry_tag == tag:
            return otf[offset : offset + length]
    raise CFFNotHandled(f"no {tag!r} table")


class _Index:
    """The CFF INDEX at `position` of `data`; reads only the offsets of the items asked
    for (a retain-gids CharStrings INDEX has ~65000 of them)."""

    def __init__(self, data: bytes, position: int):
        self.data, self.position = data, position
        (self.count,) = struct.unpack_from(">H", data, position)
        if self.count == 0:
            self.end = position + 2
            return
        self.offset_size = data[position + 2]
        if not 1 <= self.offset_size <= 4:
            raise CFFNotHandled("bad INDEX offset size")
        self.base = position + 2 + (self.count + 1) * self.offset_size
        self.end = self.base + self._offset(self.count)
        if self.end > len(data):
            raise CFFNotHandled("INDEX past the end")

    def _offset(self, number: int) -> int:
        start = self.position + 3 + number * self.offset_size
        return int.from_bytes(self.data[start : start + self.offset_size], "big")

    def item(self, number: int) -> bytes:
        return self.data[self.base + self._offset(number) : self.base + self._offset(number + 1)]

    def raw(self) -> bytes:
        return self.data[self.position : self.end]


def _index_bytes(items: list[bytes]) -> bytes:
    if not items:
        return b"\x00\x00"
    offsets = [1]
    for item in items:
        offsets.append(offsets[-1] + len(item))
    size = next(size for size in (1, 2, 3, 4) if offsets[-1] < 1 << (8 * size))
    return b"".join([struct.pack(">HB", len(items), size), *(o.to_bytes(size, "big") for o in offsets), *items])


def _dict_tokens(data: bytes) -> list[tuple]:
    """A CFF DICT as [(operator, operand bytes, integer operands)]; an operator is an
    int or (12, n); a real operand counts as None."""
    tokens, operands, start, position = [], [], 0, 0
    while position < len(data):
        byte = data[position]
        if byte <= 21:
            size = 2 if byte == 12 else 1
            operator = (12, data[position + 1]) if byte == 12 else byte
            tokens.append((operator, data[start:position], operands))
            position += size
            start, operands = position, []
        elif byte == 28:
            operands.append(struct.unpack_from(">h", data, position + 1)[0])
            position += 3
        elif byte == 29:
            operands.append(struct.unpack_from(">l", data, position + 1)[0])
            position += 5
        elif byte == 30:  # real number: nibbles up to an 0xf nibble
            position += 1
            while data[position] >> 4 != 0xF and data[position] & 0xF != 0xF:
                position += 1
            position += 1
            operands.append(None)
        elif 32 <= byte <= 246:
            operands.append(byte - 139)
            position += 1
        elif 247 <= byte <= 250:
            operands.append((byte - 247) * 256 + data[position + 1] + 108)
            position += 2
        elif 251 <= byte <= 254:
            operands.append(-(byte - 251) * 256 - data[position + 1] - 108)
            position += 2
        else:
            raise CFFNotHandled("bad DICT data")
    if start != len(data):
        raise CFFNotHandled("DICT ends with operands")
    return tokens


def _dict_bytes(tokens: list[tuple], replace: dict) -> bytes:
    """The DICT `tokens` with the operands of the operators in `replace` rewritten as
    5-byte integers (so their size does not depend on their value)."""
    out = []
    for operator, operand_bytes, _ in tokens:
        if operator in replace:
            operand_bytes = b"".join(struct.pack(">Bl", 29, value) for value in replace[operator])
        out.append(operand_bytes + (bytes(operator) if isinstance(operator, tuple) else bytes((operator,))))
    return b"".join(out)


def _fd_select(cff: bytes, position: int, glyph_count: int):
    """glyph id -> Font DICT number, from the FDSelect at `position`."""
    if cff[position] == 0:
        table = cff[position + 1 : position + 1 + glyph_count]
        return table.__getitem__
    if cff[position] == 3:
        (range_count,) = struct.unpack_from(">H", cff, position + 1)
        ranges = [struct.unpack_from(">HB", cff, position + 3 + 3 * n) for n in range(range_count)]
        firsts = [first for first, _ in ranges]
        return lambda glyph: ranges[bisect_right(firsts, glyph) - 1][1]
    raise CFFNotHandled("FDSelect format")


# --- Each glyph's outline made once per process --------------------------------------


class FaceGlyphs:
    """The outlines of one CID-keyed CFF face, by glyph id, as HarfBuzz's subsetter makes
    them (desubroutinized, without hints), learnt as documents use the glyphs.

    A document's font is put together from them (`program`); HarfBuzz subsets the face
    only for glyphs no earlier document of this process used. Font DICTs are kept by
    content with their FontName as a string, since the SIDs and Font DICT numbers of
    two HarfBuzz subsets of the same face may differ."""

    MAX_GLYPHS = 20_000  # ~10 MB of outlines at most; past it the face is learnt afresh

    def __init__(self):
        self.lock = threading.Lock()
        self.outlines: dict[int, tuple[bytes, int] | None] = {}  # gid -> (charstring, font dict number)
        self.font_dicts: list[tuple[bytes | None, list[tuple], bytes]] = []  # (FontName, tokens, Private DICT)
        self.skeleton: tuple | None = None  # (Name INDEX, Top DICT tokens, strings) of the first subset

    def program(self, font, glyphs) -> bytes:
        """The bare CFF of `glyphs` (WeasyPrint's glyph ids = the CIDs the PDF shows)."""
        wanted = sorted({0, *glyphs})
        with self.lock:
            if len(self.outlines) > self.MAX_GLYPHS:
                self.outlines.clear()
                self.font_dicts.clear()
                self.skeleton = None
            missing = [gid for gid in wanted if gid not in self.outlines]
            if missing:
                self._learn(font, missing)
            cids = [gid for gid in wanted if self.outlines[gid] is not None]  # beyond the face: dropped
            return self._assemble(cids)

    def _learn(self, font, gids: list[int]) -> None:
        cff = _CIDFont(_sfnt_table(_harfbuzz_subset(font, gids), b"CFF "))
        if cff.global_subrs.count:
            raise CFFNotHandled("global subroutines")
        if self.skeleton is None:
            strings = [cff.strings.item(n) for n in range(cff.strings.count)]
            self.skeleton = (cff.names.raw(), cff.top, strings)
        numbers = {}
        for fd in sorted({cff.fd_of(gid) for gid in gids if gid < cff.charstrings.count}):
            if fd >= cff.fdarray.count:
                raise CFFNotHandled("FDSelect out of range")
            tokens = _dict_tokens(cff.fdarray.item(fd))
            names = [values[0] for operator, _, values in tokens if operator == FONTNAME]
            entry = (cff.string(names[0]) if names else None, tokens, cff.private(tokens))
            key = (entry[0], _dict_bytes(tokens, {PRIVATE: [0, 0], FONTNAME: [0]}), entry[2])
            known = next(
                (n for n, (name, old, private) in enumerate(self.font_dicts)
                 if (name, _dict_bytes(old, {PRIVATE: [0, 0], FONTNAME: [0]}), private) == key),
                None,
            )
            if known is None:
                known = len(self.font_dicts)
                self.font_dicts.append(entry)
            numbers[fd] = known
        for gid in gids:
            if gid < cff.charstrings.count:
                self.outlines[gid] = (cff.charstrings.item(gid), numbers[cff.fd_of(gid)])
            else:
                self.outlines[gid] = None

    def _assemble(self, cids: list[int]) -> bytes:
        names, top, strings = self.skeleton
        strings = list(strings)
        used = sorted({self.outlines[cid][1] for cid in cids})
        number = {old: new for new, old in enumerate(used)}
        font_dicts, privates = [], []
        for fd in used:
            name, tokens, private = self.font_dicts[fd]
            if name is not None:
                if name not in strings:
                    strings.append(name)
                sid = STANDARD_STRINGS + strings.index(name)
                tokens = [
                    (operator, struct.pack(">Bl", 29, sid), [sid]) if operator == FONTNAME else (operator, raw, values)
                    for operator, raw, values in tokens
                ]
            font_dicts.append(tokens)
            privates.append(private)
        return _cff_bytes(
            names=names,
            top=top,
            strings=_index_bytes(strings),
            global_subrs=_index_bytes([]),
            cids=cids,
            charstrings=[self.outlines[cid][0] for cid in cids],
            fds=[number[self.outlines[cid][1]] for cid in cids],
            font_dicts=font_dicts,
            privates=privates,
        )


_faces: dict[tuple, FaceGlyphs] = {}
_faces_lock = threading.Lock()


def face_glyphs(font) -> FaceGlyphs:
    """The FaceGlyphs of a WeasyPrint font's face (its file's size and start, face index)."""
    data = font.file_content
    key = (len(data), hash(data[:65536]), font.index, font.glyph_count)
    with _faces_lock:
        return _faces.setdefault(key, FaceGlyphs())


# The subsetter's flags WeasyPrint's second pass ends with (no hints, the default), with
# the glyph ids kept; every table but the outlines is dropped, since only they are read.
SUBSET_FLAGS = ("RETAIN_GIDS", "DESUBROUTINIZE", "NO_HINTING")


def _harfbuzz_subset(font, gids: list[int]) -> bytes:
    """An OpenType font holding only the CFF table of `font`'s face, with the outlines of
    `gids` (under their glyph ids) and every other glyph empty."""
    subset_input = ffi.gc(harfbuzz_subset.hb_subset_input_create_or_fail(), harfbuzz_subset.hb_subset_input_destroy)
    if subset_input == ffi.NULL:
        raise CFFNotHandled("HarfBuzz could not start a subset")
    glyph_set = harfbuzz_subset.hb_subset_input_glyph_set(subset_input)
    harfbuzz.hb_set_add_sorted_array(glyph_set, ffi.new("hb_codepoint_t[]", gids), len(gids))
    flags = 0
    for name in SUBSET_FLAGS:
        flags |= getattr(harfbuzz_subset, f"HB_SUBSET_FLAGS_{name}")
    harfbuzz_subset.hb_subset_input_set_flags(subset_input, flags)
    dropped = sorted(harfbuzz.hb_tag_from_string(tag.encode(), -1) for tag in font.tables if tag != "CFF ")
    drop_set = harfbuzz_subset.hb_subset_input_set(subset_input, harfbuzz_subset.HB_SUBSET_SETS_DROP_TABLE_TAG)
    harfbuzz.hb_set_add_sorted_array(drop_set, ffi.new("hb_codepoint_t[]", dropped), len(dropped))
    face = harfbuzz_subset.hb_subset_or_fail(font.hb_face, subset_input)
    if face == ffi.NULL:
        raise CFFNotHandled("HarfBuzz could not subset the face")
    face = ffi.gc(face, harfbuzz.hb_face_destroy)
    return get_hb_object_data(face)


def _sfnt_with_cff(cff: bytes) -> bytes:
    """A one-table OpenType font around `cff`: what WeasyPrint embeds (/OpenType) until
    compact_cff_fonts puts the bare CFF in its place."""
    padded = cff + bytes(-len(cff) % 4)
    checksum = sum(struct.unpack(f">{len(padded) // 4}L", padded)) & 0xFFFFFFFF
    return struct.pack(">4sHHHH", b"OTTO", 1, 16, 0, 0) + struct.pack(">4sLLL", b"CFF ", checksum, 28, len(cff)) + padded


# Programs made by FaceGlyphs during the current render_pdf: id(font program) -> bare CFF.
_compact_programs: contextvars.ContextVar[dict | None] = contextvars.ContextVar("compact_programs", default=None)
_weasyprint_subset = weasyprint_fonts.Font.subset


def _subset(font, to_unicode, hinting):
    """WeasyPrint's Font.subset, except during render_pdf for a CID-keyed CFF face without
    missing glyphs: then the face's FaceGlyphs makes the compact program at once."""
    made = _compact_programs.get()
    if made is None or not to_unicode or hinting or font.missing or "CFF " not in font.tables:
        return _weasyprint_subset(font, to_unicode, hinting)
    try:
        program = face_glyphs(font).program(font, to_unicode)
    except CFF_ERRORS as error:
        logger.info("Font %s subset by WeasyPrint: %s", font.family, error)
        return _weasyprint_subset(font, to_unicode, hinting)
    font.file_content = _sfnt_with_cff(program)
    made[id(font.file_content)] = program


# WeasyPrint (pinned in requirements.txt) has no hook for its subsetter: its Font.subset is
# replaced, and behaves as before outside render_pdf (the context variable is unset).
# test_pdf.TestReuse fails if an upgrade stops this path from being taken.
weasyprint_fonts.Font.subset = _subset
