//! `zoryn builder shell -b NAME` (hsh-shell) and `zoryn builder run -b EXPR
//! -- CMD...` (hsh-run): use a builder's hasher chroot by hand, here or on
//! its host.

use clap::Args;

use super::pick::{hosts, load, select_builders};
use crate::cli::error::{Error, Failures};
use crate::cli::exit::Exit;
use crate::farm::Builder;
use crate::run::exit_code::ExitCode;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{run, LineSplitter, Outcome};
use crate::transport::site::Site;

#[derive(Args, Debug)]
pub struct ShellArgs {
    /// The builder (a pattern that selects exactly one)
    #[arg(
        short = 'b',
        long = "builder",
        value_name = "NAME",
        default_value = "local",
        add = crate::cli::complete::builder_name()
    )]
    pub builder: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Builders to run on
    #[arg(
        short = 'b',
        long = "builder",
        value_name = "PATTERN",
        default_value = "local",
        add = crate::cli::complete::pattern()
    )]
    pub builder: String,
    /// The command and its arguments (after --)
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `hsh-shell`/`hsh-run` argv for a builder: its number, then its workdir.
fn hasher_tool(tool: &str, b: &Builder, workdir: &str) -> Vec<String> {
    let mut v = vec![tool.to_string()];
    if let Some(n) = b.hasher_number {
        v.push(format!("--number={n}"));
    }
    v.push(workdir.to_string());
    v
}

/// `builder shell`: the shell's own exit status, passed through.
pub fn cmd_shell(args: ShellArgs) -> Result<Exit, Error> {
    let loaded = load()?;
    let chosen = select_builders(&loaded.farm, Some(&args.builder))?;
    let [b] = chosen.as_slice() else {
        let names: Vec<&str> = chosen.iter().map(|b| b.name.as_str()).collect();
        return Err(Error::usage(
            format!(
                "`{}` selects {} builders ({}); a shell needs one",
                args.builder,
                names.len(),
                names.join(", ")
            ),
            "name a single builder with -b",
        ));
    };
    let hosts = hosts(&loaded);
    let cancel = CancelToken::new();
    let site = Site::for_builder(b, &hosts, &loaded.paths.home.to_string_lossy(), &cancel)?;
    let argv = hasher_tool("hsh-shell", b, &site.workdir(b));
    let spec = site.interactive(&argv);
    let mut cmd = std::process::Command::new(&spec.program);
    cmd.args(&spec.args);
    // The shell owns the terminal; zoryn just waits (Ctrl-C goes to it).
    let _ignore = crate::cli::interrupt::IgnoreInterrupts::start();
    match cmd.status() {
        Ok(s) => Ok(s
            .code()
            .map_or(Exit::Class(ExitCode::Interrupted), Exit::Passed)),
        Err(e) => Err(Error::infra(
            format!("cannot run {}: {e}", spec.program_name()),
            "install hasher (hsh-shell) or openssh-client",
        )),
    }
}

/// `builder run`: the worst of the builders' ends: zoryn's own failures
/// (infra) and the command's statuses (1-125, passed through).
pub fn cmd_run(args: RunArgs) -> Result<Exit, Error> {
    let loaded = load()?;
    let chosen = select_builders(&loaded.farm, Some(&args.builder))?;
    let hosts = hosts(&loaded);
    // Without handlers (very unlikely) a signal ends the command at once.
    let cancel = crate::cli::interrupt::token().unwrap_or_default();
    let home = loaded.paths.home.to_string_lossy().into_owned();
    let prefix = chosen.len() > 1;
    let mut failures = Failures::default();
    // The worst status of the command itself (0 while all succeeded).
    let mut worst_status = 0;
    for b in chosen {
        if cancel.is_cancelled() {
            return Ok(Exit::Class(ExitCode::Interrupted));
        }
        let site = match Site::for_builder(b, &hosts, &home, &cancel) {
            Ok(s) => s,
            Err(e) => {
                failures.report(Error::from(e).prefixed(&format!("[{}] ", b.name)));
                continue;
            }
        };
        let mut argv = hasher_tool("hsh-run", b, &site.workdir(b));
        argv.push("--".into());
        argv.extend(args.command.iter().cloned());
        let mut splitter = LineSplitter::default();
        let name = b.name.clone();
        let print = |l: &str| {
            if prefix {
                println!("[{name}] {l}");
            } else {
                println!("{l}");
            }
        };
        let r = run(&site.command(&argv), &cancel, |chunk| {
            splitter.feed(chunk, print)
        });
        splitter.finish(print);
        match r {
            Ok(Outcome::Exited(s)) if s.success() => {}
            Ok(Outcome::Exited(s)) => {
                let code = s.code().unwrap_or(1);
                eprintln!("zoryn: [{}] exited with status {code}", b.name);
                worst_status = worst_status.max(if site.host.is_some() && code == 255 {
                    ExitCode::Infra.code()
                } else {
                    code.clamp(1, 125)
                });
            }
            Ok(_) => return Ok(Exit::Class(ExitCode::Interrupted)),
            Err(e) => failures.report(Error::infra(
                format!("[{}] {e}", b.name),
                "install hasher (hsh-run)",
            )),
        }
    }
    let worst = worst_status.max(failures.exit().code());
    Ok(if worst == 0 {
        Exit::Class(ExitCode::Ok)
    } else {
        Exit::Passed(worst)
    })
}
