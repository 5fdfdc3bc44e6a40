"""The stewards' page of customer-360 in the portal: the review queue, both records of each pair side by
side, and a match or split with a reason, under the steward's own name. The steward gives their API key
once; it is kept in a cookie for the portal's pages only (HttpOnly, SameSite=Strict), and every query
goes to the product with it, so what a steward sees is audited and masked exactly as on the product's
own ports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mesh_catalog.registry import UnknownProduct
from mesh_catalog.service import CatalogService
from mesh_mdm.stewardship import ASK_FOR_PII, MASKED, PRODUCT, StewardDesk, StewardshipRefused

Stewards = Callable[[str], StewardDesk]  # a steward's API key -> their desk (StewardshipRefused if it proves no one)
Page = Callable[..., HTMLResponse]
COOKIE = "mesh_steward"
QUEUE_SHOWN = 25


def takes_stewards(domain: str, name: str) -> bool:
    return f"{domain}.{name}" == PRODUCT


async def _form(request: Request) -> dict[str, str]:
    """An HTML form's fields (application/x-www-form-urlencoded), the last value of each."""
    fields = parse_qs((await request.body()).decode(), keep_blank_values=True)
    return {k: v[-1].strip() for k, v in fields.items()}


def mount_stewardship(
    app: FastAPI, service: CatalogService, stewards: Stewards | None, page: Page, prefix: str
) -> None:
    def here(product_id: str) -> str:
        return f"{prefix}/products/{quote(product_id, safe=':')}/stewardship"

    def shown(request: Request, product_id: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        try:
            entry = service.entry(product_id)
        except UnknownProduct:
            return page(request, "error.html", 404, title="Not found", message=f"No product {product_id!r}.")
        if stewards is None or not takes_stewards(entry.domain, entry.name):
            message = f"{entry.domain}.{entry.name} takes no stewards' decisions."
            return page(request, "error.html", 404, title="Stewardship", message=message)
        key = request.cookies.get(COOKIE)
        queue: list[dict[str, Any]] = []
        steward = None
        error = context.pop("error", None)
        if key:
            try:
                desk = stewards(key)
                steward = desk.steward
                queue = desk.queue(QUEUE_SHOWN)
            except StewardshipRefused as exc:
                error = error or str(exc)
        masked = any(pair["customer_name"] == MASKED for pair in queue)
        return page(
            request,
            "stewardship.html",
            status_code,
            title=f"Stewardship · {entry.domain}.{entry.name}",
            entry=entry,
            action=here(product_id),
            steward=steward,
            queue=queue,
            masked=masked,
            ask_for_pii=ASK_FOR_PII,
            error=error,
            decided=request.query_params.get("decided"),
            **context,
        )

    @app.get(f"{prefix}/products/{{product_id}}/stewardship", response_class=HTMLResponse, include_in_schema=False)
    def stewardship(request: Request, product_id: str) -> HTMLResponse:
        return shown(request, product_id)

    @app.post(f"{prefix}/products/{{product_id}}/stewardship/key", include_in_schema=False)
    async def sign_in(request: Request, product_id: str) -> Response:
        key = (await _form(request)).get("key", "")
        if not key:
            return shown(
                request, product_id, 400, error="give your API key (mesh access consumer create, or your key file)"
            )
        answer = RedirectResponse(here(product_id), status_code=303)
        answer.set_cookie(COOKIE, key, httponly=True, samesite="strict", path=prefix)
        return answer

    @app.post(f"{prefix}/products/{{product_id}}/stewardship/sign-out", include_in_schema=False)
    def sign_out(product_id: str) -> Response:
        answer = RedirectResponse(here(product_id), status_code=303)
        answer.delete_cookie(COOKIE, path=prefix)
        return answer

    @app.post(f"{prefix}/products/{{product_id}}/stewardship/decide", include_in_schema=False)
    async def decide(request: Request, product_id: str) -> Response:
        form = await _form(request)
        key = request.cookies.get(COOKIE)
        missing = [f for f in ("action", "anchor", "record", "reason") if not form.get(f)]
        if not key or stewards is None:
            return shown(request, product_id, 401, error="give your API key first")
        if missing:
            return shown(request, product_id, 400, error=f"a decision needs {', '.join(missing)}")
        try:
            now = stewards(key).decide(form["action"], form["anchor"], form["record"], form["reason"])
        except StewardshipRefused as exc:
            return shown(request, product_id, 422, error=str(exc))
        done = f"{form['action']} {form['anchor']} {form['record']}: now {now.get('golden_id')} ({now.get('band')})"
        return RedirectResponse(f"{here(product_id)}?decided={quote(done)}", status_code=303)
