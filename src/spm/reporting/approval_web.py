"""The dashboard's login and approval pages (issue 20 item 3, docs/persetujuan.md).

Once the first account exists (`spm pengguna tambah`) every page but /sehat and /masuk asks for a
login; until then the dashboard is open read-only and nobody can verify or approve. A verifikator
verifies its bidang, the penyetuju approves the quarter and may re-open it with a reason; the
rules themselves live in `spm.warehouse.persetujuan`, this module only speaks HTTP.

Forms: every POST carries the session's CSRF token (the login form a pre-session token kept in a
cookie of its own), compared in constant time; the session cookie is HttpOnly and SameSite=Strict,
and Secure when the dashboard is reached over https.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlalchemy as sa

from spm.reporting import akun as accounts
from spm.warehouse import persetujuan

log = logging.getLogger(__name__)

LOGIN_COOKIE = "spm_masuk"  # the login form's own CSRF token, before any session exists
ROLE_NAMES = {"pembaca": "Pembaca", "verifikator": "Verifikator", "penyetuju": "Penyetuju"}


@dataclass(frozen=True)
class Visitor:
    """Who is asking: an account with its CSRF token, or nobody (accounts not in use yet)."""
    akun: persetujuan.Akun | None
    csrf: str | None
    accounts_in_use: bool

    @property
    def can_approve(self) -> bool:
        return self.akun is not None and self.akun.peran == "penyetuju"


def safe_next(target: str | None, root: str) -> str:
    """Where to go after logging in: a path of this dashboard only (never another host)."""
    target = (target or "").strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target or (root and not target.startswith(root + "/")):
        return root + "/"
    return target


def force_secure_cookie() -> bool:
    """SPM_DASBOR_HTTPS=1: the dashboard is only reached over https (TLS ended at a proxy on another
    host, whose X-Forwarded-Proto uvicorn does not trust): cookies are always Secure."""
    import os

    return os.environ.get("SPM_DASBOR_HTTPS", "").strip().lower() in ("1", "true", "ya", "yes")


def cookie_path(root: str) -> str:
    return (root or "") + "/"


def visitor_of(engine: sa.Engine, token: str | None) -> Visitor:
    found = accounts.session(engine, token)
    if found is not None:
        return Visitor(found[0], found[1], True)
    return Visitor(None, None, accounts.any_user(engine))


def bidang_rows(conn: sa.Connection, s: persetujuan.Status) -> list[dict]:
    """Each bidang of the quarter with its verification state as the page shows it."""
    from spm.reporting.data import BIDANG_NAMES

    rows = []
    for b in persetujuan.bidang_of(conn, s.kode, s.tahun, s.triwulan):
        v = s.verifikasi.get(b)
        now_sidik = persetujuan.fingerprint(conn, s.kode, s.tahun, s.triwulan, b)
        state = "belum" if v is None else "terverifikasi" if v[2] == now_sidik else "berubah"
        rows.append({"bidang": b, "nama": BIDANG_NAMES.get(b, b.title()), "state": state,
                     "oleh": v[0] if v else None, "pada": v[1] if v else None, "sidik": now_sidik})
    return rows


def page_context(engine: sa.Engine, visitor: Visitor, kode: str, tahun: int, triwulan: int) -> dict:
    with engine.connect() as conn:
        s = persetujuan.status_of(conn, kode, tahun, triwulan)
        rows = bidang_rows(conn, s)
        why = persetujuan.belum_siap(conn, s) if not s.terkunci else []
        refused = persetujuan.refused_since(conn, s)
        shown = persetujuan.fingerprint(conn, kode, tahun, triwulan)
    a = visitor.akun
    return {
        "s": s, "bidang_rows": rows, "belum_siap": why, "refused": refused, "visitor": visitor,
        "can_verify": {r["bidang"]: a is not None and a.peran == "verifikator" and a.bidang == r["bidang"]
                       and a.covers(kode) and not s.terkunci for r in rows},
        "can_approve": visitor.can_approve and a.covers(kode) and not s.terkunci and not why,
        "can_reopen": visitor.can_approve and a.covers(kode) and s.terkunci,
        "min_alasan": persetujuan.MIN_ALASAN, "sidik_triwulan": shown,
        "query": urlencode({"kode": kode, "tahun": tahun, "triwulan": triwulan}),
    }


def done_message(code: str | None, bidang: str | None = None) -> str | None:
    """The sentence shown after an action; the redirect carries only its code, never free text."""
    from spm.reporting.data import BIDANG_NAMES

    if code == "verifikasi" and bidang in BIDANG_NAMES:
        return f"Bidang {bidang} diverifikasi."
    return {"setujui": "Triwulan disetujui; berkas laporan kini FINAL.",
            "buka": "Triwulan dibuka kembali: revisi baru berstatus DRAF."}.get(code or "")


def act(engine: sa.Engine, visitor: Visitor, action: str, form: dict[str, str]) -> tuple[str, int, int, str]:
    """Carry out one form: verifikasi / setujui / buka. Returns (kode, tahun, triwulan, what was done).
    Raises persetujuan.Ditolak (403) or Konflik (409) with a message for the person. The verification
    and approval forms carry the fingerprint of the figures the page showed (`sidik`)."""
    try:
        return _act(engine, visitor, action, form)
    except sa.exc.IntegrityError:  # another person's step on the same quarter at the same moment
        raise persetujuan.Konflik("Triwulan ini baru saja diubah orang lain: muat ulang halaman lalu ulangi.") from None


def _act(engine: sa.Engine, visitor: Visitor, action: str, form: dict[str, str]) -> tuple[str, int, int, str]:
    if visitor.akun is None:
        raise persetujuan.Ditolak("Masuk dahulu untuk memverifikasi atau menyetujui.")
    if not accounts.csrf_ok(visitor.csrf or "", form.get("csrf")):
        raise persetujuan.Ditolak("Formulir kedaluwarsa atau bukan dari dasbor ini: muat ulang halaman dan coba lagi.")
    kode = (form.get("kode") or "").strip()
    try:
        tahun, triwulan = int(form.get("tahun") or ""), int(form.get("triwulan") or "")
    except ValueError:
        raise persetujuan.Konflik("Tahun dan triwulan harus berupa angka.") from None
    if action == "verifikasi":
        bidang = (form.get("bidang") or "").strip()
        persetujuan.verifikasi(engine, visitor.akun, kode, tahun, triwulan, bidang, shown=form.get("sidik") or "")
    elif action == "setujui":
        persetujuan.setujui(engine, visitor.akun, kode, tahun, triwulan, shown=form.get("sidik") or "")
    elif action == "buka":
        persetujuan.buka_kembali(engine, visitor.akun, kode, tahun, triwulan, form.get("alasan") or "")
    else:
        raise persetujuan.Konflik(f"Tindakan {action!r} tidak dikenal.")
    log.info("persetujuan %s %s %s-T%s by %s", action, kode, tahun, triwulan, visitor.akun.username)
    return kode, tahun, triwulan, action


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


class Auth:
    """The login gate of every dashboard page and the routes of /masuk, /keluar and /persetujuan."""

    def __init__(self, engine: sa.Engine, dash, root_of, error, warehouse_error):
        self.engine, self.dash = engine, dash
        self.root_of, self.error, self.warehouse_error = root_of, error, warehouse_error

    # --- who is asking ------------------------------------------------------------------------------

    def visitor(self, request) -> Visitor:
        return visitor_of(self.engine, request.cookies.get(accounts.COOKIE))

    def to_login(self, request):
        from starlette.responses import RedirectResponse

        root = self.root_of(request)
        path = request.url.path
        if root and not path.startswith(root + "/"):  # the proxy stripped the sub-path
            path = root + path
        here = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{root}/masuk?" + urlencode({"next": here}), status_code=303)

    def gate(self, request):
        """(visitor, None) or (visitor, a redirect to the login): once accounts exist, nobody reads
        the dashboard without logging in."""
        v = self.visitor(request)
        return v, (self.to_login(request) if v.accounts_in_use and v.akun is None else None)

    def _set_cookie(self, request, response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, path=cookie_path(self.root_of(request)), httponly=True,
                            samesite="strict", secure=request.url.scheme == "https" or force_secure_cookie())

    # --- login and logout ---------------------------------------------------------------------------

    def login_page(self, request, message: str | None = None, status: int = 200):
        from starlette.responses import HTMLResponse

        token = new_login_token()
        root = self.root_of(request)
        response = HTMLResponse(self.dash.render(
            "dashboard_masuk.html.j2", root=root, message=message, csrf=token,
            next=safe_next(request.query_params.get("next"), root),
            accounts_in_use=accounts.any_user(self.engine)), status_code=status)
        self._set_cookie(request, response, LOGIN_COOKIE, token, 1800)
        return response

    async def login(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import RedirectResponse

        form = await request.form()
        if not accounts.csrf_ok(request.cookies.get(LOGIN_COOKIE) or "", form.get("csrf")):
            return await run_in_threadpool(self.login_page, request, "Formulir kedaluwarsa: silakan coba lagi.", 400)
        token = await run_in_threadpool(accounts.login, self.engine, str(form.get("username") or ""),
                                        str(form.get("password") or ""))
        if token is None:
            return await run_in_threadpool(self.login_page, request, "Nama pengguna atau kata sandi salah.", 401)
        root = self.root_of(request)
        response = RedirectResponse(safe_next(str(form.get("next") or ""), root), status_code=303)
        self._set_cookie(request, response, accounts.COOKIE, token, int(accounts.session_hours() * 3600))
        response.delete_cookie(LOGIN_COOKIE, path=cookie_path(root))
        return response

    async def logout(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import RedirectResponse

        form = await request.form()
        v = await run_in_threadpool(self.visitor, request)
        if v.akun is not None and accounts.csrf_ok(v.csrf or "", form.get("csrf")):
            await run_in_threadpool(accounts.logout, self.engine, request.cookies.get(accounts.COOKIE))
        root = self.root_of(request)
        response = RedirectResponse(f"{root}/masuk", status_code=303)
        response.delete_cookie(accounts.COOKIE, path=cookie_path(root))
        return response

    # --- approval -----------------------------------------------------------------------------------

    def approval_page(self, request, message: str | None = None, error: str | None = None, status: int = 200,
                      params: dict | None = None):
        from starlette.responses import HTMLResponse

        from spm.errors import SpmError
        from spm.reporting.dashboard import PageError

        try:
            visitor, redirect = self.gate(request)
            if redirect is not None:
                return redirect
            quarters, names = self.dash.options()
            p = self.dash.choose(params if params is not None else dict(request.query_params), quarters, names)
            context = page_context(self.engine, visitor, p.kode, p.tahun, p.triwulan)
            return HTMLResponse(self.dash.render(
                "dashboard_persetujuan.html.j2", root=self.root_of(request), p=p, nama=names.get(p.kode, p.kode),
                message=message, error=error, **context), status_code=status)
        except PageError as e:
            return self.error(request, e)
        except (SpmError, sa.exc.SQLAlchemyError) as exc:
            return self.warehouse_error(request, exc)

    def approval_get(self, request):
        return self.approval_page(request, done_message(request.query_params.get("selesai"),
                                                        request.query_params.get("bidang")))

    async def approval_action(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import RedirectResponse

        from spm.errors import SpmError

        form = {k: str(v) for k, v in (await request.form()).items()}
        visitor = await run_in_threadpool(self.visitor, request)
        if visitor.akun is None:
            return self.to_login(request)
        try:
            kode, tahun, triwulan, done = await run_in_threadpool(
                act, self.engine, visitor, request.path_params["tindakan"], form)
            done_query = {"selesai": done, **({"bidang": form.get("bidang", "")} if done == "verifikasi" else {})}
        except (persetujuan.Ditolak, persetujuan.Konflik) as exc:
            status = 403 if isinstance(exc, persetujuan.Ditolak) else 409
            params = {k: form.get(k, "") for k in ("kode", "tahun", "triwulan")}
            return await run_in_threadpool(self.approval_page, request, None, str(exc), status, params)
        try:
            await run_in_threadpool(self.dash.republish, kode, tahun, triwulan)
        except (SpmError, OSError) as exc:  # the decision stands; the files follow on the next download
            log.error("republishing %s %s-T%s after %s failed: %s", kode, tahun, triwulan, done, exc)
        query = urlencode({"kode": kode, "tahun": tahun, "triwulan": triwulan, **done_query})
        return RedirectResponse(f"{self.root_of(request)}/persetujuan?{query}", status_code=303)

    def routes(self) -> list:
        from starlette.routing import Route

        return [
            Route("/masuk", self.login_page, methods=["GET"]),
            Route("/masuk", self.login, methods=["POST"]),
            Route("/keluar", self.logout, methods=["POST"]),
            Route("/persetujuan", self.approval_get, methods=["GET"]),
            Route("/persetujuan/{tindakan}", self.approval_action, methods=["POST"]),
        ]


class Gated:
    """An ASGI app (the static quality pages) behind the dashboard's login."""

    def __init__(self, app, gate, mount: str):
        self.app, self.gate, self.mount = app, gate, mount

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            from starlette.concurrency import run_in_threadpool
            from starlette.requests import Request

            outer = dict(scope)  # the login page is the dashboard's, not under the mount
            root = outer.get("root_path") or ""
            outer["root_path"] = root[: -len(self.mount)] if root.endswith(self.mount) else root
            redirect = (await run_in_threadpool(self.gate, Request(outer)))[1]
            if redirect is not None:
                return await redirect(scope, receive, send)
        await self.app(scope, receive, send)
