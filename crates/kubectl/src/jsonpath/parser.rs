//! The template parser, a port of k8s.io/client-go/util/jsonpath/parser.go (nodes as
//! node.go), errors worded as upstream's.
//!
//! Upstream recurses once per token; this port loops instead, with the same states.

/// One parsed node (node.go).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// Plain text, or a quoted string inside an action.
    Text(String),
    /// An action `{...}`, or the operand of a filter or a union member.
    List(Vec<Node>),
    /// `.name` or `['name']`.
    Field(String),
    /// A keyword: `range`, `end` (anything else fails when executed).
    Identifier(String),
    /// `[start:end:step]`.
    Array([Param; 3]),
    /// `[?(left op right)]`; `op` is `exists` for `[?(left)]`.
    Filter {
        /// The left operand.
        left: Vec<Node>,
        /// The right operand (empty for `exists`).
        right: Vec<Node>,
        /// The operator as written.
        op: String,
    },
    /// An integer literal (Go `int`).
    Int(i64),
    /// A float literal.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `.*`.
    Wildcard,
    /// `..`.
    Recursive,
    /// `[a,b]`.
    Union(Vec<Vec<Node>>),
}

/// One bound of an array slice (`ParamsEntry`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Param {
    pub(super) value: i64,
    pub(super) known: bool,
    pub(super) derived: bool,
}

/// Parses a whole template into the root nodes (`Parse`).
pub(super) fn parse(text: &str) -> Result<Vec<Node>, String> {
    let mut p = Parser {
        input: text,
        pos: 0,
        start: 0,
        width: 0,
    };
    p.parse_text()
}

/// `parseAction`: the nodes of `{text}`.
fn parse_action(text: &str) -> Result<Vec<Node>, String> {
    let mut root = parse(&format!("{{{text}}}"))?;
    match root.drain(..).next() {
        Some(Node::List(nodes)) => Ok(nodes),
        _ => Ok(vec![]),
    }
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    width: usize,
}

impl Parser<'_> {
    fn consume_text(&mut self) -> String {
        let value = self.input[self.start..self.pos].to_string();
        self.start = self.pos;
        value
    }

    /// The next character, `None` at the end.
    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            None => {
                self.width = 0;
                None
            }
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
        }
    }

    fn peek(&mut self) -> Option<char> {
        let r = self.next();
        self.backup();
        r
    }

    fn backup(&mut self) {
        self.pos -= self.width;
    }

    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    /// `parseText`, `parseLeftDelim` and `parseRightDelim`: text and actions at the root.
    fn parse_text(&mut self) -> Result<Vec<Node>, String> {
        let mut root = vec![];
        loop {
            if self.rest().starts_with('{') {
                if self.pos > self.start {
                    root.push(Node::Text(self.consume_text()));
                }
                self.pos += 1;
                self.consume_text();
                let mut action = vec![];
                self.parse_inside_action(&mut action)?;
                root.push(Node::List(action));
                continue;
            }
            if self.next().is_none() {
                break;
            }
        }
        if self.pos > self.start {
            root.push(Node::Text(self.consume_text()));
        }
        Ok(root)
    }

    /// `parseInsideAction`, up to and including the closing `}`.
    fn parse_inside_action(&mut self, cur: &mut Vec<Node>) -> Result<(), String> {
        loop {
            if self.rest().starts_with('}') {
                self.pos += 1;
                self.consume_text();
                return Ok(());
            }
            if self.rest().starts_with("[?(") {
                self.parse_filter(cur)?;
                continue;
            }
            if self.rest().starts_with("..") {
                self.parse_recursive(cur)?;
                continue;
            }
            match self.next() {
                None | Some('\r' | '\n') => return Err("unclosed action".into()),
                Some(' ' | '@' | '$') => {
                    self.consume_text();
                }
                Some('[') => self.parse_array(cur)?,
                Some(q @ ('"' | '\'')) => self.parse_quote(cur, q)?,
                Some('.') => self.parse_field(cur),
                Some(r) if r == '+' || r == '-' || is_digit(r) => {
                    self.backup();
                    self.parse_number(cur)?;
                }
                Some(r) if is_alphanumeric(r) => {
                    self.backup();
                    self.parse_identifier(cur);
                }
                Some(r) => {
                    return Err(format!(
                        "unrecognized character in action: {}",
                        sharp_unicode(r)
                    ));
                }
            }
        }
    }

    /// `parseIdentifier`: `range`, `end`, `true`, `false`, or any word.
    fn parse_identifier(&mut self, cur: &mut Vec<Node>) {
        loop {
            let r = self.next();
            if is_terminator(r) {
                self.backup();
                break;
            }
        }
        let value = self.consume_text();
        cur.push(match value.as_str() {
            "true" => Node::Bool(true),
            "false" => Node::Bool(false),
            _ => Node::Identifier(value),
        });
    }

    /// `parseRecursive`: `..`, then a field if a name follows.
    fn parse_recursive(&mut self, cur: &mut Vec<Node>) -> Result<(), String> {
        if cur.last() == Some(&Node::Recursive) {
            return Err("invalid multiple recursive descent".into());
        }
        self.pos += 2;
        self.consume_text();
        cur.push(Node::Recursive);
        if self.peek().is_some_and(is_alphanumeric) {
            self.parse_field(cur);
        }
        Ok(())
    }

    /// `parseNumber`: `strconv.Atoi`, else `strconv.ParseFloat`.
    fn parse_number(&mut self, cur: &mut Vec<Node>) -> Result<(), String> {
        if matches!(self.peek(), Some('+' | '-')) {
            self.next();
        }
        loop {
            match self.next() {
                Some(r) if r == '.' || is_digit(r) => {}
                _ => {
                    self.backup();
                    break;
                }
            }
        }
        let value = self.consume_text();
        if let Ok(i) = value.parse::<i64>() {
            cur.push(Node::Int(i));
        } else if let Some(f) = value
            .parse::<f64>()
            .ok()
            .filter(|_| value.bytes().any(|b| b.is_ascii_digit()))
        {
            cur.push(Node::Float(f));
        } else {
            return Err(format!("cannot parse number {value}"));
        }
        Ok(())
    }

    /// `parseArray`: a union `[a,b]`, a key `['a.b']`, an index or a slice.
    fn parse_array(&mut self, cur: &mut Vec<Node>) -> Result<(), String> {
        loop {
            match self.next() {
                None | Some('\n') => return Err("unterminated array".into()),
                Some(']') => break,
                Some(_) => {}
            }
        }
        let text = self.consume_text();
        let mut text = &text[1..text.len() - 1];
        if text == "*" {
            text = ":";
        }

        let members: Vec<&str> = text.split(',').collect();
        if members.len() > 1 {
            let mut union = vec![];
            for m in members {
                union.push(parse_action(&format!("[{}]", m.trim_matches(' ')))?);
            }
            cur.push(Node::Union(union));
            return Ok(());
        }

        // `^'([^']*)'$`
        if let Some(key) = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .filter(|k| !k.contains('\''))
        {
            cur.extend(parse_action(&format!(".{key}"))?);
            return Ok(());
        }

        let groups = slice_groups(text).ok_or_else(|| format!("invalid array index {text}"))?;
        let mut params = [Param::default(); 3];
        for i in 0..3 {
            let group = groups[i];
            if group.is_empty() {
                if i == 1 {
                    params[1] = Param {
                        value: params[0].value.wrapping_add(1),
                        known: true,
                        derived: true,
                    };
                }
                continue;
            }
            let value = if i > 0 { &group[1..] } else { group };
            if i > 0 && value.is_empty() {
                continue;
            }
            params[i] = Param {
                value: value
                    .parse()
                    .map_err(|_| format!("array index {value} is not a number"))?,
                known: true,
                derived: false,
            };
        }
        cur.push(Node::Array(params));
        Ok(())
    }

    /// `parseFilter`: `[?(...)]`, with quotes that may hold `)`.
    fn parse_filter(&mut self, cur: &mut Vec<Node>) -> Result<(), String> {
        self.pos += 3;
        self.consume_text();
        let (mut begin, mut end) = (false, false);
        let mut pair = '"';
        loop {
            match self.next() {
                None | Some('\n') => return Err("unterminated filter".into()),
                Some(r @ ('"' | '\'')) => {
                    if !begin {
                        begin = true;
                        pair = r;
                        continue;
                    }
                    if self.input.as_bytes()[self.pos - 2] != b'\\' && r == pair {
                        end = true;
                    }
                }
                Some(')') if begin == end => break,
                Some(_) => {}
            }
        }
        if self.next() != Some(']') {
            return Err("unclosed array expect ]".into());
        }
        let text = self.consume_text();
        let text = &text[..text.len() - 2];
        match split_comparison(text) {
            None => cur.push(Node::Filter {
                left: parse_action(text)?,
                right: vec![],
                op: "exists".into(),
            }),
            Some((left, op, right)) => {
                let left = parse_action(left)?;
                let right = parse_action(right)?;
                cur.push(Node::Filter {
                    left,
                    right,
                    op: op.to_string(),
                });
            }
        }
        Ok(())
    }

    /// `parseQuote`: a string in double or single quotes, unquoted as `UnquoteExtend`.
    fn parse_quote(&mut self, cur: &mut Vec<Node>, end: char) -> Result<(), String> {
        loop {
            match self.next() {
                None | Some('\n') => return Err("unterminated quoted string".into()),
                Some(r) if r == end && self.input.as_bytes()[self.pos - 2] != b'\\' => break,
                Some(_) => {}
            }
        }
        let value = self.consume_text();
        let s = unquote_extend(&value)
            .ok_or_else(|| format!("unquote string {value} error invalid syntax"))?;
        cur.push(Node::Text(s));
        Ok(())
    }

    /// `parseField`: a name up to the next unescaped terminator; `\` escapes are dropped.
    fn parse_field(&mut self, cur: &mut Vec<Node>) {
        self.consume_text();
        while self.advance() {}
        let value = self.consume_text();
        cur.push(if value == "*" {
            Node::Wildcard
        } else {
            Node::Field(value.replace('\\', ""))
        });
    }

    /// `advance`: one character of a field name; false at a terminator.
    fn advance(&mut self) -> bool {
        let r = self.next();
        if r == Some('\\') {
            self.next();
        } else if is_terminator(r) {
            self.backup();
            return false;
        }
        true
    }
}

/// The groups of `^(-?[\d]*)(:-?[\d]*)?(:-?[\d]*)?$` (absent ones empty), or `None` when
/// `text` does not match.
fn slice_groups(text: &str) -> Option<[&str; 3]> {
    let number = |s: &str| {
        s.strip_prefix('-')
            .unwrap_or(s)
            .bytes()
            .all(|b| b.is_ascii_digit())
    };
    let mut groups = [""; 3];
    let mut start = 0;
    for (i, group) in groups.iter_mut().enumerate() {
        if i > 0 && start == text.len() {
            break;
        }
        let from = if i > 0 { start + 1 } else { start };
        let end = text[from..].find(':').map_or(text.len(), |e| from + e);
        if !number(&text[from..end]) {
            return None;
        }
        *group = &text[start..end];
        start = end;
    }
    (start == text.len()).then_some(groups)
}

/// The groups of `^([^!<>=]+)([!<>=]+)(.+?)$` over a filter's text (which holds no
/// newline), or `None` when it does not match (an existence filter).
fn split_comparison(text: &str) -> Option<(&str, &str, &str)> {
    let is_op = |c: char| matches!(c, '!' | '<' | '>' | '=');
    let op_start = text.find(is_op).filter(|i| *i > 0)?;
    let ops = &text[op_start..];
    let op_len = ops.find(|c| !is_op(c)).unwrap_or(ops.len());
    if op_len < ops.len() {
        Some((&text[..op_start], &ops[..op_len], &ops[op_len..]))
    } else if op_len >= 2 {
        Some((&text[..op_start], &ops[..op_len - 1], &ops[op_len - 1..]))
    } else {
        None
    }
}

/// `isTerminator`: what ends a field name or identifier.
fn is_terminator(r: Option<char>) -> bool {
    match r {
        None => true,
        Some(c) => matches!(
            c,
            ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}'
        ),
    }
}

/// `unicode.IsDigit` (outside ASCII, Rust's numeric class stands in for Go's `Nd`).
fn is_digit(r: char) -> bool {
    r.is_ascii_digit() || (!r.is_ascii() && r.is_numeric())
}

/// `isAlphaNumeric`: `_`, a letter or a digit.
fn is_alphanumeric(r: char) -> bool {
    r == '_' || r.is_alphabetic() || is_digit(r)
}

/// Go's `%#U`: `U+002A '*'`, the character only when printable.
fn sharp_unicode(r: char) -> String {
    let code = format!("U+{:04X}", r as u32);
    let quoted = kscale_model::goflag::quote_rune(r);
    if r == '\'' || r == '\\' || quoted == format!("'{r}'") {
        format!("{code} '{r}'")
    } else {
        code
    }
}

/// `UnquoteExtend`: Go's `strconv.Unquote` for double- or single-quoted strings; `None` on
/// invalid syntax. Bytes that `\x` or octal escapes make invalid UTF-8 become U+FFFD.
fn unquote_extend(s: &str) -> Option<String> {
    let quote = *s.as_bytes().first()?;
    if s.len() < 2 || s.as_bytes()[s.len() - 1] != quote || (quote != b'"' && quote != b'\'') {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    if !inner.bytes().any(|b| b == b'\\' || b == quote) {
        return Some(inner.to_string());
    }
    let mut out: Vec<u8> = vec![];
    let mut rest = inner;
    while !rest.is_empty() {
        rest = unquote_char(rest, quote, &mut out)?;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `strconv.UnquoteChar`: decodes one character of `s` onto `out`, returns the rest.
fn unquote_char<'s>(s: &'s str, quote: u8, out: &mut Vec<u8>) -> Option<&'s str> {
    let c = *s.as_bytes().first()?;
    if c == quote {
        return None;
    }
    if c != b'\\' {
        let ch = s.chars().next()?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        return Some(&s[ch.len_utf8()..]);
    }
    let esc = *s.as_bytes().get(1)?;
    let s = &s[2..];
    let simple = match esc {
        b'a' => Some(7),
        b'b' => Some(8),
        b'f' => Some(12),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(11),
        b'\\' => Some(b'\\'),
        b'\'' | b'"' if esc == quote => Some(esc),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Some(s);
    }
    match esc {
        b'x' | b'u' | b'U' => {
            let n = match esc {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = s.get(..n)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let v = u32::from_str_radix(hex, 16).ok()?;
            if esc == b'x' {
                out.push(v as u8);
            } else {
                let ch = char::from_u32(v)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            Some(&s[n..])
        }
        b'0'..=b'7' => {
            let digits = s.get(..2)?;
            let mut v = u32::from(esc - b'0');
            for b in digits.bytes() {
                if !(b'0'..=b'7').contains(&b) {
                    return None;
                }
                v = (v << 3) | u32::from(b - b'0');
            }
            if v > 255 {
                return None;
            }
            out.push(v as u8);
            Some(&s[2..])
        }
        _ => None,
    }
}
