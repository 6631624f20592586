//! The batch journal and the batch lock.
//!
//! One append-only JSON-lines file per batch
//! (`$XDG_STATE_HOME/zoryn/batches/NAME/journal.jsonl`, mode 0600): every
//! record is written whole and fsynced before zoryn acts on it, so after a
//! crash the journal says exactly which jobs finished. A torn last line (the
//! crash hit mid-write) is ignored on reading and reported. The lock file
//! next to it is held (flock) for the whole run, so a second `task batch` on
//! the same batch is refused with the pid of the one running.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum JobOutcome {
    Done,
    Failed,
    Skipped,
    Blocked,
    /// Transport trouble; the job will be (or was) retried.
    Retry,
    Cancelled,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Finished,
    Interrupted,
    Aborted,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum Record {
    RunStarted {
        at: f64,
        pid: u32,
        packages: Vec<String>,
        lanes: Vec<String>,
    },
    JobStarted {
        at: f64,
        pkg: String,
        lane: String,
        builder: String,
        attempt: u32,
    },
    JobFinished {
        at: f64,
        pkg: String,
        lane: String,
        builder: Option<String>,
        outcome: JobOutcome,
        secs: f64,
        results: Vec<PathBuf>,
        message: Option<String>,
    },
    RunEnded {
        at: f64,
        status: RunStatus,
    },
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn private_file(path: &Path, append: bool) -> io::Result<File> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .mode(0o600)
        .open(path)
}

/// An open journal, appended to with fsync.
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Open for appending. A torn last line (no final newline: a crash
    /// mid-write) is cut off first, so the next record starts a line of its
    /// own instead of being glued to the fragment (which would turn it into
    /// damage in the middle of the journal).
    pub fn open(path: &Path) -> io::Result<Journal> {
        let file = private_file(path, true)?;
        let text = std::fs::read(path)?;
        if !text.is_empty() && !text.ends_with(b"\n") {
            let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            file.set_len(keep as u64)?;
            file.sync_data()?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&mut self, rec: &Record) -> io::Result<()> {
        let mut line = serde_json::to_string(rec).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }

    /// All intact records, and the torn last line if there is one.
    pub fn read(path: &Path) -> io::Result<(Vec<Record>, Option<String>)> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
            Err(e) => return Err(e),
        };
        Self::parse(path, &text)
    }

    /// [`Journal::read`] on text already read; `path` only names the file in
    /// errors.
    pub fn parse(path: &Path, text: &str) -> io::Result<(Vec<Record>, Option<String>)> {
        let mut records = Vec::new();
        let mut torn = None;
        let lines: Vec<&str> = text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Record>(line) {
                Ok(r) => records.push(r),
                // Only the last line can be torn; anything else is damage.
                Err(_)
                    if i + 1 == lines.len()
                        || (i + 2 == lines.len()
                            && lines[i + 1].is_empty()
                            && !text.ends_with('\n')) =>
                {
                    torn = Some(line.to_string())
                }
                Err(e) => {
                    return Err(io::Error::other(format!(
                        "{}: line {}: not a journal record ({e})",
                        path.display(),
                        i + 1
                    )));
                }
            }
        }
        Ok((records, torn))
    }
}

/// What a journal says about the last run.
#[derive(Debug, Default, Clone)]
pub struct JournalState {
    pub has_run: bool,
    pub last_run_ended: Option<RunStatus>,
    pub started_at: Option<f64>,
    /// (package, lane) → result files of jobs that finished Done in the last run.
    pub done: HashMap<(String, String), Vec<PathBuf>>,
}

pub fn state_of(records: &[Record]) -> JournalState {
    let mut st = JournalState::default();
    for r in records {
        match r {
            Record::RunStarted { at, .. } => {
                st.has_run = true;
                st.started_at = Some(*at);
                st.last_run_ended = None;
            }
            Record::JobFinished {
                pkg,
                lane,
                outcome,
                results,
                ..
            } => {
                let key = (pkg.clone(), lane.clone());
                if *outcome == JobOutcome::Done {
                    st.done.insert(key, results.clone());
                } else {
                    st.done.remove(&key);
                }
            }
            Record::RunEnded { status, .. } => st.last_run_ended = Some(*status),
            Record::JobStarted { .. } => {}
        }
    }
    st
}

/// Held for a whole batch run.
pub struct BatchLock {
    _lock: Flock<File>,
}

/// Another run holds the lock.
#[derive(Debug)]
pub struct AlreadyRunning {
    pub pid: Option<u32>,
}

impl BatchLock {
    pub fn acquire(path: &Path) -> io::Result<Result<BatchLock, AlreadyRunning>> {
        let f = private_file(path, false)?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                lock.set_len(0)?;
                writeln!(&mut *lock, "{}", std::process::id())?;
                lock.sync_data()?;
                Ok(Ok(BatchLock { _lock: lock }))
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                let pid = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                Ok(Err(AlreadyRunning { pid }))
            }
            Err((_, e)) => Err(e.into()),
        }
    }

    /// The pid of the run holding the lock, if one does.
    pub fn holder(path: &Path) -> Option<u32> {
        let f = File::open(path).ok()?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(_) => None,
            Err(_) => std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn done(pkg: &str, outcome: JobOutcome) -> Record {
        Record::JobFinished {
            at: 1.0,
            pkg: pkg.into(),
            lane: "x86_64/sisyphus".into(),
            builder: Some("b".into()),
            outcome,
            secs: 2.0,
            results: vec![PathBuf::from(format!("/r/{pkg}.rpm"))],
            message: None,
        }
    }

    #[test]
    fn open_cuts_a_torn_tail_before_appending() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("journal.jsonl");
        let mut j = Journal::open(&p).unwrap();
        j.append(&Record::RunEnded {
            at: 1.0,
            status: RunStatus::Interrupted,
        })
        .unwrap();
        drop(j);
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("{\"ev\":\"job-fin");
        std::fs::write(&p, &text).unwrap();
        let mut j = Journal::open(&p).unwrap();
        j.append(&Record::RunEnded {
            at: 2.0,
            status: RunStatus::Finished,
        })
        .unwrap();
        let (recs, torn) = Journal::read(&p).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(torn, None);
    }

    #[test]
    fn append_read_and_torn_tail() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j/journal.jsonl");
        let mut j = Journal::open(&p).unwrap();
        j.append(&Record::RunStarted {
            at: 0.0,
            pid: 1,
            packages: vec!["a".into()],
            lanes: vec![],
        })
        .unwrap();
        j.append(&done("a", JobOutcome::Done)).unwrap();
        j.append(&done("b", JobOutcome::Failed)).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A crash in the middle of the next write.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"{\"ev\":\"job-fin")
            .unwrap();
        let (recs, torn) = Journal::read(&p).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(torn.as_deref(), Some("{\"ev\":\"job-fin"));
        let st = state_of(&recs);
        assert!(st.has_run && st.last_run_ended.is_none());
        assert!(st
            .done
            .contains_key(&("a".to_string(), "x86_64/sisyphus".to_string())));
        assert!(!st
            .done
            .contains_key(&("b".to_string(), "x86_64/sisyphus".to_string())));
    }

    #[test]
    fn damage_in_the_middle_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("journal.jsonl");
        std::fs::write(
            &p,
            "garbage\n{\"ev\":\"run-ended\",\"at\":1.0,\"status\":\"finished\"}\n",
        )
        .unwrap();
        assert!(Journal::read(&p).is_err());
    }

    #[test]
    fn lock_is_exclusive_and_names_the_holder() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("batch.lock");
        let held = BatchLock::acquire(&p).unwrap().ok().unwrap();
        let second = BatchLock::acquire(&p).unwrap();
        assert_eq!(second.err().unwrap().pid, Some(std::process::id()));
        assert_eq!(BatchLock::holder(&p), Some(std::process::id()));
        drop(held);
        assert!(BatchLock::acquire(&p).unwrap().is_ok());
    }
}
