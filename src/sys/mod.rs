//! The operating system's edge: secret and atomic file writes, no-follow
//! walks into tenants' homes and the state lock (`fsx`), Unix users
//! (`users`), this host's addresses (`hostnet`), tenants' running agents
//! (`agents`), what a tenant's Podman says about its network (`podman`),
//! and the kernel's nftables (`nft`).

pub mod agents;
pub mod fsx;
pub mod hostnet;
pub mod nft;
pub mod podman;
pub mod users;
