"""`/docs` as an `APIRouter`: Swagger UI from the `swagger-ui-bundle-v2` package, offline.

In: nothing. Out: `router` (`GET /docs`, `GET /docs/init.js`) and `mount_assets(app)`, which
serves the Swagger UI files at `/docs/assets`. The page starts Swagger UI from a script file
rather than FastAPI's inline script, which the page's Content-Security-Policy forbids.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qa API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
DOCS_INIT = (
    "window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui', "
    "deepLinking: true, validatorUrl: null});\n"
)


@router.get("/docs")
def docs() -> HTMLResponse:
    """The Swagger UI page."""
    return HTMLResponse(DOCS_PAGE)


@router.get("/docs/init.js")
def docs_init() -> Response:
    """The script that starts Swagger UI on the page."""
    return Response(DOCS_INIT, media_type="text/javascript")


def mount_assets(app: FastAPI) -> None:
    """Serve the Swagger UI files at `/docs/assets`."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
