"""A product's push to the data product catalog: once its ports answer, it tells the catalog where it is.

Best effort: a product serves its consumers whether or not a catalog runs, so a catalog that does not
answer costs one log line, never the product's start."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger(__name__)


def register_with_catalog(catalog_url: str, product_url: str, timeout_s: float = 10.0) -> bool:
    """POST the product's base URL; the catalog reads the discovery document from it. True if listed."""
    try:
        response = httpx.post(f"{catalog_url}/products", json={"url": product_url}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        log.info(
            "no data product catalog at %s (%s): carrying on unlisted until the next start",
            catalog_url,
            type(exc).__name__,
        )
        return False
    if response.status_code != 201:
        try:
            reason = response.json().get("error", response.text)
        except ValueError:
            reason = response.text
        log.warning(
            "the data product catalog at %s refused this product (HTTP %d): %s",
            catalog_url,
            response.status_code,
            reason,
        )
        return False
    log.info("registered with the data product catalog at %s", catalog_url)
    return True
