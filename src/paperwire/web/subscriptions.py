"""Subscription pages. Placeholder until the digest issue: the home page's form stores the
request; the digest flow (double opt-in, preferences) replaces this module."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from paperwire.service import Service
from paperwire.web.auth import CSRF_FIELD, Auth, normalise_email
from paperwire.web.render import render

router = APIRouter(include_in_schema=False)


@router.post("/subscribe")
def subscribe(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
) -> Response:
    auth: Auth = request.app.state.auth
    auth.check_csrf(request, csrf_token)
    try:
        address = normalise_email(email)
    except ValueError as exc:
        return render(
            request, "subscribe.html", {"error": str(exc), "email": email}, status_code=400
        )
    service: Service = request.app.state.service
    service.accounts.add_subscription_request(address)
    return render(request, "subscribe.html", {"error": None, "email": address})
