//! Byte-level scanning helpers shared by the message parser and the typed
//! header parsers: character classes (RFC 3261 token, whitespace), a cursor
//! over header text that treats folded line breaks as linear whitespace,
//! quoted strings, and a comma splitter that respects quotes and `<...>`.
//! Nothing here allocates except [`unquote`] when an escape is present.

use std::borrow::Cow;

/// RFC 3261 `token` characters: alphanum and `-.!%*_+`'~`.
const fn token_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
}

static TOKEN: [bool; 256] = token_table();

/// True for an RFC 3261 token character.
#[inline]
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN[b as usize]
}

/// True when `s` is a non-empty RFC 3261 token.
#[inline]
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_byte(b))
}

/// Linear whitespace inside a (possibly folded) header value.
#[inline]
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims SP/HT/CR/LF on both sides.
#[inline]
pub(crate) fn trim_lws(s: &str) -> &str {
    s.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

/// Trims SP/HT/CR/LF on both sides of a byte slice.
#[inline]
pub(crate) fn trim_lws_bytes(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_lws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_lws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Parses unsigned decimal digits (no sign, no whitespace) with overflow check.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 40 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// Removes the surrounding quotes of a quoted-string and resolves `\x`
/// escapes. Borrows when no escape is present. Input without quotes is
/// returned unchanged.
pub fn unquote(s: &str) -> Cow<'_, str> {
    let inner = match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(i) if s.len() >= 2 => i,
        _ => return Cow::Borrowed(s),
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Returns the end index (exclusive, past the closing quote) of a quoted
/// string starting at `start` (which must hold `"`), or `None` if unbalanced.
pub(crate) fn quoted_end(s: &[u8], start: usize) -> Option<usize> {
    let mut i = start.checked_add(1)?;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' => i = i.checked_add(2)?,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Splits a header value on top-level commas (not inside quotes or `<...>`).
/// Yields trimmed items; an unbalanced quote yields the rest as one item,
/// which the item parser then rejects.
pub(crate) struct ListSplit<'a> {
    s: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> ListSplit<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        ListSplit {
            s,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for ListSplit<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut i = start;
        let mut angle = false;
        while let Some(&c) = b.get(i) {
            match c {
                b'"' if !angle => match quoted_end(b, i) {
                    Some(e) => i = e,
                    None => {
                        i = b.len();
                        break;
                    }
                },
                b'<' => {
                    angle = true;
                    i += 1;
                }
                b'>' => {
                    angle = false;
                    i += 1;
                }
                b',' if !angle => break,
                _ => i += 1,
            }
        }
        let end = i.min(b.len());
        if end >= b.len() {
            self.done = true;
        } else {
            self.pos = end + 1;
        }
        Some(trim_lws(self.s.get(start..end).unwrap_or("")))
    }
}

/// A forward cursor over header-value text. Linear whitespace includes CR
/// and LF so that folded values parse without being unfolded first.
pub(crate) struct Cursor<'a> {
    pub(crate) s: &'a str,
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }
    #[inline]
    pub(crate) fn skip_lws(&mut self) {
        while self.peek().is_some_and(is_lws) {
            self.pos += 1;
        }
    }
    /// Consumes `b` (after optional LWS) if present.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            self.pos = save;
            false
        }
    }
    /// Takes a run of bytes matching `f` (may be empty).
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or("")
    }
    /// Takes a non-empty token.
    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_token_byte);
        (!t.is_empty()).then_some(t)
    }
    /// Takes a quoted string including its quotes.
    pub(crate) fn quoted(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let end = quoted_end(self.s.as_bytes(), self.pos)?;
        let q = self.s.get(self.pos..end)?;
        self.pos = end;
        Some(q)
    }
    /// The unconsumed rest.
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }
}

/// Case-insensitive ASCII comparison.
#[inline]
pub(crate) fn eq_ic(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_class() {
        assert!(is_token(b"z9hG4bK-.!%66*_+`'~"));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a,b"));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0068"), Some(68));
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"36893488147419103232"), None);
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
        assert!(matches!(unquote("\"abc\""), Cow::Borrowed("abc")));
        assert_eq!(unquote("abc"), "abc");
        assert_eq!(unquote("\""), "\"");
    }

    #[test]
    fn list_split_respects_quotes_and_angles() {
        let v: Vec<_> = ListSplit::new("\"a,b\" <sip:x;a=1,2>, <sip:y> , z").collect();
        assert_eq!(v, vec!["\"a,b\" <sip:x;a=1,2>", "<sip:y>", "z"]);
        let v: Vec<_> = ListSplit::new("a,,b").collect();
        assert_eq!(v, vec!["a", "", "b"]);
    }

    #[test]
    fn cursor_skips_folds() {
        let mut c = Cursor::new(" \r\n  tok ;x");
        c.skip_lws();
        assert_eq!(c.token(), Some("tok"));
        assert!(c.eat(b';'));
        assert_eq!(c.rest(), "x");
    }
}
