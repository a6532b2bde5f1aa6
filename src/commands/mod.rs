//! One module per subcommand: its arguments, then `run`.

pub mod completions;
pub mod init;
