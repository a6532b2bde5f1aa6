//! The operating system's edge: secret and atomic file writes, no-follow
//! walks into tenants' homes and the state lock (`fsx`), Unix users
//! (`users`), this host's addresses (`hostnet`), and tenants' running
//! agents (`agents`).

pub mod agents;
pub mod fsx;
pub mod hostnet;
pub mod users;
