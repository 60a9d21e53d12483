"""Sign in with Slack's id_token: a JWT signed RS256 as Slack's are, with a fixed test key whose
public half the fake serves as a JWK set (Slack's https://slack.com/openid/connect/keys).

The private key is public test data (it is in this file): never trust it anywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

ISSUER = "https://slack.com"  # the `iss` of Slack's id_tokens
KEY_ID = "fakeslack-test-key-1"
# The test key's primes (2048-bit modulus, e = 65537).
_P = int(
    "d7d7a79d077524b1d1af6ccf9451b157767d3b352fa333dc035ed94d8d0e9da64c7df9a05814fdc8bcd46270"
    "38ad7bd231da6fe0ebb341b399551c7b1bde20c5a2ccb564ed3d706540f80d4f26027f43e102ad5bcb7b4084"
    "cd0a4682ed2f8369131ad546112b8e8b47fd0420ea74b05b765343646a5c72653741c593f6f216cb",
    16,
)
_Q = int(
    "c8b0ea616843f5005423edb8441e48f2ee36db7c69f44cb802217515760f04314300f30791ad94f0c4064288"
    "4cb07000685855b4dbb7e3af2848c78b8d88f3caafde529c3018a70410698878676f6d650702811d1bd74244"
    "09d374252b7b6074524e015e5ecd3121518972cbfe60c445f34b2b107d9e41becae1ec204120494b",
    16,
)
_N, _E = _P * _Q, 65537
_D = pow(_E, -1, (_P - 1) * (_Q - 1))
_SIZE = (_N.bit_length() + 7) // 8  # bytes in a signature
# The DER prefix of a SHA-256 DigestInfo, which PKCS #1 v1.5 signatures embed (RFC 8017, 9.2).
_SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs and JWKs encode bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _encoded_digest(message: bytes) -> int:
    """EMSA-PKCS1-v1_5 of SHA-256(message), as the integer RSA signs."""
    info = _SHA256_INFO + hashlib.sha256(message).digest()
    return int.from_bytes(b"\x00\x01" + b"\xff" * (_SIZE - 3 - len(info)) + b"\x00" + info, "big")


def encode(claims: dict[str, Any]) -> str:
    """A JWT of `claims`, signed RS256 with the test key."""
    header = {"typ": "JWT", "alg": "RS256", "kid": KEY_ID}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = pow(_encoded_digest(signing_input.encode()), _D, _N)
    return f"{signing_input}.{_b64url(signature.to_bytes(_SIZE, 'big'))}"


def jwks() -> dict[str, Any]:
    """The public key as a JWK set."""
    key = {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": KEY_ID,
        "n": _b64url(_N.to_bytes(_SIZE, "big")),
        "e": _b64url(_E.to_bytes(3, "big")),
    }
    return {"keys": [key]}
