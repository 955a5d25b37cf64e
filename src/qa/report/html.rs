//! The HTML rendering of a QA report: one self-contained page (inline CSS,
//! inline SVG charts from [`super::svg`], no script, no external file or
//! font), readable in any browser and printable. All data is escaped.

use std::fmt::Write as _;

use super::markdown::{change, missed_in, score};
use super::model::{CategoryAverage, Report, Scorecard, TrendPoint};
use super::svg::{bar_chart, escape, line_chart};

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 24px; color: #222; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 2px solid #2e86c1; padding-bottom: 4px; }
h3 { font-size: 17px; margin: 20px 0 6px; }
.sub { color: #555; margin: 0 0 16px; }
.kpis { display: flex; gap: 16px; flex-wrap: wrap; }
.kpi { border: 1px solid #ccd; border-radius: 8px; padding: 12px 18px; min-width: 150px; background: #f7f9fc; }
.kpi b { display: block; font-size: 28px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccd; padding: 4px 10px; text-align: left; }
th { background: #eef2f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.training { color: #fff; background: #c0392b; border-radius: 4px; padding: 1px 6px; font-size: 12px; }
.card { border: 1px solid #ccd; border-radius: 8px; padding: 8px 16px; margin: 12px 0; }
.empty { font-size: 18px; padding: 24px; background: #fdf2e9; border-radius: 8px; }
.chart { max-width: 100%; height: auto; display: block; }
";

fn cell_num(v: impl std::fmt::Display) -> String {
    format!(r#"<td class="num">{v}</td>"#)
}

fn category_table(out: &mut String, list: &[CategoryAverage]) {
    out.push_str("<table><tr><th>Category</th><th>Average</th><th>Calls</th></tr>");
    for c in list {
        let _ = write!(
            out,
            "<tr><td>{}</td>{}{}</tr>",
            escape(&c.name),
            cell_num(score(c.average)),
            cell_num(c.calls)
        );
    }
    out.push_str("</table>");
}

fn points(list: &[TrendPoint]) -> Vec<(String, Option<f64>)> {
    list.iter().map(|p| (p.start.clone(), p.average)).collect()
}

fn scorecard(out: &mut String, a: &Scorecard, threshold: f64) {
    let _ = write!(
        out,
        r#"<section class="card scorecard" data-agent="{agent}"><h3>{agent}</h3><p>{} call(s) checked, average <b>{}</b>, {} fatal failure(s); first half {}, second half {}, change <b>{}</b>.</p>"#,
        a.calls,
        score(a.average_score),
        a.fatal_failures,
        score(a.trend.first_half),
        score(a.trend.second_half),
        change(a.trend.change),
        agent = escape(&a.agent),
    );
    category_table(out, &a.categories);
    let by = if a.trend.bucket == "week" {
        "week"
    } else {
        "day"
    };
    out.push_str(&line_chart(
        &format!("Score per {by} of {}", a.agent),
        &points(&a.trend.points),
    ));
    if a.missed.is_empty() {
        out.push_str("<p>Missed no rule.</p>");
    } else {
        let _ = write!(
            out,
            "<p>Rules missed most (training needed when missed in at least {:.0}% of the calls where the rule applied):</p><ul>",
            threshold * 100.0
        );
        for r in &a.missed {
            let flag = if r.training_needed {
                r#" <span class="training">training needed</span>"#
            } else {
                ""
            };
            let fatal = if r.fatal { " (fatal)" } else { "" };
            let _ = write!(
                out,
                "<li>{}{fatal} {}{flag}</li>",
                escape(r.label()),
                missed_in(r)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

/// The report as one HTML page.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let whose = r
        .agent
        .as_deref()
        .map(|a| format!(" — agent {}", escape(a)))
        .unwrap_or_default();
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>QA report {from} to {to}</title><style>{STYLE}</style></head><body><h1>QA report{whose}</h1><p class="sub">{from} to {to} inclusive ({tz})</p>"#,
        from = escape(&r.from),
        to = escape(&r.to),
        tz = escape(&r.timezone),
    );
    if let Some(message) = &r.message {
        let _ = write!(
            out,
            r#"<p class="empty">{}</p></body></html>"#,
            escape(message)
        );
        out.push('\n');
        return out;
    }
    let _ = write!(
        out,
        r#"<div class="kpis"><div class="kpi"><b>{}</b>calls checked</div><div class="kpi"><b>{}</b>average score</div><div class="kpi"><b>{}</b>calls with a fatal failure</div><div class="kpi"><b>{}</b>agents</div></div>"#,
        r.calls,
        score(r.average_score),
        r.fatal_calls,
        r.agents.len()
    );

    out.push_str("<h2>Score per day</h2>");
    out.push_str(&line_chart("Average score per day", &points(&r.daily)));
    out.push_str("<h2>Score per category</h2>");
    let bars: Vec<(String, Option<f64>)> = r
        .categories
        .iter()
        .map(|c| (c.name.clone(), c.average))
        .collect();
    out.push_str(&bar_chart(
        "Average score per category",
        "chart-categories",
        &bars,
    ));
    category_table(&mut out, &r.categories);

    out.push_str("<h2>Agents</h2>");
    let bars: Vec<(String, Option<f64>)> = r
        .agents
        .iter()
        .map(|a| (a.agent.clone(), a.average_score))
        .collect();
    out.push_str(&bar_chart("Average score per agent", "chart-agents", &bars));
    out.push_str("<table class=\"agents\"><tr><th>Agent</th><th>Calls</th><th>Average</th><th>Change</th><th>Fatal</th><th>Training needed</th></tr>");
    for a in &r.agents {
        let training: Vec<String> = a
            .missed
            .iter()
            .filter(|m| m.training_needed)
            .map(|m| escape(&m.rule))
            .collect();
        let _ = write!(
            out,
            r#"<tr class="agent-row"><td>{}</td>{}{}{}{}<td>{}</td></tr>"#,
            escape(&a.agent),
            cell_num(a.calls),
            cell_num(score(a.average_score)),
            cell_num(change(a.trend.change)),
            cell_num(a.fatal_failures),
            training.join(", ")
        );
    }
    out.push_str("</table>");
    for a in &r.agents {
        scorecard(&mut out, a, r.training_threshold);
    }

    out.push_str("<h2>Most failed rules</h2>");
    if r.failed_rules.is_empty() {
        out.push_str("<p>No rule was failed.</p>");
    } else {
        out.push_str("<table><tr><th>Rule</th><th>Description</th><th>Category</th><th>Failed</th><th>Applied</th><th>Missed</th></tr>");
        for m in &r.failed_rules {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td>{}{}{}</tr>",
                escape(&m.rule),
                escape(m.description.as_deref().unwrap_or("")),
                escape(&m.category),
                cell_num(m.failed),
                cell_num(m.applied),
                cell_num(format!("{:.0}%", m.miss_rate * 100.0))
            );
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Agents who skipped each rule</h2><ul>");
    for s in &r.skipped_rules {
        let who: Vec<String> = s
            .agents
            .iter()
            .map(|a| format!("{} ({} of {})", escape(&a.agent), a.failed, a.applied))
            .collect();
        let _ = write!(
            out,
            "<li><b>{}</b>: {}</li>",
            escape(s.label()),
            who.join(", ")
        );
    }
    out.push_str("</ul>");

    out.push_str("<h2>Top topics</h2>");
    for (title, list) in [("IVR intent", &r.intents), ("Queue", &r.queues)] {
        if list.is_empty() {
            let _ = write!(out, "<p>No {}.</p>", title.to_lowercase());
            continue;
        }
        let _ = write!(out, "<table><tr><th>{title}</th><th>Calls</th></tr>");
        for t in list {
            let _ = write!(
                out,
                "<tr><td>{}</td>{}</tr>",
                escape(&t.name),
                cell_num(t.calls)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Frequent customer phrases</h2>");
    if r.phrases.is_empty() {
        out.push_str("<p>No phrase heard twice in callers' transcripts.</p>");
    } else {
        out.push_str("<table class=\"phrases\"><tr><th>Phrase</th><th>Times</th></tr>");
        for p in &r.phrases {
            let _ = write!(
                out,
                "<tr><td>{}</td>{}</tr>",
                escape(&p.phrase),
                cell_num(p.count)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}
