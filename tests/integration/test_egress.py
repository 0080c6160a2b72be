"""Webhook egress: only public addresses (by the standard library's reckoning, IPv4 hidden in
IPv6 included) unless allowed; the connection goes to the address that was checked; redirects are
never followed; and any error of a delivery is a failed delivery."""

from __future__ import annotations

import http.server
import threading

import pytest

from workers.webhooks import AddressNotAllowed, DeliveryFailed, Target, check_address, post


@pytest.mark.parametrize("url", [
    "http://100.64.0.1/hook",            # carrier-grade NAT
    "http://100.100.100.200/latest",     # a cloud metadata address inside it
    "http://169.254.169.254/latest",     # link-local metadata
    "http://[2002:7f00:1::1]/hook",      # 6to4 of 127.0.0.1
    "http://[::ffff:127.0.0.1]/hook",    # IPv4-mapped loopback
    "http://[64:ff9b::a00:1]/hook",      # NAT64 of 10.0.0.1
    "http://10.1.2.3/hook", "http://192.168.0.1/", "http://0.0.0.0/", "http://[::1]/", "http://[fe80::1]/",
    "http://192.0.2.7/",                 # documentation
    "http://127.0.0.1:8000/",
    "http://localhost/",
    "ftp://93.184.216.34/",
    "http://93.184.216.34:99999/",
])
def test_non_public_addresses_are_refused(url, monkeypatch):
    monkeypatch.delenv("ORGHISTORY_WEBHOOK_ALLOW", raising=False)
    with pytest.raises(AddressNotAllowed):
        check_address(url)


def test_public_and_allowed_addresses_pass(monkeypatch):
    monkeypatch.delenv("ORGHISTORY_WEBHOOK_ALLOW", raising=False)
    target = check_address("https://93.184.216.34/hooks/in?x=1")
    assert (target.ip, target.port, target.path) == ("93.184.216.34", 443, "/hooks/in?x=1")
    monkeypatch.setenv("ORGHISTORY_WEBHOOK_ALLOW", "10.0.0.0/8, localhost")
    assert check_address("http://10.9.8.7:8080/").ip == "10.9.8.7"
    assert check_address("http://localhost:9/").host == "localhost"


class _Server:
    def __init__(self, status: int, location: str | None = None):
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                server.hits.append(self.headers["Host"])
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_redirects_are_not_followed():
    elsewhere = _Server(200)
    redirecting = _Server(302, f"http://127.0.0.1:{elsewhere.port}/stolen")
    try:
        target = Target("http", "127.0.0.1", redirecting.port, "127.0.0.1", "/hook")
        with pytest.raises(DeliveryFailed, match="redirects are not followed"):
            post(target, "secret-secret-secret", "sub1", {"id": "acme@2", "position": 5})
        assert redirecting.hits and not elsewhere.hits
    finally:
        elsewhere.close()
        redirecting.close()


def test_the_connection_goes_to_the_checked_address_without_resolving_again():
    """The host name below resolves to nothing: the delivery still reaches the address checked,
    so nothing a DNS server says after the check can send it elsewhere."""
    receiver = _Server(204)
    try:
        target = Target("http", "hooks.invalid", receiver.port, "127.0.0.1", "/in")
        post(target, "secret-secret-secret", "sub1", {"id": "acme@2\n@evil", "position": 5})
        assert receiver.hits == [f"hooks.invalid:{receiver.port}"]  # the name, as the Host header
    finally:
        receiver.close()


def test_any_error_is_a_failed_delivery():
    target = Target("http", "127.0.0.1", 9, "127.0.0.1", "/")  # nothing listens on the discard port
    with pytest.raises(DeliveryFailed):
        post(target, "secret-secret-secret", "sub1", {"id": "acme@2", "position": 5}, timeout=2)
