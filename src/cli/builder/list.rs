//! `zoryn builder list`: what builders exist and how they are set up.
//!
//! `-b` selects (without it: every builder), then `-a`, `-B` and `--host`
//! each narrow what is shown; `--simple` prints only the names, `--json` an
//! array, `--explain` why each builder was kept or dropped. Broken builder
//! files are never listed as builders; the loader warns about them.

use clap::Args;
use serde::Serialize;

use super::pick::select_builders;
use crate::cli::error::Error;
use crate::farm::selection::{choose_explained, glob_match, Verdict};
use crate::farm::Builder;
use crate::run::exit_code::ExitCode;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// -b selects (without it: every builder); -a/-B narrow
    #[command(flatten)]
    pub select: crate::cli::output::SelectionArgs,
    /// Only builders on these hosts (globs; `localhost` = local builders)
    #[arg(long = "host", value_name = "HOST[,HOST]", value_delimiter = ',')]
    pub host: Vec<String>,
    /// Names only, one per line
    #[arg(long, conflicts_with = "json")]
    pub simple: bool,
    /// Say for every builder whether the selection keeps it, and why
    /// (without -b: the default selection `zoryn build` would use)
    #[arg(long)]
    pub explain: bool,
    /// JSON array instead of a table
    #[arg(long)]
    pub json: bool,
}

/// The list's narrowing filters: `-a`, `-B`, `--host` (each empty = all).
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub arch: Vec<String>,
    pub branch: Vec<String>,
    pub host: Vec<String>,
}

impl ListFilter {
    /// Why `b` is dropped, or `None` when every filter keeps it.
    pub fn drops(&self, b: &Builder) -> Option<String> {
        if !self.arch.is_empty() && !self.arch.contains(&b.arch) {
            return Some(format!(
                "dropped by -a {} (it is {})",
                self.arch.join(","),
                b.arch
            ));
        }
        if !self.branch.is_empty() && !self.branch.contains(&b.branch) {
            return Some(format!(
                "dropped by -B {} (it is {})",
                self.branch.join(","),
                b.branch
            ));
        }
        if !self.host.is_empty() && !self.host.iter().any(|h| glob_match(h, b.host())) {
            return Some(format!(
                "dropped by --host {} (it is on {})",
                self.host.join(","),
                b.host()
            ));
        }
        None
    }

    /// What the filters are, for messages.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.arch.is_empty() {
            parts.push(format!("-a {}", self.arch.join(",")));
        }
        if !self.branch.is_empty() {
            parts.push(format!("-B {}", self.branch.join(",")));
        }
        if !self.host.is_empty() {
            parts.push(format!("--host {}", self.host.join(",")));
        }
        parts.join(" ")
    }
}

#[derive(Serialize)]
struct Row {
    name: String,
    #[serde(rename = "type")]
    kind: &'static str,
    host: String,
    arch: String,
    branch: String,
    hasher_number: Option<u32>,
    hasher_dir: String,
    apt_config: &'static str,
    source: String,
    shares_slot_with: Vec<String>,
}

pub fn cmd_list(args: ListArgs) -> Result<ExitCode, Error> {
    let loaded = super::pick::load()?;
    let farm = &loaded.farm;
    if args.explain {
        return explain(&loaded, &args);
    }
    let filter = ListFilter {
        arch: args.select.arch.clone(),
        branch: args.select.branch.clone(),
        host: args.host.clone(),
    };
    let mut chosen: Vec<&Builder> = select_builders(farm, args.select.builder.as_deref())?;
    chosen.retain(|b| filter.drops(b).is_none());
    if chosen.is_empty() && !args.json && !args.simple {
        let all = |f: fn(&Builder) -> &str| {
            let mut v: Vec<&str> = farm.builders.iter().map(f).collect();
            v.sort();
            v.dedup();
            v.join(", ")
        };
        eprintln!(
            "zoryn: no builder matches {} (arches: {}; branches: {}; hosts: {})",
            filter.describe(),
            all(|b| b.arch.as_str()),
            all(|b| b.branch.as_str()),
            all(|b| b.host()),
        );
        return Ok(ExitCode::Ok);
    }
    if args.simple {
        for b in &chosen {
            println!("{}", b.name);
        }
        return Ok(ExitCode::Ok);
    }
    let rows: Vec<Row> = chosen
        .iter()
        .map(|b| {
            let apt = loaded.paths.apt_dir(&b.name);
            Row {
                name: b.name.clone(),
                kind: if b.is_local() { "local" } else { "remote" },
                host: b.host().to_string(),
                arch: b.arch.clone(),
                branch: b.branch.clone(),
                hasher_number: b.hasher_number,
                hasher_dir: b.hasher_dir_with_home(None),
                apt_config: if apt.join("apt.conf").is_file() {
                    "generated"
                } else if b.is_local() {
                    "system"
                } else {
                    "missing"
                },
                source: b.origin(),
                shares_slot_with: farm
                    .slot_mates(&b.name)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            }
        })
        .collect();
    if args.json {
        let s = serde_json::to_string_pretty(&rows)
            .map_err(|e| Error::infra(format!("cannot encode JSON: {e}"), ""))?;
        println!("{s}");
        return Ok(ExitCode::Ok);
    }
    let header = [
        "NAME",
        "TYPE",
        "HOST",
        "ARCH",
        "BRANCH",
        "NUMBER",
        "HASHER_DIR",
        "APT",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.kind.to_string(),
                r.host.clone(),
                r.arch.clone(),
                r.branch.clone(),
                r.hasher_number.map_or("-".into(), |n| n.to_string()),
                r.hasher_dir.clone(),
                r.apt_config.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let print_row = |row: Vec<&str>| {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    };
    print_row(header.to_vec());
    for row in &cells {
        print_row(row.iter().map(String::as_str).collect());
    }
    for (a, b) in &farm.shared_slots {
        println!(
            "note: {a} and {b} share hasher number and host, so they never build at the same time"
        );
    }
    Ok(ExitCode::Ok)
}

fn explain(loaded: &crate::farm::loaded::Loaded, args: &ListArgs) -> Result<ExitCode, Error> {
    let req = args.select.request();
    let mut choice = choose_explained(&loaded.farm, &loaded.global.builders, &req)?;
    // -a/-B are already applied by the selection; --host narrows after it.
    let hosts = ListFilter {
        host: args.host.clone(),
        ..ListFilter::default()
    };
    for v in choice.verdicts.iter_mut().filter(|v| v.kept) {
        if let Some(why) = loaded.farm.get(&v.name).and_then(|b| hosts.drops(b)) {
            *v = Verdict {
                name: v.name.clone(),
                kept: false,
                reason: format!("{} but {why}", v.reason),
            };
        }
    }
    choice.builders.retain(|b| hosts.drops(b).is_none());
    if args.simple {
        for b in &choice.builders {
            println!("{}", b.name);
        }
        return Ok(ExitCode::Ok);
    }
    if args.json {
        let v: Vec<serde_json::Value> = choice
            .verdicts
            .iter()
            .map(|v| serde_json::json!({"name": v.name, "kept": v.kept, "reason": v.reason}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"pattern": choice.expr, "from": choice.source, "builders": v})
        );
        return Ok(ExitCode::Ok);
    }
    println!("pattern \"{}\" (from {}):", choice.expr, choice.source);
    let w = choice
        .verdicts
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(4);
    for v in &choice.verdicts {
        println!(
            "  {} {:<w$}  {}",
            if v.kept { "+" } else { "-" },
            v.name,
            v.reason
        );
    }
    println!(
        "selected: {}",
        choice
            .builders
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_filter_narrows_and_says_why() {
        let arm = Builder::sample("arm", Some("arm.internal"), "aarch64", "p11", Some(1));
        let local = Builder::sample("local", None, "x86_64", "sisyphus", None);
        let f = ListFilter {
            arch: vec!["aarch64".into()],
            ..ListFilter::default()
        };
        assert_eq!(f.drops(&arm), None);
        assert_eq!(
            f.drops(&local).as_deref(),
            Some("dropped by -a aarch64 (it is x86_64)")
        );
        let f = ListFilter {
            branch: vec!["sisyphus".into()],
            host: vec!["arm.*".into()],
            ..ListFilter::default()
        };
        assert_eq!(
            f.drops(&arm).as_deref(),
            Some("dropped by -B sisyphus (it is p11)")
        );
        assert_eq!(
            f.drops(&local).as_deref(),
            Some("dropped by --host arm.* (it is on localhost)")
        );
        assert!(ListFilter::default().drops(&local).is_none());
    }
}
