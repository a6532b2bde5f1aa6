//! The small blocking Vault/OpenBao HTTP client: mutual TLS with a vaultnet
//! identity, trusting only the vaultnet CA, one keep-alive connection for a
//! whole run. Covers the dozen endpoints vaultnet uses; no SDK, no runtime.
//! Tokens live in [`Secret`] and never reach `Debug`, logs or errors.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::blocking::Client as Http;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::Secret;

pub struct Client {
    http: Http,
    base: String,
    token: Option<Secret>,
    flavor_cli: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How to reach a server: its URL, and optionally a fixed address for its
/// host name (the forwarder path: `vault.lan` → host IP:port).
pub struct Target<'a> {
    pub url: String,
    pub resolve: Option<(&'a str, SocketAddr)>,
    pub timeout: Duration,
}

/// The answer to one request.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    /// The server's leaf certificate (DER), as seen on this connection.
    pub peer_cert: Option<Vec<u8>>,
}

/// `sys/health`, as Vault encodes it in the status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Active,
    Standby,
    PerfStandby,
    DrSecondary,
    NotInitialized,
    Sealed,
    Other(u16),
}

impl Health {
    pub fn from_status(status: u16) -> Health {
        match status {
            200 => Health::Active,
            429 => Health::Standby,
            473 => Health::PerfStandby,
            472 => Health::DrSecondary,
            501 => Health::NotInitialized,
            503 => Health::Sealed,
            s => Health::Other(s),
        }
    }
}

impl Client {
    /// `identity` is the certificate chain and key PEM, concatenated.
    pub fn new(
        target: Target<'_>,
        ca_pem: &str,
        identity: Option<&Zeroizing<Vec<u8>>>,
        flavor_cli: &str,
    ) -> Result<Client> {
        // Every CA of the PEM text: during a CA rotation Vault may serve a
        // certificate of either.
        let cas = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
            .map_err(|e| Error::failed(format!("cannot read the vaultnet CA: {e}")))?;
        if cas.is_empty() {
            return Err(Error::failed("cannot read the vaultnet CA: no certificate"));
        }
        let mut b = Http::builder()
            .tls_certs_only(cas)
            .timeout(target.timeout)
            .connect_timeout(target.timeout)
            .pool_max_idle_per_host(1)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vaultnet/", env!("CARGO_PKG_VERSION")))
            .tls_info(true);
        if let Some(id) = identity {
            let id = reqwest::Identity::from_pem(id)
                .map_err(|e| Error::failed(format!("cannot read the client certificate: {e}")))?;
            b = b.identity(id);
        }
        if let Some((name, addr)) = target.resolve {
            b = b.resolve(name, addr);
        }
        let http = b
            .build()
            .map_err(|e| Error::failed(format!("cannot set up TLS: {}", chain(&e))))?;
        Ok(Client {
            http,
            base: target.url.trim_end_matches('/').to_string(),
            token: None,
            flavor_cli: flavor_cli.to_string(),
        })
    }

    pub fn with_token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One request; any HTTP status is returned, transport failures are errors.
    pub fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        wrap_ttl: Option<&str>,
    ) -> Result<Response> {
        let url = format!("{}/v1/{}", self.base, path.trim_start_matches('/'));
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            let mut v = reqwest::header::HeaderValue::from_str(t.expose())
                .map_err(|_| Error::usage("the operator token has invalid characters"))?;
            v.set_sensitive(true);
            req = req.header("X-Vault-Token", v);
        }
        if let Some(ttl) = wrap_ttl {
            req = req.header("X-Vault-Wrap-TTL", ttl);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().map_err(|e| self.transport_error(&e))?;
        let status = resp.status().as_u16();
        let peer_cert = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .map(<[u8]>::to_vec);
        let bytes = resp.bytes().map_err(|e| self.transport_error(&e))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                Error::failed(format!(
                    "malformed answer from {} (HTTP {status}, not JSON)",
                    self.base
                ))
                .hint("check that `--vault-addr` points at Vault or OpenBao, not another server")
            })?
        };
        Ok(Response {
            status,
            body,
            peer_cert,
        })
    }

    /// A request that must succeed (2xx); anything else is a one-line error with a hint.
    pub fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let r = self.raw(method.clone(), path, body, None)?;
        self.check(method, path, r)
    }

    pub fn check(&self, method: Method, path: &str, r: Response) -> Result<Value> {
        if (200..300).contains(&r.status) {
            return Ok(r.body);
        }
        let detail = r
            .body
            .get("errors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| s.lines().next().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|s| !s.is_empty());
        let what = format!("{method} {path}");
        let cli = &self.flavor_cli;
        let e = match StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR) {
            StatusCode::FORBIDDEN => Error::failed(format!("{what}: permission denied"))
                .hint(format!("use an operator token allowed to do this (`VAULT_TOKEN`, `--token-file` or `~/.vault-token`); `{cli} token lookup` shows its policies")),
            StatusCode::SERVICE_UNAVAILABLE => Error::failed(format!("{what}: Vault is sealed or unavailable"))
                .hint(format!("unseal it: `{cli} operator unseal`")),
            StatusCode::NOT_IMPLEMENTED => Error::failed(format!("{what}: Vault is not initialised"))
                .hint(format!("initialise it: `{cli} operator init`")),
            s => Error::failed(format!(
                "{what}: HTTP {}{}",
                s.as_u16(),
                detail.map(|d| format!(": {d}")).unwrap_or_default()
            ))
            .hint(if s.is_server_error() {
                format!("look at the {cli} server log, then run the command again")
            } else {
                "run `vaultnet doctor` to check the setup".to_string()
            }),
        };
        Err(e)
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        self.call(Method::DELETE, path, None)
    }

    /// `GET path` where 404 means "absent".
    pub fn get_opt(&self, path: &str) -> Result<Option<Value>> {
        let r = self.raw(Method::GET, path, None, None)?;
        if r.status == 404 {
            return Ok(None);
        }
        self.check(Method::GET, path, r).map(Some)
    }

    /// `sys/health` without a token; every status is an answer here.
    pub fn health(&self) -> Result<(Health, Value)> {
        let r = self.raw(
            Method::GET,
            "sys/health?standbyok=false&perfstandbyok=false",
            None,
            None,
        )?;
        Ok((Health::from_status(r.status), r.body))
    }

    fn transport_error(&self, e: &reqwest::Error) -> Error {
        let cause = chain(e);
        let lower = cause.to_lowercase();
        let base = &self.base;
        if e.is_timeout() || lower.contains("timed out") {
            Error::failed(format!("no answer from {base}: timed out"))
                .hint("check that Vault runs and that nothing drops traffic to that address")
        } else if lower.contains("connection refused") {
            Error::failed(format!("cannot reach {base}: connection refused"))
                .hint("start Vault with the listener vaultnet wrote (`vault/listener.json`), or fix `--vault-addr`")
        } else if lower.contains("(sendrequest)")
            && !lower.contains("alert")
            && (lower.contains("close_notify")
                || lower.contains("connection closed")
                || lower.contains("connection reset"))
        {
            // TLS was up and the request sent, then the server hung up
            // without an alert: it crashed or restarted, no certificate is
            // at fault (SECURITY.md I3).
            Error::failed(format!(
                "no answer from {base}: the server hung up before answering: {cause}"
            ))
            .hint(format!(
                "look at the {} server log, then run the command again",
                self.flavor_cli
            ))
        } else if lower.contains("certificate required")
            || lower.contains("handshake")
            || lower.contains("certificate")
            || lower.contains("tls")
        {
            Error::failed(format!("TLS with {base} failed: {cause}"))
                .hint("run `vaultnet doctor` to see which certificate is wrong")
        } else {
            Error::failed(format!("cannot talk to {base}: {cause}"))
                .hint("run `vaultnet doctor` to check the chain")
        }
    }
}

/// The strings of the JSON array at `pointer` (JSON Pointer), or none.
pub fn strings_at(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON Pointer to `key` of an object, escaped (`/` and `~` in Vault paths).
pub fn pointer_to(key: &str) -> String {
    format!("/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// An error and its causes on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ").replace('\n', " ")
}
