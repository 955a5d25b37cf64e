//! Fuzzy phrase matching for QA: what a recognizer heard against what a
//! rule listens for.
//!
//! It owns the normalisation shared by rules and recognizers (lowercase,
//! punctuation dropped, English contractions expanded, numbers spelled out
//! in English so "24 hours" and "twenty four hours" are the same words),
//! tokenisation (words for scripts written with spaces, one token per
//! character for Chinese and Japanese, which are written without), and the
//! search of a phrase in one channel's tokens.
//!
//! The search is an approximate substring alignment of the phrase's words
//! against the channel's words: a word of the phrase may be heard slightly
//! wrong (character similarity, so "refunds" is nearly "refund"), be
//! missing, or have an extra word heard inside it. A match scores
//! `1 - cost / words of the phrase`, 0..1, and is a hit when at least the
//! rules' threshold: at 0.8 a six-word phrase survives one wrong word, a
//! four-word one does not. It costs phrase words × channel words per phrase,
//! a few thousand steps for a call.

use std::ops::Range;

use super::Span;
use super::asr::Transcript;

/// A phrase a rule listens for, as written and as tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    text: String,
    tokens: Vec<String>,
}

impl Phrase {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            tokens: tokenize(text).into_iter().map(|t| t.text).collect(),
        }
    }

    /// As written in the rules.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its normalised words.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Normalised, as a recognizer's keyword list wants it.
    pub fn normalized(&self) -> String {
        join(self.tokens.iter().map(String::as_str))
    }

    /// Whether nothing in it can be matched (only punctuation, say).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// One token of a channel, with when it was said and where it came from.
#[derive(Debug, Clone)]
struct Heard {
    /// Index of the word in the channel's vocabulary.
    word: usize,
    span: Span,
    /// Index of the source text (a word or a segment's text).
    source: usize,
    /// Bytes of that source text that gave this token.
    bytes: Range<usize>,
}

/// What one channel said, as tokens in time order, ready to be searched.
#[derive(Debug, Clone, Default)]
pub struct Spoken {
    tokens: Vec<Heard>,
    sources: Vec<String>,
    /// Distinct words, so a phrase word is compared once with each.
    vocabulary: Vec<String>,
    ids: std::collections::HashMap<String, usize>,
}

/// A phrase found in a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Token range in the channel.
    pub tokens: Range<usize>,
    /// 0..1, 1 for the phrase heard exactly.
    pub score: f64,
    /// When: from word timings when the recognizer gave them, else from
    /// the segments holding the words.
    pub span: Span,
    /// The words heard, as the recognizer wrote them.
    pub text: String,
}

impl Spoken {
    /// The tokens of a transcript: each segment's words when it has word
    /// timings, else its text with the segment's span.
    pub fn from_transcript(transcript: &Transcript) -> Self {
        let mut spoken = Spoken::default();
        for seg in &transcript.segments {
            if seg.words.is_empty() {
                spoken.push(&seg.text, Span::new(seg.start, seg.end));
            } else {
                for w in &seg.words {
                    spoken.push(&w.text, Span::new(w.start, w.end));
                }
            }
        }
        spoken
    }

    /// Adds text said during `span`.
    pub fn push(&mut self, text: &str, span: Span) {
        let source = self.sources.len();
        let before = self.tokens.len();
        for t in tokenize(text) {
            let word = match self.ids.get(&t.text) {
                Some(&id) => id,
                None => {
                    self.vocabulary.push(t.text.clone());
                    self.ids.insert(t.text, self.vocabulary.len() - 1);
                    self.vocabulary.len() - 1
                }
            };
            self.tokens.push(Heard {
                word,
                span,
                source,
                bytes: t.bytes,
            });
        }
        if self.tokens.len() > before {
            self.sources.push(text.to_string());
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Every place `phrase` was heard with a score of at least
    /// `threshold`, in time order, not overlapping.
    pub fn find(&self, phrase: &Phrase, threshold: f64) -> Vec<Hit> {
        let mut candidates: Vec<(usize, usize, f64)> = self
            .candidates(phrase)
            .into_iter()
            .filter(|c| c.2 >= threshold)
            .collect();
        // Best first; among equals the shorter.
        candidates.sort_by(|a, b| b.2.total_cmp(&a.2).then((a.1 - a.0).cmp(&(b.1 - b.0))));
        let mut kept: Vec<(usize, usize, f64)> = Vec::new();
        for c in candidates {
            if kept.iter().all(|k| c.1 <= k.0 || c.0 >= k.1) {
                kept.push(c);
            }
        }
        kept.sort_by_key(|k| k.0);
        kept.into_iter()
            .map(|(s, e, sc)| self.hit(s, e, sc))
            .collect()
    }

    /// The closest the channel came to `phrase`, however far.
    pub fn best(&self, phrase: &Phrase) -> Option<Hit> {
        self.candidates(phrase)
            .into_iter()
            .max_by(|a, b| a.2.total_cmp(&b.2).then(b.0.cmp(&a.0)))
            .filter(|c| c.2 > 0.0)
            .map(|(s, e, sc)| self.hit(s, e, sc))
    }

    /// Best alignment ending at each channel token: (start, end, score),
    /// local maxima only.
    fn candidates(&self, phrase: &Phrase) -> Vec<(usize, usize, f64)> {
        let p = phrase.tokens();
        let n = self.tokens.len();
        if p.is_empty() || n == 0 {
            return Vec::new();
        }
        let m = p.len();
        let similar: Vec<Vec<f64>> = p
            .iter()
            .map(|w| self.vocabulary.iter().map(|v| similarity(w, v)).collect())
            .collect();
        // Column by column over the channel: cost[i] aligns the first i
        // phrase words ending at the current channel word, start[i] where
        // that alignment began.
        let mut cost: Vec<f64> = (0..=m).map(|i| i as f64).collect();
        let mut start: Vec<usize> = vec![0; m + 1];
        let mut ends: Vec<(usize, f64)> = Vec::with_capacity(n);
        for j in 0..n {
            let word = self.tokens[j].word;
            let (mut diag_cost, mut diag_start) = (cost[0], start[0]);
            cost[0] = 0.0;
            start[0] = j + 1;
            for i in 1..=m {
                let sub = diag_cost + 1.0 - similar[i - 1][word];
                let extra = cost[i] + 1.0; // a word heard that is not in the phrase
                let dropped = cost[i - 1] + 1.0; // a phrase word not heard
                let (mut best, mut from) = (sub, diag_start);
                if extra < best {
                    (best, from) = (extra, start[i]);
                }
                if dropped < best {
                    (best, from) = (dropped, start[i - 1]);
                }
                (diag_cost, diag_start) = (cost[i], start[i]);
                cost[i] = best;
                start[i] = from;
            }
            ends.push((start[m], (1.0 - cost[m] / m as f64).max(0.0)));
        }
        let mut out = Vec::new();
        for (j, &(s, score)) in ends.iter().enumerate() {
            let prev = if j > 0 { ends[j - 1].1 } else { -1.0 };
            let next = ends.get(j + 1).map_or(-1.0, |e| e.1);
            if score > 0.0 && score > prev && score >= next && s <= j {
                out.push((s, j + 1, score));
            }
        }
        out
    }

    fn hit(&self, start: usize, end: usize, score: f64) -> Hit {
        let heard = &self.tokens[start..end];
        let span = Span::new(
            heard.iter().map(|t| t.span.start).fold(f64::MAX, f64::min),
            heard.iter().map(|t| t.span.end).fold(f64::MIN, f64::max),
        );
        // Consecutive tokens of one source are shown as its slice.
        let mut pieces: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < heard.len() {
            let source = heard[i].source;
            let from = heard[i].bytes.start;
            let mut to = heard[i].bytes.end;
            while i + 1 < heard.len() && heard[i + 1].source == source {
                i += 1;
                to = to.max(heard[i].bytes.end);
            }
            if let Some(piece) = self.sources.get(source).and_then(|s| s.get(from..to)) {
                pieces.push(piece);
            }
            i += 1;
        }
        Hit {
            tokens: start..end,
            score,
            span,
            text: join(pieces.into_iter()),
        }
    }
}

/// Character similarity of two words, 0..1; under one half counts as 0
/// (a different word, not a misheard one).
pub fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let a: smallvec::SmallVec<[char; 24]> = a.chars().collect();
    let b: smallvec::SmallVec<[char; 24]> = b.chars().collect();
    let longest = a.len().max(b.len());
    if longest == 0 || a.len().abs_diff(b.len()) * 2 > longest {
        return 0.0;
    }
    let mut row: smallvec::SmallVec<[usize; 25]> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (k, cb) in b.iter().enumerate() {
            let v = (diag + usize::from(ca != cb))
                .min(row[k] + 1)
                .min(row[k + 1] + 1);
            diag = row[k + 1];
            row[k + 1] = v;
        }
    }
    let s = 1.0 - row[b.len()] as f64 / longest as f64;
    if s < 0.5 { 0.0 } else { s }
}

/// A normalised token and the bytes of the text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub text: String,
    pub bytes: Range<usize>,
}

/// A phrase as recognizers' keyword lists want it: lowercase words,
/// numbers spelled out in English, contractions expanded, punctuation
/// gone; Chinese and Japanese characters kept together ("你自己查").
pub fn normalize_phrase(text: &str) -> String {
    join(tokenize(text).iter().map(|t| t.text.as_str()))
}

/// Joins words with spaces, but not two CJK characters.
fn join<'a>(pieces: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for piece in pieces {
        let glued =
            out.chars().next_back().is_some_and(is_cjk) && piece.chars().next().is_some_and(is_cjk);
        if !out.is_empty() && !glued {
            out.push(' ');
        }
        out.push_str(piece);
    }
    out
}

/// Normalised tokens of `text`: words of letters and digits (numbers
/// spelled out, so one word may give several tokens), one token per CJK
/// character, `%` as "percent" and `&` as "and"; other punctuation only
/// separates.
pub fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let folded = |k: usize| chars.get(k).map(|&(_, c)| fold_width(c));
    let mut out = Vec::new();
    let mut word: Option<usize> = None;
    for (k, &(at, raw)) in chars.iter().enumerate() {
        let c = fold_width(raw);
        let end = at + raw.len_utf8();
        let (prev, next) = (k.checked_sub(1).and_then(folded), folded(k + 1));
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() && !is_cjk(c));
        let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        let in_word = (c.is_alphanumeric() && !is_cjk(c))
            || ('\u{300}'..='\u{36f}').contains(&c)
            || (is_apostrophe(c) && alnum(prev) && alnum(next))
            || ((c == '.' || c == ',') && digit(prev) && digit(next));
        if in_word {
            word.get_or_insert(at);
            continue;
        }
        if let Some(start) = word.take() {
            push_word(text, start..at, &mut out);
        }
        let single = match c {
            c if is_cjk(c) => c.to_string(),
            '%' => "percent".to_string(),
            '&' => "and".to_string(),
            _ => continue,
        };
        out.push(Token {
            text: single,
            bytes: at..end,
        });
    }
    if let Some(start) = word {
        push_word(text, start..text.len(), &mut out);
    }
    out
}

fn push_word(text: &str, bytes: Range<usize>, out: &mut Vec<Token>) {
    let Some(raw) = text.get(bytes.clone()) else {
        return;
    };
    let lower: String = raw
        .chars()
        .map(fold_width)
        .flat_map(char::to_lowercase)
        .collect();
    for piece in expand_contraction(&lower) {
        for t in spell_numbers(&piece) {
            out.push(Token {
                text: t,
                bytes: bytes.clone(),
            });
        }
    }
}

/// Contractions written without apostrophe that are no word themselves.
const BARE: &str = "cannot=can not,cant=can not,wont=will not,im=i am,ive=i have,\
    youre=you are,theyre=they are,youve=you have,weve=we have,theyve=they have,\
    youll=you will,theyll=they will";
/// Verbs negated as "dont", "isnt"... without apostrophe.
const NEGATED: &str = "do does did is are was were have has had would could should";

/// "don't" → "do not", "I'll" → "i will", "dont" → "do not"; other
/// apostrophes are dropped ("it's" → "its").
fn expand_contraction(word: &str) -> Vec<String> {
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    if let Some(full) = BARE
        .split(',')
        .find_map(|e| e.strip_prefix(word)?.strip_prefix('='))
    {
        return words(full);
    }
    if let Some(stem) = word.strip_suffix("n't") {
        let stem = match stem {
            "ca" => "can",
            "wo" => "will",
            "sha" => "shall",
            "ai" => "is",
            s => s,
        };
        return words(&format!("{} not", stem.replace('\'', "")));
    }
    for (suffix, full) in [
        ("'ll", "will"),
        ("'re", "are"),
        ("'ve", "have"),
        ("'m", "am"),
        ("'d", "would"),
    ] {
        if let Some(stem) = word.strip_suffix(suffix).filter(|s| !s.is_empty()) {
            return words(&format!("{} {full}", stem.replace('\'', "")));
        }
    }
    let bare = word.replace('\'', "");
    match bare.strip_suffix("nt") {
        Some(stem) if NEGATED.split(' ').any(|n| n == stem) => words(&format!("{stem} not")),
        _ => vec![bare],
    }
}

/// Splits a lowercase word into runs of letters and numbers, numbers
/// spelled out: "24" → "twenty four", "2.5" → "two point five", "1,000"
/// → "one thousand", "3rd" → "third", "007" → "zero zero seven".
fn spell_numbers(word: &str) -> Vec<String> {
    if !word.chars().any(|c| c.is_ascii_digit()) {
        return vec![word.to_string()];
    }
    let mut out = Vec::new();
    let mut rest = word;
    while !rest.is_empty() {
        let digits = rest.starts_with(|c: char| c.is_ascii_digit());
        let len = rest
            .find(|c: char| c.is_ascii_digit() != digits && !(digits && (c == '.' || c == ',')))
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(len);
        if !digits {
            out.push(run.to_string());
            rest = tail;
            continue;
        }
        let ordinal = ["st", "nd", "rd", "th"].contains(&tail) && !run.contains(['.', ',']);
        let mut words = spell_number(run);
        rest = tail;
        if ordinal && let Some(last) = words.pop() {
            words.push(ordinal_of(&last));
            rest = "";
        }
        out.extend(words);
    }
    out
}

/// Numbers below twenty, then tens, by index.
const ONES: &str = "zero one two three four five six seven eight nine ten eleven twelve \
    thirteen fourteen fifteen sixteen seventeen eighteen nineteen";
const TENS: &str = "_ _ twenty thirty forty fifty sixty seventy eighty ninety";

fn nth(words: &'static str, i: usize) -> String {
    words
        .split_whitespace()
        .nth(i)
        .unwrap_or_default()
        .to_string()
}

/// Digits with `.` and `,` as a recognizer may write them.
fn spell_number(run: &str) -> Vec<String> {
    let mut parts = run.split('.');
    let whole = parts.next().unwrap_or("");
    let grouped = {
        let groups: Vec<&str> = whole.split(',').collect();
        groups.len() > 1
            && (1..=3).contains(&groups[0].len())
            && groups[1..].iter().all(|g| g.len() == 3)
    };
    let mut out = Vec::new();
    if grouped {
        out.extend(spell_integer(&whole.replace(',', "")));
    } else {
        for g in whole.split(',') {
            out.extend(spell_integer(g));
        }
    }
    for frac in parts.filter(|p| !p.is_empty()) {
        out.push("point".to_string());
        out.extend(frac.split(',').flat_map(spell_digits));
    }
    out
}

fn spell_digits(digits: &str) -> Vec<String> {
    digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| nth(ONES, usize::from(b - b'0')))
        .collect()
}

fn spell_integer(digits: &str) -> Vec<String> {
    if digits.is_empty() {
        return Vec::new();
    }
    // Leading zeros and very long runs (phone and account numbers) are
    // read digit by digit.
    if (digits.len() > 1 && digits.starts_with('0')) || digits.len() > 12 {
        return spell_digits(digits);
    }
    let Ok(mut n) = digits.parse::<u64>() else {
        return spell_digits(digits);
    };
    if n == 0 {
        return vec!["zero".into()];
    }
    let mut out = Vec::new();
    for (scale, name) in [
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ] {
        if n >= scale {
            below_thousand(n / scale, &mut out);
            out.push(name.into());
            n %= scale;
        }
    }
    if n > 0 {
        below_thousand(n, &mut out);
    }
    out
}

fn below_thousand(n: u64, out: &mut Vec<String>) {
    let (hundreds, rest) = ((n / 100) as usize, (n % 100) as usize);
    if hundreds > 0 {
        out.push(nth(ONES, hundreds % 20));
        out.push("hundred".into());
    }
    if rest >= 20 {
        out.push(nth(TENS, rest / 10));
        if rest % 10 > 0 {
            out.push(nth(ONES, rest % 10));
        }
    } else if rest > 0 {
        out.push(nth(ONES, rest));
    }
}

fn ordinal_of(cardinal: &str) -> String {
    match cardinal {
        "one" => "first".into(),
        "two" => "second".into(),
        "three" => "third".into(),
        "five" => "fifth".into(),
        "eight" => "eighth".into(),
        "nine" => "ninth".into(),
        "twelve" => "twelfth".into(),
        w => match w.strip_suffix('y') {
            Some(stem) => format!("{stem}ieth"),
            None => format!("{w}th"),
        },
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`')
}

/// Full-width ASCII (as Chinese input methods type it) as ASCII, every
/// apostrophe as `'`.
fn fold_width(c: char) -> char {
    match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        '\u{3000}' => ' ',
        c if is_apostrophe(c) => '\'',
        c => c,
    }
}

/// Chinese characters, kana: scripts written without spaces, one token
/// per character.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3005 | 0x3007
        | 0x3040..=0x30ff
        | 0x3400..=0x4dbf
        | 0x4e00..=0x9fff
        | 0xf900..=0xfaff
        | 0x20000..=0x2fa1f)
}

#[cfg(test)]
#[path = "tests_matcher.rs"]
mod tests;
