# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_vaultnet_global_optspecs
    string join \n dir= h/help V/version
end

function __fish_vaultnet_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_vaultnet_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_vaultnet_using_subcommand
    set -l cmd (__fish_vaultnet_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c vaultnet -n "__fish_vaultnet_needs_command" -l dir -d 'State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]' -r -F
complete -c vaultnet -n "__fish_vaultnet_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "init" -d 'Create the CA, the Vault listener and the host forwarder, and bootstrap Vault'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "add-user" -d 'Give tenants a certificate, policy, AppRole and agent bundle'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "remove-user" -d 'Take tenants\' access away and remove their bundles'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "renew" -d 'Renew whatever is due — certificates, secret_ids — and reach running agents'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "unwrap" -d '(For tenants) turn a bundle\'s response-wrapped secret_id into the plain one its agent reads, once'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "list" -d 'List tenants with certificate and secret_id expiry'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "doctor" -d 'Check the whole chain and say exactly what is broken and how to fix it'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c vaultnet -n "__fish_vaultnet_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l profile -d 'Deployment pattern: l1 (host forwarder), l2 (l1 reached as host.containers.internal, no extra_hosts), l4 (l1 open to the --allow-cidr networks), l6 (l1 for pasta: host-gateway mapping), r1 (Vault itself on the host address, no forwarder), r7 (nftables DNAT to Vault\'s loopback listener, no userspace proxy) [default: l1]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l dns-name -d 'Name tenants use to reach Vault [default: vault.lan]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l host-ip -d 'Host address tenants connect to (the forwarder\'s, or Vault\'s own under r1) [default: the default-route interface\'s address; l2: the first non-loopback IPv4 address, where Podman points host.containers.internal]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l port -d 'Port tenants connect to on the host address (the forwarder\'s, or Vault\'s own under r1) [default: the profile\'s, 22300; r1: 8200]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l vault-addr -d 'Loopback address Vault\'s listener binds [default: 127.0.0.1:8200]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l forwarder -d 'Host forwarder to configure [default: socat]' -r -f -a "socat\t''
nginx\t''
haproxy\t''
socket-proxyd\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l flavor -d 'Vault or OpenBao: binary and image names, VAULT_* or BAO_* in instructions [default: openbao]' -r -f -a "vault\t''
openbao\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l agent-image -d 'Agent sidecar image for tenant bundles [default: the flavor\'s official image]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l host-mapping -d 'How tenants\' extra_hosts reach the host: ip (slirp4netns, rootful), host-gateway (pasta) or host-containers-internal (no entry: Podman\'s own name); the profile decides it, and a value that contradicts it is refused' -r -f -a "ip\t''
host-gateway\t''
host-containers-internal\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l kv-mount -d 'KV v2 mount holding tenant secrets [default: secret]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l tenant-prefix -d 'Prefix under the KV mount; tenant NAME owns <kv-mount>/<prefix>/NAME/ [default: tenants]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l auth -d 'How new tenants\' agents log in: approle (role_id and secret_id) or cert (the client certificate alone); `add-user --auth` overrides it per tenant [default: approle]' -r -f -a "approle\t''
cert\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l server-cert-ttl -d 'Lifetime of the Vault server certificate, e.g. 365d or 12h [default: 365d]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l vault-reload-command -d 'Command `vaultnet renew` runs (no shell) to have Vault load a renewed server certificate, e.g. \'systemctl reload openbao\'' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l vault-pid-file -d 'Vault\'s pid file: `vaultnet renew` sends that process SIGHUP to load a renewed server certificate' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l vault-client -d 'A user (name or uid) the gate admits to Vault\'s own port besides root and the forwarder\'s user; repeat for more; the list given replaces the recorded one' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l allow-cidr -d 'A source network admitted from outside this host (IPv4 or IPv6, e.g. 192.168.1.0/24) under profiles l4 (at least one), r1 and r7; repeat for more; the list given replaces the recorded one' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l ingress-interface -d 'The interface remote clients arrive on, where profile r7 sets `net.ipv4.conf.IFACE.route_localnet` (never `all`) [default: the interface holding the host address]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l vault-node -d 'A node of an OpenBao raft cluster, as NAME=IP:PORT (its API listener); repeat for every node; the list given replaces the recorded one. A cluster needs `--forwarder haproxy`' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l raft-dir -d 'Where each cluster node keeps its raft data: DIR/NAME [default: /var/lib/openbao/raft]' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l token-file -d 'File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l timeout -d 'Seconds to wait for Vault' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l dir -d 'State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -s y -l yes -d 'Never prompt: use flags, recorded settings and defaults, and confirm `--force`'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -l force -d 'Replace the CA, the server and operator certificates (tenants must be re-added); asks first, or needs --yes'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -s h -l help -d 'Print help'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand init" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l from -d 'Read more names from FILE, one a line' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l cert-ttl -d 'Lifetime of the client certificate, e.g. 90d or 12h [default: 90d]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l token-ttl -d 'AppRole token_ttl [default: 1h]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l token-max-ttl -d 'AppRole token_max_ttl [default: 24h]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l token-num-uses -d 'AppRole token_num_uses; 0 = unlimited, which agent auto-auth needs [default: 0]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l secret-id-ttl -d 'AppRole secret_id_ttl [default: 30d]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l secret-id-num-uses -d 'AppRole secret_id_num_uses; 0 lets the agent log in again after a restart [default: 0]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l wrap-ttl -d 'Deliver the secret_id response-wrapped, valid for DURATION (0: plain)' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l auth -d 'How the agent logs in: approle (role_id, secret_id) or cert (the client certificate alone) [default: the tenant\'s, else the site\'s]' -r -f -a "approle\t''
cert\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l host-mapping -d 'What the bundle maps the Vault name to [default: what the tenant\'s own Podman needs: ip under slirp4netns, host-gateway under pasta; under l2 host-containers-internal]' -r -f -a "ip\t''
host-gateway\t''
host-containers-internal\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l install-path -d 'Where --install puts the bundle, relative to the tenant\'s home' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l token-file -d 'File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l timeout -d 'Seconds to wait for Vault' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l output -d 'Report format' -r -f -a "text\t''
json\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l dir -d 'State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l no-unix-user -d 'Do not require a Unix user of that name (no nft entry then)'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l rotate -d 'Issue a new certificate and secret_id even if the current ones are valid'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l adopt -d 'Take over a policy or role of the tenant\'s names that vaultnet did not make'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l install -d 'Copy the bundle into the tenant\'s home, owned by the tenant'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -l no-gate-reload -d 'Do not reload the nftables gate, even when it is loaded (it is reloaded by default)'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -s h -l help -d 'Print help'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand add-user" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -l from -d 'Read more names from FILE, one a line' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -l token-file -d 'File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -l timeout -d 'Seconds to wait for Vault' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -l dir -d 'State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -l purge -d 'Also remove the bundle installed in the tenant\'s home'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -l leftovers -d 'Remove what vaultnet\'s own naming left in Vault for a name it does not know (policy and role `vaultnet-NAME`)'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -s y -l yes -d 'Do not ask: removing is confirmed (needed without a terminal)'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -l dry-run -d 'Print what would be removed and change nothing'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -l no-gate-reload -d 'Do not reload the nftables gate, even when it is loaded (it is reloaded by default)'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -s h -l help -d 'Print help'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand remove-user" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -l from -d 'Read more names from FILE, one a line' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -l token-file -d 'File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -l timeout -d 'Seconds to wait for Vault' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -l output -d 'Report format' -r -f -a "text\t''
json\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -l dir -d 'State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -l dry-run -d 'Print what is due and change nothing'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -l rotate-ca -d 'Switch to the next CA (`pki/next-ca.pem`, which Vault must already trust) and reissue every certificate under it; the old CA stays trusted until the last certificate it issued expires'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -l no-gate-reload -d 'Do not reload the nftables gate, even when it is loaded (it is reloaded by default)'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -s h -l help -d 'Print help'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand renew" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand unwrap" -l connect -d 'Where the bundle\'s Vault address leads from here [default: its compose.yaml `extra_hosts`, else DNS]' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand unwrap" -l timeout -d 'Seconds to wait for Vault' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand unwrap" -s h -l help -d 'Print help'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand unwrap" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand list" -l output -d 'Report format' -r -f -a "text\t''
json\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand list" -l dir -d 'State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand list" -s h -l help -d 'Print help'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand list" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -l user -d 'Limit tenant checks to this tenant' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -l timeout -d 'Seconds each network check may take' -r
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -l token-file -d 'File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -l output -d 'Report format' -r -f -a "text\t''
json\t''"
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -l dir -d 'State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -l login -d 'Also log in as each tenant through the forwarder and check its access'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -l probe -d 'Also run a short-lived container as the tenant (its own rootless Podman, its bundle\'s mapping and certificate) and reach Vault from inside its network; needs --user'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -l strict -d 'Treat warnings as failures'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand completions" -l dir -d 'State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]' -r -F
complete -c vaultnet -n "__fish_vaultnet_using_subcommand completions" -s h -l help -d 'Print help'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand completions" -s V -l version -d 'Print version'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "init" -d 'Create the CA, the Vault listener and the host forwarder, and bootstrap Vault'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "add-user" -d 'Give tenants a certificate, policy, AppRole and agent bundle'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "remove-user" -d 'Take tenants\' access away and remove their bundles'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "renew" -d 'Renew whatever is due — certificates, secret_ids — and reach running agents'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "unwrap" -d '(For tenants) turn a bundle\'s response-wrapped secret_id into the plain one its agent reads, once'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "list" -d 'List tenants with certificate and secret_id expiry'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "doctor" -d 'Check the whole chain and say exactly what is broken and how to fix it'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c vaultnet -n "__fish_vaultnet_using_subcommand help; and not __fish_seen_subcommand_from init add-user remove-user renew unwrap list doctor completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
