"""Finding 6 of issue 9, against a real `soma serve` on 127.0.0.1: who a client is for the rate limit.

uvicorn believed X-Forwarded-For from 127.0.0.1 by default, so a client on this machine could name itself
anything; now forwarded headers count only from SOMA_TRUSTED_PROXIES.
"""

import httpx
from served import AUTH, ServeFactory


def _statuses(url: str, headers: list[dict[str, str]]) -> list[int]:
    with httpx.Client(base_url=url) as client:
        return [client.get("/stats", headers=h).status_code for h in headers]


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(serve: ServeFactory) -> None:
    served = serve(rate_limit_per_minute=3)
    spoofed = [{"Authorization": "Bearer junk", "X-Forwarded-For": f"10.0.0.{n}"} for n in range(3)]
    spoofed += [{"Authorization": "Bearer junk", "Forwarded": "for=10.0.1.1"}]
    assert _statuses(served.url, spoofed) == [403, 403, 403, 429]
    assert _statuses(served.url, [AUTH]) == [200]


def test_forwarded_headers_from_a_trusted_proxy_name_the_client(serve: ServeFactory) -> None:
    served = serve(rate_limit_per_minute=2, trusted_proxies="127.0.0.1, 10.9.0.0/16")
    junk = {"Authorization": "Bearer junk"}
    first = {**junk, "X-Forwarded-For": "192.0.2.1"}
    # A client's own entry lies left of what the proxies appended: the rightmost untrusted hop counts.
    first_spoofing = {**junk, "X-Forwarded-For": "198.51.100.7, 192.0.2.1"}
    through_two_proxies = {**junk, "X-Forwarded-For": "192.0.2.1, 10.9.3.4"}
    assert _statuses(served.url, [first, first_spoofing, through_two_proxies]) == [403, 403, 429]
    second = {**junk, "Forwarded": 'for="192.0.2.2:4711";proto=http'}
    third_ipv6 = {**junk, "X-Forwarded-For": "[2001:db8::1]:443"}
    same_ipv6_host = {**junk, "X-Forwarded-For": "2001:db8::2"}  # the same /64
    statuses = _statuses(served.url, [second, second, second, third_ipv6, same_ipv6_host, third_ipv6])
    assert statuses == [403, 403, 429, 403, 403, 429]
