"""Text hygiene shared by every reader: decoding bytes, Unicode/whitespace normalisation, junk detection.

Readers of line-based sources (Markdown, reStructuredText, plain text, code) keep the line structure of
the file intact — normalisation never adds or removes a line — so a cited line span opens the right place
in an editor. Readers of extracted text (HTML, PDF) additionally collapse runs of blank lines and, for
PDF, join words hyphenated across line breaks.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# Characters removed outright: C0/C1 controls except tab and newline, zero-width marks, soft hyphen,
# and a byte-order mark left in the middle of the text (e.g. by concatenated files).
_DROP = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2060\ufeff]")
# Exotic spaces become a plain space so tokenisers and sentence splitting see ordinary whitespace.
_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_LINE_SEPARATORS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n){2,}")
# A word broken across a line break by a hyphen, continued in lower case: "retrie-\nval" -> "retrieval".
_HYPHENATED = re.compile(r"(\w)-\n[ \t]*([a-z])")
_HTML_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


def normalize_text(text: str) -> str:
    """NFC, ``\\n`` line endings, no control characters, plain spaces, no trailing blanks on a line.

    The number of lines never changes (``\\f``/``\\v`` become spaces, ``\\r\\n`` one newline).
    """
    text = _LINE_SEPARATORS.sub("\n", text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
        text = _SPACES.sub(" ", text)
    text = text.replace("\f", " ").replace("\v", " ")
    text = _DROP.sub("", text)
    return _TRAILING_SPACE.sub("", text)


def collapse_blank_lines(text: str) -> str:
    """At most one blank line in a row, and no blank lines at the start or end."""
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def dehyphenate(text: str) -> str:
    """Join words that a PDF layout hyphenated at a line break."""
    return _HYPHENATED.sub(r"\1\2", text)


def looks_binary(data: bytes) -> bool:
    """True for data that is not text in any encoding we decode (NUL bytes or many control bytes)."""
    sample = data[:8192]
    if not sample:
        return False
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls / len(sample) > 0.05


def decode(data: bytes, *, encoding: str | None = None, html: bool = False) -> str:
    """Bytes to text: BOM, then the given encoding, then an HTML ``<meta charset>``, then UTF-8, then
    charset detection (``charset_normalizer`` when installed), finally cp1252 — which never fails, so a
    mislabelled file still yields readable text instead of an error."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    candidates: list[str] = []
    if encoding:
        candidates.append(encoding)
    if html:
        match = _HTML_META_CHARSET.search(data[:4096])
        if match:
            candidates.append(match.group(1).decode("ascii"))
    candidates.append("utf-8")
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: detection improves non-UTF-8 legacy files but is not required
        pass
    else:
        best = from_bytes(data[:200_000]).best()
        if best is not None and best.encoding:
            try:
                return data.decode(best.encoding)
            except (LookupError, UnicodeDecodeError):
                pass
    return data.decode("cp1252", errors="replace")
