//! Tests of the phrase matcher: normalisation, tokens, fuzzy search.

use super::*;
use crate::qa::Channel;
use crate::qa::asr::{Heard as HeardHow, Segment, Word};

fn spoken(text: &str) -> Spoken {
    let mut s = Spoken::default();
    s.push(text, Span::new(0.0, 10.0));
    s
}

fn words(text: &str) -> Vec<String> {
    tokenize(text).into_iter().map(|t| t.text).collect()
}

#[test]
fn case_punctuation_and_contractions_are_normalised() {
    assert_eq!(normalize_phrase("I don't know!"), "i do not know");
    assert_eq!(normalize_phrase("i dont know"), "i do not know");
    assert_eq!(normalize_phrase("I do NOT know..."), "i do not know");
    assert_eq!(normalize_phrase("I’ll just log it."), "i will just log it");
    assert_eq!(
        normalize_phrase("We can't, we won't"),
        "we can not we will not"
    );
    assert_eq!(normalize_phrase("It's the customer's"), "its the customers");
    assert_eq!(normalize_phrase("  --  "), "");
}

#[test]
fn numbers_are_spelled_out() {
    assert_eq!(
        normalize_phrase("within 24 hours"),
        "within twenty four hours"
    );
    assert_eq!(normalize_phrase("24-hour"), "twenty four hour");
    assert_eq!(normalize_phrase("100%"), "one hundred percent");
    assert_eq!(
        normalize_phrase("1,250,003"),
        "one million two hundred fifty thousand three"
    );
    assert_eq!(normalize_phrase("2.5"), "two point five");
    assert_eq!(
        normalize_phrase("the 3rd and 21st"),
        "the third and twenty first"
    );
    assert_eq!(normalize_phrase("call 0800"), "call zero eight zero zero");
    assert_eq!(normalize_phrase("10:30"), "ten thirty");
    assert_eq!(normalize_phrase("24h"), "twenty four h");
    assert_eq!(normalize_phrase("０ 12th"), "zero twelfth");
    assert_eq!(normalize_phrase("1,2"), "one two");
}

#[test]
fn chinese_is_one_token_per_character_and_kept_together() {
    assert_eq!(words("你自己查吧。"), ["你", "自", "己", "查", "吧"]);
    assert_eq!(normalize_phrase("你自己查"), "你自己查");
    assert_eq!(
        normalize_phrase("退款 within 24小时"),
        "退款 within twenty four 小时"
    );
    // Byte ranges point back into the text.
    let t = tokenize("好，ok");
    assert_eq!(t[0].bytes, 0..3);
    assert_eq!(t[1].bytes, 6..8);
}

#[test]
fn exact_case_and_number_variants_match() {
    let p = Phrase::new("within 24 hours");
    let hits = spoken("OK, we'll refund you WITHIN twenty-four hours.").find(&p, 0.8);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].score, 1.0);
    assert_eq!(hits[0].text, "WITHIN twenty-four hours");
    let hits = spoken("I don't know.").find(&Phrase::new("i do not know"), 0.8);
    assert_eq!(hits.len(), 1);
}

#[test]
fn one_wrong_word_in_six_still_matches() {
    let p = Phrase::new("we will protect your personal information");
    let s = spoken("so we will protect you personal information ok");
    let hits = s.find(&p, 0.8);
    assert_eq!(hits.len(), 1, "{:?}", s.best(&p));
    assert!(hits[0].score > 0.8 && hits[0].score < 1.0);
    assert_eq!(hits[0].text, "we will protect you personal information");

    // A word replaced by an unrelated one, a word dropped, a word added.
    for text in [
        "we will banana your personal information",
        "we will protect personal information",
        "we will really protect your personal information",
    ] {
        assert_eq!(spoken(text).find(&p, 0.8).len(), 1, "{text}");
    }
    // Two wrong words are too many.
    assert!(
        spoken("we will banana your apple information")
            .find(&p, 0.8)
            .is_empty()
    );
}

#[test]
fn near_words_count_as_the_word() {
    assert!(similarity("refunds", "refund") > 0.8);
    assert_eq!(similarity("refund", "banana"), 0.0);
    let hits = spoken("I will refunds that").find(&Phrase::new("I will refund"), 0.8);
    assert_eq!(hits.len(), 1);
}

#[test]
fn unrelated_text_does_not_match() {
    let p = Phrase::new("look it up yourself");
    let s = spoken("thank you for calling, how can I help you today with your order");
    assert!(s.find(&p, 0.8).is_empty());
    assert!(s.best(&p).is_none_or(|b| b.score < 0.6));
    // Losing the negation is not a near miss of a short phrase.
    assert!(
        spoken("I do know")
            .find(&Phrase::new("I don't know"), 0.8)
            .is_empty()
    );
}

#[test]
fn chinese_inside_a_sentence_without_spaces() {
    let p = Phrase::new("你自己查");
    let hits = spoken("这个问题你自己查一下吧").find(&p, 0.8);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].text, "你自己查");
    assert!(spoken("我帮你查一下").find(&p, 0.8).is_empty());
}

#[test]
fn every_occurrence_is_found_in_time_order() {
    let t = Transcript {
        channel: Channel::Agent,
        backend: "test".into(),
        segments: vec![
            Segment {
                start: 1.0,
                end: 3.0,
                text: "I don't know".into(),
                confidence: 1.0,
                heard: HeardHow::Transcribed,
                words: vec![],
            },
            Segment {
                start: 10.0,
                end: 12.0,
                text: "honestly I don't know sir".into(),
                confidence: 1.0,
                heard: HeardHow::Transcribed,
                words: ["honestly", "I", "don't", "know", "sir"]
                    .iter()
                    .enumerate()
                    .map(|(i, w)| Word {
                        text: (*w).into(),
                        start: 10.0 + i as f64 * 0.4,
                        end: 10.3 + i as f64 * 0.4,
                        confidence: 0.9,
                    })
                    .collect(),
            },
        ],
    };
    let s = Spoken::from_transcript(&t);
    let hits = s.find(&Phrase::new("I don't know"), 0.8);
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].span, Span::new(1.0, 3.0));
    assert_eq!(hits[0].text, "I don't know");
    // Word timings: from "I" to "know".
    assert!((hits[1].span.start - 10.4).abs() < 1e-9);
    assert!((hits[1].span.end - 11.5).abs() < 1e-9);
    assert_eq!(hits[1].text, "I don't know");
}

#[test]
fn a_call_is_searched_quickly() {
    let text = "thank you for calling how can I help you today ".repeat(60);
    let s = spoken(&text);
    assert!(s.len() > 500);
    let phrases: Vec<Phrase> = (0..50)
        .map(|i| Phrase::new(&format!("we will refund your order number {i} soon")))
        .collect();
    let started = std::time::Instant::now();
    for p in &phrases {
        let _ = s.find(p, 0.8);
    }
    // Generous for unoptimised test builds on a busy machine; a release
    // build takes a few milliseconds.
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
}
