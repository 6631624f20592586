//! Editing a spec for a new upstream version: `Version` (or the macro it
//! names), `Release: alt1`, and a new entry at the top of `%changelog`.
//!
//! Pure text in, text out; lines not edited stay byte for byte. Must not
//! read or write files.

/// Where an edit could not be made, by line (1-based) when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecEditError {
    pub line: Option<usize>,
    pub message: String,
}

/// The value of the first preamble tag `tag:` (case-insensitive), its line
/// index, and the byte offset of the value inside the line.
fn find_tag<'a>(lines: &[&'a str], tag: &str) -> Option<(usize, usize, &'a str)> {
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("%package") || trimmed.starts_with("%description") {
            // Tags of subpackages are not the package's.
            return None;
        }
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case(tag) || name.starts_with(char::is_whitespace) {
            continue;
        }
        let after = name.len() + 1;
        let value_start = after + line[after..].len() - line[after..].trim_start().len();
        return Some((i, value_start, line[value_start..].trim_end()));
    }
    None
}

/// The `Epoch:` (or old `Serial:`) of the spec, if any.
pub fn epoch(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    find_tag(&lines, "Epoch")
        .or_else(|| find_tag(&lines, "Serial"))
        .map(|(_, _, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The single macro a value consists of (`%ver`, `%{ver}`), if it is one.
fn lone_macro(value: &str) -> Option<&str> {
    let name = value
        .strip_prefix("%{")
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('%'))?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

fn replace_value(line: &str, value_start: usize, old_value: &str, new: &str) -> String {
    let end = value_start + old_value.len();
    format!("{}{}{}", &line[..value_start], new, &line[end..])
}

/// The spec with `Version` set to `version` (at the `%define`/`%global` of
/// the macro when `Version:` names one), `Release: alt1`, and `entry` (the
/// header line plus the text, newline-terminated) first in `%changelog`.
pub fn update(text: &str, version: &str, entry: &str) -> Result<String, SpecEditError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bare: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_end_matches('\n').trim_end_matches('\r'))
        .collect();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let eol = |i: usize| &lines[i][bare[i].len()..];

    let Some((vi, vstart, vvalue)) = find_tag(&bare, "Version") else {
        return Err(SpecEditError {
            line: None,
            message: "no `Version:` line in the spec preamble".into(),
        });
    };
    match lone_macro(vvalue) {
        None if vvalue.contains('%') => {
            return Err(SpecEditError {
                line: Some(vi + 1),
                message: format!(
                    "`Version: {vvalue}` is built from several macros; zoryn up can only update a plain value or one macro"
                ),
            })
        }
        None => out[vi] = format!("{}{}", replace_value(bare[vi], vstart, vvalue, version), eol(vi)),
        Some(name) => {
            let def = bare.iter().enumerate().find_map(|(i, l)| {
                let mut words = l.trim_start().splitn(3, char::is_whitespace);
                let kw = words.next()?;
                let n = words.next()?;
                let v = words.next()?.trim();
                ((kw == "%define" || kw == "%global") && n == name).then_some((i, v))
            });
            let Some((di, dvalue)) = def else {
                return Err(SpecEditError {
                    line: Some(vi + 1),
                    message: format!(
                        "`Version: {vvalue}` names macro `{name}`, which the spec does not define with %define or %global"
                    ),
                });
            };
            let start = bare[di].rfind(dvalue).unwrap_or(bare[di].len());
            out[di] = format!("{}{}", replace_value(bare[di], start, dvalue, version), eol(di));
        }
    }
    let Some((ri, rstart, rvalue)) = find_tag(&bare, "Release") else {
        return Err(SpecEditError {
            line: None,
            message: "no `Release:` line in the spec preamble".into(),
        });
    };
    out[ri] = format!(
        "{}{}",
        replace_value(bare[ri], rstart, rvalue, "alt1"),
        eol(ri)
    );

    match bare.iter().position(|l| l.trim() == "%changelog") {
        Some(ci) => {
            let sep = if ci + 1 < bare.len() { "\n" } else { "" };
            out[ci] = format!(
                "{}{}{entry}{sep}",
                bare[ci],
                if eol(ci).is_empty() { "\n" } else { eol(ci) }
            );
        }
        None => {
            let mut last = out.pop().unwrap_or_default();
            if !last.ends_with('\n') && !last.is_empty() {
                last.push('\n');
            }
            out.push(format!("{last}\n%changelog\n{entry}"));
        }
    }
    Ok(out.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "Name: hello\nVersion:\t1.0\nRelease: alt3\nSummary: x\n\n%description\nx\n\n%changelog\n* Sat Nov 28 2026 T <t@e> 1.0-alt3\n- old\n";
    const ENTRY: &str = "* Sun Dec 06 2026 A <a@b> 1.3-alt1\n- 1.0 -> 1.3\n";

    #[test]
    fn plain_version_release_and_changelog() {
        let s = update(SPEC, "1.3", ENTRY).unwrap();
        assert_eq!(
            s,
            "Name: hello\nVersion:\t1.3\nRelease: alt1\nSummary: x\n\n%description\nx\n\n%changelog\n* Sun Dec 06 2026 A <a@b> 1.3-alt1\n- 1.0 -> 1.3\n\n* Sat Nov 28 2026 T <t@e> 1.0-alt3\n- old\n"
        );
    }

    #[test]
    fn version_macro_is_edited_where_defined() {
        let spec = "%define ver_major 1.0\nName: hello\nVersion: %{ver_major}\nRelease: alt2\n%changelog\n";
        let s = update(spec, "1.3", ENTRY).unwrap();
        assert!(s.starts_with("%define ver_major 1.3\n"), "{s}");
        assert!(s.contains("Version: %{ver_major}\n"), "{s}");
        assert!(s.contains("Release: alt1\n"), "{s}");
        assert!(
            s.ends_with("%changelog\n* Sun Dec 06 2026 A <a@b> 1.3-alt1\n- 1.0 -> 1.3\n"),
            "{s}"
        );
    }

    #[test]
    fn composite_or_undefined_macros_are_refused_with_the_line() {
        let e = update(
            "Name: a\nVersion: %major.%minor\nRelease: alt1\n",
            "2",
            ENTRY,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = update("Name: a\nVersion: %ver\nRelease: alt1\n", "2", ENTRY).unwrap_err();
        assert!(e.message.contains("does not define"), "{}", e.message);
    }

    #[test]
    fn subpackage_version_is_not_taken() {
        let e = update("Name: a\n%package b\nVersion: 2\n", "3", ENTRY).unwrap_err();
        assert_eq!(e.line, None);
    }

    #[test]
    fn missing_changelog_section_is_added() {
        let s = update("Name: a\nVersion: 1\nRelease: alt1\n%files", "2", ENTRY).unwrap();
        assert!(
            s.ends_with("%files\n\n%changelog\n* Sun Dec 06 2026 A <a@b> 1.3-alt1\n- 1.0 -> 1.3\n"),
            "{s}"
        );
    }

    #[test]
    fn epoch_and_serial() {
        assert_eq!(epoch("Name: a\nEpoch: 2\n").as_deref(), Some("2"));
        assert_eq!(epoch("Name: a\nSerial: 1\n").as_deref(), Some("1"));
        assert_eq!(epoch("Name: a\n"), None);
    }
}
