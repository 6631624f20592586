//! `zoryn builder status`: for each builder, free / busy (who, since when) /
//! unreachable (why) / misconfigured (every problem at once: root,
//! `hashman`, workdir, satellite users, the mount points and devices of the
//! command as hsh parses it). Checks run in parallel; builders
//! on one host share its connection and session bound.

use clap::Args;
use serde::Serialize;

use super::pick::{hosts, load, select_builders};
use crate::cli::error::Error;
use crate::config::global::GlobalConfig;
use crate::farm::Builder;
use crate::hasher::invocation::{hsh_argv, HshOptions};
use crate::hasher::priv_config::{self, LocalTree, Membership, PrivProblem};
use crate::hasher::remote::{parse_preflight, preflight_argv};
use crate::hasher::workdir::{self, LockState};
use crate::report::human_duration;
use crate::run::exit_code::ExitCode;
use crate::transport::cancel::CancelToken;
use crate::transport::site::Site;
use crate::transport::ssh::Hosts;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Only builders matching this pattern
    #[arg(
        short = 'b',
        long = "builder",
        value_name = "PATTERN",
        add = crate::cli::complete::pattern()
    )]
    pub builder: Option<String>,
    /// JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Free,
    Busy,
    Unreachable,
    Misconfigured,
}

#[derive(Serialize, Clone, Debug)]
pub struct Status {
    pub name: String,
    pub host: String,
    pub state: State,
    pub detail: String,
    pub holder_pid: Option<u32>,
    pub held_for_secs: Option<u64>,
}

fn busy_detail(pid: Option<u32>, secs: Option<u64>) -> String {
    let who = pid.map_or("another process".to_string(), |p| format!("pid {p}"));
    match secs {
        Some(s) => format!(
            "hasher workdir locked by {who} for {}",
            human_duration(s as f64)
        ),
        None => format!("hasher workdir locked by {who}"),
    }
}

pub fn check(
    b: &Builder,
    global: &GlobalConfig,
    hosts: &Hosts,
    local_home: &str,
    cancel: &CancelToken,
) -> Status {
    let mut st = Status {
        name: b.name.clone(),
        host: b.host().to_string(),
        state: State::Free,
        detail: String::new(),
        holder_pid: None,
        held_for_secs: None,
    };
    let site = match Site::for_builder(b, hosts, local_home, cancel) {
        Ok(s) => s,
        Err(e) => {
            st.state = State::Unreachable;
            st.detail = format!("{} ({})", e.message, e.hint);
            return st;
        }
    };
    // The command as hsh will parse it: its workdir, number and mount points.
    let template = b.command.as_ref().unwrap_or(&global.build.command);
    let mut vars = b.vars();
    vars.home = Some(site.home.clone());
    let opts = HshOptions {
        host_arch: site.arch.clone(),
        workdir: site.workdir(b),
        package: "pkg.tar".into(),
        ..HshOptions::default()
    };
    let hsh = match hsh_argv(template, &vars, &b.arch, &opts) {
        Ok(c) => c,
        Err(e) => {
            let (m, h) = crate::run::local::template_error(b, template, &e);
            st.state = State::Misconfigured;
            st.detail = format!("{m} — {h}");
            return st;
        }
    };
    let wd = hsh.workdir().unwrap_or(&opts.workdir).to_string();
    let number = hsh.number(b.hasher_number);
    let mountpoints = hsh.args.mountpoints();
    let (problem, lock) = match &site.host {
        None => {
            let mut problems =
                priv_config::caller_problems(&site.caller, &Membership::local(&site.caller), "");
            if let Err(p) = workdir::check_local(std::path::Path::new(&wd)) {
                problems.push(PrivProblem {
                    message: p.message,
                    hint: p.hint,
                });
            }
            if site.caller.uid != 0 {
                problems.extend(priv_config::problems(
                    &LocalTree(priv_config::config_dir()),
                    &site.caller,
                    number,
                    &mountpoints,
                ));
            }
            (
                priv_config::combine(problems).map(|p| format!("{} — {}", p.message, p.hint)),
                workdir::probe_lock(std::path::Path::new(&wd)).ok(),
            )
        }
        Some(h) => {
            let argv = preflight_argv(
                &wd,
                &priv_config::candidate_files(&site.caller, number),
                &[],
                &[],
            );
            match h.query(&argv, cancel) {
                Err(e) => {
                    st.state = State::Unreachable;
                    st.detail = format!("{} ({})", e.message, e.hint);
                    return st;
                }
                Ok(out) => {
                    let pre = parse_preflight(&out.stdout);
                    let on = format!(" on {}", h.destination);
                    let mut problems = priv_config::caller_problems(
                        &site.caller,
                        &Membership::remote(pre.groups.as_deref(), pre.hashman_group),
                        &on,
                    );
                    if let Some(p) =
                        crate::run::remote::workdir_problem(&pre, &wd, &site.caller.user, h, b)
                    {
                        problems.push(p);
                    }
                    if site.caller.uid != 0 {
                        problems.extend(priv_config::problems(
                            &pre,
                            &site.caller,
                            number,
                            &mountpoints,
                        ));
                    }
                    (
                        priv_config::combine(problems)
                            .map(|p| format!("{} — {}", p.message, p.hint)),
                        pre.lock,
                    )
                }
            }
        }
    };
    if let Some(p) = problem {
        st.state = State::Misconfigured;
        st.detail = p;
        return st;
    }
    match lock {
        Some(LockState::Busy { pid, since }) => {
            st.state = State::Busy;
            st.holder_pid = pid;
            st.held_for_secs = since.and_then(|s| s.elapsed().ok()).map(|d| d.as_secs());
            st.detail = busy_detail(pid, st.held_for_secs);
        }
        _ => st.detail = format!("{wd} on {}", site.name()),
    }
    st
}

pub fn cmd_status(args: StatusArgs) -> Result<ExitCode, Error> {
    let loaded = load()?;
    let chosen = select_builders(&loaded.farm, args.builder.as_deref())?;
    let hosts = hosts(&loaded);
    // Without handlers (very unlikely) a signal ends the command at once.
    let cancel = crate::cli::interrupt::token().unwrap_or_default();
    let home = loaded.paths.home.to_string_lossy().into_owned();
    let statuses: Vec<Status> = std::thread::scope(|s| {
        let handles: Vec<_> = chosen
            .iter()
            .map(|b| s.spawn(|| check(b, &loaded.global, &hosts, &home, &cancel)))
            .collect();
        handles
            .into_iter()
            .zip(&chosen)
            .map(|(h, b)| {
                h.join().unwrap_or_else(|_| Status {
                    name: b.name.clone(),
                    host: b.host().to_string(),
                    state: State::Unreachable,
                    detail: "internal error while checking".into(),
                    holder_pid: None,
                    held_for_secs: None,
                })
            })
            .collect()
    });
    if args.json {
        let s = serde_json::to_string_pretty(&statuses)
            .map_err(|e| Error::infra(format!("cannot encode JSON: {e}"), ""))?;
        println!("{s}");
    } else {
        let w_name = statuses
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let w_host = statuses
            .iter()
            .map(|s| s.host.len())
            .max()
            .unwrap_or(4)
            .max(4);
        println!(
            "{:<w_name$}  {:<w_host$}  {:<13}  DETAIL",
            "NAME", "HOST", "STATE"
        );
        for s in &statuses {
            let state = match s.state {
                State::Free => "free",
                State::Busy => "busy",
                State::Unreachable => "unreachable",
                State::Misconfigured => "misconfigured",
            };
            println!(
                "{:<w_name$}  {:<w_host$}  {:<13}  {}",
                s.name, s.host, state, s.detail
            );
        }
    }
    Ok(if cancel.is_cancelled() {
        ExitCode::Interrupted
    } else if statuses
        .iter()
        .any(|s| matches!(s.state, State::Unreachable | State::Misconfigured))
    {
        ExitCode::Infra
    } else {
        ExitCode::Ok
    })
}
