//! The host forwarder (`entry: shared-port`, and `per-tenant-port` with one
//! entry per tenant's port): listens on the host address and passes TCP to
//! Vault's loopback listener. TLS stays end to end — no forwarder here ever
//! terminates it, so mutual TLS is still enforced by Vault itself.
//!
//! Only typed values (addresses and ports) reach these files, so nothing
//! needs escaping.

use std::net::SocketAddr;

use super::Rendered;
use crate::state::Forwarder;

pub const UNIT: &str = "vaultnet-forwarder";
pub const SOCKET_PROXYD: &str = "/usr/lib/systemd/systemd-socket-proxyd";

/// How many connections may wait to be accepted: Linux's default cap
/// (`net.core.somaxconn`, 4096 since 5.4). socat's own default is 5, so a
/// burst of agents starting together (a host reboot) overflowed its accept
/// queue; every forwarder sets it explicitly (SECURITY.md, figures).
pub const BACKLOG: u32 = 4096;

/// The most connections systemd-socket-proxyd carries at once (its default
/// is 256; by its source, a connection over the limit is closed as soon as
/// it is accepted). Each takes six descriptors (two sockets,
/// two pipes), hence the unit's `LimitNOFILE=`.
pub const PROXYD_CONNECTIONS: u32 = 4096;

/// Everything a forwarder needs to know.
pub struct ForwarderSpec {
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
    /// A cluster: every node, of which tenants must reach only the
    /// active one. Only HAProxy renders it (the topology refuses the
    /// others for a cluster).
    pub cluster: Option<ClusterCheck>,
}

/// A cluster's nodes and how HAProxy checks which one is active: a real
/// `GET /v1/sys/health` over mutual TLS to each (200 only from the active
/// node; a standby answers 429, a sealed node 503), with a client
/// certificate of its own, since every node requires one.
pub struct ClusterCheck {
    /// `(name, API address)` of each node.
    pub nodes: Vec<(String, SocketAddr)>,
    /// The CAs a node's certificate may come from (`pki/trust.pem`).
    pub ca_file: std::path::PathBuf,
    /// Key and certificate in one file (HAProxy's `crt`).
    pub identity_file: std::path::PathBuf,
}

/// How often HAProxy checks each node, in milliseconds: after the active
/// node dies a new one is elected in 1.4–3.0 s, and tenants wait for the
/// check that finds it.
pub const CHECK_INTERVAL_MS: u32 = 100;

/// Characters a path may have to be written into HAProxy's config as it
/// is (HAProxy splits words on spaces and reads `#`, `\`, `$` and quotes).
pub fn haproxy_path_ok(p: &std::path::Path) -> bool {
    let s = p.to_string_lossy();
    p.is_absolute()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+@/".contains(&b))
}

/// The forwarder's files and the commands that enable it.
#[derive(Debug, Clone)]
pub struct ForwarderFiles {
    pub files: Vec<Rendered>,
    pub enable: Vec<String>,
}

pub fn render(kind: Forwarder, spec: &ForwarderSpec) -> ForwarderFiles {
    match kind {
        Forwarder::Socat => socat(spec),
        Forwarder::Nginx => nginx(spec),
        Forwarder::Haproxy => haproxy(spec),
        Forwarder::SocketProxyd => socket_proxyd(spec),
    }
}

/// A forwarder made of one file and the commands that enable it.
fn one_file(name: impl Into<String>, contents: String, enable: &[&str]) -> ForwarderFiles {
    ForwarderFiles {
        files: vec![Rendered {
            name: name.into(),
            contents,
        }],
        enable: enable.iter().map(|c| c.to_string()).collect(),
    }
}

fn describe(spec: &ForwarderSpec) -> String {
    format!(
        "vaultnet forwarder {} -> Vault {} (TLS passes through)",
        spec.listen, spec.upstream
    )
}

/// The system user the socat and systemd-socket-proxyd units run as: a
/// fixed identity, so the gate can admit it to Vault's port and nobody
/// else (SECURITY.md G1).
pub const USER: &str = "vaultnet-forwarder";

/// The user whose sockets reach Vault's listener for each forwarder: its
/// own for the units vaultnet writes, the Debian packages' worker users
/// for nginx (`user www-data;`) and HAProxy (`user haproxy`).
pub fn identity(kind: Forwarder) -> &'static str {
    match kind {
        Forwarder::Socat | Forwarder::SocketProxyd => USER,
        Forwarder::Nginx => "www-data",
        Forwarder::Haproxy => "haproxy",
    }
}

/// Creates [`USER`] unless it exists.
fn create_user() -> String {
    format!(
        "id -u {USER} >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin {USER}"
    )
}

/// Hardening shared by the systemd services: the forwarder needs no
/// privilege, no files and only IP sockets; it runs as [`USER`].
const HARDENING: &str = "\
User=vaultnet-forwarder
Group=vaultnet-forwarder
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
";

fn socat_addr(prefix: &str, a: SocketAddr) -> (String, String) {
    match a {
        SocketAddr::V4(v4) => (format!("{prefix}4"), v4.ip().to_string()),
        SocketAddr::V6(v6) => (format!("{prefix}6"), format!("[{}]", v6.ip())),
    }
}

fn socat(spec: &ForwarderSpec) -> ForwarderFiles {
    let (listen_kind, bind) = socat_addr("TCP", spec.listen);
    let (up_kind, up_host) = socat_addr("TCP", spec.upstream);
    let unit = format!(
        "# {desc}\n\
         # Install: /etc/systemd/system/{UNIT}.service\n\
         [Unit]\n\
         Description={desc}\n\
         Documentation=man:socat(1)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         ExecStart=/usr/bin/socat {listen_kind}-LISTEN:{port},bind={bind},reuseaddr,fork,backlog={BACKLOG} {up_kind}:{up_host}:{up_port}\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         {HARDENING}\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        desc = describe(spec),
        port = spec.listen.port(),
        up_port = spec.upstream.port(),
    );
    ForwarderFiles {
        files: vec![Rendered {
            name: format!("{UNIT}.service"),
            contents: unit,
        }],
        enable: vec![
            create_user(),
            format!("install -m 0644 forwarder/{UNIT}.service /etc/systemd/system/"),
            "systemctl daemon-reload".into(),
            format!("systemctl enable --now {UNIT}.service"),
        ],
    }
}

fn nginx(spec: &ForwarderSpec) -> ForwarderFiles {
    let conf = format!(
        "# {desc}\n\
         # Needs the stream module (Debian: libnginx-mod-stream). Include this file at\n\
         # the top level of nginx.conf, outside `http {{}}`:\n\
         #   include /etc/nginx/vaultnet-stream.conf;\n\
         # If nginx.conf already has a `stream {{}}` block, put the `server` below in it.\n\
         # Each tenant connection takes two of nginx's `worker_connections` (the\n\
         # `events {{}}` block of nginx.conf; Debian ships 768 per worker).\n\
         stream {{\n\
         \x20   server {{\n\
         \x20       listen {listen} backlog={BACKLOG};\n\
         \x20       proxy_pass {upstream};\n\
         \x20       proxy_connect_timeout 5s;\n\
         \x20       # Agents keep connections open; do not cut long requests.\n\
         \x20       proxy_timeout 1h;\n\
         \x20   }}\n\
         }}\n",
        desc = describe(spec),
        listen = spec.listen,
        upstream = spec.upstream,
    );
    one_file(
        "vaultnet-stream.conf",
        conf,
        &[
            "install -m 0644 forwarder/vaultnet-stream.conf /etc/nginx/",
            "grep -q vaultnet-stream.conf /etc/nginx/nginx.conf || echo 'include /etc/nginx/vaultnet-stream.conf;' >> /etc/nginx/nginx.conf",
            "nginx -t && systemctl reload nginx",
        ],
    )
}

fn haproxy(spec: &ForwarderSpec) -> ForwarderFiles {
    if let Some(c) = &spec.cluster {
        return haproxy_cluster(spec, c);
    }
    let conf = format!(
        "# {desc}\n\
         # Append to /etc/haproxy/haproxy.cfg, or pass as an extra `-f` file.\n\
         {frontend}\
         \n\
         backend vaultnet_vault\n\
         \x20   mode tcp\n\
         \x20   timeout connect 5s\n\
         \x20   timeout server 1h\n\
         \x20   server vault {upstream}\n",
        desc = describe(spec),
        frontend = haproxy_frontend(spec),
        upstream = spec.upstream,
    );
    one_file(
        "vaultnet-haproxy.cfg",
        conf,
        &[
            "cat forwarder/vaultnet-haproxy.cfg >> /etc/haproxy/haproxy.cfg",
            "haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy",
        ],
    )
}

/// The cluster's backend: every node with an active mTLS health check, so
/// that only the node answering 200 (the active one) is UP. Plain TCP
/// checks mark sealed and standby nodes UP (NOTES.md, "OpenBao raft
/// cluster"). Sessions to a node marked down are cut, so agents reconnect
/// to the new active node instead of waiting on a dead one.
/// The frontend of every HAProxy config vaultnet writes: the entry, with
/// room for a burst of tenant connections (see [`BACKLOG`]).
fn haproxy_frontend(spec: &ForwarderSpec) -> String {
    format!(
        "frontend vaultnet_vault\n\
         \x20   mode tcp\n\
         \x20   bind {listen}\n\
         \x20   maxconn {BACKLOG}\n\
         \x20   backlog {BACKLOG}\n\
         \x20   timeout client 1h\n\
         \x20   default_backend vaultnet_vault\n",
        listen = spec.listen,
    )
}

fn haproxy_cluster(spec: &ForwarderSpec, c: &ClusterCheck) -> ForwarderFiles {
    let servers: String = c
        .nodes
        .iter()
        .map(|(name, addr)| format!("    server {name} {addr}\n"))
        .collect();
    let conf = format!(
        "# vaultnet forwarder {listen} -> the active one of {n} Vault nodes (TLS passes through)\n\
         # Append to /etc/haproxy/haproxy.cfg, or pass as an extra `-f` file. HAProxy\n\
         # reads the check's certificate and CA when it starts, before it drops\n\
         # privileges.\n\
         {frontend}\
         \n\
         backend vaultnet_vault\n\
         \x20   mode tcp\n\
         \x20   timeout connect 5s\n\
         \x20   timeout server 1h\n\
         \x20   timeout check 2s\n\
         \x20   # Only the active node answers sys/health with 200.\n\
         \x20   option httpchk\n\
         \x20   http-check send meth GET uri /v1/sys/health\n\
         \x20   http-check expect status 200\n\
         \x20   default-server check check-ssl verify required ca-file {ca} crt {crt} inter {CHECK_INTERVAL_MS}ms fall 2 rise 1 on-marked-down shutdown-sessions\n\
         {servers}",
        listen = spec.listen,
        frontend = haproxy_frontend(spec),
        n = c.nodes.len(),
        ca = c.ca_file.display(),
        crt = c.identity_file.display(),
    );
    one_file(
        "vaultnet-haproxy.cfg",
        conf,
        &[
            "cat forwarder/vaultnet-haproxy.cfg >> /etc/haproxy/haproxy.cfg",
            "haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy",
        ],
    )
}

fn socket_proxyd(spec: &ForwarderSpec) -> ForwarderFiles {
    let socket = format!(
        "# {desc}\n\
         # Install: /etc/systemd/system/{UNIT}.socket\n\
         [Unit]\n\
         Description={desc}\n\
         \n\
         [Socket]\n\
         ListenStream={listen}\n\
         Backlog={BACKLOG}\n\
         # Start even before the host address is configured.\n\
         FreeBind=yes\n\
         \n\
         [Install]\n\
         WantedBy=sockets.target\n",
        desc = describe(spec),
        listen = spec.listen,
    );
    let service = format!(
        "# {desc}\n\
         # Install: /etc/systemd/system/{UNIT}.service (started by {UNIT}.socket)\n\
         [Unit]\n\
         Description={desc}\n\
         Documentation=man:systemd-socket-proxyd(8)\n\
         Requires={UNIT}.socket\n\
         After={UNIT}.socket\n\
         \n\
         [Service]\n\
         ExecStart={SOCKET_PROXYD} --connections-max={PROXYD_CONNECTIONS} {upstream}\n\
         LimitNOFILE={nofile}\n\
         {HARDENING}",
        desc = describe(spec),
        upstream = spec.upstream,
        nofile = PROXYD_CONNECTIONS * 6 + 64,
    );
    ForwarderFiles {
        files: vec![
            Rendered {
                name: format!("{UNIT}.socket"),
                contents: socket,
            },
            Rendered {
                name: format!("{UNIT}.service"),
                contents: service,
            },
        ],
        enable: vec![
            create_user(),
            format!(
                "install -m 0644 forwarder/{UNIT}.socket forwarder/{UNIT}.service /etc/systemd/system/"
            ),
            "systemctl daemon-reload".into(),
            format!("systemctl enable --now {UNIT}.socket"),
        ],
    }
}

/// A forwarder with one entry per port (`entry: per-tenant-port`): every
/// port on `host`, each to the same `upstream`.
pub struct PerPortSpec<'a> {
    pub host: std::net::IpAddr,
    /// Sorted and unique.
    pub ports: &'a [u16],
    pub upstream: SocketAddr,
}

/// The systemd template unit of the socat forwarder with a port per
/// tenant: one instance per port, `vaultnet-forwarder@PORT.service`.
pub const TEMPLATE: &str = "vaultnet-forwarder@.service";

/// The per-port files and the commands that enable every port.
pub fn render_per_port(kind: Forwarder, spec: &PerPortSpec<'_>) -> ForwarderFiles {
    match kind {
        Forwarder::Socat => socat_per_port(spec),
        Forwarder::Nginx => nginx_per_port(spec),
        Forwarder::Haproxy => haproxy_per_port(spec),
        Forwarder::SocketProxyd => socket_proxyd_per_port(spec),
    }
}

/// The commands that enable the entry of one new `port` of `kind`, and
/// those that stop the entry of a port given up (run from the state
/// directory, after the files were rewritten).
pub fn port_commands(kind: Forwarder, port: u16) -> (Vec<String>, Vec<String>) {
    match kind {
        Forwarder::Socat => (
            vec![format!("systemctl enable --now {UNIT}@{port}.service")],
            vec![format!("systemctl disable --now {UNIT}@{port}.service")],
        ),
        Forwarder::SocketProxyd => (
            vec![
                format!(
                    "install -m 0644 forwarder/{UNIT}-{port}.socket forwarder/{UNIT}-{port}.service /etc/systemd/system/"
                ),
                "systemctl daemon-reload".into(),
                format!("systemctl enable --now {UNIT}-{port}.socket"),
            ],
            vec![
                format!("systemctl disable --now {UNIT}-{port}.socket {UNIT}-{port}.service"),
                format!(
                    "rm /etc/systemd/system/{UNIT}-{port}.socket /etc/systemd/system/{UNIT}-{port}.service"
                ),
                "systemctl daemon-reload".into(),
            ],
        ),
        Forwarder::Nginx => {
            let c = vec![
                "install -m 0644 forwarder/vaultnet-stream.conf /etc/nginx/".to_string(),
                "nginx -t && systemctl reload nginx".into(),
            ];
            (c.clone(), c)
        }
        Forwarder::Haproxy => {
            let c: Vec<String> = HAPROXY_PER_PORT.iter().map(|c| c.to_string()).collect();
            (c.clone(), c)
        }
    }
}

/// How HAProxy carries the per-port file: a config file of its own (HAProxy
/// reads every `-f`), replaced whole whenever a port comes or goes, never
/// appended to `haproxy.cfg` twice.
const HAPROXY_PER_PORT: &[&str] = &[
    "install -m 0644 forwarder/vaultnet-haproxy.cfg /etc/haproxy/vaultnet-haproxy.cfg",
    "haproxy -c -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/vaultnet-haproxy.cfg && systemctl reload haproxy    # the service must read both files (`-f` each, e.g. CONFIG in /etc/default/haproxy)",
];

/// Whether `name` is a file the per-port forwarders write for one port
/// (`vaultnet-forwarder-22301.socket`, `….service`).
pub fn is_per_port_file(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(&format!("{UNIT}-")) else {
        return false;
    };
    let port = rest
        .strip_suffix(".socket")
        .or_else(|| rest.strip_suffix(".service"));
    port.is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

fn describe_ports(spec: &PerPortSpec<'_>) -> String {
    format!(
        "vaultnet forwarder, a port per tenant on {} -> Vault {} (TLS passes through)",
        spec.host, spec.upstream
    )
}

fn socat_per_port(spec: &PerPortSpec<'_>) -> ForwarderFiles {
    let listen = SocketAddr::new(spec.host, 1);
    let (listen_kind, bind) = socat_addr("TCP", listen);
    let (up_kind, up_host) = socat_addr("TCP", spec.upstream);
    let unit = format!(
        "# {desc}\n\
         # Install: /etc/systemd/system/{TEMPLATE}; one instance per tenant's port,\n\
         # `systemctl enable --now {UNIT}@PORT.service` (PORT as `vaultnet list` shows).\n\
         [Unit]\n\
         Description=vaultnet forwarder {bind}:%i -> Vault {upstream} (TLS passes through)\n\
         Documentation=man:socat(1)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         ExecStart=/usr/bin/socat {listen_kind}-LISTEN:%i,bind={bind},reuseaddr,fork,backlog={BACKLOG} {up_kind}:{up_host}:{up_port}\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         {HARDENING}\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        desc = describe_ports(spec),
        upstream = spec.upstream,
        up_port = spec.upstream.port(),
    );
    let mut enable = vec![
        create_user(),
        format!("install -m 0644 forwarder/{TEMPLATE} /etc/systemd/system/"),
        "systemctl daemon-reload".into(),
    ];
    enable.extend(
        spec.ports
            .iter()
            .map(|p| format!("systemctl enable --now {UNIT}@{p}.service")),
    );
    ForwarderFiles {
        files: vec![Rendered {
            name: TEMPLATE.into(),
            contents: unit,
        }],
        enable,
    }
}

fn nginx_per_port(spec: &PerPortSpec<'_>) -> ForwarderFiles {
    let servers: String = spec
        .ports
        .iter()
        .map(|p| {
            format!(
                "\x20   server {{\n\
                 \x20       listen {listen} backlog={BACKLOG};\n\
                 \x20       proxy_pass {upstream};\n\
                 \x20       proxy_connect_timeout 5s;\n\
                 \x20       proxy_timeout 1h;\n\
                 \x20   }}\n",
                listen = SocketAddr::new(spec.host, *p),
                upstream = spec.upstream,
            )
        })
        .collect();
    let conf = format!(
        "# {desc}\n\
         # Needs the stream module (Debian: libnginx-mod-stream). Include this file at\n\
         # the top level of nginx.conf, outside `http {{}}`:\n\
         #   include /etc/nginx/vaultnet-stream.conf;\n\
         # One `server` per tenant's port, rewritten by `vaultnet add-user` and\n\
         # `remove-user`; agents keep connections open, hence `proxy_timeout 1h`.\n\
         stream {{\n\
         {servers}\
         }}\n",
        desc = describe_ports(spec),
    );
    one_file(
        "vaultnet-stream.conf",
        conf,
        &[
            "install -m 0644 forwarder/vaultnet-stream.conf /etc/nginx/",
            "grep -q vaultnet-stream.conf /etc/nginx/nginx.conf || echo 'include /etc/nginx/vaultnet-stream.conf;' >> /etc/nginx/nginx.conf",
            "nginx -t && systemctl reload nginx",
        ],
    )
}

fn haproxy_per_port(spec: &PerPortSpec<'_>) -> ForwarderFiles {
    let frontends: String = spec
        .ports
        .iter()
        .map(|p| {
            format!(
                "frontend vaultnet_{p}\n\
                 \x20   mode tcp\n\
                 \x20   bind {listen}\n\
                 \x20   maxconn {BACKLOG}\n\
                 \x20   backlog {BACKLOG}\n\
                 \x20   timeout client 1h\n\
                 \x20   default_backend vaultnet_vault\n\
                 \n",
                listen = SocketAddr::new(spec.host, *p),
            )
        })
        .collect();
    let conf = format!(
        "# {desc}\n\
         # Install as /etc/haproxy/vaultnet-haproxy.cfg and pass it as an extra `-f`\n\
         # file: one frontend per tenant's port, rewritten whole by `vaultnet\n\
         # add-user` and `remove-user`.\n\
         {frontends}\
         backend vaultnet_vault\n\
         \x20   mode tcp\n\
         \x20   timeout connect 5s\n\
         \x20   timeout server 1h\n\
         \x20   server vault {upstream}\n",
        desc = describe_ports(spec),
        upstream = spec.upstream,
    );
    one_file("vaultnet-haproxy.cfg", conf, HAPROXY_PER_PORT)
}

fn socket_proxyd_per_port(spec: &PerPortSpec<'_>) -> ForwarderFiles {
    let mut files = Vec::new();
    let mut enable = vec![create_user()];
    for p in spec.ports {
        let one = socket_proxyd(&ForwarderSpec {
            listen: SocketAddr::new(spec.host, *p),
            upstream: spec.upstream,
            cluster: None,
        });
        let name = format!("{UNIT}-{p}");
        for f in one.files {
            files.push(Rendered {
                name: f.name.replacen(UNIT, &name, 1),
                contents: f.contents.replace(UNIT, &name),
            });
        }
        enable.push(format!(
            "install -m 0644 forwarder/{name}.socket forwarder/{name}.service /etc/systemd/system/"
        ));
    }
    enable.push("systemctl daemon-reload".into());
    enable.extend(
        spec.ports
            .iter()
            .map(|p| format!("systemctl enable --now {UNIT}-{p}.socket")),
    );
    ForwarderFiles { files, enable }
}

/// The fix when nothing listens on a tenant's own `port`.
pub fn start_hint_port(kind: Forwarder, port: u16) -> String {
    match kind {
        Forwarder::Socat => format!("start the forwarder's entry for the port: `systemctl enable --now {UNIT}@{port}.service`"),
        Forwarder::SocketProxyd => format!("start the forwarder's entry for the port: `systemctl enable --now {UNIT}-{port}.socket` (install its files from `forwarder/` first)"),
        Forwarder::Nginx => "reinstall `forwarder/vaultnet-stream.conf` (it has a server per port), then `nginx -t && systemctl reload nginx`".into(),
        Forwarder::Haproxy => "put `forwarder/vaultnet-haproxy.cfg` (a frontend per port) in HAProxy's config, then `haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy`".into(),
    }
}

/// The fix when nothing listens where the forwarder should.
pub fn start_hint(kind: Forwarder) -> String {
    match kind {
        Forwarder::Socat => format!("start the forwarder: `systemctl enable --now {UNIT}.service`"),
        Forwarder::SocketProxyd => format!("start the forwarder: `systemctl enable --now {UNIT}.socket`"),
        Forwarder::Nginx => "install `forwarder/vaultnet-stream.conf` as `vaultnet init` printed, then `nginx -t && systemctl reload nginx`".into(),
        Forwarder::Haproxy => "add `forwarder/vaultnet-haproxy.cfg` to HAProxy's config, then `haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy`".into(),
    }
}

/// The `ExecStart=` command line of a systemd unit, split on spaces (the
/// units vaultnet writes have no quoting).
pub fn exec_start(unit: &str) -> Option<Vec<String>> {
    unit.lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .map(|cmd| cmd.split_whitespace().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ForwarderSpec {
        ForwarderSpec {
            listen: "10.9.0.1:22300".parse().unwrap(),
            upstream: "127.0.0.1:8200".parse().unwrap(),
            cluster: None,
        }
    }

    #[test]
    fn haproxy_for_a_cluster_checks_every_node_over_mtls_and_wants_200() {
        let mut s = spec();
        s.cluster = Some(ClusterCheck {
            nodes: vec![
                ("bao1".into(), "127.0.0.1:8200".parse().unwrap()),
                ("bao2".into(), "127.0.0.2:8200".parse().unwrap()),
            ],
            ca_file: "/s/pki/trust.pem".into(),
            identity_file: "/s/forwarder/check-key.pem".into(),
        });
        let c = &render(Forwarder::Haproxy, &s).files[0].contents;
        assert_eq!(c.matches("mode tcp").count(), 2);
        assert!(c.contains("bind 10.9.0.1:22300"));
        // The same room for a burst of connections as one server's.
        assert!(c.contains("\n    maxconn 4096\n    backlog 4096\n"), "{c}");
        assert!(c.contains("\n    option httpchk\n"));
        assert!(c.contains("\n    http-check send meth GET uri /v1/sys/health\n"));
        assert!(c.contains("\n    http-check expect status 200\n"));
        assert!(c.contains(
            "default-server check check-ssl verify required ca-file /s/pki/trust.pem crt /s/forwarder/check-key.pem "
        ));
        assert!(c.ends_with("    server bao1 127.0.0.1:8200\n    server bao2 127.0.0.2:8200\n"));
        assert!(!c.contains("server vault "));
    }

    #[test]
    fn only_plain_absolute_paths_go_into_haproxys_config() {
        assert!(haproxy_path_ok(std::path::Path::new(
            "/tmp/a-b/c_d.e+f@g/x.pem"
        )));
        for bad in ["rel/x.pem", "/a b/x.pem", "/a#b", "/a\"b", "/a$b", "/a\\b"] {
            assert!(!haproxy_path_ok(std::path::Path::new(bad)), "{bad}");
        }
    }

    #[test]
    fn socat_unit_listens_on_the_host_address_and_forwards_to_vault() {
        let f = render(Forwarder::Socat, &spec());
        assert_eq!(f.files.len(), 1);
        let cmd = exec_start(&f.files[0].contents).unwrap();
        assert_eq!(
            cmd,
            [
                "/usr/bin/socat",
                "TCP4-LISTEN:22300,bind=10.9.0.1,reuseaddr,fork,backlog=4096",
                "TCP4:127.0.0.1:8200"
            ]
        );
        assert!(
            f.files[0]
                .contents
                .contains(&format!("\nUser={USER}\nGroup={USER}\n"))
        );
        assert!(!f.files[0].contents.contains("DynamicUser"));
        assert!(f.enable[0].contains("useradd --system"));
    }

    #[test]
    fn socat_speaks_ipv6_with_brackets() {
        let f = render(
            Forwarder::Socat,
            &ForwarderSpec {
                listen: "[fd00::1]:22300".parse().unwrap(),
                upstream: "[::1]:8200".parse().unwrap(),
                cluster: None,
            },
        );
        let cmd = exec_start(&f.files[0].contents).unwrap();
        assert_eq!(
            cmd[1],
            "TCP6-LISTEN:22300,bind=[fd00::1],reuseaddr,fork,backlog=4096"
        );
        assert_eq!(cmd[2], "TCP6:[::1]:8200");
    }

    #[test]
    fn nginx_is_a_stream_server_not_http() {
        let f = render(Forwarder::Nginx, &spec());
        let c = &f.files[0].contents;
        assert!(c.contains("stream {"));
        assert!(c.contains("listen 10.9.0.1:22300 backlog=4096;"));
        assert!(c.contains("proxy_pass 127.0.0.1:8200;"));
        assert!(!c.contains("ssl"), "TLS must pass through: {c}");
    }

    #[test]
    fn haproxy_is_tcp_mode_both_ends() {
        let c = &render(Forwarder::Haproxy, &spec()).files[0].contents;
        assert_eq!(c.matches("mode tcp").count(), 2);
        assert!(c.contains("bind 10.9.0.1:22300"));
        assert!(c.contains("server vault 127.0.0.1:8200"));
        assert!(c.contains("\n    maxconn 4096\n    backlog 4096\n"), "{c}");
    }

    #[test]
    fn socket_proxyd_is_a_socket_and_a_service() {
        let f = render(Forwarder::SocketProxyd, &spec());
        let names: Vec<_> = f.files.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["vaultnet-forwarder.socket", "vaultnet-forwarder.service"]
        );
        assert!(
            f.files[0]
                .contents
                .contains("ListenStream=10.9.0.1:22300\nBacklog=4096\n")
        );
        assert_eq!(
            exec_start(&f.files[1].contents).unwrap(),
            [SOCKET_PROXYD, "--connections-max=4096", "127.0.0.1:8200"]
        );
        assert!(f.files[1].contents.contains("\nLimitNOFILE=24640\n"));
    }

    fn per_port(kind: Forwarder, ports: &[u16]) -> ForwarderFiles {
        render_per_port(
            kind,
            &PerPortSpec {
                host: "10.9.0.1".parse().unwrap(),
                ports,
                upstream: "127.0.0.1:8200".parse().unwrap(),
            },
        )
    }

    #[test]
    fn socat_per_port_is_one_template_and_one_instance_per_port() {
        let f = per_port(Forwarder::Socat, &[22301, 22302]);
        assert_eq!(f.files.len(), 1);
        assert_eq!(f.files[0].name, "vaultnet-forwarder@.service");
        assert_eq!(
            exec_start(&f.files[0].contents).unwrap(),
            [
                "/usr/bin/socat",
                "TCP4-LISTEN:%i,bind=10.9.0.1,reuseaddr,fork,backlog=4096",
                "TCP4:127.0.0.1:8200"
            ]
        );
        assert!(f.files[0].contents.contains(&format!("\nUser={USER}\n")));
        assert_eq!(
            f.enable[1..],
            [
                "install -m 0644 forwarder/vaultnet-forwarder@.service /etc/systemd/system/",
                "systemctl daemon-reload",
                "systemctl enable --now vaultnet-forwarder@22301.service",
                "systemctl enable --now vaultnet-forwarder@22302.service",
            ]
        );
        // The unit does not depend on the ports: adding one rewrites nothing.
        assert_eq!(per_port(Forwarder::Socat, &[]).files, f.files);
    }

    #[test]
    fn nginx_and_haproxy_per_port_have_one_listener_per_port_to_vault() {
        let c = &per_port(Forwarder::Nginx, &[22301, 22302]).files[0].contents;
        assert_eq!(c.matches("server {").count(), 2, "{c}");
        assert!(c.contains("listen 10.9.0.1:22301 backlog=4096;"));
        assert!(c.contains("listen 10.9.0.1:22302 backlog=4096;"));
        assert_eq!(c.matches("proxy_pass 127.0.0.1:8200;").count(), 2);
        assert!(!c.contains("ssl"), "TLS must pass through: {c}");
        let none = &per_port(Forwarder::Nginx, &[]).files[0].contents;
        assert!(none.ends_with("stream {\n}\n"), "{none}");

        let c = &per_port(Forwarder::Haproxy, &[22301, 22302]).files[0].contents;
        assert!(c.contains("frontend vaultnet_22301\n    mode tcp\n    bind 10.9.0.1:22301\n"));
        assert!(c.contains("frontend vaultnet_22302\n    mode tcp\n    bind 10.9.0.1:22302\n"));
        assert_eq!(c.matches("default_backend vaultnet_vault").count(), 2);
        assert_eq!(c.matches("\nbackend vaultnet_vault\n").count(), 1);
        assert!(c.contains("server vault 127.0.0.1:8200"));
    }

    #[test]
    fn socket_proxyd_per_port_is_a_socket_and_a_service_per_port() {
        let f = per_port(Forwarder::SocketProxyd, &[22301, 22302]);
        let names: Vec<_> = f.files.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vaultnet-forwarder-22301.socket",
                "vaultnet-forwarder-22301.service",
                "vaultnet-forwarder-22302.socket",
                "vaultnet-forwarder-22302.service",
            ]
        );
        assert!(
            f.files[2]
                .contents
                .contains("ListenStream=10.9.0.1:22302\n")
        );
        // Each socket starts its own service.
        assert!(
            f.files[3]
                .contents
                .contains("Requires=vaultnet-forwarder-22302.socket\n")
        );
        assert_eq!(
            exec_start(&f.files[3].contents).unwrap(),
            [SOCKET_PROXYD, "--connections-max=4096", "127.0.0.1:8200"]
        );
        assert!(
            f.enable
                .contains(&"systemctl enable --now vaultnet-forwarder-22302.socket".to_string())
        );
        assert!(names.iter().all(|n| is_per_port_file(n)));
        for not in [
            "vaultnet-forwarder.socket",
            "vaultnet-forwarder-.socket",
            "vaultnet-forwarder-70000.service",
            "vaultnet-forwarder-1.conf",
        ] {
            assert!(!is_per_port_file(not), "{not}");
        }
    }
}
