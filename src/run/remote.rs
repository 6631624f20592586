//! One build on a remote builder, over ssh and rsync.
//!
//! Probe the host (once per run), run the pre-flight script (workdir,
//! hasher-priv, lock, result listing, zoryn's directories), sync the apt
//! config, upload the tarball (once per host per run, into a per-package
//! directory that stays there so the next upload is a delta), run hsh on a
//! remote terminal with its output streamed into the local log, list the
//! results again and download only the new ones. Ctrl-C stops the remote hsh
//! and waits until its workdir lock is free.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::busy;
use super::events::{BuilderResult, EventKind};
use super::executor::{Emitter, RunContext};
use super::job::{build_vars, is_safe_result_name, log_path, results_dir, run_logged, Ended};
use crate::farm::Builder;
use crate::hasher::invocation::{hsh_argv, HshOptions};
use crate::hasher::priv_config::{self, Caller};
use crate::hasher::remote::{
    list_argv, parse_listing, parse_preflight, preflight_argv, WorkdirState,
};
use crate::hasher::results::ResultDirs;
use crate::hasher::stage::Phase;
use crate::hasher::workdir::LockState;
use crate::run::cancel::CancelToken;
use crate::transport::rsync;
use crate::transport::runner::Outcome as RunOutcome;
use crate::transport::ssh::{Host, TransportError};

/// zoryn's directory in the remote home.
pub const REMOTE_BASE: &str = ".cache/zoryn";
/// Prefix of the lines the remote wrapper adds around hsh's output: first
/// `pid=N` (the process group hsh runs in, for stopping it), and after hsh exits the
/// result listing (`rpm=...`), so no extra round trip is needed for it.
const MARKER: &str = "zoryn-remote:";

/// Runs hsh in the workdir, then lists the result dirs, keeping hsh's exit
/// status. Arguments: WORKDIR NDIRS DIR... HSH-ARGV...
const BUILD_WRAPPER: &str = r#"pg=$$
read -r _ _ _ _ pg _ < /proc/$$/stat 2>/dev/null
echo "zoryn-remote:pid=$pg"
cd "$1" || exit 1
n=$2; shift 2
dirs=
while [ "$n" -gt 0 ]; do dirs="$dirs
$1"; shift; n=$((n-1)); done
"$@"
rc=$?
printf '%s\n' "$dirs" | while IFS= read -r d; do
  [ -n "$d" ] && [ -d "$d" ] && find "$d" -maxdepth 1 -type f -name '*.rpm' -printf 'zoryn-remote:rpm=%i %T@ %s %p\n' 2>/dev/null
done
exit $rc"#;

pub fn upload_dir(home: &str, pkg: &str) -> String {
    format!("{home}/{REMOTE_BASE}/upload/{pkg}")
}

pub fn apt_dir(home: &str, builder: &str) -> String {
    format!("{home}/{REMOTE_BASE}/apt/{builder}")
}

fn transport_failure(e: TransportError) -> Ended {
    Ended::lost(e.to_string(), e.hint)
}

pub fn build(
    ctx: &RunContext<'_>,
    b: &Builder,
    host_name: &str,
    emit: &Emitter,
    cancel: &CancelToken,
) -> BuilderResult {
    let started = Instant::now();
    build_inner(ctx, b, host_name, emit, cancel).into_result(b, started.elapsed())
}

/// The workdir lock on the host right now (`None`: cannot tell).
pub fn probe(
    ctx: &RunContext<'_>,
    b: &Builder,
    host_name: &str,
    cancel: &CancelToken,
) -> Option<LockState> {
    let host = ctx.hosts.get(host_name);
    let facts = host.facts(cancel).ok()?;
    let workdir = b.hasher_dir_with_home(Some(&facts.home));
    let out = host
        .query(&preflight_argv(&workdir, &[], &[], &[]), cancel)
        .ok()?;
    parse_preflight(&out.stdout).lock
}

fn build_inner(
    ctx: &RunContext<'_>,
    b: &Builder,
    host_name: &str,
    emit: &Emitter,
    cancel: &CancelToken,
) -> Ended {
    let spec = &ctx.tarball.spec;
    if spec.excludes(&b.arch) {
        return Ended::skipped(format!(
            "{} excludes {} (ExcludeArch/ExclusiveArch)",
            spec.name, b.arch
        ));
    }
    let host = ctx.hosts.get(host_name);
    let facts = match host.facts(cancel) {
        Ok(f) => f.clone(),
        Err(e) => return transport_failure(e.clone()),
    };
    let vars = build_vars(ctx, b, &facts.home);
    let workdir = b.hasher_dir_with_home(Some(&facts.home));
    let pkg = &spec.name;
    let remote_upload = upload_dir(&facts.home, pkg);
    let remote_tar = format!(
        "{remote_upload}/{}",
        ctx.tarball
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("{pkg}.tar"))
    );
    let local_apt = ctx.apt_dir(&b.name);
    let remote_apt = apt_dir(&facts.home, &b.name);
    let has_apt = local_apt.join("apt.conf").is_file();
    let template = b.command.as_ref().unwrap_or(&ctx.global.build.command);
    let opts = HshOptions {
        host_arch: facts.arch.clone(),
        workdir: workdir.clone(),
        apt_config: has_apt.then(|| format!("{remote_apt}/apt.conf")),
        rpmbuild_args: ctx.rpmbuild_args.clone(),
        packager: ctx.packager.clone(),
        package: remote_tar.clone(),
        hsh_program: Vec::new(),
        no_wait_lock: true,
    };
    let argv = hsh_argv(template, &vars, &b.arch, &opts);
    let dirs = ResultDirs::from_argv(&argv, Path::new(&workdir), &b.arch);
    let result_dirs = vec![
        dirs.rpms.to_string_lossy().into_owned(),
        dirs.srpms.to_string_lossy().into_owned(),
    ];
    let caller = Caller {
        user: facts.user.clone(),
        uid: facts.uid,
    };

    // Pre-flight, in one round trip.
    let mut mkdirs = vec![remote_upload.clone()];
    if ctx.chain.is_some() {
        mkdirs.push(dirs.rpms.to_string_lossy().into_owned());
    }
    if has_apt {
        mkdirs.push(remote_apt.clone());
    }
    let pre_argv = preflight_argv(
        &workdir,
        &priv_config::candidate_files(&caller, b.hasher_number),
        &mkdirs,
        &result_dirs,
    );
    let pre = match host.query(&pre_argv, cancel) {
        Ok(out) if out.success() => parse_preflight(&out.stdout),
        Ok(out) => return transport_failure(host.error_from(&out.stderr, out.code())),
        Err(e) => return transport_failure(e),
    };
    let on = format!("on {}", host.destination);
    match pre.workdir {
        WorkdirState::Ok => {}
        WorkdirState::Missing => {
            return Ended::unusable(
                format!("hasher workdir {workdir} does not exist {on}"),
                format!(
                    "create it: ssh {} mkdir -p '{workdir}' (or fix hasher_dir in {})",
                    host.destination,
                    b.origin()
                ),
            )
        }
        WorkdirState::NotDir => {
            return Ended::unusable(
                format!("hasher workdir {workdir} {on} is not a directory"),
                "point hasher_dir at a directory".into(),
            )
        }
        WorkdirState::Unwritable => {
            return Ended::unusable(
                format!(
                    "hasher workdir {workdir} {on} is not writable by {}",
                    facts.user
                ),
                format!(
                    "fix its owner there: ssh {} chown {} '{workdir}'",
                    host.destination, facts.user
                ),
            )
        }
    }
    if let Some(d) = pre.mkdir_failed.first() {
        return Ended::unusable(
            format!("cannot create {d} {on}"),
            "check the remote home's permissions and free space".into(),
        );
    }
    if let Err(p) = priv_config::check(
        &pre,
        &caller,
        b.hasher_number,
        &priv_config::requested_mountpoints(&argv),
    ) {
        return Ended::unusable(
            format!("{} ({})", p.message, host.destination),
            format!("on {}: {}", host.destination, p.hint),
        );
    }

    // Ship the apt config and the source (also while a busy slot is waited for).
    emit.emit(EventKind::Phase {
        builder: b.name.clone(),
        phase: Phase::Uploading,
    });
    if has_apt {
        if let Err(e) = rsync::upload_dir(
            &ctx.global.commands.rsync,
            &host,
            &local_apt,
            &remote_apt,
            cancel,
        ) {
            return if cancel.is_cancelled() {
                Ended::cancelled(None)
            } else {
                transport_failure(e)
            };
        }
    }
    match ctx.upload_once(&host, &remote_tar) {
        Ok(bytes) => emit.emit(EventKind::Uploaded {
            builder: b.name.clone(),
            bytes_sent: bytes,
            tarball_bytes: ctx.tarball.size,
        }),
        Err(e) => {
            return if cancel.is_cancelled() {
                Ended::cancelled(None)
            } else {
                transport_failure(e)
            }
        }
    }

    // Build, once the workdir is free.
    let log = log_path(ctx, b);
    let mut wrapped = vec![
        "sh".to_string(),
        "-c".to_string(),
        BUILD_WRAPPER.to_string(),
        "zoryn-hsh".to_string(),
        workdir.clone(),
        result_dirs.len().to_string(),
    ];
    wrapped.extend(result_dirs.iter().cloned());
    wrapped.extend(argv.iter().cloned());
    let cmd = host.command_tty(&wrapped);
    let mut latest = Some((pre.lock.clone(), pre.results.clone()));
    let (out, before) = loop {
        let mut results = None;
        let probe = || -> Result<Option<LockState>, Ended> {
            let (lock, listing) = match latest.take() {
                Some(x) => x,
                None => {
                    let argv = preflight_argv(&workdir, &[], &[], &result_dirs);
                    let p = match host.query(&argv, cancel) {
                        Ok(out) if out.success() => parse_preflight(&out.stdout),
                        Ok(out) => {
                            return Err(transport_failure(host.error_from(&out.stderr, out.code())))
                        }
                        Err(e) => return Err(transport_failure(e)),
                    };
                    (p.lock, p.results)
                }
            };
            results = Some(listing);
            Ok(lock)
        };
        if let Err(e) = busy::wait_for_lock(probe, ctx.busy, emit, &b.name, cancel) {
            return e;
        }
        if let Some(chain) = ctx.chain {
            let files = chain.files_for(&b.branch, &b.arch);
            if !files.is_empty() {
                if let Err(e) = rsync::upload_files(
                    &ctx.global.commands.rsync,
                    &host,
                    &files,
                    &dirs.rpms.to_string_lossy(),
                    cancel,
                ) {
                    return if cancel.is_cancelled() {
                        Ended::cancelled(None)
                    } else {
                        transport_failure(e)
                    };
                }
                // The placed files are not this build's results: list again.
                latest = None;
                let argv = list_argv(&result_dirs);
                results = match host.query(&argv, cancel) {
                    Ok(out) if out.success() => Some(parse_listing(&out.stdout)),
                    Ok(out) => return transport_failure(host.error_from(&out.stderr, out.code())),
                    Err(e) => return transport_failure(e),
                };
            }
        }
        let before = results.unwrap_or_default();
        let missing = "install openssh-client, or set [commands] ssh in ~/.zoryn";
        let out = {
            let _slot = host.session();
            match run_logged(
                &cmd,
                &argv,
                &log,
                Some(MARKER),
                emit,
                &b.name,
                cancel,
                missing,
            ) {
                Ok(o) => o,
                Err(e) => return e,
            }
        };
        let remote_pid: Option<u32> = out
            .markers
            .iter()
            .find_map(|m| m.strip_prefix(MARKER).and_then(|r| r.strip_prefix("pid=")))
            .and_then(|p| p.trim().parse().ok());
        match &out.outcome {
            RunOutcome::Cancelled | RunOutcome::TimedOut => {
                stop_remote(&host, remote_pid, &workdir);
                return Ended::cancelled(Some(&log));
            }
            o if o.code() == Some(255) => {
                stop_remote(&host, remote_pid, &workdir);
                // The tail is hsh's output; only ssh's own lines say why.
                let mut e = host.error_from(ssh_lines(&out.log_tail).as_str(), Some(255));
                if e.message.ends_with("ssh failed without a message") {
                    // ssh says nothing when keepalives go unanswered or the
                    // peer vanishes: say what that means.
                    e.message = format!(
                        "cannot reach {}: ssh ended without a message (the host stopped answering \
                         keepalives for about {} s, or it closed the connection)",
                        host.destination,
                        host.keepalive_bound_secs()
                    );
                    e.hint = format!(
                        "check that {0} is up and reachable (`ssh {0} true`); a silent host is given up \
                         after [ssh] alive_interval × alive_count seconds",
                        host.destination
                    );
                }
                e.message = format!("connection lost during the build: {}", e.message);
                return Ended {
                    log: Some(log.clone()),
                    log_tail: out.log_tail,
                    ..transport_failure(e)
                };
            }
            o if !o.success() && busy::lost_lock_race(&out.log_tail) => continue,
            o if !o.success() => {
                let msg = format!(
                    "hsh exited with status {} on {}",
                    o.code().unwrap_or(-1),
                    host.destination
                );
                return Ended::failed(msg, &log, out.log_tail);
            }
            _ => break (out, before),
        }
    };
    let log_tail = out.log_tail.clone();
    if let Some(e) = &out.log_error {
        return Ended::unusable(
            format!("writing the build log {} failed: {e}", log.display()),
            "free some disk space and build again".into(),
        );
    }

    // Bring back what this build produced.
    emit.emit(EventKind::Phase {
        builder: b.name.clone(),
        phase: Phase::Downloading,
    });
    let listing: String = out
        .markers
        .iter()
        .filter_map(|m| m.strip_prefix(MARKER))
        .map(|l| format!("{l}\n"))
        .collect();
    let after = parse_listing(&listing);
    let produced = before.produced_since(&after);
    let mut names = Vec::new();
    let mut remote_files = Vec::new();
    for p in &produced {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent_ok = p
            .parent()
            .is_some_and(|d| d == dirs.rpms || d == dirs.srpms);
        if !is_safe_result_name(&name) || !parent_ok {
            return Ended::unusable(
                format!(
                    "{} reported a result outside the hasher repo or with an unsafe name: {}",
                    host.destination,
                    p.display()
                ),
                "nothing was downloaded; check the builder host".into(),
            );
        }
        names.push(name);
        remote_files.push(p.to_string_lossy().into_owned());
    }
    if names.is_empty() {
        let msg = format!(
            "hsh succeeded but no new packages appeared in {} or {} on {}",
            dirs.rpms.display(),
            dirs.srpms.display(),
            host.destination
        );
        return Ended::failed(msg, &log, log_tail);
    }
    let dest = results_dir(ctx, b);
    match download(ctx, &host, &remote_files, &names, &dest, cancel) {
        Ok(packages) => Ended::success(packages, &log),
        Err(_) if cancel.is_cancelled() => Ended::cancelled(Some(&log)),
        // The build is fine and the host too: this side cannot take the files.
        Err(e) if e.message.to_lowercase().contains("no space left on device") => Ended {
            log: Some(log.clone()),
            ..Ended::unusable(
                if e.message.starts_with("cannot write results into") {
                    e.message
                } else {
                    format!(
                        "cannot write results into {}: no space left on device ({})",
                        dest.display(),
                        e.message
                    )
                },
                format!(
                    "free some space in {} or set [builders] results_download_dir, then build again \
                     (the RPMs are still in the hasher repo on {})",
                    dest.display(),
                    host.destination
                ),
            )
        },
        Err(e) => transport_failure(e),
    }
}

/// The lines of ssh's own (a dropped connection) in a build's output tail,
/// which otherwise is hsh's: they start like OpenSSH's client messages.
fn ssh_lines(tail: &[String]) -> String {
    const SSH: [&str; 12] = [
        "ssh:",
        "ssh_",
        "client_loop:",
        "Connection to ",
        "Connection closed",
        "Connection reset",
        "Timeout, server",
        "packet_write_wait:",
        "Read from remote host",
        "mux_client",
        "Control socket",
        "kex_exchange_identification:",
    ];
    tail.iter()
        .map(|l| l.trim())
        .filter(|l| SSH.iter().any(|p| l.starts_with(p)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Download into a hidden staging dir inside `dest`, then rename each file
/// into place: a reader never sees a partial RPM, a failed download leaves
/// nothing behind.
fn download(
    ctx: &RunContext<'_>,
    host: &Host,
    remote_files: &[String],
    names: &[String],
    dest: &Path,
    cancel: &CancelToken,
) -> Result<Vec<PathBuf>, TransportError> {
    let local_err = |e: std::io::Error| TransportError {
        host: host.destination.clone(),
        message: format!("cannot write results into {}: {e}", dest.display()),
        hint: "check free space and permissions there, or set [builders] results_download_dir"
            .into(),
    };
    std::fs::create_dir_all(dest).map_err(local_err)?;
    let staging = tempfile::Builder::new()
        .prefix(".zoryn-dl.")
        .tempdir_in(dest)
        .map_err(local_err)?;
    rsync::download_files(
        &ctx.global.commands.rsync,
        host,
        remote_files,
        staging.path(),
        cancel,
    )?;
    let mut out = Vec::new();
    for n in names {
        let from = staging.path().join(n);
        let meta = std::fs::symlink_metadata(&from).map_err(local_err)?;
        if !meta.file_type().is_file() {
            return Err(local_err(std::io::Error::other(format!(
                "{n} did not arrive as a regular file"
            ))));
        }
        let to = dest.join(n);
        std::fs::rename(&from, &to).map_err(local_err)?;
        out.push(to);
    }
    Ok(out)
}

/// Make sure nothing of an interrupted build keeps running on the host:
/// SIGINT to hsh's process group (the pty hangup usually did it already),
/// then wait for the workdir lock, then SIGKILL if it is still held.
fn stop_remote(host: &Host, pid: Option<u32>, workdir: &str) {
    let Some(pid) = pid else { return };
    let fresh = CancelToken::new();
    let script = r#"
pid=$1 wd=$2
kill -INT -- "-$pid" 2>/dev/null || kill -INT "$pid" 2>/dev/null
i=0
while [ $i -lt 100 ]; do
  if command -v flock >/dev/null 2>&1; then
    flock -n "$wd" true 2>/dev/null && exit 0
  else
    kill -0 "$pid" 2>/dev/null || exit 0
  fi
  sleep 0.1; i=$((i+1))
done
kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
exit 0
"#;
    let argv = vec![
        "sh".into(),
        "-c".into(),
        script.into(),
        "zoryn-stop".into(),
        pid.to_string(),
        workdir.to_string(),
    ];
    if let Err(e) = host.query_after_loss(&argv, &fresh) {
        tracing::warn!(
            "could not stop hsh (pid {pid}) on {}: {e}",
            host.destination
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ssh_lines_explain_a_dropped_connection() {
        let tail: Vec<String> = [
            "<13>Nov 28 03:15:25 rpmi: time-1.9-alt1 installed",
            "Executing(%build): /bin/sh -e /usr/src/tmp/rpm-tmp.1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(ssh_lines(&tail), "");
        let mut t2 = tail.clone();
        t2.push("client_loop: send disconnect: Broken pipe\r".into());
        assert_eq!(ssh_lines(&t2), "client_loop: send disconnect: Broken pipe");
    }
}
