"""What an IAM-signed request costs the server to authenticate, against a Bearer key.

Both go through the real ``Authenticator.authenticate`` over a fresh SQLite store, as
``require`` calls it for every request. A Bearer key costs one SHA-256 and one indexed read; a
signature adds a second read (the access key), a Fernet decryption of the secret key and an
HMAC-SHA256 of the request line. Rounds alternate so a busy spell on the machine hits both.

    .venv/bin/python bench/bench_iam_auth.py [--calls 2000] [--rounds 5]

Prints microseconds per call for each, and the ratio signed / Bearer. No assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping

from tunestudio.server.auth import Authenticator
from tunestudio.server.iam import IamKeyStore, sign
from tunestudio.server.keystore import KeyStore, Scope

URI = b"/tuning/v2/tasks?page=0&size=20"


def per_call_us(call: Callable[[], object], calls: int) -> float:
    """Mean microseconds of ``call`` over ``calls`` runs."""
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def fixtures() -> tuple[Authenticator, Mapping[str, str], Callable[[], Mapping[str, str]]]:
    """An Authenticator over a new store, Bearer headers, and a maker of signed headers."""
    keys = KeyStore()
    iam = IamKeyStore(keys)
    pair = iam.create("bench", [Scope.TUNE], rate_limit=0)
    auth = Authenticator(keys, allow_open=False, iam=iam)

    def signed() -> Mapping[str, str]:
        ts = str(int(time.time() * 1000))
        return {
            "x-ncp-iam-access-key": pair.access_key,
            "x-ncp-apigw-timestamp": ts,
            "x-ncp-apigw-signature-v2": sign(pair.secret_key, "GET", URI, ts, pair.access_key),
        }

    return auth, {"authorization": f"Bearer {pair.key.key}"}, signed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ["TUNESTUDIO_HOME"] = tempfile.mkdtemp(prefix="bench-iam-")
    auth, bearer, make_signed = fixtures()
    signed = make_signed()  # one request's headers, checked again and again (within 5 min)
    target = ("GET", URI)
    base, iam = [], []
    for _ in range(args.rounds):
        base.append(per_call_us(lambda: auth.authenticate(bearer, Scope.TUNE, target), args.calls))
        iam.append(per_call_us(lambda: auth.authenticate(signed, Scope.TUNE, target), args.calls))
    b, s = statistics.median(base), statistics.median(iam)
    print(f"Bearer key     {b:8.1f} us/call (median of {args.rounds} rounds x {args.calls})")
    print(f"IAM signature  {s:8.1f} us/call")
    print(f"ratio signed / Bearer: {s / b:.2f}x  ({s - b:+.1f} us per request)")


if __name__ == "__main__":
    main()
