"""Which requests the demo takes as its own page's: ``same_origin`` and ``cross_origin_reason``."""

import pytest

from dermfeat.serve._guard import cross_origin_reason, same_origin


@pytest.mark.parametrize("origin, host, same", [
    ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
    ("HTTP://LOCALHOST:8000", "localhost:8000", True),
    ("http://[::1]:8000", "[::1]:8000", True),
    ("http://demo.example", "demo.example", True),
    ("https://demo.example", "demo.example", True),  # behind a TLS proxy that forwards Host without a port
    ("https://demo.example:443", "demo.example", True),
    ("http://demo.example:8080", "demo.example", False),
    ("http://127.0.0.1:8001", "127.0.0.1:8000", False),
    ("http://localhost:8000", "127.0.0.1:8000", False),
    ("http://127.0.0.1.evil.example:8000", "127.0.0.1:8000", False),
    ("http://[::1]:8000", "127.0.0.1:8000", False),
    ("null", "127.0.0.1:8000", False),
    ("file://", "127.0.0.1:8000", False),
    ("chrome-extension://abc", "127.0.0.1:8000", False),
    ("http://127.0.0.1:99999", "127.0.0.1:8000", False),
    ("http://", "", False),
    ("http://127.0.0.1:8000", "127.0.0.1:x", False),
])
def test_same_origin(origin, host, same):
    assert same_origin(origin, host) is same


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post"])
def test_every_unsafe_method_is_checked(method):
    assert cross_origin_reason(method, {"host": "127.0.0.1:8000", "origin": "https://evil.example"})


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_are_never_refused(method):
    assert cross_origin_reason(method, {"host": "127.0.0.1:8000", "origin": "https://evil.example",
                                        "sec-fetch-site": "cross-site"}) is None


def test_sec_fetch_site_wins_over_a_matching_origin():
    headers = {"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"}
    assert cross_origin_reason("POST", {**headers, "sec-fetch-site": "same-origin"}) is None
    assert cross_origin_reason("POST", {**headers, "sec-fetch-site": "none"}) is None
    assert cross_origin_reason("POST", {**headers, "sec-fetch-site": "same-site"}) == "Sec-Fetch-Site is 'same-site'"
    long = cross_origin_reason("POST", {**headers, "sec-fetch-site": "x" * 500})
    assert len(long) < 80  # a hostile header value is cut before it reaches the answer and the log
