module completions {

  def "nu-complete vaultnet color" [] {
    [ "auto" "always" "never" ]
  }

  # Secure access to one Vault or OpenBao server for many rootless-container tenants on one host
  export extern vaultnet [
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help (see more with '--help')
    --version(-V)             # Print version
  ]

  def "nu-complete vaultnet init forwarder" [] {
    [ "socat" "nginx" "haproxy" "socket-proxyd" ]
  }

  def "nu-complete vaultnet init flavor" [] {
    [ "vault" "openbao" ]
  }

  def "nu-complete vaultnet init host_mapping" [] {
    [ "ip" "host-gateway" "host-containers-internal" ]
  }

  def "nu-complete vaultnet init auth" [] {
    [ "approle" "cert" ]
  }

  def "nu-complete vaultnet init output" [] {
    [ "text" "json" ]
  }

  def "nu-complete vaultnet init color" [] {
    [ "auto" "always" "never" ]
  }

  # Create the CA, the Vault listener and the host forwarder, and bootstrap Vault
  export extern "vaultnet init" [
    --profile: string         # Deployment pattern: l1 (host forwarder), l2 (l1 reached as host.containers.internal, no extra_hosts), l3 (a forwarder port per tenant), l4 (l1 open to the --allow-cidr networks), l6 (l1 for pasta: host-gateway mapping), r1 (Vault itself on the host address, no forwarder), r7 (nftables DNAT to Vault's loopback listener, no userspace proxy) [default: l1]
    --dns-name: string        # Name tenants use to reach Vault [default: vault.lan]
    --host-ip: string         # Host address tenants connect to (the forwarder's, or Vault's own under r1) [default: the default-route interface's address; l2: the first non-loopback IPv4 address, where Podman points host.containers.internal]
    --port: string            # Port tenants connect to on the host address (the forwarder's, Vault's own under r1, the first tenant's under l3) [default: the profile's, 22300; l3: 22301; r1: 8200]
    --vault-listen: string    # Loopback address Vault's listener binds, which vaultnet and the operator's CLI talk to (`--vault-addr` before; not a URL, and not what VAULT_ADDR/BAO_ADDR hold: init prints those) [default: 127.0.0.1:8200]
    --forwarder: string@"nu-complete vaultnet init forwarder" # Host forwarder to configure [default: socat]
    --flavor: string@"nu-complete vaultnet init flavor" # Vault or OpenBao: binary and image names, VAULT_* or BAO_* in instructions [default: openbao]
    --agent-image: string     # Agent sidecar image for tenant bundles [default: the flavor's official image]
    --host-mapping: string@"nu-complete vaultnet init host_mapping" # How tenants' extra_hosts reach the host: ip (slirp4netns, rootful), host-gateway (pasta) or host-containers-internal (no entry: Podman's own name); the profile decides it, and a value that contradicts it is refused
    --kv-mount: string        # KV v2 mount holding tenant secrets [default: secret]
    --tenant-prefix: string   # Prefix under the KV mount; tenant NAME owns <kv-mount>/<prefix>/NAME/ [default: tenants]
    --auth: string@"nu-complete vaultnet init auth" # How new tenants' agents log in: approle (role_id and secret_id) or cert (the client certificate alone); `add-user --auth` overrides it per tenant [default: approle]
    --server-cert-ttl: string # Lifetime of the Vault server certificate, e.g. 365d or 12h [default: 365d]
    --vault-reload-command: string # Command `vaultnet renew` runs (no shell) to have Vault load a renewed server certificate, e.g. 'systemctl reload openbao'
    --vault-pid-file: path    # Vault's pid file: `vaultnet renew` sends that process SIGHUP to load a renewed server certificate
    --vault-client: string    # A user (name or uid) the gate admits to Vault's own port besides root and the forwarder's user; repeat for more; the list given replaces the recorded one
    --allow-cidr: string      # A source network admitted from outside this host (IPv4 or IPv6, e.g. 192.168.1.0/24) under profiles l4 (at least one), r1 and r7; repeat for more; the list given replaces the recorded one
    --ingress-interface: string # The interface remote clients arrive on, where profile r7 sets `net.ipv4.conf.IFACE.route_localnet` (never `all`) [default: the interface holding the host address]
    --vault-node: string      # A node of an OpenBao raft cluster, as NAME=IP:PORT (its API listener); repeat for every node; the list given replaces the recorded one. A cluster needs `--forwarder haproxy`
    --raft-dir: path          # Where each cluster node keeps its raft data: DIR/NAME [default: /var/lib/openbao/raft]
    --site-name: string       # This site's name, when several sites share one cluster: every Vault name and path of its tenants starts with it (NAME.TENANT); fixed once tenants exist [default: none]
    --cluster-ca: path        # Join the cluster another site runs: the CAs its nodes' certificates chain to (that site's `pki/trust.pem`); needs `--vault-node` for each node and `--site-name`
    --token-file: path        # File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    --yes(-y)                 # Never prompt: use flags, recorded settings and defaults, and confirm `--force`
    --force                   # Replace the CA, the server and operator certificates (tenants must be re-added); asks first, or needs --yes
    --timeout: string         # Seconds to wait for Vault
    --output: string@"nu-complete vaultnet init output" # Report format: the summary and what is left to do, or JSON (docs/json.md)
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet init color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
  ]

  def "nu-complete vaultnet add-user auth" [] {
    [ "approle" "cert" ]
  }

  def "nu-complete vaultnet add-user host_mapping" [] {
    [ "ip" "host-gateway" "host-containers-internal" ]
  }

  def "nu-complete vaultnet add-user output" [] {
    [ "text" "json" ]
  }

  def "nu-complete vaultnet add-user color" [] {
    [ "auto" "always" "never" ]
  }

  # Give tenants a certificate, policy, AppRole and agent bundle
  export extern "vaultnet add-user" [
    --from: path              # Read more names from FILE, one a line
    --no-unix-user            # Do not require a Unix user of that name (no nft entry then)
    --cert-ttl: string        # Lifetime of the client certificate, e.g. 90d or 12h [default: 90d]
    --token-ttl: string       # AppRole token_ttl [default: 1h]
    --token-max-ttl: string   # AppRole token_max_ttl [default: 24h]
    --token-num-uses: string  # AppRole token_num_uses; 0 = unlimited, which agent auto-auth needs [default: 0]
    --secret-id-ttl: string   # AppRole secret_id_ttl [default: 30d]
    --secret-id-num-uses: string # AppRole secret_id_num_uses; 0 lets the agent log in again after a restart [default: 0]
    --wrap-ttl: string        # Deliver the secret_id response-wrapped, valid for DURATION (0: plain)
    --auth: string@"nu-complete vaultnet add-user auth" # How the agent logs in: approle (role_id, secret_id) or cert (the client certificate alone) [default: the tenant's, else the site's]
    --host-mapping: string@"nu-complete vaultnet add-user host_mapping" # What the bundle maps the Vault name to [default: what the tenant's own Podman needs: ip under slirp4netns, host-gateway under pasta; under l2 host-containers-internal]
    --rotate                  # Issue a new certificate and secret_id even if the current ones are valid
    --adopt                   # Take over a policy or role of the tenant's names that vaultnet did not make
    --install                 # Copy the bundle into the tenant's home, owned by the tenant
    --install-path: path      # Where --install puts the bundle, relative to the tenant's home
    --jobs(-j): string        # How many tenants are provisioned at once (reported in order whatever finishes first)
    --token-file: path        # File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    --timeout: string         # Seconds to wait for Vault
    --no-gate-reload          # Do not reload the nftables gate, even when it is loaded (it is reloaded by default)
    --output: string@"nu-complete vaultnet add-user output" # Report format
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet add-user color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
    ...names: string          # Tenant names (Unix user names)
  ]

  def "nu-complete vaultnet remove-user output" [] {
    [ "text" "json" ]
  }

  def "nu-complete vaultnet remove-user color" [] {
    [ "auto" "always" "never" ]
  }

  # Take tenants' access away and remove their bundles
  export extern "vaultnet remove-user" [
    --from: path              # Read more names from FILE, one a line
    --purge                   # Also remove the bundle installed in the tenant's home
    --leftovers               # Remove what vaultnet's own naming left in Vault for a name it does not know (policy and role `vaultnet-NAME`)
    --yes(-y)                 # Do not ask: removing is confirmed (needed without a terminal)
    --dry-run                 # Print what would be removed and change nothing
    --output: string@"nu-complete vaultnet remove-user output" # Report format (docs/json.md)
    --token-file: path        # File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    --timeout: string         # Seconds to wait for Vault
    --no-gate-reload          # Do not reload the nftables gate, even when it is loaded (it is reloaded by default)
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet remove-user color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
    ...names: string          # Tenant names (Unix user names)
  ]

  def "nu-complete vaultnet renew output" [] {
    [ "text" "json" ]
  }

  def "nu-complete vaultnet renew color" [] {
    [ "auto" "always" "never" ]
  }

  # Renew whatever is due — certificates, secret_ids — and reach running agents
  export extern "vaultnet renew" [
    --from: path              # Read more names from FILE, one a line
    --dry-run                 # Print what is due and change nothing
    --rotate-ca               # Switch to the next CA (`pki/next-ca.pem`, which Vault must already trust) and reissue every certificate under it; the old CA stays trusted until the last certificate it issued expires
    --token-file: path        # File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    --timeout: string         # Seconds to wait for Vault
    --no-gate-reload          # Do not reload the nftables gate, even when it is loaded (it is reloaded by default)
    --output: string@"nu-complete vaultnet renew output" # Report format
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet renew color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
    ...names: string          # Tenants to renew [default: the site's certificates and every tenant]
  ]

  def "nu-complete vaultnet unwrap color" [] {
    [ "auto" "always" "never" ]
  }

  # (For tenants) turn a bundle's response-wrapped secret_id into the plain one its agent reads, once
  export extern "vaultnet unwrap" [
    --connect: string         # Where the bundle's Vault address leads from here [default: its compose.yaml `extra_hosts`, else DNS]
    --timeout: string         # Seconds to wait for Vault
    --color: string@"nu-complete vaultnet unwrap color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
    dir?: path                # The bundle directory
  ]

  def "nu-complete vaultnet list output" [] {
    [ "text" "json" ]
  }

  def "nu-complete vaultnet list color" [] {
    [ "auto" "always" "never" ]
  }

  # List tenants with certificate and secret_id expiry
  export extern "vaultnet list" [
    --output: string@"nu-complete vaultnet list output" # Report format
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet list color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
  ]

  def "nu-complete vaultnet doctor output" [] {
    [ "text" "json" ]
  }

  def "nu-complete vaultnet doctor color" [] {
    [ "auto" "always" "never" ]
  }

  # Check the whole chain and say exactly what is broken and how to fix it
  export extern "vaultnet doctor" [
    --user: string            # Limit tenant checks to this tenant
    --login                   # Also log in as each tenant through the forwarder and check its access
    --probe                   # Also run a short-lived container as the tenant (its own rootless Podman, its bundle's mapping and certificate) and reach Vault from inside its network; needs --user
    --strict                  # Treat warnings as failures
    --timeout: string         # Seconds each network check may take
    --token-file: path        # File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    --output: string@"nu-complete vaultnet doctor output" # Report format
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet doctor color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
  ]

  def "nu-complete vaultnet sites color" [] {
    [ "auto" "always" "never" ]
  }

  # Trust other sites whose tenants share this site's raft cluster
  export extern "vaultnet sites" [
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet sites color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
  ]

  def "nu-complete vaultnet sites list color" [] {
    [ "auto" "always" "never" ]
  }

  # List the other sites this cluster's nodes trust
  export extern "vaultnet sites list" [
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet sites list color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
  ]

  def "nu-complete vaultnet sites add color" [] {
    [ "auto" "always" "never" ]
  }

  # Trust another site's CAs on every node, so its tenants can log in
  export extern "vaultnet sites add" [
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet sites add color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
    name: string              # The site's name, as it was given to its `init --site-name`
    ca: path                  # Its CAs: the other site's `pki/trust.pem`
  ]

  def "nu-complete vaultnet sites remove color" [] {
    [ "auto" "always" "never" ]
  }

  # Trust a site no more (its tenants' Vault objects are its own to remove)
  export extern "vaultnet sites remove" [
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet sites remove color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
    name: string              # The site's name, as `vaultnet sites list` shows it
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "vaultnet sites help" [
  ]

  # List the other sites this cluster's nodes trust
  export extern "vaultnet sites help list" [
  ]

  # Trust another site's CAs on every node, so its tenants can log in
  export extern "vaultnet sites help add" [
  ]

  # Trust a site no more (its tenants' Vault objects are its own to remove)
  export extern "vaultnet sites help remove" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "vaultnet sites help help" [
  ]

  def "nu-complete vaultnet profiles output" [] {
    [ "text" "json" ]
  }

  def "nu-complete vaultnet profiles color" [] {
    [ "auto" "always" "never" ]
  }

  # List the built-in deployment patterns (profiles) and what each writes
  export extern "vaultnet profiles" [
    --output: string@"nu-complete vaultnet profiles output" # Report format
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet profiles color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
  ]

  def "nu-complete vaultnet completions shell" [] {
    [ "bash" "zsh" "fish" "elvish" "powershell" "nushell" ]
  }

  def "nu-complete vaultnet completions color" [] {
    [ "auto" "always" "never" ]
  }

  # Print a shell completion script
  export extern "vaultnet completions" [
    --dir: path               # State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    --color: string@"nu-complete vaultnet completions color" # Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    --quiet(-q)               # Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    --verbose(-v)             # More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    --help(-h)                # Print help
    --version(-V)             # Print version
    shell: string@"nu-complete vaultnet completions shell" # The shell to generate for
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "vaultnet help" [
  ]

  # Create the CA, the Vault listener and the host forwarder, and bootstrap Vault
  export extern "vaultnet help init" [
  ]

  # Give tenants a certificate, policy, AppRole and agent bundle
  export extern "vaultnet help add-user" [
  ]

  # Take tenants' access away and remove their bundles
  export extern "vaultnet help remove-user" [
  ]

  # Renew whatever is due — certificates, secret_ids — and reach running agents
  export extern "vaultnet help renew" [
  ]

  # (For tenants) turn a bundle's response-wrapped secret_id into the plain one its agent reads, once
  export extern "vaultnet help unwrap" [
  ]

  # List tenants with certificate and secret_id expiry
  export extern "vaultnet help list" [
  ]

  # Check the whole chain and say exactly what is broken and how to fix it
  export extern "vaultnet help doctor" [
  ]

  # Trust other sites whose tenants share this site's raft cluster
  export extern "vaultnet help sites" [
  ]

  # List the other sites this cluster's nodes trust
  export extern "vaultnet help sites list" [
  ]

  # Trust another site's CAs on every node, so its tenants can log in
  export extern "vaultnet help sites add" [
  ]

  # Trust a site no more (its tenants' Vault objects are its own to remove)
  export extern "vaultnet help sites remove" [
  ]

  # List the built-in deployment patterns (profiles) and what each writes
  export extern "vaultnet help profiles" [
  ]

  # Print a shell completion script
  export extern "vaultnet help completions" [
  ]

  # Print this message or the help of the given subcommand(s)
  export extern "vaultnet help help" [
  ]

}

export use completions *
