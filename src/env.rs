//! The process environment and the operator's token files: the only module
//! that reads either. Captured once at start-up into [`Env`]; everything
//! else is handed what it needs.
//!
//! The operator token comes from, in this order (what the operator typed
//! wins over what the shell happens to hold): `--token-file FILE`, then
//! `VAULT_TOKEN` or `BAO_TOKEN`, then `~/.vault-token` — never from a
//! command-line argument (SECURITY.md S6).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::sys::fsx::{self, MAX_TOKEN_BYTES};

/// The environment vaultnet reads.
#[derive(Debug, Default)]
pub struct Env {
    pub vaultnet_dir: Option<PathBuf>,
    pub vault_token: Option<Secret>,
    /// Which variable the token came from (`VAULT_TOKEN` first).
    pub vault_token_var: Option<&'static str>,
    /// `NO_COLOR` set and not empty (no-color.org), or `TERM=dumb`: no
    /// colour unless `--color always`.
    pub no_color: bool,
    pub home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    /// Whether the locale can show ✓ and ✗.
    pub utf8: bool,
}

impl Env {
    pub fn capture() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let token = ["VAULT_TOKEN", "BAO_TOKEN"].iter().find_map(|k| {
            std::env::var(k)
                .ok()
                .filter(|t| !t.is_empty())
                .map(|t| (*k, t))
        });
        Env {
            vaultnet_dir: var("VAULTNET_DIR").map(PathBuf::from),
            vault_token_var: token.as_ref().map(|(k, _)| *k),
            vault_token: token.map(|(_, t)| Secret::new(t)),
            no_color: var("NO_COLOR").is_some() || var("TERM").is_some_and(|t| t == "dumb"),
            home: var("HOME").map(PathBuf::from),
            xdg_data_home: var("XDG_DATA_HOME").map(PathBuf::from),
            utf8: ["LC_ALL", "LC_CTYPE", "LANG"]
                .iter()
                .find_map(|k| var(k))
                .map(|v| {
                    let v = v.to_string_lossy().to_lowercase();
                    v.contains("utf-8") || v.contains("utf8")
                })
                .unwrap_or(false),
        }
    }

    /// The state directory: `--dir`, then `VAULTNET_DIR`, then the XDG data
    /// directory (`$XDG_DATA_HOME/vaultnet`, else
    /// `~/.local/share/vaultnet`). Made absolute against the working
    /// directory: every path vaultnet writes into a file or prints must
    /// mean the same from anywhere.
    pub fn state_dir(&self, flag: Option<&Path>) -> Result<PathBuf> {
        let dir = match flag
            .map(Path::to_path_buf)
            .or_else(|| self.vaultnet_dir.clone())
        {
            Some(d) => d,
            None => {
                let data = self
                    .xdg_data_home
                    .clone()
                    .filter(|p| p.is_absolute())
                    .or_else(|| self.home.as_ref().map(|h| h.join(".local/share")))
                    .ok_or_else(|| {
                        Error::usage(
                            "cannot find a data directory for vaultnet (no home directory)",
                        )
                        .hint("pass `--dir DIR` or set `VAULTNET_DIR`")
                    })?;
                data.join("vaultnet")
            }
        };
        std::path::absolute(&dir).map_err(|e| {
            Error::usage(format!("cannot make `{}` absolute: {e}", dir.display()))
                .hint("pass an absolute `--dir DIR`")
        })
    }

    /// The operator token, from the first source that has one (see the
    /// module's documentation); `None` when no source has one.
    pub fn operator_token(&self, token_file: Option<&Path>) -> Result<Option<Secret>> {
        if let Some(path) = token_file {
            crate::ui::trace(format!("operator token: from `{}`", path.display()));
            return read_token_file(path, true);
        }
        if let Some(t) = &self.vault_token {
            crate::ui::trace(format!(
                "operator token: from {}",
                self.vault_token_var.unwrap_or("the environment")
            ));
            return Ok(Some(t.clone()));
        }
        let found = match &self.home {
            Some(h) => read_token_file(&h.join(".vault-token"), false),
            None => Ok(None),
        };
        if let Ok(t) = &found {
            crate::ui::trace(match t {
                Some(_) => "operator token: from `~/.vault-token`",
                None => {
                    "operator token: none (no --token-file, VAULT_TOKEN, BAO_TOKEN or ~/.vault-token)"
                }
            });
        }
        found
    }
}

fn read_token_file(path: &Path, required: bool) -> Result<Option<Secret>> {
    match fsx::read_secret(path, MAX_TOKEN_BYTES)? {
        Some(bytes) => {
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                Error::usage(format!("token file `{}` is not text", path.display())).hint(
                    "write the operator token into it as one line of text, or set `VAULT_TOKEN` or `BAO_TOKEN`",
                )
            })?;
            let t = text.trim();
            if t.is_empty() {
                return Err(
                    Error::usage(format!("token file `{}` is empty", path.display())).hint(
                        "write the operator token into it, or set `VAULT_TOKEN` or `BAO_TOKEN`",
                    ),
                );
            }
            Ok(Some(Secret::new(t.to_string())))
        }
        None if required => Err(Error::usage(format!(
            "token file `{}` does not exist",
            path.display()
        ))
        .hint("pass the path of a file holding the operator token")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(token: Option<&str>, home: Option<&Path>) -> Env {
        Env {
            vault_token: token.map(|t| Secret::new(t.into())),
            home: home.map(Path::to_path_buf),
            ..Env::default()
        }
    }

    #[test]
    fn the_token_file_flag_wins_over_the_environment_and_the_home_file() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("t");
        std::fs::write(&f, "from-flag\n").unwrap();
        std::fs::write(d.path().join(".vault-token"), "from-home").unwrap();
        let e = env_with(Some("from-env"), Some(d.path()));
        let t = e.operator_token(Some(&f)).unwrap().unwrap();
        assert_eq!(t.expose(), "from-flag");
        let t = e.operator_token(None).unwrap().unwrap();
        assert_eq!(t.expose(), "from-env");
        let e = env_with(None, Some(d.path()));
        assert_eq!(
            e.operator_token(None).unwrap().unwrap().expose(),
            "from-home"
        );
        assert!(env_with(None, None).operator_token(None).unwrap().is_none());
    }

    #[test]
    fn a_missing_token_file_given_by_flag_is_a_usage_error() {
        let e = env_with(Some("from-env"), None);
        let err = e
            .operator_token(Some(Path::new("/nonexistent/token")))
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.message(),
            "token file `/nonexistent/token` does not exist"
        );
    }

    #[test]
    fn the_state_directory_follows_xdg_and_is_absolute() {
        let mut e = env_with(None, Some(Path::new("/home/op")));
        assert_eq!(
            e.state_dir(None).unwrap(),
            Path::new("/home/op/.local/share/vaultnet")
        );
        e.xdg_data_home = Some("/data".into());
        assert_eq!(e.state_dir(None).unwrap(), Path::new("/data/vaultnet"));
        e.xdg_data_home = Some("relative".into());
        assert_eq!(
            e.state_dir(None).unwrap(),
            Path::new("/home/op/.local/share/vaultnet")
        );
        let rel = e.state_dir(Some(Path::new("state"))).unwrap();
        assert!(rel.is_absolute() && rel.ends_with("state"), "{rel:?}");
    }
}
