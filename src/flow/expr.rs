//! The expression language of flows: `branch` conditions (`when`) and the
//! values `set` gives variables. Parsed once when a flow is loaded (errors
//! name the column), evaluated per call against the call's variables.
//!
//! ```text
//! condition := or
//! or        := and ("or" and)*
//! and       := not ("and" not)*
//! not       := "not" not | test
//! test      := operand [ ("==" | "!=" | "<" | "<=" | ">" | ">=") operand
//!                      | ["not"] "in" "[" literal ("," literal)* "]"
//!                      | "matches" 'regex' ]
//! operand   := variable | 'text' | "text" | number | true | false | "(" condition ")"
//! ```
//!
//! Every value is text underneath. A variable the call does not have (no
//! customer was found, no digits were collected) is the empty text.
//! Comparisons are numeric when both sides read as numbers (`"007" == 7`),
//! otherwise text comparisons. A value on its own is true unless it is
//! empty, `false` or `0`. `matches` searches (use `^...$` to anchor).

use std::fmt;

use regex::Regex;

/// A value of a variable or an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Bool(bool),
}

impl Value {
    /// The text of the value (`true`, `42`, `VIP`).
    pub fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Number(n) => format_number(*n),
            Value::Bool(b) => b.to_string(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            Value::Bool(_) => None,
        }
    }

    /// True unless empty, `false` or `0`.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0,
            Value::Text(s) => !(s.is_empty() || s == "false" || s == "0"),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Where expressions read variables from: the call's state.
pub trait Variables {
    /// The value of `name` (`caller.number`, `vars.attempts`), `None` when
    /// the call has no such variable.
    fn get(&self, name: &str) -> Option<Value>;
}

impl<F: Fn(&str) -> Option<Value>> Variables for F {
    fn get(&self, name: &str) -> Option<Value> {
        self(name)
    }
}

impl Variables for std::collections::HashMap<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

/// Variables a flow may read: these names, or these prefixes followed by
/// a field (`customer.tier`, `vars.attempts`).
pub const VARIABLES: [&str; 6] = [
    "caller.number",
    "caller.name",
    "caller.language",
    "called.number",
    "digits",
    "calendar.open",
];
pub const VARIABLE_PREFIXES: [&str; 2] = ["customer.", "vars."];

/// Whether a flow may name the variable `name`.
pub fn is_known_variable(name: &str) -> bool {
    VARIABLES.contains(&name)
        || VARIABLE_PREFIXES.iter().any(|p| {
            name.strip_prefix(p)
                .is_some_and(|f| !f.is_empty() && f.split('.').all(is_identifier))
        })
}

/// The variables a flow may name, for messages.
pub fn variables_help() -> String {
    format!("{}, customer.<field>, vars.<name>", VARIABLES.join(", "))
}

/// `[a-z_][a-z0-9_]*` (ASCII, lower or upper case).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Literal(Value),
    Variable(String),
    Compare(Box<Expr>, Compare, Box<Expr>),
    /// `x in [..]`; the flag is `not in`.
    In(Box<Expr>, Vec<Value>, bool),
    Matches(Box<Expr>, Regex),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// Why an expression does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// 1-based column (in characters) of the offending part.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl Expr {
    /// Parses `text`; variables must be ones a flow may name.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let tokens = tokenize(text)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            end: text.chars().count() + 1,
        };
        if p.tokens.is_empty() {
            return Err(ExprError {
                column: 1,
                message: "empty expression; write e.g. `customer.tier == 'VIP'`".into(),
            });
        }
        let e = p.or()?;
        if let Some(t) = p.peek() {
            return Err(p.error_at(
                t.column,
                format!(
                    "unexpected {}; join conditions with `and` / `or`",
                    t.kind.describe()
                ),
            ));
        }
        Ok(e)
    }

    /// The value of the expression for a call.
    pub fn value(&self, vars: &dyn Variables) -> Value {
        match self {
            Expr::Literal(v) => v.clone(),
            Expr::Variable(name) => vars.get(name).unwrap_or(Value::Text(String::new())),
            _ => Value::Bool(self.is_true(vars)),
        }
    }

    /// Whether the expression holds for a call.
    pub fn is_true(&self, vars: &dyn Variables) -> bool {
        match self {
            Expr::Literal(_) | Expr::Variable(_) => self.value(vars).truthy(),
            Expr::Compare(a, op, b) => compare(&a.value(vars), *op, &b.value(vars)),
            Expr::In(a, list, negated) => {
                let v = a.value(vars);
                list.iter().any(|x| compare(&v, Compare::Eq, x)) != *negated
            }
            Expr::Matches(a, re) => re.is_match(&a.value(vars).text()),
            Expr::And(a, b) => a.is_true(vars) && b.is_true(vars),
            Expr::Or(a, b) => a.is_true(vars) || b.is_true(vars),
            Expr::Not(a) => !a.is_true(vars),
        }
    }

    /// The variables the expression reads.
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_variables(&mut out);
        out
    }

    fn collect_variables<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Literal(_) => {}
            Expr::Variable(v) => out.push(v),
            Expr::Compare(a, _, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_variables(out);
                b.collect_variables(out);
            }
            Expr::In(a, _, _) | Expr::Matches(a, _) | Expr::Not(a) => a.collect_variables(out),
        }
    }
}

/// Numeric when both sides read as numbers, otherwise by text.
pub fn compare(a: &Value, op: Compare, b: &Value) -> bool {
    let ord = match (a.number(), b.number()) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(a.text().cmp(&b.text())),
    };
    let Some(ord) = ord else { return false };
    use std::cmp::Ordering::*;
    match op {
        Compare::Eq => ord == Equal,
        Compare::Ne => ord != Equal,
        Compare::Lt => ord == Less,
        Compare::Le => ord != Greater,
        Compare::Gt => ord == Greater,
        Compare::Ge => ord != Less,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ident(String),
    Text(String),
    Number(f64),
    Op(Compare),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Ident(s) => format!("`{s}`"),
            Kind::Text(s) => format!("text '{s}'"),
            Kind::Number(n) => format!("number {}", format_number(*n)),
            Kind::Op(op) => format!("`{}`", op_text(*op)),
            Kind::LParen => "`(`".into(),
            Kind::RParen => "`)`".into(),
            Kind::LBracket => "`[`".into(),
            Kind::RBracket => "`]`".into(),
            Kind::Comma => "`,`".into(),
        }
    }
}

fn op_text(op: Compare) -> &'static str {
    match op {
        Compare::Eq => "==",
        Compare::Ne => "!=",
        Compare::Lt => "<",
        Compare::Le => "<=",
        Compare::Gt => ">",
        Compare::Ge => ">=",
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// 1-based column of the token's first character.
    column: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let err = |message: String| ExprError { column, message };
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let (kind, len) = match (c, two.as_str()) {
            (_, "==") => (Kind::Op(Compare::Eq), 2),
            (_, "!=") => (Kind::Op(Compare::Ne), 2),
            (_, "<=") => (Kind::Op(Compare::Le), 2),
            (_, ">=") => (Kind::Op(Compare::Ge), 2),
            ('<', _) => (Kind::Op(Compare::Lt), 1),
            ('>', _) => (Kind::Op(Compare::Gt), 1),
            ('=', _) => return Err(err("`=` alone; compare with `==`".into())),
            ('(', _) => (Kind::LParen, 1),
            (')', _) => (Kind::RParen, 1),
            ('[', _) => (Kind::LBracket, 1),
            (']', _) => (Kind::RBracket, 1),
            (',', _) => (Kind::Comma, 1),
            ('\'' | '"', _) => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => {
                            return Err(err(format!("text starting here has no closing {c}")));
                        }
                        Some('\\') if matches!(chars.get(j + 1), Some(&q) if q == c || q == '\\') =>
                        {
                            s.push(chars[j + 1]);
                            j += 2;
                        }
                        Some(&q) if q == c => break,
                        Some(&x) => {
                            s.push(x);
                            j += 1;
                        }
                    }
                }
                (Kind::Text(s), j + 1 - i)
            }
            (c, _)
                if c.is_ascii_digit()
                    || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let mut j = i + 1;
                while chars
                    .get(j)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.')
                {
                    j += 1;
                }
                let s: String = chars[i..j].iter().collect();
                let n = s
                    .parse::<f64>()
                    .map_err(|_| err(format!("`{s}` is not a number")))?;
                (Kind::Number(n), j - i)
            }
            (c, _) if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while chars
                    .get(j)
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_' || *d == '.')
                {
                    j += 1;
                }
                (Kind::Ident(chars[i..j].iter().collect()), j - i)
            }
            _ => {
                return Err(err(format!(
                    "unexpected `{c}`; operators are == != < <= > >= in matches and or not"
                )));
            }
        };
        out.push(Token { kind, column });
        i += len;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// The column just past the text, for "expected ... at the end".
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn error_at(&self, column: usize, message: String) -> ExprError {
        ExprError { column, message }
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Ident(w), .. }) if w == word)
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.not()?;
        while self.is_word("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ExprError> {
        if self.is_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.test()
    }

    fn test(&mut self) -> Result<Expr, ExprError> {
        let left = self.operand()?;
        match self.peek().map(|t| (t.kind.clone(), t.column)) {
            Some((Kind::Op(op), _)) => {
                self.pos += 1;
                let right = self.operand()?;
                Ok(Expr::Compare(Box::new(left), op, Box::new(right)))
            }
            Some((Kind::Ident(w), _)) if w == "in" => {
                self.pos += 1;
                Ok(Expr::In(Box::new(left), self.list()?, false))
            }
            Some((Kind::Ident(w), column)) if w == "not" => {
                self.pos += 1;
                if !self.is_word("in") {
                    return Err(self.error_at(column, "`not` here must be `not in [...]`".into()));
                }
                self.pos += 1;
                Ok(Expr::In(Box::new(left), self.list()?, true))
            }
            Some((Kind::Ident(w), _)) if w == "matches" => {
                self.pos += 1;
                match self.next() {
                    Some(Token {
                        kind: Kind::Text(pattern),
                        column,
                    }) => {
                        let re = Regex::new(&pattern).map_err(|e| {
                            let detail = e.to_string();
                            let last = detail.lines().last().unwrap_or("").trim().to_string();
                            self.error_at(column, format!("bad regex '{pattern}': {last}"))
                        })?;
                        Ok(Expr::Matches(Box::new(left), re))
                    }
                    other => Err(self.expected(other, "a quoted regex after `matches`")),
                }
            }
            _ => Ok(left),
        }
    }

    fn list(&mut self) -> Result<Vec<Value>, ExprError> {
        match self.next() {
            Some(Token {
                kind: Kind::LBracket,
                ..
            }) => {}
            other => return Err(self.expected(other, "`[` after `in`, e.g. in ['a', 'b']")),
        }
        let mut items = Vec::new();
        loop {
            match self.next() {
                Some(Token {
                    kind: Kind::RBracket,
                    ..
                }) if items.is_empty() => return Ok(items),
                Some(t) => match literal(&t.kind) {
                    Some(v) => items.push(v),
                    None => {
                        return Err(self.error_at(
                            t.column,
                            format!(
                                "{} in a list; lists hold quoted text, numbers, true or false",
                                t.kind.describe()
                            ),
                        ));
                    }
                },
                None => return Err(self.expected(None, "a list item and `]`")),
            }
            match self.next() {
                Some(Token {
                    kind: Kind::Comma, ..
                }) => {
                    if matches!(
                        self.peek(),
                        Some(Token {
                            kind: Kind::RBracket,
                            ..
                        })
                    ) {
                        self.pos += 1;
                        return Ok(items);
                    }
                }
                Some(Token {
                    kind: Kind::RBracket,
                    ..
                }) => return Ok(items),
                other => return Err(self.expected(other, "`,` or `]`")),
            }
        }
    }

    fn operand(&mut self) -> Result<Expr, ExprError> {
        let Some(t) = self.next() else {
            return Err(self.expected(None, "a variable, quoted text or a number"));
        };
        if let Some(v) = literal(&t.kind) {
            return Ok(Expr::Literal(v));
        }
        match t.kind {
            Kind::LParen => {
                let e = self.or()?;
                match self.next() {
                    Some(Token {
                        kind: Kind::RParen, ..
                    }) => Ok(e),
                    other => Err(self.expected(other, "`)`")),
                }
            }
            Kind::Ident(name) if ["and", "or", "not", "in", "matches"].contains(&name.as_str()) => {
                Err(self.error_at(
                    t.column,
                    format!("`{name}` where a variable, quoted text or a number belongs"),
                ))
            }
            Kind::Ident(name) => {
                if is_known_variable(&name) {
                    Ok(Expr::Variable(name))
                } else {
                    Err(self.error_at(
                        t.column,
                        format!(
                            "unknown variable `{name}` (text must be quoted); variables: {}",
                            variables_help()
                        ),
                    ))
                }
            }
            other => Err(self.error_at(
                t.column,
                format!(
                    "{} where a variable, quoted text or a number belongs",
                    other.describe()
                ),
            )),
        }
    }

    fn expected(&self, got: Option<Token>, what: &str) -> ExprError {
        match got {
            Some(t) => self.error_at(
                t.column,
                format!("expected {what}, found {}", t.kind.describe()),
            ),
            None => self.error_at(self.end, format!("expected {what} at the end")),
        }
    }
}

fn literal(kind: &Kind) -> Option<Value> {
    match kind {
        Kind::Text(s) => Some(Value::Text(s.clone())),
        Kind::Number(n) => Some(Value::Number(*n)),
        Kind::Ident(w) if w == "true" => Some(Value::Bool(true)),
        Kind::Ident(w) if w == "false" => Some(Value::Bool(false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Text(v.to_string())))
            .collect()
    }

    fn holds(text: &str, v: &HashMap<String, Value>) -> bool {
        Expr::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .is_true(v)
    }

    fn error(text: &str) -> ExprError {
        Expr::parse(text).expect_err(text)
    }

    #[test]
    fn equality_and_text_quotes() {
        let v = vars(&[("customer.tier", "VIP")]);
        assert!(holds("customer.tier == 'VIP'", &v));
        assert!(holds("customer.tier == \"VIP\"", &v));
        assert!(!holds("customer.tier != 'VIP'", &v));
        assert!(!holds("customer.tier == 'vip'", &v));
        assert!(holds("'it\\'s' == 'it\\'s'", &v));
    }

    #[test]
    fn comparisons_are_numeric_when_both_sides_are_numbers() {
        let v = vars(&[("vars.n", "10"), ("digits", "007")]);
        assert!(holds("vars.n > 9", &v)); // as text "10" < "9"
        assert!(holds("vars.n >= 10 and vars.n <= 10", &v));
        assert!(holds("digits == 7", &v));
        assert!(holds("'b' > 'a'", &v));
        assert!(holds("'10' < 'abc'", &v)); // one side is not a number: text
        assert!(!holds("vars.n < -1.5", &v));
    }

    #[test]
    fn missing_variables_are_empty() {
        let v = vars(&[]);
        assert!(holds("customer.tier == ''", &v));
        assert!(!holds("customer.tier == 'VIP'", &v));
        assert!(!holds("customer.tier", &v));
        assert!(holds("not customer.tier", &v));
        assert_eq!(
            Expr::parse("vars.x").unwrap().value(&v),
            Value::Text(String::new())
        );
    }

    #[test]
    fn in_lists_and_not_in() {
        let v = vars(&[("caller.language", "zh"), ("digits", "2")]);
        assert!(holds("caller.language in ['zh', 'yue']", &v));
        assert!(!holds("caller.language in ['en']", &v));
        assert!(holds("caller.language not in ['en',]", &v));
        assert!(holds("digits in [1, 2, 3]", &v));
        assert!(!holds("digits in []", &v));
    }

    #[test]
    fn regexes_search_and_are_checked_when_parsed() {
        let v = vars(&[("caller.number", "+441632960000")]);
        assert!(holds("caller.number matches '^\\+44'", &v));
        assert!(!holds("caller.number matches '^\\+1'", &v));
        assert!(holds("caller.number matches '6329'", &v));
        let e = error("caller.number matches '^(+44'");
        assert_eq!(e.column, 23);
        assert!(e.message.starts_with("bad regex '^(+44'"), "{e}");
        let e = error("caller.number matches 44");
        assert_eq!(e.column, 23);
        assert!(e.message.contains("a quoted regex"), "{e}");
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let v = vars(&[("vars.a", "1"), ("vars.b", "0"), ("vars.c", "1")]);
        assert!(holds("vars.a or vars.b and vars.b", &v));
        assert!(!holds("(vars.a or vars.b) and vars.b", &v));
        assert!(holds("not (vars.b or false) and vars.c", &v));
        assert!(holds("not not vars.a", &v));
        assert!(holds("true", &v));
        assert!(!holds("0", &v));
    }

    #[test]
    fn closures_are_variables() {
        let lookup = |name: &str| (name == "calendar.open").then_some(Value::Bool(true));
        assert!(Expr::parse("calendar.open").unwrap().is_true(&lookup));
        assert!(
            Expr::parse("calendar.open == true")
                .unwrap()
                .is_true(&lookup)
        );
    }

    #[test]
    fn errors_name_the_column() {
        let e = error("customer.tier = 'VIP'");
        assert_eq!(
            (e.column, e.message.as_str()),
            (15, "`=` alone; compare with `==`")
        );
        let e = error("customer.tier == ");
        assert_eq!(e.column, 18);
        assert!(e.message.contains("at the end"), "{e}");
        let e = error("custmer.tier == 'VIP'");
        assert_eq!(e.column, 1);
        assert!(
            e.message.starts_with("unknown variable `custmer.tier`"),
            "{e}"
        );
        assert!(e.message.contains("customer.<field>"), "{e}");
        let e = error("customer.tier == VIP");
        assert_eq!(e.column, 18);
        let e = error("(digits == 1");
        assert!(e.message.contains("`)`"), "{e}");
        let e = error("digits == 1 digits");
        assert_eq!(e.column, 13);
        let e = error("digits in ['a' 'b']");
        assert_eq!(e.column, 16);
        let e = error("'abc");
        assert_eq!(e.column, 1);
        let e = error("");
        assert!(e.message.starts_with("empty expression"));
        let e = error("digits in [vars.x]");
        assert_eq!(e.column, 12);
    }

    #[test]
    fn variables_are_listed() {
        let e = Expr::parse("customer.tier == 'VIP' or vars.x in ['1'] or not digits").unwrap();
        assert_eq!(e.variables(), ["customer.tier", "vars.x", "digits"]);
        assert!(is_known_variable("customer.last_contact"));
        assert!(!is_known_variable("customer."));
        assert!(!is_known_variable("caller.tier"));
    }

    #[test]
    fn values_print_as_text() {
        assert_eq!(Value::Number(3.0).text(), "3");
        assert_eq!(Value::Number(2.5).text(), "2.5");
        assert_eq!(Value::Bool(false).text(), "false");
    }
}
