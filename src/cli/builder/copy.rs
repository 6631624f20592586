//! `zoryn builder copy -b NAME SRC... DEST`: files into or out of a
//! builder's hasher chroot (`WORKDIR/chroot`), here or on its host.
//!
//! Operands starting with `:` are paths in the chroot (absolute, or
//! relative to the builder's home `/usr/src`, as hasher's `hsh-copy` takes
//! them). Into the chroot goes through hasher's own `hsh-copy` (it writes as
//! the builder satellite user and finds the hasher-priv subconfig from the
//! chroot's group, so no `--number` is passed); for a remote builder the files are first
//! rsynced into a temporary directory on the host, which is removed after.
//! Out of the chroot is read directly from `WORKDIR/chroot` (rsync for a
//! remote host). Every remote command is an argv (ssh quotes it); nothing
//! typed here is pasted into a shell. This module must not build or clean.

use std::path::{Component, Path, PathBuf};

use clap::Args;

use super::pick::{hosts, load, one_builder};
use crate::cli::error::{Error, Failures};
use crate::farm::Builder;
use crate::run::exit_code::ExitCode;
use crate::transport::cancel::CancelToken;
use crate::transport::rsync;
use crate::transport::runner::{run, LineSplitter, Outcome};
use crate::transport::site::Site;

/// The builder's home inside the chroot, where relative `:paths` point.
pub const CHROOT_HOME: &str = "/usr/src";

#[derive(Args, Debug)]
pub struct CopyArgs {
    /// The builder (its exact name)
    #[arg(
        short = 'b',
        long = "builder",
        value_name = "NAME",
        add = crate::cli::complete::builder_name()
    )]
    pub builder: String,
    /// Sources, then the destination; `:PATH` is a path in the chroot
    /// (relative to /usr/src there)
    #[arg(required = true, num_args = 2.., value_name = "SRC... DEST")]
    pub paths: Vec<String>,
}

/// Which way the files go.
#[derive(Debug, PartialEq, Eq)]
pub enum Direction {
    /// Local sources into the chroot path.
    Into { sources: Vec<PathBuf>, dest: String },
    /// Chroot paths out to a local path.
    Out { sources: Vec<String>, dest: PathBuf },
}

/// A `:path` made absolute in the chroot; `..` is refused (it could leave
/// the chroot).
pub fn chroot_path(operand: &str) -> Result<String, String> {
    let p = operand.strip_prefix(':').unwrap_or(operand);
    if p.contains('\0') {
        return Err(format!("`{}` contains a NUL byte", p.escape_debug()));
    }
    let path = Path::new(p);
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "`:{p}` goes up with `..`; name the path inside the chroot directly"
        ));
    }
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        Path::new(CHROOT_HOME).join(path)
    };
    let clean: PathBuf = abs.components().collect();
    let mut out = clean.to_string_lossy().into_owned();
    // A trailing slash says "a directory", as it does to hsh-copy.
    if p.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

/// Decide the direction from the operands (the last is the destination).
pub fn direction(paths: &[String]) -> Result<Direction, Error> {
    let Some((dest, sources)) = paths.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(Error::usage(
            "builder copy needs at least one source and a destination",
            "e.g. zoryn builder copy -b NAME fix.patch :/usr/src/",
        ));
    };
    let in_chroot = |s: &String| s.starts_with(':');
    let bad = |e: String| {
        Error::usage(
            e,
            "paths in the chroot are absolute or relative to /usr/src there",
        )
    };
    match (
        sources.iter().all(in_chroot),
        sources.iter().any(in_chroot),
        in_chroot(dest),
    ) {
        (false, false, true) => Ok(Direction::Into {
            sources: sources.iter().map(PathBuf::from).collect(),
            dest: chroot_path(dest).map_err(bad)?,
        }),
        (true, _, false) => Ok(Direction::Out {
            sources: sources
                .iter()
                .map(|s| chroot_path(s))
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            dest: PathBuf::from(dest),
        }),
        (_, _, true) => Err(Error::usage(
            "both sides are in the chroot",
            "copy between a local path and a `:path` in the chroot",
        )),
        (false, true, false) => Err(Error::usage(
            "the sources mix local paths and `:paths` in the chroot",
            "copy out of the chroot and into it in two commands",
        )),
        (false, false, false) => Err(Error::usage(
            "no operand is in the chroot",
            "mark the chroot side with a leading `:` (`:/usr/src/x` or `:x` for /usr/src/x)",
        )),
    }
}

pub fn cmd_copy(args: CopyArgs) -> Result<ExitCode, Error> {
    let dir = direction(&args.paths)?;
    let loaded = load()?;
    let b = one_builder(&loaded.farm, &args.builder)?;
    let hosts = hosts(&loaded);
    // Without handlers (very unlikely) a signal ends the command at once.
    let cancel = crate::cli::interrupt::token().unwrap_or_default();
    let home = loaded.paths.home.to_string_lossy().into_owned();
    let site = Site::for_builder(b, &hosts, &home, &cancel)
        .map_err(|e| Error::from(e).prefixed(&format!("[{}] ", b.name)))?;
    let workdir = site.workdir(b);
    let chroot = format!("{}/chroot", workdir.trim_end_matches('/'));
    if !chroot_exists(&site, &chroot, &cancel)? {
        return Err(Error::usage(
            format!(
                    "builder `{}` has no chroot yet ({chroot} on {})",
                    b.name,
                    site.name()
                ),
                format!(
                    "build on it once, keeping the chroot: zoryn build -b {} (the default command has --lazy-cleanup)",
                    b.name
                ),
        ));
    }
    let rsync_prog = &loaded.global.commands.rsync;
    match dir {
        Direction::Into { sources, dest } => {
            copy_into(b, &site, &workdir, &sources, &dest, rsync_prog, &cancel)
        }
        Direction::Out { sources, dest } => {
            copy_out(b, &site, &chroot, &sources, &dest, rsync_prog, &cancel)
        }
    }
}

fn chroot_exists(site: &Site, chroot: &str, cancel: &CancelToken) -> Result<bool, Error> {
    if site.host.is_none() {
        return Ok(Path::new(chroot).is_dir());
    }
    let argv = vec!["test".to_string(), "-d".into(), chroot.to_string()];
    match site.query(&argv, cancel) {
        Ok(c) if c.success() => Ok(true),
        Ok(c) if c.code() == Some(1) => Ok(false),
        Ok(c) => Err(Error::infra(
            format!(
                "cannot look at {chroot} on {}: {}",
                site.name(),
                c.stderr.trim()
            ),
            "check that the host is reachable (zoryn builder status)",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Run a command on the site, its output on ours: `Ok` when it succeeded
/// or (`Interrupted`) was cancelled.
fn run_streamed(site: &Site, argv: &[String], cancel: &CancelToken) -> Result<ExitCode, Error> {
    let mut splitter = LineSplitter::default();
    let print = |l: &str| eprintln!("{l}");
    let r = run(&site.command(argv), cancel, |chunk| {
        splitter.feed(chunk, print)
    });
    splitter.finish(print);
    match r {
        Ok(Outcome::Exited(s)) if s.success() => Ok(ExitCode::Ok),
        Ok(Outcome::Exited(s)) => {
            let code = s.code().unwrap_or(-1);
            Err(Error::infra(
                format!("{} failed on {} (exit status {code})", argv[0], site.name()),
                "its message is above",
            ))
        }
        Ok(_) => Ok(ExitCode::Interrupted),
        Err(e) => Err(Error::infra(
            format!("cannot run {} on {}: {e}", argv[0], site.name()),
            "install hasher (hsh-copy) there",
        )),
    }
}

fn copy_into(
    b: &Builder,
    site: &Site,
    workdir: &str,
    sources: &[PathBuf],
    dest: &str,
    rsync_prog: &[String],
    cancel: &CancelToken,
) -> Result<ExitCode, Error> {
    // Every source must exist here, and (for an upload) have its own name.
    let mut resolved = Vec::new();
    for s in sources {
        match s.canonicalize() {
            Ok(p) => resolved.push(p),
            Err(e) => {
                return Err(Error::usage(
                    format!("cannot copy {}: {e}", s.display()),
                    "name an existing local file or directory",
                ))
            }
        }
    }
    let mut names: Vec<&std::ffi::OsStr> = Vec::new();
    for p in &resolved {
        match p.file_name() {
            Some(n) if !names.contains(&n) => names.push(n),
            Some(n) => {
                return Err(Error::usage(
                    format!("two sources are named {}", n.to_string_lossy()),
                    "copy them in two commands",
                ))
            }
            None => return Err(Error::usage("cannot copy /", "name a directory below /")),
        }
    }
    let mut argv = vec!["hsh-copy".to_string(), format!("--workdir={workdir}")];
    let Some(host) = &site.host else {
        argv.extend(resolved.iter().map(|p| p.to_string_lossy().into_owned()));
        argv.push(dest.to_string());
        let done = run_streamed(site, &argv, cancel)?;
        if done.is_ok() {
            println!("copied {} item(s) into {}:{dest}", resolved.len(), b.name);
        }
        return Ok(done);
    };
    // Remote: stage the files in a private directory on the host first.
    let tmp = match site.query(&["mktemp".to_string(), "-d".into()], cancel) {
        Ok(c) if c.success() && c.stdout.trim().starts_with('/') => c.stdout.trim().to_string(),
        Ok(c) => {
            return Err(Error::infra(
                format!(
                    "cannot make a temporary directory on {}: {}",
                    site.name(),
                    c.stderr.trim()
                ),
                "check free space and /tmp there",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let result = match rsync::copy_to(rsync_prog, host, &resolved, &tmp, cancel) {
        Err(e) => Err(Error::from(e)),
        Ok(_) => {
            argv.extend(
                names
                    .iter()
                    .map(|n| format!("{tmp}/{}", n.to_string_lossy())),
            );
            argv.push(dest.to_string());
            let done = run_streamed(site, &argv, cancel);
            if done.as_ref().is_ok_and(|d| d.is_ok()) {
                println!("copied {} item(s) into {}:{dest}", resolved.len(), b.name);
            }
            done
        }
    };
    // The failure is told before the clean-up's warning, as it happened.
    let mut failures = Failures::default();
    let done = result.unwrap_or_else(|e| {
        failures.report(e);
        ExitCode::Ok
    });
    let rm = vec!["rm".to_string(), "-rf".into(), "--".into(), tmp.clone()];
    if !matches!(site.query(&rm, cancel), Ok(c) if c.success()) {
        eprintln!("zoryn: warning: could not remove {tmp} on {}", site.name());
    }
    Ok(done.max(failures.exit()))
}

fn copy_out(
    b: &Builder,
    site: &Site,
    chroot: &str,
    sources: &[String],
    dest: &Path,
    rsync_prog: &[String],
    cancel: &CancelToken,
) -> Result<ExitCode, Error> {
    if sources.len() > 1 && !dest.is_dir() {
        return Err(Error::usage(
            format!("{} is not a directory", dest.display()),
            "copying several files needs an existing destination directory",
        ));
    }
    let on_host: Vec<String> = sources.iter().map(|s| format!("{chroot}{s}")).collect();
    let kinds = kinds_of(site, &on_host, cancel)?;
    for ((s, p), kind) in sources.iter().zip(&on_host).zip(&kinds) {
        if kind.is_none() {
            return Err(Error::usage(
                format!(
                    "no such file in the chroot of `{}`: {s} ({p} on {})",
                    b.name,
                    site.name()
                ),
                format!(
                    "look with: zoryn builder run -b {} -- ls {}",
                    b.name,
                    parent_of(s)
                ),
            ));
        }
    }
    // One directory onto a new name becomes that name (like cp -r).
    let single_dir_renamed = sources.len() == 1 && kinds[0] == Some(Kind::Dir) && !dest.exists();
    let result = match &site.host {
        None => on_host.iter().zip(&kinds).try_for_each(|(p, _)| {
            let src = Path::new(p);
            let target = if dest.is_dir() && !single_dir_renamed {
                dest.join(src.file_name().unwrap_or_default())
            } else {
                dest.to_path_buf()
            };
            copy_tree(src, &target)
                .map_err(|e| format!("cannot copy {} to {}: {e}", p, target.display()))
        }),
        Some(host) => {
            let paths: Vec<String> = if single_dir_renamed {
                vec![format!("{}/", on_host[0])]
            } else {
                on_host.clone()
            };
            rsync::copy_from(rsync_prog, host, &paths, dest, cancel)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    result.map_err(|e| Error::infra(e, "check free space and permissions where the files go"))?;
    println!(
        "copied {} item(s) from {} to {}",
        sources.len(),
        b.name,
        dest.display()
    );
    Ok(ExitCode::Ok)
}

fn parent_of(p: &str) -> String {
    Path::new(p)
        .parent()
        .map_or("/".into(), |x| x.to_string_lossy().into_owned())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dir,
    Other,
}

/// What each path is (`None`: missing), in one round trip on a remote host.
fn kinds_of(
    site: &Site,
    paths: &[String],
    cancel: &CancelToken,
) -> Result<Vec<Option<Kind>>, Error> {
    if site.host.is_none() {
        return Ok(paths
            .iter()
            .map(|p| match std::fs::symlink_metadata(p) {
                Ok(m) if m.is_dir() => Some(Kind::Dir),
                Ok(_) => Some(Kind::Other),
                Err(_) => None,
            })
            .collect());
    }
    // `stat` prints one line per path it can read and fails for the rest.
    let mut argv = vec!["stat".to_string(), "-c".into(), "%F:%n".into(), "--".into()];
    argv.extend(paths.iter().cloned());
    let out = site.query(&argv, cancel)?;
    Ok(paths
        .iter()
        .map(|p| {
            out.stdout.lines().find_map(|l| {
                let (kind, name) = l.split_once(':')?;
                (name == p).then_some(if kind == "directory" {
                    Kind::Dir
                } else {
                    Kind::Other
                })
            })
        })
        .collect())
}

/// Copy a file, symlink or directory tree; each file is written under a
/// temporary name next to its target and renamed into place.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if meta.file_type().is_symlink() {
        let to = std::fs::read_link(src)?;
        let _ = std::fs::remove_file(dst);
        return std::os::unix::fs::symlink(to, dst);
    }
    if meta.is_dir() {
        std::fs::create_dir_all(dst)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
        }
        return Ok(());
    }
    let parent = dst
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".zoryn-copy.")
        .tempfile_in(parent)?;
    let mut input = std::fs::File::open(src)?;
    std::io::copy(&mut input, tmp.as_file_mut())?;
    tmp.as_file().set_permissions(meta.permissions())?;
    tmp.persist(dst).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chroot_paths() {
        assert_eq!(chroot_path(":/etc/x").unwrap(), "/etc/x");
        assert_eq!(chroot_path(":tmp/a/").unwrap(), "/usr/src/tmp/a/");
        assert_eq!(chroot_path(":tmp//b").unwrap(), "/usr/src/tmp/b");
        assert_eq!(chroot_path(":").unwrap(), "/usr/src");
        assert!(chroot_path(":../../etc").is_err());
        assert!(chroot_path(":/a/../../x").is_err());
    }

    #[test]
    fn directions() {
        assert_eq!(
            direction(&v(&["a", "b/", ":/usr/src/"])).unwrap(),
            Direction::Into {
                sources: vec!["a".into(), "b/".into()],
                dest: "/usr/src/".into()
            }
        );
        assert_eq!(
            direction(&v(&[":x", ":/y", "."])).unwrap(),
            Direction::Out {
                sources: v(&["/usr/src/x", "/y"]),
                dest: ".".into()
            }
        );
        for bad in [&["a", "b"][..], &[":a", ":b"], &["a", ":b", "c"], &["only"]] {
            assert!(direction(&v(bad)).is_err(), "{bad:?}");
        }
    }
}
