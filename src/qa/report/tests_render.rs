//! Tests of the renderings (an empty period, the JSON shape, escaped
//! HTML with its charts), of the reporting period and of the phrase
//! counter.

use jiff::civil::date;

use super::tests::{call, report, ten_calls, week};
use super::*;

#[test]
fn phrases_ignore_stop_words_and_count_calls_not_times() {
    let calls = [
        vec!["the bill is wrong, the bill is wrong"],
        vec!["hello", "the bill is wrong"],
        vec!["it is what it is"],
        vec!["it is what it is"],
        vec!["the bill"],
        vec!["card four four one two, card four four one two"],
    ];
    let top = phrases::top(calls.into_iter(), 10);
    let got: Vec<(&str, u32, u32)> = top
        .iter()
        .map(|p| (p.phrase.as_str(), p.words, p.count))
        .collect();
    assert_eq!(
        got,
        [
            ("the bill", 2, 3),
            ("bill is wrong", 3, 2),
            ("the bill is", 3, 2),
        ],
        "`it is what` is stop words only; `bill is` and `is wrong` only occur in \
         `bill is wrong`; the card number was repeated in one call only"
    );
    assert_eq!(phrases::words("Don’t   STOP—now"), ["don't", "stop", "now"]);
    assert_eq!(
        phrases::top([vec!["a b c d e f g"]].into_iter(), 3).len(),
        0
    );
}

#[test]
fn an_empty_period_says_so_instead_of_nan() {
    let r = report(&[]);
    assert_eq!(
        r.message.as_deref(),
        Some("no QA results between 2024-05-01 and 2024-05-07 (UTC, inclusive)")
    );
    assert_eq!(r.calls, 0);
    assert_eq!(r.average_score, None);
    assert!(r.daily.iter().all(|d| d.average.is_none()));
    for format in [Format::Markdown, Format::Json, Format::Html] {
        let text = render(&r, format).unwrap_or_default();
        assert!(!text.contains("NaN"), "{text}");
        assert!(
            text.contains("no QA results between 2024-05-01 and 2024-05-07"),
            "{text}"
        );
    }
    let json = render(&r, Format::Json).unwrap_or_default();
    assert!(json.contains("\"average_score\": null"), "{json}");
    let filtered = build(&[call("a", 1, 80.0).row()], &week(), Some("zed"), None);
    assert_eq!(
        filtered.message.as_deref(),
        Some("no QA results for agent zed between 2024-05-01 and 2024-05-07 (UTC, inclusive)")
    );
}

#[test]
fn the_period_from_the_flags() {
    let today = date(2024, 5, 10);
    let p = Period::parse(None, None, today).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((p.from, p.to), (date(2024, 5, 4), today));
    assert_eq!(p.days(), 7);
    let p = Period::parse(Some("2024-05-01"), Some("2024-05-01"), today)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.days(), 1);
    assert_eq!(p.from_ms(), 1_714_521_600_000, "00:00 UTC");
    assert_eq!(p.to_ms() - p.from_ms(), DAY_MS, "--to is inclusive");
    let p = Period::parse(None, Some("2024-03-02"), today).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.from, date(2024, 2, 25));
    let bad = Period::parse(Some("05/01/2024"), None, today);
    assert!(bad.is_err_and(|e| e.contains("YYYY-MM-DD")));
    let reversed = Period::parse(Some("2024-05-09"), Some("2024-05-01"), today);
    assert!(reversed.is_err_and(|e| e.contains("after")));
}

#[test]
fn the_json_shape_has_stable_names() {
    let r = report(&ten_calls("alice", 2, 0));
    let v = serde_json::to_value(&r).unwrap_or_default();
    for key in [
        "from",
        "to",
        "timezone",
        "agent",
        "message",
        "calls",
        "average_score",
        "fatal_calls",
        "unreadable",
        "training_threshold",
        "categories",
        "daily",
        "agents",
        "failed_rules",
        "skipped_rules",
        "intents",
        "queues",
        "phrases",
    ] {
        assert!(v.get(key).is_some(), "no {key} in {v}");
    }
    let a = &v["agents"][0];
    assert_eq!(a["agent"], "alice");
    assert_eq!(a["trend"]["bucket"], "day");
    assert_eq!(a["missed"][0]["rule"], "privacy");
    assert_eq!(a["missed"][0]["training_needed"], true);
    assert_eq!(v["timezone"], "UTC");
}

#[test]
fn html_is_one_escaped_page_with_charts() {
    let mut rows = ten_calls("<script>alert(1)</script>", 2, 0);
    // the same words in two calls make a frequent phrase
    for minute in [30, 31] {
        rows.push(
            call("o'neil & co", minute, 70.0)
                .caller("<b>bold</b> claim here")
                .category("greeting", Some(70.0))
                .row(),
        );
    }
    let r = report(&rows);
    let page = html::render(&r);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.contains("<script"), "data must be escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("o&#39;neil &amp; co"));
    assert!(!page.contains("<b>bold"));
    assert!(page.contains("bold b claim"), "phrases come from words");
    assert!(page.contains("chart-line"));
    assert!(page.contains("chart-categories"));
    assert!(page.contains("chart-agents"));
    for external in ["http://", "https://", "src=", "<link"] {
        let without_ns = page.replace("http://www.w3.org/2000/svg", "");
        assert!(!without_ns.contains(external), "external {external}");
    }
    assert!(page.contains(r#"<span class="training">training needed</span>"#));
    let md = markdown::render(&r);
    assert!(md.contains("\\<script\\>"), "{md}");
}
