//! zoryn: wiring only. Parse the command line, set up logging, dispatch.

use clap::{CommandFactory, Parser};
use zoryn::cli;

/// With `ZORYN_STATS=FILE`, zoryn writes its own CPU time and peak memory
/// there when it exits (JSON), for benchmarks.
fn write_stats(path: &std::ffi::OsStr) {
    use nix::sys::resource::{getrusage, UsageWho};
    let Ok(u) = getrusage(UsageWho::RUSAGE_SELF) else {
        return;
    };
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let text = format!(
        "{{\"user_s\":{:.3},\"sys_s\":{:.3},\"max_rss_kb\":{}}}\n",
        secs(u.user_time()),
        secs(u.system_time()),
        u.max_rss()
    );
    let _ = std::fs::write(path, text);
}

fn main() {
    // While the shell asks for completions: answer and exit.
    clap_complete::CompleteEnv::with_factory(cli::Cli::command)
        .var(cli::generate::COMPLETE_VAR)
        .shells(cli::generate::SHELLS)
        .completer(cli::generate::completer_program())
        .complete();
    let cli = cli::Cli::parse();
    let default_level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0 | 1) => "warn",
        (false, 2) => "info",
        (false, _) => "debug",
    };
    // `ZORYN_LOG` (a tracing filter) is for digging: its lines carry the
    // time since zoryn started; `-v` lines stay plain.
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr);
    match tracing_subscriber::EnvFilter::try_from_env("ZORYN_LOG") {
        Ok(filter) => builder
            .with_env_filter(filter)
            .with_timer(tracing_subscriber::fmt::time::Uptime::default())
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        Err(_) => builder
            .with_env_filter(tracing_subscriber::EnvFilter::new(default_level))
            .without_time()
            .init(),
    }
    let code = cli::run(cli);
    if let Some(p) = std::env::var_os("ZORYN_STATS").filter(|p| !p.is_empty()) {
        write_stats(&p);
    }
    std::process::exit(code);
}
