//! A real OpenBao server for tests: started, initialised and unsealed.
//!
//! Not dev mode: the server gets a base config (`storage "inmem"`,
//! `api_addr`) plus the listener file under test — normally the one
//! `vaultnet init` wrote, with `tls_require_and_verify_client_cert` — and is
//! initialised with `PUT sys/init` and unsealed with `PUT sys/unseal` over
//! mTLS, exactly as an operator would. Requests go through reqwest when the
//! server is on the test process's own loopback, and through `curl` under
//! `ip netns exec` when it runs in a namespace (a thread cannot carry a
//! reqwest client into another network namespace without `unsafe`
//! `setns`). [`probe`] makes one real HTTPS request with or without a
//! client certificate, because with TLS 1.3 a refused client certificate
//! only shows at the first read, never in the handshake. [`OpenBao::reload`]
//! sends the server SIGHUP, as `systemctl reload` does, and waits until it
//! serves the certificate now on disk. [`OpenBao::start_raft`] keeps the
//! data in integrated (raft) storage in the server's temp dir instead, so
//! that after [`OpenBao::kill`] (SIGKILL) [`OpenBao::restart`] brings back
//! the same server — same listener, same data, unsealed with the same key,
//! the same root token — as after a crash.

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::cmd::is_scrubbed;
use super::netns::Netns;
use super::wait_for;

/// Time allowed for start-up, init and for `sys/health` to say 200.
/// In-memory storage needs ~0.3 s here; the margin is for loaded CI.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for one HTTP request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The `bao` binary: `$VAULTNET_BAO`, else the one `scripts/deps`
/// installs under `.deps/venv/bin`, else `bao` on `PATH`.
pub fn bao_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("VAULTNET_BAO").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = super::manifest_dir().join(".deps/venv/bin/bao");
    if local.exists() {
        return local;
    }
    PathBuf::from("bao")
}

static PORT_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A TCP port free on 127.0.0.1, from 20000–29999 (below Linux's ephemeral
/// range, so outgoing connections never hold it), whose next port is free
/// too: OpenBao opens its cluster listener on the API port + 1 even with
/// in-memory storage, so ports are handed out in pairs.
///
/// The start point depends on the pid and a counter so that parallel tests
/// and test processes take different ports; binding proves them free. In a
/// fresh namespace every port is free anyway, but the same helper serves
/// both cases.
pub fn free_port() -> u16 {
    let base = (std::process::id() % 250) * 40;
    for _ in 0..5_000 {
        let n = PORT_COUNTER.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + ((base + 2 * n) % 10_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 1)).is_ok()
        {
            return port;
        }
    }
    panic!("no free pair of ports on 127.0.0.1 in 20000-29999");
}

/// The client side of mTLS: files a test wrote (PEM).
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// CA that signed the server certificate.
    pub ca_pem_path: PathBuf,
    /// Client certificate the listener's `tls_client_ca_file` accepts.
    pub client_cert_path: PathBuf,
    pub client_key_path: PathBuf,
}

/// The parts of a listener file the tests need.
#[derive(Clone, Debug)]
pub struct Listener {
    /// `address` as written, e.g. `127.0.0.1:8200`.
    pub address: String,
    /// Where a client connects: an unspecified IP (`0.0.0.0`) becomes
    /// loopback.
    pub connect: SocketAddr,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_client_ca_file: Option<PathBuf>,
    pub require_client_cert: bool,
    /// The whole `tcp` block.
    pub raw: Value,
}

/// Reads the first `tcp` listener of a JSON listener file, accepting both
/// `{"listener":[{"tcp":{…}}]}` and `{"listener":{"tcp":{…}}}` (HCL's JSON
/// form allows either).
#[track_caller]
pub fn parse_listener(path: &Path) -> Listener {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read listener file {}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("listener file {} is not JSON: {e}", path.display()));
    let listener = &doc["listener"];
    let tcp = match listener {
        Value::Array(items) => items.iter().find_map(|i| i.get("tcp")),
        Value::Object(_) => listener.get("tcp"),
        _ => None,
    }
    .unwrap_or_else(|| panic!("no tcp listener in {}: {text}", path.display()))
    .clone();
    let address = tcp["address"]
        .as_str()
        .unwrap_or_else(|| panic!("tcp listener without address in {}", path.display()))
        .to_string();
    let mut connect: SocketAddr = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("listener address {address:?} does not resolve"));
    if connect.ip().is_unspecified() {
        connect.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let file = |key: &str| tcp[key].as_str().map(PathBuf::from);
    Listener {
        connect,
        tls_cert_file: file("tls_cert_file"),
        tls_key_file: file("tls_key_file"),
        tls_client_ca_file: file("tls_client_ca_file"),
        require_client_cert: tcp["tls_require_and_verify_client_cert"]
            .as_bool()
            .unwrap_or(false),
        address,
        raw: tcp,
    }
}

/// One real HTTPS `GET /v1/sys/health` with `curl` (inside namespace `ns`
/// when given), trusting only `ca`, presenting `cert` = (certificate, key)
/// if given. Returns the HTTP status, or curl's error text when there is no
/// HTTP answer — what a refused client certificate produces.
///
/// `addr` is `host:port`; a host name resolves through the namespace's
/// `/etc/hosts` (see `Namespace::write_hosts`).
pub fn probe(
    ns: Option<&str>,
    addr: &str,
    ca: &Path,
    cert: Option<(&Path, &Path)>,
) -> Result<u16, String> {
    let mut c = curl(ns);
    c.args([
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
    ])
    .arg("--cacert")
    .arg(ca);
    if let Some((cert, key)) = cert {
        c.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    c.arg(format!("https://{addr}/v1/sys/health"));
    let out = c.output().map_err(|e| format!("cannot run curl: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "curl {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    stdout
        .trim()
        .parse()
        .map_err(|_| format!("curl printed no status code: {stdout:?}"))
}

/// `curl -q` (ignore any `.curlrc`), inside `ns` if given.
fn curl(ns: Option<&str>) -> Command {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "curl"]);
            c
        }
        None => Command::new("curl"),
    };
    // `-q` must come first to take effect.
    c.arg("-q").stdin(Stdio::null());
    c
}

/// Quotes a value for a curl config file (`--config`).
/// Runs `curl` (in `ns` when given) with `config` on its stdin — secrets
/// stay off the command line — adding `silent` and `show-error`; the config
/// must ask for the status on the last line (`write-out = "\n%{http_code}"`).
/// Returns the status and the body (JSON, `Null` when empty, else the
/// text), or curl's error when no HTTP answer came.
pub fn run_curl_config(ns: Option<&str>, mut config: String) -> Result<(u16, Value), String> {
    config.push_str("silent\nshow-error\n");
    let mut c = curl(ns);
    c.args(["--config", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("cannot run curl: {e}"))?;
    child
        .stdin
        .take()
        .expect("curl stdin")
        .write_all(config.as_bytes())
        .map_err(|e| format!("writing curl config: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for curl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "curl {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (text, code) = stdout
        .rsplit_once('\n')
        .ok_or_else(|| format!("curl output without status line: {stdout:?}"))?;
    let code = code
        .trim()
        .parse()
        .map_err(|_| format!("curl printed no status code: {stdout:?}"))?;
    Ok((code, parse_body(text)))
}

/// A value for a curl config file, quoted.
pub fn curl_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for ch in s.chars() {
        match ch {
            '\\' => q.push_str("\\\\"),
            '"' => q.push_str("\\\""),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            _ => q.push(ch),
        }
    }
    q.push('"');
    q
}

/// `/v1/…` for `sys/health`, `/sys/health` or `/v1/sys/health`.
fn api_path(path: &str) -> String {
    let p = path.trim_start_matches('/');
    if p.starts_with("v1/") {
        format!("/{p}")
    } else {
        format!("/v1/{p}")
    }
}

/// Body of a response: JSON when it parses, `Null` when empty (204), else
/// the text as a JSON string so nothing is lost from failure messages.
fn parse_body(text: &str) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    }
}

/// Where the server keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Storage {
    /// `storage "inmem"`: gone when the process ends.
    Inmem,
    /// `storage "raft"` in the server's temp dir: survives a kill.
    Raft,
}

/// A running, initialised and unsealed OpenBao server.
pub struct OpenBao {
    /// From `sys/init`.
    pub root_token: String,
    /// The single unseal key (`secret_shares` = 1), from `sys/init`.
    pub unseal_key: String,
    listener: Listener,
    ns: Option<String>,
    tls: ClientTls,
    http: Option<reqwest::blocking::Client>,
    child: Option<Child>,
    log_path: PathBuf,
    /// The two `-config` files, for [`OpenBao::restart`].
    base_config: PathBuf,
    listener_file: PathBuf,
    // Last: removed after the server is killed in `drop`.
    dir: tempfile::TempDir,
}

impl OpenBao {
    /// Starts `bao server -config base.hcl -config LISTENER_FILE` (in `ns`
    /// when given), then initialises and unseals it and waits for
    /// `sys/health` to answer 200. Panics with the server log on failure.
    #[track_caller]
    pub fn start(ns: Option<&Netns>, listener_file: &Path, tls: ClientTls) -> OpenBao {
        OpenBao::start_with(ns, listener_file, tls, Storage::Inmem)
    }

    /// [`OpenBao::start`] with raft storage in the server's temp dir (one
    /// node; its cluster address is the API port + 1, which [`free_port`]
    /// keeps free): the data survives [`OpenBao::kill`], and
    /// [`OpenBao::restart`] brings the server back.
    #[track_caller]
    pub fn start_raft(ns: Option<&Netns>, listener_file: &Path, tls: ClientTls) -> OpenBao {
        OpenBao::start_with(ns, listener_file, tls, Storage::Raft)
    }

    #[track_caller]
    fn start_with(
        ns: Option<&Netns>,
        listener_file: &Path,
        tls: ClientTls,
        storage: Storage,
    ) -> OpenBao {
        let listener = parse_listener(listener_file);
        let dir = tempfile::Builder::new()
            .prefix("vaultnet-bao-")
            .tempdir()
            .expect("temp dir for OpenBao");
        let stanza = match storage {
            Storage::Inmem => "storage \"inmem\" {}\n".to_string(),
            Storage::Raft => {
                let data = dir.path().join("raft");
                std::fs::create_dir(&data).expect("create the raft data directory");
                let mut cluster = listener.connect;
                cluster.set_port(cluster.port() + 1);
                format!(
                    "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"bao1\"\n}}\ncluster_addr = \"https://{cluster}\"\n",
                    data.display()
                )
            }
        };
        let base = dir.path().join("base.hcl");
        // No `disable_mlock`: OpenBao 2.7 no longer knows it and warns.
        std::fs::write(
            &base,
            format!(
                "{stanza}api_addr = \"https://{}\"\nui = false\nlog_level = \"info\"\n",
                listener.connect
            ),
        )
        .expect("write base.hcl");
        let ns_name = ns.map(|n| n.name().to_string());
        let http = if ns_name.is_none() {
            Some(reqwest_client(&tls))
        } else {
            None
        };
        let mut bao = OpenBao {
            root_token: String::new(),
            unseal_key: String::new(),
            listener,
            ns: ns_name,
            tls,
            http,
            child: None,
            log_path: dir.path().join("bao.log"),
            base_config: base,
            listener_file: listener_file.to_path_buf(),
            dir,
        };
        bao.spawn();
        bao.bring_up();
        bao
    }

    /// Starts the server process from the two config files, its output
    /// appended to the log.
    #[track_caller]
    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open bao.log");
        let mut cmd = match &self.ns {
            Some(n) => {
                // `ip netns exec` execs bao: the child's pid is the server's.
                let mut c = Command::new("ip");
                c.args(["netns", "exec", n]).arg(bao_binary());
                c
            }
            None => Command::new(bao_binary()),
        };
        cmd.arg("server")
            .arg("-config")
            .arg(&self.base_config)
            .arg("-config")
            .arg(&self.listener_file)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        // The server must not pick up the developer's BAO_*/VAULT_* settings.
        for (name, _) in std::env::vars_os() {
            if is_scrubbed(&name) {
                cmd.env_remove(name);
            }
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?} (is bao installed?): {e}"));
        self.child = Some(child);
    }

    /// After [`OpenBao::kill`] of a server started with
    /// [`OpenBao::start_raft`]: starts it again from the same config files
    /// and data, on the same listener, unseals it with the same key and
    /// waits until it is active. The root token still works: it is in the
    /// data.
    #[track_caller]
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart an OpenBao that was killed");
        self.spawn();
        self.wait_answering();
        self.unseal();
    }

    /// Waits for the listener, then init, unseal, health 200.
    #[track_caller]
    fn bring_up(&mut self) {
        self.wait_answering();
        let (code, init) = self.api(
            "PUT",
            "sys/init",
            Some(json!({"secret_shares": 1, "secret_threshold": 1})),
            None,
        );
        if code != 200 {
            panic!("sys/init answered {code}: {init}\n{}", self.log_banner());
        }
        self.root_token = init["root_token"].as_str().expect("root_token").to_string();
        self.unseal_key = init["keys"][0].as_str().expect("keys[0]").to_string();
        self.unseal();
    }

    /// Waits until the listener gives an HTTP answer (any status), or
    /// panics with the log when the server exits or the time is up.
    #[track_caller]
    fn wait_answering(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "OpenBao exited during start-up ({status})\n{}",
                    self.log_banner()
                );
            }
            match self.try_api("GET", "sys/health", None, None) {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    panic!(
                        "OpenBao did not answer on {}: {e}\n{}",
                        self.addr(),
                        self.log_banner()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Where clients connect (from the listener file's `address`).
    pub fn addr(&self) -> SocketAddr {
        self.listener.connect
    }

    /// `https://ADDR`, for `BAO_ADDR`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr())
    }

    /// The parsed listener file.
    pub fn listener(&self) -> &Listener {
        &self.listener
    }

    /// The namespace the server runs in, if any.
    pub fn netns(&self) -> Option<&str> {
        self.ns.as_deref()
    }

    /// The client TLS files given to [`OpenBao::start`].
    pub fn tls(&self) -> &ClientTls {
        &self.tls
    }

    /// A scratch directory that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Variables for the `bao` CLI or agent to reach this server as root:
    /// `BAO_ADDR`, `BAO_CACERT`, `BAO_CLIENT_CERT`, `BAO_CLIENT_KEY`,
    /// `BAO_TOKEN`.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        vec![
            ("BAO_ADDR".into(), self.url()),
            (
                "BAO_CACERT".into(),
                self.tls.ca_pem_path.display().to_string(),
            ),
            (
                "BAO_CLIENT_CERT".into(),
                self.tls.client_cert_path.display().to_string(),
            ),
            (
                "BAO_CLIENT_KEY".into(),
                self.tls.client_key_path.display().to_string(),
            ),
            ("BAO_TOKEN".into(), self.root_token.clone()),
        ]
    }

    /// One API request over mTLS; `path` like `sys/auth/approle`. Returns
    /// the status and the body (JSON, `Null` if empty). Panics, with the
    /// server log, when no HTTP answer arrives.
    #[track_caller]
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        self.api_with_headers(method, path, body, token, &[])
    }

    /// [`OpenBao::api`] with the root token.
    #[track_caller]
    pub fn root_api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api(method, path, body, Some(&self.root_token))
    }

    /// [`OpenBao::api`] with extra request headers, e.g.
    /// `("X-Vault-Wrap-TTL", "5m")` to have the answer response-wrapped.
    #[track_caller]
    pub fn api_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        self.try_api_with_headers(method, path, body, token, headers)
            .unwrap_or_else(|e| {
                panic!(
                    "{method} {path} on {} failed: {e}\n{}",
                    self.addr(),
                    self.log_banner()
                )
            })
    }

    /// Like [`OpenBao::api`], but a transport failure is an `Err`.
    pub fn try_api(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Result<(u16, Value), String> {
        self.try_api_with_headers(method, path, body, token, &[])
    }

    fn try_api_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{}", self.url(), api_path(path));
        match &self.http {
            Some(http) => {
                let method = reqwest::Method::from_bytes(method.as_bytes())
                    .map_err(|e| format!("bad method {method}: {e}"))?;
                let mut req = http.request(method, &url);
                if let Some(t) = token {
                    req = req.header("X-Vault-Token", t);
                }
                for (name, value) in headers {
                    req = req.header(*name, *value);
                }
                if let Some(b) = body {
                    req = req.json(&b);
                }
                let resp = req.send().map_err(|e| format!("{e:#}"))?;
                let code = resp.status().as_u16();
                let text = resp.text().map_err(|e| format!("reading body: {e}"))?;
                Ok((code, parse_body(&text)))
            }
            None => self.curl_api(method, &url, body, token, headers),
        }
    }

    /// The request through `curl` inside the namespace. Token and body go
    /// through a config on stdin, never on the command line where `ps`
    /// would show them.
    fn curl_api(
        &self,
        method: &str,
        url: &str,
        body: Option<Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Value), String> {
        let mut config = String::new();
        let mut opt = |k: &str, v: &str| config.push_str(&format!("{k} = {}\n", curl_quote(v)));
        opt("url", url);
        opt("request", method);
        opt("cacert", &self.tls.ca_pem_path.to_string_lossy());
        opt("cert", &self.tls.client_cert_path.to_string_lossy());
        opt("key", &self.tls.client_key_path.to_string_lossy());
        opt("max-time", &REQUEST_TIMEOUT.as_secs().to_string());
        // The status follows the body on its own line.
        opt("write-out", "\n%{http_code}");
        if let Some(t) = token {
            opt("header", &format!("X-Vault-Token: {t}"));
        }
        for (name, value) in headers {
            opt("header", &format!("{name}: {value}"));
        }
        if let Some(b) = body {
            opt("header", "Content-Type: application/json");
            // `data-raw`: a leading `@` is not a file name.
            opt("data-raw", &b.to_string());
        }
        run_curl_config(self.ns.as_deref(), config)
    }

    /// `GET sys/health` status: 200 active, 503 sealed, 501 uninitialised.
    #[track_caller]
    pub fn health(&self) -> u16 {
        self.api("GET", "sys/health", None, None).0
    }

    /// Waits (up to [`START_TIMEOUT`]) until `sys/health` answers 200.
    #[track_caller]
    pub fn wait_healthy(&self) {
        let _: () = wait_for(
            "OpenBao sys/health 200",
            START_TIMEOUT,
            Duration::from_millis(100),
            || match self.try_api("GET", "sys/health", None, None) {
                Ok((200, _)) => Ok(()),
                Ok((code, body)) => Err(format!("{code} {body}")),
                Err(e) => Err(e),
            },
        );
    }

    /// Seals the server (`PUT sys/seal` with the root token).
    #[track_caller]
    pub fn seal(&self) {
        let (code, body) = self.root_api("PUT", "sys/seal", None);
        if code != 204 && code != 200 {
            panic!("sys/seal answered {code}: {body}\n{}", self.log_banner());
        }
    }

    /// Unseals with the stored key and waits for health 200.
    #[track_caller]
    pub fn unseal(&self) {
        let (code, body) = self.api(
            "PUT",
            "sys/unseal",
            Some(json!({"key": self.unseal_key})),
            None,
        );
        if code != 200 || body["sealed"] != Value::Bool(false) {
            panic!("sys/unseal answered {code}: {body}\n{}", self.log_banner());
        }
        self.wait_healthy();
    }

    /// The pid of the server process itself: the child, or — when the
    /// `bao` that was started is a wrapper running the real binary as its
    /// own child, as the pip package's `openbao` script does — the
    /// descendant whose program is `bao`. A signal meant for the server
    /// must reach that process, not the wrapper.
    #[track_caller]
    pub fn server_pid(&self) -> u32 {
        let root = self.child.as_ref().expect("OpenBao runs").id();
        let mut todo = vec![root];
        while let Some(pid) = todo.pop() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "bao" {
                return pid;
            }
            todo.extend(children_of(pid));
        }
        panic!(
            "no `bao` process at or below pid {root}\n{}",
            self.log_banner()
        );
    }

    /// The certificate the listener presents now (PEM), from a handshake
    /// with the client certificate, as `openssl s_client` shows it.
    pub fn served_certificate(&self) -> Result<String, String> {
        let mut c = match &self.ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "openssl"]);
                c
            }
            None => Command::new("openssl"),
        };
        c.args(["s_client", "-connect"])
            .arg(self.addr().to_string())
            .arg("-CAfile")
            .arg(&self.tls.ca_pem_path)
            .arg("-cert")
            .arg(&self.tls.client_cert_path)
            .arg("-key")
            .arg(&self.tls.client_key_path)
            .stdin(Stdio::null());
        let out = c.output().map_err(|e| format!("cannot run openssl: {e}"))?;
        first_certificate(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
            format!(
                "openssl s_client showed no certificate: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
    }

    /// Sends SIGHUP to the server process ([`OpenBao::server_pid`]) — Vault
    /// and OpenBao reload their listener certificates on it — and waits
    /// until the listener presents the certificate now in its
    /// `tls_cert_file`.
    #[track_caller]
    pub fn reload(&self) {
        let pid = self.server_pid();
        let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid is not 0");
        rustix::process::kill_process(pid, rustix::process::Signal::HUP)
            .unwrap_or_else(|e| panic!("SIGHUP to OpenBao ({pid:?}): {e}"));
        self.wait_serving_its_certificate_file();
    }

    /// Waits until the listener presents the certificate now in its
    /// `tls_cert_file` (a reload takes effect after the signal returns).
    #[track_caller]
    pub fn wait_serving_its_certificate_file(&self) {
        let file = self
            .listener
            .tls_cert_file
            .clone()
            .expect("a listener with tls_cert_file");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let want = first_certificate(&text)
            .unwrap_or_else(|| panic!("no certificate in {}", file.display()));
        wait_for(
            "OpenBao to serve the certificate of its tls_cert_file",
            START_TIMEOUT,
            Duration::from_millis(100),
            || match self.served_certificate() {
                Ok(served) if served == want => Ok(()),
                Ok(_) => Err("it still serves another certificate".to_string()),
                Err(e) => Err(e),
            },
        )
    }

    /// Kills the server now (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server's pid (the real binary's: `ip netns exec` execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the server process runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The server's combined stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_else(|e| format!("<no log: {e}>"))
    }

    fn log_banner(&self) -> String {
        format!(
            "--- OpenBao log ({}) ---\n{}--- end of OpenBao log ---",
            self.log_path.display(),
            self.log()
        )
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        // A failing test unwinds through here: the server log is usually
        // what explains the failure.
        if std::thread::panicking() {
            eprintln!("{}", self.log_banner());
        }
        self.kill();
    }
}

/// The pids whose parent is `pid`, from `/proc/*/stat` (the parent is the
/// fourth field, after the parenthesised program name).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// The first `CERTIFICATE` block of a PEM text, as its own PEM text.
fn first_certificate(text: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = text.find(BEGIN)?;
    let end = start + text[start..].find(END)? + END.len();
    Some(format!("{}\n", &text[start..end]))
}

/// A reqwest client that trusts only the test CA and presents the client
/// certificate.
fn reqwest_client(tls: &ClientTls) -> reqwest::blocking::Client {
    // vaultnet's TLS provider (rustls with ring), as `vault::Client` installs it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    let ca = reqwest::Certificate::from_pem(&read(&tls.ca_pem_path)).expect("CA certificate PEM");
    let mut pem = read(&tls.client_cert_path);
    pem.push(b'\n');
    pem.extend(read(&tls.client_key_path));
    let identity = reqwest::Identity::from_pem(&pem).expect("client certificate and key PEM");
    reqwest::blocking::Client::builder()
        .tls_certs_only([ca])
        .identity(identity)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("reqwest client")
}
