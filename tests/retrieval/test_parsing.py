"""Readers: titles, heading paths, exact spans and cleaning for every supported format."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from mcp_suite.servers.retrieval.chunking import chunk_document
from mcp_suite.servers.retrieval.cleaning import collapse_blank_lines, decode, dehyphenate, normalize_text
from mcp_suite.servers.retrieval.documents import ParsedDocument
from mcp_suite.servers.retrieval.readers import (
    MAX_DOCUMENT_BYTES,
    DocumentTooLargeError,
    UnsupportedFormatError,
    detect_type,
    parse_bytes,
    parse_file,
    parse_text,
    type_for_content_type,
)
from mcp_suite.shared.errors import InvalidInputError

FIXTURES = Path(__file__).parent / "fixtures"


def build_pdf(pages: list[list[str]], *, title: str | None = None) -> bytes:
    """A minimal valid PDF (Helvetica, one text line per entry) with an optional /Title.

    ``fixtures/release-notes.pdf`` was written with this function.
    """
    objects: list[bytes] = []
    page_ids = []
    for index, lines in enumerate(pages):
        escaped = [line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines]
        body = "BT /F1 11 Tf 14 TL 72 760 Td " + " ".join(f"({line}) Tj T*" for line in escaped) + " ET"
        stream = body.encode("latin-1")
        content_id = 4 + 2 * index
        page_ids.append(content_id + 1)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % content_id
        )
    kids = " ".join(f"{pid} 0 R" for pid in page_ids).encode()
    all_objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        *objects,
    ]
    info_id = None
    if title is not None:
        all_objects.append(b"<< /Title (%s) /Author (Marlow Labs) >>" % title.encode("latin-1"))
        info_id = len(all_objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(all_objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(all_objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root 1 0 R" % (len(all_objects) + 1)
    if info_id:
        trailer += b" /Info %d 0 R" % info_id
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def assert_spans_exact(doc: ParsedDocument) -> None:
    lines = doc.text.split("\n")
    for block in doc.blocks:
        assert doc.text[block.start_char : block.end_char] == block.text
        assert block.text == block.text.strip() or block.kind == "code"
        assert 1 <= block.start_line <= block.end_line <= len(lines)
        # The line span is where the block's characters are.
        assert doc.text.count("\n", 0, block.start_char) + 1 == block.start_line
        assert doc.text.count("\n", 0, block.end_char) + 1 == block.end_line
    starts = [b.start_char for b in doc.blocks]
    assert starts == sorted(starts)


def outline(doc: ParsedDocument) -> list[tuple[str, tuple[str, ...]]]:
    return [(b.kind, b.heading_path) for b in doc.blocks]


# --------------------------------------------------------------------------------------------------
# Type detection


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/guide.md", "markdown"),
        ("notes.MARKDOWN", "markdown"),
        ("index.rst", "rst"),
        ("faq.txt", "text"),
        ("README", "text"),
        ("LICENSE.txt", "text"),
        ("page.htm", "html"),
        ("tool.py", "code"),
        ("main.rs", "code"),
        ("config.yaml", "code"),
        ("Makefile", "code"),
        ("paper.pdf", "pdf"),
        ("photo.png", None),
        ("archive.tar.gz", None),
    ],
)
def test_detect_type_by_name(name: str, expected: str | None) -> None:
    assert detect_type(Path(name)) == expected


def test_detect_type_sniffs_content() -> None:
    assert detect_type(Path("download"), b"<!DOCTYPE html><html><p>x</p></html>") == "html"
    assert detect_type(Path("download"), b"%PDF-1.7\n...") == "pdf"
    assert detect_type(Path("notes.txt"), b"%PDF-1.4\n") == "pdf"  # the signature wins
    assert detect_type(Path("run"), b"#!/bin/sh\necho hi\n") == "code"
    assert detect_type(Path("notes"), b"just some words\n") == "text"
    assert detect_type(Path("notes.txt"), b"\x00\x01\x02binary") is None
    assert detect_type(Path("fake.pdf"), b"hello") is None
    assert detect_type(Path("blob"), (FIXTURES / "junk.bin").read_bytes()) is None


def test_type_for_content_type() -> None:
    assert type_for_content_type("text/html; charset=utf-8") == "html"
    assert type_for_content_type("application/pdf") == "pdf"
    assert type_for_content_type("text/markdown") == "markdown"
    assert type_for_content_type("image/png") is None
    assert type_for_content_type(None) is None


# --------------------------------------------------------------------------------------------------
# Markdown


def test_markdown_fixture_structure() -> None:
    doc = parse_file(FIXTURES / "getting-started.md")
    assert doc.doc_type == "markdown"
    assert doc.title == "Getting started with Quillstream"  # front matter wins over the H1
    assert doc.metadata == {
        "title": "Getting started with Quillstream",
        "tags": "install, setup",
        "audience": "administrators",
    }
    assert_spans_exact(doc)
    # Front matter stays in the text (line numbers match the file) but is no block.
    assert doc.text.startswith("---\ntitle:")
    assert doc.blocks[0].text == "# Installing Quillstream"
    assert doc.blocks[0].start_line == 7
    paths = {b.heading_path for b in doc.blocks}
    assert ("Installing Quillstream", "Installation", "Linux") in paths
    assert ("Installing Quillstream", "Installation", "macOS") in paths
    assert ("Installing Quillstream", "Setext sections work too") in paths
    code = [b for b in doc.blocks if b.kind == "code"]
    assert len(code) == 1
    assert code[0].text.startswith("```bash\n") and code[0].text.endswith("```")
    assert code[0].heading_path == ("Installing Quillstream", "Installation", "Linux")
    assert (code[0].start_line, code[0].end_line) == (23, 26)
    # Line numbers match the file on disk.
    file_lines = (FIXTURES / "getting-started.md").read_text(encoding="utf-8").split("\n")
    assert file_lines[code[0].start_line - 1] == "```bash"


def test_markdown_constructs() -> None:
    text = (
        "Intro without heading.\n\n"
        "# Top *level* `title` #\n\n"
        "Text with [a link](https://example.com) here.\n\n"
        "## Lists\n\n"
        "- one\n- two\n  continued\n\n  more of two\n- three\n\n"
        "1. first\n2. second\n\n"
        "~~~\n# not a heading\n\ncode\n~~~\n\n"
        "    indented code\n\n"
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "***\n\n"
        "Second level\n------------\n\n"
        "> quoted text\n"
    )
    doc = parse_text(text, name="x.md")
    assert_spans_exact(doc)
    assert doc.title == "Top level title"
    assert outline(doc) == [
        ("paragraph", ()),
        ("heading", ("Top level title",)),
        ("paragraph", ("Top level title",)),
        ("heading", ("Top level title", "Lists")),
        ("list", ("Top level title", "Lists")),
        ("list", ("Top level title", "Lists")),
        ("code", ("Top level title", "Lists")),
        ("code", ("Top level title", "Lists")),
        ("table", ("Top level title", "Lists")),
        ("heading", ("Top level title", "Second level")),
        ("paragraph", ("Top level title", "Second level")),
    ]
    assert doc.blocks[4].text == "- one\n- two\n  continued\n\n  more of two\n- three"
    assert doc.blocks[6].text == "~~~\n# not a heading\n\ncode\n~~~"
    assert doc.blocks[1].level == 1 and doc.blocks[9].level == 2


def test_markdown_unclosed_fence_runs_to_end() -> None:
    doc = parse_text("# T\n\n```\ncode line\n\n# still code\n", name="x.md")
    assert outline(doc)[-1] == ("code", ("T",))
    assert doc.blocks[-1].text.endswith("# still code")


def test_markdown_title_falls_back_to_stem() -> None:
    doc = parse_text("just a paragraph\n", name="docs/notes-2024.md")
    assert doc.title == "notes-2024"
    assert parse_text("", name="empty.md").blocks == ()


def test_markdown_invalid_front_matter_is_text() -> None:
    doc = parse_text("---\n: [unbalanced\n---\n\nBody.\n", name="x.md")
    assert doc.metadata == {}
    assert doc.blocks[-1].text == "Body."


# --------------------------------------------------------------------------------------------------
# reStructuredText


def test_rst_fixture_structure() -> None:
    doc = parse_file(FIXTURES / "sync" / "encryption.rst")
    assert doc.doc_type == "rst"
    assert doc.title == "Encryption"
    assert doc.metadata == {"author": "Marlow Labs security team", "status": "stable"}
    assert_spans_exact(doc)
    headings = [(b.heading_path, b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        (("Encryption",), 1),
        (("Encryption", "Algorithms"), 2),
        (("Encryption", "Algorithms", "Key rotation"), 3),
        (("Encryption", "Algorithms", "Supported clients"), 3),
    ]
    code = [b.text for b in doc.blocks if b.kind == "code"]
    assert code[0] == "    quillstream keys rotate --now"  # literal block after "::"
    assert code[1].startswith(".. code-block:: python") and "rotate_keys()" in code[1]
    note = next(b for b in doc.blocks if "never sees the passphrase" in b.text)
    assert note.kind == "paragraph" and not note.text.startswith("..")
    assert [b.kind for b in doc.blocks][-1] == "list"


def test_rst_skips_comments_and_toctree() -> None:
    text = "Title\n#####\n\n.. _target:\n\n.. toctree::\n   :maxdepth: 2\n\n   intro\n\nBody text.\n"
    doc = parse_text(text, name="index.rst")
    assert [b.text for b in doc.blocks] == ["Title\n#####", "Body text."]


API_RST = """:mod:`!os.path` --- Common pathname manipulations
==================================================

.. module:: os.path
   :synopsis: Operations on pathnames.

.. index:: single: path; operations

This module implements some useful functions on pathnames.

.. function:: basename(path)

   Return the base name of pathname *path*.

   .. versionchanged:: 3.6
      Accepts a :term:`path-like object`.

.. function:: dirname(path)

   Return the directory name of pathname *path*.

--------------

Rules and ``literals``
----------------------

Text after a transition.
"""


def test_rst_api_entries_keep_their_signature_and_stay_together() -> None:
    # Python-docs-style rST: the object's name is only on its directive line.
    doc = parse_text(API_RST, name="os.path.rst")
    assert doc.title == "os.path --- Common pathname manipulations"  # inline markup gone from headings
    assert_spans_exact(doc)
    texts = [b.text for b in doc.blocks]
    assert any(t.startswith(".. function:: basename(path)") and "base name" in t for t in texts)
    assert any(t.startswith(".. index:: single: path; operations") for t in texts)
    assert any("synopsis: Operations on pathnames" in t for t in texts)
    assert "--------------" not in texts  # a transition is a separator, not a paragraph
    headings = [b.heading_path for b in doc.blocks if b.kind == "heading"]
    assert headings[-1] == ("os.path --- Common pathname manipulations", "Rules and literals")
    # Index entries, module synopsis and entries no longer cut the section into one chunk per entry.
    chunks = chunk_document(doc)
    assert len(chunks) == 2
    assert "basename(path)" in chunks[0].text and "dirname(path)" in chunks[0].text


# --------------------------------------------------------------------------------------------------
# Plain text


def test_text_fixture_headings() -> None:
    doc = parse_file(FIXTURES / "faq.txt")
    assert doc.doc_type == "text"
    assert doc.title == "Quillstream frequently asked questions"
    assert_spans_exact(doc)
    refund = next(b for b in doc.blocks if "14 days" in b.text)
    assert refund.heading_path == ("Quillstream frequently asked questions", "CAN I GET A REFUND?")
    assert (refund.start_line, refund.end_line) == (10, 11)


def test_text_underlined_headings_and_stem_title() -> None:
    doc = parse_text("The first paragraph ends here.\nSecond line.\n\nUsage\n=====\n\nRun it.\n", name="notes.txt")
    assert doc.title == "Usage"
    assert outline(doc) == [("paragraph", ()), ("heading", ("Usage",)), ("paragraph", ("Usage",))]
    assert parse_text("Plain sentence one.\n", name="/tmp/x/notes.txt").title == "notes"


# --------------------------------------------------------------------------------------------------
# HTML


def test_html_fixture_drops_boilerplate() -> None:
    doc = parse_file(FIXTURES / "pricing.html")
    assert doc.doc_type == "html"
    assert doc.title == "Plans and pricing"  # the <h1>, not the decorated <title>
    assert doc.metadata["html_title"] == "Pricing – Quillstream"
    assert doc.metadata["description"] == "Quillstream plans and prices"
    assert doc.metadata["lang"] == "en"
    assert_spans_exact(doc)
    for boilerplate in ("Login", "Sign up", "cookies", "Related articles", "Rust", "All rights reserved", "analytics",
                        "font-family"):  # fmt: skip
        assert boilerplate not in doc.text
    assert "The Team plan costs 12 euros per user per month, billed annually. It adds shared notebooks" in doc.text
    team = next(b for b in doc.blocks if "12 euros" in b.text)
    assert team.heading_path == ("Plans and pricing", "Team plan")
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.text == "Seats | Discount\n50+ | 10 %\n200+ | 20 %"
    assert table.heading_path == ("Plans and pricing", "Team plan", "Volume discounts")
    listing = next(b for b in doc.blocks if b.kind == "list")
    assert listing.text == "- Shared notebooks with per-member permissions\n- Audit log kept for one year"
    assert any(b.kind == "code" and b.text == "curl https://api.quillstream.example/v1/plans" for b in doc.blocks)
    assert "\n\n\n" not in doc.text


def test_html_without_main_keeps_body_and_uses_title() -> None:
    html = (
        "<html><head><title> Plain  page </title></head><body><nav>Menu</nav>"
        "<div id='content'><h2>Part</h2><p>Hello <b>bold</b><br>world &amp; more.</p>"
        "<pre>  keep\n    indentation</pre><div class='share-buttons'>Share</div></div>"
        "<div hidden>secret</div><p style='display: none'>hidden too</p></body></html>"
    )
    doc = parse_text(html, name="https://example.com/docs/page")
    assert doc.title == "Plain page"
    assert_spans_exact(doc)
    assert [b.text for b in doc.blocks] == ["Part", "Hello bold\nworld & more.", "  keep\n    indentation"]
    assert doc.blocks[1].heading_path == ("Part",)


def test_html_charset_from_meta() -> None:
    data = '<html><head><meta charset="iso-8859-1"></head><body><p>Café crème</p></body></html>'.encode("latin-1")
    doc = parse_bytes(data, name="menu.html")
    assert doc.blocks[0].text == "Café crème"


# --------------------------------------------------------------------------------------------------
# Source code


def test_code_fixture_blocks() -> None:
    doc = parse_file(FIXTURES / "qs_client.py")
    assert doc.doc_type == "code"
    assert doc.language == "python"
    assert doc.title == "qs_client.py"
    assert_spans_exact(doc)
    klass = next(b for b in doc.blocks if b.text.startswith("class SyncClient"))
    # The blank line inside rotate_keys does not split the class.
    assert "def rotate_keys" in klass.text and klass.text.rstrip().endswith("pass")
    assert (klass.start_line, klass.end_line) == (12, 28)
    assert all(b.kind == "code" for b in doc.blocks)


@pytest.mark.parametrize(
    ("name", "language"), [("a.go", "go"), ("b.ts", "typescript"), ("c.sql", "sql"), ("Dockerfile", "dockerfile")]
)
def test_code_language_by_name(name: str, language: str) -> None:
    assert parse_text("x = 1\n", name=name).language == language


def test_code_language_from_shebang() -> None:
    doc = parse_bytes(b"#!/usr/bin/env python3\nprint('hi')\n", name="tool")
    assert (doc.doc_type, doc.language) == ("code", "python")


# --------------------------------------------------------------------------------------------------
# PDF


def test_pdf_fixture() -> None:
    doc = parse_file(FIXTURES / "release-notes.pdf")
    assert doc.doc_type == "pdf"
    assert doc.title == "Quillstream 5.0 release notes"
    assert doc.metadata["pages"] == "2" and doc.metadata["author"] == "Marlow Labs"
    assert_spans_exact(doc)
    assert "retrieval engine" in doc.text  # "retrie-\nval" was de-hyphenated
    assert [b.page for b in doc.blocks] == [1, 2]
    assert "Windows 7" in doc.blocks[1].text


def test_pdf_title_falls_back_to_first_line_then_stem() -> None:
    doc = parse_bytes(build_pdf([["Short heading line", "Body of the page."]]), name="scan.pdf")
    assert doc.title == "Short heading line"
    empty = parse_bytes(build_pdf([[]]), name="blank.pdf")
    assert empty.title == "blank" and empty.blocks == ()


def test_pdf_broken_is_reported() -> None:
    with pytest.raises(UnsupportedFormatError, match=r"broken\.pdf: not a readable PDF"):
        parse_bytes(b"%PDF-1.4\n1 0 obj garbage", name="broken.pdf")
    with pytest.raises(UnsupportedFormatError, match="given as bytes"):
        parse_text("%PDF-1.4", name="x.pdf")


# --------------------------------------------------------------------------------------------------
# Bad input and limits


def test_binary_junk_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError, match=r"junk\.bin: unsupported format or binary data"):
        parse_file(FIXTURES / "junk.bin")
    with pytest.raises(UnsupportedFormatError, match="looks like binary data"):
        parse_bytes(b"abc\x00\x00\x00def", name="notes.md")
    with pytest.raises(UnsupportedFormatError):
        parse_bytes(b"\x89PNG\r\n\x1a\n\x00\x00", name="image.png")
    assert issubclass(UnsupportedFormatError, InvalidInputError)


def test_too_large(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: no 20 MB write
    with pytest.raises(DocumentTooLargeError, match="exceeds the 20 MB document limit"):
        parse_file(big)
    with pytest.raises(DocumentTooLargeError):
        parse_text("a" * (MAX_DOCUMENT_BYTES + 1), name="x.txt")
    assert issubclass(DocumentTooLargeError, InvalidInputError)


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read"):
        parse_file(tmp_path / "nope.md")


# --------------------------------------------------------------------------------------------------
# Cleaning


def test_normalize_text_keeps_lines() -> None:
    raw = "Cafe\u0301\r\nline\u00a0two\t \r\x07bell\u200b\fform\u2028sep\n"
    clean = normalize_text(raw)
    assert clean == "Café\nline two\nbell form\nsep\n"
    assert clean.count("\n") == 4


def test_collapse_and_dehyphenate() -> None:
    assert collapse_blank_lines("\n\na\n\n\n\nb\n \n\nc\n\n") == "a\n\nb\n\nc"
    assert dehyphenate("the retrie-\nval engine and well-\nKnown") == "the retrieval engine and well-\nKnown"


def test_decode_fallbacks() -> None:
    assert decode("naïve".encode()) == "naïve"
    assert decode("\ufeffbom".encode()) == "bom"
    assert decode("utf16 text".encode("utf-16")) == "utf16 text"
    assert decode("Grüße aus Köln, schöne Straße".encode("cp1252")) == "Grüße aus Köln, schöne Straße"
    assert decode(b"caf\xe9", encoding="latin-1") == "café"


def test_parse_bytes_cleans_markdown() -> None:
    doc = parse_bytes("# Title\r\n\r\nCafe\u0301 \x1b[0mtext\u00a0here.  \r\n".encode(), name="x.md")
    assert doc.text == "# Title\n\nCafé [0mtext here.\n"
    assert doc.blocks[-1].text == "Café [0mtext here."


def test_url_names_drive_detection_and_title() -> None:
    doc = parse_bytes(b"# Remote\n\nBody.\n", name="https://example.com/guides/remote.md?x=1")
    assert doc.doc_type == "markdown" and doc.title == "Remote"
    plain = parse_bytes(b"Body only.\n", name="https://example.com/")
    assert plain.title == "example.com"
    assert detect_type(PurePosixPath("/guides/remote.md")) == "markdown"


def test_gzipped_documents() -> None:
    import gzip

    doc = parse_bytes(gzip.compress(b"# Packed\n\nInside a gzip file.\n"), name="/usr/share/doc/x/README.md.gz")
    assert (doc.doc_type, doc.title, doc.blocks[-1].text) == ("markdown", "Packed", "Inside a gzip file.")
    assert detect_type(Path("changelog.Debian.gz")) == "text"
    assert detect_type(Path("logo.png.gz")) is None
    assert detect_type(Path("NEWS.rst.gz")) == "rst"
    with pytest.raises(DocumentTooLargeError, match="after decompression"):
        parse_bytes(gzip.compress(b"a" * (MAX_DOCUMENT_BYTES + 10), compresslevel=1), name="bomb.txt.gz")
    with pytest.raises(UnsupportedFormatError, match="corrupt gzip"):
        parse_bytes(b"\x1f\x8b\x08\x00garbage", name="broken.txt.gz")


def test_html_several_h1_are_sections_and_title_comes_from_title_tag() -> None:
    html = (
        "<html><head><title>SELECT</title></head><body><div class=nosearch><div class='tagline'>Small. Fast.</div>"
        "</div><h1>1. Overview</h1><p>Queries rows.</p><h1>2. Processing</h1><h2>2.1 Input</h2><p>From.</p>"
        "</body></html>"
    )
    doc = parse_text(html, name="lang_select.html")
    assert doc.title == "SELECT"
    assert "Small" not in doc.text
    assert doc.blocks[-1].heading_path == ("2. Processing", "2.1 Input")


ASCIIDOC_PAGE = """\
git-frob(1)
===========

NAME
----
git-frob - Frobnicate the working tree

DESCRIPTION
-----------
Frobnicating rewrites every tracked file in place.
Run it from the top of the working tree:

------------
$ git frob --all
$ git frob --dry-run
------------

The history before and after looks like this:

------------
          A---B---C topic
         /
    D---E---F---G master
------------

EXAMPLES
--------
Show what would change:

....
git frob -n
....

////
A comment block that is never shown.
////

OPTIONS
-------
--all::
\tFrobnicate every file.
"""


def test_asciidoc_listing_fences_are_code_not_setext_underlines() -> None:
    doc = parse_text(ASCIIDOC_PAGE, name="Documentation/git-frob.txt")
    headings = [b.heading_path[-1] for b in doc.blocks if b.kind == "heading"]
    assert headings == ["git-frob(1)", "NAME", "DESCRIPTION", "EXAMPLES", "OPTIONS"]
    code = [b.text for b in doc.blocks if b.kind == "code"]
    fence = "------------"
    assert code == [
        f"{fence}\n$ git frob --all\n$ git frob --dry-run\n{fence}",
        f"{fence}\n          A---B---C topic\n         /\n    D---E---F---G master\n{fence}",
        "....\ngit frob -n\n....",
    ]
    listing = next(b for b in doc.blocks if b.kind == "code" and "master" in b.text)
    assert listing.heading_path == ("git-frob(1)", "DESCRIPTION")
    assert not any("comment block" in b.text for b in doc.blocks)
    assert_spans_exact(doc)
    for chunk in chunk_document(doc, max_tokens=40, overlap_tokens=5):
        assert chunk.text == chunk.text.strip()


def test_text_underline_must_match_the_heading_length() -> None:
    doc = parse_text("Intro line.\n\nA long sentence that is not a title at all\n---\n", name="n.txt")
    assert [b.heading_path[-1] for b in doc.blocks if b.kind == "heading"] == []
    indented = parse_text("Text.\n\n    code line\n    ---------\n", name="n.txt")
    assert not [b for b in indented.blocks if b.kind == "heading" and "code" in b.heading_path[-1]]


def test_html_doc_generator_navigation_is_dropped() -> None:
    page = """<html><head><title>SELECT</title></head><body>
    <a href="#content">Skip to main content</a>
    <div class="navheader"><table summary="Navigation header"><tr><th colspan="3">SELECT</th></tr>
    <tr><td><a href="a.html">Prev</a></td><td><a href="b.html">Up</a></td><td><a href="c.html">Next</a></td></tr>
    </table></div>
    <div class="related" role="navigation"><ul><li><a href="index.html">index</a></li></ul></div>
    <div class="sphinxsidebar"><h3>Quick search</h3><p>Sidebar prose.</p></div>
    <div id="content"><h1>SELECT</h1><p>SELECT retrieves rows from a table.</p>
    <p>Skip to the next row with OFFSET.</p></div>
    <div class="navfooter"><table><tr><td>Prev</td><td>Home</td><td>Next</td></tr></table></div>
    </body></html>"""
    doc = parse_text(page, name="sql-select.html")
    assert [b.text for b in doc.blocks] == [
        "SELECT",
        "SELECT retrieves rows from a table.",
        "Skip to the next row with OFFSET.",
    ]


def test_text_rules_between_blank_lines_separate_prose_not_code() -> None:
    doc = parse_text("First note here.\n\n----------\n\nSecond note here.\n\n----------\n\nThird.\n", name="n.txt")
    assert [b.kind for b in doc.blocks] == ["paragraph", "paragraph", "paragraph"]
    diagram = parse_text("History:\n\n--------\n\n      B\n     /\n ---X---A\n\n--------\n\nDone.\n", name="n.txt")
    assert [b.kind for b in diagram.blocks] == ["paragraph", "code", "paragraph"]
