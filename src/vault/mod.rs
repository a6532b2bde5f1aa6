//! Talking to Vault: the small blocking HTTP client (`client`) and the
//! converging operations on the objects vaultnet owns (`ops`).

pub mod client;
pub mod ops;

pub use client::{Client, Health, Response, Target, chain, pointer_to, strings_at};
