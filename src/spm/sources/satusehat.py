"""SATUSEHAT-style FHIR R4 hub of one kabupaten/kota (DESIGN §3.3): OAuth2 token and paged searches.

Auth: OAuth2 client credentials (`POST /oauth2/v1/accesstoken?grant_type=client_credentials` with the
connection's login = client_id and password = client_secret as form fields). The token is reused
until shortly before its `expires_in`, and refreshed once when a request answers 401 (expired or
revoked early); a token request that is itself refused fails at once naming the connection.

Search: `GET /fhir-r4/v1/<Type>?_lastUpdated=ge<dari>&_lastUpdated=lt<sampai>&_count=<n>`, then the
Bundle's `next` link to the end. 5xx, timeouts and dropped connections are retried with bounded
exponential backoff and 429 waits for `Retry-After` (spm.sources.http); a page whose JSON is cut short
or is not a searchset Bundle is asked again within the same bounds. Pages are decoded into the kept fields
(msgspec typed Structs, spm.sources.fhir_typed); a page that does not fit is parsed with orjson with
the garbage collector paused (a page is thousands of small dicts that all stay alive until the page
is flattened: collecting in between only costs time).

Several threads may share one client (a type's window is searched in `paralel` parts at once, see
spm.ingest.kesehatan_stream): one of them fetches a token while the others wait for it, and once a
token has worked, a 401 (a token expired, used up by the threads sharing it or renewed by one of
them) is repeated with a new one; credentials refused before any token worked fail after one refresh.

Connection extra (all optional): `page_size` (`_count`, default 1000), `paralel` (searches of one
type at once, each over its own part of the window, default 2; 1 searches the window whole),
`timeout` (read timeout in seconds, default 60), `max_attempts` (default 5), `backoff_seconds`
(default 0.5).
"""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from spm.errors import ConfigError
from spm.sources.connections import SourceConnection
from spm.sources.http import BodyCutShort, SourceClient, SourceError, SourceUnavailable

log = logging.getLogger(__name__)

CONN_ID = "spm_satusehat"
TOKEN_PATH = "/oauth2/v1/accesstoken"
FHIR_PATH = "/fhir-r4/v1"
RESOURCE_TYPES = ("Patient", "Encounter", "Observation", "Condition")
DEFAULT_PAGE_SIZE = 1000
DEFAULT_PARALEL = 2  # a hub across a network answers a page slower than it is validated: 1.5x at 100 ms a page
TOKEN_MARGIN_SECONDS = 30  # renew this long before the server's expiry: a request may be in flight


def conn_id_for(kode_kab_kota: str) -> str:
    """The per-hub connection id of a kab/kota: `spm_satusehat_3271` for 32.71."""
    return f"{CONN_ID}_{kode_kab_kota.replace('.', '')}"




@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector (restored afterwards, also on error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def fhir_instant(moment: datetime) -> str:
    """An aware datetime as the UTC instant FHIR search takes (`2025-01-01T00:00:00Z`)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone; FHIR window bounds must be instants")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + "Z"


@dataclass(frozen=True)
class Page:
    """One searchset page: the resources of the asked type, and the server's `total` (if given)."""
    resources: list  # dicts; or, when `typed`, spm.sources.fhir_typed Structs of the kept fields
    total: int | None
    next_url: str | None
    sha256: str = ""  # of the page body: the batch checksum is made of these
    typed: bool = False


class SatusehatClient(SourceClient):
    """A session with the hub's token, shared by the ingest's download threads (one per part of a window)."""

    def __init__(self, conn: SourceConnection, *, page_size: int | None = None,
                 clock=time.monotonic, typed_pages: bool = True, **kwargs) -> None:
        kwargs.setdefault("timeout", (5.0, conn.extra_number("timeout", 60.0, 1.0, float)))
        kwargs.setdefault("max_attempts", conn.extra_number("max_attempts", 5, 1))
        kwargs.setdefault("backoff_seconds", conn.extra_number("backoff_seconds", 0.5, 0.0, float))
        self.paralel = conn.extra_number("paralel", DEFAULT_PARALEL, 1)
        # This type's searches, the next type's (it starts before the last chunk is staged), a token.
        kwargs.setdefault("connections", max(10, 2 * self.paralel + 1))
        super().__init__(conn, **kwargs)
        if not conn.login:
            raise ConfigError(f"connection {conn.conn_id!r} has no client id (put it in the connection's login)")
        self._client_secret = conn.require_password("client secret")
        self.page_size = page_size or conn.extra_number("page_size", DEFAULT_PAGE_SIZE, 1)
        self._clock = clock  # token lifetime only: monotonic, never the wall clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._worked = False  # some data request was answered with a token of these credentials
        self._token_lock = threading.Lock()  # one thread fetches a token; the others wait for it
        self._thread = threading.local()  # per thread: asking for a token now, the token last sent
        self.tokens_fetched = 0
        self.typed_pages = typed_pages  # pages' resources as fhir_typed Structs where they fit (parse_page)

    # -- OAuth2 client credentials ----------------------------------------------------------------
    def _fetch_token(self) -> None:
        self._thread.requesting_token = True
        try:
            resp = self.request("POST", f"{TOKEN_PATH}?grant_type=client_credentials",
                                data={"client_id": self.conn.login, "client_secret": self._client_secret})
        finally:
            self._thread.requesting_token = False
        try:
            body = orjson.loads(resp.content)
            token = body["access_token"]
            ttl = float(body.get("expires_in") or 0)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise SourceError(f"{self.conn.conn_id}: the token answer of {self.conn.base_url}{TOKEN_PATH} "
                              "has no access_token/expires_in (OAuth2 client credentials)") from None
        if not isinstance(token, str) or not token:
            raise SourceError(f"{self.conn.conn_id}: the token answer holds an empty access_token")
        self._token = token
        self._token_expires = self._clock() + max(ttl - TOKEN_MARGIN_SECONDS, ttl / 2)
        self.tokens_fetched += 1
        log.info("%s: new access token, valid %.0fs", self.conn.conn_id, ttl)

    def auth_headers(self) -> dict[str, str]:
        if getattr(self._thread, "requesting_token", False):
            return {}
        with self._token_lock:
            if self._token is None or self._clock() >= self._token_expires:
                self._fetch_token()
            token = self._thread.sent = self._token
        return {"Authorization": f"Bearer {token}"}

    def on_unauthorized(self) -> bool:
        if getattr(self._thread, "requesting_token", False):
            return False  # the client id/secret themselves were refused
        with self._token_lock:
            # Once a token of these credentials has worked, a 401 is a token that expired, was used
            # up by the other threads or renewed by one of them: repeating it is no refused credential.
            self._thread.stale = self._worked
            if self._token == getattr(self._thread, "sent", None):
                self._token = None  # the next auth_headers() fetches a fresh one
        return True

    def on_authorized(self) -> None:
        if not self._worked and not getattr(self._thread, "requesting_token", False):
            self._worked = True

    def sent_stale_credentials(self) -> bool:
        return getattr(self._thread, "stale", False)

    # -- search -----------------------------------------------------------------------------------
    def search_url(self, resource_type: str, dari: datetime, sampai: datetime) -> str:
        if resource_type not in RESOURCE_TYPES:
            raise ValueError(f"resource type {resource_type!r} is not one of {', '.join(RESOURCE_TYPES)}")
        return (f"{self.conn.base_url}{FHIR_PATH}/{resource_type}?_lastUpdated=ge{fhir_instant(dari)}"
                f"&_lastUpdated=lt{fhir_instant(sampai)}&_count={self.page_size}")

    def page(self, url: str, resource_type: str) -> Page:
        """One page, asked again (bounded, with backoff) while its body is not a whole Bundle."""
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    content = self.get_content(url)
                except BodyCutShort as exc:
                    raise _BrokenPage("a body cut short in transit") from exc
                return parse_page(content, resource_type, self.conn.conn_id, self.typed_pages)
            except _BrokenPage as exc:
                if attempt >= self.max_attempts:
                    raise SourceUnavailable(f"{self.conn.conn_id}: {resource_type} page answered {exc} "
                                            f"{attempt} times; giving up") from None
                wait = min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)
                log.warning("%s: %s page %s, retry %d/%d in %.1fs", self.conn.conn_id, resource_type, exc,
                            attempt, self.max_attempts - 1, wait)
                self.retries += 1
                self.sleep(wait)

    def pages(self, resource_type: str, dari: datetime, sampai: datetime) -> Iterator[Page]:
        """Every page of the window, following `next` links to the end."""
        url: str | None = self.search_url(resource_type, dari, sampai)
        seen: set[str] = set()
        while url:
            if url in seen:
                raise SourceError(f"{self.conn.conn_id}: {resource_type} paging loops back to a page already "
                                  "read (the next link repeats)")
            seen.add(url)
            page = self.page(url, resource_type)
            yield page
            url = page.next_url


class _BrokenPage(Exception):
    """A 200 whose body is not a complete searchset Bundle (cut short in transit, most often)."""


def parse_page(content: bytes, resource_type: str, conn_id: str = CONN_ID, typed: bool = False) -> Page:
    """The resources of one Bundle page. A body that is not JSON or not a searchset Bundle is a
    broken page (asked again); a resource of another type breaks the contract. `typed`: decode a
    well-formed page straight into the kept fields (spm.sources.fhir_typed, ~2.5x faster); any
    other page is read the general way below, which says what is wrong with it."""
    if typed:
        from spm.sources.fhir_typed import NotTyped, decode_page

        try:
            resources, total, next_url = decode_page(content, resource_type)
            return Page(resources, total, next_url, hashlib.sha256(content).hexdigest(), typed=True)
        except NotTyped:
            pass
    with gc_paused():
        try:
            bundle = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise _BrokenPage("JSON cut short or malformed") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise _BrokenPage("something other than a Bundle")
    if bundle.get("type") != "searchset":
        raise SourceError(f"{conn_id}: {resource_type} search answered a Bundle of type {bundle.get('type')!r}, "
                          "not searchset")
    resources = []
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise SourceError(f"{conn_id}: a {resource_type} Bundle entry has no resource")
        kind = resource.get("resourceType")
        if kind == resource_type:
            resources.append(resource)
        elif kind == "OperationOutcome":  # search.mode "outcome": warnings about the search itself
            continue
        else:
            raise SourceError(f"{conn_id}: the {resource_type} search returned a {kind!r} resource")
    next_url = None
    for link in bundle.get("link") or ():
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            next_url = link["url"]
    total = bundle.get("total")
    return Page(resources, total if isinstance(total, int) else None, next_url, hashlib.sha256(content).hexdigest())

