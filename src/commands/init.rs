//! `vaultnet init`: the operator's first step. Creates the CA, the Vault
//! server and operator certificates, the listener stanza and the host
//! files, records the site settings, and — when Vault answers and an
//! operator token is at hand — enables AppRole and KV v2. Safe to re-run.
//! The work is `provision::site`; this file is the arguments and the words.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::provision::site::{self, SiteReport, SiteRun};
use crate::state::Site;
use crate::sys::fsx;
use crate::topology::Topology;
use crate::{settings, ui};

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet init --yes --host-ip 192.168.1.10
  VAULT_TOKEN=… vaultnet init --forwarder nginx --dns-name vault.lan
  vaultnet init --force        # new CA and certificates; every tenant must be re-added

EXIT CODES:
  0  files written (Vault bootstrapped, or what is left to do printed)
  1  Vault answered and refused a step (e.g. permission denied)
  2  bad input; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub settings: crate::settings::Flags,
    /// File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Never prompt: use flags, recorded settings and defaults, and confirm `--force`
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Replace the CA, the server and operator certificates (tenants must be re-added); asks first, or needs --yes
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for Vault
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
    /// Report format: the summary and what is left to do, or JSON (docs/json.md)
    #[arg(long, value_enum, default_value_t)]
    pub output: super::Output,
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let dir = env.state_dir(dir_flag)?;
    // Everything that can be rejected is rejected before anything is written.
    let parsed = settings::Parsed::from_flags(&args.settings)?;
    let token = env.operator_token(args.token_file.as_deref())?;
    fsx::check_trusted_dir(&dir)?;
    fsx::check_writable(&dir)?;
    let previous = if dir.is_dir() {
        crate::store::load(&dir)?
    } else {
        None
    };
    // `--force` over a CA destroys every certificate it issued: asked
    // first, or refused without a terminal unless `--yes`.
    if args.force {
        let layout = Layout::new(&dir);
        if let Some(pem) = fsx::read_text(&layout.ca_cert(), fsx::MAX_PEM_BYTES)? {
            let name = crate::pki::CertInfo::parse(&pem)
                .ok()
                .and_then(|i| i.common_name)
                .unwrap_or_default();
            let tenants = previous.as_ref().map_or(0, |s| s.tenants.len());
            ui::confirm_destruction(
                args.yes,
                &format!(
                    "`--force` replaces the CA `{name}`, which the certificates of {tenants} tenant(s) depend on, and the server and operator certificates (the old CA is kept in `pki/replaced/`)"
                ),
                "Replace the CA?",
                "`vaultnet init --force --yes`",
            )?;
        }
    }
    let ask = !args.yes && ui::interactive();
    let site = settings::resolve(
        &parsed,
        previous.as_ref().map(|s| &s.site),
        &args.settings,
        ask,
    )?;
    // A first run that asked: the answers, once more, before anything is
    // written; `n` (or Ctrl-C) leaves nothing behind.
    if ask && previous.is_none() {
        confirm_settings(&dir, &site)?;
    }
    // Every Vault name of a tenant carries the site's name: it stays
    // while tenants have them.
    if let Some(prev) = &previous {
        let count = prev.tenants.len() + prev.pending.len();
        if prev.site.name != site.name && count > 0 {
            let shown = |n: &Option<String>| n.clone().unwrap_or_else(|| "(none)".into());
            return Err(Error::usage(format!(
                "the site's name is in the Vault names of its {count} tenant(s): it cannot change from {} to {}",
                shown(&prev.site.name),
                shown(&site.name)
            ))
            .hint(match &prev.site.name {
                Some(n) => format!("keep `--site-name {n}`, or remove every tenant first"),
                None => "drop `--site-name`, or remove every tenant first".into(),
            }));
        }
    }
    // HAProxy's config names the health check's files in the state
    // directory as they are.
    if site.cluster.is_some() && !crate::render::forwarder::haproxy_path_ok(&dir) {
        return Err(Error::usage(format!(
            "the state directory `{}` cannot be written into HAProxy's config: it has characters other than letters, digits and `._-+@/`",
            dir.display()
        ))
        .hint("choose another state directory with `--dir DIR` (or `VAULTNET_DIR`)"));
    }

    // Creating the state directory is the first write; when it fails
    // nothing changed, so it is a rejection like any unwritable directory.
    // (`check_writable` cannot catch it all: as root, `access(2)` allows
    // /proc and /sys, where mkdir still fails.)
    fsx::private_dir(&dir).map_err(|e| {
        if dir.is_dir() {
            e
        } else {
            Error::usage(e.message().to_string())
                .hint("choose a writable directory with `--dir DIR` (or `VAULTNET_DIR`)")
        }
    })?;
    let _lock = fsx::Lock::acquire(&dir)?;
    let layout = Layout::new(&dir);
    let report = site::converge(
        SiteRun {
            layout: &layout,
            // Re-read under the lock: another run may have finished meanwhile.
            previous: crate::store::load(&dir)?,
            site: site.clone(),
            force: args.force,
            token,
            timeout: Duration::from_secs(args.timeout),
            cluster_ca: parsed.cluster_ca.clone(),
        },
        &mut |o| ui::status(&o.text),
    )?;
    let mut report = report;
    if crate::sys::hostnet::interface_of(site.host_ip).is_none() {
        report.notes.insert(
            0,
            format!(
                "the host address {} is on no interface of this host: nothing listens there, and tenants cannot connect, until an interface has it (`ip -brief address` lists them)",
                site.host_ip
            ),
        );
    }
    if args.output == super::Output::Json {
        print_json(&layout, &site, &report)?;
    } else {
        print_summary(&layout, &site, &report)?;
    }
    Ok(0)
}

/// `--output json`: what the text summary says, as fields.
fn print_json(layout: &Layout, site: &Site, report: &SiteReport) -> Result<()> {
    let outcomes: Vec<serde_json::Value> = report
        .outcomes
        .iter()
        .map(|o| serde_json::json!({ "change": o.change.name(), "text": o.text }))
        .collect();
    let doc = serde_json::json!({
        "schema_version": super::SCHEMA_VERSION,
        "dir": layout.root.display().to_string(),
        "profile": site.profile,
        "site_name": site.name,
        "changed": report.changed(),
        "kept": report.kept(),
        "outcomes": outcomes,
        "notes": report.notes,
        "left_to_do": report.pending,
    });
    ui::out(serde_json::to_string_pretty(&doc).expect("report serialises"))
}

/// The settings a first run on a terminal chose, shown before anything
/// is written; goes on only when confirmed.
fn confirm_settings(dir: &Path, site: &Site) -> Result<()> {
    let topology = Topology::new(site)?;
    let p = &topology.profile;
    let endpoint = topology.endpoint("NAME");
    let forwarder = match p.entry {
        crate::topology::profile::EntryKind::Direct | crate::topology::profile::EntryKind::Dnat => {
            String::new()
        }
        _ => format!(" (forwarder {})", site.forwarder),
    };
    let lines = [
        format!("vaultnet will initialise `{}` with:", dir.display()),
        format!(
            "  profile         {} (pattern {}): {}",
            site.profile, p.code, p.summary
        ),
        format!(
            "  Vault           {}, listener {} (mutual TLS required)",
            site.flavor.display_name(),
            site.vault_addr
        ),
        format!(
            "  tenants reach   {} at {}{forwarder}",
            endpoint.url, endpoint.connect
        ),
        format!("  agent image     {}", site.agent_image),
        format!(
            "  tenant secrets  {}/{}/{}/ (KV v2)",
            site.kv_mount,
            site.tenant_prefix,
            site.vault_name("NAME")
        ),
    ];
    for l in &lines {
        ui::status(l);
    }
    let go = dialoguer::Confirm::new()
        .with_prompt("Write these settings and create the CA?")
        .default(true)
        .interact()
        .map_err(|e| {
            Error::usage(format!("prompt aborted: {e}"))
                .hint("answer the question, or pass `--yes`")
        })?;
    if go {
        return Ok(());
    }
    Err(Error::usage("not confirmed: nothing was changed").hint(
        "run `vaultnet init` again and answer differently, or give every setting as a flag with `--yes`",
    ))
}

/// How each node of a cluster is started, and what its server reads.
fn print_cluster(layout: &Layout, site: &Site, c: &crate::state::cluster::Cluster) -> Result<()> {
    let (name, cli) = (site.flavor.display_name(), site.flavor.binary());
    if c.joined {
        ui::out(format!(
            "{name} raft cluster of {} nodes run by another site ({}), verified by `{}`; tenants' Vault names start with `{}.`.",
            c.nodes.len(),
            c.nodes
                .iter()
                .map(|n| format!("{} at {}", n.name, n.addr))
                .collect::<Vec<_>>()
                .join(", "),
            layout.cluster_ca().display(),
            site.name.as_deref().unwrap_or_default()
        ))?;
        ui::out(format!(
            "  That site must trust this one's CAs: there, `vaultnet sites add {} {}`, then restart its nodes one at a time.",
            site.name.as_deref().unwrap_or_default(),
            layout.trust().display()
        ))?;
        return Ok(());
    }
    ui::out(format!(
        "{name} raft cluster of {} nodes, mutual TLS required on each; start each with its raft stanza and listener:",
        c.nodes.len()
    ))?;
    for n in &c.nodes {
        ui::out(format!(
            "  {} at {}: `{cli} server -config {} -config {}`",
            n.name,
            n.addr,
            layout.node_raft(&n.name).display(),
            layout.node_listener(&n.name).display()
        ))?;
    }
    ui::out(format!(
        "  Each node's user must be able to read `{}` and `{}`, and write `{}`; name that user with `--vault-client` so the gate lets nodes join one another.",
        layout.node_server_key("NAME").display(),
        layout.node_join_key("NAME").display(),
        c.raft_dir.join("NAME").display()
    ))?;
    ui::out(format!(
        "  Raft timing: performance_multiplier = {} (a new active node 1.4-3.0 s after the active one dies); standbys forward every request (disable_standby_reads).",
        crate::render::raft::PERFORMANCE_MULTIPLIER
    ))?;
    Ok(())
}

fn print_summary(layout: &Layout, site: &Site, report: &SiteReport) -> Result<()> {
    let prefix = site.flavor.env_prefix();
    let root = layout.root.display();
    if report.changed() == 0 && report.pending.is_empty() {
        ui::out(format!(
            "vaultnet is initialised in `{root}`: nothing changed ({} checked)",
            report.kept()
        ))?;
    } else {
        ui::out(format!(
            "vaultnet initialised in `{root}`: {} changed, {} kept",
            report.changed(),
            report.kept()
        ))?;
    }
    for n in &report.notes {
        ui::out(format!("note: {n}"))?;
    }
    let topology = Topology::new(site)?;
    ui::out("")?;
    let p = &topology.profile;
    ui::out(format!(
        "Profile {} (pattern {}): {}.",
        site.profile, p.code, p.summary
    ))?;
    let upstream = match &site.cluster {
        None => {
            let listeners: Vec<String> = topology
                .vault_listeners()
                .iter()
                .map(ToString::to_string)
                .collect();
            ui::out(format!(
                "Vault listener: {}, mutual TLS required (`vault/listener.json`).",
                listeners.join(" and ")
            ))?;
            ui::out(format!(
                "  The {} server's user must be able to read `{}`.",
                site.flavor.display_name(),
                layout.server_key().display()
            ))?;
            site.vault_addr.to_string()
        }
        Some(c) => {
            print_cluster(layout, site, c)?;
            format!(
                "the active node of {}",
                c.nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    for line in topology.init_lines(&root.to_string(), &upstream) {
        ui::out(line)?;
    }
    for c in &report.host.enable {
        ui::out(format!("  {c}"))?;
    }
    ui::out(format!(
        "Renewal, daily: put an operator token in `{}` (root, 0600), then install `renew/` with:",
        crate::render::schedule::TOKEN_FILE
    ))?;
    ui::out(format!(
        "  install -m 0644 renew/{} renew/{} /etc/systemd/system/",
        crate::render::schedule::SERVICE,
        crate::render::schedule::TIMER
    ))?;
    ui::out(format!(
        "  systemctl daemon-reload && systemctl enable --now {}",
        crate::render::schedule::TIMER
    ))?;
    ui::out("Operator access:")?;
    ui::out(format!(
        "  export {prefix}_ADDR={} {prefix}_CACERT={} {prefix}_CLIENT_CERT={} {prefix}_CLIENT_KEY={}",
        site.vault_url(),
        // What the nodes' certificates chain to.
        if site.cluster.as_ref().is_some_and(|c| c.joined) {
            layout.cluster_ca()
        } else {
            layout.trust()
        }
        .display(),
        layout.operator_cert().display(),
        layout.operator_key().display()
    ))?;
    ui::out("")?;
    if report.pending.is_empty() {
        ui::out("Next: `vaultnet add-user NAME` for each tenant.")?;
    } else {
        ui::out("Left to do:")?;
        for (i, p) in report.pending.iter().enumerate() {
            ui::out(format!("  {}. {p}", i + 1))?;
        }
    }
    Ok(())
}
