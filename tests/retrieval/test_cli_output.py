"""What the terminal ingest shows a person: a progress bar that log lines never land in, its counter once,
and a report whose notes and counts say what they mean."""

from __future__ import annotations

import io
import logging

import pytest

from mcp_suite.servers.retrieval.cli import ProgressBar, _print_report
from mcp_suite.servers.retrieval.ingest_report import IngestItem, IngestReport


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_counter_is_shown_once() -> None:
    screen = Terminal()
    bar = ProgressBar(screen)
    bar.update(3, 10, "3/10 notes.md")
    bar.close()
    assert screen.getvalue().count("3/10") == 1 and "notes.md" in screen.getvalue()


def test_a_log_line_never_lands_inside_the_bar() -> None:
    screen = Terminal()
    handler = logging.StreamHandler(screen)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        bar = ProgressBar(screen)
        bar.update(1, 10, "1/10 a.md")
        logging.getLogger("mcp_suite.test").warning("the model is loading")
        bar.update(2, 10, "2/10 b.md")
        bar.close()
        logging.getLogger("mcp_suite.test").warning("after the bar")
    finally:
        root.removeHandler(handler)
    text = screen.getvalue()
    # The bar's line is cleared (carriage return, erase line) before the record, which starts a clean line.
    assert "\r\033[Kthe model is loading\n" in text
    assert "2/10 b.md" in text.split("the model is loading", 1)[1]  # redrawn afterwards
    assert not handler.filters  # the bar stops watching logs once it is closed


def test_report_notes_only_what_the_list_leaves_out(capsys: pytest.CaptureFixture[str]) -> None:
    report = IngestReport()
    for i in range(288):
        report.record(IngestItem(source=f"doc{i}.md", status="added", chunks=2, embedded=1))
    assert report.items_omitted == 88
    _print_report(report, verbose=False)
    out, err = capsys.readouterr()
    assert "not shown" not in err and "more" not in err  # nothing was listed, so nothing is "more"
    assert "576 chunks written, 288 new vectors computed (unchanged chunks keep theirs)" in out

    _print_report(report, verbose=True)
    err = capsys.readouterr().err
    assert "… and 88 more changed items" in err

    failing = IngestReport()
    for i in range(250):
        failing.record(IngestItem(source=f"bad{i}.md", status="error", message="unreadable"))
    _print_report(failing, verbose=False)
    assert "… and 50 more errors not listed" in capsys.readouterr().err
