//! The Vault objects vaultnet owns, made to converge: the AppRole auth
//! method and the KV v2 mount (init). Each function says what it changed.

use std::time::Duration;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::config::{Secret, Site};
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::layout::Layout;
use crate::vault::{Client, Target};

/// What a converging step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Unchanged(String),
    Changed(String),
}

/// A client for the operator: straight at the loopback listener, with the
/// operator certificate, trusting only the vaultnet CA.
pub fn operator_client(
    layout: &Layout,
    site: &Site,
    token: Option<Secret>,
    timeout: Duration,
) -> Result<Client> {
    let ca = fsx::read_limited(&layout.ca_cert(), 1 << 20)?.ok_or_else(|| {
        Error::usage(format!("`{}` is missing", layout.ca_cert().display()))
            .hint("run `vaultnet init` first")
    })?;
    let identity = operator_identity(layout)?;
    let ca = String::from_utf8(ca).map_err(|_| Error::failed("the CA file is not PEM text"))?;
    let c = Client::new(
        Target {
            url: site.vault_url(),
            resolve: None,
            timeout,
        },
        &ca,
        Some(&identity),
        site.flavor.binary(),
    )?;
    Ok(match token {
        Some(t) => c.with_token(t),
        None => c,
    })
}

/// The operator's certificate and key, concatenated for reqwest.
pub fn operator_identity(layout: &Layout) -> Result<Zeroizing<Vec<u8>>> {
    let mut id = Zeroizing::new(
        std::fs::read(layout.operator_cert()).io_ctx("read", &layout.operator_cert())?,
    );
    let key = Zeroizing::new(
        std::fs::read(layout.operator_key()).io_ctx("read", &layout.operator_key())?,
    );
    id.push(b'\n');
    id.extend_from_slice(&key);
    Ok(id)
}

/// Enables AppRole at `approle/` unless it is there.
pub fn ensure_approle(c: &Client) -> Result<Step> {
    let auths = c.get("sys/auth")?;
    let mounts = auths.get("data").unwrap_or(&auths);
    if let Some(m) = mounts.get("approle/") {
        if m.get("type").and_then(Value::as_str) == Some("approle") {
            return Ok(Step::Unchanged(
                "AppRole auth at `approle/`: present".into(),
            ));
        }
        return Err(
            Error::failed("`auth/approle/` is mounted but is not AppRole")
                .hint("move that auth method elsewhere; vaultnet expects AppRole at `approle/`"),
        );
    }
    c.post(
        "sys/auth/approle",
        &json!({"type": "approle", "description": "vaultnet tenants"}),
    )?;
    Ok(Step::Changed("AppRole auth at `approle/`: enabled".into()))
}

/// Mounts KV v2 at `mount` unless it is there; refuses a different engine.
pub fn ensure_kv2(c: &Client, mount: &str) -> Result<Step> {
    let mounts = c.get("sys/mounts")?;
    let mounts = mounts.get("data").unwrap_or(&mounts);
    let key = format!("{mount}/");
    if let Some(m) = mounts.get(&key) {
        let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
        let version = m
            .get("options")
            .and_then(|o| o.get("version"))
            .and_then(Value::as_str)
            .unwrap_or("1");
        if ty == "kv" && version == "2" {
            return Ok(Step::Unchanged(format!("KV v2 at `{key}`: present")));
        }
        return Err(Error::failed(format!(
            "`{key}` is mounted as `{ty}` version {version}, not KV v2"
        ))
        .hint("choose another mount with `vaultnet init --kv-mount NAME`"));
    }
    c.post(
        &format!("sys/mounts/{mount}"),
        &json!({"type": "kv", "options": {"version": "2"}, "description": "vaultnet tenant secrets"}),
    )?;
    Ok(Step::Changed(format!("KV v2 at `{key}`: enabled")))
}
