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

FORMAT = "kluis-audit-export/2"
FIELDS = ["actor", "role", "action", "account", "decision", "rule", "reason", "request_id", "peer", "outcome"]
GENESIS = bytes(32)
MAX_LINE = 64 * 1024  # §3: a longer line is refused
KEYS = {  # §3: each line type's keys, in the order they are written
    "header": ["type", "format", "public_key", "exported_us", "head_seq", "filter"],
    "checkpoint": ["type", "seq", "time_us", "hash", "signature"],
}


def record_keys(line):
    return ["type", "seq", "time_us"] + FIELDS + (["certificate"] if "certificate" in line else []) + \
        ["canonical", "prev_hash", "hash"]


def text_bytes(value):
    # Strings decode to exactly the bytes that were hashed (§3); surrogateescape keeps any byte.
    return value.encode("utf-8", "surrogateescape")


def write_string(value):
    out = bytearray(b'"')
    for byte in text_bytes(value):
        if byte == 0x22:
            out += b'\\"'
        elif byte == 0x5C:
            out += b"\\\\"
        elif byte == 0x0A:
            out += b"\\n"
        elif byte == 0x0D:
            out += b"\\r"
        elif byte == 0x09:
            out += b"\\t"
        elif byte < 0x20:
            out += b"\\u%04x" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


def line_bytes(line, keys):
    """A line as §3 writes it: the keys in order, no spaces, the escapes listed there, a newline."""
    parts = []
    for key in keys:
        value = line[key]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"{key} is neither a string nor an integer")
        parts.append(write_string(key) + b":" + (write_string(value) if isinstance(value, str) else str(value).encode()))
    return b"{" + b",".join(parts) + b"}\n"


def hex_bytes(value):
    if value != value.lower():
        raise ValueError("hex must be lowercase")
    return bytes.fromhex(value)


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


def export_reason(head, filter_text):
    return f"{FORMAT} head={head} filter={filter_text}"


class Bad(Exception):
    pass


def no_float(text):
    raise ValueError(f"{text} is not an integer")


def parse(text):
    return json.loads(text, parse_float=no_float, parse_constant=no_float)


def read_lines(export):
    number = 0
    while True:
        raw = export.readline(MAX_LINE + 2)
        if not raw:
            return
        number += 1
        if not raw.endswith(b"\n"):
            if len(raw) > MAX_LINE:
                raise Bad(f"line {number} is longer than {MAX_LINE} bytes")
            raise Bad(f"line {number} does not end in a newline (cut off?)")
        if len(raw) - 1 > MAX_LINE:
            raise Bad(f"line {number} is longer than {MAX_LINE} bytes")
        yield number, raw


def verify(lines, verify_key):
    header = None
    last_seq, records, checkpoints, filtered, protected = 0, 0, 0, False, 0
    previous, last = GENESIS, None
    for number, raw in lines:
        text = raw.decode("utf-8", "surrogateescape")[:-1]
        if header is None:
            try:
                line = parse(text)
            except ValueError:
                raise SystemExit("not a Kluis audit export: the first line is no JSON object")
            if not isinstance(line, dict) or line.get("type") != "header":
                raise SystemExit("not a Kluis audit export: the first line is no header")
            if line.get("format") != FORMAT:
                raise SystemExit(f"not a Kluis audit export of format {FORMAT}: {line.get('format')!r}")
            try:
                if line_bytes(line, KEYS["header"]) != raw:
                    raise Bad("line 1 is not in the export's canonical form")
                if hex_bytes(line["public_key"]) != bytes(verify_key):
                    raise Bad("the header names another public key than the one you trust")
            except (KeyError, TypeError, ValueError) as error:
                raise Bad(f"line 1: missing or malformed field ({error})")
            header, filtered = line, line["filter"] != "none"
            continue
        if not text:
            raise Bad(f"line {number} is blank")
        try:
            line = parse(text)
        except ValueError as error:
            raise Bad(f"line {number} is not JSON ({error})")
        if not isinstance(line, dict):
            raise Bad(f"line {number} is not a JSON object")
        kind = line.get("type")
        try:
            if protected == header["head_seq"]:
                raise Bad(f"line {number} follows the export's closing checkpoint")
            if kind == "record":
                seq = line["seq"]
                if seq > header["head_seq"]:
                    raise Bad(f"record {seq} is past the export's head (record {header['head_seq']})")
                if not filtered:
                    if seq > last_seq + 1:
                        raise Bad(f"record {last_seq + 1} is missing (deleted): the next is {seq}")
                    if seq < last_seq + 1:
                        raise Bad(f"record {seq} is out of place after record {last_seq}")
                elif seq <= last_seq:
                    raise Bad(f"record {seq} is out of place after record {last_seq}")
                mine = canonical(line)
                if mine != hex_bytes(line["canonical"]):
                    raise Bad(f"record {seq} was modified: its fields do not match its canonical bytes")
                prev = hex_bytes(line["prev_hash"])
                follows = (seq == last_seq + 1) if records else not filtered
                if follows and prev != previous:
                    raise Bad(f"record {seq} does not follow record {last_seq}: the chain is broken")
                digest = hex_bytes(line["hash"])
                if chain_hash(prev, mine) != digest:
                    raise Bad(f"record {seq} was modified: its chain hash does not match its bytes")
                keys = record_keys(line)
                previous, last_seq, last = digest, seq, line
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
                chain = hex_bytes(line["hash"])
                try:
                    verify_key.verify(checkpoint_message(seq, chain, line["time_us"]), hex_bytes(signature))
                except (nacl.exceptions.BadSignatureError, ValueError):
                    raise Bad(f"checkpoint at record {seq}: the signature does not verify with the given public key")
                if chain != previous:
                    raise Bad(f"checkpoint at record {seq}: the signed chain hash differs from the records'")
                keys = KEYS["checkpoint"]
                protected = seq
                checkpoints += 1
            elif kind == "header":
                raise Bad(f"line {number}: a second header")
            else:
                raise Bad(f"line {number}: unknown line type {kind!r}")
            if line_bytes(line, keys) != raw:
                raise Bad(f"line {number} is not in the export's canonical form")
        except (KeyError, TypeError, ValueError, struct.error) as error:
            raise Bad(f"line {number}: missing or malformed field ({error})")
    if header is None:
        raise SystemExit("not a Kluis audit export: empty")
    head = header["head_seq"]
    # §4: every export ends with its own record and the checkpoint signed on it.
    if records == 0:
        raise Bad(f"the export holds no records: it must end with its own record {head} and its checkpoint")
    if last_seq != head:
        raise Bad(f"the export ends at record {last_seq}, not at its own record {head}: records were cut off")
    if protected != head:
        raise Bad(f"records {protected + 1} to {last_seq} come after the last checkpoint "
                  f"(record {protected}): an unprotected tail")
    if (last["action"], last["decision"], last["outcome"], last["reason"]) != \
            ("audit-export", "allow", "ok", export_reason(head, header["filter"])):
        raise Bad(f"the export's own record {head} (signed) does not match the header (filter "
                  f"{header['filter']!r}): the header was changed")
    return records, filtered, checkpoints


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
            records, filtered, checkpoints = verify(read_lines(export), verify_key)
    except Bad as problem:
        print(f"verify_export: verification failed: {problem}", file=sys.stderr)
        return 6
    except SystemExit as problem:
        print(f"verify_export: {problem}", file=sys.stderr)
        return 1
    if filtered:
        print(f"ok: {records} records (filtered: each consistent with a hash chain, {checkpoints} signed; "
              "completeness is not proven)")
    else:
        print(f"ok: {records} records, complete and unaltered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
