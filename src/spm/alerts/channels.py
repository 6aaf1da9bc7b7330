"""Delivery of a message to an owner's channels: e-mail (Airflow SMTP provider), webhook, Telegram.

Each attempt is logged in `peringatan_kirim` by the caller. A channel whose Connection or Variable is
not defined is skipped, so a deployment switches on only the channels it has (docs/peringatan.md).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import requests

from spm.alerts import airflow_config
from spm.config.peringatan import Saluran
from spm.alerts.messages import Message, mask_digits

log = logging.getLogger(__name__)
TELEGRAM_API = "https://api.telegram.org"
TELEGRAM_MAX = 4096  # sendMessage text limit
TIMEOUT = 20


class ChannelInactive(Exception):
    """The channel's Connection or Variable is not defined in this deployment."""


class SendFailed(Exception):
    """The channel is configured but the receiver did not accept the message."""


@dataclass(frozen=True)
class SendResult:
    """One attempt on one channel; `saluran`, `berhasil` and `galat` are the peringatan_kirim columns they fill."""

    saluran: Saluran
    berhasil: bool
    skipped: bool
    galat: str | None = None


def send_email(s: Saluran, p: Message) -> None:
    recipients = airflow_config.get_list_variable(s.kepada_variable)
    if not recipients:
        raise ChannelInactive(f"Variable {s.kepada_variable} (recipients) is not set")
    if not airflow_config.connection_fields(s.koneksi):
        raise ChannelInactive(f"connection {s.koneksi} is not defined")
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    try:
        with SmtpHook(smtp_conn_id=s.koneksi) as hook:
            hook.send_email_smtp(to=recipients, subject=p.subject, html_content=p.html,
                                 custom_headers={"X-SPM-Jenis": p.jenis_pesan})
    except Exception as exc:
        raise SendFailed(f"SMTP via {s.koneksi}: {type(exc).__name__}: {exc}") from exc


def send_webhook(s: Saluran, p: Message) -> None:
    conn = airflow_config.find_connection(s.koneksi)
    if conn is None:
        raise ChannelInactive(f"connection {s.koneksi} is not defined")
    body = {"text": p.text}
    if s.format == "json":
        body["spm"] = json.loads(mask_digits(json.dumps(p.data, default=str)))
    headers = {"Content-Type": "application/json"}
    if conn.password:  # receivers that want a bearer token (e.g. a self-hosted relay)
        headers["Authorization"] = f"Bearer {conn.password}"
    try:
        resp = requests.post(conn.base_url, data=json.dumps(body), headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise SendFailed(f"webhook {s.koneksi}: {type(exc).__name__}") from exc
    if resp.status_code >= 300:
        raise SendFailed(f"webhook {s.koneksi}: HTTP {resp.status_code}")


def send_telegram(s: Saluran, p: Message) -> None:
    fields = airflow_config.connection_fields(s.koneksi)
    if not fields or not fields.get("password"):
        raise ChannelInactive(f"connection {s.koneksi} (bot token in password) is not defined")
    chat_id = airflow_config.get_variable(s.chat_id_variable)
    if not chat_id:
        raise ChannelInactive(f"Variable {s.chat_id_variable} (chat id) is not set")
    base = (fields.get("host") or TELEGRAM_API).rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = "https://" + base
    text = p.text
    if len(text) > TELEGRAM_MAX:
        text = text[:TELEGRAM_MAX - 20] + "\n… (dipotong)"
    try:
        resp = requests.post(f"{base}/bot{fields['password']}/sendMessage", timeout=TIMEOUT,
                             json={"chat_id": chat_id.strip(), "text": text, "disable_web_page_preview": True})
    except requests.RequestException as exc:
        raise SendFailed(f"telegram {s.koneksi}: {type(exc).__name__}") from None  # the URL holds the token
    ok = resp.status_code < 300
    if ok:
        try:
            ok = bool(resp.json().get("ok", True))
        except ValueError:
            ok = False
    if not ok:
        raise SendFailed(f"telegram {s.koneksi}: HTTP {resp.status_code}")


CHANNEL_SENDERS = {"email": send_email, "webhook": send_webhook, "telegram": send_telegram}


def send(channels: tuple[Saluran, ...], p: Message) -> list[SendResult]:
    """Try every channel; one failing never stops the others."""
    results = []
    for s in channels:
        if p.jenis_pesan == "ringkasan" and not s.ringkasan:
            continue
        try:
            CHANNEL_SENDERS[s.jenis](s, p)
            results.append(SendResult(s, True, False))
        except ChannelInactive as exc:
            log.info("channel %s of %s skipped: %s", s.jenis, p.pemilik, exc)
            results.append(SendResult(s, False, True, str(exc)))
        except SendFailed as exc:
            log.warning("channel %s of %s failed: %s", s.jenis, p.pemilik, exc)
            results.append(SendResult(s, False, False, str(exc)))
    return results
