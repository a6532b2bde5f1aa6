//! The tenant bundle: the agent config, the compose override, the Quadlet
//! unit and the tenant's README. Everything a tenant's containers need to
//! read the tenant's own secrets, and nothing else.
//!
//! In-container paths: the bundle is mounted read-only at [`BUNDLE_MOUNT`],
//! the agent keeps its token on a private tmpfs at [`AGENT_DIR`], and
//! rendered secrets land on a tmpfs-backed volume at [`SECRETS_DIR`], shared
//! read-only with the app.

use serde_json::{Value, json};

use super::Endpoint;
use crate::state::{Auth, Flavor};

pub const BUNDLE_MOUNT: &str = "/vaultnet";
pub const AGENT_DIR: &str = "/agent";
pub const SECRETS_DIR: &str = "/secrets";
/// The example secret's name under the tenant's prefix, and its file.
pub const EXAMPLE_SECRET: &str = "app";
/// The compose service of the agent sidecar.
pub const AGENT_SERVICE: &str = "vault-agent";
/// The example app service the override extends.
pub const APP_SERVICE: &str = "app";
/// The `*_FILE` variable the example app reads.
pub const APP_SECRET_VAR: &str = "APP_SECRET_FILE";

pub struct BundleSpec<'a> {
    pub tenant: &'a str,
    /// What names it in Vault's paths: its name, or `SITE.NAME` on a
    /// named site (`Site::vault_name`).
    pub vault_name: &'a str,
    /// Its role's name in Vault (cert auth logs in naming it).
    pub role: &'a str,
    /// How this tenant reaches Vault.
    pub endpoint: &'a Endpoint,
    pub flavor: Flavor,
    pub agent_image: &'a str,
    /// The KV v2 mount and the prefix the tenant's path lives under.
    pub kv_mount: &'a str,
    pub tenant_prefix: &'a str,
    /// `Some(path)` when secret_id is response-wrapped: the creation path
    /// the agent validates (SECURITY.md V5).
    pub wrapped_secret_id_path: Option<String>,
    /// Where the bundle lives on the host when installed (compose default).
    pub installed_at: Option<String>,
    /// How the agent logs in.
    pub auth: Auth,
}

impl BundleSpec<'_> {
    /// The KV v2 API path of the example secret.
    pub fn example_secret_path(&self) -> String {
        format!(
            "{}/data/{}/{}/{EXAMPLE_SECRET}",
            self.kv_mount, self.tenant_prefix, self.vault_name
        )
    }

    /// The path the tenant uses with `kv put` / `kv get`.
    pub fn example_kv_path(&self) -> String {
        format!(
            "{}/{}/{}/{EXAMPLE_SECRET}",
            self.kv_mount, self.tenant_prefix, self.vault_name
        )
    }

    fn extra_hosts(&self) -> Vec<String> {
        self.endpoint.extra_host.iter().cloned().collect()
    }
}

/// The bundle's rendered files, `(name, contents)`: everything but the
/// client certificate, its key and the secret_id, which are issued.
pub fn rendered_files(
    spec: &BundleSpec<'_>,
    ca_pem: &str,
    role_id: Option<&str>,
    cert_expires: &str,
) -> Vec<(String, String)> {
    let t = spec.tenant;
    let mut files = vec![("ca.pem".into(), ca_pem.to_string())];
    if let Some(r) = role_id {
        files.push((crate::layout::ROLE_ID.into(), r.to_string()));
    }
    files.extend([
        (crate::layout::AGENT.into(), agent(spec)),
        (crate::layout::COMPOSE.into(), compose(spec)),
        (format!("{t}-vault-agent.container"), quadlet(spec)),
        (format!("{t}-vaultnet-secrets.volume"), quadlet_volume(spec)),
        ("README.md".into(), readme(spec, cert_expires)),
    ]);
    files
}

fn json_text(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serialises");
    s.push('\n');
    s
}

/// The agent config, as JSON (Vault's HCL parser reads it natively).
pub fn agent(spec: &BundleSpec<'_>) -> String {
    let method = match spec.auth {
        Auth::Approle => approle_method(),
        // The client certificate alone; `reload` re-reads the key file at
        // each login, so a renewed certificate is used without a signal.
        Auth::Cert => json!({
            "type": "cert",
            "mount_path": "auth/cert",
            "config": {
                "name": spec.role,
                "ca_cert": format!("{BUNDLE_MOUNT}/ca.pem"),
                "client_cert": format!("{BUNDLE_MOUNT}/client-key.pem"),
                "client_key": format!("{BUNDLE_MOUNT}/client-key.pem"),
                "reload": true,
            },
        }),
    };
    let template = format!(
        "{{{{ with secret \"{}\" }}}}{{{{ .Data.data.value }}}}{{{{ end }}}}",
        spec.example_secret_path()
    );
    json_text(&json!({
        "vault": {
            "address": spec.endpoint.url,
            "ca_cert": format!("{BUNDLE_MOUNT}/ca.pem"),
            // One file holds the key and its certificate: a renewal
            // replaces both at once (SECURITY.md D1).
            "client_cert": format!("{BUNDLE_MOUNT}/client-key.pem"),
            "client_key": format!("{BUNDLE_MOUNT}/client-key.pem"),
        },
        "auto_auth": {
            "method": [method],
            "sink": [{
                "type": "file",
                // 0600 (JSON has no octal literals).
                "config": { "path": format!("{AGENT_DIR}/token"), "mode": 0o600 },
            }],
        },
        "template_config": {
            "static_secret_render_interval": "5m",
        },
        "template": [{
            "contents": template,
            "destination": format!("{SECRETS_DIR}/{EXAMPLE_SECRET}"),
            "perms": "0400",
            "backup": false,
            "error_on_missing_key": true,
        }],
    }))
}

/// AppRole auto-auth: role_id and secret_id from the bundle.
fn approle_method() -> serde_json::Value {
    let approle = json!({
        "role_id_file_path": format!("{BUNDLE_MOUNT}/role_id"),
        "secret_id_file_path": format!("{BUNDLE_MOUNT}/secret_id"),
        // The bundle is read-only and the agent must log in again after a
        // restart with the same secret_id. A response-wrapped secret_id is
        // unwrapped once before the agent starts (`vaultnet unwrap`): an
        // agent that unwrapped it itself would try the spent token again at
        // its next login.
        "remove_secret_id_file_after_reading": false,
    });
    json!({
        "type": "approle",
        "mount_path": "auth/approle",
        "config": approle,
    })
}

/// Characters compose would interpolate are doubled so they reach the
/// container literally; everything else is quoted by the YAML writer.
fn compose_literal(s: &str) -> String {
    s.replace('$', "$$")
}

/// The compose override: the agent sidecar, and additions to the app.
pub fn compose(spec: &BundleSpec<'_>) -> String {
    let default_dir = spec
        .installed_at
        .as_deref()
        .map(compose_literal)
        .unwrap_or_else(|| "./vaultnet".into());
    let bundle_src = format!("${{VAULTNET_BUNDLE:-{default_dir}}}");
    let bin = spec.flavor.image_binary_path();
    let mut doc = json!({
        "services": {
            AGENT_SERVICE: {
                "image": spec.agent_image,
                "entrypoint": [bin],
                "command": ["agent", format!("-config={BUNDLE_MOUNT}/agent.json")],
                // Container root is the tenant's own uid under rootless
                // Podman; the bundle files it reads are the tenant's.
                "user": "0:0",
                "read_only": true,
                "security_opt": ["no-new-privileges:true"],
                "cap_drop": ["ALL"],
                "extra_hosts": spec.extra_hosts(),
                "volumes": [
                    format!("{bundle_src}:{BUNDLE_MOUNT}:ro"),
                    format!("vaultnet-secrets:{SECRETS_DIR}"),
                ],
                "tmpfs": [format!("{AGENT_DIR}:mode=0700")],
                "environment": {
                    format!("{}_ADDR", spec.flavor.env_prefix()): spec.endpoint.url,
                    "SKIP_SETCAP": "true",
                    "SKIP_CHOWN": "true",
                },
                // `vaultnet renew` finds the agent by this label.
                "labels": { crate::sys::agents::LABEL: spec.tenant },
                // SIGHUP reloads; only a failure restarts it.
                "restart": "on-failure",
            },
            APP_SERVICE: {
                "environment": { APP_SECRET_VAR: format!("{SECRETS_DIR}/{EXAMPLE_SECRET}") },
                "volumes": [format!("vaultnet-secrets:{SECRETS_DIR}:ro")],
                "depends_on": [AGENT_SERVICE],
            },
        },
        "volumes": {
            // Rendered secrets live in memory only.
            "vaultnet-secrets": {
                "driver_opts": { "type": "tmpfs", "device": "tmpfs" },
            },
        },
    });
    // No mapping (pattern L2): no `extra_hosts` at all, so Podman's own
    // `host.containers.internal` is what the agent resolves.
    if spec.extra_hosts().is_empty()
        && let Some(agent) = doc
            .pointer_mut(&format!("/services/{AGENT_SERVICE}"))
            .and_then(Value::as_object_mut)
    {
        agent.remove("extra_hosts");
    }
    let yaml = super::yaml::to_string(&doc);
    format!(
        "# vaultnet bundle for tenant `{tenant}`: a compose override file.\n\
         #   podman-compose -f compose.yaml -f vaultnet/compose.yaml up\n\
         # The `{AGENT_SERVICE}` sidecar logs in to {url} with this bundle's client\n\
         # certificate and AppRole and renders `{kv}` to\n\
         # {SECRETS_DIR}/{EXAMPLE_SECRET} (mode 0400); your `{APP_SERVICE}` service reads it through\n\
         # ${APP_SECRET_VAR}. Set VAULTNET_BUNDLE if the bundle is not at {default_dir}.\n{yaml}",
        tenant = spec.tenant,
        url = spec.endpoint.url,
        kv = spec.example_kv_path(),
    )
}

/// Quadlet keys take the rest of the line; refuse line breaks outright.
fn quadlet_value(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A Quadlet `.container` unit for the agent (Podman ≥ 4.4).
pub fn quadlet(spec: &BundleSpec<'_>) -> String {
    let dir = spec
        .installed_at
        .clone()
        .unwrap_or_else(|| "%h/.config/vaultnet".into());
    format!(
        "# vaultnet agent for tenant `{t}`. Install as\n\
         #   ~/.config/containers/systemd/{t}-vault-agent.container\n\
         # then: systemctl --user daemon-reload && systemctl --user start {t}-vault-agent\n\
         [Unit]\n\
         Description=vaultnet {name} agent for {t}\n\
         \n\
         [Container]\n\
         ContainerName={t}-vault-agent\n\
         Label={label}={t}\n\
         Image={image}\n\
         Entrypoint={bin}\n\
         Exec=agent -config={BUNDLE_MOUNT}/agent.json\n\
         User=0:0\n\
         ReadOnly=true\n\
         NoNewPrivileges=true\n\
         DropCapability=all\n\
         {add_host}\
         Volume={dir}:{BUNDLE_MOUNT}:ro\n\
         Volume={t}-vaultnet-secrets.volume:{SECRETS_DIR}\n\
         Tmpfs={AGENT_DIR}:mode=0700\n\
         Environment={prefix}_ADDR={url}\n\
         \n\
         [Service]\n\
         Restart=on-failure\n\
         # Reload the agent's TLS material (Podman 5.4 has no ReloadSignal=).\n\
         ExecReload=/usr/bin/podman kill --signal HUP --cidfile=%t/%N.cid\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        t = spec.tenant,
        label = crate::sys::agents::LABEL,
        name = spec.flavor.display_name(),
        image = quadlet_value(spec.agent_image),
        bin = spec.flavor.image_binary_path(),
        add_host = spec
            .extra_hosts()
            .iter()
            .map(|h| format!("AddHost={}\n", quadlet_value(h)))
            .collect::<String>(),
        dir = quadlet_value(&dir),
        prefix = spec.flavor.env_prefix(),
        url = spec.endpoint.url,
    )
}

/// The Quadlet `.volume` unit for rendered secrets: tmpfs, so they live
/// in memory only, as in the compose override.
pub fn quadlet_volume(spec: &BundleSpec<'_>) -> String {
    format!(
        "# Rendered secrets of tenant `{t}`, in memory only. Install beside\n\
         # {t}-vault-agent.container in ~/.config/containers/systemd/.\n\
         [Volume]\n\
         Type=tmpfs\n\
         Device=tmpfs\n",
        t = spec.tenant
    )
}

/// The tenant's README: what is in the bundle and how to start it.
pub fn readme(spec: &BundleSpec<'_>, cert_expires: &str) -> String {
    let cli = spec.flavor.binary();
    let prefix = spec.flavor.env_prefix();
    let wrapped = if spec.wrapped_secret_id_path.is_some() {
        "\n`secret_id` came as a response-wrapping token. Before the agent's first\n\
         start, unwrap it once, as yourself: `vaultnet unwrap DIR` (a bundle vaultnet\n\
         installed for you is unwrapped already). It refuses a token that is spent\n\
         or was not made for you: then someone else may have it, so tell the operator.\n"
    } else {
        ""
    };
    let login = match spec.auth {
        Auth::Approle => "| `role_id`, `secret_id` | your AppRole login — secret |",
        Auth::Cert => "| (no secret_id) | you log in with your certificate alone (cert auth) |",
    };
    format!(
        "# vaultnet bundle for `{t}`\n\
         \n\
         Your containers reach {name} at `{url}` with mutual TLS. This folder holds\n\
         everything they need:\n\
         \n\
         | file | what |\n\
         |---|---|\n\
         | `ca.pem` | the CA that signed {name}'s certificate (and yours) |\n\
         | `client.pem` | your client certificate (expires {cert_expires}) |\n\
         | `client-key.pem` | its key, followed by the certificate: the agent reads the pair from this one file — secret |\n\
         {login}\n\
         | `agent.json` | the {name} agent config: logs in, renders secrets as 0400 files |\n\
         | `compose.yaml` | a compose override adding the agent sidecar to your project |\n\
         | `{t}-vault-agent.container`, `{t}-vaultnet-secrets.volume` | the same agent as Quadlet units |\n\
         {wrapped}\n\
         ## Start it\n\
         \n\
         Put this folder in your project as `vaultnet/` (or set `VAULTNET_BUNDLE` to\n\
         where it is), name your service `{APP_SERVICE}`, and read the secret from the\n\
         file named by `${APP_SECRET_VAR}` — never from an environment variable:\n\
         \n\
         ```sh\n\
         podman-compose -f compose.yaml -f vaultnet/compose.yaml up\n\
         ```\n\
         \n\
         ## Your secrets\n\
         \n\
         You may read everything under `{mount}/{prefix_path}/{v}/`. The example\n\
         template renders the `value` field of `{kv}` to\n\
         `{SECRETS_DIR}/{EXAMPLE_SECRET}`:\n\
         \n\
         ```sh\n\
         {cli} kv put -mount={mount} {prefix_path}/{v}/{EXAMPLE_SECRET} value=…   # done by the operator\n\
         ```\n\
         \n\
         Add templates to `agent.json` for more secrets; keep `perms` and `backup = false`.\n\
         Set `{prefix}_ADDR={url}` to use the `{cli}` CLI with this bundle's certificate.\n",
        t = spec.tenant,
        v = spec.vault_name,
        name = spec.flavor.display_name(),
        url = spec.endpoint.url,
        mount = spec.kv_mount,
        prefix_path = spec.tenant_prefix,
        kv = spec.example_kv_path(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Topology;

    /// The endpoint of tenant `alice` on the sample site under `profile`.
    fn site(profile: &str) -> Endpoint {
        let site = crate::state::site::sample_site(profile);
        Topology::new(&site).unwrap().endpoint("alice")
    }

    fn spec(endpoint: &Endpoint) -> BundleSpec<'_> {
        BundleSpec {
            tenant: "alice",
            vault_name: "alice",
            role: "vaultnet-alice",
            endpoint,
            flavor: Flavor::Openbao,
            agent_image: "localhost/bao:test",
            kv_mount: "secret",
            tenant_prefix: "tenants",
            wrapped_secret_id_path: None,
            installed_at: None,
            auth: Auth::Approle,
        }
    }

    #[test]
    fn cert_auth_logs_in_with_the_key_file_alone_and_reloads_it_at_each_login() {
        let e = site("l1");
        let spec = BundleSpec {
            auth: Auth::Cert,
            ..spec(&e)
        };
        let v: serde_json::Value = serde_json::from_str(&agent(&spec)).unwrap();
        let m = &v["auto_auth"]["method"][0];
        assert_eq!(m["type"], "cert");
        assert_eq!(m["mount_path"], "auth/cert");
        assert_eq!(m["config"]["name"], "vaultnet-alice");
        assert_eq!(m["config"]["reload"], true);
        assert_eq!(m["config"]["client_cert"], "/vaultnet/client-key.pem");
        assert_eq!(m["config"]["client_key"], "/vaultnet/client-key.pem");
        assert!(m["config"].get("role_id_file_path").is_none(), "{m}");
        let names: Vec<String> = rendered_files(&spec, "ca", None, "2027-01-01")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(!names.iter().any(|n| n == "role_id"), "{names:?}");
        let table: Vec<String> = crate::layout::bundle_files_for("alice", Auth::Cert)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert!(
            !table.contains(&"role_id".to_string()) && !table.contains(&"secret_id".to_string()),
            "{table:?}"
        );
        let r = readme(&spec, "2027-01-01");
        assert!(r.contains("you log in with your certificate alone"), "{r}");
        assert!(!r.contains("`role_id`, `secret_id`"), "{r}");
    }

    #[test]
    fn agent_config_uses_mtls_approle_and_a_0400_template_without_backup() {
        let s = site("l1");
        let v: serde_json::Value = serde_json::from_str(&agent(&spec(&s))).unwrap();
        assert_eq!(v["vault"]["address"], "https://vault.lan:22300");
        // The key file holds the certificate too: one file, one rename.
        assert_eq!(v["vault"]["client_cert"], "/vaultnet/client-key.pem");
        assert_eq!(v["vault"]["client_key"], "/vaultnet/client-key.pem");
        let m = &v["auto_auth"]["method"][0];
        assert_eq!(m["type"], "approle");
        assert_eq!(m["config"]["remove_secret_id_file_after_reading"], false);
        assert!(
            m["config"]
                .get("secret_id_response_wrapping_path")
                .is_none()
        );
        assert_eq!(v["auto_auth"]["sink"][0]["config"]["mode"], 0o600);
        let t = &v["template"][0];
        assert_eq!(t["perms"], "0400");
        assert_eq!(t["backup"], false);
        assert!(
            t["contents"]
                .as_str()
                .unwrap()
                .contains("secret/data/tenants/alice/app")
        );
    }

    /// A wrapped secret_id is unwrapped before the agent starts: the agent
    /// reads a plain one, so its next login never meets a spent token, and
    /// the README says how.
    #[test]
    fn a_wrapped_bundle_has_an_agent_reading_a_plain_secret_id_and_says_to_unwrap() {
        let s = site("l1");
        let mut sp = spec(&s);
        sp.wrapped_secret_id_path = Some("auth/approle/role/alice/secret-id".into());
        let v: serde_json::Value = serde_json::from_str(&agent(&sp)).unwrap();
        let config = &v["auto_auth"]["method"][0]["config"];
        assert!(
            config.get("secret_id_response_wrapping_path").is_none(),
            "{config}"
        );
        assert_eq!(config["secret_id_file_path"], "/vaultnet/secret_id");
        assert!(readme(&sp, "2027-01-01").contains("`vaultnet unwrap DIR`"));
    }

    #[test]
    fn compose_agent_is_hardened_and_maps_the_name_to_the_host_ip() {
        let s = site("l1");
        let y: serde_json::Value = serde_saphyr::from_str(&compose(&spec(&s))).unwrap();
        let a = &y["services"]["vault-agent"];
        assert_eq!(a["read_only"], true);
        assert_eq!(a["cap_drop"][0], "ALL");
        assert_eq!(a["security_opt"][0], "no-new-privileges:true");
        assert_eq!(a["extra_hosts"][0], "vault.lan:10.9.0.1");
        assert_eq!(a["image"], "localhost/bao:test");
        assert_eq!(
            a["volumes"][0],
            "${VAULTNET_BUNDLE:-./vaultnet}:/vaultnet:ro"
        );
        assert_eq!(
            y["services"]["app"]["environment"]["APP_SECRET_FILE"],
            "/secrets/app"
        );
        assert_eq!(
            y["services"]["app"]["volumes"][0],
            "vaultnet-secrets:/secrets:ro"
        );
        assert_eq!(
            y["volumes"]["vaultnet-secrets"]["driver_opts"]["type"],
            "tmpfs"
        );
        assert!(
            y["services"]["app"].get("image").is_none(),
            "must not override the app's image"
        );
    }

    #[test]
    fn host_gateway_mapping_is_rendered_for_pasta() {
        let s = site("l6");
        let y: serde_json::Value = serde_saphyr::from_str(&compose(&spec(&s))).unwrap();
        assert_eq!(
            y["services"]["vault-agent"]["extra_hosts"][0],
            "vault.lan:host-gateway"
        );
        assert!(quadlet(&spec(&s)).contains("\nAddHost=vault.lan:host-gateway\n"));
    }

    #[test]
    fn installed_bundle_path_with_a_dollar_is_not_interpolated() {
        let s = site("l1");
        let mut sp = spec(&s);
        sp.installed_at = Some("/home/a$b/.config/vaultnet".into());
        let y: serde_json::Value = serde_saphyr::from_str(&compose(&sp)).unwrap();
        assert_eq!(
            y["services"]["vault-agent"]["volumes"][0],
            "${VAULTNET_BUNDLE:-/home/a$$b/.config/vaultnet}:/vaultnet:ro"
        );
    }

    #[test]
    fn every_rendered_file_is_in_the_bundle_table() {
        let e = site("l1");
        let table = crate::layout::bundle_files("alice");
        for (name, _) in rendered_files(&spec(&e), "ca", Some("role"), "2027-01-01") {
            assert!(table.iter().any(|f| f.name == name), "{name}");
        }
    }

    #[test]
    fn quadlet_secrets_volume_is_tmpfs() {
        let s = site("l1");
        let v = quadlet_volume(&spec(&s));
        assert!(v.contains("\n[Volume]\nType=tmpfs\nDevice=tmpfs\n"), "{v}");
    }

    /// Quadlet keys Podman documents for `[Container]` (podman-systemd.unit(5)).
    const QUADLET_KEYS: &[&str] = &[
        "ContainerName",
        "Image",
        "Entrypoint",
        "Exec",
        "User",
        "ReadOnly",
        "NoNewPrivileges",
        "DropCapability",
        "AddHost",
        "Label",
        "Volume",
        "Tmpfs",
        "Environment",
    ];

    #[test]
    fn quadlet_uses_only_documented_keys_and_hardens_the_agent() {
        let s = site("l1");
        let q = quadlet(&spec(&s));
        let mut section = "";
        for line in q.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            if line.starts_with('[') {
                section = line;
                continue;
            }
            let key = line.split_once('=').unwrap().0;
            if section == "[Container]" {
                assert!(QUADLET_KEYS.contains(&key), "undocumented key {key}");
            }
        }
        for want in [
            "ReadOnly=true",
            "NoNewPrivileges=true",
            "DropCapability=all",
            "AddHost=vault.lan:10.9.0.1",
            "Volume=%h/.config/vaultnet:/vaultnet:ro",
            "Volume=alice-vaultnet-secrets.volume:/secrets",
            "Tmpfs=/agent:mode=0700",
            "Environment=BAO_ADDR=https://vault.lan:22300",
        ] {
            assert!(q.lines().any(|l| l == want), "missing {want}:\n{q}");
        }
    }
}
