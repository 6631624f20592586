//! ALT's `%changelog` entry for an update: the header line
//! `* Sun Dec 06 2026 Name <mail> [EPOCH:]VERSION-RELEASE` (as
//! `add_changelog` and rpm-build write it) and the text from
//! `[add_changelog] up_template`.
//!
//! Pure functions only; the caller supplies the time and the identity.

/// The default `up_template`.
pub const DEFAULT_TEMPLATE: &str = "- {old_version} -> {new_version}";

/// The values a template may name.
pub struct TemplateVars<'a> {
    pub name: &'a str,
    pub old_version: &'a str,
    pub new_version: &'a str,
}

/// The entry's text: `{name}`, `{old_version}`, `{new_version}` replaced;
/// lines that do not start with `-` get the `- ` ALT entries have. Ends
/// with a newline.
pub fn render_template(template: &str, vars: &TemplateVars) -> String {
    let filled = template
        .replace("{name}", vars.name)
        .replace("{old_version}", vars.old_version)
        .replace("{new_version}", vars.new_version);
    let mut out = String::new();
    for line in filled.lines().filter(|l| !l.trim().is_empty()) {
        let line = line.trim_end();
        if line.starts_with('-') || line.starts_with(' ') {
            out.push_str(line);
        } else {
            out.push_str("- ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// `Sun Dec 06 2026` for a time in seconds since the epoch (UTC).
pub fn changelog_date(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs.div_euclid(86_400);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let (year, month, day) = crate::report::calendar::civil_from_days(days);
    format!("{weekday} {} {day:02} {year}", MONTHS[(month - 1) as usize])
}

/// The header line (without newline): `* DATE PACKAGER [EPOCH:]V-R`.
pub fn header(
    date: &str,
    packager: &str,
    epoch: Option<&str>,
    version: &str,
    release: &str,
) -> String {
    match epoch {
        Some(e) => format!("* {date} {packager} {e}:{version}-{release}"),
        None => format!("* {date} {packager} {version}-{release}"),
    }
}

/// A packager is `Name <mail>` (what hsh --packager and rpm expect).
pub fn valid_packager(p: &str) -> bool {
    let Some((name, rest)) = p.split_once('<') else {
        return false;
    };
    !name.trim().is_empty() && rest.ends_with('>') && rest.len() > 2 && !p.contains('\n')
}

/// The commit message gear-commit makes from the top changelog entry:
/// the `[EPOCH:]VERSION-RELEASE` of the header, a blank line, the entry's
/// text.
pub fn commit_message(header: &str, text: &str) -> String {
    let evr = header.rsplit(' ').next().unwrap_or(header);
    format!("{evr}\n\n{}", text.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_rpm_writes_them() {
        assert_eq!(changelog_date(0), "Thu Jan 01 1970");
        // 2026-12-06 08:56 UTC
        assert_eq!(changelog_date(1_796_547_372), "Sun Dec 06 2026");
        // Leap day.
        assert_eq!(changelog_date(951_782_400), "Tue Feb 29 2000");
    }

    #[test]
    fn header_with_and_without_epoch() {
        assert_eq!(
            header("Sun Dec 06 2026", "A B <a@b>", None, "1.3", "alt1"),
            "* Sun Dec 06 2026 A B <a@b> 1.3-alt1"
        );
        assert_eq!(
            header("Sun Dec 06 2026", "A B <a@b>", Some("2"), "1.3", "alt1"),
            "* Sun Dec 06 2026 A B <a@b> 2:1.3-alt1"
        );
    }

    #[test]
    fn template_default_and_custom() {
        let v = TemplateVars {
            name: "hello",
            old_version: "1.0",
            new_version: "1.3",
        };
        assert_eq!(render_template(DEFAULT_TEMPLATE, &v), "- 1.0 -> 1.3\n");
        assert_eq!(
            render_template("Updated {name} to {new_version}.\n- (closes: #1)", &v),
            "- Updated hello to 1.3.\n- (closes: #1)\n"
        );
    }

    #[test]
    fn gear_commit_style_message() {
        assert_eq!(
            commit_message("* Sun Dec 06 2026 A <a@b> 1:1.3-alt1", "- 1.0 -> 1.3\n"),
            "1:1.3-alt1\n\n- 1.0 -> 1.3"
        );
    }

    #[test]
    fn packager_shape() {
        assert!(valid_packager("Test Maintainer <t@example.invalid>"));
        assert!(!valid_packager("just-a-name"));
        assert!(!valid_packager("<a@b>"));
    }
}
