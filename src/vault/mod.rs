//! Talking to Vault: the small blocking HTTP client (`client`) and the
//! converging operations on the objects vaultnet owns (`ops`).

pub mod client;
pub mod ops;

pub use client::{Client, Health, POOL, Response, Target, chain, pointer_to, strings_at};

/// How to unseal a server whose CLI is `cli` (`bao`, `vault`): its listener
/// requires a client certificate, so the CLI needs the mutual-TLS
/// variables `vaultnet init` printed.
pub fn unseal_hint(cli: &str) -> String {
    let p = cli.to_uppercase();
    format!(
        "unseal it: `{cli} operator unseal`, with `{p}_ADDR`, `{p}_CACERT`, `{p}_CLIENT_CERT` and `{p}_CLIENT_KEY` set as `vaultnet init` printed"
    )
}
