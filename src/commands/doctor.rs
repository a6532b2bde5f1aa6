//! `vaultnet doctor`: checks the whole chain and names the broken link with
//! the exact fix. Exit 0 when nothing failed (warnings allowed), 1 when a
//! check failed (or warned, with `--strict`), 2 for bad usage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::Output;
use crate::doctor::{self, Check, Status, files, network, vaultcfg};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::state::State;
use crate::ui;
use crate::vault::ops;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet doctor
  vaultnet doctor --login --user alice
  vaultnet doctor --output json | jq '.checks[] | select(.status != \"ok\")'

EXIT CODES:
  0  nothing failed (warnings allowed)
  1  a check failed (or warned, with --strict)
  2  bad usage, or vaultnet is not initialised";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Limit tenant checks to this tenant
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Also log in as each tenant through the forwarder and check its access
    #[arg(long)]
    pub login: bool,
    /// Treat warnings as failures
    #[arg(long)]
    pub strict: bool,
    /// Seconds each network check may take
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    pub timeout: f64,
    /// File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Serialize)]
struct Report<'a> {
    status: Status,
    summary: doctor::Summary,
    checks: &'a [Check],
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    if !(args.timeout > 0.0 && args.timeout <= 300.0) {
        return Err(Error::usage(format!("invalid timeout {}", args.timeout))
            .hint("pass seconds between 0 and 300, e.g. `--timeout 3`"));
    }
    if let Some(u) = &args.user {
        crate::state::validate::tenant_name(u)?;
    }
    let dir = env.state_dir(dir_flag)?;
    let layout = Layout::new(&dir);
    if !layout.state_file().exists() {
        return Err(crate::store::not_initialised(&dir));
    }
    let token = env.operator_token(args.token_file.as_deref())?;
    let checks = match crate::store::load(&dir) {
        Ok(Some(state)) => {
            if let Some(u) = &args.user
                && !state.tenants.contains_key(u)
            {
                return Err(Error::usage(format!("there is no tenant `{u}`"))
                    .hint("`vaultnet list` shows the tenants"));
            }
            run_checks(&layout, &state, token, &args)
        }
        Ok(None) => return Err(crate::store::not_initialised(&dir)),
        Err(e) => vec![
            Check::fail(
                "files.state",
                "`vaultnet.yaml`",
                e.hint_text().unwrap_or("").to_string(),
            )
            .detail(e.message().to_string()),
        ],
    };
    let summary = doctor::summarize(&checks);
    let worst = checks
        .iter()
        .map(|c| c.status)
        .filter(|s| *s != Status::Skip)
        .max()
        .unwrap_or(Status::Ok);
    if args.output == Output::Json {
        let r = Report {
            status: worst,
            summary,
            checks: &checks,
        };
        ui::out(serde_json::to_string_pretty(&r).expect("report serialises"))?;
    } else {
        let sym = if env.utf8 {
            &doctor::UNICODE
        } else {
            &doctor::ASCII
        };
        ui::out(format!("vaultnet doctor: `{}`", layout.root.display()))?;
        for line in doctor::render_tree(&checks, sym) {
            ui::out(line)?;
        }
        ui::out(format!(
            "{} ok, {} warning(s), {} failed{}",
            summary.ok,
            summary.warn,
            summary.fail,
            if summary.skip > 0 {
                format!(", {} skipped", summary.skip)
            } else {
                String::new()
            }
        ))?;
    }
    let failed = summary.fail > 0 || (args.strict && summary.warn > 0);
    Ok(if failed { 1 } else { 0 })
}

fn run_checks(
    layout: &Layout,
    state: &State,
    token: Option<crate::secret::Secret>,
    args: &Args,
) -> Vec<Check> {
    let site = &state.site;
    let topology = match crate::topology::Topology::new(site) {
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
    let timeout = Duration::from_secs_f64(args.timeout);
    let tenants: Vec<(String, crate::state::Tenant)> = state
        .tenants
        .iter()
        .filter(|(n, _)| args.user.as_ref().is_none_or(|u| u == *n))
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    let all_names: Vec<String> = state.tenants.keys().cloned().collect();
    let ca_pem = std::fs::read_to_string(layout.ca_cert()).unwrap_or_default();
    let operator = ops::operator_identity(layout).ok();

    // Files first: cheap, and the rest depends on nothing they find.
    let (ca_check, ca_info) = files::ca(layout, now);
    let mut file_checks = vec![files::state(layout, state), ca_check];
    file_checks.push(files::server_cert(layout, state, ca_info.as_ref(), now));
    file_checks.push(files::operator_cert(layout, ca_info.as_ref(), now));
    for (n, t) in &tenants {
        file_checks.push(files::tenant(layout, n, t, ca_info.as_ref(), now));
    }
    file_checks.push(files::secret_modes(layout, state, args.user.as_deref()));
    let files_group = Check::group("files", "files", file_checks);

    // The network checks are independent: run them at once.
    std::thread::scope(|s| {
        let direct = s.spawn(|| network::direct(site, &ca_pem, operator.as_ref(), timeout));
        let logins: Vec<_> = if args.login {
            tenants
                .iter()
                .map(|(n, t)| {
                    let others: Vec<String> =
                        all_names.iter().filter(|o| *o != n).cloned().collect();
                    let ca = &ca_pem;
                    let endpoint = topology.endpoint(n);
                    s.spawn(move || {
                        let reach = vaultcfg::Reach {
                            endpoint: &endpoint,
                            ca_pem: ca,
                            timeout,
                        };
                        vaultcfg::login(layout, site, &reach, n, t, &others)
                    })
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
            for (n, t) in &tenants {
                children.push(vaultcfg::tenant_objects(&c, site, n, t));
            }
            Check::group("vaultcfg", "Vault config", children)
        });
        let (direct, direct_cert) = direct.join().expect("check thread");
        let entries: Vec<Check> = topology
            .entry_probes()
            .iter()
            .map(|e| {
                network::entry(
                    site,
                    e,
                    &ca_pem,
                    operator.as_ref(),
                    direct_cert.as_deref(),
                    timeout,
                )
            })
            .collect();
        let names: Vec<Check> = tenants
            .iter()
            .map(|(n, _)| vaultcfg::bundle_name(layout, &topology.endpoint(n), n))
            .collect();
        let mut out = vec![files_group, direct];
        out.extend(entries);
        out.extend([
            Check::group(
                "name",
                format!("name `{}` in each bundle", site.dns_name),
                names,
            ),
            config.join().expect("check thread"),
        ]);
        if args.login {
            let results: Vec<Check> = logins
                .into_iter()
                .map(|h| h.join().expect("check thread"))
                .collect();
            out.push(Check::group("login", "tenant logins", results));
        }
        out.push(vaultcfg::nft(layout, &tenants));
        out
    })
}
