//! The questions `zoryn builder add` asks on a terminal.
//!
//! A line editor with history-free prompts; the repository prompt completes
//! paths with TAB — on this machine for a local builder, on the builder's
//! host over its SSH connection for a remote one.

use std::sync::Arc;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::{Context, Editor, Helper, Highlighter, Hinter, Validator};

use super::add_args::{AddArgs, KindArg};
use crate::cli::error::Error;
use crate::config::arch;
use crate::config::builder_file::check_name;
use crate::farm::loaded::Loaded;
use crate::farm::{DEFAULT_HASHER_DIR, DEFAULT_NUMBERED_HASHER_DIR};
use crate::transport::cancel::CancelToken;
use crate::transport::ssh::{Host, Hosts};

/// How the questions ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// Every answer is in the flags.
    Answered,
    /// Ctrl-C or Ctrl-D: nothing may be written (exit 130).
    Aborted,
}

/// Why the questions stopped early.
enum Stop {
    Aborted,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

/// Lists `PREFIX*` on the remote host, directories with a trailing `/`.
const REMOTE_COMPLETE_SCRIPT: &str = r#"for f in "$1"*; do if [ -d "$f" ]; then printf '%s/\n' "$f"; elif [ -e "$f" ]; then printf '%s\n' "$f"; fi; done"#;

#[derive(Helper, Hinter, Highlighter, Validator)]
struct PathHelper {
    local: FilenameCompleter,
    remote: Option<(Arc<Host>, String)>,
    cancel: CancelToken,
}

impl Completer for PathHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let Some((host, home)) = &self.remote else {
            return self.local.complete(line, pos, ctx);
        };
        let typed = &line[..pos];
        let expanded = match typed.strip_prefix("~/") {
            Some(rest) => format!("{home}/{rest}"),
            None => typed.to_string(),
        };
        let argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            REMOTE_COMPLETE_SCRIPT.to_string(),
            "zoryn-complete".to_string(),
            expanded.clone(),
        ];
        let Ok(out) = host.query(&argv, &self.cancel) else {
            return Ok((0, Vec::new()));
        };
        let pairs = out
            .stdout
            .lines()
            .filter(|l| l.starts_with(&expanded))
            .map(|l| {
                let shown = if typed.starts_with("~/") {
                    format!("~{}", &l[home.len()..])
                } else {
                    l.to_string()
                };
                Pair {
                    display: shown.clone(),
                    replacement: shown,
                }
            })
            .collect();
        Ok((0, pairs))
    }
}

fn editor(
    remote: Option<(Arc<Host>, String)>,
    cancel: &CancelToken,
) -> Result<Editor<PathHelper, rustyline::history::DefaultHistory>, Error> {
    let mut ed = Editor::new().map_err(|e| {
        Error::usage(
            format!("cannot use the terminal: {e}"),
            "pass the settings as flags (see zoryn builder add --help)",
        )
    })?;
    ed.set_helper(Some(PathHelper {
        local: FilenameCompleter::new(),
        remote,
        cancel: cancel.clone(),
    }));
    Ok(ed)
}

/// Ask one question; Enter takes `default`. Ctrl-C/Ctrl-D abort (exit 130).
fn ask_line(
    ed: &mut Editor<PathHelper, rustyline::history::DefaultHistory>,
    question: &str,
    default: Option<&str>,
) -> Result<String, Stop> {
    let prompt = match default {
        Some(d) if !d.is_empty() => format!("{question} [{d}]: "),
        _ => format!("{question}: "),
    };
    match ed.readline(&prompt) {
        Ok(s) => {
            let s = s.trim().to_string();
            Ok(if s.is_empty() {
                default.unwrap_or_default().to_string()
            } else {
                s
            })
        }
        Err(ReadlineError::Interrupted) | Err(ReadlineError::Eof) => Err(Stop::Aborted),
        Err(e) => Err(Error::usage(format!("cannot read the answer: {e}"), "").into()),
    }
}

/// Fill `args` by asking. Already given flags are kept as defaults.
pub fn ask(
    args: &mut AddArgs,
    loaded: &Loaded,
    hosts: &Hosts,
    cancel: &CancelToken,
) -> Result<Asked, Error> {
    match ask_all(args, loaded, hosts, cancel) {
        Ok(()) => Ok(Asked::Answered),
        Err(Stop::Aborted) => {
            eprintln!("zoryn: aborted; nothing was written");
            Ok(Asked::Aborted)
        }
        Err(Stop::Failed(e)) => Err(e),
    }
}

fn ask_all(
    args: &mut AddArgs,
    loaded: &Loaded,
    hosts: &Hosts,
    cancel: &CancelToken,
) -> Result<(), Stop> {
    let mut ed = editor(None, cancel)?;
    println!("Adding a builder (Enter accepts [defaults], Ctrl-C aborts).");
    loop {
        let name = ask_line(&mut ed, "Name", args.name.as_deref())?;
        match check_name(&name) {
            Ok(()) if loaded.farm.get(&name).is_some_and(|b| b.file.is_some()) => {
                println!("  note: `{name}` exists; its settings will be replaced if they differ");
                args.name = Some(name);
                break;
            }
            Ok(()) => {
                args.name = Some(name);
                break;
            }
            Err(m) => println!("  {m}"),
        }
    }
    let mut remote = None;
    let mut detected = arch::local();
    loop {
        let host = ask_line(
            &mut ed,
            "Host (ssh destination; empty for this machine)",
            args.host.as_deref(),
        )?;
        if host.is_empty() {
            args.host = None;
            args.kind = Some(KindArg::Local);
            break;
        }
        let h = hosts.get(&host);
        match h.facts(cancel) {
            Ok(f) => {
                detected = f.arch.clone();
                remote = Some((h.clone(), f.home.clone()));
                args.host = Some(host);
                args.kind = Some(KindArg::Remote);
                break;
            }
            Err(e) => println!("  {e}\n  hint: {}", e.hint),
        }
    }
    loop {
        let a = ask_line(
            &mut ed,
            "Architecture",
            Some(args.arch.as_deref().unwrap_or(&detected)),
        )?;
        if arch::is_known(&a) {
            args.arch = Some(a);
            break;
        }
        println!("  hasher knows: {}", arch::KNOWN.join(", "));
    }
    loop {
        let n = ask_line(
            &mut ed,
            "Hasher number (empty for the default slot)",
            args.number.map(|n| n.to_string()).as_deref(),
        )?;
        if n.is_empty() {
            args.number = None;
            break;
        }
        match n.parse::<u32>() {
            Ok(v) if v >= 1 => {
                args.number = Some(v);
                break;
            }
            _ => println!("  a number from 1 up"),
        }
    }
    let default_dir = if args.number.is_some() {
        DEFAULT_NUMBERED_HASHER_DIR
    } else {
        DEFAULT_HASHER_DIR
    };
    args.hasher_dir = Some(ask_line(
        &mut ed,
        "Hasher dir",
        Some(args.hasher_dir.as_deref().unwrap_or(default_dir)),
    )?);
    let mut ed = editor(remote, cancel)?;
    let repo = ask_line(
        &mut ed,
        "Repo for apt (TAB completes; empty for none)",
        args.repo.first().map(String::as_str),
    )?;
    args.repo = if repo.is_empty() {
        Vec::new()
    } else {
        vec![repo]
    };
    Ok(())
}

/// A yes/no question on the terminal (default no).
pub fn confirm(question: &str) -> bool {
    let Ok(mut ed) = Editor::<(), rustyline::history::DefaultHistory>::new() else {
        return false;
    };
    matches!(ed.readline(&format!("{question} [y/N]: ")), Ok(a) if a.trim().eq_ignore_ascii_case("y") || a.trim().eq_ignore_ascii_case("yes"))
}
