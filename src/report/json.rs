//! `--json`: one JSON object per line on stdout, the last one the summary
//! (`"event":"run-finished"`). Log lines are included only with `-v`.

use std::io::Write;

use super::Reporter;
use crate::run::events::{Event, EventKind};

pub struct JsonReporter<W: Write> {
    out: W,
    with_lines: bool,
}

impl<W: Write> JsonReporter<W> {
    pub fn new(out: W, with_lines: bool) -> Self {
        JsonReporter { out, with_lines }
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn event(&mut self, ev: &Event) {
        if matches!(ev.kind, EventKind::Line { .. }) && !self.with_lines {
            return;
        }
        if let Ok(s) = serde_json::to_string(ev) {
            let _ = writeln!(self.out, "{s}");
            let _ = self.out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasher::stage::Phase;
    use crate::run::events::{BuilderInfo, BuilderResult, Outcome};
    use std::time::Duration;

    fn info() -> BuilderInfo {
        BuilderInfo {
            name: "arm".into(),
            host: "arm.internal".into(),
            arch: "aarch64".into(),
            branch: "sisyphus".into(),
        }
    }

    /// Every event kind, pinned: this is a machine interface.
    #[test]
    fn every_event_kind_serialises_stably() {
        let result = BuilderResult {
            builder: info(),
            outcome: Outcome::Failed,
            elapsed: Duration::from_millis(1500),
            packages: vec![],
            log: Some("/r/.gear/build.arm.log".into()),
            message: Some("hsh exited with status 1 on arm.internal".into()),
            hint: None,
            log_tail: vec!["error: x".into()],
            rejected: vec![],
            checks: vec![],
        };
        let kinds = vec![
            EventKind::RunStarted {
                package: "hello".into(),
                version: "1.0-alt1".into(),
                builders: vec![info()],
                parallel: false,
            },
            EventKind::SourceReady {
                tarball_bytes: 10240,
                reused: true,
            },
            EventKind::Waiting {
                builder: "arm".into(),
                holder_pid: Some(42),
                held_for_secs: Some(7),
            },
            EventKind::Uploaded {
                builder: "arm".into(),
                bytes_sent: 512,
                tarball_bytes: 10240,
            },
            EventKind::Started {
                builder: "arm".into(),
                log: "/r/.gear/build.arm.log".into(),
                command: vec!["hsh".into(), "--number=1".into()],
            },
            EventKind::Phase {
                builder: "arm".into(),
                phase: Phase::InstallingDeps,
            },
            EventKind::Line {
                builder: "arm".into(),
                line: "make".into(),
            },
            EventKind::Finished(result.clone()),
            EventKind::RunFinished {
                results: vec![result],
                exit_code: 1,
            },
        ];
        let mut buf = Vec::new();
        let mut r = JsonReporter::new(&mut buf, true);
        for (i, k) in kinds.into_iter().enumerate() {
            r.event(&Event {
                at: Duration::from_millis(i as u64 * 250),
                kind: k,
            });
        }
        let text = String::from_utf8(buf).unwrap();
        let expected = [
            r#"{"at":0.0,"event":"run-started","package":"hello","version":"1.0-alt1","builders":[{"name":"arm","host":"arm.internal","arch":"aarch64","branch":"sisyphus"}],"parallel":false}"#,
            r#"{"at":0.25,"event":"source-ready","tarball_bytes":10240,"reused":true}"#,
            r#"{"at":0.5,"event":"waiting","builder":"arm","holder_pid":42,"held_for_secs":7}"#,
            r#"{"at":0.75,"event":"uploaded","builder":"arm","bytes_sent":512,"tarball_bytes":10240}"#,
            r#"{"at":1.0,"event":"started","builder":"arm","log":"/r/.gear/build.arm.log","command":["hsh","--number=1"]}"#,
            r#"{"at":1.25,"event":"phase","builder":"arm","phase":"installing-deps"}"#,
            r#"{"at":1.5,"event":"line","builder":"arm","line":"make"}"#,
            r#"{"at":1.75,"event":"finished","builder":{"name":"arm","host":"arm.internal","arch":"aarch64","branch":"sisyphus"},"outcome":"failed","elapsed":1.5,"packages":[],"log":"/r/.gear/build.arm.log","message":"hsh exited with status 1 on arm.internal","hint":null,"log_tail":["error: x"]}"#,
            r#"{"at":2.0,"event":"run-finished","results":[{"builder":{"name":"arm","host":"arm.internal","arch":"aarch64","branch":"sisyphus"},"outcome":"failed","elapsed":1.5,"packages":[],"log":"/r/.gear/build.arm.log","message":"hsh exited with status 1 on arm.internal","hint":null,"log_tail":["error: x"]}],"exit_code":1}"#,
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
        // Without -v, log lines are left out.
        let mut buf = Vec::new();
        let mut r = JsonReporter::new(&mut buf, false);
        r.event(&Event {
            at: Duration::ZERO,
            kind: EventKind::Line {
                builder: "arm".into(),
                line: "x".into(),
            },
        });
        assert!(buf.is_empty());
    }
}
