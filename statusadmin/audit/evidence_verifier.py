#!/usr/bin/env python3
"""Check a statusadmin audit evidence bundle, without statusadmin.

    python verify.py [BUNDLE] [--fingerprint HEX ...] [--key FILE ...] [--chain-key-file FILE]

BUNDLE is the bundle's .zip or the folder it was extracted to (default: the folder this file
is in). It needs Python 3.9 or later and the `cryptography` package, nothing else.

--fingerprint (the SHA-256 of the organisation's public key, 64 hex digits) or --key (the
public key itself, PEM) pins the key that checkpoints must be signed with. Get it from the
organisation, not from the bundle: a forger who rewrote the entries would also have replaced
the bundle's key with their own and signed everything again.

It prints "verified: ..." and exits 0 when every entry of the bundle follows the one before
it, matches its hash, and is covered by a checkpoint signed with a pinned key. Otherwise it
names the first bad entry (or the checkpoint signed with a key not pinned) and exits 1, or says
what it could not vouch for and exits 2. With no key pinned it checks the signatures with the
bundle's own keys, prints their fingerprints, and exits 3 where it would have said verified.
README.md, beside this file in a bundle, explains what that proves and what it doesn't.

This file is also where the dashboard itself takes an entry's canonical form, its hash, its
chain-key tag and the checkpoint signatures from (statusadmin/audit/evidence_verifier.py):
what the application writes and what an auditor checks can't drift apart. So it imports
nothing but the standard library and `cryptography`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import io
import json
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS = "0" * 64

# What a checkpoint's signature covers, and the text signed: a fixed prefix, so that no other
# message signed with the same key can pass for a checkpoint.
SIGNED_FIELDS = ("seq", "hash", "at", "count", "keyed", "key_id")
_CHECKPOINT_PREFIX = b"statusadmin audit checkpoint v1\n"

VALID, BAD, UNKNOWN_KEY, UNSIGNED = "valid", "bad signature", "unknown key", "unsigned"

# Exit statuses.
VERIFIED, FAILED, INCOMPLETE, UNPINNED = 0, 1, 2, 3

ENTRIES, CHECKPOINTS, KEYS_DIR = "entries.jsonl", "checkpoints.jsonl", "public_keys"
CATALOGUES = "catalogue.json"


# --- the definitions the application uses too --------------------------------------------------


def canonical_json(content: Mapping[str, Any]) -> str:
    """One stable text for an entry's content: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    """An entry's place in the chain: SHA-256(previous hash + newline + canonical content)."""
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(content)}".encode()).hexdigest()


def chain_key_bytes(text: str) -> bytes:
    """The chain key as configured (an environment variable or a file's text) to key bytes."""
    return text.strip().encode("utf-8")


def chain_tag(key: bytes, entry_hash: str) -> str:
    """HMAC-SHA256 of an entry's hash: only a holder of the chain key can make it, and since
    the hash covers every entry before, the tag vouches for the whole chain up to the entry."""
    return hmac.new(key, entry_hash.encode(), hashlib.sha256).hexdigest()


def tag_matches(key: bytes, entry_hash: str, tag: str) -> bool:
    return hmac.compare_digest(chain_tag(key, entry_hash), tag)


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the public key's 32 raw bytes, in hex: what an auditor is given out of band
    and pins (--fingerprint), so that a key brought by a forged bundle can't pass for it."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key, derived from the key itself so that it can't lie: the
    first 16 digits of its fingerprint. Too short to pin: with enough computing power a forger
    could make a key whose first 64 bits are the same.
    """
    return fingerprint(public_key)[:16]


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def checkpoint_message(checkpoint: Mapping[str, Any]) -> bytes:
    signed = {name: checkpoint.get(name) for name in SIGNED_FIELDS}
    return _CHECKPOINT_PREFIX + canonical_json(signed).encode()


def sign_checkpoint(private_key: Ed25519PrivateKey, checkpoint: Mapping[str, Any]) -> dict:
    """The checkpoint with the signing key's id and its Ed25519 signature added."""
    signed = {**checkpoint, "key_id": key_id(private_key.public_key())}
    signature = private_key.sign(checkpoint_message(signed))
    return {**signed, "sig": base64.b64encode(signature).decode("ascii")}


def check_signature(checkpoint: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> str:
    """VALID, BAD, UNKNOWN_KEY or UNSIGNED."""
    if not checkpoint.get("sig") and not checkpoint.get("key_id"):
        return UNSIGNED
    key = keys.get(str(checkpoint.get("key_id")))
    if key is None:
        return UNKNOWN_KEY
    try:
        key.verify(
            base64.b64decode(str(checkpoint.get("sig")), validate=True),
            checkpoint_message(checkpoint),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return BAD
    return VALID


# --- checking a bundle ---------------------------------------------------------------------------


@dataclass
class Verdict:
    """VERIFIED, FAILED (``summary`` names the first bad entry or checkpoint), INCOMPLETE, or
    UNPINNED: it would have been verified, but by keys that came with the bundle."""

    status: int
    summary: str
    notes: list[str] = field(default_factory=list)
    first: int | None = None  # the bundle's first entry, once its entries hold together


class _Bad(Exception):
    pass


class _Bundle:
    """The bundle's files, from its zip or the folder it was extracted to."""

    def __init__(self, source: Path) -> None:
        self.zip = zipfile.ZipFile(source) if source.is_file() else None
        self.root = source
        self.prefix = ""
        if self.zip is not None:
            # A bundle zips its files in one top folder; accept them at the top level too.
            names = self.zip.namelist()
            tops = {name.split("/", 1)[0] for name in names if "/" in name}
            if ENTRIES not in names and len(tops) == 1:
                self.prefix = f"{tops.pop()}/"

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def lines(self, name: str) -> Iterator[str]:
        if self.zip is not None:
            try:
                handle = self.zip.open(self.prefix + name)
            except KeyError:
                raise _Bad(f"the bundle has no {name}") from None
            yield from io.TextIOWrapper(handle, encoding="utf-8")
            return
        path = self.root / name
        if not path.exists():
            raise _Bad(f"the bundle has no {name}")
        with path.open(encoding="utf-8") as text:
            yield from text

    def public_keys(self) -> list[bytes]:
        if self.zip is not None:
            folder = f"{self.prefix}{KEYS_DIR}/"
            return [
                self.zip.read(name)
                for name in sorted(self.zip.namelist())
                if name.startswith(folder) and name.endswith(".pem")
            ]
        return [path.read_bytes() for path in sorted((self.root / KEYS_DIR).glob("*.pem"))]


def _records(bundle: _Bundle, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in enumerate(bundle.lines(name), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError:
            raise _Bad(f"line {number} of {name} is not JSON") from None
        if not isinstance(record, dict):
            raise _Bad(f"line {number} of {name} is not a JSON object")
        yield number, record


def _trusted_keys(
    bundle: _Bundle, public_keys: list[bytes], fingerprints: list[str], notes: list[str]
) -> dict[str, Ed25519PublicKey]:
    """The keys checkpoints may be signed with, by key id: the pinned ones (given as keys, or
    those of the bundle's keys whose fingerprints were given), or when none is pinned, all the
    bundle's own."""
    keys = {key_id(key): key for key in map(load_public_key, public_keys)}
    if public_keys and not fingerprints:
        return keys
    brought = [load_public_key(pem) for pem in bundle.public_keys()]
    if not public_keys and not fingerprints:
        return {key_id(key): key for key in brought}
    keys.update((key_id(key), key) for key in brought if fingerprint(key) in fingerprints)
    found = {fingerprint(key) for key in brought}
    for wanted in sorted(set(fingerprints) - found):
        notes.append(f"pinned fingerprint {wanted} matches no key in the bundle")
    return keys


def _where(cp: Mapping[str, Any]) -> str:
    return f"the signed checkpoint of {cp.get('at')} (entry {cp.get('seq')}, key {cp['key_id']})"


def _checkpoints(
    bundle: _Bundle, keys: Mapping[str, Ed25519PublicKey], pinned: bool, notes: list[str]
) -> dict[int, dict[str, Any]]:
    """The validly signed checkpoints by entry number. A bad signature is an error, and so,
    once keys are pinned, is a signature by any other key: trusting the bundle's word for it
    is what pinning is for."""
    valid: dict[int, dict[str, Any]] = {}
    unsigned = unknown = 0
    for number, cp in _records(bundle, CHECKPOINTS):
        state = check_signature(cp, keys)
        if state == BAD:
            raise _Bad(
                f"checkpoint on line {number} of {CHECKPOINTS} (entry {cp.get('seq')}, "
                f"{cp.get('at')}): its signature does not match: it was altered or forged"
            )
        if state == UNSIGNED:
            unsigned += 1
        elif state == UNKNOWN_KEY and pinned:
            raise _Bad(
                f"checkpoint on line {number} of {CHECKPOINTS} (entry {cp.get('seq')}) is "
                f"signed with key {cp.get('key_id')}, which is not a key you pinned: the "
                "bundle's keys were replaced, or the organisation has not given you that key"
            )
        elif state == UNKNOWN_KEY:
            unknown += 1
            notes.append(
                f"checkpoint on line {number} (entry {cp.get('seq')}) is signed with key "
                f"{cp.get('key_id')}, which is not trusted: not used"
            )
        else:
            try:
                seq, digest = int(cp["seq"]), str(cp["hash"])
            except (KeyError, TypeError, ValueError):
                raise _Bad(f"checkpoint on line {number} of {CHECKPOINTS} is malformed") from None
            if seq in valid and valid[seq]["hash"] != digest:
                raise _Bad(
                    f"two signed checkpoints of entry {seq} disagree ({valid[seq].get('at')} "
                    f"and {cp.get('at')})"
                )
            valid.setdefault(seq, cp)
    if unsigned:
        notes.append(
            f"{unsigned} unsigned checkpoint{'s' if unsigned != 1 else ''}: not used, since "
            "anyone who could write the checkpoint file could have written them"
        )
    return valid


def _entry_name(line: Mapping[str, Any], seq: int) -> str:
    if line.get("withheld") is True:
        return f"entry {seq} (another account's, withheld)"
    entry = line.get("entry") or {}
    who = entry.get("actor_username")
    when = entry.get("created_at")
    extra = ", ".join(str(x) for x in (f"id {line.get('id')}", when, who and f"by {who}") if x)
    return f"entry {seq} ({extra})"


def _check_entries(
    bundle: _Bundle,
    signed: Mapping[int, Mapping[str, Any]],
    chain_key: bytes | None,
    notes: list[str],
) -> Verdict:
    first = last = None
    prev_hash = None
    prev_tagged: int | None = None
    in_period = tagged = withheld = 0
    covered_by: Mapping[str, Any] | None = None
    for number, line in _records(bundle, ENTRIES):
        entry = line.get("entry")
        if line.get("withheld") is True and entry is None and isinstance(line.get("seq"), int):
            # Another Convoso account's entry: only its place and hashes are here. The chain
            # runs through it (its hash is what the next entry names), but what it says, and
            # so whether its hash is right, is not this bundle's to show.
            seq, entry = line["seq"], None
            withheld += 1
        elif not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
            raise _Bad(f"line {number} of {ENTRIES} is not an entry")
        else:
            seq = entry["seq"]
        name = _entry_name(line, seq)
        if last is not None and seq != last + 1:
            if seq > last + 1:
                raise _Bad(f"entry {last + 1} is missing (deleted?); the bundle jumps to {seq}")
            raise _Bad(f"{name} appears out of order")
        if first is None:
            first = seq
            anchor = signed.get(seq - 1)
            if anchor is not None and anchor["hash"] != line.get("prev_hash"):
                raise _Bad(f"{name} does not follow {_where(anchor)}")
        elif line.get("prev_hash") != prev_hash:
            raise _Bad(
                f"{name} does not follow entry {seq - 1}: an entry was inserted, removed or "
                "moved before it"
            )
        if not isinstance(line.get("hash"), str):
            raise _Bad(f"{name} has no hash")
        if entry is not None and link_hash(str(line.get("prev_hash")), entry) != line["hash"]:
            raise _Bad(f"{name} was changed: its content no longer matches its hash")
        tag = str(line.get("mac") or "")
        if tag:
            tagged += 1
            prev_tagged = seq
            if chain_key is not None and not tag_matches(chain_key, line["hash"], tag):
                raise _Bad(f"{name}: its chain-key tag does not match: it was rewritten")
        elif prev_tagged is not None:
            raise _Bad(
                f"{name} carries no chain-key tag, though entry {prev_tagged} before it does"
            )
        point = signed.get(seq)
        if point is not None:
            if point["hash"] != line["hash"]:
                raise _Bad(f"{name} differs from {_where(point)}: the chain was rewritten")
            if point.get("keyed") and not tag:
                raise _Bad(f"{name} lost the chain-key tag that {_where(point)} recorded")
            covered_by = point
        in_period += entry is not None and bool(line.get("in_period", True))
        prev_hash, last = line["hash"], seq
    if first is None or last is None:
        return Verdict(INCOMPLETE, "nothing to vouch for: the bundle holds no entries", notes)
    beyond = [cp for seq, cp in signed.items() if seq > last]
    if beyond:
        cp = min(beyond, key=lambda c: int(c["seq"]))
        raise _Bad(
            f"the bundle ends at entry {last}, but {_where(cp)} records entry {cp['seq']}: "
            "entries were cut from the end"
        )
    if withheld:
        notes.append(
            f"{withheld} entr{'y' if withheld == 1 else 'ies'} of other Convoso accounts "
            f"{'is' if withheld == 1 else 'are'} withheld: the chain runs through "
            f"{'its hash' if withheld == 1 else 'their hashes'}, but what "
            f"{'it says' if withheld == 1 else 'they say'} is not in this bundle, so it is "
            "not checked here"
        )
    if chain_key is None and tagged:
        notes.append(
            f"{tagged} entr{'y carries' if tagged == 1 else 'ies carry'} a chain-key tag, not "
            "checked: that needs the organisation's chain key (--chain-key-file). The signed "
            "checkpoints vouch for the entries without it."
        )
    span = f"entries {first}-{last}" if first != last else f"entry {first}"
    if covered_by is None or int(covered_by["seq"]) < last:
        done = f"up to entry {covered_by['seq']}" if covered_by else "none of them"
        return Verdict(
            INCOMPLETE,
            f"not vouched for: {span} hold together, but a signed checkpoint covers {done}; "
            "the rest can't be vouched for until a later checkpoint is in the bundle",
            notes,
        )
    extra = last - first + 1 - in_period
    outside = f" (and {extra} around it, kept for the chain)" if extra else ""
    return Verdict(
        VERIFIED,
        f"verified: {in_period} entr{'y' if in_period == 1 else 'ies'} of the period"
        f"{outside}, {span}, unchanged since {_where(covered_by)}",
        notes,
        first,
    )


# --- the catalogue at a moment ------------------------------------------------------------------
#
# What every status said at a moment, rebuilt from the entries alone: the dashboard does it with
# this code (audit/history.py), and an auditor checks a bundle's catalogues with it. The state
# is plain JSON: {code: {"fields": {field: value}, "set_by": {field: seq}, "since": seq,
# "last": seq, "uncertain": seq or None}}, where set_by names the entry that gave each field
# its value, since the entry the status was first known from, last the latest entry about it,
# and uncertain an attempt whose outcome nobody knew yet (its reply was lost).

CATALOGUE_FIELDS = (
    "name", "color", "final", "reached", "success", "dnc", "callback", "contact", "voicemail",
    "custom",
)  # fmt: skip
# Entries that say what a status holds from then on: its whole record after the change.
_SETS = {
    ("create", "succeeded"), ("update", "succeeded"),
    ("external_create", "observed"), ("external_update", "observed"),
}  # fmt: skip
COPY = "catalogue_copy"  # the whole catalogue as the dashboard first copied it
# An ``upto`` later than any timestamp: every entry, whenever it completed.
EVERYTHING = "~"
CATALOGUE = "catalogue"  # where a copy's ``after`` holds its statuses
# Convoso's own names for the fields (its Status API), as exports and bundles give them.
API_NAMES = {
    "code": "status", "name": "name", "color": "hex_color", "final": "final",
    "reached": "reached", "success": "success", "dnc": "dnc", "callback": "callback",
    "contact": "contact", "voicemail": "voicemail", "custom": "custom_status",
}  # fmt: skip


def _take(state: dict[str, Any], code: str, record: Mapping[str, Any], seq: int) -> None:
    old = state.get(code)
    fields = {name: record.get(name) for name in CATALOGUE_FIELDS}
    state[code] = {
        "fields": fields,
        "set_by": {
            name: old["set_by"][name]
            if old is not None and old["fields"].get(name) == value
            else seq
            for name, value in fields.items()
        },
        "since": old["since"] if old is not None else seq,
        "last": seq,
        "uncertain": None,
    }


def catalogue_replay(
    state: dict[str, Any], entries: Iterable[Mapping[str, Any]], *, account: str, upto: str
) -> dict[str, Any]:
    """Apply, in order, the entries (their hashed content) of ``account`` completed at or
    before ``upto`` (an entry's own timestamp form: UTC ISO 8601, microseconds) to ``state``.
    Failed, rejected, pending and refused attempts, and the four-eyes steps, change nothing:
    only what took effect does."""
    for entry in entries:
        if entry.get("account") != account or str(entry.get("completed_at") or "~") > upto:
            # (an entry with no completion yet never counts)
            continue
        action, outcome, seq = entry["action"], entry["outcome"], int(entry["seq"])
        code, after = str(entry.get("status_code", "")), entry.get("after")
        if action == COPY and isinstance(after, Mapping):
            copied = {str(record["code"]): record for record in after.get(CATALOGUE, [])}
            for gone in set(state) - set(copied):
                del state[gone]
            for copied_code, record in copied.items():
                _take(state, copied_code, record, seq)
        elif (action, outcome) in _SETS and isinstance(after, Mapping):
            _take(state, code, after, seq)
        elif action == "resolve":  # a read that settled a lost reply: what Convoso held
            if isinstance(after, Mapping):
                _take(state, code, after, seq)
            else:
                state.pop(code, None)
        elif action == "external_remove" and outcome == "observed":
            state.pop(code, None)
        elif action in ("create", "update") and outcome == "unknown" and code in state:
            state[code]["uncertain"] = seq
    return state


def catalogue_rows(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The state as Convoso's Status API would list it (flags Y/N), in code order, each status
    with the entry it rests on and whether it is known (not while a lost reply is unsettled)."""
    rows = []
    for code in sorted(state):
        status = state[code]
        row: dict[str, Any] = {"status": code}
        for name, value in status["fields"].items():
            if isinstance(value, bool):
                value = "Y" if value else "N"
            row[API_NAMES[name]] = value if value is not None else ""
        row["as_of_entry"] = status["last"]
        row["known"] = status["uncertain"] is None
        rows.append(row)
    return rows


def _first_difference(claimed: list[dict[str, Any]], rebuilt: list[dict[str, Any]]) -> str:
    said = {str(row.get("status")): row for row in claimed if isinstance(row, dict)}
    found = {str(row["status"]): row for row in rebuilt}
    for code in sorted(set(said) | set(found)):
        if code not in found:
            return f"it lists {code}, which the entries don't hold"
        if code not in said:
            return f"it leaves out {code}, which the entries hold"
        for name in found[code]:
            if said[code].get(name) != found[code][name]:
                return (
                    f"{code}'s {name} is {said[code].get(name)!r} there, "
                    f"{found[code][name]!r} from the entries"
                )
    return "its statuses differ in order or form"


def _check_catalogues(bundle: _Bundle, first: int, notes: list[str]) -> str:
    """The catalogues at the period's start and end, rebuilt here from the bundle's entries
    (replayed on the state the bundle says the log held before them) and compared with what
    the dashboard put in the bundle. Returns the words for the verdict."""
    try:
        claims = json.loads("".join(bundle.lines(CATALOGUES)))
    except _Bad:
        notes.append(f"the bundle holds no {CATALOGUES} (it was made before catalogues were)")
        return ""
    accounts = claims["accounts"]
    for account, claim in sorted(accounts.items()):
        if claim["base_after_entry"] != first - 1:
            raise _Bad(
                f"{CATALOGUES} starts its rebuild after entry {claim['base_after_entry']}, "
                f"but the bundle's entries start at {first}"
            )
        for moment in ("start", "end"):
            state = json.loads(json.dumps(claim["base"]))  # a fresh copy for each replay
            entries = (line["entry"] for _, line in _records(bundle, ENTRIES) if "entry" in line)
            catalogue_replay(state, entries, account=account, upto=str(claims[moment]))
            rebuilt = catalogue_rows(state)
            if rebuilt != claim[moment]:
                raise _Bad(
                    f"the catalogue of account {account} at the {moment} of the period "
                    f"({claims[moment]}) doesn't follow from the entries: "
                    + _first_difference(claim[moment], rebuilt)
                )
    if not accounts:
        return ""
    if first <= 1:
        notes.append("the catalogues were rebuilt from the log's first entry: all of it is here")
    else:
        notes.append(
            f"the catalogues were rebuilt from the state the dashboard reports after entry "
            f"{first - 1}, before this bundle: entries before it aren't here to rebuild that "
            "from (a bundle from the log's first day would hold them)"
        )
    return (
        f"; the catalogue at the start and at the end of the period follows from the entries "
        f"({len(accounts)} account{'s' if len(accounts) != 1 else ''})"
    )


def verify_bundle(
    source: Path,
    *,
    public_keys: list[bytes] | None = None,
    fingerprints: list[str] | None = None,
    chain_key: bytes | None = None,
) -> Verdict:
    """Check a bundle. ``public_keys`` (PEM) and ``fingerprints`` (as ``parse_fingerprint``
    gives them) pin the keys its checkpoints must be signed with; with neither, the bundle's
    own keys are used and a verdict that would be VERIFIED is UNPINNED."""
    public_keys, fingerprints = public_keys or [], fingerprints or []
    pinned = bool(public_keys or fingerprints)
    notes: list[str] = []
    try:
        bundle = _Bundle(source)
    except (OSError, zipfile.BadZipFile) as exc:
        return Verdict(FAILED, f"FAILED: the bundle can't be read ({exc})", notes)
    try:
        keys = _trusted_keys(bundle, public_keys, fingerprints, notes)
        signed = _checkpoints(bundle, keys, pinned, notes)
        verdict = _check_entries(bundle, signed, chain_key, notes)
        if verdict.status == VERIFIED and verdict.first is not None:
            verdict = Verdict(
                verdict.status,
                verdict.summary + _check_catalogues(bundle, verdict.first, notes),
                notes,
                verdict.first,
            )
    except _Bad as exc:
        return Verdict(FAILED, f"FAILED: {exc}", notes)
    except (OSError, zipfile.BadZipFile, ValueError, TypeError, KeyError) as exc:
        # Hand-edited files can hold anything: a value of the wrong type is a bad bundle too.
        return Verdict(
            FAILED, f"FAILED: the bundle can't be read ({type(exc).__name__}: {exc})", notes
        )
    finally:
        bundle.close()
    for used in sorted({str(cp["key_id"]) for cp in signed.values()}):
        how = "pinned" if pinned else "NOT pinned, it came with the bundle"
        notes.append(
            f"checkpoints checked with key {fingerprint(keys[used])} (key id {used}): {how}"
        )
    if verdict.status == VERIFIED and not pinned:
        return Verdict(
            UNPINNED,
            "verified, but NOT PINNED: " + verdict.summary.removeprefix("verified: ") + ". "
            "The key came with the bundle, and a forger would bring their own: compare its "
            "fingerprint (above) with the one the organisation gave you, not through the "
            "bundle, and run again with --fingerprint FINGERPRINT (or --key FILE)",
            notes,
        )
    return verdict


def parse_fingerprint(text: str) -> str:
    """A fingerprint as people write it (any case; colons or spaces between digits) as 64
    lowercase hex digits."""
    digits = "".join(text.split()).replace(":", "").lower()
    if len(digits) != 64 or not all(c in "0123456789abcdef" for c in digits):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a fingerprint, which has 64 hex digits (a 16-digit key id is too "
            "short to pin)"
        )
    return digits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a statusadmin audit evidence bundle.")
    parser.add_argument("bundle", nargs="?", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument(
        "--fingerprint", action="append", type=parse_fingerprint, default=[],
        help="the organisation's public key fingerprint (SHA-256, 64 hex digits), obtained "
        "from it, not from the bundle: checkpoints must be signed with that key; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--key", action="append", type=Path, default=[],
        help="the organisation's public key (PEM) itself, obtained from it, not from the "
        "bundle; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--chain-key-file", type=Path, help="the organisation's chain key, to check the tags"
    )
    args = parser.parse_args(argv)
    verdict = verify_bundle(
        args.bundle,
        public_keys=[p.read_bytes() for p in args.key],
        fingerprints=args.fingerprint,
        chain_key=chain_key_bytes(args.chain_key_file.read_text("utf-8"))
        if args.chain_key_file
        else None,
    )
    for note in verdict.notes:
        print(f"note: {note}")
    print(verdict.summary)
    return verdict.status


if __name__ == "__main__":
    sys.exit(main())
