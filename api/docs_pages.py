"""The interactive API documentation (``/docs``, Swagger UI; ``/redoc``, ReDoc), served from this server.

FastAPI's own pages load Swagger UI and ReDoc from a CDN with no integrity check, and answer without a
Content-Security-Policy or framing rules: whoever serves (or tampers with) the CDN's script runs it on
this origin, next to the API. Here the same pages (FastAPI's ``get_swagger_ui_html`` and
``get_redoc_html``) load the assets that the ``fastapi-offline`` package ships, from ``/docs-static``,
and every answer carries a policy that allows only them: scripts from this origin plus the page's one
inline start-up script (by its SHA-256), no framing, no other origin contacted.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_STATIC = "/docs-static"
# Swagger UI shows a badge from an online validator unless told not to; nothing leaves this origin.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
DOCS_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_assets_directory() -> str:
    """The folder of Swagger UI's and ReDoc's scripts, stylesheet and favicon in ``fastapi-offline``."""
    return str(resources.files("fastapi_offline") / "static")


def inline_script_hashes(html: str) -> list[str]:
    """The CSP source (``'sha256-…'``) of every inline ``<script>`` of ``html``."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii") + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def docs_content_security_policy(html: str, *, inline_styles: bool) -> str:
    """The policy of one documentation page: its own assets, its inline start-up script, nothing else.

    ReDoc writes its styles into ``<style>`` elements at run time (styled-components), so its page
    needs ``'unsafe-inline'`` styles; scripts are never inline except the hashed start-up script.
    """
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    styles = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def _page_and_headers(page: HTMLResponse, *, inline_styles: bool) -> tuple[str, dict[str, str]]:
    html = bytes(page.body).decode("utf-8")
    policy = docs_content_security_policy(html, inline_styles=inline_styles)
    return html, DOCS_HEADERS | {"Content-Security-Policy": policy}


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` from local assets with security headers.

    ``app`` must be created with ``docs_url=None`` and ``redoc_url=None`` (FastAPI's CDN pages off).
    """
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(DOCS_STATIC, StaticFiles(directory=docs_assets_directory()), name="docs-static")
    swagger_html, swagger_headers = _page_and_headers(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} – Swagger UI",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        ),
        inline_styles=False,
    )
    redoc_html, redoc_headers = _page_and_headers(
        get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} – ReDoc",
            redoc_js_url=f"{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_STATIC}/favicon.png",
            with_google_fonts=False,
        ),
        inline_styles=True,
    )

    @app.get("/docs", include_in_schema=False)
    def read_swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger_html, headers=swagger_headers)

    @app.get("/redoc", include_in_schema=False)
    def read_redoc() -> HTMLResponse:
        return HTMLResponse(redoc_html, headers=redoc_headers)
