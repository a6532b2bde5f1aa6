//! The vaultnet CA and the certificates it issues — the Vault server's
//! (serverAuth only), the operator's and each tenant's (clientAuth only) —
//! plus PEM parsing and the checks doctor and the tests rely on. No I/O.
//!
//! Every certificate gets a random serial (rcgen's default is derived from
//! the public key), and no leaf outlives its CA (SECURITY.md T2).

use std::net::IpAddr;

use ::time::{Duration, OffsetDateTime};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use x509_parser::prelude::{FromDer, GeneralName, Pem, X509Certificate};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub const CA_DAYS: i64 = 3650;
/// Leaves start a little in the past so a container whose clock lags the
/// host's by a few minutes still accepts them.
const BACKDATE: Duration = Duration::minutes(5);

/// A freshly issued certificate and its private key (zeroised on drop).
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: Zeroizing<String>,
    pub not_after: OffsetDateTime,
    pub serial: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// A loaded CA, able to issue leaves.
pub struct Ca {
    pub cert_pem: String,
    /// The CAs trusted beside it (itself first), as PEM: what bundles,
    /// cert-auth roles and Vault's client CA file carry.
    pub trust_pem: String,
    issuer: Issuer<'static, KeyPair>,
    not_after: OffsetDateTime,
}

fn pki_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::failed(format!("{what}: {e}"))
}

fn random_serial() -> (SerialNumber, String) {
    let mut bytes: [u8; 16] = rand::random();
    // Positive and exactly 16 bytes in DER: clear the top bit, set the next.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    let hex = hex(&bytes);
    (SerialNumber::from_slice(&bytes), hex)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Ca {
    /// Creates a new CA: ECDSA P-256, 10 years, path length 0, a subject
    /// unique to this install.
    pub fn generate(now: OffsetDateTime, host_label: &str) -> Result<(Ca, Issued)> {
        let key = KeyPair::generate().map_err(|e| pki_err("cannot generate CA key", e))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        let unique: [u8; 6] = rand::random();
        dn.push(DnType::OrganizationName, "vaultnet");
        dn.push(
            DnType::CommonName,
            format!("vaultnet CA {host_label} {}", hex(&unique)),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::days(CA_DAYS);
        let (serial, serial_hex) = random_serial();
        params.serial_number = Some(serial);
        let cert = params
            .self_signed(&key)
            .map_err(|e| pki_err("cannot sign CA certificate", e))?;
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
            not_after: params.not_after,
            serial: serial_hex,
        };
        let ca = Ca {
            cert_pem: issued.cert_pem.clone(),
            trust_pem: issued.cert_pem.clone(),
            not_after: params.not_after,
            issuer: Issuer::new(params, key),
        };
        Ok((ca, issued))
    }

    /// Loads a CA from its certificate and key, checking that they belong
    /// together and that the certificate is a CA (SECURITY.md T4).
    pub fn load(cert_pem: &str, key_pem: &str) -> Result<Ca> {
        let info = CertInfo::parse(cert_pem)?;
        if !info.is_ca {
            return Err(Error::failed(
                "the CA certificate is not a CA (basicConstraints)",
            ));
        }
        if !key_matches(cert_pem, key_pem)? {
            return Err(Error::failed("the CA key does not match the CA certificate")
                .hint("restore `pki/ca-key.pem` from a backup, or run `vaultnet init --force` to start a new CA"));
        }
        let key = key_pair(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|e| pki_err("cannot read the CA certificate", e))?;
        let cert_pem = cert_only(cert_pem)?;
        Ok(Ca {
            trust_pem: cert_pem.clone(),
            cert_pem,
            issuer,
            not_after: info.not_after,
        })
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// The same CA, carrying `trust_pem` as the CAs trusted beside it.
    pub fn with_trust(mut self, trust_pem: String) -> Ca {
        self.trust_pem = trust_pem;
        self
    }

    fn leaf(
        &self,
        cn: &str,
        sans: Vec<SanType>,
        eku: ExtendedKeyUsagePurpose,
        lifetime: Duration,
        now: OffsetDateTime,
    ) -> Result<Issued> {
        let key = KeyPair::generate().map_err(|e| pki_err("cannot generate key", e))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "vaultnet");
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![eku];
        params.use_authority_key_identifier_extension = true;
        // A short-lived leaf is backdated by a tenth of its life at most, so
        // the renewal rule sees the lifetime it was issued for.
        params.not_before = now - BACKDATE.min(lifetime / 10);
        params.not_after = (now + lifetime).min(self.not_after);
        if params.not_after <= now {
            return Err(Error::failed("the vaultnet CA has expired")
                .hint("run `vaultnet init --force` to create a new CA, then re-add every tenant"));
        }
        let (serial, serial_hex) = random_serial();
        params.serial_number = Some(serial);
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| pki_err("cannot sign certificate", e))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
            not_after: params.not_after,
            serial: serial_hex,
        })
    }

    /// The Vault server certificate: serverAuth only, exactly these SANs.
    pub fn issue_server(
        &self,
        dns_names: &[String],
        ips: &[IpAddr],
        lifetime: Duration,
        now: OffsetDateTime,
    ) -> Result<Issued> {
        let mut sans = Vec::new();
        for d in dns_names {
            sans.push(SanType::DnsName(
                d.clone()
                    .try_into()
                    .map_err(|e| pki_err("invalid DNS name", e))?,
            ));
        }
        sans.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        let cn = dns_names.first().map(String::as_str).unwrap_or("vault");
        self.leaf(cn, sans, ExtendedKeyUsagePurpose::ServerAuth, lifetime, now)
    }

    /// A client certificate (operator or tenant): clientAuth only, CN = name.
    pub fn issue_client(
        &self,
        cn: &str,
        lifetime: Duration,
        now: OffsetDateTime,
    ) -> Result<Issued> {
        self.leaf(
            cn,
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
            lifetime,
            now,
        )
    }
}

impl Issued {
    /// The key followed by its certificate, as one PEM file: written by one
    /// rename, no reader ever sees a key with another key's certificate
    /// (Vault, its agent, Go's TLS and reqwest all read the pair from it).
    pub fn identity_pem(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(
            self.key_pem.len() + self.cert_pem.len() + 1,
        ));
        s.push_str(&self.key_pem);
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&self.cert_pem);
        s
    }
}

/// The first certificate of a PEM text, alone, as PEM.
pub fn cert_only(pem: &str) -> Result<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem
        .find(BEGIN)
        .ok_or_else(|| Error::failed("no `CERTIFICATE` block in PEM data"))?;
    let end = pem[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .ok_or_else(|| Error::failed("an unterminated `CERTIFICATE` block in PEM data"))?;
    Ok(format!("{}\n", &pem[start..end]))
}

/// Every certificate of a PEM text (a CA bundle), each alone as PEM
/// with what it says, in order; anything between them (comments, keys)
/// is dropped. Refuses a text with none.
pub fn certificates(pem: &str) -> Result<Vec<(String, CertInfo)>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while rest.contains("-----BEGIN CERTIFICATE-----") {
        let one = cert_only(rest)?;
        let info = CertInfo::parse(&one)?;
        let end = rest
            .find("-----END CERTIFICATE-----")
            .expect("cert_only found it")
            + "-----END CERTIFICATE-----".len();
        rest = &rest[end..];
        out.push((one, info));
    }
    if out.is_empty() {
        return Err(Error::failed("no `CERTIFICATE` block in PEM data"));
    }
    Ok(out)
}

/// Whether a PEM text holds a certificate (an identity file does; a key
/// file written before identity files does not).
pub fn has_certificate(pem: &str) -> bool {
    first_pem_der(pem, "CERTIFICATE").is_ok()
}

/// What vaultnet needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub dns_sans: Vec<String>,
    pub ip_sans: Vec<IpAddr>,
    pub server_auth: bool,
    pub client_auth: bool,
    pub any_eku: bool,
    pub is_ca: bool,
    pub path_len: Option<u32>,
    /// The raw subject public key, to match keys and compare certificates.
    pub public_key: Vec<u8>,
    pub der: Vec<u8>,
}

impl CertInfo {
    pub fn parse(pem: &str) -> Result<CertInfo> {
        let der = first_pem_der(pem, "CERTIFICATE")?;
        Self::from_der(&der)
    }

    pub fn from_der(der: &[u8]) -> Result<CertInfo> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| pki_err("not a valid X.509 certificate", e))?;
        let mut info = CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            common_name: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string),
            serial: hex(cert.raw_serial()),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            dns_sans: Vec::new(),
            ip_sans: Vec::new(),
            server_auth: false,
            client_auth: false,
            any_eku: false,
            is_ca: false,
            path_len: None,
            public_key: cert.public_key().subject_public_key.data.to_vec(),
            der: der.to_vec(),
        };
        if let Ok(Some(bc)) = cert.basic_constraints() {
            info.is_ca = bc.value.ca;
            info.path_len = bc.value.path_len_constraint;
        }
        if let Ok(Some(eku)) = cert.extended_key_usage() {
            info.server_auth = eku.value.server_auth;
            info.client_auth = eku.value.client_auth;
            info.any_eku = eku.value.any;
        }
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => info.dns_sans.push(d.to_string()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            info.ip_sans.push(IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            info.ip_sans.push(IpAddr::from(a));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(info)
    }

    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }
}

/// A moment as messages show it: the date, or the time in RFC 3339 when it
/// is less than two days from `now` (short lifetimes).
pub fn when(t: OffsetDateTime, now: OffsetDateTime) -> String {
    if t - now < Duration::days(2) {
        crate::state::rfc3339::format(t)
    } else {
        t.date().to_string()
    }
}

/// The one renewal rule for everything vaultnet issues that expires
/// (leaf certificates, secret_ids): renewal is due once less than a third
/// of the lifetime is left. The CA is not renewed by it (replacing the CA
/// means re-adding every tenant).
pub fn renewal_due(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> bool {
    let lifetime = not_after - not_before;
    not_after - now < lifetime / 3
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// serverAuth only: the Vault server's certificate.
    Server,
    /// clientAuth only: the operator's and each tenant's.
    Client,
}

/// What a leaf must be to be kept.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub usage: Usage,
    pub common_name: Option<&'a str>,
    pub dns: Option<&'a [String]>,
    pub ips: Option<&'a [IpAddr]>,
}

/// The verdict on an existing leaf certificate and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    /// Still valid, but renewal is due ([`renewal_due`]); says when it expires.
    Renew(String),
    /// Unusable as it is: the reason.
    Replace(String),
}

/// The one assessment of a leaf certificate, used by `init` (server and
/// operator), `add-user` (tenants) and `doctor`: issued by `ca`, its key
/// matching, the wanted usage and names, and the renewal rule.
pub fn assess(
    cert_pem: &str,
    key_pem: &str,
    ca: &CertInfo,
    now: OffsetDateTime,
    want: &Wanted<'_>,
) -> (Verdict, Option<CertInfo>) {
    let Ok(info) = CertInfo::parse(cert_pem) else {
        return (
            Verdict::Replace("it is not a valid certificate".into()),
            None,
        );
    };
    let replace = |why: String| Verdict::Replace(why);
    let verdict = if info.issuer != ca.subject {
        replace("it was issued by another CA".into())
    } else if !key_matches(cert_pem, key_pem).unwrap_or(false) {
        replace("its key does not match it".into())
    } else if info.any_eku
        || match want.usage {
            Usage::Server => !info.server_auth || info.client_auth,
            Usage::Client => !info.client_auth || info.server_auth,
        }
    {
        replace(format!(
            "its usage is not {} only",
            match want.usage {
                Usage::Server => "serverAuth",
                Usage::Client => "clientAuth",
            }
        ))
    } else if let Some(cn) = want
        .common_name
        .filter(|cn| info.common_name.as_deref() != Some(*cn))
    {
        replace(format!("its common name is not `{cn}`"))
    } else if let Some(dns) = want.dns.filter(|d| info.dns_sans != *d) {
        replace(format!(
            "its DNS names {:?} are not {:?}",
            info.dns_sans, dns
        ))
    } else if let Some(ips) = want.ips.filter(|i| info.ip_sans != *i) {
        let show = |v: &[IpAddr]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        replace(format!(
            "its addresses [{}] are not [{}]",
            show(&info.ip_sans),
            show(ips)
        ))
    } else if info.not_after <= now {
        replace(format!("it expired on {}", info.not_after.date()))
    } else if info.not_before > now {
        // Vault refuses it until then: as useless as an expired one.
        replace(format!(
            "it is not valid before {}",
            when(info.not_before, now)
        ))
    } else if renewal_due(info.not_before, info.not_after, now) {
        Verdict::Renew(format!("it expires on {}", when(info.not_after, now)))
    } else {
        Verdict::Keep
    };
    (verdict, Some(info))
}

/// The DER of the first PEM block with this label.
pub fn first_pem_der(pem: &str, label: &str) -> Result<Vec<u8>> {
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| pki_err("malformed PEM", e))?;
        if block.label == label {
            return Ok(block.contents);
        }
    }
    Err(Error::failed(format!("no `{label}` block in PEM data")))
}

/// The private key of a PEM text (a key file or an identity file).
pub fn key_pair(pem: &str) -> Result<KeyPair> {
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| pki_err("malformed PEM", e))?;
        if block.label.ends_with("PRIVATE KEY") {
            let der = Zeroizing::new(block.contents);
            return KeyPair::try_from(der.as_slice())
                .map_err(|e| pki_err("cannot read private key", e));
        }
    }
    Err(Error::failed("no private key in PEM data"))
}

/// Whether `key_pem` is the private key of `cert_pem` (SECURITY.md T4).
pub fn key_matches(cert_pem: &str, key_pem: &str) -> Result<bool> {
    let info = CertInfo::parse(cert_pem)?;
    let key = key_pair(key_pem)?;
    Ok(key.public_key_raw() == info.public_key.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn assess_replaces_a_leaf_that_is_not_valid_yet() {
        let t = now();
        let (ca, ca_issued) = Ca::generate(t, "h").unwrap();
        let ca_info = CertInfo::parse(&ca_issued.cert_pem).unwrap();
        let want = Wanted {
            usage: Usage::Client,
            common_name: Some("alice"),
            dns: None,
            ips: None,
        };
        let later = ca
            .issue_client("alice", Duration::days(30), t + Duration::days(3))
            .unwrap();
        let (v, _) = assess(&later.cert_pem, &later.key_pem, &ca_info, t, &want);
        assert!(
            matches!(&v, Verdict::Replace(w) if w.starts_with("it is not valid before ")),
            "{v:?}"
        );
    }

    #[test]
    fn renewal_is_due_once_less_than_a_third_of_the_lifetime_is_left() {
        let start = now();
        let end = start + Duration::days(90);
        assert!(!renewal_due(start, end, start + Duration::days(59)));
        assert!(renewal_due(start, end, start + Duration::days(61)));
        let end = start + Duration::days(365);
        assert!(!renewal_due(start, end, end - Duration::days(122)));
        assert!(renewal_due(start, end, end - Duration::days(121)));
    }

    #[test]
    fn assess_keeps_a_good_leaf_renews_a_due_one_and_replaces_a_wrong_one() {
        let t = now();
        let (ca, ca_issued) = Ca::generate(t, "h").unwrap();
        let ca_info = CertInfo::parse(&ca_issued.cert_pem).unwrap();
        let client = |cn| Wanted {
            usage: Usage::Client,
            common_name: Some(cn),
            dns: None,
            ips: None,
        };
        let leaf = ca.issue_client("alice", Duration::days(90), t).unwrap();
        let (v, info) = assess(&leaf.cert_pem, &leaf.key_pem, &ca_info, t, &client("alice"));
        assert_eq!(v, Verdict::Keep);
        assert_eq!(info.unwrap().common_name.as_deref(), Some("alice"));
        let later = t + Duration::days(70);
        let (v, _) = assess(
            &leaf.cert_pem,
            &leaf.key_pem,
            &ca_info,
            later,
            &client("alice"),
        );
        assert!(matches!(v, Verdict::Renew(_)), "{v:?}");
        let (v, _) = assess(
            &leaf.cert_pem,
            &leaf.key_pem,
            &ca_info,
            t + Duration::days(91),
            &client("alice"),
        );
        assert!(
            matches!(v, Verdict::Replace(ref w) if w.starts_with("it expired on")),
            "{v:?}"
        );
        let (v, _) = assess(&leaf.cert_pem, &leaf.key_pem, &ca_info, t, &client("bob"));
        assert_eq!(v, Verdict::Replace("its common name is not `bob`".into()));
        let other = ca.issue_client("alice", Duration::days(90), t).unwrap();
        let (v, _) = assess(
            &leaf.cert_pem,
            &other.key_pem,
            &ca_info,
            t,
            &client("alice"),
        );
        assert_eq!(v, Verdict::Replace("its key does not match it".into()));
        let server = Wanted {
            usage: Usage::Server,
            common_name: None,
            dns: None,
            ips: None,
        };
        let (v, _) = assess(&leaf.cert_pem, &leaf.key_pem, &ca_info, t, &server);
        assert_eq!(
            v,
            Verdict::Replace("its usage is not serverAuth only".into())
        );
        let (ca2, ca2_issued) = Ca::generate(t, "h").unwrap();
        let _ = ca2;
        let ca2_info = CertInfo::parse(&ca2_issued.cert_pem).unwrap();
        let (v, _) = assess(
            &leaf.cert_pem,
            &leaf.key_pem,
            &ca2_info,
            t,
            &client("alice"),
        );
        assert_eq!(v, Verdict::Replace("it was issued by another CA".into()));
    }

    #[test]
    fn ca_is_path_length_zero_ten_years_with_a_unique_subject() {
        let (_, a) = Ca::generate(now(), "host").unwrap();
        let (_, b) = Ca::generate(now(), "host").unwrap();
        let ia = CertInfo::parse(&a.cert_pem).unwrap();
        let ib = CertInfo::parse(&b.cert_pem).unwrap();
        assert!(ia.is_ca);
        assert_eq!(ia.path_len, Some(0));
        assert_ne!(ia.subject, ib.subject);
        assert_ne!(ia.serial, ib.serial);
        let days = (ia.not_after - ia.not_before).whole_days();
        assert!((3650..=3651).contains(&days), "{days}");
    }

    #[test]
    fn server_cert_is_server_auth_only_with_exact_sans() {
        let (ca, _) = Ca::generate(now(), "h").unwrap();
        let s = ca
            .issue_server(
                &["vault.lan".into(), "localhost".into()],
                &["10.1.2.3".parse().unwrap(), "127.0.0.1".parse().unwrap()],
                Duration::days(365),
                now(),
            )
            .unwrap();
        let i = CertInfo::parse(&s.cert_pem).unwrap();
        assert!(i.server_auth && !i.client_auth && !i.any_eku && !i.is_ca);
        assert_eq!(i.dns_sans, ["vault.lan", "localhost"]);
        assert_eq!(
            i.ip_sans,
            [
                "10.1.2.3".parse::<IpAddr>().unwrap(),
                "127.0.0.1".parse().unwrap()
            ]
        );
        assert!(key_matches(&s.cert_pem, &s.key_pem).unwrap());
    }

    #[test]
    fn client_cert_is_client_auth_only_and_serials_are_random() {
        let (ca, _) = Ca::generate(now(), "h").unwrap();
        let a = ca.issue_client("alice", Duration::days(90), now()).unwrap();
        let b = ca.issue_client("alice", Duration::days(90), now()).unwrap();
        let ia = CertInfo::parse(&a.cert_pem).unwrap();
        assert!(ia.client_auth && !ia.server_auth);
        assert_eq!(ia.common_name.as_deref(), Some("alice"));
        assert_ne!(ia.serial, CertInfo::parse(&b.cert_pem).unwrap().serial);
        assert_eq!(ia.serial.len(), 32);
    }

    #[test]
    fn leaf_validity_never_exceeds_the_ca() {
        let (ca, issued) = Ca::generate(now(), "h").unwrap();
        let ca_end = CertInfo::parse(&issued.cert_pem).unwrap().not_after;
        let leaf = ca
            .issue_client("bob", Duration::days(3650 * 2), now())
            .unwrap();
        assert_eq!(CertInfo::parse(&leaf.cert_pem).unwrap().not_after, ca_end);
    }

    #[test]
    fn a_key_from_another_pair_does_not_match() {
        let (ca, _) = Ca::generate(now(), "h").unwrap();
        let a = ca.issue_client("a", Duration::days(1), now()).unwrap();
        let b = ca.issue_client("b", Duration::days(1), now()).unwrap();
        assert!(!key_matches(&a.cert_pem, &b.key_pem).unwrap());
    }

    #[test]
    fn loaded_ca_refuses_a_mismatched_key_and_issues_with_a_matching_one() {
        let (_, one) = Ca::generate(now(), "h").unwrap();
        let (_, two) = Ca::generate(now(), "h").unwrap();
        assert!(Ca::load(&one.cert_pem, &two.key_pem).is_err());
        let ca = Ca::load(&one.cert_pem, &one.key_pem).unwrap();
        let leaf = ca.issue_client("c", Duration::days(1), now()).unwrap();
        let info = CertInfo::parse(&leaf.cert_pem).unwrap();
        assert_eq!(info.issuer, CertInfo::parse(&one.cert_pem).unwrap().subject);
    }

    #[test]
    fn debug_of_an_issued_pair_shows_no_key() {
        let (_, ca) = Ca::generate(now(), "h").unwrap();
        let shown = format!("{ca:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
}
