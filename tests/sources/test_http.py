"""The source HTTP client against a real local server with scripted answers."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spm.sources.connections import SourceConnection, parse_connection
from spm.sources.dukcapil import DukcapilClient
from spm.sources.http import SourceAuthError, SourceNotFound, SourceUnavailable


class Script:
    def __init__(self):
        self.answers = []  # (status, headers, body) popped per request; last one repeats
        self.seen = []


@pytest.fixture
def server():
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            script.seen.append((self.path, self.headers.get("X-API-Key")))
            status, headers, body = script.answers.pop(0) if len(script.answers) > 1 else script.answers[0]
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield script, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


CSV_OK = (200, {"Content-Type": "text/csv"}, b"tahun,bulan,kode_desa,jenis_kelamin,jumlah\n")


def _client(base, sleeps):
    return DukcapilClient(SourceConnection("spm_dukcapil", base, password="kunci"), backoff_seconds=0.01,
                          max_attempts=4, sleep=sleeps.append)


def test_key_is_sent_and_5xx_is_retried_with_backoff(server):
    script, base = server
    script.answers = [(503, {}, b"busy"), (502, {}, b"bad gateway"), CSV_OK]
    sleeps = []
    body = _client(base, sleeps).kelahiran_csv("32.71", 2025)
    assert body.startswith(b"tahun,bulan")
    assert [s[1] for s in script.seen] == ["kunci"] * 3
    assert script.seen[0][0] == "/dkb/v1/kelahiran?kode_wilayah=32.71&tahun=2025"
    assert sleeps == [0.01, 0.02]  # exponential backoff


def test_persistent_5xx_gives_up_after_bounded_attempts(server):
    script, base = server
    script.answers = [(500, {}, b"down")]
    sleeps = []
    with pytest.raises(SourceUnavailable, match="failed 4 times"):
        _client(base, sleeps).kelahiran_csv("32.71", 2025)
    assert len(script.seen) == 4


def test_401_names_the_connection_and_is_not_retried(server):
    script, base = server
    script.answers = [(401, {}, b"bad key")]
    with pytest.raises(SourceAuthError, match="connection 'spm_dukcapil'"):
        _client(base, []).penduduk_csv("32.71", 2025, 2)
    assert len(script.seen) == 1


def test_429_waits_for_retry_after(server):
    script, base = server
    script.answers = [(429, {"Retry-After": "2"}, b""), CSV_OK]
    sleeps = []
    _client(base, sleeps).kelahiran_csv("32.71", 2025)
    assert sleeps == [2.0]


def test_404_is_not_found_with_the_reason(server):
    script, base = server
    script.answers = [(404, {"Content-Type": "text/plain"}, b"semester 2026-2 belum tersedia")]
    with pytest.raises(SourceNotFound, match="belum tersedia"):
        _client(base, []).penduduk_csv("32.71", 2026, 2)


def test_connection_forms():
    conn = parse_connection("spm_dukcapil", '{"conn_type": "http", "host": "http://127.0.0.1", "port": 8081, "password": "k"}')
    assert conn.base_url == "http://127.0.0.1:8081" and conn.password == "k"
    conn = parse_connection("spm_dapodik", "http://:tok%2Fen@dapodik.example:5774/")
    assert conn.base_url == "http://dapodik.example:5774" and conn.password == "tok/en"
    assert "tok" not in repr(conn)  # secrets stay out of logs


def test_read_timeout_is_retried_then_succeeds():
    import time

    calls = []

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):
            calls.append(self.path)
            if len(calls) == 1:
                time.sleep(1.0)  # longer than the client's read timeout
            body = CSV_OK[2]
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        sleeps = []
        client = DukcapilClient(SourceConnection("spm_dukcapil", f"http://127.0.0.1:{httpd.server_port}",
                                                 password="k"),
                                timeout=(1.0, 0.3), backoff_seconds=0.01, sleep=sleeps.append)
        assert client.kelahiran_csv("32.71", 2025).startswith(b"tahun")
        assert len(calls) == 2 and sleeps == [0.01] and client.retries == 1
    finally:
        httpd.shutdown()


def test_a_body_read_in_one_call_is_whole_and_error_answers_are_still_retried(server):
    from spm.sources.http import SourceClient

    script, base = server
    script.answers = [(503, {}, b"busy"), (200, {}, b"x" * 300_000)]
    sleeps = []
    client = SourceClient(SourceConnection("spm_x", base), backoff_seconds=0.01, sleep=sleeps.append)
    assert client.get_content("/a") == b"x" * 300_000
    assert sleeps == [0.01] and client.retries == 1


def test_a_body_cut_short_in_transit_is_named():
    from spm.sources.http import BodyCutShort, SourceClient

    class Short(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")  # then 10 bytes and the connection closes
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Short)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client = SourceClient(SourceConnection("spm_x", f"http://127.0.0.1:{httpd.server_port}"))
        with pytest.raises(BodyCutShort, match="spm_x: /page: the body was cut short in transit"):
            client.get_content("/page")
    finally:
        httpd.shutdown()


def test_a_netrc_entry_for_the_source_never_replaces_or_adds_credentials(tmp_path, monkeypatch):
    # requests reads ~/.netrc when a session has no auth of its own, and a matching entry replaced the
    # Authorization header a client set (and would be sent to a source that takes an API key).
    from spm.sources.http import SourceClient

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))

    class Bearer(SourceClient):
        def auth_headers(self):
            return {"Authorization": "Bearer from-the-connection"}

    base = f"http://127.0.0.1:{httpd.server_port}"
    try:
        assert Bearer(SourceConnection("spm_x", base)).get_content("/a") == b"ok"
        assert SourceClient(SourceConnection("spm_y", base)).get_content("/b") == b"ok"
    finally:
        httpd.shutdown()
    assert seen == ["Bearer from-the-connection", None]


def test_plain_http_does_not_look_up_the_ca_bundle_on_every_request_and_https_still_verifies(server, monkeypatch,
                                                                                            tmp_path):
    import requests.adapters

    from spm.sources.http import SourceClient

    script, base = server
    script.answers = [(200, {}, b"ok")]
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    looked_up = []
    real_isdir = requests.adapters.os.path.isdir
    monkeypatch.setattr(requests.adapters.os.path, "isdir", lambda p: looked_up.append(p) or real_isdir(p))
    client = SourceClient(SourceConnection("spm_x", base))
    assert client.get_content("/a") == b"ok" and client.get_content("/b") == b"ok"
    assert looked_up == []
    https = client.session.get_adapter("https://satusehat.example/")
    request = client.session.prepare_request(requests.Request("GET", "https://satusehat.example/fhir"))
    assert https.build_connection_pool_key_attributes(request, str(bundle))[1] == {
        "cert_reqs": "CERT_REQUIRED", "ca_certs": str(bundle)}


def test_connections_kept_open_cover_the_threads_of_a_client():
    """SATUSEHAT: this type's `paralel` searches, the next type's and a token request at once;
    Dapodik: one per school worker. Plain http keeps skipping the CA-bundle check."""
    from spm.sources.dapodik import DapodikClient
    from spm.sources.http import _PlainHttpAdapter
    from spm.sources.satusehat import SatusehatClient

    fhir = SatusehatClient(SourceConnection("spm_satusehat", "http://hub", "id", "secret", extra={"paralel": 6}))
    dapodik = DapodikClient(SourceConnection("spm_dapodik", "http://dapodik", password="t", extra={"paralel": 12}))
    for client, size in ((fhir, 13), (dapodik, 12)):
        plain, tls = client.session.get_adapter("http://x/"), client.session.get_adapter("https://x/")
        assert isinstance(plain, _PlainHttpAdapter) and not isinstance(tls, _PlainHttpAdapter)
        assert plain._pool_maxsize == tls._pool_maxsize == size
    assert SatusehatClient(SourceConnection("s", "http://hub", "id", "secret")).session.get_adapter(
        "http://x/")._pool_maxsize == 10
