//! `init`'s work, as phases: the settings that changed, the PKI (CA,
//! server and operator certificates), Vault's listener stanza, the state,
//! the host files, and the Vault bootstrap (AppRole, KV v2). Safe to re-run:
//! what is right is kept, what is wrong is replaced and says why.

use std::path::Path;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Change, Observer, Outcome, file_outcome};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::pki::{self, Ca, CertInfo, Issued, Usage, Verdict, Wanted};
use crate::render::listener::{self, ListenerSpec};
use crate::render::raft;
use crate::secret::Secret;
use crate::state::validate::show_duration;
use crate::state::{STATE_FILE, Site, State};
use crate::sys::fsx::{self, MAX_PEM_BYTES};
use crate::topology::{HostFiles, Topology};
use crate::vault::Health;
use crate::vault::ops;

/// Everything one `init` run is asked to do.
pub struct SiteRun<'a> {
    pub layout: &'a Layout,
    /// The state before this run, read under the lock.
    pub previous: Option<State>,
    pub site: Site,
    /// Replace the CA and every certificate.
    pub force: bool,
    pub token: Option<Secret>,
    pub timeout: Duration,
    /// `--cluster-ca`: the CAs of the cluster this site joins, checked.
    pub cluster_ca: Option<String>,
}

/// What `init` did, for its summary.
pub struct SiteReport {
    pub outcomes: Vec<Outcome>,
    /// Things the operator should know (stale bundles, a new CA).
    pub notes: Vec<String>,
    /// What is left to do before tenants can be added.
    pub pending: Vec<String>,
    pub host: HostFiles,
}

impl SiteReport {
    pub fn changed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.changed()).count()
    }
    pub fn kept(&self) -> usize {
        self.outcomes.len() - self.changed()
    }
}

/// Settings that tenant bundles carry: changing one leaves them stale.
const IN_BUNDLES: &[&str] = &[
    "profile",
    "dns-name",
    "host-ip",
    "port",
    "agent-image",
    "flavor",
    "kv-mount",
    "tenant-prefix",
];

/// Settings every bundle carries whatever its endpoint: a change of one
/// leaves every bundle stale.
const IN_EVERY_BUNDLE: &[&str] = &[
    "dns-name",
    "agent-image",
    "flavor",
    "kv-mount",
    "tenant-prefix",
];

/// The tenants whose bundles the next `add-user` would write otherwise:
/// every one when a setting all bundles carry changed, else those whose
/// endpoint moves (the URL, the name, the `extra_hosts` entry or the
/// host's address the CLI connects to — a new profile, address or port). A mapping the tenant's Podman chose or a
/// flag set stays; one that was the site's follows the new profile.
fn stale_bundles<'a>(
    prev: &'a State,
    site: &Site,
    diff: &[(&str, String, String)],
) -> Vec<&'a str> {
    let every = diff.iter().any(|(w, _, _)| IN_EVERY_BUNDLE.contains(w));
    let (old, new) = (Topology::new(&prev.site).ok(), Topology::new(site).ok());
    prev.tenants
        .iter()
        .filter(|(n, t)| {
            every
                || match (&old, &new) {
                    (Some(o), Some(w)) => {
                        let mapping = t
                            .network
                            .as_ref()
                            .filter(|m| m.source != crate::state::MappingSource::Site)
                            .map(|m| m.mapping);
                        let (a, b) = (o.tenant_endpoint(n, t), w.endpoint_mapped(t.port, mapping));
                        // `connect` is `cli.env`'s address.
                        (a.url, a.name, a.extra_host, a.connect)
                            != (b.url, b.name, b.extra_host, b.connect)
                    }
                    _ => true,
                }
        })
        .map(|(n, _)| n.as_str())
        .collect()
}

/// Runs every phase, telling `observe` each outcome as it happens. (Long:
/// it is the list of phases, in order; each is a call.)
pub fn converge(run: SiteRun<'_>, observe: Observer<'_>) -> Result<SiteReport> {
    let layout = run.layout;
    let now = OffsetDateTime::now_utc();
    let mut rec = Recorder {
        observe,
        outcomes: Vec::new(),
    };
    let mut notes = Vec::new();
    for d in [
        layout.pki(),
        layout.vault(),
        layout.operator(),
        layout.forwarder(),
        layout.renew(),
        layout.tenants(),
    ] {
        fsx::private_dir(&d)?;
    }
    let owned = run.site.cluster.iter().filter(|c| !c.joined);
    for n in owned.flat_map(|c| &c.nodes) {
        fsx::private_dir(&layout.node(&n.name))?;
    }
    if let Some(o) = write_cluster_ca(layout, &run.site, run.cluster_ca.as_deref())? {
        rec.emit(o);
    }
    if let Some(prev) = &run.previous {
        let diff = site_diff(&prev.site, &run.site);
        for (what, old, new) in &diff {
            let text = format!("setting {what}: {old} -> {new}");
            rec.emit(Outcome::new(Change::Repaired, text));
        }
        if diff.iter().any(|(w, _, _)| IN_BUNDLES.contains(w)) {
            let names = stale_bundles(prev, &run.site, &diff);
            if !names.is_empty() {
                notes.push(format!(
                    "the bundles of {} hold the old settings: run `vaultnet add-user {}` to rewrite them",
                    names.join(", "),
                    names.join(" ")
                ));
            }
        }
    }
    let mut previous_ca = run.previous.as_ref().and_then(|p| p.previous_ca.clone());
    let ca_replaced = pki_phase(
        layout,
        &run.site,
        run.force,
        now,
        &mut previous_ca,
        &mut rec,
    )?;
    for o in write_listener(layout, &run.site)? {
        rec.emit(o);
    }

    let previous_kv_mount = run.previous.as_ref().map(|p| p.site.kv_mount.clone());
    let mut state = run.previous.unwrap_or_else(|| State::new(run.site.clone()));
    state.site = run.site.clone();
    state.previous_ca = previous_ca;
    if crate::store::save(&layout.root, &state)? != fsx::Change::Unchanged {
        rec.emit(Outcome::new(
            Change::Created,
            format!("wrote `{STATE_FILE}`"),
        ));
    }
    // The gate exists from the start: even with no tenant yet it keeps
    // Vault's loopback port and the forwarder port from strangers.
    let (host, written) = super::host::write(layout, &state)?;
    for (_, o) in super::host::outcomes(layout, &written) {
        rec.emit(o);
    }
    for o in schedule(layout)? {
        rec.emit(o);
    }
    if ca_replaced && !state.tenants.is_empty() {
        notes.push(format!(
            "the new CA does not know the certificates of {} tenant(s): re-add them with `vaultnet add-user --rotate NAME`",
            state.tenants.len()
        ));
    }

    let pending = match bootstrap(
        layout,
        &run.site,
        run.token,
        run.timeout,
        &mut rec,
        &mut notes,
    ) {
        Ok(p) => p,
        Err(e) => {
            // A mount Vault refused must not stick: the next plain `init`
            // goes back to the one that worked.
            if let Some(old) = previous_kv_mount.filter(|m| *m != run.site.kv_mount) {
                state.site.kv_mount = old;
                crate::store::save(&layout.root, &state)?;
            }
            return Err(e);
        }
    };
    Ok(SiteReport {
        outcomes: rec.outcomes,
        notes,
        pending,
        host,
    })
}

/// The PKI: the CA and the next one, then the server and operator
/// certificates (reissued when the CA is new or `--force`), then the CAs
/// trusted now. Returns whether the CA is new.
fn pki_phase(
    layout: &Layout,
    site: &Site,
    force: bool,
    now: OffsetDateTime,
    previous_ca: &mut Option<crate::state::PreviousCa>,
    rec: &mut Recorder<'_>,
) -> Result<bool> {
    let (ca, ca_outcome) = super::ca::ensure_current(layout, force, now)?;
    // (A repaired `pki/ca.pem` is the same CA: nothing to reissue.)
    let ca_replaced = matches!(ca_outcome.change, Change::Created | Change::Replaced);
    let reissue = force || ca_replaced;
    rec.emit(ca_outcome);
    rec.emit(super::ca::ensure_next(layout, &ca, ca_replaced, now)?);
    for o in leaves(layout, &ca, site, reissue, now)?.outcomes {
        rec.emit(o);
    }
    // A new CA starts over: the CA it replaced is trusted no more.
    if ca_replaced {
        *previous_ca = None;
    }
    for o in super::ca::ensure_trust(layout, site, previous_ca, now)? {
        rec.emit(o);
    }
    Ok(ca_replaced)
}

/// The site's leaves, as `leaves` kept or issued them.
pub struct Leaves {
    /// In the order they are reported: the server's (each node's, with
    /// its join certificate, then HAProxy's health-check certificate, in
    /// a cluster), then the operator's.
    pub outcomes: Vec<Outcome>,
    /// The servers whose certificate is new: `None` is the one server of
    /// a site without a cluster, else a node's name.
    pub new_servers: Vec<Option<String>>,
    /// Whether the health-check certificate is new (HAProxy reads it only
    /// when it starts or reloads).
    pub new_check: bool,
}

/// The server and operator certificates — in a cluster each node's server
/// and join certificates and HAProxy's health-check certificate instead
/// of the one server's: each kept while the one assessment keeps it
/// (unless `reissue`), else issued anew.
pub fn leaves(
    layout: &Layout,
    ca: &Ca,
    site: &Site,
    reissue: bool,
    now: OffsetDateTime,
) -> Result<Leaves> {
    let topology = Topology::new(site)?;
    let mut out = Leaves {
        outcomes: Vec::new(),
        new_servers: Vec::new(),
        new_check: false,
    };
    let ttl = secs(site.server_cert_ttl);
    let servers: Vec<(Option<String>, Sans)> = match &site.cluster {
        None => vec![(None, topology.server_sans())],
        // The site that runs the cluster issued its nodes' certificates.
        Some(c) if c.joined => Vec::new(),
        Some(c) => c
            .nodes
            .iter()
            .map(|n| (Some(n.name.clone()), topology.node_sans(n)))
            .collect(),
    };
    for (node, (dns, ips)) in &servers {
        let (cert, key) = match node {
            None => (layout.server_cert(), layout.server_key()),
            Some(n) => (layout.node_server_cert(n), layout.node_server_key(n)),
        };
        let server = Leaf {
            what: "Vault server certificate",
            cert,
            key,
            want: Wanted {
                usage: Usage::Server,
                common_name: None,
                dns: Some(dns),
                ips: Some(ips),
            },
        };
        let o = ensure_leaf(layout, ca, &server, reissue, now, || {
            ca.issue_server(dns, ips, ttl, now)
        })?;
        if o.changed() {
            out.new_servers.push(node.clone());
        }
        out.outcomes.push(o);
        if let Some(n) = node {
            let cn = join_cn(n);
            let join = client_leaf(
                "join certificate",
                layout.node_join_cert(n),
                layout.node_join_key(n),
                &cn,
            );
            out.outcomes
                .push(ensure_leaf(layout, ca, &join, reissue, now, || {
                    ca.issue_client(&cn, ttl, now)
                })?);
        }
    }
    if site.cluster.is_some() {
        let check = client_leaf(
            "health-check certificate",
            layout.check_cert(),
            layout.check_key(),
            CHECK_CN,
        );
        let o = ensure_leaf(layout, ca, &check, reissue, now, || {
            ca.issue_client(CHECK_CN, ttl, now)
        })?;
        out.new_check = o.changed();
        out.outcomes.push(o);
    }
    let operator = client_leaf(
        "operator certificate",
        layout.operator_cert(),
        layout.operator_key(),
        OPERATOR_CN,
    );
    out.outcomes
        .push(ensure_leaf(layout, ca, &operator, reissue, now, || {
            ca.issue_client(OPERATOR_CN, OPERATOR_LIFETIME, now)
        })?);
    Ok(out)
}

/// A server certificate's DNS names and addresses.
type Sans = (Vec<String>, Vec<std::net::IpAddr>);

/// A client certificate of the site: clientAuth, CN = `cn`.
fn client_leaf<'a>(
    what: &'static str,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    cn: &'a str,
) -> Leaf<'a> {
    Leaf {
        what,
        cert,
        key,
        want: Wanted {
            usage: Usage::Client,
            common_name: Some(cn),
            dns: None,
            ips: None,
        },
    }
}

/// The common name of the client certificate node `node` joins its peers
/// with.
pub fn join_cn(node: &str) -> String {
    format!("vaultnet-join-{node}")
}

/// The common name of HAProxy's health-check certificate.
pub const CHECK_CN: &str = "vaultnet-forwarder-check";

/// Tells the observer each outcome and keeps it for the report.
struct Recorder<'f> {
    observe: Observer<'f>,
    outcomes: Vec<Outcome>,
}

impl Recorder<'_> {
    fn emit(&mut self, o: Outcome) {
        (self.observe)(&o);
        self.outcomes.push(o);
    }
}

pub const OPERATOR_CN: &str = "vaultnet-operator";
const OPERATOR_LIFETIME: time::Duration = time::Duration::days(365);

/// Seconds as a certificate lifetime (validated lifetimes fit).
pub fn secs(s: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

fn site_diff(old: &Site, new: &Site) -> Vec<(&'static str, String, String)> {
    let reload = |s: &Site| {
        s.vault_reload
            .as_ref()
            .map_or("(none)".into(), ToString::to_string)
    };
    let nodes = |s: &Site| {
        s.cluster.as_ref().map_or("(none)".into(), |c| {
            c.nodes
                .iter()
                .map(|n| format!("{}={}", n.name, n.addr))
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    let raft_dir = |s: &Site| {
        s.cluster
            .as_ref()
            .map_or("(none)".into(), |c| c.raft_dir.display().to_string())
    };
    let cidrs = |v: &[crate::state::cidr::Cidr]| -> Vec<String> {
        v.iter().map(ToString::to_string).collect()
    };
    let iface = |s: &Site| {
        s.ingress_interface
            .clone()
            .unwrap_or_else(|| "(none)".into())
    };
    let pairs: [(&'static str, String, String); 18] = [
        ("auth", old.auth.to_string(), new.auth.to_string()),
        ("profile", old.profile.clone(), new.profile.clone()),
        ("dns-name", old.dns_name.clone(), new.dns_name.clone()),
        ("host-ip", old.host_ip.to_string(), new.host_ip.to_string()),
        ("port", old.port.to_string(), new.port.to_string()),
        (
            "vault-listen",
            old.vault_addr.to_string(),
            new.vault_addr.to_string(),
        ),
        (
            "forwarder",
            old.forwarder.to_string(),
            new.forwarder.to_string(),
        ),
        ("flavor", old.flavor.to_string(), new.flavor.to_string()),
        (
            "agent-image",
            old.agent_image.clone(),
            new.agent_image.clone(),
        ),
        ("kv-mount", old.kv_mount.clone(), new.kv_mount.clone()),
        (
            "tenant-prefix",
            old.tenant_prefix.clone(),
            new.tenant_prefix.clone(),
        ),
        (
            "server-cert-ttl",
            show_duration(old.server_cert_ttl),
            show_duration(new.server_cert_ttl),
        ),
        ("vault-reload", reload(old), reload(new)),
        (
            "vault-clients",
            show_list(&old.vault_clients),
            show_list(&new.vault_clients),
        ),
        (
            "allow-cidrs",
            show_list(&cidrs(&old.allow_cidrs)),
            show_list(&cidrs(&new.allow_cidrs)),
        ),
        ("vault-nodes", nodes(old), nodes(new)),
        ("raft-dir", raft_dir(old), raft_dir(new)),
        ("ingress-interface", iface(old), iface(new)),
    ];
    pairs.into_iter().filter(|(_, a, b)| a != b).collect()
}

fn show_list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn read_pem(path: &Path) -> Result<Option<String>> {
    fsx::read_limited(path, MAX_PEM_BYTES)?
        .map(|b| {
            String::from_utf8(b)
                .map_err(|_| Error::failed(format!("`{}` is not PEM text", path.display())))
        })
        .transpose()
}

fn read_key(path: &Path) -> Result<Option<zeroize::Zeroizing<String>>> {
    Ok(fsx::read_secret(path, MAX_PEM_BYTES)?
        .map(|b| zeroize::Zeroizing::new(String::from_utf8_lossy(&b).into_owned())))
}

/// Writes the key with its certificate as one file, then the certificate
/// alone beside it (for people and tools that want only the certificate),
/// each atomically: a reader of the key file never sees a torn pair.
pub(crate) fn write_pair(cert: &Path, key: &Path, issued: &Issued) -> Result<()> {
    let mut batch = fsx::Batch::default();
    batch.write_atomic(key, issued.identity_pem().as_bytes(), fsx::SECRET)?;
    batch.write_atomic(cert, issued.cert_pem.as_bytes(), fsx::PUBLIC)?;
    batch.finish()
}

/// A leaf certificate of the site and what it must be.
struct Leaf<'a> {
    what: &'static str,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    want: Wanted<'a>,
}

/// Keeps a leaf the one assessment ([`pki::assess`]) keeps; otherwise
/// issues a new one and says why. The key file holds the key and its
/// certificate ([`Issued::identity_pem`]); a key file written before that
/// gets its certificate joined to it.
fn ensure_leaf(
    layout: &Layout,
    ca: &Ca,
    leaf: &Leaf<'_>,
    reissue: bool,
    now: OffsetDateTime,
    issue: impl FnOnce() -> Result<Issued>,
) -> Result<Outcome> {
    let rel = layout.rel(&leaf.cert).into_owned();
    let what = leaf.what;
    let (cert, key) = (read_pem(&leaf.cert)?, read_key(&leaf.key)?);
    let joined = key.as_deref().is_some_and(|k| pki::has_certificate(k));
    let cert = match (&key, joined) {
        // The certificate alone: the key stays in zeroised memory.
        (Some(k), true) => Some(pki::cert_only(k)?),
        _ => cert,
    };
    let reason = match (cert, key) {
        (Some(_), Some(_)) if reissue => Some("`--force` or a new CA".to_string()),
        (Some(c), Some(k)) => {
            let ca_info = CertInfo::parse(&ca.cert_pem)?;
            match pki::assess(&c, &k, &ca_info, now, &leaf.want) {
                (Verdict::Keep, Some(info)) => {
                    let text = format!(
                        "kept {what} `{rel}` (expires {})",
                        pki::when(info.not_after, now)
                    );
                    if !joined {
                        let mut id = zeroize::Zeroizing::new(k.to_string());
                        id.push_str(&c);
                        fsx::write_atomic(&leaf.key, id.as_bytes(), fsx::SECRET)?;
                        let text = format!(
                            "joined {what} `{rel}` to its key in `{}`, so the pair is read as one",
                            layout.rel(&leaf.key)
                        );
                        return Ok(Outcome::new(Change::Repaired, text));
                    }
                    fsx::write_if_changed(&leaf.cert, pki::cert_only(&c)?.as_bytes(), fsx::PUBLIC)?;
                    return Ok(Outcome::new(Change::Kept, text));
                }
                (Verdict::Keep, None) => None,
                (Verdict::Renew(why) | Verdict::Replace(why), _) => Some(why),
            }
        }
        (None, None) => None,
        _ => Some("its certificate or key is missing".to_string()),
    };
    let issued = issue()?;
    write_pair(&leaf.cert, &leaf.key, &issued)?;
    Ok(match reason {
        None => Outcome::new(
            Change::Created,
            format!(
                "created {what} `{rel}` (expires {})",
                pki::when(issued.not_after, now)
            ),
        ),
        Some(why) => Outcome::new(
            Change::Replaced,
            format!(
                "replaced {what} `{rel}` because {why} (new serial {}, expires {})",
                issued.serial,
                pki::when(issued.not_after, now)
            ),
        ),
    })
}

/// The daily `vaultnet renew` timer and its service, naming this binary
/// and this state directory.
fn schedule(layout: &Layout) -> Result<Vec<Outcome>> {
    use crate::render::schedule;
    let binary = std::env::current_exe()
        .map_err(|e| Error::failed(format!("cannot tell where vaultnet runs from: {e}")))?;
    let dir = layout.renew();
    let mut out = Vec::new();
    for (name, text) in [
        (schedule::SERVICE, schedule::service(&binary, &layout.root)),
        (schedule::TIMER, schedule::timer()),
    ] {
        let path = dir.join(name);
        let change = fsx::write_if_changed(&path, text.as_bytes(), fsx::PUBLIC)?;
        out.extend(file_outcome(&layout.rel(&path), change));
    }
    Ok(out)
}

/// The cluster's CAs (`pki/cluster-ca.pem`) of a site that joined
/// another site's cluster: what it verifies the nodes by, in place of its
/// own CAs. Written from `--cluster-ca`; kept as it is without it.
fn write_cluster_ca(layout: &Layout, site: &Site, given: Option<&str>) -> Result<Option<Outcome>> {
    if !site.cluster.as_ref().is_some_and(|c| c.joined) {
        return Ok(None);
    }
    let path = layout.cluster_ca();
    match given {
        Some(pem) => Ok(file_outcome(
            &layout.rel(&path),
            fsx::write_if_changed(&path, pem.as_bytes(), fsx::PUBLIC)?,
        )),
        None if path.exists() => Ok(None),
        None => Err(Error::usage(format!(
            "`{}` is missing: this site joined another site's cluster",
            layout.rel(&path)
        ))
        .hint("pass that site's `pki/trust.pem` again with `--cluster-ca FILE`")),
    }
}

pub(crate) fn write_listener(layout: &Layout, site: &Site) -> Result<Vec<Outcome>> {
    let Some(cluster) = &site.cluster else {
        let path = layout.listener();
        let addresses = Topology::new(site)?.vault_listeners();
        return write_listener_for(
            layout,
            &addresses,
            &layout.server_key(),
            &layout.trust(),
            &path,
        );
    };
    if cluster.joined {
        return Ok(Vec::new());
    }
    // Other sites' tenants log in too: their CAs beside this site's.
    let client_ca = if cluster.sites.is_empty() {
        layout.trust()
    } else {
        layout.clients()
    };
    let mut out = Vec::new();
    let peers: Vec<raft::Peer> = cluster
        .nodes
        .iter()
        .map(|n| raft::Peer { api_addr: n.url() })
        .collect();
    for n in &cluster.nodes {
        let path = layout.node_listener(&n.name);
        out.extend(write_listener_for(
            layout,
            &[n.addr],
            &layout.node_server_key(&n.name),
            &client_ca,
            &path,
        )?);
        let text = raft::render(&raft::RaftSpec {
            node_id: &n.name,
            path: &cluster.raft_path(n),
            api_addr: n.addr,
            cluster_addr: n.cluster_addr(),
            peers: &peers,
            ca_file: &layout.trust(),
            join_identity: &layout.node_join_key(&n.name),
        });
        let path = layout.node_raft(&n.name);
        let change = fsx::write_if_changed(&path, text.as_bytes(), fsx::PUBLIC)?;
        out.extend(file_outcome(&layout.rel(&path), change));
    }
    Ok(out)
}

fn write_listener_for(
    layout: &Layout,
    addresses: &[std::net::SocketAddr],
    server_key: &Path,
    client_ca_file: &Path,
    path: &Path,
) -> Result<Vec<Outcome>> {
    let text = listener::render(&ListenerSpec {
        addresses,
        // The key file holds the certificate too: Vault reloads the pair on
        // SIGHUP from one file, never a torn one.
        cert_file: server_key,
        key_file: server_key,
        // Every CA trusted now, the next one included: Vault reads this
        // file only when it starts.
        client_ca_file,
    });
    let change = fsx::write_if_changed(path, text.as_bytes(), fsx::PUBLIC)?;
    Ok(file_outcome(&layout.rel(path), change)
        .into_iter()
        .collect())
}

/// Enables AppRole and KV v2 when Vault answers; returns what is left to do.
fn bootstrap(
    layout: &Layout,
    site: &Site,
    token: Option<Secret>,
    timeout: Duration,
    rec: &mut Recorder<'_>,
    notes: &mut Vec<String>,
) -> Result<Vec<String>> {
    let cli = site.flavor.binary();
    let name = site.flavor.display_name();
    let prefix = site.flavor.env_prefix();
    let start = match &site.cluster {
        Some(c) if c.joined => format!(
            "have the site that runs the cluster trust this one: there, `vaultnet sites add {} {}`, then restart its nodes one at a time",
            site.name.as_deref().unwrap_or_default(),
            layout.trust().display()
        ),
        None => format!(
            "start {name} with the listener as an extra config: `{cli} server -config <your config> -config {}`",
            layout.listener().display()
        ),
        Some(c) => format!(
            "start every node with its raft stanza and listener: `{cli} server -config {} -config {}` for NAME in {}",
            layout.node_raft("NAME").display(),
            layout.node_listener("NAME").display(),
            c.nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let rerun = format!(
        "then run `vaultnet init` again with an operator token (`{prefix}_TOKEN`, `--token-file` or `~/.vault-token`) to enable AppRole and KV v2"
    );
    let client = ops::operator_client(layout, site, None, timeout)?;
    let health = match client.health() {
        Ok((h, _)) => h,
        Err(e) => {
            notes.push(format!(
                "{name} at {} is not reachable: {}",
                site.vault_url(),
                e.message()
            ));
            return Ok(vec![start, rerun]);
        }
    };
    let unseal = match site.cluster {
        None => crate::vault::unseal_hint(cli),
        Some(_) => format!(
            "unseal every node: `{cli} operator unseal` with `{prefix}_ADDR` set to each (the others join it)"
        ),
    };
    match health {
        Health::Active => {}
        Health::NotInitialized if site.cluster.is_some() => {
            return Ok(vec![
                format!(
                    "initialise the cluster once, on one node: `{prefix}_ADDR={} {cli} operator init`",
                    site.vault_url()
                ),
                unseal,
                rerun,
            ]);
        }
        Health::NotInitialized => {
            return Ok(vec![
                format!("initialise {name}: `{cli} operator init`"),
                unseal,
                rerun,
            ]);
        }
        Health::Sealed => return Ok(vec![unseal, rerun]),
        Health::Standby | Health::PerfStandby => {
            return Err(
                Error::failed(format!("{name} at {} is a standby node", site.vault_url()))
                    .hint("point `--vault-listen` at the active node"),
            );
        }
        other => {
            return Err(Error::failed(format!(
                "{name} at {} is not ready: {other:?}",
                site.vault_url()
            ))
            .hint("run `vaultnet doctor`"));
        }
    }
    let Some(token) = token else {
        return Ok(vec![rerun.replacen("then run", "run", 1)]);
    };
    let client = client.with_token(token);
    rec.emit(ops::ensure_approle(&client)?);
    rec.emit(ops::ensure_kv2(&client, &site.kv_mount)?);
    Ok(Vec::new())
}
