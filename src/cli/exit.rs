//! Exit codes (SPEC 8) as the commands return them; the numbers are
//! [`crate::run::exit_code::ExitCode`]'s.

use crate::run::exit_code::ExitCode;

pub const OK: i32 = ExitCode::Ok.code();
pub const BUILD_FAILED: i32 = ExitCode::BuildFailed.code();
pub const USAGE: i32 = ExitCode::Usage.code();
pub const INFRA: i32 = ExitCode::Infra.code();
pub const INTERRUPTED: i32 = ExitCode::Interrupted.code();
