//! Exit codes (SPEC 8): the process exit of every command.

pub const OK: i32 = 0;
pub const BUILD_FAILED: i32 = 1;
pub const USAGE: i32 = 2;
pub const INFRA: i32 = 3;
pub const INTERRUPTED: i32 = 130;
