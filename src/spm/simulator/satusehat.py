"""SATUSEHAT-style FHIR R4 hub of one kabupaten/kota (DESIGN §3.3): OAuth2 token and searches."""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from datetime import date, datetime, timezone
from functools import cached_property
from urllib.parse import parse_qs, quote

import numpy as np

from spm.simulator.http_base import HttpError, Request, Response, SourceApp, int_param
from spm.simulator.records import RENDERERS, patient_resources

TOKEN_PATH = "/oauth2/v1/accesstoken"
FHIR_PREFIX = "/fhir-r4/v1/"
RESOURCE_TYPES = ("Patient", "Encounter", "Observation", "Condition")
DEFAULT_COUNT = 100
_BOUND = re.compile(r"^(ge|gt|le|lt)(\d{4}-\d{2}-\d{2}.*)$")


def parse_instant(text: str) -> float:
    """ISO date or date-time as seconds since the epoch; without a zone it is UTC."""
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(400, f"_lastUpdated value {text!r} is not an ISO date or date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def bound_position(sorted_lu: np.ndarray, instant: float, side: str) -> int:
    """`np.searchsorted(sorted_lu, instant, side)` for whole seconds (int64) and a bound that may have a
    fraction or be infinite. The bound is rounded to a whole second first (up for "left", down for
    "right", which keeps every comparison as it was): searching an int64 array for a float converts
    the whole array to float64, once per page, which at full scale was most of the hub's time."""
    if math.isinf(instant):
        return 0 if instant < 0 else len(sorted_lu)
    whole = math.ceil(instant) if side == "left" else math.floor(instant)
    return int(np.searchsorted(sorted_lu, np.asarray(whole, dtype=sorted_lu.dtype), side=side))


class TokenStore:
    """Issued access tokens with their expiry time and number of uses."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens: dict[str, list] = {}

    def issue(self, ttl: int) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = [time.monotonic() + ttl, 0]
        return token

    def use(self, token: str, max_uses: int | None) -> str:
        """'ok', 'unknown' or 'expired'; an expired token is forgotten."""
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return "unknown"
            if time.monotonic() >= entry[0] or (max_uses is not None and entry[1] >= max_uses):
                del self._tokens[token]
                return "expired"
            entry[1] += 1
            return "ok"

    def expire_all(self):
        with self._lock:
            self._tokens.clear()


class SatusehatApp(SourceApp):
    name = "satusehat"

    def __init__(self, world, faults):
        super().__init__(world, faults)
        self.area = world.fhir
        self.tokens = TokenStore()

    def error(self, status: int, message: str) -> Response:
        code = {400: "invalid", 401: "login", 404: "not-found", 405: "not-supported", 429: "throttled"}.get(
            status, "exception")
        return Response.json(status, {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "details": {"text": message}}],
        })

    def handle(self, req: Request) -> Response:
        if req.path == TOKEN_PATH:
            return self._token(req)
        if not req.path.startswith(FHIR_PREFIX):
            raise HttpError(404, f"no such endpoint {req.path}; use {TOKEN_PATH} or {FHIR_PREFIX}<Type>")
        kind = req.path[len(FHIR_PREFIX):]
        if kind not in RESOURCE_TYPES:
            raise HttpError(404, f"resource type {kind!r} is not served; use one of {', '.join(RESOURCE_TYPES)}")
        if req.method != "GET":
            raise HttpError(405, f"{req.method} is not supported; search with GET")
        self._authorize(req)
        return self._search(req, kind)

    # -- OAuth2 client credentials ---------------------------------------------------------
    def _token(self, req: Request) -> Response:
        if req.method != "POST":
            raise HttpError(405, "request a token with POST")
        params = req.params(("grant_type",))
        if params.get("grant_type", [""])[0] != "client_credentials":
            raise HttpError(400, "grant_type=client_credentials is required in the query string")
        form = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        client_id = form.get("client_id", [""])[0]
        client_secret = form.get("client_secret", [""])[0]
        if not client_id or not client_secret:
            raise HttpError(400, "form fields client_id and client_secret are required")
        if (client_id, client_secret) != (self.config.satusehat_client_id, self.config.satusehat_client_secret):
            self.log.count("bad_credentials")
            return Response.json(401, {"error": "invalid_client", "error_description": "wrong client_id or client_secret"})
        ttl = self.config.token_ttl_seconds
        self.log.count("tokens_issued")
        return Response.json(200, {
            "access_token": self.tokens.issue(ttl),
            "token_type": "BearerToken",
            "expires_in": str(ttl),
            "issued_at": str(int(time.time() * 1000)),
            "client_id": client_id,
            "status": "approved",
        })

    def _authorize(self, req: Request):
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise HttpError(401, "missing access token: send Authorization: Bearer <token>")
        state = self.tokens.use(header[len("Bearer "):], self.faults.token_expiry_after)
        if state == "expired":
            self.log.count("token_expired")
            raise HttpError(401, "access token expired; request a new one")
        if state == "unknown":
            raise HttpError(401, "invalid access token")

    # -- search ----------------------------------------------------------------------------
    @cached_property
    def _patient_order(self):
        return self.area.kesehatan.patients.order()

    def _bounds(self, values: list[str]) -> tuple[float, str, float, str]:
        lower, upper = (-np.inf, "left"), (np.inf, "left")
        seen = set()
        for value in values:
            value = value.replace(" ", "+")  # an unencoded '+' of a zone offset arrives as a space
            match = _BOUND.match(value)
            if not match:
                raise HttpError(400, f"_lastUpdated={value!r} must be ge|gt|le|lt followed by an ISO date-time")
            prefix, instant = match[1], parse_instant(match[2])
            side = "lower" if prefix in ("ge", "gt") else "upper"
            if side in seen:
                raise HttpError(400, f"_lastUpdated has two {side} bounds; give at most one ge/gt and one le/lt")
            seen.add(side)
            if prefix == "ge":
                lower = (instant, "left")
            elif prefix == "gt":
                lower = (instant, "right")
            elif prefix == "lt":
                upper = (instant, "left")
            else:
                upper = (instant, "right")
        return (*lower, *upper)

    def _search(self, req: Request, kind: str) -> Response:
        params = req.params(("_lastUpdated", "_count", "_offset"), repeatable=("_lastUpdated",))
        bounds = params.get("_lastUpdated", [])
        if len(bounds) > 2:
            raise HttpError(400, "_lastUpdated is given more than twice")
        lo_value, lo_side, hi_value, hi_side = self._bounds(bounds)
        count = min(int_param(params, "_count", DEFAULT_COUNT, minimum=1), self.config.max_page_size)
        offset = int_param(params, "_offset", 0)
        updates = self.faults.fhir_updates
        if kind == "Patient":
            rows, sorted_lu = self._patient_order
        else:
            rows, sorted_lu = self.area.kesehatan.all_resources[kind].order(updates)
        lo = bound_position(sorted_lu, lo_value, lo_side)
        hi = max(lo, bound_position(sorted_lu, hi_value, hi_side))
        total = hi - lo
        page = rows[lo + min(offset, total): lo + min(offset + count, total)]
        if kind == "Patient":
            resources = patient_resources(self.area, page, self.faults.invalid_nik_share)
        else:
            resources = RENDERERS[kind](self.area, page, updates)
        base = f"{req.base_url}{FHIR_PREFIX}{kind}"
        query = "".join(f"_lastUpdated={quote(b.replace(' ', '+'), safe='')}&" for b in bounds) + f"_count={count}"
        links = [{"relation": "self", "url": f"{base}?{query}&_offset={offset}"}]
        if offset + count < total:
            links.append({"relation": "next", "url": f"{base}?{query}&_offset={offset + count}"})
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": max(0, total + self.faults.announced_total_offset),
            "link": links,
            "entry": [
                {"fullUrl": f"{base}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in resources
            ],
        }
        return Response.json(200, bundle, data=True)
