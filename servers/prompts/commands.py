"""``mcp-suite prompts check`` and ``mcp-suite prompts test``: the CI commands of a prompt library.

``check DIR [--registry DB]`` is the static gate (schema, templates, variables, duplicates, golden
cases render, and with a registry: content changed under a published version),
printing ``file:line: severity: message`` lines that editors and CI annotators understand, then a
summary table with token estimates; exit 1 on any error.

``test [DIR]`` runs the golden cases: against a model with ``--base-url`` (any OpenAI-compatible
endpoint), or render-only without one. The report counts cases per status and never calls
unchecked assertions passed: without a model, cases that assert something are ``not run``. Exit 1
when a case fails or errs or a file does not load — and, with ``--require-model``, when no model
was given.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any, TextIO

import anyio

from mcp_suite.shared.cli import Command
from mcp_suite.shared.errors import InvalidInputError, SuiteError


def _folder(settings: Any, args: argparse.Namespace) -> Path:
    folder = getattr(args, "directory", None) or getattr(settings, "library", None)
    if folder is None:
        raise InvalidInputError("name the prompt library folder: `mcp-suite prompts check DIR` (or --library DIR)")
    return Path(folder)


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


# ── check ─────────────────────────────────────────────────────────────────────────────────────


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", nargs="?", type=Path, help="prompt library folder (default: --library)")
    parser.add_argument(
        "--registry",
        metavar="DB",
        help="the prompt registry to compare with, a file (DATA_DIR/prompts.db) or a database URL "
        "(postgresql://…): content changed under a version it already published is an error; read-only",
    )


def run_check(settings: Any, args: argparse.Namespace, out: TextIO | None = None) -> int:
    # The checker loads the spec and template modules: only this command needs them, not start-up.
    from mcp_suite.servers.prompts.checking import check_library

    out = out or sys.stdout
    folder = _folder(settings, args)
    published = None
    if getattr(args, "registry", None) is not None:
        from mcp_suite.servers.prompts.registry import published_hashes  # storage: only for --registry

        where = args.registry
        published = published_hashes(where if "://" in where else Path(where).expanduser())
    report = check_library(folder, published)
    for problem in report.problems:
        print(problem, file=out)
    if report.prompts:
        if report.problems:
            print(file=out)
        rows = [["PROMPT", "VERSION", "VARS", "MESSAGES", "CASES", "~TOKENS", "MAX_TOKENS", "FILE"]]
        for p in sorted(report.prompts, key=lambda p: (p.name, p.version)):
            rows.append(
                [
                    p.name,
                    p.version,
                    str(p.variables),
                    str(p.messages),
                    str(p.golden_cases),
                    str(p.token_estimate),
                    str(p.max_tokens or "-"),
                    p.file,
                ]
            )
        _table(rows, out)
    files = len({p.file for p in report.prompts} | {p.file for p in report.problems})
    verdict = "FAILED" if report.errors else "ok"
    print(
        f"\n{verdict}: {len(report.prompts)} prompt version(s) in {files} file(s); "
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)",
        file=out,
    )
    return 1 if report.errors else 0


CHECK_COMMAND = Command(
    help="check a prompt library (schema, templates, variables, duplicates, golden cases render); exit 1 on errors",
    run=run_check,
    add_arguments=_check_arguments,
)


# ── test ──────────────────────────────────────────────────────────────────────────────────────


def _test_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", nargs="?", type=Path, help="prompt library folder (default: --library)")
    parser.add_argument(
        "--base-url",
        help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 or http://localhost:11434 (Ollama); "
        "without it the cases are only rendered",
    )
    parser.add_argument("--model", help="model to call (default: each prompt's execution_settings.model)")
    parser.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    parser.add_argument("--name", action="append", metavar="NAME", help="only this prompt (repeatable)")
    parser.add_argument("--concurrency", type=int, default=4, help="model calls in flight (default 4)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer (default 120)")
    parser.add_argument(
        "--retries", type=int, default=2, help="retries of a call refused with 429/5xx or not reaching the server"
    )
    parser.add_argument(
        "--judge-model", metavar="MODEL", help="model that grades rubric assertions (default: the model under test)"
    )
    parser.add_argument(
        "--require-model",
        action="store_true",
        help="fail when no --base-url is given, instead of reporting assertions as not run (for CI gates)",
    )


def run_test(settings: Any, args: argparse.Namespace, out: TextIO | None = None) -> int:
    # Golden cases and prompt files load only for this command, not at the server's start-up.
    from mcp_suite.servers.prompts.golden import Complete, GoldenReport, Graders, openai_complete, run_golden
    from mcp_suite.servers.prompts.spec import load_library
    from mcp_suite.shared.http import open_client

    out = out or sys.stdout
    library = load_library(_folder(settings, args))
    prompts = library.prompts
    names = getattr(args, "name", None)
    if names:
        known = {p.spec.name for p in prompts}
        missing = [n for n in names if n not in known]
        if missing:
            raise InvalidInputError(
                f"no prompt named {', '.join(missing)} in the library; known: {', '.join(sorted(known)) or 'none'}"
            )
        prompts = [p for p in prompts if p.spec.name in names]

    base_url = getattr(args, "base_url", None)
    api_key = None
    if base_url and getattr(args, "api_key_env", None):
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise InvalidInputError(f"environment variable {args.api_key_env} (from --api-key-env) is not set")
    elif not base_url and getattr(args, "require_model", False):
        raise InvalidInputError(
            "--require-model is set but no model was given: pass --base-url (and --model or --api-key-env as needed)"
        )

    for error in library.errors:
        for line in str(error).splitlines():
            print(f"ERROR {line}", file=out)

    async def run() -> GoldenReport:
        graders = Graders()
        if not base_url:
            return await run_golden(prompts, None, concurrency=args.concurrency, graders=graders)
        # One pooled client for the whole run: the model and the judge share its connections.
        async with open_client(timeout=args.timeout) as http:
            retries = max(0, args.retries)
            model = getattr(args, "model", None)
            complete: Complete = openai_complete(
                base_url, api_key, model, client=http, timeout=args.timeout, max_retries=retries
            )
            if getattr(args, "judge_model", None):
                graders.judge = openai_complete(
                    base_url, api_key, args.judge_model, client=http, timeout=args.timeout, max_retries=retries
                )
            return await run_golden(prompts, complete, concurrency=args.concurrency, graders=graders)

    report = anyio.run(run)
    try:
        anyio.run(_store_golden, settings, report)
    except (SuiteError, OSError, sqlite3.Error) as exc:  # the run's verdict stands; only the record is lost
        print(f"warning: the results were not stored in the registry: {exc}", file=sys.stderr)

    _print_cases(report.cases, out)
    if report.versions:
        print(file=out)
        rows = [["PROMPT", "VERSION", "CASES", "PASSED", "FAILED", "NOT RUN"]]
        for v in report.versions:
            rows.append([v.name, v.version, str(v.cases), str(v.passed), str(v.failed), str(v.not_run)])
        _table(rows, out)
    counts = report.counts
    mode = f"against {base_url}" if base_url else "render-only (no --base-url)"
    failed = report.failed or bool(library.errors)
    verdict = "FAILED" if failed else "ok"
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n or status in ("passed", "failed"))
    print(
        f"\n{verdict}: {len(report.cases)} golden case(s) {mode}; {summary}"
        + (f"; {len(library.errors)} file(s) did not load" if library.errors else ""),
        file=out,
    )
    if counts["not run"]:
        print(f"{counts['not run']} case(s) were not run: their assertions need a model (--base-url)", file=out)
    return 1 if failed else 0


async def _store_golden(settings: Any, report: Any) -> None:
    """Store the run's counts per version in the registry, where the console shows them."""
    from mcp_suite.servers.prompts.registry import Registry
    from mcp_suite.servers.prompts.telemetry import Telemetry

    if not report.cases:
        return
    registry = await Registry.open(settings.database)
    try:
        await Telemetry(registry.storage).record_golden(report.mode, report.cases)
    finally:
        await registry.close()


_LABELS = {"passed": "PASS", "rendered": "OK", "failed": "FAIL", "error": "ERROR", "not run": "NOT RUN"}


def _print_cases(cases: list[Any], out: TextIO) -> None:
    for case in cases:
        latency = f"  ({case.latency_ms:.0f} ms)" if case.latency_ms is not None else ""
        print(f"{_LABELS[case.status]:<7} {case.prompt}:{case.version}  {case.case}{latency}", file=out)
        if case.error:
            print(f"      {case.error}", file=out)
        for result in case.assertions:
            if not result.passed or result.kind == "rubric":  # a judge's reason is worth reading either way
                print(f"      - {result.kind}: {result.message}", file=out)
        if case.status == "failed" and case.output is not None:
            excerpt = case.output.strip().replace("\n", "\n        ")
            print(f"      output:\n        {excerpt[:1000]}", file=out)
        for warning in case.warnings:
            print(f"      warning: {warning}", file=out)


TEST_COMMAND = Command(
    help="run the golden cases of a prompt library against an OpenAI-compatible model (or render-only); "
    "exit 1 on failure",
    run=run_test,
    add_arguments=_test_arguments,
)
