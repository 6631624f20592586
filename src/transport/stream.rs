//! Transfers in one SSH session, without rsync: a build's results back from
//! a host, and files too small for rsync's delta to pay off up to it.
//!
//! For results, the host runs `tar -c` over exactly the files zoryn asked for (by
//! directory and bare name) and zoryn unpacks the stream itself, trusting
//! nothing in it: only a regular file whose name is one of the requested
//! names is written, each at most once; a path, link, device or any other
//! member is skipped and reported. Files are created new (never over an
//! existing file) in the caller's directory, which is meant to be a private
//! staging directory. One session through the ControlMaster and no remote
//! rsync: about half the time of an rsync download of a few RPMs.
//! [`PreparedFetch`] opens that session ahead (while the build runs): the
//! host's shell waits for the list of files, so only the transfer is left.
//!
//! Up, [`put_file`] streams the file into `PATH.zoryn-part` on the host and
//! renames it over `PATH`: a reader there never sees half a file, and the
//! file stays for rsync's delta when a later version is large.
//! A [`Delta`] is a new version of a file whose old version both sides
//! have, as blocks worked out here ([`delta`]): [`put_delta`] sends it in
//! one session, or [`Delta::inline_argv`] puts it on another session's
//! command line (the build's) with that session's command after it. The
//! host ([`DELTA_SCRIPT`]) rebuilds the file beside the old one only from
//! the very copy the pre-flight hashed, checks its size and renames it
//! into place; whatever goes wrong there leaves the caller to send it as
//! before.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path, PathBuf};

use super::runner::{capture_stream, capture_stream_from, Captured};
use super::ssh::{Host, TransportError};
use crate::transport::cancel::CancelToken;

/// A file to fetch: the remote directory and the bare file name in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub dir: String,
    pub name: String,
}

/// The remote `tar` argv for `files`, grouped by directory with `-C`.
pub fn tar_argv(files: &[RemoteFile]) -> Vec<String> {
    let mut argv: Vec<String> = ["tar", "-c", "-f", "-", "--no-recursion"]
        .map(String::from)
        .to_vec();
    let mut dir: Option<&str> = None;
    for f in files {
        if dir != Some(f.dir.as_str()) {
            argv.push("-C".into());
            argv.push(f.dir.clone());
            dir = Some(&f.dir);
        }
        // `./` keeps a name that starts with `-` from being an option.
        argv.push(format!("./{}", f.name));
    }
    argv
}

/// A member that was not written: its name and why.
pub type Skipped = (String, String);

/// Why unpacking stopped: the stream (broken, cut off) or writing here
/// (a full disk, permissions).
#[derive(Debug)]
pub enum UnpackError {
    Stream(std::io::Error),
    Write(std::io::Error),
}

impl std::fmt::Display for UnpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnpackError::Stream(e) => write!(f, "broken stream: {e}"),
            UnpackError::Write(e) => write!(f, "{e}"),
        }
    }
}

/// The bare file name a member path stands for (`name` or `./name`).
fn member_name(path: &Path) -> Option<String> {
    let mut normal = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir));
    match (normal.next(), normal.next()) {
        (Some(Component::Normal(n)), None) => n.to_str().map(str::to_string),
        _ => None,
    }
}

/// Unpack `stream` into `dest`: only regular files named in `wanted`, each
/// once; every other member is skipped (never written) and returned as
/// `(member, reason)`. Which wanted files arrived is for the caller to check.
pub fn unpack(
    stream: &mut dyn Read,
    wanted: &[String],
    dest: &Path,
) -> Result<(Vec<PathBuf>, Vec<Skipped>), UnpackError> {
    use UnpackError::{Stream, Write};
    let mut archive = tar::Archive::new(stream);
    let mut seen: HashSet<String> = HashSet::new();
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    for entry in archive.entries().map_err(Stream)? {
        let mut entry = entry.map_err(Stream)?;
        let raw = entry.path().map_err(Stream)?.into_owned();
        let shown = raw.to_string_lossy().into_owned();
        let Some(name) = member_name(&raw).filter(|n| wanted.iter().any(|w| w == n)) else {
            skipped.push((shown, "not asked for".to_string()));
            continue;
        };
        if !entry.header().entry_type().is_file() {
            skipped.push((
                name,
                "not a regular file there (symlink, directory or special file)".into(),
            ));
            continue;
        }
        if !seen.insert(name.clone()) {
            skipped.push((name, "sent twice".into()));
            continue;
        }
        let to = dest.join(&name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&to)
            .map_err(Write)?;
        // Read and write separately: a read error is the stream's, a write
        // error this side's.
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(Stream)?;
            if n == 0 {
                break;
            }
            std::io::Write::write_all(&mut file, &buf[..n]).map_err(Write)?;
        }
        if let Ok(mtime) = entry.header().mtime() {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
            let _ = file.set_modified(t);
        }
        written.push(to);
    }
    Ok((written, skipped))
}

/// Files up to this size are sent whole ([`put_file`]): fewer processes and
/// round trips than rsync, which needs several exchanges before its delta
/// saves anything (and a delta cannot save much of 64 KiB).
pub const STREAM_UP_LIMIT: u64 = 64 * 1024;

/// Send `local` to `remote_path` on `host` in one session. Returns the bytes
/// sent.
pub fn put_file(
    host: &Host,
    local: &Path,
    remote_path: &str,
    cancel: &CancelToken,
) -> Result<u64, TransportError> {
    let _slot = host.session();
    let size = std::fs::metadata(local)
        .map(|m| m.len())
        .map_err(|e| TransportError {
            host: host.destination.clone(),
            message: format!("cannot read {}: {e}", local.display()),
            hint: String::new(),
        })?;
    let argv: Vec<String> = [
        "sh",
        "-c",
        r#"umask 022 && cat > "$1.zoryn-part" && mv -f -- "$1.zoryn-part" "$1""#,
        "zoryn-put",
        remote_path,
    ]
    .map(String::from)
    .to_vec();
    let spec = host.command(&argv).stdin_file(local);
    let (out, _) = capture_stream(&spec, cancel, |r| {
        let _ = std::io::copy(r, &mut std::io::sink());
    })
    .map_err(|e| TransportError {
        host: host.destination.clone(),
        message: format!("uploading {} to {}: {e}", local.display(), host.destination),
        hint: "install openssh-client, or set [commands] ssh in ~/.zoryn".into(),
    })?;
    if cancel.is_cancelled() {
        return Err(TransportError {
            host: host.destination.clone(),
            message: format!("uploading to {}: interrupted", host.destination),
            hint: String::new(),
        });
    }
    if out.code() == Some(255) {
        let mut e = host.error_from(&out.stderr, Some(255));
        e.message = format!("uploading the source: {}", e.message);
        return Err(e);
    }
    if !out.success() {
        return Err(TransportError {
            host: host.destination.clone(),
            message: format!(
                "uploading {} to {remote_path} on {} failed: {}",
                local.display(),
                host.destination,
                out.stderr.trim()
            ),
            hint: "check free space and permissions in the remote home".into(),
        });
    }
    Ok(size)
}

/// One piece of a file rebuilt on the host by [`put_delta`]: a range of
/// the copy it has, or a range of the new bytes sent along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    Base { offset: u64, len: u64 },
    Sent { offset: u64, len: u64 },
}

/// Block size of [`delta`]: tar's, so the members of a tarball (and of the
/// tarballs inside it) line up in both versions.
const BLOCK: usize = 512;
/// [`put_delta`] gives up (the caller then uses rsync) beyond these.
pub const DELTA_MAX_PIECES: usize = 256;
pub const DELTA_MAX_BYTES: u64 = 256 << 20;
/// New bytes a delta always may send; beyond that at most 1/16 of the file.
const DELTA_SMALL: u64 = 64 * 1024;

fn block_hash(b: &[u8]) -> u64 {
    b.chunks(8).fold(0xcbf2_9ce4_8422_2325u64, |h, w| {
        let mut x = [0u8; 8];
        x[..w.len()].copy_from_slice(w);
        (h.rotate_left(5) ^ u64::from_le_bytes(x)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `new` as pieces of `base` and of itself, matching whole 512-byte blocks
/// at block boundaries: a tarball whose one file grew keeps every other
/// member's data, only headers and the changed file are sent. Every match
/// is compared byte for byte.
pub fn delta(base: &[u8], new: &[u8]) -> Vec<Piece> {
    let mut index: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (i, b) in base.chunks_exact(BLOCK).enumerate() {
        index.entry(block_hash(b)).or_insert(i * BLOCK);
    }
    let mut pieces: Vec<Piece> = Vec::new();
    let mut at = 0usize;
    while at < new.len() {
        let end = (at + BLOCK).min(new.len());
        let block = &new[at..end];
        let len = block.len() as u64;
        // The base run goes on, or a block found anywhere in the base.
        let next = match pieces.last() {
            Some(Piece::Base { offset, len }) => Some((offset + len) as usize),
            _ => None,
        };
        let found = next
            .filter(|&o| base.get(o..o + block.len()) == Some(block))
            .or_else(|| {
                (block.len() == BLOCK)
                    .then(|| index.get(&block_hash(block)).copied())
                    .flatten()
                    .filter(|&o| base.get(o..o + BLOCK) == Some(block))
            });
        match (found, pieces.last_mut()) {
            (Some(o), Some(Piece::Base { offset, len: l })) if (*offset + *l) as usize == o => {
                *l += len
            }
            (Some(o), _) => pieces.push(Piece::Base {
                offset: o as u64,
                len,
            }),
            (None, Some(Piece::Sent { offset, len: l })) if (*offset + *l) as usize == at => {
                *l += len
            }
            (None, _) => pieces.push(Piece::Sent {
                offset: at as u64,
                len,
            }),
        }
        at = end;
    }
    pieces
}

/// Rebuilds a file on the host from the copy there and the new bytes: the
/// pieces in order (`b:OFFSET:LEN` from the old copy, `s:OFFSET:LEN` from
/// the new bytes) into a temporary file, which is renamed over the old
/// copy. The new bytes come on stdin (DATA `-`) or in DATA itself, escaped
/// for `printf %b` (a builtin: no process, no decoder needed there).
///
/// Nothing is hashed on the host: the old copy must still be the very file
/// the pre-flight hashed (its identity — device, inode, size, mtime and
/// ctime — and BASE-SUM, as kept beside it), read through one open
/// descriptor; the result must have the expected size. The new copy's
/// checksum (this side's) is then kept beside it in the pre-flight's
/// format, under the identity of the file this script renamed into place.
/// Exit 3: the old copy is not the expected one; 4: wrong size.
///
/// Arguments: PATH BASE-SUM NEW-SUM NEW-SIZE DATA PIECE... [-- COMMAND...]:
/// with a COMMAND the script `exec`s it once the file is in place (the
/// build, in the same session) or, failing, prints
/// `zoryn-remote:delta=failed STATUS` instead of running it.
pub const DELTA_SCRIPT: &str = r#"f=$1 base=$2 sum=$3 size=$4 data=$5; shift 5
umask 022
part="$f.zoryn-part.$$" sent="$f.zoryn-sent.$$" then=
trap 'rc=$?; rm -f -- "$part" "$sent"; [ $rc -eq 0 ] || [ -z "$then" ] || echo "zoryn-remote:delta=failed $rc"' EXIT
for p; do [ "$p" = -- ] && then=1; done
exec 3<"$f" || exit 3
kept=
IFS= read -r kept 2>/dev/null <"$f.zoryn-sha256"
[ -n "$kept" ] && [ "$kept" = "$(stat -L -c '%d %i %s %y %z' /dev/fd/3 2>/dev/null)|$base" ] || exit 3
if [ "$data" = - ]; then cat; else printf %b "$data"; fi >"$sent" || exit 1
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  p=$1; shift
  r=${p#?:} off=${r%%:*} len=${r#*:}
  case $p in b:*) src=/dev/fd/3 ;; s:*) src=$sent ;; *) exit 2 ;; esac
  dd if="$src" iflag=skip_bytes,count_bytes skip="$off" count="$len" bs=65536 status=none || exit 1
done >"$part" || exit 1
[ "$(stat -c %s -- "$part")" = "$size" ] || exit 4
exec 4<"$part"
mv -f -- "$part" "$f" || exit 1
id=$(stat -L -c '%d %i %s %y %z' /dev/fd/4 2>/dev/null) &&
  printf '%s|%s\n' "$id" "$sum" >"$f.zoryn-sha256.$$" && mv -f -- "$f.zoryn-sha256.$$" "$f.zoryn-sha256"
[ -n "$then" ] || exit 0
rm -f -- "$sent"
trap - EXIT
shift
exec 3<&- 4<&- "$@""#;

/// A new version of a file as a block delta against an old version the
/// host has ([`delta`]), ready to send: the pieces, the new bytes, and
/// both checksums.
pub struct Delta {
    pieces: Vec<String>,
    sent: Vec<u8>,
    size: u64,
    base_sha256: String,
    sha256: String,
}

/// Why no delta: the caller sends the file as before.
#[derive(Debug, Clone)]
pub struct NoDelta(pub String);

impl Delta {
    /// `new` against `base` (which the host has, by `base_sha256`), with
    /// `new_sha256` its checksum (asked for once the delta is worked out).
    /// Too big, too many pieces, too much changed off the block boundaries
    /// (rsync's rolling match does better), or no checksum is a
    /// [`NoDelta`].
    pub fn new(
        base: &Path,
        base_sha256: &str,
        new: &Path,
        new_sha256: impl FnOnce() -> Option<String>,
    ) -> Result<Delta, NoDelta> {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX);
        if size(base) > DELTA_MAX_BYTES || size(new) > DELTA_MAX_BYTES {
            return Err(NoDelta("too big for a delta".into()));
        }
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| NoDelta(format!("cannot read {}: {e}", p.display())))
        };
        let (old, now) = (read(base)?, read(new)?);
        let found = delta(&old, &now);
        if found.len() > DELTA_MAX_PIECES {
            return Err(NoDelta(format!(
                "{} pieces, too many for a delta",
                found.len()
            )));
        }
        let mut pieces = Vec::with_capacity(found.len());
        let mut sent = Vec::new();
        for p in &found {
            match *p {
                Piece::Base { offset, len } => pieces.push(format!("b:{offset}:{len}")),
                Piece::Sent { offset, len } => {
                    pieces.push(format!("s:{}:{len}", sent.len()));
                    sent.extend_from_slice(&now[offset as usize..(offset + len) as usize]);
                }
            }
        }
        let to_send = sent.len() as u64;
        if to_send > DELTA_SMALL && to_send.saturating_mul(16) > now.len() as u64 {
            return Err(NoDelta(format!(
                "{to_send} of {} bytes differ on block boundaries, rsync does better",
                now.len()
            )));
        }
        let sha256 = new_sha256()
            .ok_or_else(|| NoDelta("the new version's checksum is not known".into()))?;
        Ok(Delta {
            pieces,
            sent,
            size: now.len() as u64,
            base_sha256: base_sha256.to_ascii_lowercase(),
            sha256: sha256.to_ascii_lowercase(),
        })
    }

    /// The new bytes this delta sends.
    pub fn sent_bytes(&self) -> u64 {
        self.sent.len() as u64
    }

    /// Whether the new bytes are few enough to go inline
    /// ([`Delta::inline_argv`]).
    pub fn fits_inline(&self) -> bool {
        self.inline_data().is_some()
    }

    /// The new bytes escaped for `printf %b` in an argument, when that
    /// stays within [`DELTA_INLINE_MAX`] characters.
    fn inline_data(&self) -> Option<String> {
        let mut out = String::new();
        for (i, &b) in self.sent.iter().enumerate() {
            let octal_digit_next = self
                .sent
                .get(i + 1)
                .is_some_and(|n| (b'0'..=b'7').contains(n));
            if b.is_ascii_alphanumeric() || b" .,:;_+-=/@#()[]{}<>!?~^*".contains(&b) {
                out.push(b as char);
            } else if b == 0 && !octal_digit_next {
                // Tar headers are mostly NULs: the short form where it is unambiguous.
                out.push_str("\\0");
            } else {
                out.push_str(&format!("\\0{b:03o}"));
            }
            if out.len() > DELTA_INLINE_MAX {
                return None;
            }
        }
        Some(out)
    }

    /// The host's part with the new bytes inside its arguments, then
    /// `command` in the same session once the file is in place: for a
    /// delta small enough to ride on another session's command line
    /// (`None` otherwise). An argv for the host (`sh -c` first).
    pub fn inline_argv(&self, remote_path: &str, command: &[String]) -> Option<Vec<String>> {
        let data = self.inline_data()?;
        let mut argv: Vec<String> = vec!["sh".into(), "-c".into()];
        argv.extend(self.argv(remote_path, data));
        if !command.is_empty() {
            argv.push("--".into());
            argv.extend(command.iter().cloned());
        }
        Some(argv)
    }

    fn argv(&self, remote_path: &str, data: String) -> Vec<String> {
        let mut argv: Vec<String> = vec![
            DELTA_SCRIPT.into(),
            "zoryn-delta".into(),
            remote_path.into(),
            self.base_sha256.clone(),
            self.sha256.clone(),
            self.size.to_string(),
            data,
        ];
        argv.extend(self.pieces.iter().cloned());
        argv
    }
}

/// Escaped new bytes up to this many characters go inline (see
/// [`Delta::inline_argv`]): far below Linux's 128 KiB for one argument
/// and OpenSSH's packet size for the whole command.
pub const DELTA_INLINE_MAX: usize = 48 * 1024;

/// Send the new version `delta` describes to `remote_path` on `host`,
/// which holds the old one there: one session carrying only the blocks the
/// host does not have. Whatever goes wrong (the host's copy is no longer
/// the expected one, no GNU `dd` there) is an error, and the caller then
/// sends the file as before. Returns the bytes sent.
pub fn put_delta(
    host: &Host,
    delta: &Delta,
    remote_path: &str,
    cancel: &CancelToken,
) -> Result<u64, TransportError> {
    let fail = |message: String| TransportError {
        host: host.destination.clone(),
        message,
        hint: String::new(),
    };
    tracing::debug!(
        "{}: a delta of {} pieces, {} of {} bytes",
        host.destination,
        delta.pieces.len(),
        delta.sent.len(),
        delta.size
    );
    let sent_file =
        tempfile::NamedTempFile::new().map_err(|e| fail(format!("a temporary file: {e}")))?;
    std::fs::write(sent_file.path(), &delta.sent)
        .map_err(|e| fail(format!("a temporary file: {e}")))?;
    let mut argv: Vec<String> = vec!["sh".into(), "-c".into()];
    argv.extend(delta.argv(remote_path, "-".into()));
    let _slot = host.session();
    let spec = host.command(&argv).stdin_file(sent_file.path());
    let (out, _) = capture_stream(&spec, cancel, |r| {
        let _ = std::io::copy(r, &mut std::io::sink());
    })
    .map_err(|e| fail(format!("uploading to {}: {e}", host.destination)))?;
    if cancel.is_cancelled() {
        return Err(fail(format!(
            "uploading to {}: interrupted",
            host.destination
        )));
    }
    if out.code() == Some(255) {
        let mut e = host.error_from(&out.stderr, Some(255));
        e.message = format!("uploading the source: {}", e.message);
        return Err(e);
    }
    if !out.success() {
        return Err(fail(delta_failure(
            out.code(),
            &host.destination,
            out.stderr.trim(),
        )));
    }
    Ok(delta.sent_bytes())
}

/// Why [`DELTA_SCRIPT`] failed on `host`, by its exit status.
pub fn delta_failure(code: Option<i32>, host: &str, stderr: &str) -> String {
    match code {
        Some(3) => format!("the source on {host} is no longer the copy the pre-flight hashed"),
        Some(4) => format!("the source rebuilt on {host} has the wrong size"),
        _ if stderr.is_empty() => format!(
            "rebuilding the source on {host} failed (exit status {})",
            code.map_or("unknown".into(), |c| c.to_string())
        ),
        _ => format!("rebuilding the source on {host} failed: {stderr}"),
    }
}

/// Why a fetch failed: writing here (a full disk, permissions: the host
/// and the build are fine), or the transfer.
#[derive(Debug)]
pub enum FetchError {
    Write(std::io::Error),
    Transfer(TransportError),
}

impl From<TransportError> for FetchError {
    fn from(e: TransportError) -> Self {
        FetchError::Transfer(e)
    }
}

/// Fetch `files` from `host` into `dest` (a directory of the caller's, best
/// a fresh private one). Returns the members that were skipped, with the
/// reason; which requested files arrived is for the caller to check (a file
/// that is gone on the host makes `tar` complain and exit non-zero, but the
/// others still come). On error, files already written stay in `dest` for
/// the caller to drop with it.
pub fn fetch(
    host: &Host,
    files: &[RemoteFile],
    dest: &Path,
    cancel: &CancelToken,
) -> Result<Vec<Skipped>, FetchError> {
    let _slot = host.session();
    let spec = host.command(&tar_argv(files));
    let wanted: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let dest_owned = dest.to_path_buf();
    let (out, unpacked) =
        capture_stream(&spec, cancel, move |r| unpack_all(r, &wanted, &dest_owned))
            .map_err(|e| spawn_failure(host, e))?;
    fetched(host, out, unpacked, cancel)
}

/// What a download's unpacker returns.
type Unpacked = Result<(Vec<PathBuf>, Vec<Skipped>), UnpackError>;

/// [`unpack`], then read what is left so a well-behaved tar is not cut off
/// by SIGPIPE (its trailing blocks); a broken stream is not read further.
fn unpack_all(r: &mut dyn Read, wanted: &[String], dest: &Path) -> Unpacked {
    let result = unpack(r, wanted, dest);
    if result.is_ok() {
        let _ = std::io::copy(r, &mut std::io::sink());
    }
    result
}

fn spawn_failure(host: &Host, e: impl std::fmt::Display) -> FetchError {
    FetchError::Transfer(TransportError {
        host: host.destination.clone(),
        message: format!("downloading results from {}: {e}", host.destination),
        hint: "install openssh-client, or set [commands] ssh in ~/.zoryn".into(),
    })
}

/// The download's end: ssh's exit and the unpacker's result, as the
/// members skipped or why it failed.
fn fetched(
    host: &Host,
    out: Captured,
    unpacked: Option<Unpacked>,
    cancel: &CancelToken,
) -> Result<Vec<Skipped>, FetchError> {
    let err = |message: String, hint: &str| {
        FetchError::Transfer(TransportError {
            host: host.destination.clone(),
            message,
            hint: hint.into(),
        })
    };
    if cancel.is_cancelled() {
        return Err(err(
            format!("downloading results from {}: interrupted", host.destination),
            "",
        ));
    }
    // This side failing to write closes the stream: ssh's end of it then
    // fails too, but the cause is here.
    let unpacked = match unpacked {
        Some(Err(UnpackError::Write(e))) => return Err(FetchError::Write(e)),
        other => other,
    };
    if out.code() == Some(255) || out.status.is_none() {
        let mut e = host.connection_lost(&out.stderr);
        e.message = format!(
            "downloading results from {} failed: connection lost: {}",
            host.destination, e.message
        );
        return Err(e.into());
    }
    match unpacked {
        Some(Ok((_, skipped))) => {
            if !out.success() {
                tracing::debug!(
                    "tar on {} exited with {:?}: {}",
                    host.destination,
                    out.code(),
                    out.stderr.trim()
                );
            }
            Ok(skipped)
        }
        Some(Err(e)) => {
            let why = match out.status.and_then(|s| s.signal()) {
                Some(n) => format!(
                    "ssh was killed by {}",
                    nix::sys::signal::Signal::try_from(n)
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|_| format!("signal {n}"))
                ),
                None if !out.stderr.trim().is_empty() => {
                    format!("{e} (tar: {})", out.stderr.trim())
                }
                None => e.to_string(),
            };
            Err(err(
                format!(
                    "downloading results from {} failed: {why}; nothing of it was kept",
                    host.destination
                ),
                "build again; if it happens again, check that host and its hasher repo",
            ))
        }
        None => Err(err(
            format!(
                "downloading results from {}: the unpacker crashed",
                host.destination
            ),
            "please report this",
        )),
    }
}

/// The host's half of a [`PreparedFetch`]: reads pairs of lines (directory,
/// file name) until its stdin closes, then sends those files with `tar`
/// (nothing for an empty list).
const FETCH_LATER: &str = r#"set --; while IFS= read -r d && IFS= read -r n; do set -- "$@" -C "$d" "./$n"; done; [ $# -eq 0 ] || exec tar -c -f - --no-recursion "$@""#;

/// A download whose ssh session is opened ahead, while the build still
/// runs: on the host a shell waits for the list of files, so once the
/// build has listed its results only the transfer is left ([`Self::fetch`]).
/// Dropped unused, the host's side ends with nothing sent.
pub struct PreparedFetch<'h> {
    host: &'h Host,
    _slot: super::ssh::SessionGuard<'h>,
    list: Option<std::io::PipeWriter>,
    want: Option<std::sync::mpsc::Sender<(Vec<String>, PathBuf)>>,
    run: Option<PreparedRun>,
    cancel: CancelToken,
}

type PreparedRun =
    std::thread::JoinHandle<Result<(Captured, Option<Unpacked>), super::runner::SpawnError>>;

impl<'h> PreparedFetch<'h> {
    /// Open the session when a slot is free right now and another one is
    /// left for the build ([`Host::try_spare_session`]; never waits: a
    /// download can always open its own later); `None` otherwise.
    pub fn open(host: &'h Host, cancel: &CancelToken) -> Option<PreparedFetch<'h>> {
        let slot = host.try_spare_session()?;
        let (reader, writer) = std::io::pipe().ok()?;
        let argv: Vec<String> = ["sh", "-c", FETCH_LATER, "zoryn-fetch"]
            .map(String::from)
            .to_vec();
        let spec = host.command(&argv);
        let (want, wanted) = std::sync::mpsc::channel::<(Vec<String>, PathBuf)>();
        // Its own token: dropped unused, it is stopped (a dead link would
        // keep ssh waiting for minutes).
        let cancel = cancel.child();
        let run_cancel = cancel.clone();
        // Told once ssh runs (the unpacker starts right after the spawn).
        let (spawned, running) = std::sync::mpsc::channel::<()>();
        let run = std::thread::spawn(move || {
            capture_stream_from(&spec, reader.into(), &run_cancel, move |r| {
                let _ = spawned.send(());
                match wanted.recv() {
                    Ok((names, dest)) => unpack_all(r, &names, &dest),
                    // Not used: whatever comes is not asked for.
                    Err(_) => {
                        let _ = std::io::copy(r, &mut std::io::sink());
                        Ok((Vec::new(), Vec::new()))
                    }
                }
            })
        });
        // ssh could not be started: the download opens its own session.
        running.recv().ok()?;
        Some(PreparedFetch {
            host,
            _slot: slot,
            list: Some(writer),
            want: Some(want),
            run: Some(run),
            cancel,
        })
    }

    /// Fetch `files` into `dest`, as [`fetch`] does.
    pub fn fetch(mut self, files: &[RemoteFile], dest: &Path) -> Result<Vec<Skipped>, FetchError> {
        let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        if let Some(want) = self.want.take() {
            let _ = want.send((names, dest.to_path_buf()));
        }
        let mut text = String::new();
        for f in files {
            text.push_str(&format!("{}\n{}\n", f.dir, f.name));
        }
        if let Some(mut list) = self.list.take() {
            // A failed write shows as the session's failure below.
            let _ = std::io::Write::write_all(&mut list, text.as_bytes());
        }
        let run = self.run.take().map(|r| r.join());
        match run {
            Some(Ok(Ok((out, unpacked)))) => fetched(self.host, out, unpacked, &self.cancel),
            Some(Ok(Err(e))) => Err(spawn_failure(self.host, e)),
            _ => Err(spawn_failure(self.host, "the download's thread crashed")),
        }
    }

    /// Whether `files` can go through this session: the list is line by
    /// line, so no directory or name may hold a line break.
    pub fn can_list(files: &[RemoteFile]) -> bool {
        files
            .iter()
            .all(|f| !f.dir.contains('\n') && !f.name.contains('\n'))
    }
}

impl Drop for PreparedFetch<'_> {
    fn drop(&mut self) {
        // Unused: end the list (empty) and stop the session.
        drop(self.want.take());
        drop(self.list.take());
        if let Some(run) = self.run.take() {
            self.cancel.cancel();
            let _ = run.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::cache::bytes_sha256;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, data).unwrap();
    }

    fn raw_name(b: &mut tar::Builder<Vec<u8>>, name: &[u8], kind: tar::EntryType, data: &[u8]) {
        // Bypass the builder's path checks, as a hostile host would.
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn wanted() -> Vec<String> {
        vec!["a-1.0-alt1.x86_64.rpm".into(), "a-1.0-alt1.src.rpm".into()]
    }

    #[test]
    fn the_requested_files_are_unpacked() {
        let dir = tempfile::tempdir().unwrap();
        let data = archive(|b| {
            file(b, "./a-1.0-alt1.x86_64.rpm", b"binary");
            file(b, "a-1.0-alt1.src.rpm", b"source");
        });
        let (got, skipped) = unpack(&mut data.as_slice(), &wanted(), dir.path()).unwrap();
        assert_eq!(got.len(), 2);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(
            std::fs::read(dir.path().join("a-1.0-alt1.x86_64.rpm")).unwrap(),
            b"binary"
        );
        let mtime = std::fs::metadata(dir.path().join("a-1.0-alt1.src.rpm"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(
            mtime,
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
        );
    }

    #[test]
    fn hostile_members_are_skipped_and_nothing_lands_outside() {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("staging");
        std::fs::create_dir(&dest).unwrap();
        let rpm = "a-1.0-alt1.x86_64.rpm";
        let data = archive(|b| {
            raw_name(
                b,
                b"../a-1.0-alt1.x86_64.rpm",
                tar::EntryType::Regular,
                b"x",
            );
            raw_name(
                b,
                b"/tmp/a-1.0-alt1.x86_64.rpm",
                tar::EntryType::Regular,
                b"x",
            );
            raw_name(b, b"d/a-1.0-alt1.x86_64.rpm", tar::EntryType::Regular, b"x");
            raw_name(b, rpm.as_bytes(), tar::EntryType::Symlink, b"");
            raw_name(b, rpm.as_bytes(), tar::EntryType::Char, b"");
            raw_name(b, rpm.as_bytes(), tar::EntryType::Fifo, b"");
            raw_name(b, rpm.as_bytes(), tar::EntryType::Directory, b"");
            file(b, "other.rpm", b"x");
            file(b, "a-1.0-alt1.src.rpm", b"source");
            file(b, "./a-1.0-alt1.src.rpm", b"again");
        });
        let (written, skipped) = unpack(&mut data.as_slice(), &wanted(), &dest).unwrap();
        assert_eq!(written, [dest.join("a-1.0-alt1.src.rpm")]);
        assert_eq!(
            std::fs::read(dest.join("a-1.0-alt1.src.rpm")).unwrap(),
            b"source",
            "the first copy stays"
        );
        let reasons: Vec<String> = skipped.iter().map(|(m, r)| format!("{m}: {r}")).collect();
        assert_eq!(reasons.len(), 9, "{reasons:#?}");
        assert!(reasons[0].contains("not asked for"), "{reasons:#?}");
        assert!(reasons[3].contains("not a regular file"), "{reasons:#?}");
        assert!(reasons[8].contains("sent twice"), "{reasons:#?}");
        let outside: Vec<_> = std::fs::read_dir(outer.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside, ["staging"], "nothing beside the staging dir");
        let inside: Vec<_> = std::fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(inside, ["a-1.0-alt1.src.rpm"], "nothing else written");
    }

    #[test]
    fn a_truncated_stream_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let data = archive(|b| file(b, "a-1.0-alt1.src.rpm", &[7u8; 4096]));
        let cut = &data[..1024];
        assert!(unpack(&mut &cut[..], &wanted(), dir.path()).is_err());
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a-1.0-alt1.src.rpm"), b"mine").unwrap();
        let data = archive(|b| file(b, "a-1.0-alt1.src.rpm", b"theirs"));
        assert!(unpack(
            &mut data.as_slice(),
            &["a-1.0-alt1.src.rpm".into()],
            dir.path()
        )
        .is_err());
        assert_eq!(
            std::fs::read(dir.path().join("a-1.0-alt1.src.rpm")).unwrap(),
            b"mine"
        );
    }

    /// The pieces rebuild the new file exactly; an unchanged tail after a
    /// grown block is taken from the base, shifted.
    #[test]
    fn delta_pieces_rebuild_the_new_file() {
        let base: Vec<u8> = (0..40 * 512u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut new = base[..3 * 512].to_vec();
        new.extend_from_slice(&[b'x'; 512]); // a block more
        new.extend_from_slice(&base[3 * 512..]);
        new[7] ^= 1; // and a changed byte in the first block
        new.extend_from_slice(b"tail");
        let pieces = delta(&base, &new);
        let mut rebuilt = Vec::new();
        let mut sent = 0u64;
        for p in &pieces {
            match *p {
                Piece::Base { offset, len } => {
                    rebuilt.extend_from_slice(&base[offset as usize..(offset + len) as usize])
                }
                Piece::Sent { offset, len } => {
                    rebuilt.extend_from_slice(&new[offset as usize..(offset + len) as usize]);
                    sent += len;
                }
            }
        }
        assert_eq!(rebuilt, new);
        assert_eq!(sent, 512 + 512 + 4, "{pieces:?}");
        assert!(pieces.len() <= 5, "{pieces:?}");
        assert_eq!(delta(&[], b"abc"), [Piece::Sent { offset: 0, len: 3 }]);
    }

    fn stat_id(f: &Path) -> String {
        let id = std::process::Command::new("stat")
            .args(["-c", "%d %i %s %y %z", "--"])
            .arg(f)
            .output()
            .unwrap();
        String::from_utf8(id.stdout).unwrap().trim_end().to_string()
    }

    /// Run the host's half here (a real sh, GNU dd), the new bytes on
    /// stdin when `stdin` is given; returns its exit status and output.
    fn run_script(argv: &[String], stdin: Option<&[u8]>) -> (Option<i32>, String) {
        let mut c = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(c.stdin.as_mut().unwrap(), stdin.unwrap_or_default()).unwrap();
        drop(c.stdin.take());
        let out = c.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn run_delta_script(argv: &[String], stdin: Option<&[u8]>) -> Option<i32> {
        run_script(argv, stdin).0
    }

    /// The new bytes on stdin: the standalone session's argv.
    fn stdin_argv(d: &Delta, remote: &str) -> Vec<String> {
        let mut argv = vec!["sh".to_string(), "-c".to_string()];
        argv.extend(d.argv(remote, "-".into()));
        argv
    }

    /// The host's half: the script rebuilds the file from the pieces, with
    /// the new bytes on stdin or inline, keeps the new checksum beside it
    /// under the new file's identity, and leaves no temporary file.
    #[test]
    fn the_delta_script_rebuilds_the_file() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("pkg.tar");
        let old: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut new = old.clone();
        new[1000..1004].copy_from_slice(b"\0\\'%");
        // NULs before octal digits and not (the short escape where it is unambiguous).
        new.extend_from_slice(b"tail\n\x007\x000\x00\x00a\x008\0");
        let new_path = t.path().join("new.tar");
        std::fs::write(&new_path, &new).unwrap();
        let (old_sum, new_sum) = (bytes_sha256(&old), bytes_sha256(&new));
        for inline in [false, true] {
            std::fs::write(&f, &old).unwrap();
            std::fs::write(
                t.path().join("pkg.tar.zoryn-sha256"),
                format!("{}|{old_sum}\n", stat_id(&f)),
            )
            .unwrap();
            let base = t.path().join("base.tar");
            std::fs::write(&base, &old).unwrap();
            let d = Delta::new(&base, &old_sum, &new_path, || Some(new_sum.clone())).unwrap();
            assert!(d.sent_bytes() <= 1024, "{}", d.sent_bytes());
            let remote = f.to_string_lossy();
            let code = if inline {
                run_delta_script(&d.inline_argv(&remote, &[]).unwrap(), None)
            } else {
                run_delta_script(&stdin_argv(&d, &remote), Some(&d.sent))
            };
            assert_eq!(code, Some(0), "inline: {inline}");
            assert_eq!(std::fs::read(&f).unwrap(), new, "inline: {inline}");
            assert_eq!(
                std::fs::read_to_string(t.path().join("pkg.tar.zoryn-sha256")).unwrap(),
                format!("{}|{new_sum}\n", stat_id(&f)),
                "the checksum kept for the next pre-flight, in its format"
            );
            std::fs::remove_file(&base).unwrap();
            let left: Vec<_> = std::fs::read_dir(t.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert_eq!(left.len(), 3, "no temporary files left: {left:?}");
        }
    }

    /// The host's copy is not the one the pre-flight hashed (another
    /// client replaced it, or nothing is kept beside it): exit 3, and the
    /// copy stays as it is.
    #[test]
    fn the_delta_script_refuses_a_different_base() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("pkg.tar");
        let base = t.path().join("base.tar");
        let new_path = t.path().join("new.tar");
        std::fs::write(&base, vec![1u8; 2048]).unwrap();
        std::fs::write(&new_path, vec![2u8; 2048]).unwrap();
        let d = Delta::new(&base, &bytes_sha256(&[1u8; 2048]), &new_path, || {
            Some("ab".into())
        })
        .unwrap();
        let remote = f.to_string_lossy().into_owned();
        let sidecar = t.path().join("pkg.tar.zoryn-sha256");
        // No record beside it.
        std::fs::write(&f, vec![1u8; 2048]).unwrap();
        let argv = d.inline_argv(&remote, &[]).unwrap();
        assert_eq!(run_delta_script(&argv, None), Some(3));
        // A record of another file (this one was replaced since).
        std::fs::write(
            &sidecar,
            format!("1 2 3 x y|{}\n", bytes_sha256(&[1u8; 2048])),
        )
        .unwrap();
        assert_eq!(run_delta_script(&argv, None), Some(3));
        // Its own identity but another checksum.
        std::fs::write(&sidecar, format!("{}|{}\n", stat_id(&f), "0".repeat(64))).unwrap();
        assert_eq!(run_delta_script(&argv, None), Some(3));
        assert_eq!(std::fs::read(&f).unwrap(), vec![1u8; 2048], "untouched");
        // The expected copy, but the new bytes arrive short: exit 4.
        std::fs::write(
            &sidecar,
            format!("{}|{}\n", stat_id(&f), bytes_sha256(&[1u8; 2048])),
        )
        .unwrap();
        assert_eq!(
            run_delta_script(&stdin_argv(&d, &remote), Some(b"x")),
            Some(4)
        );
        assert_eq!(std::fs::read(&f).unwrap(), vec![1u8; 2048], "untouched");
        assert_eq!(
            std::fs::read_dir(t.path()).unwrap().count(),
            4,
            "no temporary files left"
        );
    }

    /// Riding on another session: the command after `--` runs once the
    /// file is in place, with no descriptor of the script's left open;
    /// when the delta fails it does not run and a marker says why.
    #[test]
    fn the_delta_script_runs_the_build_after_it_or_says_it_failed() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("pkg.tar");
        let base = t.path().join("base.tar");
        let new_path = t.path().join("new.tar");
        let old = vec![5u8; 4096];
        let mut new = old.clone();
        new[600] = 6;
        std::fs::write(&base, &old).unwrap();
        std::fs::write(&new_path, &new).unwrap();
        std::fs::write(&f, &old).unwrap();
        let sidecar = t.path().join("pkg.tar.zoryn-sha256");
        let old_sum = bytes_sha256(&old);
        std::fs::write(&sidecar, format!("{}|{old_sum}\n", stat_id(&f))).unwrap();
        let d = Delta::new(&base, &old_sum, &new_path, || Some(bytes_sha256(&new))).unwrap();
        let build: Vec<String> = [
            "sh",
            "-c",
            "echo ran $1; ls -l /proc/$$/fd | grep -c pkg.tar; cmp -s \"$2\" \"$3\" && echo same",
            "zoryn-hsh",
            "arg",
        ]
        .map(String::from)
        .to_vec()
        .into_iter()
        .chain([
            f.to_string_lossy().into(),
            new_path.to_string_lossy().into(),
        ])
        .collect();
        let remote = f.to_string_lossy().into_owned();
        let (code, out) = run_script(&d.inline_argv(&remote, &build).unwrap(), None);
        assert_eq!(code, Some(0), "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first(), Some(&"ran arg"), "{out}");
        // No descriptor of the old or the new copy stays open.
        assert_eq!(lines.get(1).map(|l| l.trim()), Some("0"), "{out}");
        assert_eq!(lines.get(2), Some(&"same"), "{out}");
        // Again: the host's copy is now the new one, not the expected base.
        let (code, out) = run_script(&d.inline_argv(&remote, &build).unwrap(), None);
        assert_eq!(code, Some(3));
        assert_eq!(
            out.trim(),
            "zoryn-remote:delta=failed 3",
            "the build did not run"
        );
    }

    #[test]
    fn tar_argv_groups_by_directory() {
        let f = |d: &str, n: &str| RemoteFile {
            dir: d.into(),
            name: n.into(),
        };
        assert_eq!(
            tar_argv(&[
                f("/r/RPMS", "a.rpm"),
                f("/r/RPMS", "-b.rpm"),
                f("/r/SRPMS", "a.src.rpm")
            ]),
            [
                "tar",
                "-c",
                "-f",
                "-",
                "--no-recursion",
                "-C",
                "/r/RPMS",
                "./a.rpm",
                "./-b.rpm",
                "-C",
                "/r/SRPMS",
                "./a.src.rpm"
            ]
        );
    }
}
