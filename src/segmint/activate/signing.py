"""Standard Webhooks signatures: ``whsec_`` secrets, the three headers, and verification.

The `Standard Webhooks <https://www.standardwebhooks.com>`_ specification signs
``{webhook-id}.{webhook-timestamp}.{body}`` with HMAC-SHA256 under the secret's key (the
base64 after ``whsec_``) and sends ``v1,<base64 signature>``; during a secret's rotation the
header carries one signature per secret, separated by spaces, and a receiver accepts the
message when any of them verifies. The tests check these signatures with the reference
``standardwebhooks`` package.

Examples
--------
>>> secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
>>> headers = sign_headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}', [secret])
>>> headers["webhook-signature"]
'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
>>> verify(headers, b'{"test": 2432232314}', [secret], now=1614265330)
True
>>> verify(headers, b'{"test": 1}', [secret], now=1614265330)
False
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["PREFIX", "TOLERANCE_S", "new_secret", "sign", "sign_headers", "verify"]

PREFIX = "whsec_"

#: How far a receiver lets ``webhook-timestamp`` be from its clock (the specification's 5 minutes).
TOLERANCE_S = 300


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and 32 random bytes in base64 (the specification allows 24-64)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with 'whsec_'")
    return base64.b64decode(secret[len(PREFIX):])


def sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The ``v1,<base64>`` signature of one message under one secret."""
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign_headers(msg_id: str, timestamp: int, body: bytes, secrets_: list[str]) -> dict[str, str]:
    """The three Standard Webhooks headers for a message, signed under every active secret."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": " ".join(sign(msg_id, timestamp, body, s) for s in secrets_)}


def verify(headers: dict[str, str], body: bytes, secrets_: list[str], now: float,
           tolerance: int = TOLERANCE_S) -> bool:
    """Whether a received message is signed by one of ``secrets_`` and recent enough (a receiver's check)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, stamp = lower["webhook-id"], int(lower["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - stamp) > tolerance:
        return False
    given = lower.get("webhook-signature", "").split()
    for secret in secrets_:
        expected = sign(msg_id, stamp, body, secret)
        if any(hmac.compare_digest(expected, g) for g in given):
            return True
    return False
