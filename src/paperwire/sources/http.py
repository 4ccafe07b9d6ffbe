"""A small polite HTTP client shared by the network sources.

- at least ``Settings.request_delay`` seconds between the end of one request and the start
  of the next to the same host (arXiv asks for 3 s);
- HTTP 503/429 retried after ``Retry-After`` (seconds or an HTTP-date), refusing waits
  longer than ``Settings.max_retry_after``;
- connection errors, resets, timeouts and other 5xx retried with exponential backoff,
  ``Settings.http_retries`` times;
- ``Settings.http_timeout`` bounds a whole request (body included), and a body larger than
  ``Settings.http_max_body_mb`` decoded stops at once (no retry);
- redirects followed only within the same host (http to https allowed), at most
  MAX_REDIRECTS, each hop paced like a request;
- everything else (4xx, exhausted retries) raises :class:`SourceError` saying what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from paperwire.config import Settings
from paperwire.graphemes import shorten
from paperwire.numbers import is_ascii_digits

USER_AGENT = "paperwire/0.1 (self-hosted paper discovery; polite harvester)"
MAX_BACKOFF = 60.0
ARXIV_MIN_DELAY = 3.0  # arXiv's rule; a lower request_delay only applies to other hosts
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The body handed on is decoded, so these no longer describe it.
DECODED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class SourceError(RuntimeError):
    """A remote source failed in a way retrying will not fix; the message says what to do.
    `progress`, when a harvest set it: what was stored before the failure and how to
    resume (added to the message)."""

    progress: str = ""

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}; {self.progress}" if self.progress else text


class SourceUnreachable(SourceError):
    """The host could not be reached at all (no network, DNS, refused, timeouts)."""


class ResponseTooLarge(SourceError):
    """A response body passed Settings.http_max_body_mb (decompressed); not retried."""


class RedirectRefused(SourceError):
    """A redirect to another host, or too many redirects; not followed, not retried."""


def same_host(origin: httpx.URL, target: httpx.URL) -> bool:
    """Whether a redirect from `origin` to `target` stays on its host: the same host name
    and port, the scheme the same or upgraded from http to https (default ports)."""
    if target.host.lower() != origin.host.lower():
        return False
    if (origin.scheme, target.scheme) == ("http", "https"):
        return origin.port is None and target.port is None
    return target.scheme == origin.scheme and target.port == origin.port


def _origin(url: httpx.URL) -> str:
    """scheme://host[:port] of `url`: names a host without its path or query (which can
    carry secrets of a redirect target)."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def request_delay_for(host: str, configured: float) -> float:
    """Seconds between requests to `host`: never below arXiv's 3 s for arxiv.org hosts, so
    request_delay=0 (for tests against loopback servers) cannot make us impolite to arXiv."""
    name = host.rsplit(":", 1)[0].lower()
    if name == "arxiv.org" or name.endswith(".arxiv.org"):
        return max(configured, ARXIV_MIN_DELAY)
    return configured


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent
    or unreadable. Dates in the past mean 0."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if is_ascii_digits(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PoliteClient:
    """Synchronous client; one per harvest. Use as a context manager."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._last_done: dict[str, float] = {}  # host -> monotonic time the last request ended
        self._http = httpx.Client(
            timeout=settings.http_timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,  # followed by _send: same host only, each hop paced
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        *,
        ok_status: Collection[int] = (200,),
    ) -> httpx.Response:
        """GET with politeness and retries. Returns a response whose status is in `ok_status`
        with its body fully read; raises SourceError otherwise."""
        host = urlsplit(url).netloc
        attempt = 0
        while True:
            try:
                response = self._send(self._http.build_request("GET", url, params=params))
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise SourceError(f"bad source URL {url!r}: {exc} (check the settings)") from exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                attempt += 1
                if attempt > self.settings.http_retries:
                    raise SourceUnreachable(
                        f"cannot reach {host} after {attempt} tries "
                        f"({type(exc).__name__}: {exc or 'no detail'})"
                    ) from exc
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code in ok_status:
                return response
            attempt += 1
            self._sleep(self._retry_wait(response, attempt, host))

    def _send(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, following up to MAX_REDIRECTS redirects within its host (each
        hop paced like a request); the response read in full within the limits."""
        origin = request.url
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._read_one(request)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or location is None:
                return response
            target = request.url.join(location)
            if not same_host(origin, target):
                raise RedirectRefused(
                    f"{_origin(request.url)} redirected (HTTP {response.status_code}) to "
                    f"another host, {_origin(target)}; not followed: paperwire follows "
                    "redirects only within the host of the configured URL (check the "
                    "source URL settings)"
                )
            request = self._http.build_request("GET", target)
        raise RedirectRefused(
            f"{_origin(origin)} redirected more than {MAX_REDIRECTS} times in a row (last "
            f"to {target.copy_with(query=None)}); stopped — check the source URL settings"
        )

    def _read_one(self, request: httpx.Request) -> httpx.Response:
        """One paced request, its decoded body read within http_max_body_mb and the whole
        exchange within http_timeout (httpx's own timeout is per read)."""
        host = request.url.netloc.decode("ascii")
        self._wait_turn(host)
        limit = int(self.settings.http_max_body_mb * 1_000_000)
        deadline = time.monotonic() + self.settings.http_timeout
        body = bytearray()
        try:
            response = self._http.send(request, stream=True)
            try:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise ResponseTooLarge(
                            f"{_origin(request.url)} sent a response body larger than "
                            f"http_max_body_mb={self.settings.http_max_body_mb:g} MB "
                            "(decompressed); stopped reading and not retried. Raise "
                            "PAPERWIRE_HTTP_MAX_BODY_MB if this source really sends pages "
                            "that big"
                        )
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout(
                            f"the response took longer than http_timeout="
                            f"{self.settings.http_timeout:g} s in all",
                            request=request,
                        )
            finally:
                response.close()
        finally:
            self._last_done[host] = time.monotonic()
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in DECODED_HEADERS
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=bytes(body), request=request
        )

    def _wait_turn(self, host: str) -> None:
        last = self._last_done.get(host)
        delay = request_delay_for(host, self.settings.request_delay)
        if last is None or delay <= 0:
            return
        remaining = delay - (time.monotonic() - last)
        if remaining > 0:
            self._sleep(remaining)

    def _backoff(self, attempt: int) -> float:
        return float(min(MAX_BACKOFF, self.settings.retry_backoff * 2 ** (attempt - 1)))

    def _retry_wait(self, response: httpx.Response, attempt: int, host: str) -> float:
        """Seconds to wait before retrying `response`, or raise SourceError if it must not be
        retried (4xx, too many tries, too long a Retry-After)."""
        status = response.status_code
        where = f"{host} answered HTTP {status} for {response.request.url}"
        if status not in (429,) and status < 500:
            raise SourceError(f"{where}: {_snippet(response)} (check the request parameters)")
        if attempt > self.settings.http_retries:
            raise SourceError(
                f"{where} {attempt} times in a row; the service seems down — try again later "
                f"(http_retries={self.settings.http_retries})"
            )
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is None:
            return self._backoff(attempt)
        if wait > self.settings.max_retry_after:
            raise SourceError(
                f"{where} and asks to retry after {wait:.0f} s, longer than "
                f"max_retry_after={self.settings.max_retry_after:.0f} s; try again later "
                "or raise PAPERWIRE_MAX_RETRY_AFTER"
            )
        return max(wait, self.settings.request_delay)


def _snippet(response: httpx.Response, limit: int = 300) -> str:
    return shorten(" ".join(response.text.split()), limit, words=False)
