"""nkeys for tests: ed25519 key pairs (Python's `cryptography`) in nkeys'
encoding, base32(prefix | key | crc16 LE), and nonce signatures as NATS
clients send them (base64url, no padding)."""
import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX_USER = 20 << 3      # 'U'
PREFIX_ACCOUNT = 0         # 'A'


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode(prefix, raw):
    body = bytes([prefix]) + raw
    c = crc16(body)
    return base64.b32encode(body + bytes([c & 0xFF, c >> 8])).decode().rstrip("=")


class KeyPair:
    def __init__(self, prefix=PREFIX_USER):
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = encode(prefix, raw)

    def sign(self, nonce):
        """The CONNECT `sig` for an INFO nonce."""
        return base64.urlsafe_b64encode(self.key.sign(nonce.encode())).decode().rstrip("=")
