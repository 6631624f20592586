//! `zoryn builder add`: define builders, generate their apt config, create
//! missing hasher satellite users — non-interactively from flags, or by
//! asking (no `--name` on a terminal).
//!
//! The command first works out a complete plan (files with their exact
//! contents, remote commands), then either prints it (`--dry-run`) or
//! carries it out. Running the same command twice finds nothing to change.

use std::io::IsTerminal;
use std::path::PathBuf;

pub use super::add_args::{AddArgs, KindArg};
use super::add_prompt::Asked;
use super::pick::{hosts, load};
use crate::cli::error::{Error, Failures};
use crate::config::arch;
use crate::config::builder_file::{check_name, BuilderFile, BuilderKind};
use crate::config::template::{Template, Vars};
use crate::config::write_atomic;
use crate::farm::loaded::Loaded;
use crate::farm::{
    apt, release, DEFAULT_BRANCH, DEFAULT_HASHER_DIR, DEFAULT_NUMBERED_HASHER_DIR, LOCALHOST,
};
use crate::hasher::priv_config::{self, Caller, LocalTree, PrivTree};
use crate::hasher::remote::{parse_preflight, preflight_argv};
use crate::run::exit_code::ExitCode;
use crate::run::remote::apt_dir as remote_apt_dir;
use crate::transport::cancel::CancelToken;
use crate::transport::runner::{capture, display_join, CommandSpec};
use crate::transport::ssh::{Host, Hosts};

/// One builder to define, fully resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBuilder {
    pub name: String,
    pub kind: BuilderKind,
    pub host: Option<String>,
    pub number: Option<u32>,
    pub hasher_dir: String,
    pub repo: Option<String>,
}

/// The builders a set of flags asks for (names, numbers, dirs, repos);
/// pure, so every rule is unit-tested.
pub fn expand(args: &AddArgs) -> Result<Vec<NewBuilder>, Error> {
    let name = args.name.clone().ok_or_else(|| {
        Error::usage(
            "--name is required",
            "give --name NAME, or run `zoryn builder add` on a terminal to be asked",
        )
    })?;
    check_name(&name).map_err(|m| {
        Error::usage(
            m,
            "builder names: ASCII letters, digits, - and _, starting with a letter",
        )
    })?;
    let kind = match (args.kind, &args.host) {
        (Some(KindArg::Local), Some(_)) => {
            return Err(Error::usage(
                "--type local cannot have --host",
                "drop --host, or use --type remote",
            ))
        }
        (Some(KindArg::Remote), None) => {
            return Err(Error::usage(
                "--type remote needs --host",
                "add --host HOST (an ssh destination or alias)",
            ))
        }
        (Some(KindArg::Local), None) | (None, None) => BuilderKind::Local,
        (_, Some(_)) => BuilderKind::Remote,
    };
    if args.number == Some(0) || args.start_number == Some(0) {
        return Err(Error::usage(
            "hasher numbers start at 1",
            "use --number 1 or higher",
        ));
    }
    let repos: Vec<Option<String>> = if args.repo.is_empty() {
        vec![None]
    } else {
        args.repo.iter().cloned().map(Some).collect()
    };
    let mut out = Vec::new();
    match args.multi_add {
        None => {
            if repos.len() > 1 {
                return Err(Error::usage(
                    "several --repo need --multi-add",
                    "add --multi-add N, or give one --repo",
                ));
            }
            let dir = args.hasher_dir.clone().unwrap_or_else(|| {
                if args.number.is_some() {
                    DEFAULT_NUMBERED_HASHER_DIR.into()
                } else {
                    DEFAULT_HASHER_DIR.into()
                }
            });
            out.push(NewBuilder {
                name,
                kind,
                host: args.host.clone(),
                number: args.number,
                hasher_dir: dir,
                repo: repos[0].clone(),
            });
        }
        Some(0) => {
            return Err(Error::usage(
                "--multi-add needs a count of 1 or more",
                "e.g. --multi-add 4",
            ))
        }
        Some(n) => {
            if args.number.is_some() {
                return Err(Error::usage(
                    "--number and --multi-add do not go together",
                    "use --start-number K with --multi-add",
                ));
            }
            let dir = args
                .hasher_dir
                .clone()
                .unwrap_or_else(|| DEFAULT_NUMBERED_HASHER_DIR.into());
            if !dir.contains("{hasher_number}") {
                return Err(Error::usage(
                    format!("--hasher-dir \"{dir}\" would be the same for every builder"),
                    "include {hasher_number}, e.g. --hasher-dir '~/hasher_{hasher_number}'",
                ));
            }
            let mut k = args.start_number.unwrap_or(1);
            for repo in &repos {
                for _ in 0..n {
                    out.push(NewBuilder {
                        name: format!("{name}{k}"),
                        kind,
                        host: args.host.clone(),
                        number: Some(k),
                        hasher_dir: dir.clone(),
                        repo: repo.clone(),
                    });
                    k += 1;
                }
            }
        }
    }
    for b in &out {
        Template::parse(&b.hasher_dir).map_err(|e| Error::from(e).prefixed("--hasher-dir: "))?;
    }
    Ok(out)
}

/// What will happen to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Unchanged,
}

#[derive(Clone, Debug)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub text: String,
    pub change: Change,
}

/// A command to run on a builder's host.
#[derive(Clone, Debug)]
pub struct PlannedCommand {
    pub host: Option<String>,
    pub argv: Vec<String>,
    pub why: String,
}

impl PlannedCommand {
    pub fn display(&self) -> String {
        let cmd = display_join(&self.argv);
        match &self.host {
            Some(h) => format!("on {h}: {cmd}"),
            None => format!("here: {cmd}"),
        }
    }
}

fn planned(path: PathBuf, text: String) -> PlannedFile {
    let change = match std::fs::read_to_string(&path) {
        Ok(old) if old == text => Change::Unchanged,
        Ok(_) => Change::Update,
        Err(_) => Change::Create,
    };
    PlannedFile { path, text, change }
}

/// Facts about where a builder lives.
struct Place {
    host: Option<std::sync::Arc<Host>>,
    home: String,
    arch: String,
    caller: Caller,
}

fn place_of(
    b: &NewBuilder,
    hosts: &Hosts,
    cancel: &CancelToken,
    loaded: &Loaded,
) -> Result<Place, Error> {
    match &b.host {
        None => Ok(Place {
            host: None,
            home: loaded.paths.home.to_string_lossy().into_owned(),
            arch: arch::local(),
            caller: Caller::current(),
        }),
        Some(h) => {
            let host = hosts.get(h);
            let facts = host.facts(cancel)?;
            Ok(Place {
                home: facts.home.clone(),
                arch: facts.arch.clone(),
                caller: Caller {
                    user: facts.user.clone(),
                    uid: facts.uid,
                },
                host: Some(host.clone()),
            })
        }
    }
}

/// Read a repository file: on the builder's host for a path, or by URL.
fn fetch_repo_file(place: &Place, repo: &str, rel: &str, cancel: &CancelToken) -> Option<String> {
    let repo = repo.trim_end_matches('/');
    let url = format!("{repo}/{rel}");
    if repo.starts_with("http://") || repo.starts_with("https://") {
        let spec = CommandSpec::new(["curl", "-fsSL", "--max-time", "20", url.as_str()])
            .timeout(std::time::Duration::from_secs(30));
        return capture(&spec, cancel)
            .ok()
            .filter(|c| c.success())
            .map(|c| c.stdout);
    }
    if repo.starts_with("rsync://") {
        let tmp = tempfile::tempdir().ok()?;
        let dest = tmp.path().join("release");
        let spec = CommandSpec::new([
            "rsync".to_string(),
            "--timeout=20".to_string(),
            url.clone(),
            dest.to_string_lossy().into_owned(),
        ])
        .timeout(std::time::Duration::from_secs(30));
        capture(&spec, cancel).ok().filter(|c| c.success())?;
        return std::fs::read_to_string(dest).ok();
    }
    let path = repo.strip_prefix("file:").unwrap_or(repo);
    let path = if let Some(rest) = path.strip_prefix("~/") {
        format!("{}/{rest}", place.home)
    } else {
        path.to_string()
    };
    let file = format!("{}/{rel}", path.trim_end_matches('/'));
    match &place.host {
        None => std::fs::read_to_string(&file).ok(),
        Some(h) => h
            .query(&["cat".to_string(), "--".to_string(), file], cancel)
            .ok()
            .filter(|c| c.success())
            .map(|c| c.stdout),
    }
}

fn detect_branch(
    place: &Place,
    repo: &str,
    arch: &str,
    cancel: &CancelToken,
) -> Result<String, Error> {
    let mut looked = Vec::new();
    for rel in release::candidates(arch) {
        let shown = format!("{}/{rel}", repo.trim_end_matches('/'));
        match fetch_repo_file(place, repo, &rel, cancel) {
            Some(text) => match release::branch_from(&text) {
                Some(b) => return Ok(b),
                None => looked.push(format!("{shown} (no Suite/Archive/Label line)")),
            },
            None => looked.push(format!("{shown} (not found)")),
        }
    }
    let whereabouts = match &place.host {
        Some(h) if !repo.contains("://") => format!(" on {}", h.destination),
        _ => String::new(),
    };
    Err(Error::usage(
        format!(
            "cannot tell the branch of {repo}{whereabouts}; looked at: {}",
            looked.join(", ")
        ),
        "pass --branch (e.g. --branch sisyphus or --branch p11)",
    ))
}

/// Missing satellite users for (place, number), as the command to create them.
fn satellite_command(
    place: &Place,
    number: Option<u32>,
    cancel: &CancelToken,
) -> Result<Option<PlannedCommand>, Error> {
    let problem = match &place.host {
        None => priv_config::check(
            &LocalTree(priv_config::config_dir()),
            &place.caller,
            number,
            &[],
        ),
        Some(h) => {
            let argv = preflight_argv(
                &place.home,
                &priv_config::candidate_files(&place.caller, number),
                &[],
                &[],
            );
            let out = h.query(&argv, cancel)?;
            let tree = parse_preflight(&out.stdout);
            if !tree.readable() {
                return Ok(None);
            }
            priv_config::check(&tree, &place.caller, number, &[])
        }
    };
    if problem.is_ok() {
        return Ok(None);
    }
    let mut argv = vec![
        "sudo".to_string(),
        "-n".to_string(),
        "hasher-useradd".to_string(),
    ];
    if let Some(n) = number {
        argv.push(format!("--number={n}"));
    }
    argv.push(place.caller.user.clone());
    Ok(Some(PlannedCommand {
        host: place.host.as_ref().map(|h| h.destination.clone()),
        argv,
        why: format!(
            "satellite users for {} {}",
            place.caller.user,
            number.map_or("(default slot)".to_string(), |n| format!("number {n}"))
        ),
    }))
}

/// The full plan for `builders`.
pub struct Plan {
    pub files: Vec<PlannedFile>,
    pub commands: Vec<PlannedCommand>,
    /// Hasher workdirs of local builders that do not exist yet (hsh needs
    /// them; remote ones are made by the build's pre-flight on the host).
    pub workdirs: Vec<PathBuf>,
    pub names: Vec<String>,
}

fn make_plan(
    args: &AddArgs,
    builders: &[NewBuilder],
    loaded: &Loaded,
    hosts: &Hosts,
    cancel: &CancelToken,
) -> Result<Plan, Error> {
    let mut files = Vec::new();
    let mut commands: Vec<PlannedCommand> = Vec::new();
    let mut workdirs: Vec<PathBuf> = Vec::new();
    for b in builders {
        let place = place_of(b, hosts, cancel, loaded)?;
        let arch = match &args.arch {
            Some(a) if !arch::is_known(a) => {
                return Err(Error::usage(
                    format!("unknown architecture \"{a}\""),
                    format!("hasher knows: {}", arch::KNOWN.join(", ")),
                ))
            }
            Some(a) => a.clone(),
            None => {
                if !arch::is_known(&place.arch) {
                    return Err(Error::usage(
                        format!(
                            "{} reports `uname -m` = {}, which hasher does not know",
                            b.host.as_deref().unwrap_or(LOCALHOST),
                            place.arch
                        ),
                        "pass --arch",
                    ));
                }
                place.arch.clone()
            }
        };
        let branch = match (&args.branch, &b.repo) {
            (Some(br), _) => br.clone(),
            (None, Some(repo)) => detect_branch(&place, repo, &arch, cancel)?,
            (None, None) => DEFAULT_BRANCH.to_string(),
        };
        // Another builder already on this host and workdir?
        let vars = Vars {
            hasher_number: b.number,
            builder: Some(b.name.clone()),
            arch: Some(arch.clone()),
            branch: Some(branch.clone()),
            host: Some(b.host.clone().unwrap_or_else(|| LOCALHOST.into())),
            home: Some(place.home.clone()),
            ..Vars::default()
        };
        let dir = Template::parse(&b.hasher_dir)
            .map(|t| t.expand(&vars))
            .unwrap_or_default();
        let local_home = loaded.paths.home.to_string_lossy();
        for other in &loaded.farm.builders {
            if builders.iter().any(|n| n.name == other.name)
                || other.host() != vars.host.as_deref().unwrap_or_default()
            {
                continue;
            }
            let other_dir = other.hasher_dir_with_home(Some(if other.is_local() {
                &local_home
            } else {
                &place.home
            }));
            if other_dir == dir {
                return Err(Error::usage(
                    format!(
                        "builder `{}` already uses hasher_dir {dir} on {}",
                        other.name,
                        other.host()
                    ),
                    "choose another --number / --hasher-dir, or remove that builder first",
                ));
            }
        }
        if place.host.is_none() && !dir.is_empty() {
            let d = PathBuf::from(&dir);
            if !d.is_dir() && !workdirs.contains(&d) {
                workdirs.push(d);
            }
        }
        let conf = BuilderFile {
            name: b.name.clone(),
            kind: b.kind,
            host: b.host.clone(),
            arch: Some(arch.clone()),
            branch: Some(branch.clone()),
            hasher_dir: Template::parse(&b.hasher_dir).ok(),
            hasher_number: b.number,
            repo: b.repo.clone(),
            command: None,
        };
        files.push(planned(
            loaded.paths.builders_dir.join(format!("{}.conf", b.name)),
            conf.render(),
        ));
        if let Some(repo) = &b.repo {
            let local_apt = loaded.paths.apt_dir(&b.name);
            let apt_home = match &place.host {
                Some(_) => remote_apt_dir(&place.home, &b.name),
                None => local_apt.to_string_lossy().into_owned(),
            };
            let repo = match repo.strip_prefix("~/") {
                Some(rest) => format!("{}/{rest}", place.home),
                None => repo.clone(),
            };
            for f in apt::generate(&b.name, &repo, &arch, &apt_home) {
                files.push(planned(local_apt.join(f.name), f.text));
            }
        }
        if let Some(cmd) = satellite_command(&place, b.number, cancel)? {
            if !commands
                .iter()
                .any(|c| c.host == cmd.host && c.argv == cmd.argv)
            {
                commands.push(cmd);
            }
        }
    }
    Ok(Plan {
        files,
        commands,
        workdirs,
        names: builders.iter().map(|b| b.name.clone()).collect(),
    })
}

fn run_planned(cmd: &PlannedCommand, hosts: &Hosts, cancel: &CancelToken) -> Result<(), String> {
    let out = match &cmd.host {
        Some(h) => hosts
            .get(h)
            .query(&cmd.argv, cancel)
            .map_err(|e| e.to_string())?,
        None => capture(&CommandSpec::new(cmd.argv.iter().cloned()), cancel)
            .map_err(|e| e.to_string())?,
    };
    if out.success() {
        Ok(())
    } else {
        Err(format!("{}{}", out.stderr.trim(), out.stdout.trim()))
    }
}

pub fn cmd_add(mut args: AddArgs) -> Result<ExitCode, Error> {
    let loaded = load()?;
    let hosts = hosts(&loaded);
    // Without handlers (very unlikely) a signal ends the command at once.
    let cancel = crate::cli::interrupt::token().unwrap_or_default();
    let interactive =
        args.name.is_none() && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if interactive && super::add_prompt::ask(&mut args, &loaded, &hosts, &cancel)? == Asked::Aborted
    {
        return Ok(ExitCode::Interrupted);
    }
    let builders = expand(&args)?;
    let plan = make_plan(&args, &builders, &loaded, &hosts, &cancel)?;
    let run_commands = !args.no_create_hasher_users;
    if args.dry_run {
        for f in &plan.files {
            let what = match f.change {
                Change::Create => "would create",
                Change::Update => "would replace",
                Change::Unchanged => "unchanged",
            };
            println!("{what}: {}", f.path.display());
            if f.change != Change::Unchanged {
                for l in f.text.lines() {
                    println!("    {l}");
                }
            }
        }
        for d in &plan.workdirs {
            println!("would create the hasher workdir {}", d.display());
        }
        for c in &plan.commands {
            if run_commands {
                println!("would run {}   # {}", c.display(), c.why);
            } else {
                println!(
                    "missing ({}); not creating them (--no-create-hasher-users)",
                    c.why
                );
            }
        }
        if plan.files.iter().all(|f| f.change == Change::Unchanged)
            && plan.workdirs.is_empty()
            && (plan.commands.is_empty() || !run_commands)
        {
            println!("nothing to do: {} already set up", plan.names.join(", "));
        }
        return Ok(ExitCode::Ok);
    }
    let updates: Vec<&PlannedFile> = plan
        .files
        .iter()
        .filter(|f| f.change == Change::Update)
        .collect();
    if !updates.is_empty() && !args.yes {
        let list: Vec<String> = updates
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        let ok =
            interactive && super::add_prompt::confirm(&format!("replace {}?", list.join(", ")));
        if !ok {
            return Err(Error::usage(
                format!(
                    "{} already exist(s) with different settings",
                    list.join(", ")
                ),
                "pass -y to replace them, or --dry-run to see the difference",
            ));
        }
    }
    for f in &plan.files {
        if f.change == Change::Unchanged {
            continue;
        }
        write_atomic(&f.path, &f.text).map_err(|e| {
            Error::infra(
                format!("cannot write {}: {e}", f.path.display()),
                "check the permissions of the config directory",
            )
        })?;
    }
    for name in &plan.names {
        let conf = loaded.paths.builders_dir.join(format!("{name}.conf"));
        let mine: Vec<&PlannedFile> = plan
            .files
            .iter()
            .filter(|f| f.path == conf || f.path.starts_with(loaded.paths.builders_dir.join(name)))
            .collect();
        let state = if mine.iter().all(|f| f.change == Change::Unchanged) {
            "unchanged"
        } else if mine.iter().any(|f| f.change == Change::Update) {
            "updated"
        } else {
            "created"
        };
        println!("{state}: {name} ({})", conf.display());
    }
    for d in &plan.workdirs {
        match std::fs::create_dir_all(d) {
            Ok(()) => println!("created the hasher workdir {}", d.display()),
            Err(e) => {
                return Err(Error::infra(
                    format!("cannot create the hasher workdir {}: {e}", d.display()),
                    "create it yourself (hsh needs it), or choose another --hasher-dir",
                ))
            }
        }
    }
    let mut failures = Failures::default();
    for c in &plan.commands {
        if !run_commands {
            println!(
                "note: {} are missing; create them with: {}",
                c.why,
                sudo_hint(c)
            );
            continue;
        }
        match run_planned(c, &hosts, &cancel) {
            Ok(()) => println!("created {} ({})", c.why, c.display()),
            Err(e) => failures.report(Error::infra(
                format!(
                    "could not create {}: {}",
                    c.why,
                    e.lines().next().unwrap_or("sudo failed")
                ),
                format!("run it yourself: {}", sudo_hint(c)),
            )),
        }
    }
    Ok(failures.exit())
}

/// The command a user types to do it by hand (sudo may ask for a password).
fn sudo_hint(c: &PlannedCommand) -> String {
    let argv: Vec<String> = c.argv.iter().filter(|a| *a != "-n").cloned().collect();
    let cmd = display_join(&argv);
    match &c.host {
        Some(h) => format!("ssh -t {h} {cmd}"),
        None => cmd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> AddArgs {
        AddArgs {
            name: Some("farm".into()),
            ..AddArgs::default()
        }
    }

    #[test]
    fn single_local_and_remote() {
        let b = expand(&AddArgs {
            number: Some(2),
            ..args()
        })
        .unwrap();
        assert_eq!(b[0].kind, BuilderKind::Local);
        assert_eq!(b[0].hasher_dir, "~/hasher_{hasher_number}");
        let b = expand(&AddArgs {
            host: Some("arm".into()),
            ..args()
        })
        .unwrap();
        assert_eq!(
            (b[0].kind, b[0].hasher_dir.as_str()),
            (BuilderKind::Remote, "~/hasher")
        );
    }

    #[test]
    fn multi_add_numbers_and_names_across_repos() {
        let b = expand(&AddArgs {
            host: Some("node".into()),
            multi_add: Some(2),
            repo: vec!["/r/sisyphus".into(), "/r/p11".into()],
            ..args()
        })
        .unwrap();
        let got: Vec<(String, Option<u32>, Option<String>)> = b
            .iter()
            .map(|x| (x.name.clone(), x.number, x.repo.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("farm1".into(), Some(1), Some("/r/sisyphus".into())),
                ("farm2".into(), Some(2), Some("/r/sisyphus".into())),
                ("farm3".into(), Some(3), Some("/r/p11".into())),
                ("farm4".into(), Some(4), Some("/r/p11".into())),
            ]
        );
        let b = expand(&AddArgs {
            name: Some("local".into()),
            kind: Some(KindArg::Local),
            multi_add: Some(3),
            start_number: Some(2),
            ..AddArgs::default()
        })
        .unwrap();
        let names: Vec<&str> = b.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["local2", "local3", "local4"]);
    }

    #[test]
    fn bad_combinations_are_usage_errors() {
        for a in [
            AddArgs {
                name: None,
                ..args()
            },
            AddArgs {
                name: Some("9x".into()),
                ..args()
            },
            AddArgs {
                kind: Some(KindArg::Remote),
                ..args()
            },
            AddArgs {
                kind: Some(KindArg::Local),
                host: Some("h".into()),
                ..args()
            },
            AddArgs {
                repo: vec!["a".into(), "b".into()],
                ..args()
            },
            AddArgs {
                multi_add: Some(2),
                hasher_dir: Some("~/same".into()),
                ..args()
            },
            AddArgs {
                multi_add: Some(2),
                number: Some(3),
                ..args()
            },
            AddArgs {
                number: Some(0),
                ..args()
            },
        ] {
            assert_eq!(expand(&a).unwrap_err().exit(), ExitCode::Usage, "{a:?}");
        }
    }
}
