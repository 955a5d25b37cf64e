//! Inline SVG charts for the HTML report, drawn here with no library: a
//! line chart of scores over days and horizontal bar charts of averages
//! (both on a 0..100 scale). Every label is HTML-escaped.

use std::fmt::Write as _;

/// Escapes text for HTML and SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text`, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A bar or point colour for a 0..100 score: red below 60, amber below
/// 80, green from 80.
pub fn colour(score: f64) -> &'static str {
    if score < 60.0 {
        "#c0392b"
    } else if score < 80.0 {
        "#d68910"
    } else {
        "#1e8449"
    }
}

/// A line chart of `points` (label, score); points without a score break
/// the line. `title` names the chart for screen readers.
pub fn line_chart(title: &str, points: &[(String, Option<f64>)]) -> String {
    let (width, height) = (720.0_f64, 260.0_f64);
    let (left, right, top, bottom) = (44.0, 40.0, 16.0, 48.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let n = points.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + plot_h * (1.0 - v.clamp(0.0, 100.0) / 100.0);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart chart-line" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    for g in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{g}</text>"##,
            width - right,
            left - 6.0,
            y(g) + 4.0,
            y = y(g),
        );
    }
    let every = n.div_ceil(10);
    for (i, (label, _)) in points.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle" fill="#555">{}</text>"##,
                x(i),
                height - bottom + 18.0,
                escape(&clip(label, 10))
            );
        }
    }
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (i, (_, v)) in points.iter().enumerate() {
        match v {
            Some(v) => {
                if let Some(run) = runs.last_mut() {
                    run.push((x(i), y(*v)));
                }
            }
            None => runs.push(Vec::new()),
        }
    }
    for run in runs.iter().filter(|r| r.len() > 1) {
        let coords: Vec<String> = run.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
        let _ = write!(
            out,
            r##"<polyline points="{}" fill="none" stroke="#2e86c1" stroke-width="2.5"/>"##,
            coords.join(" ")
        );
    }
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{}"><title>{}: {v:.1}</title></circle>"#,
                x(i),
                y(*v),
                colour(*v),
                escape(label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars of `bars` (label, score on 0..100); a bar without a
/// score is drawn empty with a dash.
pub fn bar_chart(title: &str, class: &str, bars: &[(String, Option<f64>)]) -> String {
    let (width, row, label_w, value_w) = (720.0_f64, 30.0_f64, 200.0_f64, 56.0_f64);
    let height = row * bars.len().max(1) as f64 + 8.0;
    let bar_w = width - label_w - value_w;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart chart-bars {}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(class),
        escape(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let top = 4.0 + row * i as f64;
        let _ = write!(
            out,
            r##"<text x="{}" y="{:.1}" font-size="13" text-anchor="end" fill="#222">{}</text><rect x="{label_w}" y="{:.1}" width="{bar_w}" height="{}" fill="#eee"/>"##,
            label_w - 8.0,
            top + row / 2.0 + 4.0,
            escape(&clip(label, 28)),
            top + 4.0,
            row - 8.0
        );
        if let Some(v) = v {
            let _ = write!(
                out,
                r#"<rect class="bar" x="{label_w}" y="{:.1}" width="{:.1}" height="{}" fill="{}"><title>{}: {v:.1}</title></rect>"#,
                top + 4.0,
                bar_w * v.clamp(0.0, 100.0) / 100.0,
                row - 8.0,
                colour(*v),
                escape(label)
            );
        }
        let value = v.map_or_else(|| "–".to_string(), |v| format!("{v:.1}"));
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="13" fill="#222">{value}</text>"##,
            label_w + bar_w + 6.0,
            top + row / 2.0 + 4.0
        );
    }
    out.push_str("</svg>");
    out
}
