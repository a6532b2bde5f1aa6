//! `vaultnet unwrap [DIR]`: the tenant's one-shot bootstrap of a bundle
//! whose secret_id came response-wrapped. Run as the tenant (vaultnet runs
//! it as the tenant for a bundle it installed), it checks that the
//! wrapping token was made by vaultnet for this tenant's role and is
//! unused — else someone else unwrapped it, and it says so — then unwraps
//! it through the tenant's own endpoint with the bundle's certificate and
//! writes the plain secret_id the agent reads at every login, restarts
//! included (SECURITY.md V5). No state directory and no operator token.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::layout;
use crate::secret::Secret;
use crate::sys::fsx;
use crate::ui;
use crate::vault::{Client, Target};

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet unwrap ~/.config/vaultnet
  vaultnet unwrap . --connect 10.0.0.5:22300

EXIT CODES:
  0  unwrapped, or the secret_id was plain already
  1  the wrapping token is spent, expired or not vaultnet's, or Vault did not answer
  2  not a bundle, bad usage; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The bundle directory
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Where the bundle's Vault address leads from here [default: its compose.yaml `extra_hosts`, else DNS]
    #[arg(long, value_name = "IP:PORT")]
    pub connect: Option<SocketAddr>,
    /// Seconds to wait for Vault
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
}

pub fn run(args: Args) -> Result<u8> {
    let dir = &args.dir;
    let not_bundle = |what: &str| {
        Error::usage(format!(
            "`{}` is not a vaultnet bundle: {what}",
            dir.display()
        ))
        .hint("pass the bundle's directory, e.g. `vaultnet unwrap ~/.config/vaultnet`")
    };
    let read = |name: &str| -> Result<String> {
        fsx::read_text(&dir.join(name), fsx::MAX_FILE_BYTES)?
            .ok_or_else(|| not_bundle(&format!("no `{name}`")))
    };
    let agent: Value = serde_json::from_str(&read(layout::AGENT)?)
        .map_err(|_| not_bundle("agent.json is not JSON"))?;
    let url = agent
        .pointer("/vault/address")
        .and_then(Value::as_str)
        .ok_or_else(|| not_bundle("agent.json names no Vault address"))?
        .to_string();
    let (host, port) = host_port(&url)
        .ok_or_else(|| not_bundle("agent.json's address is not https://NAME:PORT"))?;
    let ca = read("ca.pem")?;
    let identity = fsx::read_secret(&dir.join(layout::CLIENT_KEY), fsx::MAX_PEM_BYTES)?
        .ok_or_else(|| not_bundle("no `client-key.pem`"))?;
    let tenant = crate::pki::CertInfo::parse(&String::from_utf8_lossy(&identity))
        .ok()
        .and_then(|c| c.common_name)
        .ok_or_else(|| not_bundle("`client-key.pem` holds no certificate"))?;
    let sid_path = dir.join(layout::SECRET_ID);
    let token = fsx::read_secret(&sid_path, fsx::MAX_TOKEN_BYTES)?
        .map(|b| Secret::new(String::from_utf8_lossy(&b).trim().to_string()))
        .ok_or_else(|| not_bundle("no `secret_id`"))?;
    if crate::vault::ops::is_plain_secret_id(token.expose()) {
        ui::out(format!(
            "`{}` holds a plain secret_id already: nothing to unwrap",
            sid_path.display()
        ))?;
        return Ok(0);
    }
    let connect = match args.connect {
        Some(c) => c,
        None => extra_host(dir, &host, port)?,
    };
    let client = Client::new(
        Target {
            url: format!("https://{host}:{port}"),
            resolve: Some((&host, connect)),
            timeout: Duration::from_secs(args.timeout),
        },
        &ca,
        Some(&identity),
        "bao",
    )?;
    // Which path made it, asked before it is used: a token vaultnet did
    // not make for this tenant's role is never unwrapped.
    let lookup = client.raw(
        reqwest::Method::POST,
        "sys/wrapping/lookup",
        Some(&json!({ "token": token.expose() })),
        None,
    )?;
    let ask = format!("ask the operator for a new one: `vaultnet add-user {tenant} --rotate`");
    if lookup.status == 400 {
        return Err(Error::failed(format!(
            "the wrapping token in `{}` was already used or has expired; if you did not unwrap it, someone else may have",
            sid_path.display()
        ))
        .hint(ask));
    }
    let v = client.check(reqwest::Method::POST, "sys/wrapping/lookup", lookup)?;
    let made_by = v
        .pointer("/data/creation_path")
        .and_then(Value::as_str)
        .unwrap_or("");
    let by_vaultnet = made_by
        .strip_prefix("auth/approle/role/")
        .and_then(|rest| rest.strip_suffix("/secret-id"))
        .is_some_and(|role| crate::policy::names_tenant(role, &tenant));
    if !by_vaultnet {
        return Err(Error::failed(format!(
            "the wrapping token in `{}` was made by `{}`, not by vaultnet for `{tenant}`: not unwrapped",
            sid_path.display(),
            made_by.escape_debug()
        ))
        .hint(ask));
    }
    let unwrapped = client
        .with_token(token)
        .post("sys/wrapping/unwrap", &json!({}))?;
    let secret_id = unwrapped
        .pointer("/data/secret_id")
        .and_then(Value::as_str)
        .map(|s| Secret::new(s.to_string()))
        .ok_or_else(|| {
            Error::failed("Vault's answer to the unwrap holds no secret_id").hint(ask.clone())
        })?;
    fsx::write_atomic(&sid_path, secret_id.expose().as_bytes(), fsx::SECRET)?;
    ui::out(format!(
        "unwrapped the secret_id into `{}`: the agent can start",
        sid_path.display()
    ))?;
    Ok(0)
}

fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("https://")?.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}

/// Where the bundle's compose file maps `host`: that address and `port`;
/// else whatever DNS says.
fn extra_host(dir: &Path, host: &str, port: u16) -> Result<SocketAddr> {
    let compose =
        fsx::read_text(&dir.join(layout::COMPOSE), fsx::MAX_FILE_BYTES)?.unwrap_or_default();
    let doc: Value = serde_saphyr::from_str(&compose).unwrap_or(Value::Null);
    let hosts = crate::vault::strings_at(
        &doc,
        &format!(
            "/services/{}/extra_hosts",
            crate::render::bundle::AGENT_SERVICE
        ),
    );
    let mapped = hosts
        .iter()
        .find_map(|h| h.strip_prefix(&format!("{host}:")))
        .map(str::to_string);
    let pass = || {
        Error::usage(format!("cannot tell where `{host}` leads from here")).hint(format!(
            "pass `--connect IP:{port}` (the host's forwarder address)"
        ))
    };
    match mapped {
        Some(ip) => ip
            .parse()
            .map(|ip| SocketAddr::new(ip, port))
            .map_err(|_| pass()),
        None => std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(pass),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_a_plain_secret_id_and_a_token_is_not() {
        use crate::vault::ops::is_plain_secret_id;
        assert!(is_plain_secret_id("0b3f2c9e-1d2a-4e5f-8a9b-0c1d2e3f4a5b"));
        assert!(!is_plain_secret_id("s.AbCdEf0123456789"));
        assert!(!is_plain_secret_id("0b3f2c9e-1d2a-4e5f-8a9b"));
        assert_eq!(
            host_port("https://vault.lan:22300"),
            Some(("vault.lan".into(), 22300))
        );
    }
}
