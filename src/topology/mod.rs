//! The deployment pattern: built-in profiles and what they make of a site.

pub mod profile;
