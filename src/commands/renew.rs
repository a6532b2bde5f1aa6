//! `vaultnet renew [NAME...]`: renews by the one rule whatever is due —
//! the server and operator certificates, each tenant's client certificate
//! and secret_id — has Vault load a renewed server certificate, and reaches
//! each tenant's running agent so it uses what was renewed (SECURITY.md
//! D1–D3). Re-running is a no-op. The work is `provision::{site, tenant,
//! renew}`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;

use super::Output;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::provision::tenant::{self, Asked, show_time};
use crate::provision::{ca, renew, site};
use crate::state::Flavor;
use crate::store::Shared;
use crate::sys::agents::{self, Nudge};
use crate::ui;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet renew                  # the site's certificates and every tenant
  vaultnet renew alice bob        # only these tenants
  vaultnet renew --dry-run        # what is due, changing nothing
  vaultnet renew --rotate-ca      # switch to the next CA, reissue every certificate

EXIT CODES:
  0  nothing was due, or everything due was renewed
  1  something due could not be renewed (the rest was), or Vault did not load its new certificate
  2  unknown tenant, not initialised, bad usage; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Tenants to renew [default: the site's certificates and every tenant]
    #[arg(value_name = "NAME", add = clap_complete::ArgValueCompleter::new(super::completions::tenant_names))]
    pub names: Vec<String>,
    /// Read more names from FILE, one a line
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Print what is due and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Switch to the next CA (`pki/next-ca.pem`, which Vault must already
    /// trust) and reissue every certificate under it; the old CA stays
    /// trusted until the last certificate it issued expires
    #[arg(long)]
    pub rotate_ca: bool,
    #[command(flatten)]
    pub vault: super::VaultArgs,
    #[command(flatten)]
    pub gate: super::GateArgs,
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let selected = match (args.names.is_empty(), &args.from) {
        (true, None) => None,
        _ => Some(super::collect_names(
            "renew",
            &args.names,
            args.from.as_deref(),
        )?),
    };
    if args.rotate_ca && selected.is_some() {
        return Err(Error::usage(
            "`--rotate-ca` reissues every certificate of the site: it takes no tenant names",
        )
        .hint("run `vaultnet renew --rotate-ca` alone"));
    }
    // A dry run only reads: it takes no lock and writes nothing.
    let mut opened = crate::store::open(env, dir_flag, !args.dry_run)?;
    let names: Vec<String> = match &selected {
        Some(names) => {
            if let Some(n) = names
                .iter()
                .find(|n| !opened.state.tenants.contains_key(*n))
            {
                return Err(
                    Error::usage(format!("vaultnet has no tenant `{n}`")).hint(format!(
                        "add it with `vaultnet add-user {n}`; `vaultnet list` shows the tenants"
                    )),
                );
            }
            names.clone()
        }
        None => opened.state.tenants.keys().cloned().collect(),
    };
    let site_too = selected.is_none();
    let now = OffsetDateTime::now_utc();
    if args.dry_run {
        let mut due = Vec::new();
        if args.rotate_ca {
            due.push(renew::rotation_due(&opened.layout, &opened.state, now)?);
        }
        due.extend(renew::due(
            &opened.layout,
            &opened.state,
            &names,
            site_too,
            now,
            args.rotate_ca,
        )?);
        print_due(&due, args.output)?;
        return Ok(0);
    }
    let client = super::operator(env, &opened, &args.vault)?;
    let layout = opened.layout.clone();
    let site_settings = opened.state.site.clone();
    let json = args.output == Output::Json;
    let wait = Duration::from_secs(args.vault.timeout);
    let mut failures: Vec<Error> = Vec::new();

    let mut site_changes = Vec::new();
    let tell_site = |o: &crate::provision::Outcome, changes: &mut Vec<String>| {
        ui::status(format!("site: {}", o.text));
        changes.push(o.text.clone());
    };
    if args.rotate_ca {
        for o in rotate(&mut opened, &client, wait)? {
            tell_site(&o, &mut site_changes);
        }
    } else if site_too {
        let mut previous = opened.state.previous_ca.clone();
        for o in ca::ensure_trust(&layout, &opened.state.site, &mut previous, now)? {
            tell_site(&o, &mut site_changes);
        }
        if previous != opened.state.previous_ca {
            opened.state.previous_ca = previous;
            opened.save()?;
        }
    }
    let ca = tenant::load_ca(&layout)?;

    let mut vault_reload: Option<String> = None;
    let mut renew_site = |site_changes: &mut Vec<String>,
                          failures: &mut Vec<Error>|
     -> Result<()> {
        let leaves = site::leaves(&layout, &ca, &site_settings, false, now)?;
        for o in leaves.outcomes.iter().filter(|o| o.changed()) {
            tell_site(o, site_changes);
        }
        if leaves.new_check {
            ui::status(
                "site: HAProxy reads its health-check certificate when it starts or reloads: `systemctl reload haproxy`",
            );
        }
        // A certificate renewed by an earlier run that Vault never loaded
        // (its reload failed, or was not known then) is loaded now; in a
        // cluster, node by node.
        let nodes: Vec<Option<&crate::state::cluster::VaultNode>> = match &site_settings.cluster {
            None => vec![None],
            Some(c) => c.nodes.iter().map(Some).collect(),
        };
        for node in nodes {
            let new = leaves.new_servers.contains(&node.map(|n| n.name.clone()));
            if !new && renew::serves_the_current_certificate(&layout, &site_settings, node) {
                continue;
            }
            match renew::reload_vault(&layout, &site_settings, node, wait) {
                Ok(done) => {
                    ui::status(format!("site: {done}"));
                    vault_reload = Some(match vault_reload.take() {
                        Some(before) => format!("{before}; {done}"),
                        None => done,
                    });
                }
                Err(e) => failures.push(e),
            }
        }
        Ok(())
    };
    // In a rotation the tenants go first: their agents get the CAs
    // trusted now (the new current one among them) and a certificate Vault
    // already trusts, before Vault serves one from the new CA.
    if site_too && !args.rotate_ca {
        renew_site(&mut site_changes, &mut failures)?;
    }

    // Every tenant's policy from one listing, where Vault has one, rather
    // than one read per tenant.
    let policies = crate::vault::ops::PolicyTexts::for_tenants(
        &client,
        &site_settings,
        names.iter().map(String::as_str),
    )?;
    let mut reports = Vec::new();
    for name in &names {
        let rec = opened.state.tenants[name].clone();
        let asked = Asked {
            unix_user: rec.uid.is_some(),
            ..Asked::default()
        };
        let mut tell = |o: &crate::provision::Outcome| ui::status(format!("{name}: {}", o.text));
        let result = tenant::plan(name, &asked, Some(&rec), &site_settings).and_then(|mut plan| {
            let now = OffsetDateTime::now_utc();
            tenant::assign_ports(&opened.state, std::slice::from_mut(&mut plan), now)?;
            if let Some(p) = &policies {
                plan.policy = p.seen_for(&site_settings, name);
            }
            tenant::provision(&client, &ca, &Shared::new(&mut opened), &plan, &mut tell)
        });
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                failures.push(e.context(format!("tenant `{name}`")));
                continue;
            }
        };
        // A new certificate is read on SIGHUP by OpenBao's agent; Vault's
        // agent needs a restart. A new secret_id (plain, or unwrapped into
        // the installed copy) is read at the agent's next login.
        let cert_new = report.cert_serial != rec.cert_serial;
        let nudge = match (cert_new, site_settings.flavor) {
            (true, Flavor::Vault) => Some(Nudge::Restart),
            (true, Flavor::Openbao) => Some(Nudge::Reload),
            (false, _) => None,
        };
        let reached = match (nudge, rec.uid) {
            (Some(n), Some(uid)) => Some(match crate::sys::users::lookup(name)? {
                Some(u) if u.uid == uid => agents::reach(name, &u, n),
                _ => agents::Reached::NotReached(format!("Unix user `{name}` is gone")),
            }),
            _ => None,
        };
        if let Some(r) = &reached {
            ui::status(format!("{name}: {r}"));
        }
        reports.push((report, reached));
    }
    if args.rotate_ca {
        renew_site(&mut site_changes, &mut failures)?;
    }
    // What each tenant's steps journaled goes into `vaultnet.yaml`.
    opened.save()?;
    super::write_host_files(&opened, args.gate.reload())?;

    if json {
        let tenants: Vec<_> = reports
            .iter()
            .map(|(r, reached)| {
                let mut v = serde_json::to_value(r).expect("report serialises");
                v["agent"] = json!(reached.as_ref().map(ToString::to_string));
                v
            })
            .collect();
        let doc = json!({
            "schema_version": super::SCHEMA_VERSION,
            "site": site_changes,
            "vault_reload": vault_reload,
            "tenants": tenants,
        });
        ui::out(serde_json::to_string_pretty(&doc).expect("report serialises"))?;
    } else {
        for (r, reached) in &reports {
            let when = format!(
                "cert expires {}{}",
                show_time(r.cert_not_after),
                r.secret_id_expires
                    .map(|e| format!(", secret_id expires {}", show_time(e)))
                    .unwrap_or_default()
            );
            let line = match (r.changes.is_empty(), reached) {
                (true, _) => format!("tenant {}: nothing due ({when})", r.name),
                (false, Some(a)) => format!("renewed tenant {} ({when}); {a}", r.name),
                (false, None) => format!("renewed tenant {} ({when})", r.name),
            };
            ui::out(line)?;
        }
        if site_too && site_changes.is_empty() && vault_reload.is_none() {
            ui::out("site: nothing due")?;
        }
    }
    match failures.len() {
        0 => Ok(0),
        1 => Err(failures.remove(0)),
        n => {
            for e in &failures[..n - 1] {
                ui::status(format!("error: {}", e.message()));
            }
            Err(failures.pop().expect("n > 1"))
        }
    }
}

fn print_due(due: &[renew::Due], output: Output) -> Result<()> {
    if output == Output::Json {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            schema_version: u32,
            due: &'a [renew::Due],
        }
        let doc = Doc {
            schema_version: super::SCHEMA_VERSION,
            due,
        };
        return ui::out(serde_json::to_string_pretty(&doc).expect("serialises"));
    }
    if due.is_empty() {
        return ui::out("nothing is due");
    }
    for d in due {
        ui::out(format!("{}: would {}", d.who, d.what))?;
    }
    Ok(())
}

/// Switches the site to its next CA, once Vault is known to trust it:
/// the previous CA of an earlier rotation must have been retired first
/// (every certificate it issued expired), and a certificate from the next
/// CA must pass Vault's handshake. When either fails, retiring a previous
/// CA whose time has come is all that changed.
fn rotate(
    opened: &mut crate::store::Opened,
    client: &crate::vault::Client,
    wait: Duration,
) -> Result<Vec<crate::provision::Outcome>> {
    let layout = opened.layout.clone();
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::new();
    let mut previous = opened.state.previous_ca.clone();
    out.extend(ca::ensure_trust(
        &layout,
        &opened.state.site,
        &mut previous,
        now,
    )?);
    if previous != opened.state.previous_ca {
        opened.state.previous_ca = previous;
        opened.save()?;
    }
    // The same judgement as the dry run's: no previous CA still in use,
    // and a next CA to switch to.
    renew::rotation_due(&layout, &opened.state, now)?;
    let current = ca::load(&layout)?;
    let next = ca::load_next(&layout, &current)?.ok_or_else(ca::no_next)?;
    let site = &opened.state.site;
    let name = site.flavor.display_name();
    // Vault must answer at all before its refusal can mean anything.
    client.health()?;
    if !ca::vault_trusts(&layout, site, &next, wait)? {
        return Err(Error::failed(format!(
            "{name} does not trust the next CA yet: it reads its client CA file `pki/trust.pem` only when it starts"
        ))
        .hint(format!(
            "restart {name} (`systemctl restart {}`), then run `vaultnet renew --rotate-ca` again",
            site.flavor
        )));
    }
    // Until the last certificate the current CA issued to a tenant expires,
    // a copy of it may be in use where vaultnet cannot see it.
    let mut until = now;
    for name in opened.state.tenants.keys() {
        let dir = layout.tenant(name);
        if let Some(t) = renew::leaf_not_after(
            &dir.join(crate::layout::CLIENT_KEY),
            &dir.join(crate::layout::CLIENT_CERT),
        )? {
            until = until.max(t);
        }
    }
    out.extend(ca::rotate(&layout, opened, until)?);
    Ok(out)
}
