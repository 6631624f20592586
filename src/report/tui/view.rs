//! Drawing the `--top` view with ratatui: a title, one table row per
//! builder, the selected builder's log following its end, and a status bar.
//! Pure function of the model and the frame size.

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

pub fn draw(frame: &mut Frame<'_>, model: &mut Model, color: bool) {
    let area = frame.area();
    let log_height = if area.height >= 20 {
        area.height / 3
    } else {
        area.height.saturating_sub(8).min(5)
    };
    let chunks = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(log_height),
            Constraint::Length(1),
        ])
        .split(area);
    draw_title(frame, model, chunks[0], color);
    draw_table(frame, model, chunks[1], color);
    draw_log(frame, model, chunks[2]);
    let status = Paragraph::new(model.status_line()).style(if color {
        Style::default().fg(Color::Black).bg(Color::Gray)
    } else {
        Style::default().add_modifier(Modifier::REVERSED)
    });
    frame.render_widget(status, chunks[3]);
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

fn draw_table(frame: &mut Frame<'_>, model: &mut Model, area: Rect, color: bool) {
    let name_w = model
        .rows
        .iter()
        .map(|r| r.info.name.chars().count())
        .max()
        .unwrap_or(7)
        .clamp(7, 20) as u16;
    let host_w = model
        .rows
        .iter()
        .map(|r| r.info.host.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 16) as u16;
    let header = TableRow::new([
        "BUILDER",
        "HOST",
        "ARCH",
        "BRANCH",
        "STATUS",
        "TIME",
        "PROGRESS",
        "LAST LINE",
    ])
    .style(if color {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default().add_modifier(Modifier::UNDERLINED)
    });
    let rows: Vec<TableRow> = model
        .rows
        .iter()
        .map(|r| {
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
                Cell::from(r.info.host.clone()),
                Cell::from(r.info.arch.clone()),
                Cell::from(r.info.branch.clone()),
                Cell::from(r.status()).style(status_style(r, color)),
                Cell::from(elapsed),
                Cell::from(bar(r.progress(), 8)),
                Cell::from(last),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(name_w),
        Constraint::Length(host_w),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(16),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Min(10),
    ];
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
    let mut state = TableState::default().with_selected(Some(model.selected));
    frame.render_stateful_widget(table, area, &mut state);
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
    use crate::run::events::{BuilderInfo, Event, EventKind};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::time::Duration;

    fn model(n: usize) -> Model {
        let mut m = Model::default();
        let builders: Vec<BuilderInfo> = (1..=n)
            .map(|i| BuilderInfo {
                name: format!("node{i}"),
                host: "bignode".into(),
                arch: "x86_64".into(),
                branch: "sisyphus".into(),
            })
            .collect();
        m.event(&Event {
            at: Duration::ZERO,
            kind: EventKind::RunStarted {
                package: "hello".into(),
                version: "1.0-alt1".into(),
                builders,
                parallel: true,
            },
        });
        m.event(&Event {
            at: Duration::from_secs(2),
            kind: EventKind::Phase {
                builder: "node1".into(),
                phase: Phase::Build,
            },
        });
        m.event(&Event {
            at: Duration::from_secs(3),
            kind: EventKind::Line {
                builder: "node1".into(),
                line: "make -j2 all".into(),
            },
        });
        m
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
    fn fits_80x24_with_rows_log_and_status() {
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
                "BUILDER HOST    ARCH    BRANCH   STATUS           TIME   PROGRESS LAST LINE"
            ),
            "{s}"
        );
        assert!(
            lines[2].starts_with("node1   bignode x86_64  sisyphus %build"),
            "{s}"
        );
        assert!(lines[2].contains("make -j2 all"), "{s}");
        assert!(
            lines[3].starts_with("node2   bignode x86_64  sisyphus queued"),
            "{s}"
        );
        assert!(s.contains(" log: node1 "), "{s}");
        assert!(
            lines[23].starts_with("0 running") || lines[23].starts_with("3 running"),
            "{s}"
        );
        assert!(s.lines().all(|l| l.chars().count() == 80));
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
        let mut m = model(5);
        let _ = render(&mut m, 20, 6);
    }
}
