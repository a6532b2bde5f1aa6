//! `vaultnet list`: the tenants, when their certificate and secret_id
//! expire, what their bundle maps the Vault name to and why, the endpoint
//! it reaches Vault at, and whether it is installed. Reads the state only.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;

use super::Output;
use crate::env::Env;
use crate::error::Result;
use crate::ui;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n  vaultnet list\n  vaultnet list --output json | jq '.tenants[] | select(.cert_days_left < 30)'\n\nEXIT CODES:\n  0  listed\n  2  not initialised or bad usage"
)]
pub struct Args {
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// `list --output json` (docs/json.md).
#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    tenants: &'a [Row],
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub uid: Option<u32>,
    #[serde(with = "crate::state::rfc3339")]
    pub cert_not_after: OffsetDateTime,
    pub cert_days_left: i64,
    #[serde(with = "crate::state::rfc3339::option")]
    pub secret_id_expires: Option<OffsetDateTime>,
    pub secret_id_days_left: Option<i64>,
    pub wrapped_secret_id: bool,
    pub installed: bool,
    pub installed_to: Option<String>,
    /// What its bundle maps the Vault name to, and why (`null`: the site's,
    /// for a tenant added before vaultnet chose per tenant).
    pub network: Option<crate::state::TenantNetwork>,
    /// How its bundle reaches Vault: the URL and where it lands on the host.
    pub endpoint: EndpointRow,
}

#[derive(Debug, Serialize)]
pub struct EndpointRow {
    pub url: String,
    pub connect: String,
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let opened = crate::store::open(env, dir_flag, false)?;
    let now = OffsetDateTime::now_utc();
    let left = |t: OffsetDateTime| (t - now).whole_days();
    let topology = crate::topology::Topology::new(&opened.state.site)?;
    let rows: Vec<Row> = opened
        .state
        .tenants
        .iter()
        .map(|(name, t)| Row {
            name: name.clone(),
            uid: t.uid,
            cert_not_after: t.cert_not_after,
            cert_days_left: left(t.cert_not_after),
            secret_id_expires: t.secret_id_expires,
            secret_id_days_left: t.secret_id_expires.map(left),
            wrapped_secret_id: t.wrapped_secret_id,
            installed: t.installed_to.is_some(),
            installed_to: t.installed_to.as_ref().map(|p| p.display().to_string()),
            network: t.network.clone(),
            endpoint: {
                let e = topology.tenant_endpoint(name, t);
                EndpointRow {
                    url: e.url,
                    connect: e.connect.to_string(),
                }
            },
        })
        .collect();
    if args.output == Output::Json {
        let doc = Doc {
            schema_version: super::SCHEMA_VERSION,
            tenants: &rows,
        };
        ui::out(serde_json::to_string_pretty(&doc).expect("rows serialise"))?;
        return Ok(0);
    }
    if rows.is_empty() {
        ui::out("no tenants yet: add one with `vaultnet add-user NAME`")?;
        return Ok(0);
    }
    let days = |d: i64| format!(" ({d}d)");
    let site_mapping = topology.profile.host_mapping;
    // `host-gateway (pasta)`: the mapping and what decided it.
    let mapping = |n: &Option<crate::state::TenantNetwork>| match n {
        Some(n) => {
            let why = match (n.source, &n.backend) {
                (crate::state::MappingSource::Detected, Some(b)) => b.clone(),
                (crate::state::MappingSource::Flag, _) => "flag".into(),
                _ => "site".into(),
            };
            format!("{} ({why})", n.mapping)
        }
        None => format!("{site_mapping} (site)"),
    };
    let table: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.uid.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
                format!("{}{}", r.cert_not_after.date(), days(r.cert_days_left)),
                r.secret_id_expires
                    .map(|s| format!("{}{}", s.date(), days((s - now).whole_days())))
                    .unwrap_or_else(|| "never".into()),
                mapping(&r.network),
                r.endpoint.url.clone(),
                r.installed_to.clone().unwrap_or_else(|| "no".into()),
            ]
        })
        .collect();
    let head = [
        "TENANT",
        "UID",
        "CERT EXPIRES",
        "SECRET_ID EXPIRES",
        "MAPPING",
        "ENDPOINT",
        "INSTALLED",
    ];
    let mut w = [0usize; 7];
    for row in std::iter::once(&head.map(String::from)).chain(table.iter()) {
        for (i, c) in row.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: &[String; 7]| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {:w4$}  {:w5$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
            w5 = w[5]
        )
        .trim_end()
        .to_string()
    };
    ui::out(line(&head.map(String::from)))?;
    for r in &table {
        ui::out(line(r))?;
    }
    Ok(0)
}
