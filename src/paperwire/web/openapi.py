"""The OpenAPI document as the app answers: validation failures are 400 `{"error": …}`
(web/app.py invalid_request), not FastAPI's 422 HTTPValidationError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

INVALID = {
    "description": "Invalid parameters or body; `error` says which.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
}
ERROR_OUT = {
    "title": "ErrorOut",
    "type": "object",
    "properties": {"error": {"title": "Error", "type": "string"}},
    "required": ["error"],
}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def install(app: FastAPI) -> None:
    """Make `app.openapi()` (and /openapi.json) document the answers the app gives."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = validation_as_400(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def validation_as_400(schema: dict[str, Any]) -> dict[str, Any]:
    """Every operation's 422 HTTPValidationError becomes the 400 ErrorOut it answers."""
    for item in schema.get("paths", {}).values():
        for method in METHODS:
            responses = item.get(method, {}).get("responses")
            if responses is not None and responses.pop("422", None) is not None:
                responses.setdefault("400", INVALID)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.setdefault("ErrorOut", ERROR_OUT)
    return schema
