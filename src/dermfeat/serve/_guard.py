"""Who may use the demo: the ``Host`` header, cross-origin requests, and security headers on every answer."""

import logging

logger = logging.getLogger("dermfeat.serve")

#: Host names accepted by default: the loopback names.  Refusing other ``Host``
#: headers stops a web page from reaching the demo through DNS rebinding.  ``testserver``
#: is the name FastAPI's TestClient sends.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "testserver")

#: Methods that change nothing: never refused as cross-origin.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(netloc):
    """``(host, port or None)`` of a ``Host`` header value or URL authority; None if malformed."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit("//" + netloc.strip())
        return (parts.hostname or "").lower(), parts.port
    except ValueError:  # a port that is not a number, an unclosed IPv6 bracket
        return None


def same_origin(origin, host):
    """Whether the browser ``Origin`` header names the server reached through ``host``.

    ``origin`` is ``scheme://host[:port]``; ``host`` the request's ``Host``
    header.  Host names must be equal and ports too, a missing port meaning the
    scheme's default (a ``Host`` without a port, as behind a TLS proxy, matches
    either default port).  The opaque origin ``null`` (sandboxed frames, local
    files) never matches.

    Examples
    --------
    >>> from dermfeat.serve._guard import same_origin
    >>> same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    True
    >>> same_origin("http://127.0.0.1:9000", "127.0.0.1:8000"), same_origin("https://evil.example", "127.0.0.1:8000")
    (False, False)
    >>> same_origin("null", "127.0.0.1:8000")
    False
    """
    scheme, sep, netloc = origin.strip().partition("://")
    if not sep or scheme.lower() not in _DEFAULT_PORTS:
        return False
    theirs, ours = _host_port(netloc), _host_port(host)
    if theirs is None or ours is None or not theirs[0] or theirs[0] != ours[0]:
        return False
    their_port = theirs[1] if theirs[1] is not None else _DEFAULT_PORTS[scheme.lower()]
    if ours[1] is None:
        return their_port in _DEFAULT_PORTS.values()
    return their_port == ours[1]


def cross_origin_reason(method, headers):
    """Why a request that would change something comes from another site's page, or None.

    Safe methods (GET, HEAD, OPTIONS) are never refused.  Browsers send
    ``Sec-Fetch-Site`` (anything but ``same-origin`` or ``none`` is refused) and,
    on every cross-origin POST, ``Origin`` (refused unless :func:`same_origin`).
    A request with neither (curl, a script) is not a browser page's and passes.

    Examples
    --------
    >>> from dermfeat.serve._guard import cross_origin_reason
    >>> cross_origin_reason("POST", {"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"}) is None
    True
    >>> cross_origin_reason("POST", {"host": "127.0.0.1:8000", "origin": "https://evil.example"})
    'Origin https://evil.example is not this server'
    >>> cross_origin_reason("POST", {"host": "127.0.0.1:8000"}) is None  # curl
    True
    """
    if method.upper() in _SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return f"Sec-Fetch-Site is {site.strip()[:40]!r}"
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, headers.get("host", "")):
        return f"Origin {origin.strip()[:100]} is not this server"
    return None


class Guard:
    """ASGI middleware: refuse unknown Host headers and cross-origin requests, add security headers."""

    def __init__(self, app, allowed_hosts, csp):
        self.app = app
        self.allowed = None if allowed_hosts is None or "*" in allowed_hosts else {h.lower() for h in allowed_hosts}
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"cache-control", b"no-store"),
        ]

    @staticmethod
    def _host(scope):
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1").strip().lower()
                if host.startswith("["):
                    return host[1 : host.find("]")] if "]" in host else host
                return host.split(":")[0]
        return ""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        from starlette.responses import JSONResponse

        if self.allowed is not None and self._host(scope) not in self.allowed:
            response = JSONResponse({"error": "bad_host", "message": "Unknown Host header."}, status_code=400)
            return await response(scope, receive, send_with_headers)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        reason = cross_origin_reason(scope.get("method", "GET"), headers)
        if reason is not None:
            logger.warning("refused a cross-origin %s %s: %s", scope.get("method"), scope.get("path"), reason)
            response = JSONResponse({"error": "cross_origin", "message": (
                f"Cross-origin request refused ({reason}): the demo only answers uploads from its own page.")},
                status_code=403)
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)
