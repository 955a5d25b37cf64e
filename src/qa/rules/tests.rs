//! Tests of the rules file: the demo loads as documented, and every kind
//! of mistake is reported at its line and field.

use std::path::Path;

use super::*;
use crate::qa::Channel;

fn problems(text: &str) -> Vec<String> {
    match parse(Path::new("qa/rules.toml"), text) {
        Ok(_) => Vec::new(),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_with(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

fn demo_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RULES_FILE))
        .unwrap_or_default()
}

#[test]
fn the_demo_rules_load_as_documented() {
    let rules = parse(Path::new(RULES_FILE), &demo_text()).expect("the demo rules are valid");
    assert_eq!(rules.threshold, 0.8);
    let names: Vec<&str> = rules.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["attitude", "process", "resolution", "signal"]);
    let banned = rules.item("no-do-it-yourself").expect("item");
    assert!(banned.fatal);
    assert_eq!(banned.channel, Channel::Agent);
    let Check::Banned { phrases } = &banned.check else {
        panic!("{banned:?}");
    };
    assert_eq!(phrases[1].normalized(), "你自己查");
    let Check::Required {
        window, condition, ..
    } = &rules.item("allergy-policy").expect("item").check
    else {
        panic!("allergy-policy is required");
    };
    assert_eq!(*window, Window::Anywhere);
    let condition = condition.as_ref().expect("a condition");
    assert_eq!(condition.channel, Channel::Caller);
    assert_eq!(condition.phrases.len(), 2);
    assert!(matches!(
        rules.item("privacy-notice").map(|i| &i.check),
        Some(Check::Required {
            window: Window::FirstSeconds(_),
            ..
        })
    ));
    assert!(matches!(
        rules.item("long-hold").map(|i| &i.check),
        Some(Check::Hold { max_minutes }) if *max_minutes == 2.0
    ));
    assert_eq!(rules.items().count(), 10);
}

#[test]
fn a_missing_file_means_no_rules_and_a_bad_one_is_reported() {
    let dir = std::env::temp_dir().join(format!("sb-qa-rules-{}", std::process::id()));
    let mut found = Vec::new();
    assert_eq!(load(&dir, &mut found), None);
    assert!(found.is_empty());
    std::fs::create_dir_all(dir.join("qa")).unwrap_or_default();
    std::fs::write(dir.join(RULES_FILE), "[matching]\nthreshold = 2\n").unwrap_or_default();
    assert_eq!(load(&dir, &mut found), None);
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        lines,
        [
            "qa/rules.toml:2: matching.threshold: 2 is out of range; valid: more than 0 up to 1",
            "qa/rules.toml:0: category: no [[category]]; add one with its [[category.item]]s, or remove the file for no QA rules",
        ]
    );
}

const GOOD: &str = r#"
[[category]]
name = "attitude"

[[category.item]]
id = "a"
kind = "banned"
phrases = ["look it up yourself"]

[[category.item]]
id = "b"
kind = "required"
phrases = ["thank you for calling"]
within_first_seconds = 30
"#;

#[test]
fn defaults_apply() {
    let rules = parse(Path::new("x"), GOOD).expect("valid");
    assert_eq!(rules.threshold, DEFAULT_THRESHOLD);
    assert_eq!(rules.categories[0].weight, 1.0);
    let a = &rules.categories[0].items[0];
    assert_eq!((a.weight, a.fatal, a.channel), (1.0, false, Channel::Agent));
    assert_eq!(a.threshold, None);
}

#[test]
fn each_mistake_is_located_with_what_is_valid() {
    let text = GOOD
        .replace("kind = \"banned\"", "kind = \"forbidden\"")
        .replace(
            "id = \"b\"",
            "id = \"a\"\nweight = 0\nchannel = \"customer\"",
        )
        .replace("within_first_seconds = 30", "within_first_seconds = -5")
        .replace(
            "[\"thank you for calling\"]",
            "[\"thank you\", \"\", \"...\"]",
        );
    let p = problems(&text);
    // The duplicate id's line: the second `id = "a"`.
    let second_a = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("id = \"a\""))
        .nth(1)
        .map_or(0, |(i, _)| i + 1);
    let expect = [
        format!(
            "qa/rules.toml:{}: category[0].item[0].kind: `forbidden` is not a kind; valid: banned, required, resolution, silence, overtalk, hold",
            line_with(&text, "forbidden")
        ),
        format!(
            "qa/rules.toml:{second_a}: category[0].item[1].id: item `a` is already defined on line {}; ids are unique",
            line_with(&text, "id = \"a\"")
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[1].weight: 0 is out of range; valid: more than 0",
            line_with(&text, "weight = 0")
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[1].channel: `customer` is not a channel; valid: agent, caller",
            line_with(&text, "customer")
        ),
        format!(
            "qa/rules.toml:{l}: category[0].item[1].phrases[1]: empty phrase; write the words to listen for",
            l = line_with(&text, "\"thank you\"")
        ),
        format!(
            "qa/rules.toml:{l}: category[0].item[1].phrases[2]: `...` has no words to listen for (letters, digits or Chinese characters)",
            l = line_with(&text, "\"thank you\"")
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[1].within_first_seconds: -5 is out of range; valid: more than 0 seconds",
            line_with(&text, "-5")
        ),
    ];
    assert_eq!(p, expect);
}

#[test]
fn missing_and_misplaced_fields_are_located() {
    let text = r#"
[matching]
threshold = 0.9

[[category]]
name = "signal"
weight = -1

[[category.item]]
id = "quiet"
kind = "silence"
phrases = ["hello"]

[[category.item]]
id = "ask"
kind = "required"

[[category.item]]
kind = "resolution"
commitments = []

[[category.item]]
id = "cond"
kind = "required"
phrases = ["allergy return policy"]
when_caller_says = ["allergy"]
when_agent_says = ["allergy"]
within_first_seconds = 10
within_last_seconds = 10
"#;
    let p = problems(text);
    let at = |needle: &str| line_with(text, needle);
    let items: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[category.item]]")
        .map(|(i, _)| i + 1)
        .collect();
    let expect = [
        format!(
            "qa/rules.toml:{}: category[0].weight: -1 is out of range; valid: more than 0",
            at("weight = -1")
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[0].phrases: `phrases` is not a field of `silence` items; theirs: max_seconds",
            at("[\"hello\"]")
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[0].max_seconds: a `silence` item needs `max_seconds`",
            items[0]
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[1].phrases: a `required` item needs `phrases = [\"...\", ...]`",
            items[1]
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[2].id: missing `id` (letters, digits, `_`, `-`; unique in the file)",
            items[2]
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[2].commitments: no phrases; give at least one, e.g. [\"thank you for calling\"]",
            at("commitments = []")
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[3].within_last_seconds: give one of within_first_seconds or within_last_seconds (two windows: two items)",
            items[3]
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[3].when_agent_says: give one of when_caller_says or when_agent_says",
            items[3]
        ),
    ];
    assert_eq!(p, expect);
}

#[test]
fn unknown_keys_and_bad_thresholds_are_refused() {
    let text = GOOD.replace("kind = \"banned\"", "kind = \"banned\"\nphrase = [\"x\"]");
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with(&format!(
            "qa/rules.toml:{}: phrase: unknown field `phrase`",
            line_with(&text, "phrase = ")
        )),
        "{p:?}"
    );
    let text = GOOD.replace(
        "kind = \"banned\"",
        "kind = \"banned\"\nthreshold = 1.5\nmax_percent = 10",
    );
    assert_eq!(
        problems(&text),
        [
            format!(
                "qa/rules.toml:{}: category[0].item[0].threshold: 1.5 is out of range; valid: more than 0 up to 1",
                line_with(&text, "1.5")
            ),
            format!(
                "qa/rules.toml:{}: category[0].item[0].max_percent: `max_percent` is not a field of `banned` items; theirs: channel, threshold, phrases",
                line_with(&text, "max_percent")
            ),
        ]
    );
}
