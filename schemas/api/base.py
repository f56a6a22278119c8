"""Base classes for REGOS models: derive requests from `RequestModel`, results from `ReadModel`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

# REGOS sends document codes sometimes as numbers, sometimes as strings.
Code = Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else str(v))]


class RequestModel(BaseModel):
    """A request body. Unknown fields are errors; None fields are left out when sent."""

    model_config = ConfigDict(extra="forbid")


class ReadModel(BaseModel):
    """A row or object REGOS returns. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


class EditResult(ReadModel):
    """The usual answer of `*/Add`, `*/Edit`, `*/Delete` methods (those that have an output at all).

    shared/docs/regos-contract.md §1: `{row_affected?, ids?}`, and an element of `ids` may be
    null (a row REGOS did not create or change). Methods without output (e.g.
    `ConnectedIntegrationSetting/Edit`) answer `result: null` and are not validated as this.
    """

    row_affected: int | None = None
    ids: list[int | None] | None = None
