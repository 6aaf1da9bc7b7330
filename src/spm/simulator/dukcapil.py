"""Dukcapil consolidated aggregates (DESIGN §3.2): population by desa/sex/age, births by month."""

from __future__ import annotations

import re

from spm.simulator.config import BIRTH_YEARS, POPULATION_SEMESTERS, check_kode_kab_kota
from spm.simulator.http_base import HttpError, Request, Response, SourceApp, required
from spm.simulator.records import KELAHIRAN_HEADER, PENDUDUK_HEADER, csv_text, kelahiran_rows, penduduk_rows

_SEMESTER = re.compile(r"^(\d{4})-([12])$")
_TAHUN = re.compile(r"^\d{4}$")
CSV = "text/csv; charset=utf-8"


class DukcapilApp(SourceApp):
    name = "dukcapil"

    def handle(self, req: Request) -> Response:
        if req.method != "GET":
            raise HttpError(405, f"{req.method} is not supported; use GET")
        if req.path not in ("/dkb/v1/penduduk", "/dkb/v1/kelahiran"):
            raise HttpError(404, f"no such endpoint {req.path}; use /dkb/v1/penduduk or /dkb/v1/kelahiran")
        if req.headers.get("X-API-Key", "") != self.config.dukcapil_api_key:
            raise HttpError(401, "missing or wrong API key: send X-API-Key: <key>")
        if req.path == "/dkb/v1/penduduk":
            return self._penduduk(req)
        return self._kelahiran(req)

    def _world(self, params: dict):
        kode = required(params, "kode_wilayah")
        try:
            check_kode_kab_kota(kode)
        except ValueError as exc:
            raise HttpError(400, f"kode_wilayah: {exc}") from None
        if kode not in self.world:
            raise HttpError(404, f"kode_wilayah {kode} is not served by this Dukcapil")
        return self.world[kode]

    def _missing(self, feed: str, what: str) -> bool:
        if not self.faults.feed_missing(feed):
            return False
        self.log.count("missing")
        if self.faults.missing_mode == "404":
            raise HttpError(404, f"{what} has not been delivered yet (no data)")
        return True

    def _penduduk(self, req: Request) -> Response:
        params = req.params(("kode_wilayah", "semester"))
        world = self._world(params)
        text = required(params, "semester")
        match = _SEMESTER.match(text)
        if not match:
            raise HttpError(400, f"semester={text!r} must be YYYY-S with S = 1 (30 June) or 2 (31 December)")
        tahun, semester = int(match[1]), int(match[2])
        if (tahun, semester) not in POPULATION_SEMESTERS:
            first, last = POPULATION_SEMESTERS[0], POPULATION_SEMESTERS[-1]
            raise HttpError(404, f"no population data for semester {text}; available "
                                 f"{first[0]}-{first[1]}..{last[0]}-{last[1]}")
        if self._missing(f"penduduk:{text}", f"population of {world.kode} for semester {text}"):
            return Response(200, (PENDUDUK_HEADER + "\n").encode(), CSV, data=True)
        body = csv_text(PENDUDUK_HEADER, penduduk_rows(world, tahun, semester))
        return Response(200, body.encode(), CSV, data=True)

    def _kelahiran(self, req: Request) -> Response:
        params = req.params(("kode_wilayah", "tahun"))
        world = self._world(params)
        text = required(params, "tahun")
        if not _TAHUN.match(text):
            raise HttpError(400, f"tahun={text!r} must be a year YYYY")
        tahun = int(text)
        if tahun not in BIRTH_YEARS:
            raise HttpError(404, f"no birth data for {tahun}; available {BIRTH_YEARS[0]}..{BIRTH_YEARS[-1]}")
        if self._missing(f"kelahiran:{tahun}", f"births of {world.kode} for {tahun}"):
            return Response(200, (KELAHIRAN_HEADER + "\n").encode(), CSV, data=True)
        body = csv_text(KELAHIRAN_HEADER, kelahiran_rows(world, tahun))
        return Response(200, body.encode(), CSV, data=True)
