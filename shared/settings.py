"""Settings every server shares, read from flags, ``MCP_SUITE_*`` environment variables and an
optional YAML file, in that order of precedence.

A server adds its own fields by subclassing :class:`ServerSettings` and naming itself in
``server_name``; its fields then come from ``--field-name`` flags, ``MCP_SUITE_<SERVER>_<FIELD>``
variables and the ``<server>:`` section of the YAML file. Common fields use ``MCP_SUITE_<FIELD>``
and the YAML file's top level.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from mcp_suite.shared.database_url import DatabaseUrl, SqliteUrl, parse_database_url
from mcp_suite.shared.errors import InvalidInputError

Transport = Literal["stdio", "sse", "streamable-http"]
ENV_PREFIX = "MCP_SUITE_"


def default_data_dir() -> Path:
    """The platform's per-user data folder, so a Claude Desktop entry with no env still works."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("mcp-suite", appauthor=False))


class ServerSettings(BaseModel):
    """Flags every server takes. Subclasses add their own fields (with a ``description``: it is the flag's help)."""

    # hide_input_in_errors: a bad value is not echoed back, since --database-url may carry a password.
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    server_name: ClassVar[str] = ""
    # Engines this server's storage runs on; a server adds "postgresql" once its storage has that implementation.
    engines: ClassVar[frozenset[str]] = frozenset({"sqlite"})

    transport: Transport = Field("stdio", description="how hosts connect: stdio, sse or streamable-http")
    host: str = Field("127.0.0.1", description="HTTP bind address (loopback by default)")
    port: int = Field(8000, ge=0, le=65535, description="HTTP port")
    data_dir: Path = Field(default_factory=default_data_dir, description="folder that holds the server's database")
    auth_token: SecretStr | None = Field(None, description="bearer token every HTTP request must carry")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="extra Host header values accepted over HTTP (DNS-rebinding protection stays on)",
        json_schema_extra={"flag": "--allowed-host"},
    )
    stateless: bool = Field(
        False,
        description="Streamable HTTP without sessions, so any replica may answer any request (no server-to-client "
        "requests, subscriptions or list_changed pushes; see the README)",
    )
    json_response: bool = Field(
        False,
        description="Streamable HTTP answers each POST with one JSON body instead of an SSE stream "
        "(no progress or log notifications during a call)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field("INFO", description="stderr log level")
    database_url: SecretStr | None = Field(  # secret: a PostgreSQL URL may carry a password
        None,
        description="storage engine: unset = <data-dir>/<server>.db; sqlite:///PATH ({server} in PATH = the "
        "server's name); postgresql://... (preview)",
    )

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url", mode="after")
    @classmethod
    def _check_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            url = parse_database_url(value.get_secret_value())  # an unknown scheme fails here, at load
            if url.engine not in cls.engines:
                raise InvalidInputError(
                    f"the {cls.server_name or 'mcp-suite'} server does not run on {url.engine} yet; "
                    "leave --database-url unset or give a sqlite:/// URL"
                )
        return value

    def check_serving(self) -> None:
        """Refuse a Streamable HTTP mode on another transport. Checked when serving only, so an environment
        that sets ``MCP_SUITE_STATELESS`` for the servers does not break a server's own commands."""
        for name in ("stateless", "json_response"):
            if getattr(self, name) and self.transport != "streamable-http":
                raise InvalidInputError(
                    f"invalid settings: {self.flag_name(name)} ({self.env_name(name)}) is a Streamable HTTP mode; "
                    f"add --transport streamable-http (the transport is {self.transport})"
                )

    @property
    def database(self) -> DatabaseUrl:
        """The engine and where its data lives; unset means the SQLite file in the data folder."""
        name = self.server_name or "mcp-suite"
        if self.database_url is None:
            return SqliteUrl(self.data_dir / f"{name}.db")
        # One URL often reaches several servers (env var, top-level YAML key, mcp-suite serve): {server} gives
        # each its own SQLite file; PostgreSQL needs no such care (each server has its own schema).
        return parse_database_url(self.database_url.get_secret_value().replace("{server}", name))

    @property
    def database_path(self) -> Path:
        """Each server keeps its own SQLite file in the shared data folder (or where a sqlite:/// URL says)."""
        url = self.database
        if not isinstance(url, SqliteUrl):
            raise InvalidInputError(f"{url.redacted()} is not a SQLite file")
        return url.path

    @classmethod
    def own_fields(cls) -> list[str]:
        """Fields this server adds on top of the common ones."""
        return [name for name in cls.model_fields if name not in ServerSettings.model_fields]

    @classmethod
    def env_name(cls, field: str) -> str:
        if field in ServerSettings.model_fields:
            return f"{ENV_PREFIX}{field.upper()}"
        return f"{ENV_PREFIX}{cls.server_name.upper()}_{field.upper()}"

    @classmethod
    def load(cls, flags: dict[str, Any] | None = None, config_file: Path | None = None) -> Self:
        """Merge YAML < environment < flags and validate; a bad value raises :class:`InvalidInputError`."""
        values: dict[str, Any] = {}
        config_file = config_file or _env_path(f"{ENV_PREFIX}CONFIG")
        if config_file is not None:
            values.update(_read_yaml(config_file, cls.server_name))
        values.update(cls._from_env())
        values.update({k: v for k, v in (flags or {}).items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            lines = [cls._describe(err) for err in exc.errors()]
            text = lines[0] if len(lines) == 1 else "\n".join(f"- {line}" for line in lines)
            raise InvalidInputError(
                f"invalid settings: {text}" if len(lines) == 1 else f"invalid settings:\n{text}"
            ) from exc

    @classmethod
    def flag_name(cls, field: str) -> str:
        """The command-line flag of ``field`` (``--data-dir``; some fields name their own, e.g. ``--root``)."""
        info = cls.model_fields.get(field)
        extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
        return str(extra.get("flag") or "--" + field.replace("_", "-"))

    @classmethod
    def _describe(cls, err: Any) -> str:
        """One settings problem, naming the setting as flag, variable and YAML key alike."""
        from mcp_suite.shared.messages import describe_error, did_you_mean

        loc = tuple(err.get("loc", ()))
        field = str(loc[0]) if loc else ""
        if err.get("type") == "extra_forbidden":
            return f"unknown setting '{field}'{did_you_mean(field, cls.model_fields)}"
        named = f"{field} ({cls.flag_name(field)} / {cls.env_name(field)})" if field in cls.model_fields else field
        return describe_error({**err, "loc": (named, *loc[1:])})

    @classmethod
    def _from_env(cls) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for field, info in cls.model_fields.items():
            raw = os.environ.get(cls.env_name(field))
            if raw is None or raw == "":
                continue
            is_list = getattr(info.annotation, "__origin__", None) is list
            # Lists split on the path separator, unless a field names its own (CIDRs hold ':' in IPv6).
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            separator = str(extra.get("env_separator", os.pathsep))
            found[field] = [part.strip() for part in raw.split(separator) if part.strip()] if is_list else raw
        return found


def _env_path(name: str) -> Path | None:
    raw = os.environ.get(name)
    return Path(raw).expanduser() if raw else None


def _read_yaml(path: Path, section: str) -> dict[str, Any]:
    from mcp_suite.shared.messages import did_you_mean
    from mcp_suite.shared.yaml_safe import UnsafeYamlError, safe_load

    try:
        data = safe_load(path.read_text(encoding="utf-8"), source=str(path)) or {}
    except OSError as exc:
        raise InvalidInputError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"config file {path} is not UTF-8 text") from exc
    except UnsafeYamlError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        problem = exc.problem.removeprefix("invalid YAML: ")
        verdict = "is not valid YAML" if exc.syntax else "is refused"
        raise InvalidInputError(f"config file {path} {verdict}{where}: {problem}") from exc
    if not isinstance(data, dict):
        raise InvalidInputError(f"config file {path} must hold a mapping of settings")
    # A misspelt top-level key would otherwise be ignored without a word. A mapping is another server's
    # section (this module does not know the servers), unless its name is a near miss of this one's.
    known = [*ServerSettings.model_fields, section]
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name in known or (isinstance(value, dict) and not did_you_mean(name, [section])):
            continue
        raise InvalidInputError(f"config file {path}: unknown setting '{key}'{did_you_mean(name, known)}")
    common = {k.replace("-", "_"): v for k, v in data.items() if k.replace("-", "_") in ServerSettings.model_fields}
    own = data.get(section) or {}
    if not isinstance(own, dict):
        raise InvalidInputError(f"config file {path}: section '{section}' must be a mapping")
    return common | {k.replace("-", "_"): v for k, v in own.items()}
