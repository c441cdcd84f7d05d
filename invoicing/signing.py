"""PAdES signatures on the seller's documents (e-contracts), with pyHanko.

The key and certificate come from settings.SIGNING_KEY / SIGNING_CERT (PEM files).
Unset, a self-signed development pair is created on first use under var/signing/
(ignored by git; the key file is 0600), so `make run` signs without any set-up.
"""

import asyncio
import datetime
import fcntl
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, lru_cache
from io import BytesIO
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

SIGNATURE_FIELD = "SellerSignature"
DEV_KEY_NAME = "dev-key.pem"
DEV_CERT_NAME = "dev-cert.pem"


@dataclass(frozen=True)
class SigningCredentials:
    signer: signers.SimpleSigner
    certificate: asn1_x509.Certificate

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate (DER), hex."""
        return hashlib.sha256(self.certificate.dump()).hexdigest()


@dataclass(frozen=True)
class VerificationResult:
    valid: bool  # intact, cryptographically sound, trusted, and covering the whole file
    intact: bool  # the signed bytes are unchanged
    signer: str
    signed_at: datetime.datetime | None


def signing_credentials() -> SigningCredentials:
    key_path, cert_path = settings.SIGNING_KEY, settings.SIGNING_CERT
    if bool(key_path) != bool(cert_path):
        raise ImproperlyConfigured("Set both SIGNING_KEY and SIGNING_CERT, or neither (development key).")
    if key_path:
        key_path, cert_path = Path(key_path), Path(cert_path)
    else:
        key_path, cert_path = _development_pair()
    passphrase = settings.SIGNING_KEY_PASSPHRASE or ""
    return _load(str(key_path), str(cert_path), passphrase, key_path.stat().st_mtime_ns, cert_path.stat().st_mtime_ns)


def sign_pdf(pdf: bytes, *, reason: str, location: str = "") -> bytes:
    """`pdf` with the seller's PAdES baseline-B signature (field SellerSignature)."""
    credentials = signing_credentials()
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        reason=reason,
        location=location or None,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    # A fixed reservation skips pyHanko's size-estimating dry run (~124 → ~70 ms).
    out = outside_event_loop(signers.sign_pdf, writer, metadata, signer=credentials.signer, bytes_reserved=8192)
    return out.getvalue()


def outside_event_loop(function, *args, **kwargs):
    """Call `function`, which runs asyncio.run inside (pyHanko's sign and validate).

    Where this thread already runs an event loop (an async view; Playwright's sync API
    in the browser tests) asyncio.run refuses, so the call goes to a fresh thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def verify_pdf(pdf: bytes) -> VerificationResult:
    """The seller's signature on `pdf`, checked offline against the signing
    certificate as the only trust root."""
    credentials = signing_credentials()
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        embedded = [sig for sig in reader.embedded_signatures if sig.field_name == SIGNATURE_FIELD]
    except Exception:  # a PDF too damaged to parse carries no valid signature
        return VerificationResult(valid=False, intact=False, signer="", signed_at=None)
    if not embedded:
        return VerificationResult(valid=False, intact=False, signer="", signed_at=None)
    context = ValidationContext(trust_roots=[credentials.certificate], allow_fetching=False)
    try:
        status = outside_event_loop(validate_pdf_signature, embedded[-1], context)
    except Exception:
        return VerificationResult(valid=False, intact=False, signer="", signed_at=None)
    signer = ""
    if status.signing_cert is not None:
        subject = status.signing_cert.subject.native
        signer = subject.get("common_name") or status.signing_cert.subject.human_friendly
    whole_file = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    return VerificationResult(
        valid=bool(status.bottom_line and whole_file),
        intact=bool(status.intact),
        signer=signer,
        signed_at=status.signer_reported_dt,
    )


class ParsedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner with its private key parsed once.

    SimpleSigner.sign_raw parses the key from DER for every signature, and for RSA
    that includes cryptography's consistency check of the key: ~40 ms of a contract's
    ~70 ms of signing. RSA PKCS#1 v1.5 and ECDSA (what SIGNING_KEY holds in practice)
    sign here with the parsed key; any other mechanism takes pyHanko's own path.
    """

    @cached_property
    def private_key(self):
        return serialization.load_der_private_key(self.signing_key.dump(), password=None)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        try:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        except ValueError:  # a mechanism asn1crypto cannot name (pyHanko reads it another way)
            return super().sign_raw(data, digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if mechanism == "ecdsa" and isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            return self.private_key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return super().sign_raw(data, digest_algorithm)


@lru_cache(maxsize=4)
def _load(key_path: str, cert_path: str, passphrase: str, _key_mtime: int, _cert_mtime: int) -> SigningCredentials:
    # The mtimes are part of the cache key so a replaced file is read again.
    loaded = signers.SimpleSigner.load(key_path, cert_path, key_passphrase=passphrase.encode() or None)
    if loaded is None:
        raise ImproperlyConfigured(f"Cannot load the signing key {key_path} with the certificate {cert_path}.")
    signer = ParsedKeySigner(
        signing_cert=loaded.signing_cert, signing_key=loaded.signing_key, cert_registry=loaded.cert_registry
    )
    return SigningCredentials(signer=signer, certificate=signer.signing_cert)


def _development_pair() -> tuple[Path, Path]:
    """var/signing/dev-key.pem and dev-cert.pem, created once. A lock file serialises
    first use across processes (two workers must not write two different pairs)."""
    directory = Path(settings.VAR_DIR) / "signing"
    key_path, cert_path = directory / DEV_KEY_NAME, directory / DEV_CERT_NAME
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (key_path.exists() and cert_path.exists()):
            key_pem, cert_pem = _self_signed_pair(settings.SELLER["name"])
            _write(key_path, key_pem, mode=0o600)
            _write(cert_path, cert_pem, mode=0o644)  # the certificate last: its presence means done
    return key_path, cert_path


def _self_signed_pair(name: str) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Development signing key (self-signed)"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation, which pyHanko expects of a signer
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, *, mode: int) -> None:
    """Writes through a temporary file created with `mode` (never wider), then renames."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temporary, mode)  # the umask may have narrowed it; make it exact
    os.replace(temporary, path)
