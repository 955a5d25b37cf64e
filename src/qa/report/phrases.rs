//! Customers' frequent phrases: the 2- and 3-word sequences heard most
//! often in callers' transcribed speech.
//!
//! Text is lowercased and cut into words (letters, digits and inner
//! apostrophes: "don't" is one word); phrases never span two segments. A
//! phrase counts the calls it was heard in, not the times: one caller
//! repeating an address or a card number is not a frequent phrase, and a
//! phrase heard in one call only is never listed. A phrase made of stop
//! words only ("i have a", "it is") is ignored. A 2-word phrase heard in
//! exactly as many calls as a 3-word phrase that contains it is left out:
//! it only ever occurred inside the longer one, which says more.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

/// A small English stop list (function words and fillers).
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "because", "been", "but", "by", "can", "could", "did", "do", "does", "for", "from",
    "get", "got", "had", "has", "have", "he", "her", "hers", "him", "his", "how", "i", "i'm", "if",
    "in", "is", "it", "it's", "its", "just", "me", "my", "no", "not", "now", "of", "oh", "ok",
    "okay", "on", "or", "our", "she", "so", "some", "than", "that", "that's", "the", "their",
    "them", "then", "there", "they", "this", "to", "uh", "um", "up", "us", "very", "was", "we",
    "well", "were", "what", "when", "which", "who", "why", "will", "with", "would", "yeah", "yes",
    "you", "your",
];

/// A phrase and in how many calls callers said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhraseCount {
    pub phrase: String,
    /// 2 or 3.
    pub words: u32,
    /// Calls it was heard in.
    pub count: u32,
}

fn is_stop(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// The words of one text, lowercased.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('\u{2019}', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `limit` most frequent phrases of `calls` (each call its segments'
/// texts): heard in most calls first, then longer, then alphabetical.
pub fn top<'a>(calls: impl Iterator<Item = Vec<&'a str>>, limit: usize) -> Vec<PhraseCount> {
    let mut counts: HashMap<(String, u32), u32> = HashMap::new();
    for texts in calls {
        let mut heard: HashSet<(String, u32)> = HashSet::new();
        for text in texts {
            let words = words(text);
            for n in [2usize, 3] {
                for gram in words.windows(n) {
                    if !gram.iter().all(|w| is_stop(w)) {
                        heard.insert((gram.join(" "), n as u32));
                    }
                }
            }
        }
        for key in heard {
            *counts.entry(key).or_default() += 1;
        }
    }
    // (2-word phrase, calls) for the first and last two words of every
    // 3-word phrase.
    let mut inside_longer: HashSet<(&str, u32)> = HashSet::new();
    for ((long, n), c) in &counts {
        if *n == 3
            && let (Some((first, _)), Some((_, last))) =
                (long.rsplit_once(' '), long.split_once(' '))
        {
            inside_longer.insert((first, *c));
            inside_longer.insert((last, *c));
        }
    }
    let mut out: Vec<PhraseCount> = counts
        .iter()
        .filter(|(_, c)| **c >= 2)
        .filter(|((phrase, n), c)| *n == 3 || !inside_longer.contains(&(phrase.as_str(), **c)))
        .map(|((phrase, n), c)| PhraseCount {
            phrase: phrase.clone(),
            words: *n,
            count: *c,
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.words.cmp(&a.words))
            .then(a.phrase.cmp(&b.phrase))
    });
    out.truncate(limit);
    out
}
