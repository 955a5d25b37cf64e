//! Lexing of `Digest` credentials/challenge header values into
//! `(name, value)` auth-params (RFC 3261 25.1 / RFC 7235 grammar: tokens and
//! quoted-strings with backslash escapes), and quoting for output.

use super::AuthError;

/// Splits `Digest name=value, name="quoted", ...` into the scheme check and a
/// list of `(lower-case name, unquoted value)`.
///
/// The scheme must be `Digest` (case-insensitive). Empty list elements
/// (`a=1,,b=2`) are tolerated as RFC 7230 allows.
pub fn parse_digest_params(header_value: &str) -> Result<Vec<(String, String)>, AuthError> {
    let s = header_value.trim_start();
    let scheme_end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    let (scheme, rest) = s.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case("digest") {
        return Err(AuthError::NotDigest);
    }
    parse_param_list(rest)
}

/// Parses a comma separated list of auth-params (no scheme).
pub fn parse_param_list(input: &str) -> Result<Vec<(String, String)>, AuthError> {
    let b = input.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        // Skip whitespace and empty list elements.
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && is_token_byte(b[i]) {
            i += 1;
        }
        if i == start {
            return Err(AuthError::Malformed("expected parameter name"));
        }
        let name = input[start..i].to_ascii_lowercase();
        i = skip_ws(b, i);
        if i >= b.len() || b[i] != b'=' {
            return Err(AuthError::Malformed("expected '=' after parameter name"));
        }
        i = skip_ws(b, i + 1);
        let value = if i < b.len() && b[i] == b'"' {
            let (v, next) = read_quoted(input, i)?;
            i = next;
            v
        } else {
            let vstart = i;
            while i < b.len() && is_token_byte(b[i]) {
                i += 1;
            }
            if i == vstart {
                return Err(AuthError::Malformed("expected parameter value"));
            }
            input[vstart..i].to_owned()
        };
        i = skip_ws(b, i);
        if i < b.len() && b[i] != b',' {
            return Err(AuthError::Malformed("expected ',' between parameters"));
        }
        out.push((name, value));
    }
    Ok(out)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// RFC 3261 `token` characters. Values containing anything else (`/`, `:`,
/// `@`, spaces...) must be quoted.
fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// Reads a quoted-string starting at `start` (which holds the opening quote).
/// Returns the unescaped content and the index after the closing quote.
fn read_quoted(input: &str, start: usize) -> Result<(String, usize), AuthError> {
    let mut out = String::new();
    let mut chars = input[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + off + 1)),
            '\\' => match chars.next() {
                Some((_, e)) if e != '\r' && e != '\n' => out.push(e),
                _ => return Err(AuthError::Malformed("bad escape in quoted string")),
            },
            '\r' | '\n' => return Err(AuthError::Malformed("line break in quoted string")),
            c => out.push(c),
        }
    }
    Err(AuthError::Malformed("unterminated quoted string"))
}

/// Renders `value` as a quoted-string, escaping `"` and `\`.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Case-insensitive lookup in a parsed parameter list (first match wins).
pub fn find<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
