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
        (crate::layout::EXAMPLE_APP.into(), example_app(spec)),
        (crate::layout::CLI_ENV.into(), cli_env(spec)),
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
         #   podman-compose -f compose.yaml -f {dir}/compose.yaml up\n\
         # The `{AGENT_SERVICE}` sidecar logs in to {url} with this bundle's client\n\
         # certificate and AppRole and renders `{kv}` to\n\
         # {SECRETS_DIR}/{EXAMPLE_SECRET} (mode 0400); your `{APP_SERVICE}` service reads it through\n\
         # ${APP_SECRET_VAR}. Set VAULTNET_BUNDLE if the bundle is not at {default_dir}.\n{yaml}",
        tenant = spec.tenant,
        url = spec.endpoint.url,
        kv = spec.example_kv_path(),
        dir = bundle_dir(spec),
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

/// The example app's image: busybox, for its shell and `sha256sum`.
pub const EXAMPLE_APP_IMAGE: &str = "docker.io/library/busybox:1.36";

/// `s` as one word for a POSIX shell: as it is when it holds nothing the
/// shell treats specially, else single-quoted.
fn sh_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@%+=:,-".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Where the bundle is, as the tenant's commands name it: the installed
/// folder, or (handed over) the project's `vaultnet/` folder.
fn bundle_dir(spec: &BundleSpec<'_>) -> String {
    spec.installed_at
        .as_deref()
        .map(sh_word)
        .unwrap_or_else(|| "vaultnet".into())
}

/// The example app: a compose file that starts as is with the bundle's
/// override. It waits for the rendered file, says what it sees — the mode
/// and a digest, never the secret — and exits; it fails when the secret
/// is in its environment or its secrets volume is writable.
pub fn example_app(spec: &BundleSpec<'_>) -> String {
    let dir = bundle_dir(spec);
    format!(
        "# An example app for vaultnet tenant `{t}`: it reads its secret from the\n\
         # file the bundle's agent renders, never from its environment. Start it\n\
         # with the bundle's compose override (README.md, \"Try the example app\"):\n\
         #   podman-compose -f {EXAMPLE_APP} -f {dir}/compose.yaml up --exit-code-from {APP_SERVICE}\n\
         # It waits for the file, prints its mode and SHA-256 (not the secret) and\n\
         # exits. `$$` is compose's escape for a `$` the shell should see.\n\
         services:\n\
         \x20 {APP_SERVICE}:\n\
         \x20   image: {EXAMPLE_APP_IMAGE}\n\
         \x20   read_only: true\n\
         \x20   cap_drop: [ALL]\n\
         \x20   security_opt: [\"no-new-privileges:true\"]\n\
         \x20   command:\n\
         \x20     - /bin/sh\n\
         \x20     - -c\n\
         \x20     - |\n\
         \x20       f=\"$${APP_SECRET_VAR}\"\n\
         \x20       i=0\n\
         \x20       until [ -s \"$$f\" ]; do\n\
         \x20         i=$$((i + 1))\n\
         \x20         if [ \"$$i\" -gt 120 ]; then echo \"app: no secret at $$f after 60 s\"; exit 1; fi\n\
         \x20         sleep 0.5\n\
         \x20       done\n\
         \x20       echo \"app: $$f: mode $$(stat -c %a \"$$f\"), sha256 $$(sha256sum < \"$$f\" | cut -d ' ' -f 1)\"\n\
         \x20       if env | grep -qF -f \"$$f\"; then echo \"app: the secret is in the environment\"; exit 1; fi\n\
         \x20       if touch \"$$(dirname \"$$f\")/probe\" 2>/dev/null; then echo \"app: the secrets volume is writable\"; exit 1; fi\n\
         \x20       echo \"app: done\"\n",
        t = spec.tenant,
        EXAMPLE_APP = crate::layout::EXAMPLE_APP,
    )
}

/// The CLI's environment for this bundle: the host's address of the
/// endpoint, the server name its certificate is checked for, the CA and
/// the client certificate and key. Sourced by the tenant's shell.
pub fn cli_env(spec: &BundleSpec<'_>) -> String {
    let p = spec.flavor.env_prefix();
    let (source, default) = match spec.installed_at.as_deref() {
        Some(dir) => (
            format!(". {}/{}", sh_word(dir), crate::layout::CLI_ENV),
            sh_word(dir),
        ),
        None => (
            format!(". ./{}   (in this folder)", crate::layout::CLI_ENV),
            "$PWD".into(),
        ),
    };
    format!(
        "# The `{cli}` CLI's settings for vaultnet tenant `{t}`. Source this file:\n\
         #   {source}\n\
         # (VAULTNET_BUNDLE, when set, names the bundle's folder instead.) It\n\
         # connects to the host's address and checks {name}'s certificate for\n\
         # `{server}`, the name your containers use. README.md says how to log in.\n\
         if [ -z \"${{VAULTNET_BUNDLE:-}}\" ]; then VAULTNET_BUNDLE={default}; fi\n\
         export {p}_ADDR={addr}\n\
         export {p}_TLS_SERVER_NAME={server_word}\n\
         export {p}_CACERT=\"$VAULTNET_BUNDLE/ca.pem\"\n\
         export {p}_CLIENT_CERT=\"$VAULTNET_BUNDLE/{cert}\"\n\
         export {p}_CLIENT_KEY=\"$VAULTNET_BUNDLE/{key}\"\n",
        cli = spec.flavor.binary(),
        t = spec.tenant,
        name = spec.flavor.display_name(),
        server = spec.endpoint.name,
        server_word = sh_word(&spec.endpoint.name),
        addr = sh_word(&format!("https://{}", spec.endpoint.connect)),
        cert = crate::layout::CLIENT_CERT,
        key = crate::layout::CLIENT_KEY,
    )
}

/// What the bundle's `extra_hosts` entry needs of the tenant's Podman.
fn mapping_needs(spec: &BundleSpec<'_>) -> String {
    let name = &spec.endpoint.name;
    match spec.endpoint.extra_host.as_deref() {
        Some(h) if h.ends_with(":host-gateway") => format!(
            "| this bundle's `extra_hosts: {h}` | Podman 5.3 or later with pasta (`host-gateway` is the host under pasta) |"
        ),
        Some(h) => format!(
            "| this bundle's `extra_hosts: {h}` | slirp4netns, Podman's rootless network before 5.0 (from 5.0 on, choose it with `default_rootless_network_cmd = \"slirp4netns\"` in `~/.config/containers/containers.conf`); under pasta the host address is the container's own: ask your operator for `--host-mapping host-gateway` |"
        ),
        None => format!(
            "| this bundle (no `extra_hosts`) | any of these Podman versions: `{name}` is the name Podman gives the host |"
        ),
    }
}

/// The tenant's README, written for where the bundle is: what is in it,
/// the example app, the tenant's own app, the CLI, the Quadlet units, the
/// Podman versions, and the agent config field by field.
pub fn readme(spec: &BundleSpec<'_>, cert_expires: &str) -> String {
    let t = spec.tenant;
    // What names the tenant in Vault's paths (`SITE.NAME` on a named site).
    let v = spec.vault_name;
    let cli = spec.flavor.binary();
    let name = spec.flavor.display_name();
    let dir = bundle_dir(spec);
    let kv = spec.example_kv_path();
    let mount = spec.kv_mount;
    let rel_path = format!("{}/{v}/{EXAMPLE_SECRET}", spec.tenant_prefix);
    let env_file = crate::layout::CLI_ENV;
    let app_file = crate::layout::EXAMPLE_APP;
    let wrapped = if spec.wrapped_secret_id_path.is_some() {
        "\n`secret_id` came as a response-wrapping token. Before the agent's first\n\
         start, unwrap it once, as yourself: `vaultnet unwrap DIR` (a bundle vaultnet\n\
         installed for you is unwrapped already). It refuses a token that is spent\n\
         or was not made for you: then someone else may have it, so tell the operator.\n"
    } else {
        ""
    };
    let login_row = match spec.auth {
        Auth::Approle => "| `role_id`, `secret_id` | your AppRole login — secret |",
        Auth::Cert => "| (no secret_id) | you log in with your certificate alone (cert auth) |",
    };
    let (where_text, example_cd, quadlet_note) = match spec.installed_at.as_deref() {
        Some(d) => (
            format!(
                "vaultnet installed this bundle for you in `{d}`.\n\
                 vaultnet rewrites its files when your operator runs `vaultnet add-user`\n\
                 again: keep your own changes elsewhere."
            ),
            "mkdir -p ~/vaultnet-example && cd ~/vaultnet-example\n".to_string(),
            String::new(),
        ),
        None => (
            "Put this folder in your project as `vaultnet/` (or set `VAULTNET_BUNDLE`\n\
             to where it is); the commands below run in your project's folder."
                .to_string(),
            String::new(),
            "\n\nThe units mount the bundle from `~/.config/vaultnet`: copy this folder\n\
             there first (`mkdir -p ~/.config/vaultnet && cp -R vaultnet/. ~/.config/vaultnet/`)."
                .to_string(),
        ),
    };
    let quadlet_dir = spec
        .installed_at
        .as_deref()
        .map(sh_word)
        .unwrap_or_else(|| "~/.config/vaultnet".into());
    let source = match spec.installed_at {
        Some(_) => format!(". {dir}/{env_file}"),
        None => format!("cd vaultnet && . ./{env_file}"),
    };
    let login = match spec.auth {
        Auth::Approle => format!(
            "{cli} write -field=token auth/approle/login role_id=@\"$VAULTNET_BUNDLE/role_id\" secret_id=@\"$VAULTNET_BUNDLE/secret_id\" | {cli} login -no-print -"
        ),
        Auth::Cert => format!(
            "{cli} login -no-print -method=cert name={}",
            sh_word(spec.role)
        ),
    };
    let how_login = match spec.auth {
        Auth::Approle => {
            "log in with your AppRole (role_id and secret_id are read\n\
             from their files, never put on the command line)"
        }
        Auth::Cert => "log in with your client certificate (cert auth)",
    };
    let method_doc = match spec.auth {
        Auth::Approle => {
            "- `auto_auth.method`: AppRole, with `role_id_file_path` and\n  \
                          `secret_id_file_path` in the bundle. `remove_secret_id_file_after_reading`\n  \
                          is `false`: the bundle is mounted read-only, and the agent logs in again\n  \
                          with the same secret_id after a restart."
        }
        Auth::Cert => {
            "- `auto_auth.method`: cert auth, with the client certificate and key;\n  \
                       `reload: true` reads them again at each login, so a renewed certificate\n  \
                       is used without a restart."
        }
    };
    let prefix = spec.flavor.env_prefix();
    format!(
        "# vaultnet bundle for `{t}`\n\
         \n\
         Your containers reach {name} at `{url}` with mutual TLS and read\n\
         your secrets as files.\n\
         \n\
         {where_text}\n\
         \n\
         | file | what |\n\
         |---|---|\n\
         | `ca.pem` | the CA that signed {name}'s certificate (and yours) |\n\
         | `client.pem` | your client certificate (expires {cert_expires}) |\n\
         | `client-key.pem` | its key, followed by the certificate: the agent reads the pair from this one file — secret |\n\
         {login_row}\n\
         | `agent.json` | the {name} agent config: logs in, renders secrets as 0400 files (below, field by field) |\n\
         | `compose.yaml` | a compose override adding the agent sidecar to your project |\n\
         | `{app_file}` | an example app that starts as is with `compose.yaml` |\n\
         | `{env_file}` | the `{cli}` CLI's settings for this bundle |\n\
         | `{t}-vault-agent.container`, `{t}-vaultnet-secrets.volume` | the same agent as Quadlet units |\n\
         {wrapped}\n\
         ## Try the example app\n\
         \n\
         Needs Podman and podman-compose (versions below). The `{AGENT_SERVICE}` service\n\
         logs in and renders the `value` field of `{kv}` to\n\
         `{SECRETS_DIR}/{EXAMPLE_SECRET}` (mode 0400, in memory); the `{APP_SERVICE}` service waits for it,\n\
         prints its mode and SHA-256 (never the secret), and exits, which stops the project:\n\
         \n\
         ```sh\n\
         {example_cd}cp {dir}/{app_file} .\n\
         podman-compose -f {app_file} -f {dir}/compose.yaml up --exit-code-from {APP_SERVICE}\n\
         ```\n\
         \n\
         Compare the digest with `printf %s VALUE | sha256sum`. Nothing there yet? Your\n\
         operator writes it: `{cli} kv put -mount={mount} {rel_path} value=…`.\n\
         \n\
         ## Your own app\n\
         \n\
         Name its service `{APP_SERVICE}` and read the secret from the file that\n\
         `${APP_SECRET_VAR}` names — never from an environment variable. Give your compose\n\
         file first and the bundle's override after it:\n\
         \n\
         ```sh\n\
         podman-compose -f compose.yaml -f {dir}/compose.yaml up -d\n\
         ```\n\
         \n\
         You may read everything under `{mount}/{prefix_path}/{v}/`.\n\
         \n\
         ## The `{cli}` CLI\n\
         \n\
         `{env_file}` sets `{prefix}_ADDR` (the host's address: `{connect}`), `{prefix}_TLS_SERVER_NAME`\n\
         (`{server}`, the name in {name}'s certificate), `{prefix}_CACERT`, `{prefix}_CLIENT_CERT` and\n\
         `{prefix}_CLIENT_KEY`. The lines below source it, {how_login},\n\
         keep the token where the CLI keeps it (`~/.vault-token`), and read your\n\
         secret:\n\
         \n\
         ```sh\n\
         {source}\n\
         {login}\n\
         {cli} kv get -mount={mount} -field=value {rel_path}\n\
         ```\n\
         \n\
         ## The agent as Quadlet units (instead of compose)\n\
         \n\
         Needs Podman 4.4 or later and a systemd user session (`loginctl enable-linger`\n\
         keeps it running when you log out).{quadlet_note}\n\
         \n\
         ```sh\n\
         mkdir -p ~/.config/containers/systemd\n\
         cp {quadlet_dir}/{t}-vault-agent.container {quadlet_dir}/{t}-vaultnet-secrets.volume ~/.config/containers/systemd/\n\
         systemctl --user daemon-reload\n\
         systemctl --user start {t}-vault-agent\n\
         ```\n\
         \n\
         Your app's own `.container` unit then reads the secrets with\n\
         `Volume={t}-vaultnet-secrets.volume:{SECRETS_DIR}:ro` and\n\
         `Environment={APP_SECRET_VAR}={SECRETS_DIR}/{EXAMPLE_SECRET}`, after `Requires={t}-vault-agent.service`\n\
         and `After={t}-vault-agent.service` in its `[Unit]`.\n\
         \n\
         ## Podman versions\n\
         \n\
         | to use | you need |\n\
         |---|---|\n\
         | `compose.yaml` with podman-compose | Podman 4.3 or later |\n\
         | the Quadlet units | Podman 4.4 or later |\n\
         {mapping}\n\
         \n\
         vaultnet's own tests run these bundles with Podman 4.3 (slirp4netns) and 5.4\n\
         (pasta), and podman-compose 1.6.\n\
         \n\
         ## `agent.json`, field by field\n\
         \n\
         The {name} agent reads JSON as it reads HCL. Paths are inside the container:\n\
         the bundle is mounted read-only at `{BUNDLE_MOUNT}`.\n\
         \n\
         - `vault`: `address` is `{url}` (your containers resolve `{server}`\n  \
           through `extra_hosts`); `ca_cert` is the CA, and `client_cert` and\n  \
           `client_key` are both `client-key.pem`, which holds the key and the\n  \
           certificate, so a renewal replaces the pair at once.\n\
         {method_doc}\n\
         - `auto_auth.sink`: the agent's token, at `{AGENT_DIR}/token` on a private\n  \
           tmpfs. `mode` is `384`, which is 0600: JSON has no octal numbers.\n\
         - `template_config.static_secret_render_interval`: how often secrets are read\n  \
           again (`5m`).\n\
         - `template`: one entry per rendered file. `contents` is a template (`with\n  \
           secret \"{mount}/data/…\"` reads KV v2; `.Data.data.value` is the field), `destination`\n  \
           the file on the secrets volume, `perms` the string `\"0400\"` (octal, as a\n  \
           string), `backup` `false` (no `.bak` copies of old secrets beside them) and\n  \
           `error_on_missing_key` `true` (a missing field is an error, not an empty file).\n\
         \n\
         To render another secret, add an entry to `template` with its own\n\
         `destination` under `{SECRETS_DIR}/`, the same `perms`, `backup` and\n\
         `error_on_missing_key`, in a copy of `agent.json` you keep: vaultnet rewrites\n\
         the bundle's copy. For example, the `password` field of `{mount}/{prefix_path}/{v}/db`:\n\
         \n\
         ```json\n\
         {{\n  \
           \"contents\": \"{{{{ with secret \\\"{mount}/data/{prefix_path}/{v}/db\\\" }}}}{{{{ .Data.data.password }}}}{{{{ end }}}}\",\n  \
           \"destination\": \"{SECRETS_DIR}/db\",\n  \
           \"perms\": \"0400\",\n  \
           \"backup\": false,\n  \
           \"error_on_missing_key\": true\n\
         }}\n\
         ```\n",
        url = spec.endpoint.url,
        server = spec.endpoint.name,
        connect = format_args!("https://{}", spec.endpoint.connect),
        prefix_path = spec.tenant_prefix,
        mapping = mapping_needs(spec),
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

    /// The fenced `sh` blocks of a README, in order.
    fn sh_blocks(readme: &str) -> Vec<String> {
        readme
            .split("```sh\n")
            .skip(1)
            .map(|b| b.split_once("```\n").expect("a closed block").0.to_string())
            .collect()
    }

    #[test]
    fn an_installed_bundles_readme_gives_commands_for_its_own_folder() {
        let e = site("l1");
        let mut sp = spec(&e);
        sp.installed_at = Some("/home/alice/.config/vaultnet".into());
        let r = readme(&sp, "2027-01-01");
        let d = "/home/alice/.config/vaultnet";
        assert_eq!(
            sh_blocks(&r),
            [
                format!(
                    "mkdir -p ~/vaultnet-example && cd ~/vaultnet-example\n\
                     cp {d}/app.yaml .\n\
                     podman-compose -f app.yaml -f {d}/compose.yaml up --exit-code-from app\n"
                ),
                format!("podman-compose -f compose.yaml -f {d}/compose.yaml up -d\n"),
                format!(
                    ". {d}/cli.env\n\
                     bao write -field=token auth/approle/login role_id=@\"$VAULTNET_BUNDLE/role_id\" \
                     secret_id=@\"$VAULTNET_BUNDLE/secret_id\" | bao login -no-print -\n\
                     bao kv get -mount=secret -field=value tenants/alice/app\n"
                ),
                format!(
                    "mkdir -p ~/.config/containers/systemd\n\
                     cp {d}/alice-vault-agent.container {d}/alice-vaultnet-secrets.volume ~/.config/containers/systemd/\n\
                     systemctl --user daemon-reload\n\
                     systemctl --user start alice-vault-agent\n"
                ),
            ]
        );
        assert!(
            r.contains(&format!("installed this bundle for you in `{d}`")),
            "{r}"
        );
        assert!(!r.contains("as `vaultnet/`"), "{r}");
        assert!(!r.contains("backup = false"), "{r}");
        assert!(r.contains("`mode` is `384`, which is 0600"), "{r}");
        assert!(
            r.contains("| the Quadlet units | Podman 4.4 or later |\n"),
            "{r}"
        );
        assert!(
            r.contains("| `compose.yaml` with podman-compose | Podman 4.3 or later |\n"),
            "{r}"
        );
        // The JSON example of another template is a valid template entry.
        let json = r
            .split("```json\n")
            .nth(1)
            .unwrap()
            .split_once("```")
            .unwrap()
            .0;
        let t: Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            t["contents"],
            "{{ with secret \"secret/data/tenants/alice/db\" }}{{ .Data.data.password }}{{ end }}"
        );
        assert_eq!(t["perms"], "0400");
    }

    #[test]
    fn a_handed_over_bundles_readme_puts_it_in_the_project_as_vaultnet() {
        let e = site("l1");
        let r = readme(&spec(&e), "2027-01-01");
        let blocks = sh_blocks(&r);
        assert_eq!(
            blocks[0],
            "cp vaultnet/app.yaml .\n\
             podman-compose -f app.yaml -f vaultnet/compose.yaml up --exit-code-from app\n"
        );
        assert!(blocks[2].starts_with("cd vaultnet && . ./cli.env\n"), "{r}");
        assert!(
            blocks[3].contains("cp ~/.config/vaultnet/alice-vault-agent.container "),
            "{r}"
        );
        assert!(
            r.contains("Put this folder in your project as `vaultnet/`"),
            "{r}"
        );
        assert!(r.contains("cp -R vaultnet/. ~/.config/vaultnet/"), "{r}");
    }

    #[test]
    fn the_cli_env_points_at_the_host_address_with_the_certificates_name_and_files() {
        let e = site("l1");
        let mut sp = spec(&e);
        sp.installed_at = Some("/home/alice/.config/vaultnet".into());
        let body = |text: &str| -> String {
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        assert_eq!(
            body(&cli_env(&sp)),
            "if [ -z \"${VAULTNET_BUNDLE:-}\" ]; then VAULTNET_BUNDLE=/home/alice/.config/vaultnet; fi\n\
             export BAO_ADDR=https://10.9.0.1:22300\n\
             export BAO_TLS_SERVER_NAME=vault.lan\n\
             export BAO_CACERT=\"$VAULTNET_BUNDLE/ca.pem\"\n\
             export BAO_CLIENT_CERT=\"$VAULTNET_BUNDLE/client.pem\"\n\
             export BAO_CLIENT_KEY=\"$VAULTNET_BUNDLE/client-key.pem\"\n"
        );
        sp.installed_at = Some("/home/o'neil/vault net".into());
        sp.flavor = Flavor::Vault;
        let text = cli_env(&sp);
        assert!(
            text.contains("then VAULTNET_BUNDLE='/home/o'\\''neil/vault net'; fi\n"),
            "{text}"
        );
        assert!(
            text.contains("\nexport VAULT_ADDR=https://10.9.0.1:22300\n"),
            "{text}"
        );
        assert!(
            text.contains("\nexport VAULT_TLS_SERVER_NAME=vault.lan\n"),
            "{text}"
        );
        assert!(!text.contains("BAO_"), "{text}");
        sp.installed_at = None;
        assert!(
            cli_env(&sp).contains("then VAULTNET_BUNDLE=$PWD; fi\n"),
            "{}",
            cli_env(&sp)
        );
        let r = readme(&sp, "2027-01-01");
        assert!(
            r.contains("\nvault kv get -mount=secret -field=value tenants/alice/app\n"),
            "{r}"
        );
    }

    #[test]
    fn a_cert_auth_readme_logs_in_with_the_certificate() {
        let e = site("l1");
        let sp = BundleSpec {
            auth: Auth::Cert,
            ..spec(&e)
        };
        let cli = &sh_blocks(&readme(&sp, "2027-01-01"))[2];
        assert_eq!(
            cli.lines().nth(1),
            Some("bao login -no-print -method=cert name=vaultnet-alice")
        );
    }

    #[test]
    fn the_example_app_is_a_hardened_compose_service_reading_the_file() {
        let e = site("l1");
        let y: Value = serde_saphyr::from_str(&example_app(&spec(&e))).unwrap();
        let app = &y["services"]["app"];
        assert_eq!(app["image"], EXAMPLE_APP_IMAGE);
        assert_eq!(app["read_only"], true);
        assert_eq!(app["cap_drop"], serde_json::json!(["ALL"]));
        assert_eq!(
            app["security_opt"],
            serde_json::json!(["no-new-privileges:true"])
        );
        let script = app["command"][2].as_str().unwrap();
        assert!(script.starts_with("f=\"$$APP_SECRET_FILE\"\n"), "{script}");
        // The secret never reaches an argument: grep reads it from the file.
        assert!(script.contains("grep -qF -f \"$$f\""), "{script}");
        assert!(!script.contains("$$(cat"), "{script}");
        let names: Vec<String> = y["services"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(names, ["app"]);
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
