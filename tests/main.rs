mod forwarders;
mod harness_selftest;
mod init_cli;
mod init_e2e;
mod podman_e2e;
mod support;
mod tenants_cli;
mod tenants_e2e;
