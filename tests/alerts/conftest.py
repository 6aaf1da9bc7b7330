"""Real local endpoints for the alert channels: an SMTP server (aiosmtpd) and an HTTP server taking
webhook and Telegram Bot API calls; the Connections and Variables of config/peringatan.yaml point at them."""

from __future__ import annotations

import email
import json
import threading
from dataclasses import dataclass, field
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.ports import free_port

OWNERS = ("disdukcapil", "disdik", "dinkes", "tim_data")
TOKEN = "123456:TEST-bot-token"



@dataclass
class Alert:
    saluran: str  # email | webhook | telegram
    pemilik: str
    teks: str  # everything the receiver got (raw mail, JSON body)
    judul: str


@dataclass
class Kotak:
    """Everything the local endpoints received, in order."""

    alerts: list[Alert] = field(default_factory=list)
    fail_webhook: set[str] = field(default_factory=set)  # owners whose webhook answers 500
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, a: Alert) -> None:
        with self.lock:
            self.alerts.append(a)

    def take(self) -> list[Alert]:
        with self.lock:
            out, self.alerts[:] = list(self.alerts), []
        return out


class _Smtp:
    def __init__(self, kotak: Kotak):
        self.kotak = kotak

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        body = msg.get_body(("html", "plain")).get_content()
        for rcpt in envelope.rcpt_tos:
            owner = rcpt.split("@")[0]
            self.kotak.add(Alert("email", owner, envelope.original_content.decode("utf-8", "replace") + body,
                                 str(msg["Subject"])))
        return "250 OK"


@pytest.fixture
def kotak(monkeypatch):
    from aiosmtpd.controller import Controller

    box = Kotak()
    smtp_port = free_port()
    controller = Controller(_Smtp(box), hostname="127.0.0.1", port=smtp_port)
    controller.start()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            data = json.loads(raw)
            if self.path.startswith("/hook/"):
                owner = self.path.split("/")[2]
                if owner in box.fail_webhook:
                    self.send_response(500)
                    self.end_headers()
                    return
                box.add(Alert("webhook", owner, raw, data["text"].splitlines()[0]))
                answer = b"ok"
            elif self.path == f"/bot{TOKEN}/sendMessage":
                owner = data["chat_id"].removeprefix("chat-")
                box.add(Alert("telegram", owner, raw, data["text"].splitlines()[0]))
                answer = json.dumps({"ok": True, "result": {"message_id": 1}}).encode()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{http.server_address[1]}"
    monkeypatch.setenv("AIRFLOW_CONN_SPM_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "spm@pemda.example", "retry_limit": 0,
                  "timeout": 10}}))
    monkeypatch.setenv("AIRFLOW_CONN_SPM_TELEGRAM", json.dumps({"conn_type": "http", "host": base,
                                                                 "password": TOKEN}))
    for owner in OWNERS:
        monkeypatch.setenv(f"AIRFLOW_VAR_SPM_PERINGATAN_EMAIL_{owner.upper()}", f"{owner}@pemda.example")
        monkeypatch.setenv(f"AIRFLOW_CONN_SPM_WEBHOOK_{owner.upper()}",
                           json.dumps({"conn_type": "http", "host": f"{base}/hook/{owner}"}))
        monkeypatch.setenv(f"AIRFLOW_VAR_SPM_PERINGATAN_TELEGRAM_{owner.upper()}", f"chat-{owner}")
    monkeypatch.setenv("AIRFLOW_VAR_SPM_LAPORAN_URL", "https://spm.pemda.example/laporan")
    try:
        yield box
    finally:
        http.shutdown()
        controller.stop()
