//! Running one package on the selected builders, in parallel or in turn.
//!
//! The executor decides *when* each builder runs (all at once, one by one,
//! never two builders of one hasher-priv slot together) and turns the
//! results into an exit code. *How* a builder builds lives in [`super::local`]
//! and [`super::remote`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::busy::BusyPolicy;
use super::context::{Controls, RunContext};
use super::emitter::Emitter;
use super::events::{info, BuilderResult, EventKind, Outcome};
use super::exit_code::ExitCode;
use super::remote::Prechecked;
use crate::farm::{Builder, Farm, Location};
use crate::hasher::workdir::LockState;
use crate::transport::cancel::CancelToken;
use crate::transport::ssh::Hosts;

/// A result for a build that never ran (its fields filled by the caller).
pub fn cancelled_result(b: &Builder) -> BuilderResult {
    cancelled(b)
}

fn cancelled(b: &Builder) -> BuilderResult {
    BuilderResult {
        builder: info(b),
        outcome: Outcome::Cancelled,
        elapsed: Duration::ZERO,
        packages: vec![],
        log: None,
        message: Some("not started: interrupted".into()),
        hint: None,
        log_tail: vec![],
        rejected: vec![],
        checks: vec![],
    }
}

/// Build on every builder; returns results in the builders' order.
pub fn execute(
    ctx: &RunContext<'_>,
    farm: &Farm,
    builders: &[&Builder],
    parallel: bool,
    emit: &Emitter,
    controls: &Controls,
    prechecked: HashMap<String, Prechecked>,
) -> Vec<BuilderResult> {
    let prechecked = Mutex::new(prechecked);
    // Builders sharing a hasher-priv slot take turns.
    let mut slot_locks: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
    let lock_for = |b: &Builder, locks: &mut HashMap<String, Arc<Mutex<()>>>| {
        let mut mates: Vec<&str> = farm.slot_mates(&b.name);
        mates.push(&b.name);
        mates.sort();
        locks.entry(mates[0].to_string()).or_default().clone()
    };
    let jobs: Vec<(&Builder, Arc<Mutex<()>>)> = builders
        .iter()
        .map(|b| (*b, lock_for(b, &mut slot_locks)))
        .collect();
    let redirected = if builders.len() > 1 && ctx.busy == BusyPolicy::Wait {
        prefer_free(ctx, builders)
    } else {
        HashMap::new()
    };
    let first_failure: Mutex<Option<String>> = Mutex::new(None);
    let run_one = |b: &Builder, slot: &Mutex<()>| {
        let token = controls.builder(&b.name);
        let mut r = if let Some(r) = redirected.get(&b.name) {
            r.clone()
        } else if token.is_cancelled() {
            cancelled(b)
        } else {
            let _turn = slot.lock().unwrap_or_else(|p| p.into_inner());
            if token.is_cancelled() {
                cancelled(b)
            } else {
                match &b.location {
                    Location::Local => super::local::build(ctx, b, emit, &token),
                    Location::Remote { host } => {
                        let pre = prechecked
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&b.name);
                        super::remote::build(ctx, b, host, emit, &token, pre)
                    }
                }
            }
        };
        if r.outcome == Outcome::Failed && ctx.fail_fast {
            let mut first = first_failure.lock().unwrap_or_else(|p| p.into_inner());
            if first.is_none() {
                *first = Some(b.name.clone());
                ctx.cancel.cancel();
            }
        } else if r.outcome == Outcome::Cancelled {
            if let Some(f) = first_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
            {
                r.message = Some(format!("stopped by --fail-fast after `{f}` failed"));
            }
        }
        emit.emit(EventKind::Finished(r.clone()));
        r
    };
    if parallel && jobs.len() > 1 {
        std::thread::scope(|s| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|(b, slot)| s.spawn(|| run_one(b, slot)))
                .collect();
            handles
                .into_iter()
                .zip(&jobs)
                .map(|(h, (b, _))| h.join().unwrap_or_else(|_| cancelled(b)))
                .collect()
        })
    } else {
        jobs.iter().map(|(b, slot)| run_one(b, slot)).collect()
    }
}

/// How a builder's pre-check went.
pub enum Precheck {
    /// It can build; a remote builder's plan and pre-flight answer come
    /// along for its build.
    Passed(Option<Prechecked>),
    /// It cannot: its final result.
    Failed(BuilderResult),
}

/// Pre-flight that needs no source tarball, run before gear: for a local
/// builder its workdir and hasher-priv setup (satellite users, the mount
/// points its command asks for); for a remote one that its host answers
/// (which also brings up the SSH master). A failure is the builder's final
/// result; the rest of the pre-flight happens in the build itself, which a
/// remote builder's [`Prechecked`] plan and answer go to.
pub fn precheck(
    input: &super::plan_input::PlanInput<'_>,
    home: &std::path::Path,
    b: &Builder,
    hosts: &Hosts,
    cancel: &CancelToken,
) -> Precheck {
    use super::ended::Ended;
    use crate::hasher::invocation::{hsh_argv, HshOptions};
    let global = input.global;
    let ended = match &b.location {
        Location::Remote { host } => {
            match super::remote::precheck(input, b, &hosts.get(host), cancel) {
                Ok(p) => return Precheck::Passed(Some(p)),
                Err(e) => e,
            }
        }
        Location::Local => {
            let home_s = home.to_string_lossy();
            let workdir = b.hasher_dir_with_home(Some(&home_s));
            let mut vars = b.vars();
            vars.home = Some(home_s.into_owned());
            let apt = input.builders_dir.join(&b.name).join("apt/apt.conf");
            let opts = HshOptions {
                host_arch: crate::config::arch::local(),
                workdir,
                apt_config: apt.is_file().then(|| apt.to_string_lossy().into_owned()),
                package: input.tar_name.to_string(),
                ..HshOptions::default()
            };
            let template = b.command.as_ref().unwrap_or(&global.build.command);
            match hsh_argv(template, &vars, &b.arch, &opts) {
                Err(e) => {
                    let (m, h) = super::local::template_error(b, template, &e);
                    Ended::unusable(m, h)
                }
                Ok(hsh) => match super::local::preflight(&hsh, b) {
                    Some(p) => Ended::unusable(p.message, p.hint),
                    None => {
                        let workdir = hsh.workdir().unwrap_or_default();
                        match super::local::check_chroot(input.options.mode, b, workdir) {
                            Ok(()) => return Precheck::Passed(None),
                            Err((message, hint)) => Ended::unusable(message, hint),
                        }
                    }
                },
            }
        }
    };
    Precheck::Failed(ended.into_result(b, Duration::ZERO))
}

/// "Prefer free ones": a busy builder whose lane (arch and branch) also has a
/// free selected builder is not waited for — the free one builds the same
/// thing. Returns the SKIP results for those builders.
fn prefer_free(ctx: &RunContext<'_>, builders: &[&Builder]) -> HashMap<String, BuilderResult> {
    let states: Vec<Option<LockState>> = std::thread::scope(|s| {
        let handles: Vec<_> = builders
            .iter()
            .map(|b| {
                s.spawn(move || match &b.location {
                    Location::Local => super::local::probe(ctx, b),
                    Location::Remote { host } => super::remote::probe(ctx, b, host, &ctx.cancel),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(None))
            .collect()
    });
    let is_busy = |i: usize| matches!(states[i], Some(LockState::Busy { .. }));
    let mut out = HashMap::new();
    for (i, b) in builders.iter().enumerate() {
        let Some(LockState::Busy { pid, since }) = &states[i] else {
            continue;
        };
        let free: Vec<&str> = builders
            .iter()
            .enumerate()
            .filter(|(j, o)| !is_busy(*j) && o.arch == b.arch && o.branch == b.branch)
            .map(|(_, o)| o.name.as_str())
            .collect();
        if free.is_empty() {
            continue;
        }
        let mut r = cancelled(b);
        r.outcome = Outcome::Skipped;
        r.message = Some(format!(
            "busy (hasher workdir locked by {}); {}/{} is built on {}",
            super::busy::describe_holder(*pid, *since),
            b.arch,
            b.branch,
            free.join(", ")
        ));
        out.insert(b.name.clone(), r);
    }
    out
}

/// SPEC 8 from the results: 1 when a build failed, else 130 when one was
/// cancelled (Ctrl-C or the TUI), else 3 when a builder was unusable or busy,
/// or a remote host listed results that were rejected (a host that
/// misbehaves is an infrastructure problem even when its build succeeded),
/// else 0 (skips are fine). A build failure wins over the cancellations that
/// `--fail-fast` causes; the caller returns 130 for Ctrl-C regardless.
pub fn exit_code(results: &[BuilderResult]) -> i32 {
    exit_class(results).code()
}

/// [`exit_code`] as its class.
pub fn exit_class(results: &[BuilderResult]) -> ExitCode {
    let has = |o: Outcome| results.iter().any(|r| r.outcome == o);
    if has(Outcome::Failed) {
        ExitCode::BuildFailed
    } else if has(Outcome::Cancelled) {
        ExitCode::Interrupted
    } else if has(Outcome::Unusable)
        || has(Outcome::Busy)
        || has(Outcome::Lost)
        || results.iter().any(|r| !r.rejected.is_empty())
    {
        ExitCode::Infra
    } else {
        ExitCode::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::events::BuilderInfo;

    fn r(o: Outcome) -> BuilderResult {
        BuilderResult {
            builder: BuilderInfo {
                name: "b".into(),
                host: "h".into(),
                arch: "x86_64".into(),
                branch: "sisyphus".into(),
            },
            outcome: o,
            elapsed: Duration::ZERO,
            packages: vec![],
            log: None,
            message: None,
            hint: None,
            log_tail: vec![],
            rejected: vec![],
            checks: vec![],
        }
    }

    #[test]
    fn exit_codes_follow_the_spec() {
        use Outcome::*;
        assert_eq!(exit_code(&[r(Success), r(Skipped)]), 0);
        assert_eq!(exit_code(&[r(Success), r(Failed), r(Unusable)]), 1);
        assert_eq!(exit_code(&[r(Success), r(Unusable)]), 3);
        assert_eq!(exit_code(&[r(Failed), r(Cancelled)]), 1);
        assert_eq!(exit_code(&[r(Success), r(Cancelled), r(Busy)]), 130);
        assert_eq!(exit_code(&[r(Success), r(Busy)]), 3);
    }
}
