//! `vaultnet profiles`: every built-in deployment pattern — its code, what
//! it is, where Vault listens, the files vaultnet writes for the host, and
//! what it cannot do — read from the profiles themselves.

use serde::Serialize;

use super::Output;
use crate::error::Result;
use crate::topology::Topology;
use crate::topology::profile::{self, Profile};
use crate::ui;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet profiles
  vaultnet profiles --output json | jq -r '.profiles[].name'
  vaultnet init --profile l3          # choose one

EXIT CODES:
  0  the list was printed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `profiles --output json` (docs/json.md).
#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    profiles: &'a [Listed],
}

#[derive(Serialize)]
struct Listed {
    name: String,
    code: String,
    default: bool,
    summary: String,
    /// What the text shows after the heading, one line each.
    details: Vec<String>,
}

/// The profile on a sample site: what it writes does not depend on the
/// site's addresses.
fn listed(p: Profile) -> Result<Listed> {
    let site = crate::topology::sample_site(&p)?;
    let t = Topology::with_profile(&site, p.clone())?;
    Ok(Listed {
        name: p.name(),
        default: p.name() == profile::DEFAULT,
        details: t.listing(),
        code: p.code,
        summary: p.summary,
    })
}

pub fn run(args: Args) -> Result<u8> {
    let all: Vec<Listed> = Profile::all()
        .into_iter()
        .map(listed)
        .collect::<Result<_>>()?;
    if args.output == Output::Json {
        let doc = Doc {
            schema_version: super::SCHEMA_VERSION,
            profiles: &all,
        };
        ui::out(serde_json::to_string_pretty(&doc).expect("the list serialises"))?;
        return Ok(0);
    }
    for (i, p) in all.iter().enumerate() {
        if i > 0 {
            ui::out("")?;
        }
        let default = if p.default { ", the default" } else { "" };
        ui::out(format!(
            "{} (pattern {}{default}): {}",
            p.name, p.code, p.summary
        ))?;
        for d in &p.details {
            ui::out(format!("  {d}"))?;
        }
    }
    Ok(0)
}
