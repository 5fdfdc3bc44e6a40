"""How every HTTP API of the mesh words a request it cannot accept: a 400 naming the field and the
problem, instead of FastAPI's 422 listing pydantic's internals; and how its OpenAPI document says so,
with every error answer a route gives."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

_WHERE = ("body", "query", "path", "header")


def validation_problem(exc: RequestValidationError) -> tuple[str | None, str]:
    """(the first field to blame, every problem in one line)."""
    errors = exc.errors()

    def field_of(error: dict[str, object]) -> str:
        location = error.get("loc", ())
        return ".".join(str(p) for p in location if p not in _WHERE) if isinstance(location, tuple | list) else ""

    problems = "; ".join(f"{field_of(e) or 'body'}: {e['msg']}" for e in errors)
    return (field_of(errors[0]) or None) if errors else None, f"bad request: {problems}"


class ErrorBody(BaseModel):
    """Every error answer of the mesh's HTTP APIs: `error` (or, for some, FastAPI's `detail`) says what
    is wrong and what to do; `field` names the parameter to blame, `sqlstate` an SQL error's code."""

    model_config = ConfigDict(extra="allow")
    error: str | None = None
    detail: str | None = None
    field: str | None = None
    sqlstate: str | None = None


_MEANINGS = {
    400: "The request cannot be taken: a parameter, body or statement is malformed or unknown (`field` names it)",
    401: "No valid credential: the key or token is missing, malformed, unknown, expired or revoked",
    403: "A valid identity without the grant or the right this needs (the answer says how to get it)",
    404: "Nothing of that name or key here",
    409: "Conflicts with the current state: already there, already decided, or nothing to do",
    422: "Understood, and refused by a rule (a governance policy, a policy update that does not apply)",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route documents, each with what it means here and the error body."""
    return {code: {"description": _MEANINGS[code], "model": ErrorBody} for code in codes}


def invalid_requests_are_400(app: FastAPI) -> None:
    """FastAPI documents a 422 "Validation Error" on every route with parameters, but the mesh answers an
    invalid parameter or body with a 400 (`validation_problem`): the OpenAPI document says so."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if responses.get("422", {}).get("description") == "Validation Error":
                    del responses["422"]
                    responses.setdefault("400", {"description": _MEANINGS[400], "content": body})
        for unused in ("HTTPValidationError", "ValidationError"):
            if unused not in json.dumps(document.get("paths", {})):
                schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


Answer = Callable[[Exception], dict[str, Any]]  # the body of an error's answer


def plain(exc: Exception) -> dict[str, Any]:
    """What is wrong, and the field to blame when the error names one."""
    return {"error": str(exc), "field": getattr(exc, "field", None)}


def answer_errors(app: FastAPI, status_of: Mapping[type[Exception], int | tuple[int, Answer]]) -> None:
    """The app answers each error type of `status_of` with its status (and its body, `plain` unless
    given), and an invalid parameter or body with a 400 naming the field. Starlette looks a handler up
    along the error's class hierarchy, so the most specific type listed wins."""

    def handler(status: int, body: Answer) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def answer(_request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse(status_code=status, content=body(exc))

        return answer

    for error, status in status_of.items():
        code, body = status if isinstance(status, tuple) else (status, plain)
        app.add_exception_handler(error, handler(code, body))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        field, problem = validation_problem(exc)
        return JSONResponse(status_code=400, content={"error": problem, "field": field})
