"""SMS backends: the log backend, and the HTTP gateway against a real HTTP server on 127.0.0.1."""

import json
import logging
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from orders import sms, tasks


@contextmanager
def gateway(status=200, headers=None):
    """A real HTTP server on 127.0.0.1 answering every POST with `status`; yields the
    list of requests it received (path, headers, body)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        server.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
        server.received = received
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_log_backend_writes_the_message_to_the_log(caplog):
    with caplog.at_level(logging.INFO, logger="orders.sms"):
        sms.LogBackend().send(mobile="+8613800138000", text="服务即将到期")
    assert "+8613800138000" in caplog.text and "服务即将到期" in caplog.text


def test_the_default_backend_is_the_log(settings, caplog):
    settings.SMS_BACKEND = "orders.sms.LogBackend"
    with caplog.at_level(logging.INFO, logger="orders.sms"):
        sms.sms_send(mobile="+8613800138000", text="hello")
    assert "SMS to +8613800138000: hello" in caplog.text


def test_http_gateway_posts_json_with_the_bearer_key():
    with gateway() as server:
        sms.HttpGatewayBackend(url=server.url, key="k-123").send(mobile="+8613800138000", text="服务将于 7 天后到期")
    [request] = server.received
    assert request["path"] == "/sms/send"
    assert request["headers"]["Authorization"] == "Bearer k-123"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(request["body"]) == {"mobile": "+8613800138000", "text": "服务将于 7 天后到期"}


def test_http_gateway_reads_url_and_key_from_settings(settings):
    with gateway() as server:
        settings.SMS_BACKEND = "orders.sms.HttpGatewayBackend"
        settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_KEY = server.url, "from-settings"
        sms.sms_send(mobile="+8613900139000", text="t")
    assert server.received[0]["headers"]["Authorization"] == "Bearer from-settings"


@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_http_gateway_raises_on_an_error_status(status):
    with gateway(status=status) as server, pytest.raises(sms.SmsError, match=str(status)):
        sms.HttpGatewayBackend(url=server.url, key="k").send(mobile="+8613800138000", text="t")


def test_http_gateway_does_not_follow_a_redirect():
    with gateway(status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"}) as server:
        with pytest.raises(sms.SmsError, match="302"):
            sms.HttpGatewayBackend(url=server.url, key="k").send(mobile="+8613800138000", text="t")
    assert len(server.received) == 1


def test_http_gateway_times_out_and_raises_an_os_error():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        with pytest.raises(OSError):
            sms.HttpGatewayBackend(url=url, key="k", timeout=0.3).send(mobile="+8613800138000", text="t")
    finally:
        listener.close()


def test_http_gateway_needs_url_and_key(settings):
    settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_KEY = "", ""
    with pytest.raises(ImproperlyConfigured):
        sms.HttpGatewayBackend()


def test_task_sends_through_the_gateway(settings):
    with gateway() as server:
        settings.SMS_BACKEND = "orders.sms.HttpGatewayBackend"
        settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_KEY = server.url, "k"
        tasks.sms_send_task.delay(mobile="+8613800138000", text="t")
    assert len(server.received) == 1


def test_task_in_process_logs_a_refused_message_and_goes_on(settings, caplog):
    with gateway(status=500) as server:
        settings.SMS_BACKEND = "orders.sms.HttpGatewayBackend"
        settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_KEY = server.url, "k"
        with caplog.at_level(logging.ERROR, logger="orders.tasks"):
            tasks.sms_send_task.delay(mobile="+8613800138000", text="t")
    assert "SMS to +8613800138000 not sent" in caplog.text
