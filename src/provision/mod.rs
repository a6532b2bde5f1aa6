//! The work behind the commands, as small phases that return typed
//! outcomes ([`crate::outcome`]): the host files (`host`), the site
//! (`site`, for `init`) and each tenant (`tenant`, for `add-user`; `many`,
//! several at once).

pub mod ca;
pub mod host;
pub mod many;
pub mod renew;
pub mod site;
pub mod sites;
pub mod tenant;

pub use crate::outcome::{Change, Observer, Outcome, file_outcome};
