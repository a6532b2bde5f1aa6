//! `vaultnet doctor`: checks the whole chain and names the broken link with
//! the exact fix. Exit 0 when nothing failed (warnings allowed), 1 when a
//! check failed (or warned, with `--strict`), 2 for bad usage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::Output;
use crate::doctor::{self, Check, Status};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::ui;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet doctor
  vaultnet doctor --login --user alice
  vaultnet doctor --user alice --probe
  vaultnet doctor --output json | jq -r '.checks[] | select(.status == \"fail\") | .hint'

EXIT CODES:
  0  nothing failed (warnings allowed)
  1  a check failed (or warned, with --strict)
  2  bad usage, or vaultnet is not initialised";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Limit tenant checks to this tenant
    #[arg(long, value_name = "NAME", add = clap_complete::ArgValueCompleter::new(super::completions::tenant_names))]
    pub user: Option<String>,
    /// Also log in as each tenant through the forwarder and check its access
    #[arg(long)]
    pub login: bool,
    /// Also run a short-lived container as the tenant (its own rootless Podman, its bundle's mapping and certificate) and reach Vault from inside its network; needs --user
    #[arg(long)]
    pub probe: bool,
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

/// `doctor --output json` (docs/json.md).
#[derive(Serialize)]
struct Report<'a> {
    schema_version: u32,
    status: Status,
    summary: doctor::Summary,
    checks: Vec<doctor::JsonCheck<'a>>,
    groups: Vec<doctor::JsonGroup<'a>>,
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    if !(args.timeout > 0.0 && args.timeout <= 300.0) {
        return Err(Error::usage(format!("invalid timeout {}", args.timeout))
            .hint("pass seconds between 0 and 300, e.g. `--timeout 3`"));
    }
    if args.probe && args.user.is_none() {
        return Err(
            Error::usage("`--probe` needs the tenant to probe as: `--user NAME`")
                .hint("`vaultnet doctor --user NAME --probe`; `vaultnet list` shows the tenants"),
        );
    }
    if let Some(u) = &args.user {
        crate::state::validate::tenant_name(u)?;
    }
    let dir = env.state_dir(dir_flag)?;
    let layout = Layout::new(&dir);
    if !layout.state_file().exists() {
        return Err(crate::store::not_initialised(&dir));
    }
    crate::sys::fsx::check_trusted_dir(&dir)?;
    let token = env.operator_token(args.token_file.as_deref())?;
    let checks = match crate::store::load(&dir) {
        Ok(Some(state)) => {
            if let Some(u) = &args.user
                && !state.tenants.contains_key(u)
            {
                return Err(Error::usage(format!("there is no tenant `{u}`"))
                    .hint("`vaultnet list` shows the tenants"));
            }
            let options = doctor::Options {
                user: args.user.clone(),
                login: args.login,
                probe: args.probe,
                timeout: Duration::from_secs_f64(args.timeout),
            };
            doctor::run(&layout, &state, token, &options)
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
        let (leaves, groups) = doctor::flatten(&checks);
        let r = Report {
            schema_version: super::SCHEMA_VERSION,
            status: worst,
            summary,
            checks: leaves,
            groups,
        };
        ui::out(serde_json::to_string_pretty(&r).expect("report serialises"))?;
    } else {
        let style = ui::style();
        let sym = &doctor::Symbols {
            color: style.color_out,
            ..if env.utf8 {
                doctor::UNICODE
            } else {
                doctor::ASCII
            }
        };
        ui::out(format!("vaultnet doctor: `{}`", layout.root.display()))?;
        // `-v` shows every check (by default a section that is all green
        // is one line), `-q` only what warned or failed.
        let view = if style.verbose {
            doctor::View::Verbose
        } else if style.quiet {
            doctor::View::Quiet
        } else {
            doctor::View::Default
        };
        for line in doctor::render(&checks, sym, view) {
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

/// The hidden `login-probe`: doctor runs it as a tenant's uid, hands it the
/// probe on stdin, and reads the check back as JSON on stdout.
pub fn login_probe() -> Result<u8> {
    use std::io::Read;
    let mut input = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(crate::sys::fsx::MAX_PEM_BYTES)
        .read_to_end(&mut input)
        .map_err(|e| Error::failed(format!("cannot read the probe: {e}")))?;
    // The parser's message can quote the input, which holds credentials:
    // say only where it broke.
    let probe: doctor::vaultcfg::LoginProbe = serde_json::from_slice(&input).map_err(|e| {
        Error::usage(format!(
            "not a login probe (line {}, column {})",
            e.line(),
            e.column()
        ))
        .hint("`vaultnet doctor --login` runs it; it is not for use by hand")
    })?;
    let check = doctor::vaultcfg::run_probe(&probe);
    ui::out(serde_json::to_string(&check).expect("check serialises"))?;
    Ok(0)
}
