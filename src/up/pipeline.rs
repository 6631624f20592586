//! The `zoryn up` pipeline: runs the named stages in order against the
//! journal, and implements `--continue`, `--abort`, `--restart`,
//! `--stage S` and `--from S`.
//!
//! Every stage is safe to run again after an interruption (it checks what
//! is already done). The journal is saved before and after each stage.
//! Must not: print (progress goes to the caller's `on_event`), or build
//! (the build stage calls the caller's `build`, which is `zoryn build`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::changelog;
use super::detect::{self, Scheme};
use super::git::Git;
use super::journal::{self, Journal, Stage, StageRecord, StageState};
use super::version::{self, Choice};
use super::{hooks, import, merge, spec_edit, UpError, UpErrorKind};
use crate::source::specdeps::SpecText;

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Start,
    Continue,
    Abort,
    Restart,
    /// Run one stage.
    Only(Stage),
    /// Run from this stage on.
    From(Stage),
}

/// Options of a run (from the command line and `~/.zoryn`).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub force: bool,
    pub tarball: bool,
    pub tag: Option<String>,
    pub allow_unrelated: bool,
    pub packager: Option<String>,
    pub template: Option<String>,
    /// Seconds since the epoch for the changelog date.
    pub now_unix: i64,
}

/// Progress for the caller to show.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    StageStarted(Stage),
    StageDone {
        stage: Stage,
        seconds: f64,
        note: Option<String>,
    },
    StageSkipped(Stage),
}

/// How a run ended (errors aside).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    UpToDate {
        current: String,
        skipped_prereleases: Vec<String>,
    },
    Aborted,
    /// Every stage ran (or the asked ones); the journal as it ended.
    Finished(Box<Journal>),
    /// The build stage failed with this exit code; the commit is kept.
    BuildFailed(i32, Box<Journal>),
}

/// Where a run works.
pub struct Context {
    pub git: Git,
    pub root: PathBuf,
    pub git_dir: PathBuf,
    pub journal_path: PathBuf,
}

impl Context {
    pub fn new(git: Git, state_dir: &Path) -> Result<Context, UpError> {
        let root = git.root.clone();
        let git_dir = git
            .run(&["rev-parse", "--absolute-git-dir"])?
            .trim()
            .to_string();
        Ok(Context {
            journal_path: journal::journal_path(state_dir, &root),
            git,
            root,
            git_dir: PathBuf::from(git_dir),
        })
    }
}

fn hint_in_progress(j: &Journal) -> String {
    format!(
        "an update of {} to {} is in progress (next stage: {}): `zoryn up --continue`, `zoryn up --abort` or `zoryn up --restart`",
        j.package,
        j.new_version.as_deref().unwrap_or("?"),
        j.next_stage().map(Stage::name).unwrap_or("none")
    )
}

/// Run `zoryn up` in `mode`. `build` runs the build stage and returns
/// `zoryn build`'s exit code.
pub fn run(
    ctx: &Context,
    mode: Mode,
    opts: &Options,
    on_event: &mut dyn FnMut(Event),
    build: &mut dyn FnMut() -> i32,
) -> Result<Outcome, UpError> {
    let existing = journal::load(&ctx.journal_path)?;
    let none_hint = "start one with `zoryn up`";
    match mode {
        Mode::Start => {
            if let Some(j) = existing {
                return Err(UpError::usage(
                    format!("{}: an update is already in progress", ctx.root.display()),
                    hint_in_progress(&j),
                ));
            }
            let j = begin(ctx, opts)?;
            drive_stages(ctx, j, None, None, opts, on_event, build)
        }
        Mode::Restart => {
            if let Some(j) = existing {
                abort(ctx, &j)?;
            }
            let j = begin(ctx, opts)?;
            drive_stages(ctx, j, None, None, opts, on_event, build)
        }
        Mode::Abort => {
            let Some(j) = existing else {
                return Err(UpError::usage(
                    format!(
                        "{}: no update in progress, nothing to abort",
                        ctx.root.display()
                    ),
                    none_hint,
                ));
            };
            abort(ctx, &j)?;
            Ok(Outcome::Aborted)
        }
        Mode::Continue | Mode::Only(_) | Mode::From(_) => {
            let Some(mut j) = existing else {
                if mode == Mode::From(Stage::Detect) {
                    let j = begin(ctx, opts)?;
                    return drive_stages(ctx, j, None, None, opts, on_event, build);
                }
                return Err(UpError::usage(
                    format!("{}: no update in progress", ctx.root.display()),
                    none_hint,
                ));
            };
            let only = match mode {
                Mode::Only(s) | Mode::From(s) => {
                    if j.record(s).is_none() {
                        return Err(UpError::usage(
                            format!(
                                "stage `{}` is not part of this update ({} scheme)",
                                s.name(),
                                scheme_name(j.scheme)
                            ),
                            format!(
                                "stages: {}",
                                j.stages
                                    .iter()
                                    .map(|r| r.stage.name())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                    let mut reset = false;
                    for r in &mut j.stages {
                        reset |= r.stage == s;
                        if reset && (matches!(mode, Mode::From(_)) || r.stage == s) {
                            r.state = StageState::Pending;
                        }
                    }
                    Some(s)
                }
                _ => None,
            };
            match mode {
                Mode::Only(_) => drive_stages(ctx, j, only, None, opts, on_event, build),
                _ => drive_stages(ctx, j, None, only, opts, on_event, build),
            }
        }
    }
}

fn scheme_name(s: Scheme) -> &'static str {
    match s {
        Scheme::Git => "git",
        Scheme::Tarball => "tarball",
    }
}

/// Check the repository and make a fresh journal (not saved yet).
fn begin(ctx: &Context, opts: &Options) -> Result<Journal, UpError> {
    let git = &ctx.git;
    if git.merging() {
        return Err(UpError::usage(
            format!("{}: a merge is in progress", ctx.root.display()),
            "finish it (`git commit`) or abort it (`git merge --abort`) first",
        ));
    }
    let dirty = git.dirty_files()?;
    if !dirty.is_empty() {
        return Err(UpError::usage(
            format!(
                "{}: uncommitted changes in {}",
                ctx.root.display(),
                dirty.join(", ")
            ),
            "commit or stash them first: `zoryn up --abort` must be able to restore the branch exactly",
        ));
    }
    let repo = crate::source::repo::open(&ctx.root)
        .map_err(|e| UpError::usage(e.message, e.hint.unwrap_or_default()))?;
    let spec_text = read(&ctx.root.join(&repo.spec))?;
    let spec = SpecText::new(spec_text);
    if spec.version.is_empty() || spec.version.contains('%') {
        return Err(UpError::usage(
            format!(
                "{}: cannot read the package's Version (got `{}`)",
                repo.spec.display(),
                spec.version
            ),
            "set `Version:` to a plain value or a macro the spec defines",
        ));
    }
    let orig_head = git.rev("HEAD")?.ok_or_else(|| {
        UpError::usage(
            format!("{}: no commits yet", ctx.root.display()),
            "commit the package first",
        )
    })?;
    let rules_path =
        crate::source::repo::rules_file(&ctx.root).unwrap_or_else(|| ctx.root.join(".gear/rules"));
    let rules = std::fs::read_to_string(&rules_path).unwrap_or_default();
    let has_upstream = git.remotes()?.iter().any(|r| r == detect::UPSTREAM_REMOTE);
    let watch = detect::watch_file(&ctx.root);
    let scheme = detect::scheme(opts.tarball, &rules, has_upstream, watch.as_deref());
    if scheme == Scheme::Tarball && opts.tag.is_some() {
        return Err(UpError::usage(
            "--tag names an upstream git tag, but this update uses the tarball scheme",
            "drop -t (and --tag), or drop --tag to take the version from the watch file",
        ));
    }
    Ok(Journal {
        format: journal::FORMAT,
        repo: ctx.root.clone(),
        branch: git.current_branch()?,
        orig_head,
        orig_tags: git.tag_refs()?,
        scheme,
        package: spec.name.clone(),
        spec: repo.spec,
        old_version: spec.version.clone(),
        new_version: None,
        tag: None,
        archive_url: None,
        archive: None,
        stages: Stage::plan(scheme)
            .into_iter()
            .map(|s| StageRecord {
                stage: s,
                state: StageState::Pending,
                seconds: None,
                note: None,
            })
            .collect(),
    })
}

fn read(p: &Path) -> Result<String, UpError> {
    std::fs::read_to_string(p).map_err(|e| {
        UpError::usage(
            format!("cannot read {}: {e}", p.display()),
            "check the file",
        )
    })
}

/// Run the pending stages: just `only`, or those from `from` on (earlier
/// ones are left as they are), or all.
fn drive_stages(
    ctx: &Context,
    mut j: Journal,
    only: Option<Stage>,
    from: Option<Stage>,
    opts: &Options,
    on_event: &mut dyn FnMut(Event),
    build: &mut dyn FnMut() -> i32,
) -> Result<Outcome, UpError> {
    let stages: Vec<Stage> = j.stages.iter().map(|r| r.stage).collect();
    let mut reached = from.is_none();
    for stage in stages {
        reached |= from == Some(stage);
        if !reached || only.is_some_and(|o| o != stage) {
            continue;
        }
        if j.record(stage).is_some_and(|r| r.state == StageState::Done) {
            continue;
        }
        if ctx.git.cancel.is_cancelled() {
            journal::save(&ctx.journal_path, &j)?;
            return Err(UpError::new(
                UpErrorKind::Interrupted,
                format!("interrupted before stage {}", stage.name()),
                "`zoryn up --continue` goes on from there; `zoryn up --abort` undoes everything",
            ));
        }
        set_state(&mut j, stage, StageState::Running, None, None);
        journal::save(&ctx.journal_path, &j)?;
        on_event(Event::StageStarted(stage));
        let started = Instant::now();
        let result = run_stage(ctx, &mut j, stage, opts, build);
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(StageResult::Done(note)) => {
                set_state(&mut j, stage, StageState::Done, Some(secs), note.clone());
                journal::save(&ctx.journal_path, &j)?;
                on_event(Event::StageDone {
                    stage,
                    seconds: secs,
                    note,
                });
            }
            Ok(StageResult::UpToDate(_)) if !fresh(&j) => {
                set_state(
                    &mut j,
                    stage,
                    StageState::Failed,
                    Some(secs),
                    Some("nothing newer upstream".into()),
                );
                journal::save(&ctx.journal_path, &j)?;
                return Err(UpError::usage(
                    format!("detect found nothing newer than {} upstream; the update in progress is kept", j.old_version),
                    "`zoryn up --from fetch` goes on with the version found before, `zoryn up --abort` undoes it",
                ));
            }
            Ok(StageResult::UpToDate(skipped)) => {
                restore_tags(&ctx.git, &j.orig_tags)?;
                journal::remove(&ctx.journal_path)?;
                return Ok(Outcome::UpToDate {
                    current: j.old_version.clone(),
                    skipped_prereleases: skipped,
                });
            }
            Ok(StageResult::BuildFailed(code)) => {
                set_state(
                    &mut j,
                    stage,
                    StageState::Failed,
                    Some(secs),
                    Some(format!("zoryn build exited {code}")),
                );
                journal::save(&ctx.journal_path, &j)?;
                return Ok(Outcome::BuildFailed(code, Box::new(j)));
            }
            Err(e) if stage == Stage::Detect && fresh(&j) => {
                // Nothing has changed yet: no update in progress, so the
                // next `zoryn up` simply starts again.
                restore_tags(&ctx.git, &j.orig_tags)?;
                journal::remove(&ctx.journal_path)?;
                return Err(e);
            }
            Err(e) => {
                let state = if e.kind == UpErrorKind::Interrupted {
                    StageState::Running
                } else {
                    StageState::Failed
                };
                set_state(&mut j, stage, state, Some(secs), Some(e.message.clone()));
                journal::save(&ctx.journal_path, &j)?;
                return Err(e);
            }
        }
    }
    let last_done = j.stages.last().is_some_and(|r| r.state == StageState::Done);
    if j.stages.iter().all(|r| r.state == StageState::Done) || (only.is_none() && last_done) {
        // Finished: the journal has done its job.
        journal::remove(&ctx.journal_path)?;
    }
    Ok(Outcome::Finished(Box::new(j)))
}

/// Whether nothing but detection has run yet (nothing to undo but fetched
/// tags).
fn fresh(j: &Journal) -> bool {
    j.stages
        .iter()
        .all(|r| r.stage == Stage::Detect || r.state == StageState::Pending)
}

fn set_state(
    j: &mut Journal,
    stage: Stage,
    state: StageState,
    secs: Option<f64>,
    note: Option<String>,
) {
    if let Some(r) = j.record_mut(stage) {
        r.state = state;
        if secs.is_some() {
            r.seconds = secs;
        }
        if note.is_some() || state == StageState::Running {
            r.note = note;
        }
    }
}

enum StageResult {
    Done(Option<String>),
    UpToDate(Vec<String>),
    BuildFailed(i32),
}

fn need<'a>(v: &'a Option<String>, what: &str) -> Result<&'a str, UpError> {
    v.as_deref().ok_or_else(|| {
        UpError::usage(
            format!("the journal has no {what} yet"),
            "run the earlier stages first: `zoryn up --from detect`",
        )
    })
}

fn run_stage(
    ctx: &Context,
    j: &mut Journal,
    stage: Stage,
    opts: &Options,
    build: &mut dyn FnMut() -> i32,
) -> Result<StageResult, UpError> {
    let git = &ctx.git;
    match stage {
        Stage::Detect => detect_stage(ctx, j, opts),
        Stage::Fetch => match j.scheme {
            Scheme::Git => {
                let tag = need(&j.tag, "upstream tag")?;
                let commit = git.rev(&format!("refs/tags/{tag}^{{commit}}"))?.ok_or_else(|| {
                    UpError::usage(
                        format!("upstream tag `{tag}` does not exist or does not point to a commit"),
                        "check `git tag -l`, fetch it (`git fetch --tags upstream`), then `zoryn up --continue`",
                    )
                })?;
                Ok(StageResult::Done(Some(format!(
                    "{tag} is {}",
                    &commit[..commit.len().min(12)]
                ))))
            }
            Scheme::Tarball => {
                let url = need(&j.archive_url, "archive URL")?.to_string();
                let name = archive_name(&url);
                let side = journal::side_dir(&ctx.journal_path);
                std::fs::create_dir_all(&side).map_err(|e| {
                    UpError::infra(
                        format!("cannot create {}: {e}", side.display()),
                        "check $XDG_STATE_HOME",
                    )
                })?;
                let dest = side.join(&name);
                detect::download(&url, &dest, &git.cancel)?;
                let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
                j.archive = Some(dest);
                Ok(StageResult::Done(Some(format!("{name}, {size} bytes"))))
            }
        },
        Stage::Merge => {
            let tag = need(&j.tag, "upstream tag")?.to_string();
            let tag_commit = format!("refs/tags/{tag}^{{commit}}");
            let merged = git
                .try_run(&["merge-base", "--is-ancestor", &tag_commit, "HEAD"])?
                .ok;
            if !merged {
                if git.merging() {
                    merge::finish_merge(git, &tag)?;
                } else {
                    merge::merge_tag(git, &tag, opts.allow_unrelated)?;
                }
            }
            merge::store_tag(git, &tag)?;
            Ok(StageResult::Done(Some(format!(
                "merged {tag}; stored in .gear/tags"
            ))))
        }
        Stage::Import => {
            let version = need(&j.new_version, "new version")?.to_string();
            let archive = j.archive.clone().ok_or_else(|| {
                UpError::usage(
                    "the journal has no downloaded archive",
                    "run `zoryn up --from fetch`",
                )
            })?;
            let rules_path = crate::source::repo::rules_file(&ctx.root)
                .unwrap_or_else(|| ctx.root.join(".gear/rules"));
            let rules_name = rules_path
                .strip_prefix(&ctx.root)
                .unwrap_or(&rules_path)
                .display()
                .to_string();
            let dir = import::upstream_dir(&read(&rules_path)?, &rules_name)?;
            import::import_archive(git, &archive, &dir, &ctx.git_dir)?;
            let staged = !git.try_run(&["diff", "--cached", "--quiet"])?.ok;
            if staged {
                import::commit_import(
                    git,
                    &j.package,
                    &version,
                    &archive_name(&archive.to_string_lossy()),
                )?;
            }
            Ok(StageResult::Done(Some(format!(
                "{} into {dir}/",
                archive_name(&archive.to_string_lossy())
            ))))
        }
        Stage::Hooks => {
            let new = need(&j.new_version, "new version")?;
            let mut env: Vec<(String, String)> = Vec::new();
            if let Some(tag) = &j.tag {
                env.push(("TAG".into(), tag.clone()));
                if let Some(c) = git.rev(&format!("refs/tags/{tag}^{{commit}}"))? {
                    env.push(("SHORTCOMMIT".into(), c.chars().take(7).collect()));
                    env.push(("COMMIT".into(), c));
                }
            }
            let mut ran = Vec::new();
            for dir in hooks::HOOK_DIRS {
                ran.extend(hooks::run_hooks(
                    &ctx.root,
                    dir,
                    &j.old_version,
                    new,
                    &env,
                    &git.cancel,
                )?);
            }
            Ok(StageResult::Done(
                (!ran.is_empty()).then(|| format!("ran {}", ran.join(", "))),
            ))
        }
        Stage::Spec => spec_stage(ctx, j, opts),
        Stage::Commit => {
            let spec_path = ctx.root.join(&j.spec);
            let text = read(&spec_path)?;
            let (header, body) = top_changelog(&text).ok_or_else(|| {
                UpError::usage(
                    format!(
                        "{}: no %changelog entry to take the commit message from",
                        j.spec.display()
                    ),
                    "run `zoryn up --stage spec` first",
                )
            })?;
            git.run(&["add", "-u"])?;
            let spec_rel = j.spec.to_string_lossy().into_owned();
            git.run(&["add", "--", &spec_rel])?;
            if ctx.root.join(".gear/tags").is_dir() {
                git.run(&["add", "--", ".gear/tags"])?;
            }
            let staged = !git.try_run(&["diff", "--cached", "--quiet"])?.ok;
            let msg = changelog::commit_message(&header, &body);
            if staged {
                git.run(&["commit", "-q", "-m", &msg])?;
            }
            let head = git.rev("HEAD")?.unwrap_or_default();
            Ok(StageResult::Done(Some(format!(
                "{} {}",
                &head[..head.len().min(12)],
                msg.lines().next().unwrap_or("")
            ))))
        }
        Stage::Build => {
            let code = build();
            if code == 0 {
                Ok(StageResult::Done(None))
            } else if code == crate::run::exit_code::ExitCode::Interrupted.code() {
                Err(UpError::new(
                    UpErrorKind::Interrupted,
                    "the build was interrupted",
                    "`zoryn up --continue` builds again; the commit is kept",
                ))
            } else {
                Ok(StageResult::BuildFailed(code))
            }
        }
    }
}

/// The last path component of an archive URL, safe as a file name.
fn archive_name(url: &str) -> String {
    let last = url.rsplit('/').next().unwrap_or(url);
    let last = last.split(['?', '#']).next().unwrap_or(last);
    let safe = super::journal::safe_file_name(last, "-_.+~");
    if safe.is_empty() || safe.starts_with('.') {
        format!("upstream{safe}")
    } else {
        safe
    }
}

fn detect_stage(ctx: &Context, j: &mut Journal, opts: &Options) -> Result<StageResult, UpError> {
    let git = &ctx.git;
    let candidates = match j.scheme {
        Scheme::Git => {
            // `tar: v@version@:.` fixes the tag form: gear must find the tag
            // again from the new Version.
            let rules_path = crate::source::repo::rules_file(&ctx.root)
                .unwrap_or_else(|| ctx.root.join(".gear/rules"));
            let prefix =
                detect::rules_tag_prefix(&std::fs::read_to_string(&rules_path).unwrap_or_default());
            if git.remotes()?.iter().any(|r| r == detect::UPSTREAM_REMOTE) {
                // Tags only: remote-tracking branches stay as they are, so an
                // "up to date" run or an `--abort` leaves every other ref alone.
                let out = git.try_run(&[
                    "fetch",
                    "-q",
                    "--no-write-fetch-head",
                    "--no-tags",
                    detect::UPSTREAM_REMOTE,
                    "refs/tags/*:refs/tags/*",
                ])?;
                if !out.ok {
                    return Err(UpError::infra(
                        format!(
                            "cannot fetch tags from remote `{}`: {}",
                            detect::UPSTREAM_REMOTE,
                            out.stderr.trim()
                        ),
                        "check `git remote -v` and the network, then `zoryn up --continue`",
                    ));
                }
            }
            if let Some(tag) = &opts.tag {
                let v = detect::tag_version(tag, &j.package, prefix.as_deref()).ok_or_else(|| {
                    UpError::usage(
                        match &prefix {
                            Some(p) => format!("--tag {tag}: not a tag of the form .gear/rules uses (`{p}` then an rpm version, e.g. {p}1.2)"),
                            None => format!("--tag {tag}: no version in the tag name (expected forms: v1.2, {}-1.2, 1.2)", j.package),
                        },
                        "name a release tag",
                    )
                })?;
                if git.rev(&format!("refs/tags/{tag}"))?.is_none() {
                    return Err(UpError::usage(
                        format!("--tag {tag}: no such tag"),
                        "check `git tag -l`",
                    ));
                }
                match crate::source::deps::rpmvercmp(&v, &j.old_version) {
                    std::cmp::Ordering::Equal => return Ok(StageResult::UpToDate(Vec::new())),
                    std::cmp::Ordering::Less if !opts.force => {
                        return Err(UpError::usage(
                            format!(
                                "--tag {tag}: version {v} is older than the spec's {}",
                                j.old_version
                            ),
                            "add -f to go back to it on purpose",
                        ))
                    }
                    _ => {}
                }
                j.tag = Some(tag.clone());
                j.new_version = Some(v.clone());
                return Ok(StageResult::Done(Some(format!(
                    "{} -> {v} (tag {tag}, given)",
                    j.old_version
                ))));
            }
            let tags: Vec<String> = git
                .run(&["tag", "-l"])?
                .lines()
                .map(str::to_string)
                .collect();
            detect::tag_candidates(&tags, &j.package, prefix.as_deref())
        }
        Scheme::Tarball => {
            let watch_path = detect::watch_file(&ctx.root).ok_or_else(|| {
                UpError::usage(
                    format!("{}: no .gear/*.watch file for the tarball scheme", ctx.root.display()),
                    "add .gear/NAME.watch (`version=4` and a line `URL-DIR PATTERN-with-(\\d[\\d.]*)`), or use upstream git tags",
                )
            })?;
            let rel = watch_path
                .strip_prefix(&ctx.root)
                .unwrap_or(&watch_path)
                .display()
                .to_string();
            let watch = detect::parse_watch(&read(&watch_path)?).map_err(|(line, msg)| {
                UpError::usage(
                    format!("{rel}:{line}: {msg}"),
                    "see uscan(1) for the watch file format",
                )
            })?;
            let page = detect::fetch_page(&watch.page_url, &git.cancel)?;
            detect::archives_in_page(&watch, &page).map_err(|msg| {
                UpError::usage(format!("{rel}:{}: {msg}", watch.line), "fix the pattern")
            })?
        }
    };
    match version::choose(&j.old_version, &candidates, opts.force) {
        Choice::UpToDate {
            skipped_prereleases,
        } => Ok(StageResult::UpToDate(skipped_prereleases)),
        Choice::Newer(c) => {
            j.new_version = Some(c.version.clone());
            let note = format!("{} -> {} ({})", j.old_version, c.version, c.origin);
            match j.scheme {
                Scheme::Git => j.tag = Some(c.origin),
                Scheme::Tarball => j.archive_url = Some(c.origin),
            }
            Ok(StageResult::Done(Some(note)))
        }
    }
}

/// The packager: `--packager`, else git's `user.name <user.email>`.
fn packager(git: &Git, opts: &Options) -> Result<String, UpError> {
    let p = match &opts.packager {
        Some(p) => p.clone(),
        None => match (git.config("user.name")?, git.config("user.email")?) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            _ => {
                return Err(UpError::usage(
                    "no packager for the changelog entry: --packager is not given and git's user.name/user.email are not set",
                    "pass --packager 'Name <mail>' or run `git config --global user.name 'Name'` and `git config --global user.email mail`",
                ))
            }
        },
    };
    if !changelog::valid_packager(&p) {
        return Err(UpError::usage(
            format!("packager `{p}` is not of the form `Name <mail>`"),
            "pass --packager 'Name <mail>'",
        ));
    }
    Ok(p)
}

fn spec_stage(ctx: &Context, j: &mut Journal, opts: &Options) -> Result<StageResult, UpError> {
    let new = need(&j.new_version, "new version")?.to_string();
    let path = ctx.root.join(&j.spec);
    let text = read(&path)?;
    let current = SpecText::new(text.clone());
    if current.version == new
        && current.release == "alt1"
        && top_changelog(&text).is_some_and(|(h, _)| h.ends_with(&format!("{new}-alt1")))
    {
        return Ok(StageResult::Done(Some("already updated".into())));
    }
    let packager = packager(&ctx.git, opts)?;
    let epoch = spec_edit::epoch(&text);
    let header = changelog::header(
        &changelog::changelog_date(opts.now_unix),
        &packager,
        epoch.as_deref(),
        &new,
        "alt1",
    );
    let body = changelog::render_template(
        opts.template
            .as_deref()
            .unwrap_or(changelog::DEFAULT_TEMPLATE),
        &changelog::TemplateVars {
            name: &j.package,
            old_version: &j.old_version,
            new_version: &new,
        },
    );
    let updated = spec_edit::update(&text, &new, &format!("{header}\n{body}")).map_err(|e| {
        let at = e.line.map(|l| format!(":{l}")).unwrap_or_default();
        UpError::stopped(
            format!("{}{at}: {}", j.spec.display(), e.message),
            "edit the spec by hand (Version, Release: alt1, %changelog), then `zoryn up --from commit`",
        )
    })?;
    let tmp = path.with_extension("spec.zoryn-tmp");
    std::fs::write(&tmp, &updated)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            UpError::infra(
                format!("cannot write {}: {e}", path.display()),
                "check permissions",
            )
        })?;
    Ok(StageResult::Done(Some(header)))
}

/// The first `%changelog` entry: its header line and its text.
fn top_changelog(spec: &str) -> Option<(String, String)> {
    let mut lines = spec
        .lines()
        .skip_while(|l| l.trim() != "%changelog")
        .skip(1);
    let header = lines.next()?.trim_end().to_string();
    if !header.starts_with("* ") {
        return None;
    }
    let body: Vec<&str> = lines.take_while(|l| !l.starts_with("* ")).collect();
    let mut text = body.join("\n");
    text.truncate(text.trim_end().len());
    Some((header, format!("{text}\n")))
}

/// Put `refs/tags/*` back to `orig` (drop added tags, reset moved ones).
fn restore_tags(git: &Git, orig: &[(String, String)]) -> Result<(), UpError> {
    for (r, obj) in git.tag_refs()? {
        match orig.iter().find(|(o, _)| *o == r) {
            None => {
                git.run(&["update-ref", "-d", &r])?;
            }
            Some((_, o)) if *o != obj => {
                git.run(&["update-ref", &r, o])?;
            }
            _ => {}
        }
    }
    let now = git.tag_refs()?;
    for (r, o) in orig {
        if !now.iter().any(|(n, _)| n == r) {
            git.run(&["update-ref", r, o])?;
        }
    }
    Ok(())
}

/// `--abort`: branch, HEAD, index, work tree and tags back to before `up`.
fn abort(ctx: &Context, j: &Journal) -> Result<(), UpError> {
    let git = &ctx.git;
    if git.merging() {
        let _ = git.try_run(&["merge", "--abort"])?;
    }
    match &j.branch {
        Some(branch) => {
            let short = branch.strip_prefix("refs/heads/").unwrap_or(branch);
            if git.current_branch()?.as_deref() != Some(branch.as_str()) {
                git.run(&["checkout", "-q", "-f", short])?;
            }
            git.run(&["reset", "-q", "--hard", &j.orig_head])?;
        }
        None => {
            git.run(&["checkout", "-q", "-f", "--detach", &j.orig_head])?;
            git.run(&["reset", "-q", "--hard", &j.orig_head])?;
        }
    }
    restore_tags(git, &j.orig_tags)?;
    let staging = ctx.git_dir.join("zoryn-up-import");
    if staging.exists() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    journal::remove(&ctx.journal_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_changelog_entry() {
        let s = "Name: a\n%changelog\n* Sun Dec 06 2026 A <a@b> 1.3-alt1\n- 1.0 -> 1.3\n- more\n\n* Sat Nov 28 2026 T <t@e> 1.0-alt1\n- old\n";
        let (h, b) = top_changelog(s).unwrap();
        assert_eq!(h, "* Sun Dec 06 2026 A <a@b> 1.3-alt1");
        assert_eq!(b, "- 1.0 -> 1.3\n- more\n");
        assert_eq!(top_changelog("Name: a\n"), None);
    }

    #[test]
    fn archive_names_are_safe() {
        assert_eq!(
            archive_name("http://h/d/hello-1.3.tar.gz"),
            "hello-1.3.tar.gz"
        );
        assert_eq!(archive_name("http://h/d/x.tar.gz?raw=1"), "x.tar.gz");
        assert_eq!(archive_name("http://h/d/.."), "upstream..");
    }
}
