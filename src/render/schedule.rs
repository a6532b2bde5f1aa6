//! The systemd timer and service that run `vaultnet renew` daily. The
//! operator token reaches the service as a systemd credential
//! (`LoadCredential=`), a file only the service can read: never in the
//! unit text, its command line or its environment (SECURITY.md S6).

use std::path::Path;

pub const SERVICE: &str = "vaultnet-renew.service";
pub const TIMER: &str = "vaultnet-renew.timer";
/// Where the operator puts the token the service reads.
pub const TOKEN_FILE: &str = "/etc/vaultnet/operator-token";
/// The credential's name, and so its file in `$CREDENTIALS_DIRECTORY` (`%d`).
const CREDENTIAL: &str = "operator-token";

/// One word of an `ExecStart=` line: quoted when it holds a space or a
/// quote, `%` doubled (systemd expands specifiers in command lines), `\`
/// doubled (an escape inside quotes).
fn exec_word(s: &str) -> String {
    let s = s.replace('%', "%%");
    if !s
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        return s;
    }
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            // A line break would end the directive: a C escape instead.
            c if c.is_control() => q.push_str(&format!("\\x{:02x}", c as u32 & 0xff)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The service: `vaultnet --dir STATE renew --token-file %d/operator-token`.
pub fn service(binary: &Path, state_dir: &Path) -> String {
    format!(
        "# vaultnet: renew the certificates and secret_ids that are due, and reach\n\
         # the tenants' agents. Started daily by {TIMER}.\n\
         # The operator token is read from {TOKEN_FILE} (root, 0600) as a systemd\n\
         # credential; it is in neither this file nor the environment.\n\
         [Unit]\n\
         Description=vaultnet renew: certificates and secret_ids that are due\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         LoadCredential={CREDENTIAL}:{TOKEN_FILE}\n\
         ExecStart={bin} --dir {dir} renew --token-file %d/{CREDENTIAL}\n\
         PrivateTmp=yes\n",
        bin = exec_word(&binary.to_string_lossy()),
        dir = exec_word(&state_dir.to_string_lossy()),
    )
}

/// The timer: daily, at a random moment of the hour after midnight, and at
/// the next boot when the machine was off at that time.
pub fn timer() -> String {
    format!(
        "# vaultnet: run {SERVICE} daily.\n\
         [Unit]\n\
         Description=Daily vaultnet renew\n\
         \n\
         [Timer]\n\
         OnCalendar=daily\n\
         RandomizedDelaySec=1h\n\
         Persistent=true\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_reads_the_token_as_a_credential_and_quotes_odd_paths() {
        let s = service(
            Path::new("/usr/local/bin/vaultnet"),
            Path::new("/var/lib/vaultnet"),
        );
        assert!(s.contains(
            "ExecStart=/usr/local/bin/vaultnet --dir /var/lib/vaultnet renew --token-file %d/operator-token\n"
        ), "{s}");
        assert!(s.contains("LoadCredential=operator-token:/etc/vaultnet/operator-token\n"));
        assert!(!s.contains("Environment"), "{s}");
        let odd = service(
            Path::new("/opt/my tools/vaultnet"),
            Path::new("/srv/100%/x\"y"),
        );
        assert!(
            odd.contains("ExecStart=\"/opt/my tools/vaultnet\" --dir \"/srv/100%%/x\\\"y\" renew"),
            "{odd}"
        );
    }

    #[test]
    fn the_timer_is_daily_randomized_and_persistent() {
        let t = timer();
        for line in [
            "OnCalendar=daily\n",
            "RandomizedDelaySec=1h\n",
            "Persistent=true\n",
            "WantedBy=timers.target\n",
        ] {
            assert!(t.contains(line), "{line} missing:\n{t}");
        }
    }
}
