"""Compatibility name for :mod:`mcp_suite.servers.retrieval.readers` (the readers were split into one module
per format); kept so branches written against ``parsing`` still import. New code imports ``readers``."""

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

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentTooLargeError",
    "UnsupportedFormatError",
    "detect_type",
    "parse_bytes",
    "parse_file",
    "parse_text",
    "type_for_content_type",
]
