//! `zoryn completions SHELL` and `zoryn man [--out DIR]`: generated from the
//! clap definitions, so they never drift from the real flags.
//!
//! Owns the man pages' hand-written sections (FILES, ENVIRONMENT, EXIT
//! STATUS, EXAMPLES, SEE ALSO) and the completion scripts. The candidates
//! that dynamic completion offers (builder names, hosts, batches) live in
//! `cli::complete`; this module must not read the farm's configuration.

use std::io::Write;
use std::path::PathBuf;

use super::error::Error;
use crate::run::exit_code::ExitCode;

/// The environment variable that switches the binary into completion mode
/// (`ZORYN_COMPLETE=bash zoryn` prints the registration script; the script
/// then calls `zoryn` with it set to compute candidates).
pub const COMPLETE_VAR: &str = "ZORYN_COMPLETE";

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// Shell to generate for (bash, zsh and fish complete builder names,
    /// hosts and batches; the others complete flags only)
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write zoryn.1 and one page per subcommand into DIR (created if
    /// missing) instead of printing the main page
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub out: Option<PathBuf>,
}

/// Bash, with the words taken from the command line itself. Bash splits the
/// word being completed at `COMP_WORDBREAKS` (`:`, `@`, `=`), which would cut
/// `@host:name` into three words and leave the engine with nothing to
/// complete; clap's own bash script passes those pieces on. This one splits
/// the line up to the cursor at blanks only and strips from each candidate
/// what bash already counts as typed.
pub struct Bash;

const BASH_SCRIPT: &str = r#"
_zoryn_complete() {
    local line=${COMP_LINE:0:COMP_POINT} cur=$2
    local -a words
    IFS=$' \t\n' read -ra words <<< "$line"
    if [[ -z $line || $line == *[[:space:]] ]]; then
        words+=("")
    fi
    local index=$(( ${#words[@]} - 1 ))
    local typed=${words[index]} keep=
    if [[ $typed == *"$cur" ]]; then
        keep=${typed:0:${#typed}-${#cur}}
    fi
    local space=true
    if compopt +o nospace 2> /dev/null; then
        space=false
    fi
    local IFS=$'\013'
    COMPREPLY=( $( \
        _CLAP_IFS="$IFS" \
        _CLAP_COMPLETE_INDEX="$index" \
        _CLAP_COMPLETE_COMP_TYPE="${COMP_TYPE}" \
        _CLAP_COMPLETE_SPACE="$space" \
        VAR="bash" \
        COMPLETER -- "${words[@]}" \
    ) )
    if [[ $? != 0 ]]; then
        unset COMPREPLY
        return
    fi
    if [[ $space == false ]] && [[ "${COMPREPLY-}" =~ [=/:]$ ]]; then
        compopt -o nospace
    fi
    if [[ -n $keep ]]; then
        local i
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$keep"}
        done
    fi
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -o nospace -o bashdefault -o nosort -F _zoryn_complete BIN
else
    complete -o nospace -o bashdefault -F _zoryn_complete BIN
fi
"#;

impl clap_complete::env::EnvCompleter for Bash {
    fn name(&self) -> &'static str {
        "bash"
    }

    fn is(&self, name: &str) -> bool {
        name == "bash"
    }

    fn write_registration(
        &self,
        var: &str,
        _name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let script = BASH_SCRIPT
            .replace("BIN", &shell_words::quote(bin))
            .replace("COMPLETER", &shell_words::quote(completer))
            .replace("VAR", var);
        buf.write_all(script.as_bytes())
    }

    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<std::ffi::OsString>,
        current_dir: Option<&std::path::Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        clap_complete::env::Bash.write_complete(cmd, args, current_dir, buf)
    }
}

/// The shells `ZORYN_COMPLETE=SHELL zoryn` serves.
pub const SHELLS: clap_complete::env::Shells<'static> = clap_complete::env::Shells(&[
    &Bash,
    &clap_complete::env::Zsh,
    &clap_complete::env::Fish,
    &clap_complete::env::Elvish,
    &clap_complete::env::Powershell,
]);

/// The program the completion script calls back: the name the user ran
/// (found on PATH later), or the absolute path when it was run by a path
/// (a relative one would break in another directory).
pub fn completer_program() -> String {
    let arg0 = std::env::args_os().next().unwrap_or_else(|| "zoryn".into());
    if !arg0.to_string_lossy().contains('/') {
        return arg0.to_string_lossy().into_owned();
    }
    std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| arg0.to_string_lossy().into_owned())
}

/// The dynamic registration script for bash, zsh and fish; the static one
/// for the rest.
/// `root` is zoryn's whole command line (`Cli::command()`).
pub fn cmd_completions(args: CompletionsArgs, root: clap::Command) -> Result<ExitCode, Error> {
    use clap_complete::env::EnvCompleter;
    use clap_complete::Shell;
    let mut cmd = root;
    let mut buf = Vec::new();
    let dynamic: Option<&dyn EnvCompleter> = match args.shell {
        Shell::Bash => Some(&Bash),
        Shell::Zsh => Some(&clap_complete::env::Zsh),
        Shell::Fish => Some(&clap_complete::env::Fish),
        _ => None,
    };
    let written = match dynamic {
        Some(shell) => shell.write_registration(
            COMPLETE_VAR,
            "zoryn",
            "zoryn",
            &completer_program(),
            &mut buf,
        ),
        None => {
            clap_complete::generate(args.shell, &mut cmd, "zoryn", &mut buf);
            Ok(())
        }
    };
    written
        .and_then(|()| std::io::stdout().write_all(&buf))
        .map_err(|e| Error::infra(format!("cannot write the completion script: {e}"), ""))?;
    Ok(ExitCode::Ok)
}

pub fn cmd_man(args: ManArgs, root: clap::Command) -> Result<ExitCode, Error> {
    let pages = man_pages(root)
        .map_err(|e| Error::infra(format!("cannot render the man pages: {e}"), ""))?;
    let Some(dir) = args.out else {
        let main = pages.iter().find(|p| p.file == "zoryn.1");
        main.map_or(Ok(()), |p| std::io::stdout().write_all(&p.text))
            .map_err(|e| Error::infra(format!("cannot write the man page: {e}"), ""))?;
        return Ok(ExitCode::Ok);
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::usage(
            format!("cannot create {}: {e}", dir.display()),
            "give --out a directory you can write to",
        )
    })?;
    for page in &pages {
        let path = dir.join(&page.file);
        let text = String::from_utf8_lossy(&page.text);
        crate::config::write_atomic(&path, &text).map_err(|e| {
            Error::infra(
                format!("cannot write {}: {e}", path.display()),
                "check the directory's permissions and free space",
            )
        })?;
    }
    println!("wrote {} man pages to {}", pages.len(), dir.display());
    Ok(ExitCode::Ok)
}

/// One rendered page.
pub struct ManPage {
    /// `zoryn.1`, `zoryn-builder-add.1`, ...
    pub file: String,
    pub text: Vec<u8>,
}

/// Every page: `zoryn` and each subcommand, recursively.
pub fn man_pages(root: clap::Command) -> std::io::Result<Vec<ManPage>> {
    let mut root = root.disable_help_subcommand(true);
    root.build();
    let mut pages = Vec::new();
    render_tree(&root, None, &mut pages)?;
    Ok(pages)
}

fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

fn render_tree(
    cmd: &clap::Command,
    parent: Option<&str>,
    pages: &mut Vec<ManPage>,
) -> std::io::Result<()> {
    let name = page_name(cmd);
    let children: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(page_name)
        .collect();
    let man = clap_mangen::Man::new(cmd.clone())
        .manual("zoryn manual")
        .source(format!("zoryn {}", env!("CARGO_PKG_VERSION")));
    let mut text = Vec::new();
    man.render_title(&mut text)?;
    // Paths and page names read badly when hyphenated.
    text.extend_from_slice(b".nh\n");
    man.render_name_section(&mut text)?;
    man.render_synopsis_section(&mut text)?;
    man.render_description_section(&mut text)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut text)?;
    }
    if !children.is_empty() {
        man.render_subcommands_section(&mut text)?;
    }
    let root = parent.is_none();
    if root {
        text.extend_from_slice(FILES.as_bytes());
        text.extend_from_slice(ENVIRONMENT.as_bytes());
    }
    text.extend_from_slice(EXIT_STATUS.as_bytes());
    let examples = examples(&name);
    if !examples.is_empty() {
        text.extend_from_slice(b".SH EXAMPLES\n");
        for (what, line) in examples {
            text.extend_from_slice(
                format!(
                    ".PP\n{}\n.RS 4\n.nf\n\\fB{}\\fR\n.fi\n.RE\n",
                    roff_text(what),
                    roff_text(line)
                )
                .as_bytes(),
            );
        }
    }
    // SEE ALSO: the main page, the parent, the children; every one is
    // written by this same function.
    let mut see: Vec<String> = Vec::new();
    if !root {
        see.push("zoryn".into());
    }
    if let Some(p) = parent.filter(|p| *p != "zoryn") {
        see.push(p.to_string());
    }
    see.extend(children.iter().cloned());
    if root {
        see.extend(
            all_pages_below(cmd)
                .into_iter()
                .filter(|n| !children.contains(n)),
        );
    }
    if !see.is_empty() {
        let refs: Vec<String> = see
            .iter()
            .map(|n| format!("\\fB{}\\fR(1)", roff_text(n)))
            .collect();
        text.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", ")).as_bytes());
    }
    if cmd.get_version().is_some() {
        man.render_version_section(&mut text)?;
    }
    pages.push(ManPage {
        file: format!("{name}.1"),
        text,
    });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render_tree(sub, Some(&name), pages)?;
    }
    Ok(())
}

fn all_pages_below(cmd: &clap::Command) -> Vec<String> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(page_name(sub));
        out.extend(all_pages_below(sub));
    }
    out
}

/// Plain text as a roff text line: backslashes and option dashes escaped,
/// a leading control character neutralised.
fn roff_text(s: &str) -> String {
    let t = s.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

const FILES: &str = r#".SH FILES
.TP
\fI~/.zoryn\fR
Global settings (TOML): the build command template, default builders, result
and log locations, ssh multiplexing, external command overrides. Optional;
\fB$ZORYN_CONFIG\fR names another file.
.TP
\fI$XDG_CONFIG_HOME/zoryn/builders.d/NAME.conf\fR
One builder per file (type, host, arch, branch, hasher_dir, hasher_number,
repo, command). The built\-in \fBlocal\fR builder needs none.
.TP
\fI$XDG_CONFIG_HOME/zoryn/builders.d/NAME/apt/\fR
The apt configuration generated for that builder, copied to its host before
every build.
.TP
\fI$XDG_CONFIG_HOME/zoryn/batch/NAME.conf\fR
Named batches for \fBzoryn task batch NAME\fR.
.TP
\fI$XDG_RUNTIME_DIR/zoryn/\fR
SSH control sockets and locks (\fI/tmp/zoryn\-UID/\fR without
\fB$XDG_RUNTIME_DIR\fR).
.TP
\fI$XDG_STATE_HOME/zoryn/\fR
Batch journals and build history (default \fI~/.local/state/zoryn/\fR).
.TP
\fIGIT_ROOT/hasher_out/BUILDER/\fR
RPMs and the source RPM each builder brought back.
.TP
\fIGIT_ROOT/.gear/build.BATCH.BUILDER.log\fR
The build log of each builder.
"#;

const ENVIRONMENT: &str = r#".SH ENVIRONMENT
.TP
\fBZORYN_CONFIG\fR
Use this file instead of \fI~/.zoryn\fR; it must exist.
.TP
\fBXDG_CONFIG_HOME\fR, \fBXDG_RUNTIME_DIR\fR, \fBXDG_STATE_HOME\fR
Where builder files, sockets and state live (see FILES).
.TP
\fBZORYN_LOG\fR
Diagnostic log filter (\fBwarn\fR, \fBinfo\fR, \fBdebug\fR, or a tracing
filter such as \fBzoryn::transport=debug\fR), printed to standard error.
.TP
\fBZORYN_NO_LIVE\fR
Print plain lines instead of updating the status lines in place.
.TP
\fBNO_COLOR\fR
When set and not empty, no colour in \fB\-\-color=auto\fR mode.
.TP
\fBZORYN_COMPLETE\fR
Set by the shell completion script; \fBZORYN_COMPLETE=bash zoryn\fR prints
the script that enables completion of builder names, hosts and batches
(also \fBzsh\fR, \fBfish\fR).
"#;

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success: every builder that was not skipped succeeded.
.TP
\fB1\fR
At least one build failed.
.TP
\fB2\fR
Usage or configuration error (a bad flag, pattern or file).
.TP
\fB3\fR
Infrastructure failure: a host unreachable, a transfer failed.
.TP
\fB130\fR
Interrupted (Ctrl\-C).
"#;

/// (what it does, the command) for a page, written from the user guide's
/// scenarios.
fn examples(page: &str) -> &'static [(&'static str, &'static str)] {
    match page {
        "zoryn" => &[
            ("Build the package in the current gear repository on the built-in local builder:", "zoryn build"),
            ("Three local slots at once, with the live view:", "zoryn build -b 'local[2-4]' -p --top"),
            ("Everything except this workstation:", "zoryn build -b '@all,^local' -p"),
            ("Enable completion of builder names in bash:", "source <(zoryn completions bash)"),
        ],
        "zoryn-build" => &[
            ("On every builder, in parallel:", "zoryn build -b @all -p"),
            ("Only the ARM builders, whatever their host:", "zoryn build -b @all --arch=aarch64"),
            ("Slots 2 to 4 of one host:", "zoryn build -b '@host:bignode[2-4]' -p"),
            ("The p11 builders named in [builders.p11] of ~/.zoryn:", "zoryn build -B p11"),
            ("A repository elsewhere, results as JSON lines:", "zoryn build -C ~/src/hello --json"),
        ],
        "zoryn-builder" => &[
            ("What exists and what is free:", "zoryn builder list; zoryn builder status"),
        ],
        "zoryn-builder-add" => &[
            ("A remote ARM builder (arch detected on the host):", "zoryn builder add --name arm64 --host arm.internal --repo /srv/mirror/sisyphus -y"),
            ("Three more local slots, local2 to local4:", "zoryn builder add --name local --type local --multi-add 3 --start-number 2 -y"),
            ("Five slots for each of two branches on one server, previewed first:", "zoryn builder add --name farm --host buildnode.internal --multi-add 5 --repo /srv/sisyphus --repo /srv/p11 --dry-run"),
        ],
        "zoryn-builder-list" => &[
            ("What a pattern selects, and why:", "zoryn builder list -b '@all,^local' --explain"),
        ],
        "zoryn-builder-status" => &[("Is the ARM builder free?", "zoryn builder status -b arm64")],
        "zoryn-builder-shell" => &[("A shell in the remote chroot:", "zoryn builder shell -b arm64")],
        "zoryn-builder-run" => &[("Look at the chroot of every local slot:", "zoryn builder run -b 'local*' -- rpm -qa")],
        "zoryn-builder-clean" => &[("What cleaning the remote builders would remove:", "zoryn builder clean --all-remote --dry-run")],
        "zoryn-builder-remove" => &[("Forget two builders:", "zoryn builder remove farm9 farm10")],
        "zoryn-builder-copy" => &[
            ("A patch into /usr/src/ of the builder's chroot (through hsh-copy):", "zoryn builder copy -b arm64 fix.patch :/usr/src/"),
            ("A file out of the chroot into the current directory:", "zoryn builder copy -b arm64 :/usr/src/tmp/build.log ."),
        ],
        "zoryn-builder-config" => &[("Where each setting of a builder comes from:", "zoryn builder config -b arm64")],
        "zoryn-task-batch" => &[
            ("The build order of a batch, without building:", "zoryn task batch php8.4 --plan"),
            ("Build it across the farm with the live view:", "zoryn task batch php8.4 -b @all --top"),
            ("Resume after an interruption:", "zoryn task batch php8.4 --continue"),
        ],
        "zoryn-up" => &[
            ("Update to the newest upstream release and build on every builder, with the live view:", "zoryn up -b @all -p --top"),
            ("Merge a given upstream tag, build on the local builder:", "zoryn up --tag v2.0"),
            ("Take prereleases too (rc, beta, alpha):", "zoryn up -f"),
            ("After resolving a merge conflict (git add the files):", "zoryn up --continue"),
            ("Undo everything the update did:", "zoryn up --abort"),
            ("Build again only, after fixing the package:", "zoryn up --stage build -b @all"),
        ],
        "zoryn-completions" => &[
            ("bash (also in ~/.bashrc):", "source <(zoryn completions bash)"),
            ("fish:", "zoryn completions fish > ~/.config/fish/completions/zoryn.fish"),
            ("zsh (in ~/.zshrc):", "source <(zoryn completions zsh)"),
        ],
        "zoryn-man" => &[("Install every page:", "zoryn man --out ~/.local/share/man/man1")],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_see_also_names_a_page() {
        let pages = man_pages(<crate::cli::Cli as clap::CommandFactory>::command()).unwrap();
        let files: Vec<&str> = pages.iter().map(|p| p.file.as_str()).collect();
        for p in &pages {
            let text = String::from_utf8_lossy(&p.text);
            let see = text.split(".SH \"SEE ALSO\"\n").nth(1).unwrap_or("");
            let line = see.lines().next().unwrap_or("");
            for r in line.split(", ").filter(|r| !r.is_empty()) {
                let name = r
                    .trim_start_matches("\\fB")
                    .replace("\\fR(1)", "")
                    .replace("\\-", "-");
                assert!(
                    files.contains(&format!("{name}.1").as_str()),
                    "{}: {name}",
                    p.file
                );
            }
        }
    }

    #[test]
    fn roff_text_escapes() {
        assert_eq!(roff_text(".x -y \\z"), "\\&.x \\-y \\ez");
    }
}
