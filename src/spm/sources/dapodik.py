"""Dapodik web service (DESIGN §3.1): schools of a kab/kota and learners of a school, paged.

`Authorization: Bearer <token>` (the `spm_dapodik` connection's password). Pages are fetched with
`start`/`limit` while `start + len(rows) < results`. A page whose JSON is cut short or breaks the
page shape is asked again within the client's bounded retries, like a 5xx: real Dapodik servers
drop long answers now and then. The connection's `extra` may tune the client:
`paralel` (schools fetched at once, default 8), `page_size` (default 500), `timeout` (read timeout
in seconds, default 60), `max_attempts` (default 5) and `backoff_seconds` (default 0.5).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from spm.sources.connections import SourceConnection
from spm.sources.http import SourceClient, SourceError

CONN_ID = "spm_dapodik"
BENTUK_PENDIDIKAN = ("TK", "KB", "TPA", "SPS", "SD", "SMP", "SDLB", "SMPLB", "SMA", "SMK", "SMALB", "SLB",
                     "PKBM", "SKB")
STATUS_SEKOLAH = ("Negeri", "Swasta")
STATUS_PESERTA_DIDIK = ("aktif", "mutasi", "lulus", "keluar")
PROGRAM_KESETARAAN = ("Paket A", "Paket B", "Paket C")
DEFAULT_PARALEL = 8
DEFAULT_PAGE_SIZE = 500




class DapodikClient(SourceClient):
    """One session shared by the threads that fetch schools at once (its pool holds `paralel`
    connections, so no thread waits for a socket)."""

    def __init__(self, conn: SourceConnection, *, paralel: int | None = None, page_size: int | None = None,
                 **kwargs) -> None:
        kwargs.setdefault("timeout", (5.0, conn.extra_number("timeout", 60.0, 1.0, float)))
        kwargs.setdefault("max_attempts", conn.extra_number("max_attempts", 5, 1))
        kwargs.setdefault("backoff_seconds", conn.extra_number("backoff_seconds", 0.5, 0.0, float))
        self.paralel = paralel or conn.extra_number("paralel", DEFAULT_PARALEL, 1)
        kwargs.setdefault("connections", self.paralel)  # one per worker of the school pool
        super().__init__(conn, **kwargs)
        self._token = conn.require_password("Bearer token")
        self.page_size = page_size or conn.extra_number("page_size", DEFAULT_PAGE_SIZE, 1)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def sekolah_pages(self, kode_kab_kota: str, semester_id: int) -> Iterator[list[dict]]:
        return self._pages("getSekolah", {"kode_wilayah": kode_kab_kota, "semester_id": str(semester_id)})

    def peserta_didik_pages(self, npsn: str, semester_id: int) -> Iterator[list[dict]]:
        return self._pages("getPesertaDidik", {"npsn": npsn, "semester_id": str(semester_id)})

    def _pages(self, endpoint: str, params: dict[str, str]) -> Iterator[list[dict]]:
        """The listing's pages, until a page is empty or short with `results` reached, so rows beyond an
        understated `results` are still fetched; then the rows received must equal the announced
        `results`, both ways (a listing that holds more or fewer rows than it says is not loaded)."""
        start = 0
        while True:
            page = self._page(endpoint, {**params, "start": start, "limit": self.page_size})
            rows, total = page["rows"], page["results"]
            if rows:
                yield rows
            start += len(rows)
            if not rows or (start >= total and len(rows) < self.page_size):
                break
        if start != total:
            raise SourceError(f"{self.conn.conn_id}: {endpoint} {params} announced results={total} but its pages "
                              f"held {start} rows; the listing is inconsistent, nothing of it is loaded")

    def _page(self, endpoint: str, params: dict[str, Any]) -> dict:
        attempt = 0
        while True:
            attempt += 1
            resp = self.get(f"/WebService/{endpoint}", params)
            try:
                body = orjson.loads(resp.content)
            except orjson.JSONDecodeError:
                # Cut-short answers are transient: ask again within the bounded retries.
                self._retry_or_raise(attempt, f"{endpoint} start={params['start']}: truncated or invalid JSON")
                continue
            problem = _page_problem(body, params["start"])
            if problem:
                self._retry_or_raise(attempt, f"{endpoint} start={params['start']}: {problem}")
                continue
            return body


def _page_problem(body: Any, start: int) -> str | None:
    """What is wrong with a page's shape (`results`, `start`, `limit`, `rows`), or None."""
    if not isinstance(body, dict):
        return "the answer is not a JSON object"
    results, rows = body.get("results"), body.get("rows")
    if not isinstance(results, int) or isinstance(results, bool) or results < 0:
        return f"'results' is {type(results).__name__}, not a row count"
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return "'rows' is not a list of objects"
    if body.get("start", start) != start:
        return f"asked for start={start}, got start={body.get('start')!r}"
    return None
