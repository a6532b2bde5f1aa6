//! The operating system's edge: secret and atomic file writes, no-follow
//! walks into tenants' homes and the state lock (`fsx`), Unix users
//! (`users`), this host's addresses (`hostnet`), tenants' running agents
//! (`agents`), and what a tenant's Podman says about its network (`podman`).

pub mod agents;
pub mod fsx;
pub mod hostnet;
pub mod podman;
pub mod users;
