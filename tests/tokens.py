"""The secrets the tests configure. None may ever appear in anything the app produces: after a
full run, tests/secret_scan.py greps every response, log line and audit row for them."""

import base64
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

CLIENT_TOKEN = "tok-SECRET-4f9a1c"
REAL_TOKEN = "tok-SECRET-real-7c1e"
PAGE_TOKEN = "tok-SECRET-91"
# The token of an account added with `convoso_account add` or the admin (tests/tenancy): new
# each run, so no file of an earlier run can hold it by chance.
ACCOUNT_TOKEN = "tok-SECRET-acct-" + secrets.token_hex(12)

# The audit trail's secrets (statusadmin/audit/keys.py): the chain key, the bearer token of the
# checkpoint endpoint, and an Ed25519 signing key (fixed, so its PEM can be scanned for).
CHAIN_KEY = "chain-SECRET-0b7d2e9a41c8f3e6d5b4a39281706f5e"
CHECKPOINT_URL_TOKEN = "cp-SECRET-5a8e1f"
SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex("5e" * 16 + "c7" * 16))
SIGNING_PEM = SIGNING_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
# The PEM's one line of base64, and the raw private key as hex and base64.
SIGNING_PEM_BODY = SIGNING_PEM.decode().splitlines()[1]
SIGNING_SEED_HEX = SIGNING_KEY.private_bytes_raw().hex()
SIGNING_SEED_B64 = base64.b64encode(SIGNING_KEY.private_bytes_raw()).decode()

ALL = (
    CLIENT_TOKEN, REAL_TOKEN, PAGE_TOKEN, ACCOUNT_TOKEN,
    CHAIN_KEY, CHECKPOINT_URL_TOKEN, SIGNING_PEM_BODY, SIGNING_SEED_HEX, SIGNING_SEED_B64,
)  # fmt: skip
