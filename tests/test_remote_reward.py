"The reward-server client against loopback servers started by the tests: scores, batching, retries and every failure."
import base64
import io
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from maskgrpo.rewards import RemoteRewardError, image_to_png_base64, make_remote_reward

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class RewardHandler(BaseHTTPRequestHandler):
    "Scores each PNG by its mean brightness in [0, 1]; other paths simulate a faulty server."

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        request = self.server.requests[-1]["body"]
        if self.path == "/slow":
            time.sleep(self.server.slow_s)
        if self.path.startswith("/status/"):
            return self.reply(int(self.path.rsplit("/", 1)[1]), b"model overloaded, try later")
        if self.path == "/flaky" and len(self.server.requests) <= self.server.failures:
            return self.reply(503, b"warming up")
        if self.path == "/not-json":
            return self.reply(200, b"<html>internal error</html>")
        if self.path == "/no-scores":
            return self.reply(200, b'{"rewards": [1.0]}')
        scores = [float(np.asarray(Image.open(io.BytesIO(base64.b64decode(text)))).mean()) / 255
                  for text in request["images"]]
        if self.path == "/short": scores = scores[:-1]
        if self.path == "/nulls": scores = [None] * len(scores)
        self.reply(200, json.dumps({"scores": scores}).encode())

    def reply(self, status: int, body: bytes):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped waiting, as in the slow-server test

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    "Keep loopback requests off any proxy named in the environment."
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in ("no_proxy", "NO_PROXY"):  # also bypasses proxies that urllib read before this test
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RewardHandler)
    httpd.daemon_threads = True  # a handler still sleeping in /slow must not block the shutdown
    httpd.requests, httpd.failures, httpd.slow_s = [], 0, 1.5
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def url_of(httpd, path: str) -> str:
    return f"http://127.0.0.1:{httpd.server_port}{path}"


def grey(level: int) -> np.ndarray:
    return np.full((4, 6, 3), level, dtype=np.uint8)


def free_port() -> int:
    "A loopback port that was just free: bound, read, then closed, so nothing listens on it."
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_scores_follow_rows(server):
    reward = make_remote_reward(url_of(server, "/score"), timeout_s=5, batch_size=2, backoff_s=0)
    images = [grey(0), grey(51), grey(102), grey(255), grey(204)]
    scores = reward(["p0", "p1", "p2", "p3", "p4"], images)
    assert scores == pytest.approx([0.0, 0.2, 0.4, 1.0, 0.8])
    assert [len(r["body"]["images"]) for r in server.requests] == [2, 2, 1]
    assert [r["body"]["prompts"] for r in server.requests] == [["p0", "p1"], ["p2", "p3"], ["p4"]]


def test_request_schema(server):
    reward = make_remote_reward(url_of(server, "/score"), timeout_s=5, headers={"Authorization": "Bearer t0ken"})
    reward([[{"role": "user", "content": "a red cat"}]], [grey(10)], tag=["colors"], include=[[{"class": "cat"}]],
           layout="not a column")
    request = server.requests[0]
    assert set(request["body"]) == {"prompts", "images", "metadata"}
    assert request["body"]["prompts"] == ["a red cat"]  # chat prompts are sent as their last message's text
    assert request["body"]["images"] == [image_to_png_base64(grey(10))]
    assert request["body"]["metadata"] == {"tag": ["colors"], "include": [[{"class": "cat"}]]}
    assert request["headers"]["Authorization"] == "Bearer t0ken"
    assert request["headers"]["Content-Type"] == "application/json"


def test_metadata_columns_selects(server):
    reward = make_remote_reward(url_of(server, "/score"), timeout_s=5, metadata_columns=["tag"])
    reward(["p"], [grey(0)], tag=["counting"], include=[[]])
    assert server.requests[0]["body"]["metadata"] == {"tag": ["counting"]}
    with pytest.raises(ValueError, match="metadata column 'exclude' is missing"):
        make_remote_reward(url_of(server, "/score"), metadata_columns=["exclude"])(["p"], [grey(0)], tag=["x"])


def test_unencodable_metadata_named(server):
    reward = make_remote_reward(url_of(server, "/score"), timeout_s=5)
    with pytest.raises(TypeError, match="metadata column 'ids'"):
        reward(["p"], [grey(0)], ids=[object()])
    assert server.requests == []


def test_text_rows_not_sent(server):
    reward = make_remote_reward(url_of(server, "/score"), timeout_s=5)
    scores = reward(["t", "i", "t"], ["text", None, "text"], images=[None, grey(255), None],
                    modality=["text", "image", "text"])
    assert scores == [None, 1.0, None]
    assert len(server.requests) == 1
    assert reward(["t"], ["text"], modality=["text"]) == [None]
    assert len(server.requests) == 1, "a batch without images must not call the server"


def test_null_scores_become_none(server):
    reward = make_remote_reward(url_of(server, "/nulls"), timeout_s=5)
    assert reward(["a", "b"], [grey(1), grey(2)]) == [None, None]


def test_server_down_names_url(caplog):
    url = f"http://127.0.0.1:{free_port()}/score"
    reward = make_remote_reward(url, timeout_s=2, retries=2, backoff_s=0)
    with caplog.at_level(logging.WARNING, logger="maskgrpo.rewards"):
        with pytest.raises(RemoteRewardError) as error:
            reward(["p"], [grey(0)])
    assert url in str(error.value)
    assert "is unreachable" in str(error.value)
    assert "attempt 3 of 3" in str(error.value)
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert all(url in r.getMessage() for r in retries)


def test_slow_server_times_out(server):
    url = url_of(server, "/slow")
    reward = make_remote_reward(url, timeout_s=0.5, retries=0)
    started = time.monotonic()
    with pytest.raises(RemoteRewardError, match="timed out after 0.5 s") as error:
        reward(["p"], [grey(0)])
    assert time.monotonic() - started < server.slow_s, "the client waited for the slow reply"
    assert url in str(error.value)


def test_server_error_retried_then_raised(server, caplog):
    url = url_of(server, "/status/503")
    reward = make_remote_reward(url, timeout_s=5, retries=1, backoff_s=0, headers={"Authorization": "Bearer s3cret"})
    with caplog.at_level(logging.WARNING, logger="maskgrpo.rewards"):
        with pytest.raises(RemoteRewardError) as error:
            reward(["p"], [grey(0)])
    message = str(error.value)
    assert url in message
    assert "HTTP 503" in message
    assert "model overloaded" in message  # an excerpt of the reply body
    assert len(server.requests) == 2
    assert "s3cret" not in caplog.text


def test_client_error_not_retried(server):
    reward = make_remote_reward(url_of(server, "/status/400"), timeout_s=5, retries=3, backoff_s=0)
    with pytest.raises(RemoteRewardError, match="HTTP 400"):
        reward(["p"], [grey(0)])
    assert len(server.requests) == 1


def test_flaky_server_recovers(server, caplog):
    server.failures = 2
    reward = make_remote_reward(url_of(server, "/flaky"), timeout_s=5, retries=2, backoff_s=0)
    with caplog.at_level(logging.WARNING, logger="maskgrpo.rewards"):
        assert reward(["p"], [grey(255)]) == [1.0]
    assert len(server.requests) == 3
    assert [r.levelname for r in caplog.records if "retrying" in r.getMessage()] == ["WARNING", "WARNING"]


@pytest.mark.parametrize("path, expected", [
    ("/not-json", "returned invalid JSON"),
    ("/no-scores", "expected a JSON object with a 'scores' list"),
    ("/short", "returned 1 scores for 2 images"),
])
def test_malformed_reply_raises(server, path, expected):
    url = url_of(server, path)
    reward = make_remote_reward(url, timeout_s=5, retries=2, backoff_s=0)
    with pytest.raises(RemoteRewardError, match=expected) as error:
        reward(["a", "b"], [grey(0), grey(1)])
    assert url in str(error.value)
    assert len(server.requests) == 1, "a malformed reply is not retried"


def test_password_hidden_in_errors():
    url = f"http://user:pa55word@127.0.0.1:{free_port()}/score"
    reward = make_remote_reward(url, timeout_s=2, retries=0)
    with pytest.raises(RemoteRewardError) as error:
        reward(["p"], [grey(0)])
    assert "pa55word" not in str(error.value)
    assert "***@127.0.0.1" in str(error.value)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(url="file:///etc/hosts"), "expected an http:// or https:// address"),
    (dict(url="http://127.0.0.1:1/", timeout_s=0), "timeout_s=0 is invalid"),
    (dict(url="http://127.0.0.1:1/", batch_size=0), "batch_size=0 is invalid"),
    (dict(url="http://127.0.0.1:1/", retries=-1), "retries=-1 is invalid"),
])
def test_invalid_settings_rejected(kwargs, expected):
    with pytest.raises(ValueError, match=expected):
        make_remote_reward(**kwargs)
