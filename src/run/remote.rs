//! One build on a remote builder, over ssh and rsync.
//!
//! Probe the host (once per run), run the pre-flight script (workdir,
//! hasher-priv, lock, result listing, zoryn's directories, checksums of
//! the source and apt config already there), sync the apt config (only
//! when a file differs from this side's), upload the tarball (once per
//! host per run, into a per-package directory that stays there so the
//! next upload is a delta; not at all when the pre-flight says the host
//! already has this very tarball — its SHA-256 matches the reused local
//! one; as a block delta when the host has an earlier source this side
//! still keeps in its tarball cache, else with rsync), run hsh on a remote
//! terminal with its output streamed into the local log, list the results
//! again and download only the new ones. Ctrl-C stops the remote hsh
//! and waits until its workdir lock is free. With `-r`/`--section` the
//! pre-flight also requires the chroot an earlier build left, and a section's
//! `--rebuild-prog` script is uploaded next to the tarball.
//!
//! Sessions per build through a warm master: host facts (once per master,
//! see [`crate::transport::ssh`]), pre-flight (while gear packs the
//! source), upload (none for an unchanged source; none either for a small
//! delta of a builder alone on its host, which rides on the build
//! session's command line; else one for a delta or a small file, rsync's
//! otherwise), build, download (for `zoryn build` and `up` alone on the
//! host, opened before hsh runs and waiting there for the list): 3 for a
//! rebuild, changed or not, once the master is known, plus one rsync for
//! the apt config when it changed. Before them, one `ssh -O check` per
//! host and run asks after the master (no session), unless the master the
//! kept facts name is still running.
//!
//! The host is not trusted with what lands on this machine: every listed
//! result must be a plain `*.rpm` name directly in one of the two result
//! dirs and arrive as a regular file; anything else is rejected and named
//! (the build still succeeds with its real RPMs; the run exits 3). Of the
//! new files, only those the build log says rpmbuild wrote are taken, since
//! other clients may use the same slot's repo at the same time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::busy;
use super::context::RunContext;
use super::emitter::Emitter;
use super::ended::Ended;
use super::events::{BuilderResult, EventKind};
use super::job::{is_safe_result_name, keep_written, log_path, results_dir, run_logged, vars_for};
use super::plan_input::PlanInput;
use crate::farm::Builder;
use crate::hasher::build_mode::{missing_chroot, BuildMode, Expected};
use crate::hasher::invocation::{hsh_argv, HshOptions};
use crate::hasher::priv_config::{self, Caller, Membership, PrivProblem};
use crate::hasher::remote::{
    parse_listing, parse_preflight, preflight_argv, preflight_argv_full, Preflight, WorkdirState,
};
use crate::hasher::results::{ResultDirs, Snapshot};
use crate::hasher::stage::Phase;
use crate::hasher::workdir::LockState;
use crate::source::cache::{file_sha256, TarballCache};
use crate::transport::cancel::CancelToken;
use crate::transport::rsync;
use crate::transport::runner::{Captured, Outcome as RunOutcome};
use crate::transport::ssh::{Host, HostFacts, TransportError};
use crate::transport::stream::{self, Delta, FetchError, NoDelta, PreparedFetch, RemoteFile};

/// zoryn's directory in the remote home.
pub const REMOTE_BASE: &str = ".cache/zoryn";
/// Prefix of the lines the remote wrapper adds around hsh's output: first
/// `pid=N` (the process group hsh runs in, for stopping it), and after hsh exits the
/// result listing (`rpm=...`), so no extra round trip is needed for it.
const MARKER: &str = "zoryn-remote:";

/// Lists the result dirs (one `find` for both), runs hsh in the workdir,
/// lists them again, and keeps hsh's exit status: what hsh added is
/// exactly the difference, with
/// no round trip in between (hsh takes the workdir lock itself, so nobody
/// else's build can land between the two listings without our hsh failing
/// on the lock). `start` and `end` lines frame hsh's own output, in which a
/// package's build can print anything, marker look-alikes included (see
/// [`WrapperLines`]). Arguments: WORKDIR NDIRS DIR... HSH-ARGV...
const BUILD_WRAPPER: &str = r#"pg=$$
read -r _ _ _ _ pg _ < /proc/$$/stat 2>/dev/null
echo "zoryn-remote:pid=$pg"
cd "$1" || exit 1
n=$2; shift 2
dirs=
while [ "$n" -gt 0 ]; do dirs="$dirs
$1"; shift; n=$((n-1)); done
list() {
  kind=$1 ifs=$IFS
  set --
  set -f; IFS='
'
  for d in $dirs; do
    if [ -d "$d" ]; then set -- "$@" "$d"; fi
  done
  set +f; IFS=$ifs
  [ $# -eq 0 ] || find "$@" -maxdepth 1 -type f -name '*.rpm' -printf "zoryn-remote:$kind=%i %T@ %s %p\\n" 2>/dev/null
}
list before
echo "zoryn-remote:start"
"$@"
rc=$?
echo "zoryn-remote:end"
list rpm
exit $rc"#;

/// What the build wrapper reported, told apart from look-alike lines a
/// package's build printed into the same stream: `pid=` and `before=` count
/// only before the wrapper's first `start` line (nothing of hsh has run
/// yet), `rpm=` only after its last `end` line (hsh has exited).
#[derive(Debug, Default)]
struct WrapperLines {
    pid: Option<u32>,
    before: Snapshot,
    after: Snapshot,
    /// The source's delta riding on this session did not apply (its
    /// script's exit status): hsh did not run.
    delta_failed: Option<i32>,
}

impl WrapperLines {
    fn of(markers: &[String]) -> WrapperLines {
        let lines: Vec<&str> = markers
            .iter()
            .filter_map(|m| m.strip_prefix(MARKER))
            .map(str::trim_end)
            .collect();
        let start = lines.iter().position(|l| *l == "start");
        let head = &lines[..start.unwrap_or(lines.len())];
        let tail = match lines.iter().rposition(|l| *l == "end") {
            Some(end) if start.is_some_and(|s| s < end) => &lines[end + 1..],
            _ => &[],
        };
        let listing = |part: &[&str], kind: &str| -> Snapshot {
            let text: String = part
                .iter()
                .filter_map(|l| l.strip_prefix(kind))
                .map(|l| format!("rpm={l}\n"))
                .collect();
            parse_listing(&text)
        };
        WrapperLines {
            pid: head
                .iter()
                .find_map(|l| l.strip_prefix("pid="))
                .and_then(|p| p.trim().parse().ok()),
            before: listing(head, "before="),
            after: listing(tail, "rpm="),
            delta_failed: head
                .iter()
                .find_map(|l| l.strip_prefix("delta=failed "))
                .and_then(|c| c.trim().parse().ok()),
        }
    }
}

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
    prechecked: Option<Prechecked>,
) -> BuilderResult {
    let started = Instant::now();
    let ended = build_inner(ctx, b, host_name, emit, cancel, prechecked);
    ctx.finish(b, started, ended, emit, cancel)
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

/// What a remote build runs and checks, worked out from the configuration
/// and the host's facts alone (no tarball needed). The pre-check that runs
/// while gear packs the source and the build itself make the same plan, so
/// the build can reuse the pre-check's answer instead of asking again.
pub struct Plan {
    workdir: String,
    argv: Vec<String>,
    /// The hasher-priv subconfig number hsh will ask for.
    number: Option<u32>,
    /// The mount points hsh will request.
    mountpoints: Vec<String>,
    /// A template hsh would refuse: (message, hint).
    template_problem: Option<(String, String)>,
    dirs: ResultDirs,
    result_dirs: Vec<String>,
    caller: Caller,
    remote_tar: String,
    local_apt: PathBuf,
    remote_apt: String,
    has_apt: bool,
    mode: BuildMode,
    /// A section's `--rebuild-prog` script on the host.
    remote_section: Option<String>,
    /// The pre-flight query.
    preflight: Vec<String>,
}

/// A remote builder that passed its pre-check: the plan, made once, and the
/// host's pre-flight answer, handed to the build so it starts with the
/// upload instead of asking again.
pub struct Prechecked {
    plan: Plan,
    answer: Captured,
    /// The local apt config's checksums, worked out beside the pre-flight.
    apt_local: Option<AptSums>,
}

/// A builder's apt config, file name → SHA-256.
type AptSums = BTreeMap<String, String>;

/// The SHA-256 of every file of the local apt config `dir`; `None` when
/// that cannot be told, or the directory holds something else than plain
/// files: then the config is always sent.
fn local_apt_sums(dir: &Path, cancel: &CancelToken) -> Option<AptSums> {
    let mut sums = AptSums::new();
    for e in std::fs::read_dir(dir).ok()? {
        let e = e.ok()?;
        if !e.file_type().ok()?.is_file() {
            return None;
        }
        let name = e.file_name().to_str()?.to_string();
        sums.insert(name, file_sha256(&e.path(), cancel)?);
    }
    (!sums.is_empty()).then_some(sums)
}

impl Plan {
    pub fn new(input: &PlanInput<'_>, b: &Builder, facts: &HostFacts) -> Plan {
        let vars = vars_for(b, input.git_root, input.pkg, &facts.home);
        let workdir = b.hasher_dir_with_home(Some(&facts.home));
        let remote_upload = upload_dir(&facts.home, input.pkg);
        let remote_tar = format!("{remote_upload}/{}", input.tar_name);
        let local_apt = input.builders_dir.join(&b.name).join("apt");
        let remote_apt = apt_dir(&facts.home, &b.name);
        let has_apt = local_apt.join("apt.conf").is_file();
        let template = b.command.as_ref().unwrap_or(&input.global.build.command);
        // One script per builder: builders on one host share the upload dir.
        let remote_section = matches!(input.options.mode, BuildMode::Section(_))
            .then(|| format!("{remote_upload}/section-{}.sh", b.name));
        let opts = HshOptions {
            host_arch: facts.arch.clone(),
            workdir: workdir.clone(),
            apt_config: has_apt.then(|| format!("{remote_apt}/apt.conf")),
            rpmbuild_args: input.options.rpmbuild_args.clone(),
            packager: input.options.packager.clone(),
            package: remote_tar.clone(),
            hsh_program: Vec::new(),
            no_wait_lock: true,
            mode: input.options.mode,
            skip: input.options.skip_checks.clone(),
            rebuild_prog: remote_section.clone(),
        };
        let (hsh, template_problem) = match hsh_argv(template, &vars, &b.arch, &opts) {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(super::local::template_error(b, template, &e))),
        };
        let workdir = hsh
            .as_ref()
            .and_then(|c| c.workdir())
            .map_or(workdir, str::to_string);
        let argv = hsh.as_ref().map(|c| c.argv.clone()).unwrap_or_default();
        let number = hsh
            .as_ref()
            .map_or(b.hasher_number, |c| c.number(b.hasher_number));
        let mountpoints = hsh
            .as_ref()
            .map(|c| c.args.mountpoints())
            .unwrap_or_default();
        let dirs = match &hsh {
            Some(c) => ResultDirs::from_args(&c.args, Path::new(&workdir), c.target(&b.arch)),
            None => ResultDirs::from_args(&Default::default(), Path::new(&workdir), &b.arch),
        };
        let result_dirs = vec![
            dirs.rpms.to_string_lossy().into_owned(),
            dirs.srpms.to_string_lossy().into_owned(),
        ];
        let caller = Caller {
            user: facts.user.clone(),
            uid: facts.uid,
        };
        let mut mkdirs = vec![remote_upload];
        if input.chain {
            mkdirs.push(dirs.rpms.to_string_lossy().into_owned());
        }
        if has_apt {
            mkdirs.push(remote_apt.clone());
        }
        // No result listing here: the build wrapper lists the result dirs
        // itself, right before and after hsh.
        let preflight = preflight_argv_full(
            &workdir,
            &priv_config::candidate_files(&caller, number),
            &mkdirs,
            Some(&remote_tar),
            has_apt.then_some(remote_apt.as_str()),
            &[],
        );
        Plan {
            workdir,
            argv,
            number,
            mountpoints,
            template_problem,
            dirs,
            result_dirs,
            caller,
            remote_tar,
            local_apt,
            remote_apt,
            has_apt,
            mode: input.options.mode,
            remote_section,
            preflight,
        }
    }

    /// Ask the host the pre-flight questions (unless the pre-check's
    /// `answer` is at hand) and check the answer.
    fn preflight(
        &self,
        host: &Host,
        b: &Builder,
        answer: Option<Captured>,
        cancel: &CancelToken,
    ) -> Result<Preflight, Ended> {
        let out = match answer {
            Some(out) => out,
            None => host
                .query(&self.preflight, cancel)
                .map_err(transport_failure)?,
        };
        if !out.success() {
            return Err(transport_failure(host.error_from(&out.stderr, out.code())));
        }
        let pre = parse_preflight(&out.stdout);
        self.check(&pre, host, b)?;
        Ok(pre)
    }

    /// Is the builder usable, by the pre-flight's answer? Every problem at
    /// once (SPEC 5.1 step 1).
    fn check(&self, pre: &Preflight, host: &Host, b: &Builder) -> Result<(), Ended> {
        if let Some((m, h)) = &self.template_problem {
            return Err(Ended::unusable(m.clone(), h.clone()));
        }
        let on = format!(" on {}", host.destination);
        let mut problems = priv_config::caller_problems(
            &self.caller,
            &Membership::remote(pre.groups.as_deref(), pre.hashman_group),
            &on,
        );
        if let Some(p) = workdir_problem(pre, &self.workdir, &self.caller.user, host, b) {
            problems.push(p);
        }
        if self.mode.in_existing_chroot() && !pre.chroot {
            let (message, hint) =
                missing_chroot(&b.name, &self.workdir, Some(&host.destination), self.mode);
            problems.push(PrivProblem { message, hint });
        }
        if let Some(d) = pre.mkdir_failed.first() {
            problems.push(PrivProblem {
                message: format!("cannot create {d}{on}"),
                hint: "check the remote home's permissions and free space".into(),
            });
        }
        if self.caller.uid != 0 {
            problems.extend(
                priv_config::problems(pre, &self.caller, self.number, &self.mountpoints)
                    .into_iter()
                    .map(|p| PrivProblem {
                        message: format!("{}{on}", p.message),
                        hint: format!("on {}: {}", host.destination, p.hint),
                    }),
            );
        }
        match priv_config::combine(problems) {
            None => Ok(()),
            Some(p) => Err(Ended::unusable(p.message, p.hint)),
        }
    }
}

/// The source as a delta against the copy the host has: its SHA-256, from
/// the pre-flight, names an entry of the tarball cache this source came
/// from (`zoryn build`'s, or a batch's). Not when there is no such
/// entry, the source is small enough to send whole, or a delta does not
/// pay ([`Delta::new`]): then why not.
fn source_delta(
    ctx: &RunContext<'_>,
    remote_sha256: Option<&str>,
    cancel: &CancelToken,
) -> Result<Delta, NoDelta> {
    let no = |why: &str| NoDelta(why.to_string());
    let sum = remote_sha256.ok_or_else(|| no("the host has no earlier source"))?;
    if ctx.tarball.size <= stream::STREAM_UP_LIMIT {
        return Err(no("small enough to send whole"));
    }
    let dir = ctx
        .tarball
        .cache_dir
        .as_ref()
        .ok_or_else(|| no("no tarball cache"))?;
    let base = TarballCache::new(dir.clone())
        .entry_with_sha256(sum)
        .ok_or_else(|| no("the host's source is no longer in the tarball cache"))?;
    // The new source's checksum is being worked out meanwhile.
    Delta::new(&base, sum, &ctx.tarball.path, || {
        ctx.tarball.sha256_now()(cancel)
    })
}

/// Send the source to `remote_tar` on the host: as a delta in one session
/// when the host has an earlier source this side still keeps
/// ([`source_delta`], unless `worked_out` already says), else (or when
/// that fails) whole or with rsync, once per host and run (see
/// [`RunContext::upload_once`]). Returns the bytes sent (0 for a builder
/// whose host this run already sent it to).
fn upload_source(
    ctx: &RunContext<'_>,
    host: &Host,
    remote_tar: &str,
    remote_sha256: Option<&str>,
    worked_out: Option<Result<Delta, NoDelta>>,
    cancel: &CancelToken,
) -> Result<u64, TransportError> {
    if remote_sha256.is_some() && ctx.tarball.cache_dir.is_some() {
        // Builders on one host share the attempt, as they share the upload.
        let cell = {
            let key = format!("{}\0{remote_tar}\0delta", host.destination);
            let mut map = ctx.uploads.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key).or_default().clone()
        };
        let mut first = false;
        let sent = cell.get_or_init(|| {
            first = true;
            let delta = worked_out.unwrap_or_else(|| source_delta(ctx, remote_sha256, cancel));
            match delta {
                Ok(delta) => stream::put_delta(host, &delta, remote_tar, cancel),
                Err(NoDelta(why)) => Err(TransportError {
                    host: host.destination.clone(),
                    message: why,
                    hint: String::new(),
                }),
            }
        });
        match sent {
            Ok(bytes) => return Ok(if first { *bytes } else { 0 }),
            Err(e) if cancel.is_cancelled() => return Err(e.clone()),
            Err(e) => tracing::info!(
                "{}: no delta upload ({}), sending the source as before",
                host.destination,
                e.message
            ),
        }
    }
    ctx.upload_once(host, remote_tar)
}

/// The workdir part of a remote pre-flight answer, as a problem.
pub fn workdir_problem(
    pre: &Preflight,
    workdir: &str,
    user: &str,
    host: &Host,
    b: &Builder,
) -> Option<PrivProblem> {
    let on = format!("on {}", host.destination);
    let (message, hint) = match pre.workdir {
        WorkdirState::Ok => return None,
        WorkdirState::Missing => (
            format!("hasher workdir {workdir} does not exist {on}"),
            format!(
                "create it: ssh {} mkdir -p '{workdir}' (or fix hasher_dir in {})",
                host.destination,
                b.origin()
            ),
        ),
        WorkdirState::NotDir => (
            format!("hasher workdir {workdir} {on} is not a directory"),
            "point hasher_dir at a directory".into(),
        ),
        WorkdirState::Unwritable => (
            format!("hasher workdir {workdir} {on} is not writable by {user}"),
            format!(
                "fix its owner there: ssh {} chown {user} '{workdir}'",
                host.destination
            ),
        ),
    };
    Some(PrivProblem { message, hint })
}

/// The pre-check of a remote builder, run while gear packs the source: the
/// host's facts and the whole pre-flight (workdir, hasher-priv, zoryn's
/// directories, lock). The plan and the answer go to the build, which so
/// starts with the upload.
pub fn precheck(
    input: &PlanInput<'_>,
    b: &Builder,
    host: &Host,
    cancel: &CancelToken,
) -> Result<Prechecked, Ended> {
    let facts = host
        .facts(cancel)
        .map_err(|e| transport_failure(e.clone()))?
        .clone();
    let plan = Plan::new(input, b, &facts);
    // The local apt config's checksums while the host answers.
    let (out, apt_local) = std::thread::scope(|s| {
        let local = s.spawn(|| {
            plan.has_apt
                .then(|| local_apt_sums(&plan.local_apt, cancel))
                .flatten()
        });
        let out = host.query(&plan.preflight, cancel);
        (out, local.join().ok().flatten())
    });
    let out = out.map_err(transport_failure)?;
    if !out.success() {
        return Err(transport_failure(host.error_from(&out.stderr, out.code())));
    }
    plan.check(&parse_preflight(&out.stdout), host, b)?;
    Ok(Prechecked {
        plan,
        answer: out,
        apt_local,
    })
}

fn build_inner(
    ctx: &RunContext<'_>,
    b: &Builder,
    host_name: &str,
    emit: &Emitter,
    cancel: &CancelToken,
    prechecked: Option<Prechecked>,
) -> Ended {
    if let Some(why) = ctx.tarball.spec.skip_reason(&b.arch) {
        return Ended::skipped(why);
    }
    let host = ctx.hosts.get(host_name);
    let facts = match host.facts(cancel) {
        Ok(f) => f.clone(),
        Err(e) => return transport_failure(e.clone()),
    };
    let (plan, answer, apt_local) = match prechecked {
        Some(p) => (p.plan, Some(p.answer), p.apt_local),
        None => (Plan::new(&PlanInput::of(ctx), b, &facts), None, None),
    };
    let pre = match plan.preflight(&host, b, answer, cancel) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let Plan {
        workdir,
        argv,
        dirs,
        result_dirs,
        remote_tar,
        local_apt,
        remote_apt,
        has_apt,
        remote_section,
        mode,
        ..
    } = plan;

    // Ship the apt config and the source (also while a busy slot is waited for).
    emit.emit(EventKind::Phase {
        builder: b.name.clone(),
        phase: Phase::Uploading,
    });
    // The host's copy of the apt config is sent only when it differs
    // (file by file, by SHA-256) from this side's.
    let apt_same = has_apt && {
        let local = apt_local.or_else(|| local_apt_sums(&local_apt, cancel));
        local.is_some() && local == pre.apt_sha256
    };
    if apt_same {
        tracing::info!(
            "{}: the apt config on {} is unchanged, not sent",
            b.name,
            host.destination
        );
    }
    if has_apt && !apt_same {
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
    // The host already has this very source (an unchanged rebuild): no
    // upload round trip.
    let already_there = pre.source_sha256.is_some()
        && pre.source_sha256.as_deref() == ctx.tarball.sha256.as_deref();
    // Alone on its host, a small delta rides on the build session's
    // command line: one session less (a shared upload happens once, before
    // any of the host's builds).
    let (mut inline, mut worked_out) = (None, None::<Result<Delta, NoDelta>>);
    if !already_there && !ctx.shares_upload(host_name) {
        match source_delta(ctx, pre.source_sha256.as_deref(), cancel) {
            Ok(delta) if delta.fits_inline() => inline = Some(delta),
            other => worked_out = Some(other),
        }
    }
    let uploaded = if already_there {
        Ok(0)
    } else if let Some(delta) = &inline {
        Ok(delta.sent_bytes())
    } else {
        upload_source(
            ctx,
            &host,
            &remote_tar,
            pre.source_sha256.as_deref(),
            worked_out.take(),
            cancel,
        )
    };
    match uploaded {
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

    if let Some(remote) = &remote_section {
        let sent = match super::local::write_section_script(ctx, b) {
            Ok(Some(local)) => stream::put_file(&host, &local, remote, cancel),
            Ok(None) => Ok(0),
            Err(e) => {
                return Ended::unusable(
                    format!("cannot write the --section script next to the tarball: {e}"),
                    "check free space in the temporary directory ($TMPDIR)".into(),
                )
            }
        };
        if let Err(e) = sent {
            return if cancel.is_cancelled() {
                Ended::cancelled(None)
            } else {
                transport_failure(e)
            };
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
    // The download's session opens now and waits on the host while hsh
    // runs (`zoryn build` and `up` on a builder alone on its host, and
    // only while a session slot is free: it never holds up a build).
    let mut prepared = (ctx.prefetch && !ctx.shares_upload(host_name))
        .then(|| PreparedFetch::open(&host, cancel))
        .flatten();
    // The pre-flight's lock state first, then a fresh probe each time.
    let mut latest = Some(pre.lock.clone());
    let out = loop {
        let probe = || -> Result<Option<LockState>, Ended> {
            if let Some(lock) = latest.take() {
                return Ok(lock);
            }
            let argv = preflight_argv(&workdir, &[], &[], &[]);
            match host.query(&argv, cancel) {
                Ok(out) if out.success() => Ok(parse_preflight(&out.stdout).lock),
                Ok(out) => Err(transport_failure(host.error_from(&out.stderr, out.code()))),
                Err(e) => Err(transport_failure(e)),
            }
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
            }
        }
        let missing = "install openssh-client, or set [commands] ssh in ~/.zoryn";
        // The delta goes with the first attempt only: it either applied
        // then, or the source goes as before.
        let delta = inline.take();
        let cmd = match delta
            .as_ref()
            .and_then(|d| d.inline_argv(&remote_tar, &wrapped))
        {
            Some(both) => host.command_tty(&both),
            None => host.command_tty(&wrapped),
        };
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
        let lines = WrapperLines::of(&out.markers);
        let remote_pid = lines.pid;
        match &out.outcome {
            RunOutcome::Cancelled | RunOutcome::TimedOut => {
                stop_remote(&host, remote_pid, &workdir);
                return Ended::cancelled(Some(&log));
            }
            o if o.code() == Some(255) => {
                stop_remote(&host, remote_pid, &workdir);
                // The tail is hsh's output; only ssh's own lines say why.
                let mut e = host.connection_lost(&ssh_lines(&out.log_tail));
                e.message = format!("connection lost during the build: {}", e.message);
                return Ended {
                    log: Some(log.clone()),
                    log_tail: out.log_tail,
                    ..transport_failure(e)
                };
            }
            _ if delta.is_some() && lines.delta_failed.is_some() => {
                tracing::info!(
                    "{}: {}; sending the source as before",
                    b.name,
                    stream::delta_failure(lines.delta_failed, &host.destination, "")
                );
                match ctx.upload_once(&host, &remote_tar) {
                    Ok(bytes) => emit.emit(EventKind::Uploaded {
                        builder: b.name.clone(),
                        bytes_sent: bytes,
                        tarball_bytes: ctx.tarball.size,
                    }),
                    Err(_) if cancel.is_cancelled() => return Ended::cancelled(None),
                    Err(e) => return transport_failure(e),
                }
                continue;
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
            _ => break out,
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
    // The wrapper listed the result dirs right before hsh ran (after any
    // chain RPMs were placed) and right after.
    let lines = WrapperLines::of(&out.markers);
    let before = lines.before;
    let after = lines.after;
    let produced = before.produced_since(&after);
    // Unsafe entries are reported whether or not the log claims them; of
    // the rest, only what this build wrote is fetched.
    let (wanted, mut rejected) = screen_results(&produced, &dirs, &host.destination);
    let ours = keep_written(wanted.iter().map(|(_, p)| PathBuf::from(p)).collect(), &log);
    let wanted: Vec<(String, String)> = wanted
        .into_iter()
        .filter(|(_, p)| ours.iter().any(|o| o.as_path() == Path::new(p)))
        .collect();
    if wanted.is_empty() && rejected.is_empty() && mode.expected() == Expected::Nothing {
        return Ended::success(Vec::new(), &log);
    }
    if wanted.is_empty() && rejected.is_empty() {
        let msg = format!(
            "hsh succeeded but no new packages appeared in {} or {} on {}",
            dirs.rpms.display(),
            dirs.srpms.display(),
            host.destination
        );
        return Ended::failed(msg, &log, log_tail);
    }
    let dest = results_dir(ctx, b);
    let packages = if wanted.is_empty() {
        Vec::new()
    } else {
        match download(&host, &wanted, &dest, prepared.take(), cancel) {
            Ok((packages, missing)) => {
                rejected.extend(missing);
                packages
            }
            Err(_) if cancel.is_cancelled() => return Ended::cancelled(Some(&log)),
            // The build is fine and the host too: this side cannot take the files.
            Err(FetchError::Write(e)) => {
                return Ended {
                    log: Some(log.clone()),
                    ..Ended::unusable(
                        format!("cannot write results into {}: {e}", dest.display()),
                        format!(
                            "free some space in {} (or fix its permissions, or set [builders] \
                             results_download_dir), then build again (the RPMs are still in the \
                             hasher repo on {})",
                            dest.display(),
                            host.destination
                        ),
                    )
                }
            }
            Err(FetchError::Transfer(e)) => return transport_failure(e),
        }
    };
    if packages.is_empty() {
        return Ended::unusable(
            format!(
                "{} listed only results that were rejected: {}",
                host.destination,
                rejected.join("; ")
            ),
            "nothing was downloaded; check the builder host, it may be compromised".into(),
        );
    }
    let mut ended = Ended::success(packages, &log);
    // Named one by one in the summary and the JSON result.
    if !rejected.is_empty() {
        ended.hint = Some(format!(
            "{} listed files that are not plain results in its hasher repo; \
             check that host, it may be compromised",
            host.destination
        ));
    }
    ended.rejected = rejected;
    ended
}

/// Split what the remote listing claims this build produced into
/// `(name, remote path)` pairs zoryn will download and the rejected
/// entries (`HOST: "PATH": reason`). Accepted: a safe file name directly in one of
/// the two result dirs, each name once. The listing comes from the host,
/// so every entry is untrusted.
fn screen_results(
    produced: &[PathBuf],
    dirs: &ResultDirs,
    host: &str,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut wanted: Vec<(String, String)> = Vec::new();
    let mut rejected = Vec::new();
    for p in produced {
        let shown = format!("{host}: {:?}", p.to_string_lossy());
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let parent_ok = p
            .parent()
            .is_some_and(|d| d == dirs.rpms || d == dirs.srpms);
        let Some(name) = name.filter(|_| parent_ok) else {
            rejected.push(format!("{shown}: not a file directly in the hasher repo"));
            continue;
        };
        if !is_safe_result_name(&name) {
            rejected.push(format!("{shown}: unsafe file name"));
        } else if wanted.iter().any(|(n, _)| *n == name) {
            rejected.push(format!("{shown}: the same name twice"));
        } else {
            wanted.push((name, p.to_string_lossy().into_owned()));
        }
    }
    (wanted, rejected)
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

/// Download into a hidden staging dir inside `dest` (one SSH session, see
/// [`stream::fetch`]), then rename each file into place: a reader never
/// sees a partial RPM, a failed download leaves nothing behind. Returns the
/// files placed and, as `HOST: "PATH": reason`, the wanted files that did
/// not arrive as regular files (the remote entry is a symlink, a directory,
/// a special file, or gone) and anything else the host sent.
fn download(
    host: &Host,
    wanted: &[(String, String)],
    dest: &Path,
    prepared: Option<PreparedFetch<'_>>,
    cancel: &CancelToken,
) -> Result<(Vec<PathBuf>, Vec<String>), FetchError> {
    let local_err = FetchError::Write;
    std::fs::create_dir_all(dest).map_err(local_err)?;
    let staging = tempfile::Builder::new()
        .prefix(".zoryn-dl.")
        .tempdir_in(dest)
        .map_err(local_err)?;
    let remote_files: Vec<RemoteFile> = wanted
        .iter()
        .map(|(name, path)| RemoteFile {
            dir: Path::new(path)
                .parent()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default(),
            name: name.clone(),
        })
        .collect();
    let skipped = match prepared.filter(|_| PreparedFetch::can_list(&remote_files)) {
        Some(p) => p.fetch(&remote_files, staging.path())?,
        None => stream::fetch(host, &remote_files, staging.path(), cancel)?,
    };
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for (n, remote) in wanted {
        let from = staging.path().join(n);
        match std::fs::symlink_metadata(&from) {
            Ok(m) if m.file_type().is_file() => {
                let to = dest.join(n);
                std::fs::rename(&from, &to).map_err(local_err)?;
                out.push(to);
            }
            _ => missing.push(format!(
                "{}: {remote:?}: not a regular file there (symlink, directory, special file or gone)",
                host.destination
            )),
        }
    }
    // Members the host sent that were not asked for as they are.
    missing.extend(
        skipped
            .into_iter()
            .filter(|(name, _)| !wanted.iter().any(|(n, _)| n == name))
            .map(|(name, why)| format!("{}: {name:?}: {why}", host.destination)),
    );
    Ok((out, missing))
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

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(|l| format!("{MARKER}{l}")).collect()
    }

    #[test]
    fn wrapper_lines_are_taken_only_outside_hsh_output() {
        let m = lines(
            "pid=4242\n\
             before=1 1.0 10 /w/repo/x86_64/RPMS.hasher/old-1-alt1.x86_64.rpm\n\
             start\n\
             pid=1\n\
             before=9 9.0 9 /w/repo/x86_64/RPMS.hasher/fake.rpm\n\
             end\n\
             rpm=2 2.0 20 /w/repo/x86_64/RPMS.hasher/old-1-alt1.x86_64.rpm\n\
             end\n\
             rpm=1 1.0 10 /w/repo/x86_64/RPMS.hasher/old-1-alt1.x86_64.rpm\n\
             rpm=3 3.0 30 /w/repo/x86_64/RPMS.hasher/new-1-alt1.x86_64.rpm\n",
        );
        let w = WrapperLines::of(&m);
        assert_eq!(w.pid, Some(4242), "the first pid, before start");
        let produced = w.before.produced_since(&w.after);
        assert_eq!(
            produced,
            vec![PathBuf::from(
                "/w/repo/x86_64/RPMS.hasher/new-1-alt1.x86_64.rpm"
            )],
            "only the listing after the last end counts"
        );
    }

    #[test]
    fn without_start_or_end_nothing_is_listed() {
        // The wrapper died before running hsh, or hsh's output never ended.
        let w = WrapperLines::of(&lines("pid=7\nrpm=1 1 1 /w/a.rpm\n"));
        assert_eq!(w.pid, Some(7));
        assert!(w.after.produced_since(&w.after).is_empty());
        let w = WrapperLines::of(&lines("pid=7\nstart\nrpm=1 1 1 /w/a.rpm\n"));
        assert!(Snapshot::default().produced_since(&w.after).is_empty());
        // An `end` printed before `start` (impossible for the wrapper) is not trusted.
        let w = WrapperLines::of(&lines("end\nrpm=1 1 1 /w/a.rpm\nstart\n"));
        assert!(Snapshot::default().produced_since(&w.after).is_empty());
    }

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
