//! rsync to builder hosts, through the host's ssh settings.
//!
//! Always `--protect-args` (remote paths are never parsed by a remote shell)
//! and absolute remote paths. Uploads use `--ignore-times` so a tarball that
//! changed within the same second with the same size is still compared, and
//! rsync's delta algorithm keeps the bytes sent close to the size of the
//! change. (Results, tarballs too small for a delta to pay, and a new
//! source whose old version the host has, as a block delta, go through
//! [`super::stream`].)

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use super::runner::{run, CommandSpec, Outcome};
use super::ssh::{Host, TransportError};
use crate::transport::cancel::CancelToken;

/// What an rsync run reported.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TransferStats {
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// Parse `--stats` output.
pub fn parse_stats(out: &str) -> TransferStats {
    let num = |prefix: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or("0")
                    .replace([',', '.'], "")
                    .parse()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    TransferStats {
        bytes_sent: num("Total bytes sent:"),
        bytes_received: num("Total bytes received:"),
    }
}

fn rsync_base(rsync: &[String], host: &Host) -> CommandSpec {
    CommandSpec::new(rsync.iter().cloned())
        .args(["--protect-args", "--stats", "-e"])
        .arg(host.rsync_rsh())
}

fn remote(host: &Host, path: &str) -> String {
    format!("{}:{}", host.destination, path)
}

fn finish(
    host: &Host,
    what: &str,
    outcome: Result<Outcome, super::runner::SpawnError>,
    output: &[u8],
    cancel: &CancelToken,
) -> Result<TransferStats, TransportError> {
    let text = String::from_utf8_lossy(output);
    match outcome {
        Err(e) => Err(TransportError {
            host: host.destination.clone(),
            message: format!("{what} ({}): {e}", host.destination),
            hint: "install rsync, or set [commands] rsync in ~/.zoryn".into(),
        }),
        Ok(o) if o.success() => Ok(parse_stats(&text)),
        Ok(Outcome::Cancelled) | Ok(Outcome::TimedOut) if cancel.is_cancelled() => {
            Err(TransportError {
                host: host.destination.clone(),
                message: format!("{what} ({}): interrupted", host.destination),
                hint: String::new(),
            })
        }
        Ok(Outcome::Exited(st)) if st.signal().is_some() => {
            let n = st.signal().unwrap_or(0);
            let name = nix::sys::signal::Signal::try_from(n)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| format!("signal {n}"));
            Err(TransportError {
                host: host.destination.clone(),
                message: format!(
                    "{what} failed: rsync was killed by {name} ({}); nothing of the interrupted transfer was kept",
                    host.destination
                ),
                hint: "build again; if it happens again, look for what kills rsync (OOM killer, a watchdog)"
                    .into(),
            })
        }
        Ok(o) => {
            // A full disk is reported by the writing side; the last line is
            // then often only the other side's "Broken pipe".
            if let Some(line) = text
                .lines()
                .map(str::trim)
                .find(|l| l.contains("No space left on device"))
            {
                return Err(TransportError {
                    host: host.destination.clone(),
                    message: format!(
                        "{what} failed: no space left on device (rsync exit {}: {line})",
                        o.code().unwrap_or(-1)
                    ),
                    hint: "free some space where the files go, then build again".into(),
                });
            }
            // 255: rsync's ssh ended (link cut, host gone, keepalive); 10
            // and 12: rsync saw the socket or the stream break first.
            let lost = matches!(o.code(), Some(10 | 12 | 255));
            let mut e = if lost {
                host.connection_lost(&text)
            } else {
                host.error_from(&text, o.code())
            };
            e.message = format!(
                "{what} failed (rsync exit {}): {}{}",
                o.code().unwrap_or(-1),
                if lost { "connection lost: " } else { "" },
                e.message
            );
            if !lost {
                e.hint = "check free space and permissions on both sides; rsync's message is above"
                    .into();
            }
            Err(e)
        }
    }
}

/// Upload one file to an absolute remote path (its directory must exist).
pub fn upload_file(
    rsync: &[String],
    host: &Host,
    local: &Path,
    remote_path: &str,
    cancel: &CancelToken,
) -> Result<TransferStats, TransportError> {
    let _slot = host.session();
    let spec = rsync_base(rsync, host)
        .args(["--ignore-times", "--no-whole-file", "--chmod=F644"])
        .arg(local)
        .arg(remote(host, remote_path));
    let mut out = Vec::new();
    let r = run(&spec, cancel, |b| out.extend_from_slice(b));
    finish(
        host,
        &format!("uploading {}", local.display()),
        r,
        &out,
        cancel,
    )
}

/// Mirror a local directory's files into an absolute remote directory.
pub fn upload_dir(
    rsync: &[String],
    host: &Host,
    local_dir: &Path,
    remote_dir: &str,
    cancel: &CancelToken,
) -> Result<TransferStats, TransportError> {
    let _slot = host.session();
    let mut src = local_dir.as_os_str().to_owned();
    src.push("/");
    let spec = rsync_base(rsync, host)
        .args(["--recursive", "--checksum", "--delete", "--chmod=D755,F644"])
        .arg(src)
        .arg(remote(
            host,
            &format!("{}/", remote_dir.trim_end_matches('/')),
        ));
    let mut out = Vec::new();
    let r = run(&spec, cancel, |b| out.extend_from_slice(b));
    finish(
        host,
        &format!("syncing {}", local_dir.display()),
        r,
        &out,
        cancel,
    )
}

/// Copy local files into an absolute remote directory (which must exist),
/// leaving what else is there alone.
pub fn upload_files(
    rsync: &[String],
    host: &Host,
    files: &[std::path::PathBuf],
    remote_dir: &str,
    cancel: &CancelToken,
) -> Result<TransferStats, TransportError> {
    let _slot = host.session();
    let spec = rsync_base(rsync, host)
        .args(["--times", "--chmod=F644"])
        .args(files.iter().map(|f| f.as_os_str().to_owned()))
        .arg(remote(
            host,
            &format!("{}/", remote_dir.trim_end_matches('/')),
        ));
    let mut out = Vec::new();
    let r = run(&spec, cancel, |b| out.extend_from_slice(b));
    finish(host, "placing the batch's earlier RPMs", r, &out, cancel)
}

/// Copy local files and directories (recursively, links as links) into
/// an absolute remote directory, which must exist.
pub fn copy_to(
    rsync: &[String],
    host: &Host,
    locals: &[std::path::PathBuf],
    remote_dir: &str,
    cancel: &CancelToken,
) -> Result<TransferStats, TransportError> {
    let _slot = host.session();
    let spec = rsync_base(rsync, host)
        .args(["--recursive", "--links", "--perms", "--times"])
        .args(locals.iter().map(|f| f.as_os_str().to_owned()))
        .arg(remote(
            host,
            &format!("{}/", remote_dir.trim_end_matches('/')),
        ));
    let mut out = Vec::new();
    let r = run(&spec, cancel, |b| out.extend_from_slice(b));
    finish(host, "copying to the builder's host", r, &out, cancel)
}

/// Copy absolute remote paths (files or directories, recursively) to a
/// local path. rsync writes each file under a temporary name and renames
/// it, so an interrupted copy leaves no half-written file.
pub fn copy_from(
    rsync: &[String],
    host: &Host,
    remote_paths: &[String],
    local: &Path,
    cancel: &CancelToken,
) -> Result<TransferStats, TransportError> {
    let _slot = host.session();
    let spec = rsync_base(rsync, host)
        .args(["--recursive", "--links", "--perms", "--times"])
        .args(remote_paths.iter().map(|p| remote(host, p)))
        .arg(local);
    let mut out = Vec::new();
    let r = run(&spec, cancel, |b| out.extend_from_slice(b));
    finish(host, "copying from the builder's host", r, &out, cancel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_parsed() {
        let out = "Number of files: 1\nTotal bytes sent: 1,234,567\nTotal bytes received: 35\n";
        assert_eq!(
            parse_stats(out),
            TransferStats {
                bytes_sent: 1234567,
                bytes_received: 35
            }
        );
    }
}
