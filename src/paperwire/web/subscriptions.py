"""Subscription pages (subscribe, confirm, manage, unsubscribe) and the delivery-status
JSON for admins. A thin shell: every decision is made by the Service."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from paperwire.digest.digests import SubscriptionError
from paperwire.digest.scheduler import DigestScheduler
from paperwire.mail import MAIL_DOWN, DeliveryError
from paperwire.models import Subscriber
from paperwire.service import Service
from paperwire.web.schemas import ErrorOut


@asynccontextmanager
async def _scheduler_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Included with the router (FastAPI merges router lifespans into the app's): the
    digest scheduler runs while the app serves, when Settings.digest_scheduler is on."""
    start_scheduler(app)
    try:
        yield
    finally:
        stop_scheduler(app)


router = APIRouter(lifespan=_scheduler_lifespan)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
PREFERENCE_FORM_FIELDS = (
    "frequency",
    "weekday",
    "send_time",
    "timezone",
    "categories",
    "saved_searches",
    "followed_authors",
    "max_papers",
)


def _service(request: Request) -> Service:
    return _app_service(request.app)


def _app_service(app: FastAPI) -> Service:
    service: Service | None = getattr(app.state, "service", None)
    if service is None:
        service = Service(app.state.settings)
        app.state.service = service
    return service


def _page(
    request: Request, name: str, title: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Inside the full site (web issue: app.state.auth and its renderer) pages use the
    site's base layout, signed-in user and CSRF token; on a bare app a small layout of
    their own."""
    full = {"title": title, **context}
    site_render = _site_renderer(request)
    if site_render is not None:
        page: HTMLResponse = site_render(
            request, f"subscriptions/{name}", {**full, "layout": "base.html"}, status_code
        )
        return page
    return templates.TemplateResponse(
        request,
        f"subscriptions/{name}",
        {**full, "layout": "subscriptions/_layout.html"},
        status_code=status_code,
    )


def _site_renderer(request: Request) -> Any:
    if getattr(request.app.state, "auth", None) is None:
        return None
    try:
        from paperwire.web.render import render
    except ImportError:
        return None
    return render


def _check_csrf(request: Request, form: Any) -> None:
    """The site's CSRF check (web issue) when the app has one. Manage forms also carry a
    secret signed token, and one-click unsubscribe is exempt (RFC 8058)."""
    auth = getattr(request.app.state, "auth", None)
    if auth is not None and hasattr(auth, "check_csrf"):
        token = form.get("csrf_token")
        auth.check_csrf(request, str(token) if token is not None else None)


def _message(
    request: Request, title: str, message: str, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    error = status_code >= 400
    return _page(request, "message.html", title, status_code, message=message, error=error, **extra)


@router.get("/subscribe", response_class=HTMLResponse, include_in_schema=False)
def subscribe_form(request: Request) -> HTMLResponse:
    return _page(request, "subscribe.html", "Subscribe to the digest")


@router.post("/subscribe", response_class=HTMLResponse, include_in_schema=False)
async def subscribe(request: Request) -> HTMLResponse:
    """Same response whether or not the address is known (no enumeration)."""
    form = await request.form()
    _check_csrf(request, form)
    email = str(form.get("email", ""))
    prefs = {k: str(form[k]) for k in ("frequency", "categories", "timezone") if form.get(k)}
    try:
        _service(request).digest.subscribe(email, prefs)
    except SubscriptionError as exc:
        return _page(
            request, "subscribe.html", "Subscribe to the digest", 400, error=str(exc), email=email
        )
    except DeliveryError:  # the same for every address (see mail.send_rate_limited)
        return _message(request, "Try again later", MAIL_DOWN, 503)
    return _page(request, "subscribe.html", "Check your inbox", done=True)


@router.get("/subscribe/confirm", response_class=HTMLResponse, include_in_schema=False)
def confirm_form(request: Request, token: str = "") -> HTMLResponse:
    """What the emailed link opens: the address and one button. Opening it (GET, HEAD)
    changes nothing, so mail scanners that open every link cannot confirm a
    subscription someone else typed in."""
    service = _service(request)
    try:
        sub = service.digest.subscriber_to_confirm(token)
    except SubscriptionError as exc:
        return _message(request, "Link not valid", str(exc), 400)
    if sub.status == "active":
        return _subscribed(request, service, sub)
    return _page(request, "confirm.html", "Confirm your subscription", sub=sub, token=token)


@router.post("/subscribe/confirm", response_class=HTMLResponse, include_in_schema=False)
async def confirm(request: Request) -> HTMLResponse:
    """The confirm page's button: double opt-in done."""
    form = await request.form()
    _check_csrf(request, form)
    service = _service(request)
    try:
        sub = service.digest.confirm_subscription(str(form.get("token", "")))
    except SubscriptionError as exc:
        return _message(request, "Link not valid", str(exc), 400)
    return _subscribed(request, service, sub)


def _subscribed(request: Request, service: Service, sub: Subscriber) -> HTMLResponse:
    manage = service.digest.manage_url(sub)
    return _message(
        request, "Subscribed", f"{sub.email} will receive the paperwire digest.", manage_url=manage
    )


@router.get("/subscribe/manage", response_class=HTMLResponse, include_in_schema=False)
def manage_form(request: Request, token: str = "") -> HTMLResponse:
    return _manage_page(request, token)


def _manage_page(
    request: Request,
    token: str,
    saved: bool = False,
    error: str | None = None,
    submitted: dict[str, str] | None = None,
) -> HTMLResponse:
    """The preferences form: the stored values, or after an error the values the reader
    submitted (they were thrown away, the form showing the stored ones again)."""
    service = _service(request)
    try:
        sub = service.digest.subscriber_for_token(token, "manage")
    except SubscriptionError as exc:
        return _message(request, "Link not valid", str(exc), 400)
    shown = {
        "frequency": sub.frequency,
        "weekday": str(sub.weekday),
        "send_time": sub.send_time,
        "timezone": sub.timezone,
        "categories": " ".join(sub.categories),
        "saved_searches": "\n".join(sub.saved_searches),
        "followed_authors": "\n".join(sub.followed_authors),
        "max_papers": str(sub.max_papers),
    } | (submitted or {})
    context = {
        "sub": sub,
        "shown": shown,
        "token": token,
        "weekdays": WEEKDAYS,
        "unsubscribe_url": service.digest.unsubscribe_url(sub),
        "saved": saved,
        "error": error,
    }
    return _page(request, "manage.html", "Your digest", 400 if error else 200, **context)


@router.post("/subscribe/manage", response_class=HTMLResponse, include_in_schema=False)
async def manage(request: Request) -> HTMLResponse:
    form = await request.form()
    _check_csrf(request, form)
    token = str(form.get("token", ""))
    values = {k: str(form[k]) for k in PREFERENCE_FORM_FIELDS if k in form}
    try:
        _service(request).digest.update_subscription(token, values)
    except SubscriptionError as exc:
        return _manage_page(request, token, error=str(exc), submitted=values)
    return _manage_page(request, token, saved=True)


@router.get("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_form(request: Request, token: str = "") -> HTMLResponse:
    try:
        sub = _service(request).digest.subscriber_for_token(token, "unsubscribe")
    except SubscriptionError as exc:
        return _message(request, "Link not valid", str(exc), 400)
    return _page(request, "unsubscribe.html", "Unsubscribe", sub=sub, token=token)


@router.post("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe(request: Request, token: str = "") -> HTMLResponse:
    """RFC 8058 one-click target (List-Unsubscribe-Post) and the page's button."""
    try:
        sub = _service(request).digest.unsubscribe(token)
    except SubscriptionError as exc:
        return _message(request, "Link not valid", str(exc), 400)
    return _message(request, "Unsubscribed", f"{sub.email} will receive no more digests.")


_TEXT = {"schema": {"type": "string"}}
_STATUS_SHOWN = (
    "Outbox counts by status, subscribers by status, and the retrying, failed and "
    "in-flight messages with their SMTP replies."
)
ADMIN_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": _STATUS_SHOWN},
    401: {
        "model": ErrorOut,
        "description": "No `Authorization: Bearer <admin_token>`, or a wrong token.",
        "headers": {"WWW-Authenticate": {**_TEXT, "description": "Bearer"}},
    },
    404: {"model": ErrorOut, "description": "The admin API is off: no admin_token is set."},
    503: {
        "model": ErrorOut,
        "description": "The database is unavailable; try again shortly.",
        "headers": {"Retry-After": {**_TEXT, "description": "Seconds to wait."}},
    },
}


@router.get("/admin/digest/status", responses=ADMIN_ANSWERS)
def digest_status(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    """Outbox counts and the retrying/failed messages with their SMTP replies.
    Needs `Authorization: Bearer <Settings.admin_token>`."""
    service = _service(request)
    expected = service.settings.admin_token
    scheme, _, given = request.headers.get("authorization", "").strip().partition(" ")
    if not expected:
        return JSONResponse({"error": "admin API disabled: set PAPERWIRE_ADMIN_TOKEN"}, 404)
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        return JSONResponse(
            {"error": "admin token missing or wrong: send Authorization: Bearer <admin_token>"},
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return JSONResponse(service.digest.status(limit))


def start_scheduler(app: FastAPI) -> None:
    """Run the digest scheduler in a background thread when Settings.digest_scheduler is
    true (does nothing otherwise); the router's lifespan calls it."""
    settings = app.state.settings
    if settings.digest_scheduler and getattr(app.state, "digest_scheduler", None) is None:
        scheduler = DigestScheduler(settings, _app_service(app).digest.run)
        scheduler.start()
        app.state.digest_scheduler = scheduler


def stop_scheduler(app: FastAPI) -> None:
    scheduler = getattr(app.state, "digest_scheduler", None)
    if scheduler is not None:
        scheduler.stop()
        app.state.digest_scheduler = None
