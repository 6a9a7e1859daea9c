#!/usr/bin/env python3
"""A Kluis client that is not ours: Python, python3-grpcio and protoc's Python output of proto/
(all Debian packages), over mutual TLS. It enrolls two users, releases a login, is refused where it
should be, exports the audit log and verifies it with the verifier written from
docs/AUDIT_FORMAT.md; it also asks the standard health and reflection services.

Usage: kluis_client.py SERVER CA_PEM ACCOUNT OTHER_ACCOUNT
Standard input: four lines — beheerder's enrollment code, auditor's code, the expected password,
nothing else (codes and passwords never go on argv).
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def generate(out):
    """protoc's Python output of the API and of the two standard services used here."""
    protos = sorted(os.path.join("kluis/v1", name) for name in os.listdir(os.path.join(ROOT, "proto/kluis/v1")))
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "-I", HERE, f"--python_out={out}",
                    f"--grpc_out={out}", "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                    *protos, "health.proto", "reflection.proto"], check=True)
    for package in ("kluis", "kluis/v1"):
        open(os.path.join(out, package, "__init__.py"), "a").close()
    sys.path.insert(0, out)


def main():
    server, ca_path, account, other = sys.argv[1:5]
    beheerder_code, auditor_code, expected = (line.strip() for line in sys.stdin.read().splitlines()[:3])
    out = tempfile.mkdtemp(prefix="kluis-py-")
    generate(out)
    import grpc
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import health_pb2, health_pb2_grpc, reflection_pb2, reflection_pb2_grpc
    from kluis.v1 import audit_pb2, audit_pb2_grpc, enrollment_pb2, enrollment_pb2_grpc, vault_pb2, vault_pb2_grpc
    sys.path.insert(0, os.path.join(ROOT, "tests/audit"))
    import verify_export
    import nacl.signing

    ca = open(ca_path, "rb").read()

    def enroll(user, code):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
               .sign(key, hashes.SHA256()))
        channel = grpc.secure_channel(server, grpc.ssl_channel_credentials(root_certificates=ca))
        reply = enrollment_pb2_grpc.EnrollmentStub(channel).Enroll(enrollment_pb2.EnrollRequest(
            user=user, code=code, csr_pem=csr.public_bytes(serialization.Encoding.PEM).decode()), timeout=10)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return grpc.secure_channel(server, grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=pem, certificate_chain=reply.certificate_pem.encode()))

    def refused(call, code):
        try:
            call()
        except grpc.RpcError as error:
            assert error.code() == code, f"expected {code}, got {error.code()}: {error.details()}"
            return
        raise AssertionError(f"expected {code}, the call succeeded")

    beheerder = enroll("python.beheerder", beheerder_code)
    auditor = enroll("python.auditor", auditor_code)

    health = health_pb2_grpc.HealthStub(beheerder).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING, health
    replies = reflection_pb2_grpc.ServerReflectionStub(beheerder).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    services = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"kluis.v1.Vault", "kluis.v1.Audit", "kluis.v1.Organisation"} <= services, services

    vault = vault_pb2_grpc.VaultStub(beheerder)
    login = vault.ReleaseCredential(vault_pb2.ReleaseCredentialRequest(account=account), timeout=10)
    assert login.password == expected, "the released password differs"
    assert login.rule == "R1.beheerder", login.rule
    refused(lambda: vault.ReleaseCredential(vault_pb2.ReleaseCredentialRequest(account=other), timeout=10),
            grpc.StatusCode.NOT_FOUND)
    refused(lambda: audit_pb2_grpc.AuditStub(beheerder).ListAudit(audit_pb2.ListAuditRequest(), timeout=10),
            grpc.StatusCode.PERMISSION_DENIED)
    refused(lambda: vault_pb2_grpc.VaultStub(auditor).ReleaseCredential(
        vault_pb2.ReleaseCredentialRequest(account=account), timeout=10), grpc.StatusCode.PERMISSION_DENIED)
    no_certificate = grpc.secure_channel(server, grpc.ssl_channel_credentials(root_certificates=ca))
    refused(lambda: vault_pb2_grpc.VaultStub(no_certificate).ReleaseCredential(
        vault_pb2.ReleaseCredentialRequest(account=account), timeout=10), grpc.StatusCode.UNAUTHENTICATED)

    # The audit export, written as docs/AUDIT_FORMAT.md says, checked by the Python verifier.
    audit = audit_pb2_grpc.AuditStub(auditor)
    key = audit.GetAuditPublicKey(audit_pb2.GetAuditPublicKeyRequest(), timeout=10).public_key
    lines = []
    for item in audit.ExportAudit(audit_pb2.ExportAuditRequest(), timeout=60):
        kind = item.WhichOneof("item")
        if kind == "header":
            lines.append({"type": "header", "format": verify_export.FORMAT, "public_key": item.header.public_key.hex(),
                          "exported_us": item.header.exported_unix_micros, "head_seq": item.header.head_seq,
                          "filter": item.header.filter})
        elif kind == "record":
            r = item.record
            line = {"type": "record", "seq": r.seq, "time_us": r.time_unix_micros}
            for name in verify_export.FIELDS:
                line[name] = getattr(r, name)
            if r.canonical[:1] == b"\x02":  # version 2 records name the presented certificate
                line["certificate"] = r.certificate
            line.update(canonical=r.canonical.hex(), prev_hash=r.prev_hash.hex(), hash=r.chain_hash.hex())
            lines.append(line)
        else:
            c = item.checkpoint
            lines.append({"type": "checkpoint", "seq": c.seq, "time_us": c.time_unix_micros,
                          "hash": c.chain_hash.hex(), "signature": c.signature.hex()})
    # Written as §3 says: each line's keys in order, no spaces, only the listed escapes.
    encoded = []
    for number, line in enumerate(lines, 1):
        keys = verify_export.record_keys(line) if line["type"] == "record" else verify_export.KEYS[line["type"]]
        encoded.append((number, verify_export.line_bytes(line, keys)))
    records, filtered, _ = verify_export.verify(encoded, nacl.signing.VerifyKey(key))
    assert not filtered and records == len(lines) - sum(1 for l in lines if l["type"] != "record")
    print(f"python client: enrolled 2 users, released 1 login, 4 refusals as expected, "
          f"health SERVING, reflection lists {len(services)} services, {records} audit records verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
