//! `vaultnet doctor`'s checks and their report. The checks walk the chain
//! the way a packet and a login do — files, Vault directly, the forwarder
//! (or DNAT) and what the host's kernel holds for it, the name tenants
//! use, Vault's config, each tenant's login, with `--probe` Vault seen
//! from a tenant's own containers, the nft gate — and each is a small
//! function returning a [`Check`]: a status, what was seen, and for every
//! warning or failure a `hint` with the exact fix.
//! A group's status is its worst child's (as `vault operator diagnose`).

pub mod cluster;
pub mod files;
pub mod host;
pub mod network;
pub mod probe;
pub mod vaultcfg;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::layout::Layout;
use crate::secret::Secret;
use crate::state::{State, Tenant};
use crate::vault::ops;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skip,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// When the certificate or secret_id the check is about expires
    /// (RFC 3339, whole seconds, UTC); only on validity checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Seconds from the run until `expires`, negative once it has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<i64>,
    /// On `probe.NAME`: the rootless network and mapping the probe ran with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<probe::ProbeNetwork>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Check>,
}

impl Check {
    fn new(id: impl Into<String>, title: impl Into<String>, status: Status) -> Check {
        Check {
            id: id.into(),
            title: title.into(),
            status,
            detail: None,
            hint: None,
            expires: None,
            seconds_left: None,
            network: None,
            children: Vec::new(),
        }
    }

    pub fn ok(id: impl Into<String>, title: impl Into<String>) -> Check {
        Check::new(id, title, Status::Ok)
    }

    pub fn warn(id: impl Into<String>, title: impl Into<String>, hint: impl Into<String>) -> Check {
        let mut c = Check::new(id, title, Status::Warn);
        c.hint = Some(hint.into());
        c
    }

    pub fn fail(id: impl Into<String>, title: impl Into<String>, hint: impl Into<String>) -> Check {
        let mut c = Check::new(id, title, Status::Fail);
        c.hint = Some(hint.into());
        c
    }

    pub fn skip(id: impl Into<String>, title: impl Into<String>) -> Check {
        Check::new(id, title, Status::Skip)
    }

    #[must_use]
    pub fn detail(mut self, d: impl Into<String>) -> Check {
        self.detail = Some(d.into());
        self
    }

    /// When what the check is about expires, as seen at `now`.
    #[must_use]
    pub fn expiring(mut self, at: OffsetDateTime, now: OffsetDateTime) -> Check {
        self.expires = Some(crate::state::rfc3339::format(at));
        self.seconds_left = Some((at - now).whole_seconds());
        self
    }

    /// A group whose status is the worst of its children.
    pub fn group(id: impl Into<String>, title: impl Into<String>, children: Vec<Check>) -> Check {
        let status = children
            .iter()
            .map(|c| c.status)
            .filter(|s| *s != Status::Skip)
            .max()
            .unwrap_or(if children.is_empty() {
                Status::Ok
            } else {
                Status::Skip
            });
        let mut c = Check::new(id, title, status);
        c.children = children;
        c
    }

    pub fn find(&self, id: &str) -> Option<&Check> {
        if self.id == id {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(id))
    }
}

/// A check of `doctor --output json` (docs/json.md): every check that is
/// not a group, in the report's order, with the id of the group it is in —
/// so `.checks[] | select(.status == "fail") | .hint` lists every fix.
#[derive(Debug, Serialize)]
pub struct JsonCheck<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<&'a str>,
    pub title: &'a str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'a str>,
    /// When the certificate or secret_id expires (RFC 3339, whole
    /// seconds, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<&'a str>,
    /// Whole days until `not_after`, rounded toward zero (as `list`'s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<&'a probe::ProbeNetwork>,
}

/// A group of `doctor --output json`: a section or a check made of
/// others; its status is its worst child's.
#[derive(Debug, Serialize)]
pub struct JsonGroup<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<&'a str>,
    pub title: &'a str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// The tree as two flat lists in the report's order: the checks (leaves)
/// and the groups, each naming the group it is in.
pub fn flatten(checks: &[Check]) -> (Vec<JsonCheck<'_>>, Vec<JsonGroup<'_>>) {
    fn walk<'a>(
        c: &'a Check,
        parent: Option<&'a str>,
        leaves: &mut Vec<JsonCheck<'a>>,
        groups: &mut Vec<JsonGroup<'a>>,
    ) {
        if c.children.is_empty() {
            leaves.push(JsonCheck {
                id: &c.id,
                group: parent,
                title: &c.title,
                status: c.status,
                detail: c.detail.as_deref(),
                hint: c.hint.as_deref(),
                not_after: c.expires.as_deref(),
                days_left: c.seconds_left.map(|s| s / 86_400),
                seconds_left: c.seconds_left,
                network: c.network.as_ref(),
            });
            return;
        }
        groups.push(JsonGroup {
            id: &c.id,
            group: parent,
            title: &c.title,
            status: c.status,
            detail: c.detail.as_deref(),
        });
        for ch in &c.children {
            walk(ch, Some(&c.id), leaves, groups);
        }
    }
    let (mut leaves, mut groups) = (Vec::new(), Vec::new());
    for c in checks {
        walk(c, None, &mut leaves, &mut groups);
    }
    (leaves, groups)
}

/// What a doctor run checks.
pub struct Options {
    /// Only this tenant's checks.
    pub user: Option<String>,
    /// Also log in as each tenant through its entry.
    pub login: bool,
    /// Also reach Vault from each tenant's own containers (`--probe`).
    pub probe: bool,
    /// How long each network check may take.
    pub timeout: Duration,
}

/// Runs every check in the order a packet and a login meet them — the
/// files, Vault directly, each entry, the name each bundle maps, Vault's
/// config, the tenants' logins, the gate — the network ones at once, each
/// with its own timeout. The order of the report is fixed whatever
/// finishes first. (Long: it is the list of checks; each is one call.)
pub fn run(layout: &Layout, state: &State, token: Option<Secret>, args: &Options) -> Vec<Check> {
    let site = &state.site;
    let topology = match crate::topology::Topology::of(state) {
        Ok(t) => t,
        Err(e) => {
            return vec![
                Check::fail(
                    "files.state",
                    "`vaultnet.yaml`",
                    e.hint_text().unwrap_or("").to_string(),
                )
                .detail(e.message().to_string()),
            ];
        }
    };
    let now = OffsetDateTime::now_utc();
    let timeout = args.timeout;
    let tenants: Vec<(String, Tenant)> = state
        .tenants
        .iter()
        .filter(|(n, _)| args.user.as_ref().is_none_or(|u| u == *n))
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    let all_names: Vec<String> = state.tenants.keys().cloned().collect();
    // Every CA trusted now: during a rotation Vault may serve a
    // certificate of the previous one.
    let ca_pem = crate::provision::ca::server_trust_pem(layout, site).unwrap_or_default();
    // What the site's own certificates chain to (a cert role's CA): the
    // same, but for a site that joined another site's cluster.
    let own_ca = crate::provision::ca::trust_pem(layout).unwrap_or_default();
    let operator = ops::operator_identity(layout).ok();

    // Files first: cheap, and the rest depends on nothing they find.
    let (ca_check, ca_info) = files::ca(layout, now);
    let mut file_checks = vec![files::state(layout, state), ca_check];
    // A cluster: each node's certificates instead of the one server's.
    let mut node_disks = Vec::new();
    let server_on_disk = match &site.cluster {
        None => {
            let (server_check, disk) = files::server_cert(layout, state, ca_info.as_ref(), now);
            file_checks.push(server_check);
            disk
        }
        Some(c) => {
            for n in &c.nodes {
                // A joined cluster's node certificates are the other
                // site's: only what each node serves is checked.
                if c.joined {
                    node_disks.push(None);
                    continue;
                }
                let (check, disk) = files::node_certs(layout, state, n, ca_info.as_ref(), now);
                file_checks.push(check);
                node_disks.push(disk);
            }
            file_checks.push(files::check_cert(layout, ca_info.as_ref(), now));
            None
        }
    };
    let server_on_disk = server_on_disk.as_ref();
    file_checks.push(files::operator_cert(layout, ca_info.as_ref(), now));
    for (n, t) in &tenants {
        file_checks.push(files::tenant(layout, n, t, ca_info.as_ref(), now));
    }
    file_checks.push(files::secret_modes(layout, state, args.user.as_deref()));
    let files_group = Check::group("files", "files", file_checks);

    // The network checks are independent: run them at once.
    let cluster_client = match (&site.cluster, &token) {
        (Some(_), Some(t)) => ops::operator_client(layout, site, Some(t.clone()), timeout).ok(),
        _ => None,
    };
    std::thread::scope(|s| {
        let direct = s.spawn(|| match &site.cluster {
            None => {
                let (c, cert) =
                    network::direct(site, &ca_pem, operator.as_ref(), server_on_disk, timeout);
                (c, cert, None)
            }
            Some(cl) => {
                let (c, seen) = cluster::nodes(
                    site,
                    cl,
                    &ca_pem,
                    operator.as_ref(),
                    &node_disks,
                    cluster_client.as_ref(),
                    timeout,
                );
                // The forwarder must lead to the active node.
                let cert = seen.active().and_then(|i| seen.nodes[i].1.clone());
                (c, cert, Some(seen))
            }
        });
        let probes: Vec<_> = if args.probe {
            tenants
                .iter()
                .map(|(n, t)| {
                    let topology = &topology;
                    s.spawn(move || probe::probe(layout, topology, n, t, timeout))
                })
                .collect()
        } else {
            Vec::new()
        };
        let config = s.spawn(|| {
            let Some(token) = token else {
                let prefix = site.flavor.env_prefix();
                return Check::skip("vaultcfg", "Vault config").detail(format!(
                    "no operator token (`{prefix}_TOKEN`, `--token-file` or `~/.vault-token`): roles and policies not checked"
                ));
            };
            let c = match ops::operator_client(layout, site, Some(token), timeout) {
                Ok(c) => c,
                Err(e) => return Check::fail("vaultcfg", "Vault config", e.hint_text().unwrap_or("run `vaultnet init`").to_string()).detail(e.message().to_string()),
            };
            if !matches!(c.health(), Ok((crate::vault::Health::Active, _))) {
                return Check::skip("vaultcfg", "Vault config").detail("Vault is not reachable and active");
            }
            let mut children = vec![vaultcfg::mounts(&c, site)];
            // Each tenant's role and secret_id reads are independent of
            // every other tenant's: a few at a time over the client's pool
            // of keep-alive connections (one at a time, 1000 tenants took
            // 1.5 s, nearly all of it waiting for answers). Beside them,
            // every policy's text in one request where Vault lists them so;
            // then each policy is checked from it (or read, where the
            // listing failed or Vault has none).
            let (policies, found) = std::thread::scope(|s| {
                let listing =
                    s.spawn(|| {
                        let names = tenants.iter().map(|(n, _)| n.as_str());
                        ops::PolicyTexts::for_tenants(&c, site, names).ok().flatten()
                    });
                let found = each(&tenants, VAULT_WORKERS, |(n, t)| {
                    vaultcfg::tenant_role_and_secret_id(&c, site, n, t, &own_ca)
                });
                (listing.join().expect("policy listing thread"), found)
            });
            let checked = each(&tenants, VAULT_WORKERS, |(n, _)| {
                vaultcfg::tenant_policy(&c, site, n, policies.as_ref())
            });
            children.extend(
                tenants
                    .iter()
                    .zip(found)
                    .zip(checked)
                    .map(|(((n, _), f), p)| vaultcfg::tenant_objects(n, f, p)),
            );
            Check::group("vaultcfg", "Vault config", children)
        });
        let (direct, direct_cert, seen) = direct.join().expect("check thread");
        // In a cluster the forwarder is compared with the active node.
        let active_disk = seen
            .as_ref()
            .and_then(|s| s.active())
            .and_then(|i| node_disks.get(i).and_then(Option::as_ref));
        let entries: Vec<Check> = topology
            .entry_probes()
            .iter()
            .map(|e| {
                let mut c = network::entry(
                    site,
                    e,
                    &ca_pem,
                    operator.as_ref(),
                    (direct_cert.as_deref(), server_on_disk.or(active_disk)),
                    timeout,
                );
                if let (Some(cl), Some(seen)) = (&site.cluster, &seen) {
                    let active = cluster::selects_active(
                        site,
                        cl,
                        e,
                        seen,
                        &ca_pem,
                        operator.as_ref(),
                        timeout,
                    );
                    c = Check::group(
                        c.id,
                        c.title,
                        c.children
                            .into_iter()
                            .filter(|ch| !ch.id.ends_with(".same"))
                            .chain([active])
                            .collect(),
                    );
                }
                c
            })
            .collect();
        // A login depends on Vault and on the tenant's entry: when either
        // failed, the cause is reported once and the logins are not tried.
        let logins = args.login.then(|| {
            let mut blocked: Vec<(std::net::SocketAddr, String)> = Vec::new();
            if direct.status == Status::Fail {
                blocked.extend(tenants.iter().map(|(n, t)| {
                    (
                        topology.tenant_endpoint(n, t).connect,
                        format!("the check `{}` failed", direct.title),
                    )
                }));
            }
            for (probe, c) in topology.entry_probes().iter().zip(&entries) {
                if c.status == Status::Fail {
                    blocked.push((probe.addr, format!("the check `{}` failed", c.title)));
                }
            }
            let ca = ca_pem.as_str();
            logins(
                layout, site, &topology, &tenants, &all_names, ca, &blocked, timeout,
            )
        });
        let names: Vec<Check> = tenants
            .iter()
            .map(|(n, t)| vaultcfg::bundle_name(layout, &topology.tenant_endpoint(n, t), n))
            .collect();
        let mut out = vec![files_group, direct];
        out.extend(entries);
        out.extend(host::links(&topology.host_links()));
        out.extend([
            Check::group(
                "name",
                format!("name `{}` in each bundle", site.dns_name),
                names,
            ),
            config.join().expect("check thread"),
        ]);
        if let Some(results) = logins {
            out.push(Check::group("login", "tenant logins", results));
        }
        if args.probe {
            let results: Vec<Check> = probes
                .into_iter()
                .map(|h| h.join().expect("check thread"))
                .collect();
            out.push(Check::group(
                "probe",
                "from each tenant's own containers",
                results,
            ));
        }
        out.extend(vaultcfg::exposure(&topology));
        out.push(vaultcfg::nft(layout, &tenants, &topology));
        out
    })
}

/// How many tenant logins run at once. One probe is a TLS handshake and
/// three requests, or a short-lived child as the tenant's uid. Two of the
/// requests are writes Vault syncs on raft (the token, its revocation):
/// with 16 in flight it commits more of them together, and 1000 logins on
/// raft took 0.75x the time of 8 at a time (BENCHMARKS.md). Unbounded —
/// one thread and one TLS client per tenant, all at once — made a site of
/// 300 tenants time out against its own forwarder and Vault (231 false
/// failures measured).
pub const LOGIN_WORKERS: usize = 16;

/// How many tenants' Vault config checks run at once, each over one of
/// the operator client's keep-alive connections ([`crate::vault::POOL`]).
pub const VAULT_WORKERS: usize = crate::vault::POOL;

/// `f` over every item, `workers` at a time, the results in the items'
/// order whatever finishes first.
pub fn each<T: Sync, R: Send>(items: &[T], workers: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.min(items.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    done.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    done.into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Every tenant's login through its entry, [`LOGIN_WORKERS`] at a time,
/// reported in tenant order whatever finishes first; a tenant whose entry
/// address is in `blocked` is skipped with its reason.
#[allow(clippy::too_many_arguments)]
fn logins(
    layout: &Layout,
    site: &crate::state::Site,
    topology: &crate::topology::Topology,
    tenants: &[(String, Tenant)],
    all_names: &[String],
    ca_pem: &str,
    blocked: &[(std::net::SocketAddr, String)],
    timeout: Duration,
) -> Vec<Check> {
    each(tenants, LOGIN_WORKERS, |(n, t)| {
        let others = vaultcfg::neighbours(all_names, n);
        let endpoint = topology.tenant_endpoint(n, t);
        if let Some((_, why)) = blocked.iter().find(|(a, _)| *a == endpoint.connect) {
            return vaultcfg::login_skipped(n, why);
        }
        let reach = vaultcfg::Reach {
            endpoint: &endpoint,
            ca_pem,
            timeout,
        };
        vaultcfg::login(layout, site, &reach, n, t, &others)
    })
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

/// Counts the leaves.
pub fn summarize(checks: &[Check]) -> Summary {
    fn walk(c: &Check, s: &mut Summary) {
        if c.children.is_empty() {
            match c.status {
                Status::Ok => s.ok += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
            }
        }
        for ch in &c.children {
            walk(ch, s);
        }
    }
    let mut s = Summary::default();
    for c in checks {
        walk(c, &mut s);
    }
    s
}

#[derive(Debug, Clone, Copy)]
pub struct Symbols {
    pub ok: &'static str,
    pub warn: &'static str,
    pub fail: &'static str,
    pub skip: &'static str,
    /// Each mark in its colour: green, yellow, red, dim.
    pub color: bool,
}

pub const UNICODE: Symbols = Symbols {
    ok: "✓",
    warn: "!",
    fail: "✗",
    skip: "-",
    color: false,
};

pub const ASCII: Symbols = Symbols {
    ok: "[ok]",
    warn: "[warn]",
    fail: "[FAIL]",
    skip: "[skip]",
    color: false,
};

/// How much of the report the text shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Only what warned or failed, with its hint, under its sections.
    Quiet,
    /// A screen: a section that is all green is one line; in the others,
    /// what warned, failed or was skipped, and a count of the rest.
    Default,
    /// Every check.
    Verbose,
}

fn mark(status: Status, sym: &Symbols) -> String {
    use crate::ui::Paint;
    let (text, paint) = match status {
        Status::Ok => (sym.ok, Paint::Green),
        Status::Warn => (sym.warn, Paint::Yellow),
        Status::Fail => (sym.fail, Paint::Red),
        Status::Skip => (sym.skip, Paint::Dim),
    };
    crate::ui::paint(text, paint, sym.color)
}

fn is_problem(s: Status) -> bool {
    matches!(s, Status::Warn | Status::Fail)
}

/// Whether a check or any check under it warned or failed.
fn has_problem(c: &Check) -> bool {
    is_problem(c.status) || c.children.iter().any(has_problem)
}

/// The report as text, as much of it as `view` asks for.
pub fn render(checks: &[Check], sym: &Symbols, view: View) -> Vec<String> {
    fn line(c: &Check, depth: usize, sym: &Symbols, out: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        let detail = c
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        out.push(format!("{pad}{} {}{detail}", mark(c.status, sym), c.title));
        if let Some(h) = &c.hint
            && c.status != Status::Ok
        {
            out.push(format!("{pad}    hint: {h}"));
        }
    }
    fn walk(c: &Check, depth: usize, sym: &Symbols, view: View, out: &mut Vec<String>) {
        if c.children.is_empty() {
            line(c, depth, sym, out);
            return;
        }
        if view == View::Default && !has_problem(c) {
            let s = summarize(std::slice::from_ref(c));
            let skipped = if s.skip > 0 {
                format!(", {} skipped", s.skip)
            } else {
                String::new()
            };
            out.push(format!(
                "{}{} {}: {} ok{skipped}",
                "  ".repeat(depth),
                mark(c.status, sym),
                c.title,
                s.ok
            ));
            return;
        }
        line(c, depth, sym, out);
        let mut quiet_ok = 0;
        for ch in &c.children {
            let shown = match view {
                View::Verbose => true,
                View::Default => has_problem(ch) || ch.status == Status::Skip,
                View::Quiet => has_problem(ch),
            };
            if shown {
                walk(ch, depth + 1, sym, view, out);
            } else if ch.status == Status::Ok {
                quiet_ok += summarize(std::slice::from_ref(ch)).ok;
            }
        }
        if view == View::Default && quiet_ok > 0 {
            out.push(format!(
                "{}{} {quiet_ok} more ok",
                "  ".repeat(depth + 1),
                sym.ok
            ));
        }
    }
    let mut out = Vec::new();
    for c in checks {
        if view == View::Quiet && !has_problem(c) {
            continue;
        }
        walk(c, 0, sym, view, &mut out);
    }
    out
}

#[cfg(test)]
mod view_tests {
    use super::*;

    fn site_report() -> Vec<Check> {
        let tenants: Vec<Check> = (1..=3)
            .map(|i| Check::ok(format!("files.t{i}"), format!("tenant `t{i}`")))
            .collect();
        let logins: Vec<Check> = (1..=3)
            .map(|i| {
                crate::doctor::vaultcfg::login_skipped(
                    &format!("t{i}"),
                    "the check `forwarder` failed",
                )
            })
            .collect();
        vec![
            Check::group("files", "files", tenants),
            Check::group(
                "forwarder",
                "forwarder",
                vec![
                    Check::ok("forwarder.tcp", "TCP"),
                    Check::fail("forwarder.tls", "TLS", "start it").detail("refused"),
                    Check::warn("forwarder.x", "X", "look").detail("odd"),
                ],
            ),
            Check::group("login", "tenant logins", logins),
        ]
    }

    #[test]
    fn the_default_view_folds_green_sections_and_shows_each_cause_once() {
        let got = render(&site_report(), &ASCII, View::Default);
        assert_eq!(
            got,
            [
                "[ok] files: 3 ok",
                "[FAIL] forwarder",
                "  [FAIL] TLS: refused",
                "      hint: start it",
                "  [warn] X: odd",
                "      hint: look",
                "  [ok] 1 more ok",
                "[skip] tenant logins: 0 ok, 3 skipped",
            ]
        );
    }

    #[test]
    fn json_lists_every_check_flat_with_its_group_so_a_filter_reaches_each_failure() {
        let now = OffsetDateTime::now_utc();
        let mut report = site_report();
        report[0].children[0] = Check::ok("files.t1", "tenant `t1`")
            .expiring(now + time::Duration::seconds(2 * 86_400 + 5), now);
        let (checks, groups) = flatten(&report);
        let ids: Vec<(&str, Option<&str>)> = checks.iter().map(|c| (c.id, c.group)).collect();
        assert_eq!(
            ids,
            [
                ("files.t1", Some("files")),
                ("files.t2", Some("files")),
                ("files.t3", Some("files")),
                ("forwarder.tcp", Some("forwarder")),
                ("forwarder.tls", Some("forwarder")),
                ("forwarder.x", Some("forwarder")),
                ("login.t1", Some("login")),
                ("login.t2", Some("login")),
                ("login.t3", Some("login")),
            ]
        );
        let failed: Vec<_> = checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.hint)
            .collect();
        assert_eq!(failed, [Some("start it")]);
        let g: Vec<(&str, Status)> = groups.iter().map(|g| (g.id, g.status)).collect();
        assert_eq!(
            g,
            [
                ("files", Status::Ok),
                ("forwarder", Status::Fail),
                ("login", Status::Skip)
            ]
        );
        assert!(groups.iter().all(|g| g.group.is_none()));
        let expiring = &checks[0];
        assert_eq!(
            expiring.not_after,
            Some(
                crate::state::rfc3339::format(now + time::Duration::seconds(2 * 86_400 + 5))
                    .as_str()
            )
        );
        assert_eq!(
            (expiring.days_left, expiring.seconds_left),
            (Some(2), Some(2 * 86_400 + 5))
        );
        let json = serde_json::to_value(&checks[1]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": "files.t2", "group": "files", "title": "tenant `t2`", "status": "ok"})
        );
    }

    #[test]
    fn quiet_shows_only_what_warned_or_failed_and_verbose_shows_everything() {
        let quiet = render(&site_report(), &ASCII, View::Quiet);
        assert_eq!(
            quiet,
            [
                "[FAIL] forwarder",
                "  [FAIL] TLS: refused",
                "      hint: start it",
                "  [warn] X: odd",
                "      hint: look",
            ]
        );
        let verbose = render(&site_report(), &ASCII, View::Verbose);
        assert_eq!(verbose.len(), 1 + 3 + 1 + 5 + 1 + 3, "{verbose:#?}");
        assert!(verbose.contains(&"  [ok] tenant `t2`".to_string()));
        assert!(verbose.contains(
            &"  [skip] tenant `t3`: login through the forwarder: not tried: the check `forwarder` failed"
                .to_string()
        ));
    }
}
