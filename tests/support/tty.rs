//! Driving zoryn on a real terminal: a private tmux server per test.
//!
//! [`Tmux`] starts one command in a detached session of its own server
//! (`tmux -L NAME`), so parallel tests never see each other's panes; keys go
//! in with `send-keys`, the screen comes back with `capture-pane`. Dropping
//! it kills the server and everything in it.

use std::process::Command;
use std::time::{Duration, Instant};

use super::TestEnv;

pub struct Tmux {
    socket: String,
}

impl TestEnv {
    /// A shell command line that runs `argv` exactly as [`TestEnv::command`]
    /// would (same user, same clean environment).
    pub fn command_line(&self, argv: &[&str]) -> String {
        self.command_line_with(argv, &[])
    }

    /// [`TestEnv::command_line`] with `extra` variables added.
    pub fn command_line_with(&self, argv: &[&str], extra: &[(String, String)]) -> String {
        let cmd = self.command(argv[0]);
        let mut words: Vec<String> = vec!["env".into(), "-i".into()];
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                words.push(format!("{}={}", k.to_string_lossy(), v.to_string_lossy()));
            }
        }
        words.push("TERM=xterm-256color".into());
        words.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
        words.push(cmd.get_program().to_string_lossy().into_owned());
        words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        words.extend(argv[1..].iter().map(|s| s.to_string()));
        shell_words::join(words)
    }

    /// Start `argv` (as the maintainer, in `cwd`) on a `cols`×`rows` terminal.
    pub fn tmux(&self, argv: &[&str], cwd: &std::path::Path, cols: u16, rows: u16) -> Tmux {
        self.tmux_with_env(argv, cwd, cols, rows, &[])
    }

    /// The env's extra variables (to extend for one command).
    pub fn clone_settings(&self) -> Vec<(String, String)> {
        self.extra_env.clone()
    }

    /// Like [`TestEnv::tmux`] with `extra` variables set for this command only.
    pub fn tmux_with_env(
        &self,
        argv: &[&str],
        cwd: &std::path::Path,
        cols: u16,
        rows: u16,
        extra: &[(String, String)],
    ) -> Tmux {
        self.chown_all();
        let socket = format!(
            "zoryn-test-{}-{}",
            std::process::id(),
            self.root.file_name().unwrap().to_string_lossy()
        );
        let line = format!(
            "cd {} && {}; echo \"[exit $?]\"; sleep 600",
            shell_words::quote(&cwd.to_string_lossy()),
            self.command_line_with(argv, extra)
        );
        let st = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
                &line,
            ])
            .env_remove("TMUX")
            .status()
            .expect("run tmux");
        assert!(st.success(), "tmux new-session failed");
        Tmux { socket }
    }
}

impl Tmux {
    pub fn send(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0"])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Type text literally (no key names).
    pub fn type_text(&self, text: &str) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0", "-l", text])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Whether the pane is showing the alternate screen (a full-screen app).
    pub fn alternate_screen(&self) -> bool {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                "-t",
                "0",
                "#{alternate_on}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen contains `needle`; returns the screen.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "`{needle}` never appeared; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

impl Tmux {
    /// The screen with its colours and attributes as escape sequences.
    pub fn screen_with_escapes(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-e", "-t", "0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
