#!/usr/bin/env python3
"""A verifier of Kluis audit exports written from docs/AUDIT_FORMAT.md alone, with Python's
hashlib.blake2b and PyNaCl (python3-nacl): the proof that the format document is enough.

Usage: verify_export.py EXPORT PUBLIC_KEY_HEX
Exit 0 when the export verifies, 6 naming the first problem, 1 when it is not an export.
"""
import hashlib
import json
import struct
import sys

import nacl.exceptions
import nacl.signing

FIELDS = ["actor", "role", "action", "account", "decision", "rule", "reason", "request_id", "peer", "outcome"]
GENESIS = bytes(32)


def text_bytes(value):
    # Strings decode to exactly the bytes that were hashed (§3); surrogateescape keeps any byte.
    return value.encode("utf-8", "surrogateescape")


def canonical(record):
    # Version 2 records carry the presented certificate as an eleventh field; version 1 records
    # (written before it) have no "certificate" key (§1).
    version = 2 if "certificate" in record else 1
    out = bytes([version]) + struct.pack(">Q", record["seq"]) + struct.pack(">q", record["time_us"])
    for name in FIELDS + (["certificate"] if version == 2 else []):
        value = text_bytes(record[name])
        out += struct.pack(">I", len(value)) + value
    return out


def chain_hash(previous, canonical_bytes):
    return hashlib.blake2b(b"kluis/audit/v1" + previous + canonical_bytes, digest_size=32).digest()


def checkpoint_message(seq, chain, time_us):
    return b"kluis/audit-checkpoint/v1" + struct.pack(">Q", seq) + chain + struct.pack(">q", time_us)


class Bad(Exception):
    pass


def verify(lines, verify_key):
    header = None
    expected, previous, protected = 1, GENESIS, 0
    last_seq, records, filtered = 0, 0, False
    for number, raw in enumerate(lines, 1):
        text = raw.decode("utf-8", "surrogateescape").rstrip("\n")
        if not text:
            continue
        try:
            line = json.loads(text)
        except ValueError as error:
            if header is None:
                raise SystemExit("not a Kluis audit export: the first line is no JSON object")
            raise Bad(f"line {number} is not JSON ({error})")
        if not isinstance(line, dict):
            if header is None:
                raise SystemExit("not a Kluis audit export: the first line is no JSON object")
            raise Bad(f"line {number} is not a JSON object")
        if header is None:
            if line.get("type") != "header" or line.get("format") != "kluis-audit-export/1":
                raise SystemExit("not a Kluis audit export: the first line is no header")
            header = line
            filtered = line.get("filter") != "none"
            continue
        kind = line.get("type")
        try:
            if kind == "record":
                seq = line["seq"]
                if not filtered:
                    if seq > expected:
                        raise Bad(f"record {expected} is missing (deleted): the next is {seq}")
                    if seq < expected:
                        raise Bad(f"record {seq} is out of place after record {expected - 1}")
                elif seq <= last_seq:
                    raise Bad(f"record {seq} is out of place after record {last_seq}")
                mine = canonical(line)
                if mine != bytes.fromhex(line["canonical"]):
                    raise Bad(f"record {seq} was modified: its fields do not match its canonical bytes")
                prev = bytes.fromhex(line["prev_hash"])
                follows = (seq == last_seq + 1) if records else not filtered
                if follows and prev != previous:
                    raise Bad(f"record {seq} does not follow record {last_seq}: the chain is broken")
                digest = bytes.fromhex(line["hash"])
                if chain_hash(prev, mine) != digest:
                    raise Bad(f"record {seq} was modified: its chain hash does not match its bytes")
                previous, last_seq, expected = digest, seq, seq + 1
                records += 1
            elif kind == "checkpoint":
                seq = line["seq"]
                signature = line.get("signature", "")
                if not signature:
                    raise Bad(f"checkpoint at record {seq} has no signature")
                if seq > last_seq:
                    raise Bad(f"checkpoint at record {seq} names a record that is not in the export: cut off")
                if seq != last_seq:
                    raise Bad(f"checkpoint at record {seq} is out of place after record {last_seq}")
                chain = bytes.fromhex(line["hash"])
                try:
                    verify_key.verify(checkpoint_message(seq, chain, line["time_us"]), bytes.fromhex(signature))
                except (nacl.exceptions.BadSignatureError, ValueError):
                    raise Bad(f"checkpoint at record {seq}: the signature does not verify with the given public key")
                if chain != previous:
                    raise Bad(f"checkpoint at record {seq}: the signed chain hash differs from the records'")
                protected = seq
            else:
                raise Bad(f"line {number}: unknown line type {kind!r}")
        except (KeyError, TypeError, ValueError) as error:
            raise Bad(f"line {number}: missing or malformed field ({error})")
    if header is None:
        raise SystemExit("not a Kluis audit export: empty")
    if not filtered and last_seq > protected:
        raise Bad(f"records {protected + 1} to {last_seq} come after the last checkpoint "
                  f"(record {protected}): an unprotected tail")
    return records, filtered


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 1
    try:
        verify_key = nacl.signing.VerifyKey(bytes.fromhex(sys.argv[2]))
    except (ValueError, nacl.exceptions.CryptoError):
        print("verify_export: the public key must be 64 hex characters", file=sys.stderr)
        return 1
    try:
        with open(sys.argv[1], "rb") as export:
            records, filtered = verify(export, verify_key)
    except Bad as problem:
        print(f"verify_export: verification failed: {problem}", file=sys.stderr)
        return 6
    except SystemExit as problem:
        print(f"verify_export: {problem}", file=sys.stderr)
        return 1
    print(f"ok: {records} records{' (filtered)' if filtered else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
