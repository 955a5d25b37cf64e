//! The engine walking the repository's demo flow (`ivr-flows/demo.toml`):
//! every path of the demo, input by input, and the journey it leaves.

use super::engine::{Action, Engine, Input, LookupOutcome, LookupRequest};
use super::model::PromptItem;
use super::{FlowSet, Flows};
use crate::store::CallEventKind;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const CALLER: &str = "+15550777";

fn demo() -> Arc<FlowSet> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Flows::load(&root.join("ivr-flows"), &root.join("prompts"))
        .expect("the demo flows load")
        .current()
}

fn engine(calendar: Option<&str>) -> Engine {
    let set = demo();
    let flow = set.get("demo").unwrap();
    Engine::new(set, flow, CALLER, "100", calendar.map(str::to_string))
}

fn now() -> Timestamp {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

fn step(e: &mut Engine, input: Input) -> Vec<Action> {
    e.handle(input, now())
}

/// The journal entries of `actions` of `kind`.
fn journal(actions: &[Action], kind: CallEventKind) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Journal { kind: k, detail } if *k == kind => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

/// The texts spoken by the Play actions.
fn said(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Play { items, .. } => Some(items),
            _ => None,
        })
        .flatten()
        .map(|i| match i {
            PromptItem::Say { text, .. } => text.clone(),
            PromptItem::File(f) => f.display().to_string(),
        })
        .collect()
}

fn queue_of(actions: &[Action]) -> Option<String> {
    actions.iter().find_map(|a| match a {
        Action::Queue { queue, .. } => Some(queue.clone()),
        _ => None,
    })
}

/// Start, let the notice play out: the lookup is asked for.
fn through_notice(e: &mut Engine) {
    let a = step(e, Input::Start);
    assert!(
        said(&a)[0].starts_with("This call may be recorded"),
        "{a:?}"
    );
    assert!(
        matches!(
            &a[1],
            Action::Play {
                barge_in: false,
                ..
            }
        ),
        "{a:?}"
    );
    let a = step(e, Input::PlaybackDone);
    assert!(
        a.contains(&Action::DisclosureDone { opted_out: false }),
        "{a:?}"
    );
    assert!(
        a.contains(&Action::Lookup(LookupRequest::Customers {
            number: CALLER.into()
        })),
        "{a:?}"
    );
}

fn customer(tier: &str, language: &str) -> LookupOutcome {
    LookupOutcome::Found(BTreeMap::from([
        ("name".to_string(), "Grace Hopper".to_string()),
        ("tier".to_string(), tier.to_string()),
        ("language".to_string(), language.to_string()),
    ]))
}

#[test]
fn a_vip_skips_the_menu() {
    let mut e = engine(None);
    through_notice(&mut e);
    let a = step(&mut e, Input::LookupDone(customer("VIP", "en")));
    assert_eq!(queue_of(&a).as_deref(), Some("vip"), "{a:?}");
    assert!(said(&a).is_empty(), "no menu: {a:?}");
    let branch = journal(&a, CallEventKind::Branch);
    assert!(branch[0].contains("customer.tier == 'VIP'"), "{branch:?}");
    assert_eq!(e.intent(), "vip", "no `intent` variable: the queue node");
    assert!(step(&mut e, Input::HandOffDone { answered: true }).is_empty());
    assert!(e.is_done());
}

#[test]
fn each_menu_key_lands_on_its_queue() {
    for (key, queue) in [
        ('1', "orders"),
        ('2', "after_sales"),
        ('3', "complaints"),
        ('0', "any_agent"),
    ] {
        let mut e = engine(None);
        through_notice(&mut e);
        let a = step(&mut e, Input::LookupDone(LookupOutcome::NotFound));
        assert!(said(&a)[0].starts_with("For orders and delivery"), "{a:?}");
        assert!(
            journal(&a, CallEventKind::Branch)
                .iter()
                .any(|b| b.contains("calendar always-open open")),
            "{a:?}"
        );
        // A key while the menu plays (barge-in) picks at once.
        let a = step(&mut e, Input::Digit(key));
        assert_eq!(a[0], Action::StopPlayback);
        assert_eq!(queue_of(&a).as_deref(), Some(queue), "key {key}: {a:?}");
    }
}

#[test]
fn wrong_keys_and_silence_replay_the_menu_then_any_agent() {
    let mut e = engine(None);
    through_notice(&mut e);
    step(&mut e, Input::LookupDone(LookupOutcome::NotFound));
    assert_eq!(
        step(&mut e, Input::PlaybackDone),
        vec![Action::SetTimer(Duration::from_millis(5000))]
    );
    let a = step(&mut e, Input::Digit('7'));
    assert_eq!(said(&a)[0], "Sorry, that is not an option.");
    assert!(
        said(&a)[1].starts_with("For orders"),
        "the menu again: {a:?}"
    );
    step(&mut e, Input::PlaybackDone);
    let a = step(&mut e, Input::Timeout);
    assert_eq!(said(&a)[0], "Sorry, we did not hear a choice.");
    step(&mut e, Input::PlaybackDone);
    // Retries (2) are used up: the third miss goes to any agent.
    let a = step(&mut e, Input::Timeout);
    assert_eq!(queue_of(&a).as_deref(), Some("any_agent"), "{a:?}");
    // Keys and timers after the hand-off change nothing.
    assert!(step(&mut e, Input::Digit('1')).is_empty());
}

#[test]
fn the_opt_out_key_during_the_notice_is_kept() {
    let mut e = engine(None);
    step(&mut e, Input::Start);
    assert!(
        step(&mut e, Input::Digit('5')).is_empty(),
        "another key does nothing"
    );
    let a = step(&mut e, Input::Digit('9'));
    assert_eq!(a[0], Action::StopPlayback);
    assert!(
        a.contains(&Action::DisclosureDone { opted_out: true }),
        "{a:?}"
    );
    assert!(matches!(a.last(), Some(Action::Lookup(_))), "{a:?}");
}

#[test]
fn a_mandarin_speaker_hears_mandarin_prompts() {
    let mut e = engine(None);
    through_notice(&mut e);
    let a = step(&mut e, Input::LookupDone(customer("standard", "zh")));
    assert!(said(&a)[0].starts_with("订单和配送请按1"), "{a:?}");
    assert_eq!(e.language(), "zh");
}

#[test]
fn at_night_a_callback_is_taken_and_the_caller_hears_goodbye() {
    let mut e = engine(Some("always-closed"));
    through_notice(&mut e);
    let a = step(
        &mut e,
        Input::LookupDone(LookupOutcome::Failed("timeout".into())),
    );
    assert!(said(&a)[0].starts_with("We are closed"), "{a:?}");
    step(&mut e, Input::PlaybackDone);
    let a = step(&mut e, Input::Digit('1'));
    assert!(
        a.contains(&Action::StoreCallback {
            number: CALLER.into(),
            queue: "any_agent".into(),
            calendar: Some("always-closed".into()),
        }),
        "{a:?}"
    );
    assert_eq!(said(&a), vec!["en/goodbye.wav".to_string()]);
    let a = step(&mut e, Input::PlaybackDone);
    assert!(a.contains(&Action::Hangup), "{a:?}");
    assert!(e.is_done());
}

#[test]
fn a_callback_to_another_number_is_keyed_and_checked() {
    let mut e = engine(Some("always-closed"));
    through_notice(&mut e);
    step(&mut e, Input::LookupDone(LookupOutcome::NotFound));
    step(&mut e, Input::Digit('2'));
    // Too short a number: asked again.
    for d in "123#".chars() {
        step(&mut e, Input::Digit(d));
    }
    step(&mut e, Input::Digit('2'));
    let mut last = Vec::new();
    for d in "4420794600001#".chars() {
        last = step(&mut e, Input::Digit(d));
    }
    assert!(
        last.contains(&Action::StoreCallback {
            number: "+4420794600001".into(),
            queue: "any_agent".into(),
            calendar: Some("always-closed".into()),
        }),
        "{last:?}"
    );
}

#[test]
fn nobody_answering_leads_to_voicemail_then_goodbye() {
    let mut e = engine(None);
    through_notice(&mut e);
    step(&mut e, Input::LookupDone(customer("VIP", "en")));
    let a = step(&mut e, Input::HandOffDone { answered: false });
    assert!(said(&a)[0].starts_with("All our agents are busy"), "{a:?}");
    let a = step(&mut e, Input::PlaybackDone);
    assert_eq!(
        a,
        vec![Action::RecordVoicemail {
            max: Duration::from_secs(120),
            beep: true
        }]
    );
    let a = step(&mut e, Input::VoicemailDone);
    assert_eq!(said(&a), vec!["en/goodbye.wav".to_string()]);
}

#[test]
fn the_journey_names_every_node() {
    let mut e = engine(None);
    let mut all = step(&mut e, Input::Start);
    all.extend(step(&mut e, Input::PlaybackDone));
    all.extend(step(&mut e, Input::LookupDone(LookupOutcome::NotFound)));
    all.extend(step(&mut e, Input::Digit('1')));
    let nodes: Vec<String> = journal(&all, CallEventKind::Node)
        .into_iter()
        .filter(|d| d.starts_with("demo."))
        .collect();
    assert_eq!(
        nodes,
        [
            "demo.notice (disclosure)",
            "demo.identify (lookup)",
            "demo.hours (branch)",
            "demo.menu (menu)",
            "demo.orders (queue)"
        ]
    );
    assert_eq!(journal(&all, CallEventKind::Lookup), ["not found"]);
    assert_eq!(e.position(), "demo.orders");
}
