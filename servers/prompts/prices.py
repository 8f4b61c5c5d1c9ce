"""The library's price table: what a model call costs, so ``record_run`` can be given tokens only.

A library folder may hold ``prices.yaml`` (it is not a prompt file)::

    currency: USD            # informative; costs are stored as plain numbers
    models:                  # price per million tokens
      claude-3-5-haiku-latest: {input: 0.8, output: 4}
      gpt-4o-mini: {input: 0.15, output: 0.6}

A run recorded without ``cost`` gets ``input_tokens × input + output_tokens × output`` (divided by a
million) for its model — the ``model`` the caller names, else the version's
``execution_settings.model``; a model the table does not list leaves the cost empty, never guessed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_suite.servers.prompts.library import PRICE_FILE
from mcp_suite.servers.prompts.spec import FileIssue, PromptFileError

__all__ = ["PRICE_FILE", "ModelPrice", "PriceTable", "load_prices"]
MAX_PRICE_FILE_BYTES = 1_000_000


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0, description="price per million input tokens")
    output: float = Field(ge=0, description="price per million output tokens")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = "USD"
    models: dict[str, ModelPrice] = Field(default_factory=dict)

    def cost(self, model: str | None, input_tokens: int, output_tokens: int) -> float | None:
        """The call's cost, or None when the model is unknown or not in the table."""
        price = self.models.get(model) if model else None
        if price is None:
            return None
        return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def load_prices(path: Path) -> PriceTable | None:
    """The price table at ``path``; None when there is no such file; :class:`PromptFileError` when it is unusable."""
    import yaml  # PyYAML loads only when a library folder is read

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PromptFileError(str(path), [FileIssue(None, f"cannot read the price table: {exc.strerror}")]) from None
    if len(raw) > MAX_PRICE_FILE_BYTES:
        raise PromptFileError(str(path), [FileIssue(None, f"price table is larger than {MAX_PRICE_FILE_BYTES} bytes")])
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PromptFileError(str(path), [FileIssue(None, f"price table is not valid YAML: {exc}")]) from None
    try:
        return PriceTable.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        message = f"price table: {problems} (write `models: {{name: {{input: 0.8, output: 4}}}}`, USD per 1M tokens)"
        raise PromptFileError(str(path), [FileIssue(None, message)]) from None
