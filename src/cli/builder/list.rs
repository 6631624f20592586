//! `zoryn builder list`: what builders exist and how they are set up.

use clap::Args;
use serde::Serialize;

use super::select_or_exit;
use crate::cli::{exit, print_error};
use crate::farm::selection::choose_explained;
use crate::farm::Builder;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// -b selects (without it: every builder); -a/-B filter (with --explain)
    #[command(flatten)]
    pub select: crate::cli::output::SelectionArgs,
    /// Say for every builder whether the selection keeps it, and why
    /// (without -b: the default selection `zoryn build` would use)
    #[arg(long)]
    pub explain: bool,
    /// JSON array instead of a table
    #[arg(long)]
    pub json: bool,
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

pub fn cmd_list(args: ListArgs) -> i32 {
    let loaded = match super::load() {
        Ok(l) => l,
        Err(code) => return code,
    };
    let farm = &loaded.farm;
    if args.explain {
        return explain(&loaded, &args);
    }
    let chosen: Vec<&Builder> = match select_or_exit(farm, args.select.builder.as_deref()) {
        Ok(v) => v,
        Err(code) => return code,
    };
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
        match serde_json::to_string_pretty(&rows) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                print_error(&format!("cannot encode JSON: {e}"), None);
                return exit::INFRA;
            }
        }
        return exit::OK;
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
    exit::OK
}

fn explain(loaded: &crate::config::Loaded, args: &ListArgs) -> i32 {
    let req = args.select.request();
    let choice = match choose_explained(&loaded.farm, &loaded.global.builders, &req) {
        Ok(c) => c,
        Err(e) => {
            print_error(&e.message, e.hint.as_deref());
            return exit::USAGE;
        }
    };
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
        return exit::OK;
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
    exit::OK
}
