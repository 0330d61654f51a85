"""The dependencies routes declare with `Depends`: the shared service, a ready index, templates.

In: the request. Out: `get_service` (the app's `Service`), `ready_service` (the same, or
`NotReady` when the index is not ready yet: a 503) and `get_templates` (the page templates).
`create_app` puts both objects on `app.state`; tests can swap them with
`app.dependency_overrides`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from qa.web.service import Service


def get_service(request: Request) -> Service:
    """The one `Service` of this app."""
    service: Service = request.app.state.service
    return service


async def ready_service(service: Annotated[Service, Depends(get_service)]) -> Service:
    """The service, once its index can answer (async: no thread-pool hop for a flag check)."""
    service.check_ready()
    return service


def get_templates(request: Request) -> Jinja2Templates:
    """The Jinja2 templates of the page."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


ServiceDep = Annotated[Service, Depends(get_service)]
ReadyServiceDep = Annotated[Service, Depends(ready_service)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
