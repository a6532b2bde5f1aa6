//! The small blocking Vault/OpenBao HTTP client: mutual TLS with a vaultnet
//! identity, trusting only the vaultnet CA, keep-alive connections reused
//! for a whole run (one while its requests are sequential). Covers the dozen
//! endpoints vaultnet uses; no SDK, no runtime.
//! Tokens live in [`Secret`] and never reach `Debug`, logs or errors.
//!
//! For a raft cluster ([`Client::with_nodes`]) the client talks to the
//! active node and rides out a leader change: what the cluster answers
//! while it elects one (307 from a standby pointing at the dead leader,
//! 429, 503, or a refused or reset connection) is retried on the node
//! then active, within the client's timeout. A request that may have been
//! applied (a 500, or a connection lost after it was sent) is repeated
//! only when repeating it changes nothing more ([`repeatable`]).

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::blocking::Client as Http;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// The most idle keep-alive connections a client keeps to a server: one
/// for a run's sequential requests, up to this many when a command sends
/// several at once over one client (doctor's Vault config checks), so
/// that none of them pays a new TLS handshake per request.
pub const POOL: usize = 8;

pub struct Client {
    http: Http,
    base: String,
    token: Option<Secret>,
    flavor_cli: String,
    /// A cluster's nodes (base URLs); empty for one server at `base`.
    nodes: Vec<String>,
    /// Which of `nodes` requests go to: the active one, when known.
    current: std::sync::atomic::AtomicUsize,
    /// How long a cluster's answers during an election are retried.
    retry_for: Duration,
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
    /// The answer as it came, instead of `body`, from [`Client::raw_bytes`].
    pub bytes: Vec<u8>,
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
        // The TLS crypto: rustls's ring provider, once per process (an
        // earlier call installed it already).
        let _ = rustls::crypto::ring::default_provider().install_default();
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
            .pool_max_idle_per_host(POOL)
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
            nodes: Vec::new(),
            current: std::sync::atomic::AtomicUsize::new(0),
            retry_for: target.timeout,
        })
    }

    /// A raft cluster: requests go to whichever of `nodes` (base URLs,
    /// the client's own first among them) is active, and are retried
    /// through a leader change.
    pub fn with_nodes(mut self, nodes: Vec<String>) -> Self {
        let mut all: Vec<String> = nodes
            .into_iter()
            .map(|n| n.trim_end_matches('/').to_string())
            .collect();
        match all.iter().position(|n| *n == self.base) {
            Some(i) => all.swap(0, i),
            None => all.insert(0, self.base.clone()),
        }
        self.nodes = all;
        self
    }

    /// The base URL requests go to now.
    fn current_base(&self) -> &str {
        match self.nodes.is_empty() {
            true => &self.base,
            false => &self.nodes[self.current.load(std::sync::atomic::Ordering::Relaxed)],
        }
    }

    pub fn with_token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    pub fn base(&self) -> &str {
        self.current_base()
    }

    /// One request; any HTTP status is returned, transport failures are
    /// errors. In a cluster, what an election answers is retried (see the
    /// module docs).
    pub fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        wrap_ttl: Option<&str>,
    ) -> Result<Response> {
        self.send(method, path, body, wrap_ttl, true)
    }

    /// [`Client::raw`] of a `GET` whose answer the caller parses itself
    /// (into `Response::bytes`; `body` is null): a large answer read into
    /// the few fields the caller keeps, never whole into a [`Value`].
    pub fn raw_bytes(&self, path: &str) -> Result<Response> {
        self.send(Method::GET, path, None, None, false)
    }

    fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        wrap_ttl: Option<&str>,
        json: bool,
    ) -> Result<Response> {
        // Until it is answered, a terminal says what vaultnet waits for.
        let _waiting = crate::ui::waiting();
        if self.nodes.is_empty() {
            return self
                .raw_at(&self.base, method, path, body, wrap_ttl, None, json)
                .map_err(Failure::into_error);
        }
        let deadline = std::time::Instant::now() + self.retry_for;
        let mut pause = Duration::from_millis(100);
        // During a leader change a node answered 403 to a valid operator
        // token (`auth/token/lookup-accessor`, seen in the cluster test
        // right after the active node was killed): a refusal is asked again
        // a few times, so a wrong token still fails, a second or so later.
        let mut denied = 0;
        loop {
            let base = self.current_base().to_string();
            let r = self.raw_at(&base, method.clone(), path, body, wrap_ttl, None, json);
            let again = match &r {
                Ok(resp) => match resp.status {
                    // Not applied: a standby's redirect, a standby or a
                    // sealed node, a node without a leader.
                    307 | 429 | 503 => true,
                    403 if denied < 3 => {
                        denied += 1;
                        true
                    }
                    // Perhaps applied.
                    500 | 502 => repeatable(&method, path, wrap_ttl.is_some()),
                    _ => false,
                },
                Err(Failure::NotSent(_)) => true,
                Err(Failure::Lost(_)) => repeatable(&method, path, wrap_ttl.is_some()),
                Err(Failure::Final(_)) => false,
            };
            if !again || std::time::Instant::now() >= deadline {
                return r.map_err(Failure::into_error);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(500));
            self.find_active();
        }
    }

    /// Points the client at the node that answers `sys/health` with 200,
    /// if one does; returns whether one did.
    fn find_active(&self) -> bool {
        for (i, base) in self.nodes.iter().enumerate() {
            let probe = self.raw_at(
                base,
                Method::GET,
                HEALTH_PATH,
                None,
                None,
                Some(Duration::from_secs(2)),
                true,
            );
            if matches!(probe, Ok(Response { status: 200, .. })) {
                self.current.store(i, std::sync::atomic::Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// One request to `base`, once; `timeout` overrides the client's;
    /// `json`: the answer parsed into `body`, else kept in `bytes`.
    #[allow(clippy::too_many_arguments)]
    fn raw_at(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        wrap_ttl: Option<&str>,
        timeout: Option<Duration>,
        json: bool,
    ) -> std::result::Result<Response, Failure> {
        let url = format!("{}/v1/{}", base, path.trim_start_matches('/'));
        let started = std::time::Instant::now();
        // `-vv`: the request as it went, never its body or token (a path
        // vaultnet asks for carries no secret).
        let trace = |what: &str| {
            crate::ui::trace(format!(
                "{method} {url} -> {what} ({} ms)",
                started.elapsed().as_millis()
            ));
        };
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(t) = &self.token {
            let mut v = reqwest::header::HeaderValue::from_str(t.expose()).map_err(|_| {
                Failure::Final(Error::usage("the operator token has invalid characters"))
            })?;
            v.set_sensitive(true);
            req = req.header("X-Vault-Token", v);
        }
        if let Some(ttl) = wrap_ttl {
            req = req.header("X-Vault-Wrap-TTL", ttl);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().map_err(|e| {
            let err = self.transport_error(base, &e);
            trace("no answer");
            let tls = {
                let c = chain(&e).to_lowercase();
                c.contains("certificate") || c.contains("alert")
            };
            if e.is_connect() && tls {
                // The server refused us, or we it: another try is no better.
                Failure::Final(err)
            } else if e.is_connect() {
                Failure::NotSent(err)
            } else {
                Failure::Lost(err)
            }
        })?;
        let status = resp.status().as_u16();
        trace(&status.to_string());
        let peer_cert = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .map(<[u8]>::to_vec);
        let bytes = resp
            .bytes()
            .map_err(|e| Failure::Lost(self.transport_error(base, &e)))?;
        if !json {
            return Ok(Response {
                status,
                body: Value::Null,
                bytes: bytes.into(),
                peer_cert,
            });
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                Failure::Final(
                    Error::failed(format!(
                        "malformed answer from {base} (HTTP {status}, not JSON)"
                    ))
                    .hint(
                        "check that `--vault-listen` points at Vault or OpenBao, not another server",
                    ),
                )
            })?
        };
        Ok(Response {
            status,
            body,
            bytes: Vec::new(),
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
        // A LIST is a GET with `?list=true` on the wire; say it as the CLI does.
        let what = match path.strip_suffix("?list=true") {
            Some(p) if method == Method::GET => format!("LIST {p}"),
            _ => format!("{method} {path}"),
        };
        let cli = &self.flavor_cli;
        let e = match StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR) {
            StatusCode::FORBIDDEN => Error::failed(format!("{what}: permission denied"))
                .hint(format!("use an operator token allowed to do this (`{}_TOKEN`, `--token-file` or `~/.vault-token`); `{cli} token lookup` shows its policies", cli.to_uppercase())),
            StatusCode::SERVICE_UNAVAILABLE => Error::failed(format!("{what}: Vault is sealed or unavailable"))
                .hint(super::unseal_hint(cli)),
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

    /// `sys/health` without a token; every status is an answer here. In a
    /// cluster, the active node's when one is active (the client then
    /// talks to it); while standbys answer and none is active — an
    /// election — it asks again until the client's timeout; else the
    /// answer of the node the client talked to.
    pub fn health(&self) -> Result<(Health, Value)> {
        let _waiting = crate::ui::waiting();
        let once = |base: &str| {
            self.raw_at(base, Method::GET, HEALTH_PATH, None, None, None, true)
                .map(|r| (Health::from_status(r.status), r.body))
                .map_err(Failure::into_error)
        };
        if self.nodes.is_empty() {
            return once(&self.base);
        }
        let deadline = std::time::Instant::now() + self.retry_for;
        loop {
            if self.find_active() {
                return once(self.current_base());
            }
            let answer = once(self.current_base());
            let electing = self.nodes.iter().any(|b| {
                matches!(
                    self.raw_at(
                        b,
                        Method::GET,
                        HEALTH_PATH,
                        None,
                        None,
                        Some(Duration::from_secs(2)),
                        true,
                    ),
                    Ok(Response { status: 429, .. })
                )
            });
            if !electing || std::time::Instant::now() >= deadline {
                return answer;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn transport_error(&self, base: &str, e: &reqwest::Error) -> Error {
        let cause = chain(e);
        let lower = cause.to_lowercase();
        if e.is_timeout() || lower.contains("timed out") {
            Error::failed(format!("no answer from {base}: timed out"))
                .hint("check that Vault runs and that nothing drops traffic to that address")
        } else if lower.contains("connection refused") {
            Error::failed(format!("cannot reach {base}: connection refused"))
                .hint("start Vault with the listener vaultnet wrote (`vault/listener.json`), or give its address with `vaultnet init --vault-listen IP:PORT`")
        } else if lower.contains("(sendrequest)")
            && !lower.contains("alert")
            && (lower.contains("close_notify")
                || lower.contains("connection closed")
                || lower.contains("connection reset"))
        {
            // TLS was up and the request sent, then the server hung up
            // without an alert: it crashed or restarted, no certificate is
            // at fault (SECURITY.md I3). The transport's own chain adds
            // only its URL and library advice.
            Error::failed(format!(
                "no answer from {base}: the server hung up before answering"
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

const HEALTH_PATH: &str = "sys/health?standbyok=false&perfstandbyok=false";

/// Why one request got no answer.
enum Failure {
    /// The connection failed before the request was sent (refused,
    /// reset or timed out while connecting): nothing reached Vault.
    NotSent(Error),
    /// The request may have reached Vault, and its answer was lost.
    Lost(Error),
    /// Not worth another try.
    Final(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::NotSent(e) | Failure::Lost(e) | Failure::Final(e) => e,
        }
    }
}

/// Whether a request that may already have been applied can be sent again
/// and change nothing more: reads, deletes, and writes of a whole object
/// (a policy, a role, a revocation) can; what makes something new each
/// time cannot — a secret_id, a response-wrapped answer, a login's token,
/// an unwrap (it spends the wrapping token), mounting an engine or an auth
/// method (the second answers "path is already in use").
pub fn repeatable(method: &Method, path: &str, wrapped: bool) -> bool {
    let path = path.trim_start_matches('/');
    let path = path.split('?').next().unwrap_or(path);
    if wrapped {
        return false;
    }
    if *method != Method::POST {
        return true;
    }
    !(path.ends_with("/secret-id")
        || path.contains("/login")
        || path.starts_with("auth/token/create")
        || path == "sys/wrapping/unwrap"
        || path == "sys/wrapping/wrap"
        || path.starts_with("sys/mounts/")
        || path.starts_with("sys/auth/"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_that_change_nothing_more_the_second_time_are_repeated() {
        let post = Method::POST;
        for (path, wrapped) in [
            ("auth/approle/role/alice/secret-id", false),
            ("auth/approle/login", false),
            ("/auth/cert/login", false),
            ("auth/token/create-orphan", false),
            ("sys/wrapping/unwrap", false),
            ("sys/mounts/secret", false),
            ("sys/auth/approle", false),
            ("secret/data/tenants/alice/app", true),
        ] {
            assert!(!repeatable(&post, path, wrapped), "{path} {wrapped}");
        }
        for path in [
            "sys/policies/acl/vaultnet-alice",
            "auth/approle/role/alice",
            "auth/approle/role/alice/secret-id-accessor/destroy",
            "auth/token/revoke-accessor",
            "auth/token/lookup-accessor",
        ] {
            assert!(repeatable(&post, path, false), "{path}");
        }
        for m in [Method::GET, Method::PUT, Method::DELETE] {
            assert!(repeatable(
                &m,
                "auth/approle/role/alice/secret-id?list=true",
                false
            ));
        }
    }
}
