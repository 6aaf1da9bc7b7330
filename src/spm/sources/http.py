"""HTTP access to source systems: one session, timeouts, bounded retries with backoff.

401/403 fail at once with the connection named (retrying a wrong credential only locks accounts);
5xx, timeouts and dropped connections are retried with exponential backoff; 429 waits for
`Retry-After`. Nothing from response bodies that could hold personal data is put in messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import requests
import requests.adapters
import requests.auth
import urllib3

from spm.errors import SpmError
from spm.sources.connections import SourceConnection

log = logging.getLogger(__name__)


class SourceError(SpmError):
    """The source answered in a way the contract does not allow."""


class SourceAuthError(SourceError):
    """Credentials refused; retrying will not help."""


class SourceNotFound(SourceError):
    """The source has no data for what was asked (HTTP 404)."""


class SourceUnavailable(SourceError):
    """The source kept failing (5xx, timeouts) after the bounded retries."""


class BodyCutShort(SourceUnavailable):
    """An answer's body stopped short of its length, or stalled, in transit."""


class _HeadersOnly(requests.auth.AuthBase):
    """The sessions' auth: requests go out as the client built them (each source sets its own
    credentials headers). With no session auth, requests reads ~/.netrc before every request and a
    matching entry replaces the Authorization header: a worker's netrc must never stand in for the
    Airflow connection's credentials, nor be sent to a source. Its two file checks per request also
    each gave up the interpreter lock, which a busy loading thread then held for up to 5 ms."""

    def __call__(self, r):
        return r


class _PlainHttpAdapter(requests.adapters.HTTPAdapter):
    """http:// has no certificate to verify. With a CA bundle in the environment (REQUESTS_CA_BUNDLE,
    common in Docker images) requests checks that path on disk before every request, giving up the
    interpreter lock each time (~4 s of the FHIR download thread's wall time in a backfill beside a
    busy loading thread). HTTPS is untouched and verified as always."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        return super().build_connection_pool_key_attributes(request, False, cert)


STALE_CREDENTIAL_REPEATS = 20


class SourceClient:
    def __init__(
        self,
        conn: SourceConnection,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        max_retry_after_seconds: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        connections: int = 10,
    ) -> None:
        self.conn = conn
        self.session = requests.Session()
        self.session.auth = _HeadersOnly()  # proxies from the environment still apply (trust_env)
        # `connections`: kept open per host, at least the requests this client's threads make at once
        # (past it urllib3 drops the extra connections and opens new ones).
        self.session.mount("http://", _PlainHttpAdapter(pool_maxsize=connections))
        self.session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=connections))
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.sleep = sleep
        self.requests_made = 0
        self.retries = 0

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.conn.base_url}/{path.lstrip('/')}"

    def auth_headers(self) -> dict[str, str]:
        """Overridden per source (Bearer token, API key, OAuth2)."""
        return {}

    def on_unauthorized(self) -> bool:
        """Called on 401; return True when credentials were refreshed and the request may be repeated."""
        return False

    def sent_stale_credentials(self) -> bool:
        """After on_unauthorized: whether the refused credentials had worked before (a token that
        expired, or that threads sharing it used up); its repeat is then not the request's one
        refresh. Several threads sharing a token that dies after a few uses lose such races
        repeatedly: up to STALE_CREDENTIAL_REPEATS per request."""
        return False

    def on_authorized(self) -> None:
        """Called when the request this thread sent with its credentials was answered (2xx/3xx)."""

    def request(
        self, method: str, path: str, *, params: Mapping | list | None = None, data: Mapping | None = None,
        headers: Mapping[str, str] | None = None, stream: bool = False,
    ) -> requests.Response:
        """The answer to a request, retried as the module says. `stream`: a 2xx body is left unread
        (get_content reads it); any other is read here, which frees the connection."""
        url = self.url(path)
        attempt, refreshed, stale = 0, False, 0
        while True:
            attempt += 1
            self.requests_made += 1
            try:
                resp = self.session.request(
                    method, url, params=params, data=data, timeout=self.timeout,
                    headers={**self.auth_headers(), **(headers or {})}, stream=stream,
                )
                if stream and not 200 <= resp.status_code < 300:
                    resp.content  # noqa: B018 - read, so that the connection goes back to the pool
            except (requests.ConnectionError, requests.Timeout) as exc:
                self._retry_or_raise(attempt, f"{type(exc).__name__}")
                continue
            if resp.status_code in (401, 403):
                if resp.status_code == 401 and not refreshed and self.on_unauthorized():
                    # A token that expired after its credentials worked (used up or renewed by
                    # another thread) is no refused credential: repeat (bounded), still allowed one
                    # refresh of its own.
                    if self.sent_stale_credentials() and stale < STALE_CREDENTIAL_REPEATS:
                        stale += 1
                    else:
                        refreshed = True
                    attempt -= 1  # a refreshed token is not a failed attempt
                    continue
                raise SourceAuthError(
                    f"{self.conn.conn_id}: {self.conn.base_url} refused the credentials (HTTP {resp.status_code}); "
                    f"check the password/login of connection {self.conn.conn_id!r}"
                )
            if resp.status_code == 429:
                wait = _retry_after(resp, self.backoff_seconds)
                if attempt >= self.max_attempts * 2 or wait > self.max_retry_after_seconds:
                    raise SourceUnavailable(f"{self.conn.conn_id}: still rate-limited (HTTP 429) after {attempt} tries")
                log.info("%s: rate-limited, waiting %.1fs as Retry-After asks", self.conn.conn_id, wait)
                self.retries += 1
                self.sleep(wait)
                continue
            if resp.status_code >= 500:
                self._retry_or_raise(attempt, f"HTTP {resp.status_code}")
                continue
            if resp.status_code == 404:
                raise SourceNotFound(f"{self.conn.conn_id}: {_describe(path, params)} not found (HTTP 404): "
                                     f"{_short(resp.text)}")
            if resp.status_code >= 400:
                raise SourceError(f"{self.conn.conn_id}: {_describe(path, params)} refused (HTTP {resp.status_code}): "
                                  f"{_short(resp.text)}")
            self.on_authorized()
            return resp

    def get(self, path: str, params: Mapping | list | None = None) -> requests.Response:
        return self.request("GET", path, params=params)

    def get_content(self, path: str, params: Mapping | list | None = None) -> bytes:
        """The body of a GET, read in one call. requests' `.content` reads 10 KB at a time, and each
        read waits for the GIL again while another thread of the task works: an 800 KB FHIR page
        took 84 ms that way beside a busy thread, 19 ms in one read."""
        resp = self.request("GET", path, params=params, stream=True)
        with resp:
            try:
                return resp.raw.read(decode_content=True)
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                raise BodyCutShort(f"{self.conn.conn_id}: {_describe(path, params)}: the body was cut short in "
                                   f"transit ({type(exc).__name__})") from None

    def _retry_or_raise(self, attempt: int, what: str) -> None:
        if attempt >= self.max_attempts:
            raise SourceUnavailable(f"{self.conn.conn_id}: {self.conn.base_url} failed {attempt} times ({what}); giving up")
        wait = min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)
        log.warning("%s: %s, retry %d/%d in %.1fs", self.conn.conn_id, what, attempt, self.max_attempts - 1, wait)
        self.retries += 1
        self.sleep(wait)

    def close(self) -> None:
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _retry_after(resp: requests.Response, default: float) -> float:
    value = resp.headers.get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return default


def _describe(path: str, params) -> str:
    shown = dict(params) if isinstance(params, Mapping) else params
    return f"{path} {shown}" if shown else path


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")
