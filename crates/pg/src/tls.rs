//! TLS as libpq does it: the `sslmode` ladder, the root certificates
//! that verify the server, and the client certificate that identifies us.
//!
//! Without root certificates the server's certificate is accepted as it
//! is, of any X.509 version, as libpq accepts it; the handshake's
//! signature is still checked against the certificate's public key, read
//! straight from its DER so that a version 1 certificate (which webpki
//! refuses to parse) works. With root certificates (`verify-ca`,
//! `verify-full`, or any mode when `sslrootcert` or
//! `~/.postgresql/root.crt` is there, as libpq) the certificate must chain
//! to them, and for `verify-full` name the host in its subjectAltName.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, ServerName, SubjectPublicKeyInfoDer, UnixTime,
};
use rustls::server::ParsedCertificate;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};

use crate::error::Error;

/// How much TLS a connection asks for, and how much of the server's
/// certificate it checks: libpq's `sslmode`. Unix sockets never use TLS,
/// whatever the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// Plain text first; TLS if the server refuses that.
    Allow,
    /// TLS if the server offers it, else plain text (also when the TLS
    /// handshake fails). The default.
    Prefer,
    /// TLS or no connection. The certificate is not checked unless root
    /// certificates are given, when this is `VerifyCa`.
    Require,
    /// TLS, and the server's certificate chains to the root certificates.
    VerifyCa,
    /// `VerifyCa`, and the certificate names the host (subjectAltName).
    VerifyFull,
}

impl SslMode {
    /// libpq's spelling: `disable`, …, `verify-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        self >= SslMode::VerifyCa
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<SslMode, Error> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(Error::usage(format!(
                    "sslmode `{s}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )));
            }
        })
    }
}

/// Where the root certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Roots {
    /// A PEM file: `sslrootcert`, or libpq's default
    /// `~/.postgresql/root.crt` when it exists (`default`).
    File { path: PathBuf, default: bool },
    /// `sslrootcert=system`: the operating system's trusted CAs.
    System,
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::File { path, .. } => write!(f, "the CA in {}", path.display()),
            Roots::System => f.write_str("the system's trusted CAs"),
        }
    }
}

/// The TLS settings of a connection string, before any file is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    pub(crate) roots: Option<Roots>,
    /// The client certificate and its key (PEM).
    pub(crate) client: Option<(PathBuf, PathBuf)>,
}

impl TlsSettings {
    /// Only a mode: what a `tokio_postgres::Config` can say.
    pub(crate) fn mode(mode: SslMode) -> TlsSettings {
        TlsSettings {
            mode,
            roots: None,
            client: None,
        }
    }
}

/// TLS ready to connect with: the settings, their files read.
#[derive(Clone)]
pub(crate) struct Tls {
    mode: SslMode,
    config: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the settings' root certificates and client certificate.
    pub(crate) fn new(settings: &TlsSettings) -> Result<Tls, Error> {
        let mode = settings.mode;
        if mode.verifies() && settings.roots.is_none() {
            return Err(Error::usage(format!(
                "sslmode={mode} needs root certificates to check the server's certificate against, \
                 and there is no ~/.postgresql/root.crt; give the CA's certificate with \
                 sslrootcert=/path (or PGSSLROOTCERT), use the system's trusted CAs with \
                 sslrootcert=system, or use sslmode=require to encrypt without checking the \
                 server's identity"
            )));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let algorithms = provider.signature_verification_algorithms;
        let check = match &settings.roots {
            None => Check::Any,
            Some(roots) => Check::Chain {
                store: Arc::new(root_store(roots, mode)?),
                roots: roots.clone(),
                name: mode == SslMode::VerifyFull,
            },
        };
        let client = settings
            .client
            .as_ref()
            .map(|(cert, key)| client_certificate(cert, key, &provider))
            .transpose()?;
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier {
                mode,
                check,
                algorithms,
            }));
        let config = match client {
            None => builder.with_no_client_auth(),
            Some(key) => builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(key))),
        };
        Ok(Tls {
            mode,
            config: Arc::new(config),
        })
    }

    /// TLS for a mode alone, with no files to read.
    pub(crate) fn for_mode(mode: SslMode) -> Tls {
        Tls::new(&TlsSettings::mode(mode)).expect("a mode without files always builds")
    }

    pub(crate) fn mode(&self) -> SslMode {
        self.mode
    }

    pub(crate) fn has_client_certificate(&self) -> bool {
        self.config.client_auth_cert_resolver.has_certs()
    }

    pub(crate) fn connector(&self) -> tokio_postgres_rustls::MakeRustlsConnect {
        tokio_postgres_rustls::MakeRustlsConnect::new((*self.config).clone())
    }
}

fn root_store(roots: &Roots, mode: SslMode) -> Result<RootCertStore, Error> {
    let (certs, shown) = match roots {
        Roots::File { path, default } => {
            let certs = read_certs(path).map_err(|e| {
                let whence = if *default {
                    "libpq's default root certificate file"
                } else {
                    "sslrootcert"
                };
                e.context(format!(
                    "{whence} is read for sslmode={mode}; fix or remove the file"
                ))
            })?;
            (certs, path.display().to_string())
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), ToString::to_string);
                return Err(Error::usage(format!(
                    "sslrootcert=system: the system's trusted CAs cannot be read ({why}); \
                     install them (ca-certificates) or set SSL_CERT_FILE"
                )));
            }
            (found.certs, "the system's trusted CAs".to_owned())
        }
    };
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(Error::usage(format!(
            "{shown} holds no CA certificate that can be used (sslmode={mode})"
        )));
    }
    Ok(store)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let unreadable = |e: rustls::pki_types::pem::Error| {
        Error::usage(format!(
            "cannot read the certificates in {}: {e}",
            path.display()
        ))
        .because(e)
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The client certificate and its key. Not rustls's
/// `with_client_auth_cert`, which parses the certificate with webpki and so
/// refuses X.509 v1 ones that servers accept.
fn client_certificate(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<CertifiedKey, Error> {
    let chain =
        read_certs(cert).map_err(|e| e.context("sslcert is the client certificate".into()))?;
    let unusable = |e: &dyn fmt::Display| {
        Error::usage(format!(
            "cannot use the client certificate's private key in {} (sslkey): {e}",
            key.display()
        ))
    };
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| unusable(&e).because(e))?;
    let signer = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| unusable(&e).because(e))?;
    let cert_key = subject_public_key_info(&chain[0]);
    if let (Some(ours), Some(theirs)) = (signer.public_key(), cert_key) {
        if ours.as_ref() != theirs {
            return Err(Error::usage(format!(
                "the private key in {} (sslkey) is not the key of the certificate in {} (sslcert)",
                key.display(),
                cert.display()
            )));
        }
    }
    Ok(CertifiedKey::new(chain, signer))
}

/// What the verifier checks beyond the handshake's signature.
#[derive(Debug)]
enum Check {
    /// Nothing: any certificate, as libpq's `require` without roots.
    Any,
    /// That the certificate chains to `store`, and with `name` that it
    /// names the host.
    Chain {
        store: Arc<RootCertStore>,
        roots: Roots,
        name: bool,
    },
}

#[derive(Debug)]
struct Verifier {
    mode: SslMode,
    check: Check,
    algorithms: WebPkiSupportedAlgorithms,
}

/// Why the server's certificate was refused, in words for the user; it
/// travels through rustls and tokio-postgres as the handshake's error.
#[derive(Debug)]
pub(crate) struct Refusal(String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

impl Verifier {
    fn refuse(&self, message: String) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Refusal(
            message,
        )))))
    }

    /// What to do when the chain check fails, by mode.
    fn advice(&self, roots: &Roots) -> String {
        match (self.mode, roots) {
            (mode, _) if mode.verifies() => "check sslrootcert, or use sslmode=require to encrypt \
                 without checking the server's identity"
                .to_owned(),
            (
                mode,
                Roots::File {
                    path,
                    default: true,
                },
            ) => format!(
                "sslmode={mode} checks the certificate because {} exists, as libpq does; \
                 put the server's CA there, or move the file away to encrypt without checking",
                path.display()
            ),
            (mode, _) => format!(
                "sslmode={mode} checks the certificate because sslrootcert is given, as libpq \
                 does; check sslrootcert, or leave it out to encrypt without checking"
            ),
        }
    }

    fn signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
        tls13: bool,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let spki = subject_public_key_info(cert).ok_or_else(|| {
            self.refuse("the server's certificate is not DER that holds a public key".to_owned())
        })?;
        let spki = SubjectPublicKeyInfoDer::from(spki);
        if tls13 {
            return rustls::crypto::verify_tls13_signature_with_raw_key(
                message,
                &spki,
                dss,
                &self.algorithms,
            );
        }
        // TLS 1.2 names the scheme loosely: try each algorithm it maps to,
        // as rustls::crypto::verify_tls12_signature does.
        let key = webpki::RawPublicKeyEntity::try_from(&spki)
            .map_err(|e| self.refuse(format!("the server's public key cannot be read: {e}")))?;
        let candidates = self
            .algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
        for alg in candidates {
            match key.verify_signature(*alg, message, dss.signature()) {
                Ok(()) => return Ok(HandshakeSignatureValid::assertion()),
                Err(webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => {}
                Err(_) => return Err(CertificateError::BadSignature.into()),
            }
        }
        Err(CertificateError::BadSignature.into())
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Check::Chain { store, roots, name } = &self.check else {
            return Ok(ServerCertVerified::assertion());
        };
        let mode = self.mode;
        let cert = ParsedCertificate::try_from(end_entity).map_err(|e| {
            if is_v1(&e) {
                self.refuse(format!(
                    "the server's certificate is X.509 version 1, which cannot be checked against \
                     {roots} (sslmode={mode}): a v1 certificate cannot say what it may be used \
                     for; reissue it as a v3 certificate signed by the CA, or use sslmode=require \
                     without sslrootcert to encrypt without checking the server's identity"
                ))
            } else {
                self.refuse(format!(
                    "the server's certificate cannot be parsed (sslmode={mode}): {e}"
                ))
            }
        })?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            store,
            intermediates,
            now,
            self.algorithms.all,
        )
        .map_err(|e| {
            let what = match &e {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    format!("is not signed by {roots} (sslmode={mode})")
                }
                _ => format!("does not pass the check against {roots} (sslmode={mode}): {e}"),
            };
            self.refuse(format!(
                "the server's certificate {what}; {}",
                self.advice(roots)
            ))
        })?;
        if *name {
            rustls::client::verify_server_name(&cert, server_name).map_err(|e| {
                let host = server_name.to_str();
                let names = match &e {
                    rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForNameContext { presented, .. },
                    ) => presented.iter().map(|n| unquoted(n)).collect(),
                    _ => Vec::new(),
                };
                if names.is_empty() {
                    self.refuse(format!(
                        "the server's certificate is not valid for the host name {host} \
                         (sslmode=verify-full): it has no subjectAltName, and domgen does not \
                         fall back to the certificate's common name (CN) as libpq does; reissue \
                         it with subjectAltName=DNS:{host}, or use sslmode=verify-ca to check \
                         only that it is signed by the CA"
                    ))
                } else {
                    self.refuse(format!(
                        "the server's certificate is not valid for the host name {host} \
                         (sslmode=verify-full): it names {}; connect by one of those names, or \
                         use sslmode=verify-ca to check only that it is signed by the CA",
                        names.join(", ")
                    ))
                }
            })?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signature(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signature(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `localhost` for rustls's `DnsName("localhost")`.
fn unquoted(name: &str) -> String {
    match (name.find('"'), name.rfind('"')) {
        (Some(start), Some(end)) if start < end => name[start + 1..end].to_owned(),
        _ => name.to_owned(),
    }
}

fn is_v1(e: &rustls::Error) -> bool {
    let rustls::Error::InvalidCertificate(CertificateError::Other(other)) = e else {
        return false;
    };
    matches!(
        other.0.downcast_ref::<webpki::Error>(),
        Some(webpki::Error::UnsupportedCertVersion)
    )
}

/// The rustls error under a failed connection, if the TLS handshake
/// failed.
pub(crate) fn handshake_error(e: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // An io::Error's source skips the error it wraps.
        if let Some(r) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        next = e.source();
    }
    None
}

/// Our words for a refused server certificate, if that is why the
/// connection failed.
pub(crate) fn refusal(e: &tokio_postgres::Error) -> Option<String> {
    match handshake_error(e)? {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<Refusal>().map(|r| r.0.clone())
        }
        _ => None,
    }
}

/// The certificate's SubjectPublicKeyInfo, found by walking its DER
/// rather than parsing it as webpki would: any X.509 version will do.
///
/// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
/// OPTIONAL, serialNumber, signature, issuer, validity, subject,
/// subjectPublicKeyInfo, … }, … }
pub(crate) fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    let certificate = Element::sequence(cert)?;
    let tbs = Element::sequence(certificate.contents)?;
    let mut rest = tbs.contents;
    let first = Element::read(rest)?;
    if first.tag == 0xa0 {
        rest = first.rest;
    }
    for _ in 0..5 {
        rest = Element::read(rest)?.rest;
    }
    Some(Element::sequence(rest)?.whole)
}

/// A DER element at the start of some bytes.
struct Element<'a> {
    tag: u8,
    contents: &'a [u8],
    /// Tag, length and contents.
    whole: &'a [u8],
    /// What follows it.
    rest: &'a [u8],
}

impl<'a> Element<'a> {
    /// Single-byte tags and definite lengths only, as DER has for
    /// everything up to the public key.
    fn read(input: &'a [u8]) -> Option<Element<'a>> {
        let (&tag, after_tag) = input.split_first()?;
        let (&first, mut after_length) = after_tag.split_first()?;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let octets = usize::from(first & 0x7f);
            if octets == 0 || octets > 4 || after_length.len() < octets {
                return None;
            }
            let (bytes, rest) = after_length.split_at(octets);
            after_length = rest;
            bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
        };
        if after_length.len() < length {
            return None;
        }
        let header = input.len() - after_length.len();
        let (contents, rest) = after_length.split_at(length);
        Some(Element {
            tag,
            contents,
            whole: &input[..header + length],
            rest,
        })
    }

    fn sequence(input: &'a [u8]) -> Option<Element<'a>> {
        Element::read(input).filter(|e| e.tag == 0x30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_spellings_round_trip() {
        for mode in [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(mode.as_str().parse::<SslMode>().unwrap(), mode);
        }
        let e = "verify_full".parse::<SslMode>().unwrap_err().to_string();
        assert!(
            e.contains("`verify_full`") && e.contains("verify-full"),
            "{e}"
        );
    }

    #[test]
    fn der_walk_finds_the_key_with_and_without_a_version() {
        // Minimal shapes: SEQ { SEQ { [0]?, INT, SEQ, SEQ, SEQ, SEQ, SPKI } }.
        let spki = [0x30, 0x03, 0x02, 0x01, 0x07];
        let fields = [
            &[0x02, 0x01, 0x01][..], // serial
            &[0x30, 0x00],           // signature algorithm
            &[0x30, 0x00],           // issuer
            &[0x30, 0x00],           // validity
            &[0x30, 0x00],           // subject
            &spki,
        ];
        for version in [&[][..], &[0xa0, 0x03, 0x02, 0x01, 0x02]] {
            let mut tbs = version.to_vec();
            fields.iter().for_each(|f| tbs.extend_from_slice(f));
            let mut tbs_seq = vec![0x30, u8::try_from(tbs.len()).unwrap()];
            tbs_seq.extend(tbs);
            let mut cert = vec![0x30, 0x81, u8::try_from(tbs_seq.len()).unwrap()];
            cert.extend(tbs_seq);
            assert_eq!(subject_public_key_info(&cert), Some(&spki[..]));
            assert_eq!(subject_public_key_info(&cert[..cert.len() - 1]), None);
        }
    }
}
