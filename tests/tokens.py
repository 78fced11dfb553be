"""The Convoso tokens the tests configure. None may ever appear in anything the app produces:
after a full run, tests/secret_scan.py greps every response, log line and audit row for them."""

CLIENT_TOKEN = "tok-SECRET-4f9a1c"
REAL_TOKEN = "tok-SECRET-real-7c1e"
PAGE_TOKEN = "tok-SECRET-91"

ALL = (CLIENT_TOKEN, REAL_TOKEN, PAGE_TOKEN)
