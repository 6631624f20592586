//! hsh's command line as hsh itself parses it (SPEC 3.3).
//!
//! hsh hands its arguments to util-linux `getopt` with a fixed option list
//! (copied below from `hasher/hsh` of `altlinux/hasher`). This module applies
//! the same getopt_long rules to a command template's words, so every check
//! zoryn makes (mount points, workdir, number, target, apt config, result
//! repos) sees the options hsh will see:
//!
//! - `--opt=value` and `--opt value` for options with a required argument;
//!   an optional argument (`::`) only with `=`;
//! - any unambiguous prefix of a long option (`--mountpoint=` is
//!   `--mountpoints`); an exact name wins over longer names it prefixes;
//!   an ambiguous prefix is an error naming the candidates, like getopt;
//! - short options `-q -v -V -h`, also bundled (`-vq`);
//! - `--` ends the options; everything else is positional, wherever it
//!   stands (GNU permutation). hsh takes the first positional as its workdir.
//!
//! Pure: no process is started and nothing is printed here.

use std::fmt;

/// hsh's `getopt -l` list (hasher/hsh, plus hsh-sh-functions' common options).
pub const HSH_LONGOPTS: &str = "apt-config:,apt-prefix:,build-args:,build-srpm-only,cache-compress:,cache-dir:,cleanup-only,contents-index-all:,contents-index-bin:,eager-cleanup,excludedocs,hasher-priv-dir:,initroot-only,install-langs:,lazy-cleanup,mountpoints:,no-cache,no-contents-indices,no-repackage-source,no-sisyphus-check::,no-sisyphus-check-in::,no-sisyphus-check-out::,no-stuff,nprocs:,number:,packager:,pkg-build-list:,pkg-init-list:,query-repackage,query-req-prog:,printenv,rebuild-prog:,repackage-source,repo:,repo-bin:,repo-src:,rpmbuild-args:,save-fakeroot,target:,wait-lock,no-wait-lock,without-stuff,with-stuff,with-qemu:,workdir:,quiet,verbose,version,help";

/// hsh's `getopt -o` list (none of them takes an argument).
pub const HSH_SHORTOPTS: &str = "qvVh";

/// Whether a long option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
    /// Only as `--opt=value`.
    Optional,
}

/// One long option of a getopt list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongOpt<'a> {
    pub name: &'a str,
    pub has_arg: HasArg,
}

/// Parse a getopt `-l` list (`name`, `name:`, `name::`, comma-separated).
pub fn long_options(list: &str) -> Vec<LongOpt<'_>> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some(n) = s.strip_suffix("::") {
                LongOpt {
                    name: n,
                    has_arg: HasArg::Optional,
                }
            } else if let Some(n) = s.strip_suffix(':') {
                LongOpt {
                    name: n,
                    has_arg: HasArg::Required,
                }
            } else {
                LongOpt {
                    name: s,
                    has_arg: HasArg::No,
                }
            }
        })
        .collect()
}

/// One option as hsh sees it: its full name (`--mountpoints`, `-v`), its
/// value, and the index of the word that named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedOpt {
    pub name: String,
    pub value: Option<String>,
    pub index: usize,
}

/// A parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HshArgs {
    pub options: Vec<ParsedOpt>,
    /// Positional arguments, in order.
    pub positionals: Vec<String>,
    /// Index of a bare `--` word, if any.
    pub end_of_options: Option<usize>,
}

/// What getopt refuses, worded as getopt words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HshOptionError {
    Unrecognized(String),
    Ambiguous {
        given: String,
        candidates: Vec<String>,
    },
    NoArgumentAllowed(String),
    RequiresArgument(String),
    InvalidShort(char),
}

impl fmt::Display for HshOptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HshOptionError::Unrecognized(w) => write!(f, "unrecognized option '{w}'"),
            HshOptionError::Ambiguous { given, candidates } => {
                let c: Vec<String> = candidates.iter().map(|c| format!("'--{c}'")).collect();
                write!(
                    f,
                    "option '{given}' is ambiguous; possibilities: {}",
                    c.join(" ")
                )
            }
            HshOptionError::NoArgumentAllowed(n) => {
                write!(f, "option '--{n}' doesn't allow an argument")
            }
            HshOptionError::RequiresArgument(n) => write!(f, "option '--{n}' requires an argument"),
            HshOptionError::InvalidShort(c) => write!(f, "invalid option -- '{c}'"),
        }
    }
}

impl std::error::Error for HshOptionError {}

/// Resolve a long option name (without `--`) the way getopt_long does.
pub fn resolve<'a>(
    opts: &[LongOpt<'a>],
    given: &str,
    word: &str,
) -> Result<LongOpt<'a>, HshOptionError> {
    if let Some(o) = opts.iter().find(|o| o.name == given) {
        return Ok(*o);
    }
    let matches: Vec<&LongOpt<'a>> = opts.iter().filter(|o| o.name.starts_with(given)).collect();
    match matches.as_slice() {
        [] => Err(HshOptionError::Unrecognized(word.to_string())),
        [one] => Ok(**one),
        many => Err(HshOptionError::Ambiguous {
            given: word.to_string(),
            candidates: many.iter().map(|o| o.name.to_string()).collect(),
        }),
    }
}

/// Parse `args` (without the program name) with a getopt option list.
pub fn parse_with(
    args: &[String],
    longopts: &str,
    shortopts: &str,
) -> Result<HshArgs, HshOptionError> {
    let opts = long_options(longopts);
    let mut out = HshArgs::default();
    let mut i = 0;
    while i < args.len() {
        let w = &args[i];
        if w == "--" {
            out.end_of_options = Some(i);
            out.positionals.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(body) = w.strip_prefix("--") {
            let (given, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let o = resolve(&opts, given, w)?;
            let value = match (o.has_arg, inline) {
                (HasArg::No, Some(_)) => {
                    return Err(HshOptionError::NoArgumentAllowed(o.name.into()))
                }
                (HasArg::No, None) => None,
                (HasArg::Optional, v) => Some(v.unwrap_or_default()),
                (HasArg::Required, Some(v)) => Some(v),
                (HasArg::Required, None) => {
                    i += 1;
                    match args.get(i) {
                        Some(v) => Some(v.clone()),
                        None => return Err(HshOptionError::RequiresArgument(o.name.into())),
                    }
                }
            };
            out.options.push(ParsedOpt {
                name: format!("--{}", o.name),
                value,
                index: if value_was_separate(o.has_arg, w) {
                    i - 1
                } else {
                    i
                },
            });
        } else if w.len() > 1 && w.starts_with('-') {
            for c in w[1..].chars() {
                if !shortopts.contains(c) || c == ':' {
                    return Err(HshOptionError::InvalidShort(c));
                }
                out.options.push(ParsedOpt {
                    name: format!("-{c}"),
                    value: None,
                    index: i,
                });
            }
        } else {
            out.positionals.push(w.clone());
        }
        i += 1;
    }
    Ok(out)
}

fn value_was_separate(has_arg: HasArg, word: &str) -> bool {
    has_arg == HasArg::Required && !word.contains('=')
}

/// Parse hsh's arguments (without the program name).
pub fn parse(args: &[String]) -> Result<HshArgs, HshOptionError> {
    parse_with(args, HSH_LONGOPTS, HSH_SHORTOPTS)
}

impl HshArgs {
    /// Is the long option `name` (full, e.g. `--number`) given?
    pub fn has(&self, name: &str) -> bool {
        self.options.iter().any(|o| o.name == name)
    }

    /// The value hsh ends up with: its option loop assigns in order, so the
    /// last occurrence wins.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|o| o.name == name)
            .and_then(|o| o.value.as_deref())
    }

    /// The workdir as hsh takes it: `--workdir`, else the first positional.
    pub fn workdir(&self) -> Option<&str> {
        self.value("--workdir")
            .or_else(|| self.positionals.first().map(String::as_str))
    }

    /// The requested mount points (`--mountpoints`), split as hasher-priv
    /// splits them (commas, spaces and tabs).
    pub fn mountpoints(&self) -> Vec<String> {
        self.value("--mountpoints")
            .map(split_list)
            .unwrap_or_default()
    }

    /// `--number` as a subconfig number (`None` when absent or a directory).
    pub fn number(&self) -> Option<u32> {
        self.value("--number").and_then(|v| v.parse().ok())
    }
}

/// Split a hasher-priv list value (`strtok` on space, tab and comma).
pub fn split_list(v: &str) -> Vec<String> {
    v.split([',', ' ', '\t'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The words after the program in an hsh argv (`argv[0]` is hsh or the
/// `[commands] hsh` replacement, which may carry its own words first).
pub fn parse_argv(argv: &[String], program_words: usize) -> Result<HshArgs, HshOptionError> {
    parse(argv.get(program_words.max(1)..).unwrap_or(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn documented_template_parses_like_hsh() {
        let a = parse(&s(&[
            "-v",
            "--number=3",
            "--mountpoint=/proc,/dev/pts,/dev/kvm",
            "--lazy-cleanup",
            "/home/u/hasher_3",
            "pkg.tar",
        ]))
        .unwrap();
        assert_eq!(a.value("--mountpoints"), Some("/proc,/dev/pts,/dev/kvm"));
        assert_eq!(a.mountpoints(), ["/proc", "/dev/pts", "/dev/kvm"]);
        assert_eq!(a.number(), Some(3));
        assert!(a.has("--lazy-cleanup"));
        assert!(a.has("-v"));
        assert_eq!(a.workdir(), Some("/home/u/hasher_3"));
        assert_eq!(a.positionals, ["/home/u/hasher_3", "pkg.tar"]);
    }

    #[test]
    fn separate_values_and_prefixes() {
        let a = parse(&s(&["--nu", "2", "--targ", "i586", "--apt-c", "/a.conf"])).unwrap();
        assert_eq!(a.value("--number"), Some("2"));
        assert_eq!(a.value("--target"), Some("i586"));
        assert_eq!(a.value("--apt-config"), Some("/a.conf"));
        assert!(a.positionals.is_empty());
        assert_eq!(a.options[0].index, 0);
        assert_eq!(a.options[1].index, 2);
    }

    #[test]
    fn exact_name_wins_over_longer_names() {
        let a = parse(&s(&["--repo=r", "--no-sisyphus-check"])).unwrap();
        assert_eq!(a.value("--repo"), Some("r"));
        assert_eq!(a.value("--no-sisyphus-check"), Some(""));
    }

    #[test]
    fn getopt_messages() {
        let e = |v: &[&str]| parse(&s(v)).unwrap_err().to_string();
        assert_eq!(
            e(&["--w"]),
            "option '--w' is ambiguous; possibilities: '--wait-lock' '--without-stuff' '--with-stuff' '--with-qemu' '--workdir'"
        );
        assert_eq!(
            e(&["--repo-=x"]),
            "option '--repo-=x' is ambiguous; possibilities: '--repo-bin' '--repo-src'"
        );
        assert_eq!(e(&["--nump=3"]), "unrecognized option '--nump=3'");
        assert_eq!(
            e(&["--lazy-cleanup=x"]),
            "option '--lazy-cleanup' doesn't allow an argument"
        );
        assert_eq!(e(&["--numb"]), "option '--number' requires an argument");
        assert_eq!(e(&["-x"]), "invalid option -- 'x'");
        assert_eq!(e(&["-vx"]), "invalid option -- 'x'");
    }

    #[test]
    fn optional_arguments_only_with_equals() {
        let a = parse(&s(&[
            "--no-sisyphus-check-in",
            "x",
            "--no-sisyphus-check-out=a,b",
        ]))
        .unwrap();
        assert_eq!(a.value("--no-sisyphus-check-in"), Some(""));
        assert_eq!(a.value("--no-sisyphus-check-out"), Some("a,b"));
        assert_eq!(a.positionals, ["x"]);
    }

    #[test]
    fn double_dash_ends_options_and_positionals_permute() {
        let a = parse(&s(&["wd", "--number", "2", "pkg", "--", "--target=x"])).unwrap();
        assert_eq!(a.number(), Some(2));
        assert_eq!(a.positionals, ["wd", "pkg", "--target=x"]);
        assert_eq!(a.end_of_options, Some(4));
        assert!(!a.has("--target"));
        assert_eq!(a.workdir(), Some("wd"));
    }

    #[test]
    fn bundled_short_options_and_last_value_wins() {
        let a = parse(&s(&["-vq", "--number=1", "--number=4", "-"])).unwrap();
        assert!(a.has("-v") && a.has("-q"));
        assert_eq!(a.number(), Some(4));
        assert_eq!(a.positionals, ["-"]);
    }

    #[test]
    fn workdir_option_wins_over_positionals() {
        let a = parse(&s(&["--workd=/w", "p.tar"])).unwrap();
        assert_eq!(a.workdir(), Some("/w"));
    }

    #[test]
    fn mountpoint_lists_split_like_hasher_priv() {
        assert_eq!(
            split_list(" /proc, /dev/pts\t/sys,,"),
            ["/proc", "/dev/pts", "/sys"]
        );
    }

    #[test]
    fn every_long_option_is_reachable_by_its_shortest_unique_prefix() {
        let opts = long_options(HSH_LONGOPTS);
        assert_eq!(opts.len(), 49);
        for o in &opts {
            let unique = (1..=o.name.len())
                .map(|n| &o.name[..n])
                .find(|p| resolve(&opts, p, p).map(|r| r.name) == Ok(o.name));
            let p = unique.expect("every option resolves at least by its full name");
            assert_eq!(resolve(&opts, p, p).unwrap().name, o.name);
        }
    }

    proptest! {
        /// Any prefix resolves to exactly the options it prefixes: one
        /// (or an exact name) resolves, several are ambiguous, none is
        /// unrecognized.
        #[test]
        fn prefixes_resolve_like_getopt(idx in 0usize..49, cut in 1usize..30) {
            let opts = long_options(HSH_LONGOPTS);
            let o = opts[idx];
            let p = &o.name[..cut.min(o.name.len())];
            let matching: Vec<&str> = opts.iter().map(|x| x.name).filter(|n| n.starts_with(p)).collect();
            match resolve(&opts, p, p) {
                Ok(r) => prop_assert!(r.name == p || matching == [r.name]),
                Err(HshOptionError::Ambiguous { candidates, .. }) => {
                    prop_assert!(!matching.contains(&p));
                    prop_assert_eq!(candidates, matching.iter().map(|s| s.to_string()).collect::<Vec<_>>());
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }

        /// Arbitrary words never panic, and a successful parse keeps every
        /// word: options, their separate values and positionals add up.
        #[test]
        fn parse_accounts_for_every_word(words in proptest::collection::vec("(-{0,2})[a-z=/-]{0,8}", 0..8)) {
            if let Ok(a) = parse(&words) {
                let opts = long_options(HSH_LONGOPTS);
                let required = |n: &str| opts.iter().any(|o| o.has_arg == HasArg::Required && n == format!("--{}", o.name));
                let separate = a.options.iter().filter(|o| required(&o.name) && !words[o.index].contains('=')).count();
                let shorts_words: std::collections::BTreeSet<usize> = a.options.iter().filter(|o| o.name.len() == 2).map(|o| o.index).collect();
                let longs = a.options.iter().filter(|o| o.name.len() > 2).count();
                let dd = usize::from(a.end_of_options.is_some());
                prop_assert_eq!(longs + separate + shorts_words.len() + a.positionals.len() + dd, words.len());
            }
        }
    }

    /// What util-linux `getopt` (the parser hsh really uses) prints for
    /// `args`, or its error message without the program prefix.
    fn real_getopt(args: &[String]) -> Result<String, String> {
        let out = std::process::Command::new("getopt")
            .args(["-n", "hsh", "-o", "q,v,V,h", "-l", HSH_LONGOPTS, "--"])
            .args(args)
            .env("LC_ALL", "C")
            .env_remove("POSIXLY_CORRECT")
            .output()
            .expect("util-linux getopt is needed (as hsh needs it)");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            let e = String::from_utf8_lossy(&out.stderr);
            Err(e
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("hsh: ")
                .to_string())
        }
    }

    /// Our parse printed the way getopt prints its normalized command line.
    fn as_getopt_prints(a: &HshArgs) -> String {
        let q = |v: &str| format!("'{v}'");
        let mut out: Vec<String> = Vec::new();
        for o in &a.options {
            out.push(o.name.clone());
            if let Some(v) = &o.value {
                out.push(q(v));
            }
        }
        out.push("--".into());
        out.extend(a.positionals.iter().map(|p| q(p)));
        out.join(" ")
    }

    fn word() -> impl Strategy<Value = String> {
        let names: Vec<&'static str> = long_options(HSH_LONGOPTS).iter().map(|o| o.name).collect();
        prop_oneof![
            // a long option, cut to a prefix, with or without "=value"
            (
                proptest::sample::select(names),
                1usize..24,
                proptest::option::of("[a-z/,]{0,6}")
            )
                .prop_map(|(n, cut, v)| {
                    let p = &n[..cut.min(n.len())];
                    match v {
                        Some(v) => format!("--{p}={v}"),
                        None => format!("--{p}"),
                    }
                }),
            "-[qvVhx]{1,3}",
            "[a-z/.]{1,8}",
            Just("--".to_string()),
            Just("-".to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// The parser agrees with the real util-linux getopt, word for word
        /// and message for message.
        #[test]
        fn agrees_with_real_getopt(words in proptest::collection::vec(word(), 0..6)) {
            let real = real_getopt(&words);
            match parse(&words) {
                Ok(a) => prop_assert_eq!(Ok(as_getopt_prints(&a)), real),
                Err(e) => prop_assert_eq!(Err(e.to_string()), real),
            }
        }
    }
}
