//! The Markdown rendering of a QA report: headings and pipe tables,
//! readable as plain text too. Data (agent names, phrases, rule
//! descriptions) is escaped so it cannot break a table.

use std::fmt::Write as _;

use super::model::{CategoryAverage, Report, RuleMisses, Scorecard, TrendPoint};

/// Makes `text` safe inside a table cell.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '*' | '_' | '`' | '<' | '>' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A score, or a dash when there is none.
pub fn score(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.1}"))
}

/// A signed change, or a dash.
pub fn change(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:+.1}"))
}

/// "missed in 4 of 20 calls (20%)".
pub fn missed_in(r: &RuleMisses) -> String {
    format!(
        "missed in {} of {} calls ({:.0}%)",
        r.failed,
        r.applied,
        r.miss_rate * 100.0
    )
}

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

fn categories(out: &mut String, list: &[CategoryAverage]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| vec![cell(&c.name), score(c.average), c.calls.to_string()])
        .collect();
    table(out, &["Category", "Average", "Calls"], &rows);
}

fn trend(out: &mut String, points: &[TrendPoint], first: &str) {
    let rows: Vec<Vec<String>> = points
        .iter()
        .filter(|p| p.calls > 0)
        .map(|p| vec![p.start.clone(), p.calls.to_string(), score(p.average)])
        .collect();
    if rows.is_empty() {
        out.push_str("No calls.\n\n");
    } else {
        table(out, &[first, "Calls", "Average"], &rows);
    }
}

fn scorecard(out: &mut String, a: &Scorecard, threshold: f64) {
    let _ = writeln!(out, "### {}\n", cell(&a.agent));
    let _ = writeln!(
        out,
        "- Calls checked: {}\n- Average score: {}\n- Fatal failures: {}\n- Trend: first half {}, second half {}, change {}\n",
        a.calls,
        score(a.average_score),
        a.fatal_failures,
        score(a.trend.first_half),
        score(a.trend.second_half),
        change(a.trend.change)
    );
    categories(out, &a.categories);
    let first = if a.trend.bucket == "week" {
        "Week of"
    } else {
        "Day"
    };
    trend(out, &a.trend.points, first);
    if a.missed.is_empty() {
        out.push_str("Missed no rule.\n\n");
        return;
    }
    let _ = writeln!(
        out,
        "Rules missed most (training needed when missed in at least {:.0}% of the calls where the rule applied):\n",
        threshold * 100.0
    );
    for r in &a.missed {
        let flag = if r.training_needed {
            ": **training needed**"
        } else {
            ""
        };
        let fatal = if r.fatal { " (fatal)" } else { "" };
        let _ = writeln!(out, "- {}{fatal} {}{flag}", cell(r.label()), missed_in(r));
    }
    out.push('\n');
}

/// The report as Markdown.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let whose = r
        .agent
        .as_deref()
        .map(|a| format!(" — agent {}", cell(a)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# QA report {} to {} ({}){whose}\n",
        r.from, r.to, r.timezone
    );
    if let Some(message) = &r.message {
        let _ = writeln!(out, "{}", cell(message));
        return out;
    }
    let _ = writeln!(
        out,
        "- Calls checked: {}\n- Average score: {}\n- Calls with a fatal failure: {}",
        r.calls,
        score(r.average_score),
        r.fatal_calls
    );
    if r.unreadable > 0 {
        let _ = writeln!(
            out,
            "- Results with an unreadable summary: {}",
            r.unreadable
        );
    }
    out.push_str("\n## Score per category\n\n");
    categories(&mut out, &r.categories);
    out.push_str("## Score per day\n\n");
    trend(&mut out, &r.daily, "Day");

    out.push_str("## Agents\n\n");
    let rows: Vec<Vec<String>> = r
        .agents
        .iter()
        .map(|a| {
            vec![
                cell(&a.agent),
                a.calls.to_string(),
                score(a.average_score),
                change(a.trend.change),
                a.fatal_failures.to_string(),
                a.missed
                    .iter()
                    .filter(|m| m.training_needed)
                    .map(|m| cell(&m.rule))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "Agent",
            "Calls",
            "Average",
            "Change",
            "Fatal",
            "Training needed",
        ],
        &rows,
    );
    for a in &r.agents {
        scorecard(&mut out, a, r.training_threshold);
    }

    out.push_str("## Most failed rules\n\n");
    let rows: Vec<Vec<String>> = r
        .failed_rules
        .iter()
        .map(|m| {
            vec![
                cell(&m.rule),
                cell(m.description.as_deref().unwrap_or("")),
                cell(&m.category),
                m.failed.to_string(),
                m.applied.to_string(),
                format!("{:.0}%", m.miss_rate * 100.0),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("No rule was failed.\n\n");
    } else {
        table(
            &mut out,
            &[
                "Rule",
                "Description",
                "Category",
                "Failed",
                "Applied",
                "Missed",
            ],
            &rows,
        );
    }

    out.push_str("## Agents who skipped each rule\n\n");
    for s in &r.skipped_rules {
        let who: Vec<String> = s
            .agents
            .iter()
            .map(|a| format!("{} ({} of {})", cell(&a.agent), a.failed, a.applied))
            .collect();
        let _ = writeln!(out, "- {}: {}", cell(s.label()), who.join(", "));
    }
    if r.skipped_rules.is_empty() {
        out.push_str("None.\n");
    }
    out.push('\n');

    out.push_str("## Top topics\n\n");
    for (title, list) in [("IVR intent", &r.intents), ("Queue", &r.queues)] {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|t| vec![cell(&t.name), t.calls.to_string()])
            .collect();
        if rows.is_empty() {
            let _ = writeln!(out, "No {}.\n", title.to_lowercase());
        } else {
            table(&mut out, &[title, "Calls"], &rows);
        }
    }
    out.push_str("## Frequent customer phrases\n\n");
    let rows: Vec<Vec<String>> = r
        .phrases
        .iter()
        .map(|p| vec![cell(&p.phrase), p.count.to_string()])
        .collect();
    if rows.is_empty() {
        out.push_str("No phrase heard twice in callers' transcripts.\n");
    } else {
        table(&mut out, &["Phrase", "Times"], &rows);
    }
    out
}
