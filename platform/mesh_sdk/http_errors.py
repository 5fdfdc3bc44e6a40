"""How every HTTP API of the mesh words a request it cannot accept: a 400 naming the field and the
problem, instead of FastAPI's 422 listing pydantic's internals."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError

_WHERE = ("body", "query", "path", "header")


def validation_problem(exc: RequestValidationError) -> tuple[str | None, str]:
    """(the first field to blame, every problem in one line)."""
    errors = exc.errors()

    def field_of(error: dict[str, object]) -> str:
        location = error.get("loc", ())
        return ".".join(str(p) for p in location if p not in _WHERE) if isinstance(location, tuple | list) else ""

    problems = "; ".join(f"{field_of(e) or 'body'}: {e['msg']}" for e in errors)
    return (field_of(errors[0]) or None) if errors else None, f"bad request: {problems}"
