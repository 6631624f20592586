//! Drawing the `--top` view with ratatui: a title, the farm totals, one
//! table row per builder (under a heading per host when there are several),
//! the selected builder's log following its end, and a status bar. Panes are
//! sized to their content (see [`panes`]). Pure function of the model and
//! the frame size; it must not change the run's state.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row as TableRow, Table, TableState};
use ratatui::Frame;

use super::model::{Model, Row};
use crate::report::human_duration;
use crate::run::events::Outcome;

fn bar(p: f64, width: usize) -> String {
    let full = ((p * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(full), "░".repeat(width - full))
}

fn status_style(r: &Row, color: bool) -> Style {
    if !color {
        return Style::default();
    }
    match r.outcome {
        Some(Outcome::Success) => Style::default().fg(Color::Green),
        Some(Outcome::Failed)
        | Some(Outcome::Unusable)
        | Some(Outcome::Busy)
        | Some(Outcome::Lost) => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        Some(Outcome::Skipped) | Some(Outcome::Cancelled) => Style::default().fg(Color::DarkGray),
        None if r.waiting.is_some() || r.cancel_requested => Style::default().fg(Color::Magenta),
        None => Style::default().fg(Color::Yellow),
    }
}

/// Heights of the view's panes, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panes {
    pub title: u16,
    pub totals: u16,
    pub table: u16,
    pub log: u16,
    pub status: u16,
}

/// Size the panes to the content: the table takes what its `table_rows`
/// (header included) need, up to what leaves the log pane a useful height;
/// the log pane gets the rest.
pub fn panes(height: u16, totals_lines: u16, table_rows: u16) -> Panes {
    let totals = totals_lines.clamp(1, 2).min(height.saturating_sub(2));
    let fixed = height.min(2) + totals;
    let avail = height - fixed;
    let min_log = if avail >= 12 {
        (avail / 3).max(5)
    } else {
        avail.saturating_sub(3) / 2
    };
    let table = table_rows.min(avail - min_log).max(avail.min(2));
    Panes {
        title: u16::from(height >= 1),
        totals,
        table,
        log: avail - table,
        status: u16::from(height >= 2),
    }
}

/// The longest phase label, which the STATUS column makes room for.
const STATUS_WANT: usize = 21; // "installing build deps"
const STATUS_MIN: usize = 9; // "CANCELLED"
const LAST_MIN: usize = 10;

/// The table's columns (heading, width) for a `width`-column screen. The
/// host is in the group lines (or the totals line for one host), not a
/// column; STATUS gets the longest phase label whenever LAST LINE keeps
/// [`LAST_MIN`] columns.
pub fn columns(model: &Model, width: u16) -> Vec<(&'static str, u16)> {
    let widest = |f: &dyn Fn(&Row) -> usize, min: usize, max: usize| {
        model
            .rows
            .iter()
            .map(f)
            .max()
            .unwrap_or(min)
            .clamp(min, max)
    };
    let name = widest(&|r| r.info.name.chars().count(), 7, 20);
    let arch = widest(&|r| r.info.arch.chars().count(), 4, 10);
    let branch = widest(&|r| r.info.branch.chars().count(), 6, 12);
    let status_want = widest(&|r| r.status().chars().count(), STATUS_WANT, 30);
    let (time, progress) = (6, 8);
    // Seven gaps between eight columns.
    let fixed = name + arch + branch + time + progress + 7;
    let room = (width as usize).saturating_sub(fixed);
    let status = status_want
        .min(room.saturating_sub(LAST_MIN))
        .max(STATUS_MIN);
    let last = room.saturating_sub(status).max(1);
    let w = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    vec![
        ("BUILDER", w(name)),
        ("ARCH", w(arch)),
        ("BRANCH", w(branch)),
        ("STATUS", w(status)),
        ("TIME", w(time)),
        ("PROGRESS", w(progress)),
        ("LAST LINE", w(last)),
    ]
}

/// One line of the table: a builder, or the heading of a host's group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableLine {
    Host(String),
    Builder(usize),
}

/// The table's lines in order: host headings (only with more than one
/// host) before each host's builders.
pub fn table_lines(model: &Model) -> Vec<TableLine> {
    let groups = model.groups();
    if groups.is_empty() {
        return (0..model.rows.len()).map(TableLine::Builder).collect();
    }
    let mut out = Vec::new();
    for (host, range) in groups {
        out.push(TableLine::Host(host));
        out.extend(range.map(TableLine::Builder));
    }
    out
}

fn host_heading(model: &Model, host: &str, width: u16) -> String {
    let rows: Vec<&Row> = model.rows.iter().filter(|r| r.info.host == host).collect();
    let busy = rows
        .iter()
        .filter(|r| r.running() && r.started.is_some() && r.waiting.is_none())
        .count();
    let head = format!("── {host}: {} builder(s), {busy} busy ", rows.len());
    let fill = (width as usize).saturating_sub(head.chars().count());
    format!("{head}{}", "─".repeat(fill))
}

pub fn draw(frame: &mut Frame<'_>, model: &mut Model, color: bool) {
    let area = frame.area();
    let lines = table_lines(model);
    let needed = u16::try_from(lines.len() + 1).unwrap_or(u16::MAX);
    let totals = pack(&totals_text(model), area.width as usize);
    let p = panes(
        area.height,
        u16::try_from(totals.len()).unwrap_or(2),
        needed,
    );
    let chunks = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(p.title),
            Constraint::Length(p.totals),
            Constraint::Length(p.table),
            Constraint::Length(p.log),
            Constraint::Length(p.status),
        ])
        .split(area);
    draw_title(frame, model, chunks[0], color);
    let totals: Vec<Line> = totals.into_iter().map(Line::from).collect();
    frame.render_widget(Paragraph::new(totals), chunks[1]);
    draw_table(frame, model, &lines, chunks[2], color);
    draw_log(frame, model, chunks[3]);
    let status = Paragraph::new(model.status_line()).style(if color {
        Style::default().fg(Color::Black).bg(Color::Gray)
    } else {
        Style::default().add_modifier(Modifier::REVERSED)
    });
    frame.render_widget(status, chunks[4]);
}

/// Break a ` | `-separated line into lines of at most `width` columns,
/// breaking only between its parts (a part wider than the screen is cut by
/// the renderer).
pub fn pack(line: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in line.split(" | ") {
        match out.last_mut() {
            Some(l) if l.chars().count() + 3 + part.chars().count() <= width => {
                l.push_str(" | ");
                l.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out
}

/// The totals line; with one host it names the host (there is no HOST
/// column).
fn totals_text(model: &Model) -> String {
    let line = model.totals_line();
    match model.rows.first() {
        Some(r) if model.groups().is_empty() => {
            line.replacen("builders:", &format!("builders on {}:", r.info.host), 1)
        }
        _ => line,
    }
}

fn draw_title(frame: &mut Frame<'_>, model: &Model, area: Rect, color: bool) {
    let done = model.rows.iter().filter(|r| !r.running()).count();
    let text = format!(
        "{}  [{done}/{} done, {}]",
        model.title,
        model.rows.len(),
        human_duration(model.now.as_secs_f64())
    );
    let style = if color {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    frame.render_widget(Paragraph::new(Line::from(Span::styled(text, style))), area);
}

fn draw_table(
    frame: &mut Frame<'_>,
    model: &mut Model,
    lines: &[TableLine],
    area: Rect,
    color: bool,
) {
    let cols = columns(model, area.width);
    let header = TableRow::new(cols.iter().map(|(h, _)| *h)).style(if color {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default().add_modifier(Modifier::UNDERLINED)
    });
    let rows: Vec<TableRow> = lines
        .iter()
        .map(|l| {
            let TableLine::Builder(i) = l else {
                // Drawn over the table below: a heading spans the columns.
                return TableRow::new(Vec::<Cell>::new());
            };
            let r = &model.rows[*i];
            let elapsed = r
                .elapsed(model.now)
                .map(|d| human_duration(d.as_secs_f64()))
                .unwrap_or_default();
            let last = match (&r.outcome, &r.message) {
                (Some(_), Some(m)) => m.clone(),
                _ => r.last_line.clone(),
            };
            TableRow::new(vec![
                Cell::from(r.info.name.clone()),
                Cell::from(r.info.arch.clone()),
                Cell::from(r.info.branch.clone()),
                Cell::from(r.status()).style(status_style(r, color)),
                Cell::from(elapsed),
                Cell::from(bar(r.progress(), 8)),
                Cell::from(last),
            ])
        })
        .collect();
    let widths: Vec<Constraint> = cols.iter().map(|(_, w)| Constraint::Length(*w)).collect();
    let highlight = if color {
        Style::default().bg(Color::Blue).fg(Color::White)
    } else {
        Style::default().add_modifier(Modifier::REVERSED)
    };
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(highlight)
        .column_spacing(1);
    // Rows visible below the header, for PageUp/PageDown.
    model.page = area.height.saturating_sub(1) as usize;
    let shown = lines
        .iter()
        .position(|l| *l == TableLine::Builder(model.selected));
    let mut state = TableState::default().with_selected(shown);
    frame.render_stateful_widget(table, area, &mut state);
    // Host headings over their (empty) rows.
    let visible = area.height.saturating_sub(1) as usize;
    for (k, l) in lines.iter().enumerate().skip(state.offset()).take(visible) {
        if let TableLine::Host(h) = l {
            let y = area.y + 1 + u16::try_from(k - state.offset()).unwrap_or(0);
            let style = if color {
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default()
            };
            frame.render_widget(
                Paragraph::new(host_heading(model, h, area.width)).style(style),
                Rect::new(area.x, y, area.width, 1),
            );
        }
    }
}

fn draw_log(frame: &mut Frame<'_>, model: &Model, area: Rect) {
    let Some(r) = model.selected_row() else {
        return;
    };
    let title = match &r.log {
        Some(p) => format!(" log: {} ({}) ", r.info.name, p.display()),
        None => format!(" log: {} ", r.info.name),
    };
    let block = Block::default().borders(Borders::TOP).title(title);
    let inner = block.inner(area);
    let n = inner.height as usize;
    let skip = r.lines.len().saturating_sub(n);
    let lines: Vec<Line> = r
        .lines
        .iter()
        .skip(skip)
        .map(|l| Line::from(l.as_str()))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hasher::stage::Phase;
    use crate::run::events::{BuilderInfo, BuilderResult, Event, EventKind};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::time::Duration;

    fn info(name: &str, host: &str) -> BuilderInfo {
        BuilderInfo {
            name: name.into(),
            host: host.into(),
            arch: "x86_64".into(),
            branch: "sisyphus".into(),
        }
    }

    fn at(s: u64, kind: EventKind) -> Event {
        Event {
            at: Duration::from_secs(s),
            kind,
        }
    }

    fn started(builders: Vec<BuilderInfo>) -> Model {
        let mut m = Model::default();
        m.event(&at(
            0,
            EventKind::RunStarted {
                package: "hello".into(),
                version: "1.0-alt1".into(),
                builders,
                parallel: true,
            },
        ));
        m
    }

    fn phase(m: &mut Model, s: u64, b: &str, phase: Phase) {
        m.event(&at(
            s,
            EventKind::Phase {
                builder: b.into(),
                phase,
            },
        ));
    }

    fn model(n: usize) -> Model {
        let mut m = started(
            (1..=n)
                .map(|i| info(&format!("node{i}"), "bignode"))
                .collect(),
        );
        phase(&mut m, 2, "node1", Phase::Build);
        m.event(&at(
            3,
            EventKind::Line {
                builder: "node1".into(),
                line: "make -j2 all".into(),
            },
        ));
        m
    }

    fn finish(m: &mut Model, s: u64, b: &str, host: &str, outcome: Outcome) {
        m.event(&at(
            s,
            EventKind::Finished(BuilderResult {
                builder: info(b, host),
                outcome,
                elapsed: Duration::from_secs(s),
                packages: vec![],
                log: None,
                message: None,
                hint: None,
                log_tail: vec![],
                rejected: vec![],
                checks: vec![],
            }),
        ));
    }

    fn render(m: &mut Model, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(f, m, false)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..h {
            for x in 0..w {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn fits_80x24_with_totals_rows_log_and_status() {
        let mut m = model(3);
        let s = render(&mut m, 80, 24);
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[0]
                .starts_with("zoryn: hello 1.0-alt1 on 3 builder(s), parallel  [0/3 done, 3.0s]"),
            "{s}"
        );
        assert!(
            lines[1].starts_with(
                "builders on bignode: 1 busy, 2 free, 0 waiting | builds: 0 done, 0 failed"
            ),
            "{s}"
        );
        assert!(
            lines[2].starts_with(
                "BUILDER ARCH   BRANCH   STATUS                TIME   PROGRESS LAST LINE"
            ),
            "{s}"
        );
        assert!(
            lines[3].starts_with("node1   x86_64 sisyphus %build"),
            "{s}"
        );
        assert!(lines[3].contains("make -j2 all"), "{s}");
        assert!(
            lines[4].starts_with("node2   x86_64 sisyphus queued"),
            "{s}"
        );
        // The table takes what it needs, the log pane the rest.
        assert!(lines[6].starts_with(" log: node1 "), "{s}");
        assert!(lines[7].starts_with("make -j2 all"), "{s}");
        assert!(lines[23].starts_with("3 running |"), "{s}");
        assert!(lines[23].trim_end().ends_with("q: quit"), "{s}");
        assert!(s.lines().all(|l| l.chars().count() == 80));
    }

    #[test]
    fn the_longest_phase_is_not_cut_at_80_columns() {
        let mut m = model(2);
        phase(&mut m, 4, "node2", Phase::InstallingDeps);
        let s = render(&mut m, 80, 24);
        let row = s.lines().find(|l| l.starts_with("node2")).unwrap();
        assert!(row.contains("installing build deps "), "{s}");
        // 200 columns leave LAST LINE the rest.
        let cols = columns(&m, 200);
        assert_eq!(cols[3], ("STATUS", 21));
        assert_eq!(cols[6].1, 200 - (7 + 6 + 8 + 21 + 6 + 8 + 7));
    }

    #[test]
    fn panes_fit_the_content() {
        // 2 builders: header + 2 rows; the log gets the rest.
        assert_eq!(
            panes(24, 1, 3),
            Panes {
                title: 1,
                totals: 1,
                table: 3,
                log: 18,
                status: 1
            }
        );
        assert_eq!(panes(60, 1, 3).log, 54);
        assert_eq!(panes(60, 2, 3).totals, 2);
        // Many builders: the table scrolls, the log keeps a third.
        assert_eq!(panes(24, 1, 51).table, 14);
        assert_eq!(panes(24, 1, 51).log, 7);
        assert_eq!(panes(60, 1, 200).log, 19);
        for h in 0..30 {
            for n in [0, 1, 3, 50] {
                let p = panes(h, 2, n);
                assert_eq!(
                    p.title + p.totals + p.table + p.log + p.status,
                    h,
                    "{h} {n}"
                );
            }
        }
    }

    #[test]
    fn rows_are_grouped_by_host_with_a_heading() {
        let mut m = started(vec![
            info("arm1", "armhost"),
            info("local2", "localhost"),
            info("arm2", "armhost"),
        ]);
        phase(&mut m, 1, "arm2", Phase::Build);
        let names: Vec<&str> = m.rows.iter().map(|r| r.info.name.as_str()).collect();
        assert_eq!(names, ["arm1", "arm2", "local2"]);
        m.selected = 2;
        let s = render(&mut m, 80, 24);
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[1].starts_with("builders: 1 busy, 2 free, 0 waiting"),
            "{s}"
        );
        assert!(lines[2].starts_with("BUILDER ARCH"), "{s}");
        assert!(
            lines[3].starts_with("── armhost: 2 builder(s), 1 busy ───"),
            "{s}"
        );
        assert!(lines[4].starts_with("arm1 "), "{s}");
        assert!(lines[5].starts_with("arm2 "), "{s}");
        assert!(
            lines[6].starts_with("── localhost: 1 builder(s), 0 busy ──"),
            "{s}"
        );
        assert!(lines[7].starts_with("local2 "), "{s}");
        assert!(lines[8].starts_with(" log: local2 "), "{s}");
        // One host: no headings.
        let s = render(&mut model(2), 80, 24);
        assert!(!s.contains("── bignode"), "{s}");
    }

    #[test]
    fn a_cancelled_row_keeps_its_partial_bar_and_the_footer_says_quit_once() {
        let mut m = model(2);
        finish(&mut m, 5, "node1", "bignode", Outcome::Cancelled);
        finish(&mut m, 6, "node2", "bignode", Outcome::Success);
        m.event(&at(
            6,
            EventKind::RunFinished {
                results: vec![],
                exit_code: 130,
            },
        ));
        let s = render(&mut m, 80, 24);
        let row1 = s.lines().find(|l| l.starts_with("node1")).unwrap();
        let row2 = s.lines().find(|l| l.starts_with("node2")).unwrap();
        assert!(row1.contains("CANCELLED") && row1.contains('░'), "{s}");
        assert!(row2.contains("OK") && row2.contains("████████"), "{s}");
        let footer = s.lines().last().unwrap();
        assert!(footer.starts_with("finished (exit 130) |"), "{s}");
        assert_eq!(footer.matches("q: quit").count(), 1, "{s}");
        assert!(!footer.contains("cancel"), "{s}");
        // A totals line wider than the screen wraps to a second line.
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[1].starts_with("builders on bignode: 0 busy, 2 free, 0 waiting   "),
            "{s}"
        );
        assert!(
            lines[2].starts_with("builds: 1 done, 0 failed, 1 cancelled   "),
            "{s}"
        );
        assert!(lines[3].starts_with("BUILDER"), "{s}");
    }

    #[test]
    fn fifty_builders_scroll_to_the_selection() {
        let mut m = model(50);
        m.selected = 45;
        let s = render(&mut m, 80, 24);
        assert!(s.contains("node46 "), "selected row not visible:\n{s}");
        assert!(!s.contains("node1 "), "first row still shown:\n{s}");
        assert!(m.page > 0);
    }

    #[test]
    fn tiny_terminal_does_not_panic() {
        for (w, h) in [(20, 6), (1, 1), (0, 0), (10, 2), (80, 3)] {
            let mut m = model(5);
            let _ = render(&mut m, w, h);
        }
    }
}
