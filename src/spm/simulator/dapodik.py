"""Dapodik web service (DESIGN §3.1): getSekolah and getPesertaDidik, Bearer token."""

from __future__ import annotations

import re

import numpy as np

from spm.simulator.config import DAPODIK_SEMESTERS, check_kode_kab_kota
from spm.simulator.http_base import HttpError, Request, Response, SourceApp, int_param, required
from spm.simulator.movers import movers_into
from spm.simulator.records import learner_rows, mover_rows, school_row

DEFAULT_LIMIT = 100
_SEMESTER_ID = re.compile(r"^\d{4}[12]$")
_NPSN = re.compile(r"^\d{8}$")


class DapodikApp(SourceApp):
    name = "dapodik"

    def handle(self, req: Request) -> Response:
        if req.method != "GET":
            raise HttpError(405, f"{req.method} is not supported; use GET")
        if req.path not in ("/WebService/getSekolah", "/WebService/getPesertaDidik"):
            raise HttpError(404, f"no such endpoint {req.path}; use /WebService/getSekolah or /WebService/getPesertaDidik")
        if req.headers.get("Authorization", "") != f"Bearer {self.config.dapodik_token}":
            raise HttpError(401, "missing or wrong token: send Authorization: Bearer <token>")
        if req.path == "/WebService/getSekolah":
            return self._sekolah(req)
        return self._peserta_didik(req)

    def _semester(self, params: dict) -> int | None:
        """The semester asked for, or None when its feed is switched off as missing (empty mode)."""
        text = required(params, "semester_id")
        if not _SEMESTER_ID.match(text):
            raise HttpError(400, f"semester_id={text!r} must be YYYYS with S = 1 (ganjil) or 2 (genap), e.g. 20241")
        semester_id = int(text)
        if semester_id not in DAPODIK_SEMESTERS:
            raise HttpError(404, f"no data for semester_id {semester_id}; available "
                                 f"{DAPODIK_SEMESTERS[0]}..{DAPODIK_SEMESTERS[-1]}")
        if self.faults.feed_missing(f"dapodik:{semester_id}"):
            self.log.count("missing")
            if self.faults.missing_mode == "404":
                raise HttpError(404, f"semester {semester_id} has not been synchronised yet (no data)")
            return None
        return semester_id

    def _paging(self, params: dict) -> tuple[int, int]:
        start = int_param(params, "start", 0)
        limit = int_param(params, "limit", DEFAULT_LIMIT, minimum=1)
        return start, min(limit, self.config.max_page_size)

    def _page(self, total: int, start: int, limit: int, rows: list) -> Response:
        announced = max(0, total + self.faults.announced_total_offset)
        return Response.json(200, {"results": announced, "start": start, "limit": limit, "rows": rows}, data=True)

    def _sekolah(self, req: Request) -> Response:
        params = req.params(("kode_wilayah", "semester_id", "start", "limit"))
        kode = required(params, "kode_wilayah")
        try:
            check_kode_kab_kota(kode)
        except ValueError as exc:
            raise HttpError(400, f"kode_wilayah: {exc}") from None
        if kode not in self.world:
            raise HttpError(404, f"kode_wilayah {kode} is not served by this Dapodik")
        semester_id = self._semester(params)
        start, limit = self._paging(params)
        if semester_id is None:
            return self._page(0, start, limit, [])
        world = self.world[kode]
        total = len(world.pendidikan.schools)
        rows = [school_row(world, i, semester_id) for i in range(start, min(start + limit, total))]
        return self._page(total, start, limit, rows)

    def _peserta_didik(self, req: Request) -> Response:
        params = req.params(("npsn", "semester_id", "start", "limit"))
        npsn = required(params, "npsn")
        if not _NPSN.match(npsn):
            raise HttpError(400, f"npsn={npsn!r} must be 8 digits")
        kode = f"{npsn[:2]}.{npsn[2:4]}"
        school = self.world[kode].pendidikan.npsn_index.get(npsn) if kode in self.world else None
        if school is None:
            raise HttpError(404, f"no school with npsn {npsn}")
        semester_id = self._semester(params)
        start, limit = self._paging(params)
        if semester_id is None:
            return self._page(0, start, limit, [])
        world = self.world[kode]
        learners = world.pendidikan.learners(semester_id, self.faults.transfer_share)
        block = learners.rows_of(school)
        own = block.stop - block.start
        # After the school's own learners: those who moved in from the neighbour (spm.simulator.movers).
        movers = movers_into(world, self.world, semester_id)
        moved_in = movers.rows_of(school) if movers is not None else np.zeros(0, dtype=np.int64)
        total = own + len(moved_in)
        first = block.start + min(start, own)
        rows = learner_rows(world, learners, slice(first, min(block.start + start + limit, block.stop)),
                            self.faults.invalid_nik_share)
        if len(rows) < limit and len(moved_in):
            skip = max(0, start - own)
            rows += mover_rows(world, self.world[movers.origin], movers, moved_in[skip: skip + limit - len(rows)])
        return self._page(total, start, limit, rows)
