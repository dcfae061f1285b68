//! The lexer: statement text to [`Token`]s with byte spans.
//!
//! Words are `[A-Za-z_][A-Za-z0-9_]*` (keywords are words compared without
//! case); numbers are `-?digits[.digits][e[+-]digits]`; a number followed
//! at once by letters is a duration (`24h`, `1h30m`); strings are quoted
//! with `'` or `"`, the quote doubled inside (`'it''s'`); `--` starts a
//! comment to the end of the line. One pass, O(input length).

use crate::error::{ParseError, Span, clip};

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword, as written.
    Word(String),
    /// An integer, as written (sign included).
    Int(String),
    /// A number with a fraction or exponent, as written.
    Float(String),
    /// A duration such as `24h`, as written.
    Duration(String),
    /// A quoted string, unquoted.
    Str(String),
    /// Punctuation and operators.
    Comma,
    Colon,
    Semicolon,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// The end of the input.
    Eof,
}

impl Tok {
    /// How an error message names this token.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Word(w) => format!("`{}`", clip(w)),
            Self::Int(n) | Self::Float(n) => format!("number `{}`", clip(n)),
            Self::Duration(d) => format!("duration `{}`", clip(d)),
            Self::Str(s) => format!("string '{}'", clip(s)),
            Self::Comma => "`,`".into(),
            Self::Colon => "`:`".into(),
            Self::Semicolon => "`;`".into(),
            Self::LParen => "`(`".into(),
            Self::RParen => "`)`".into(),
            Self::LBracket => "`[`".into(),
            Self::RBracket => "`]`".into(),
            Self::Eq => "`=`".into(),
            Self::Ne => "`!=`".into(),
            Self::Lt => "`<`".into(),
            Self::Le => "`<=`".into(),
            Self::Gt => "`>`".into(),
            Self::Ge => "`>=`".into(),
            Self::Eof => "the end of the statement".into(),
        }
    }
}

/// A token and where it is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = |tok: Tok, len: usize| Token { tok, span: Span::new(start, start + len) };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push(Token { tok: Tok::Word(src[start..i].to_owned()), span: Span::new(start, i) });
            }
            b'0'..=b'9' | b'-' => {
                let (tok, end) = number(src, start)?;
                out.push(Token { tok, span: Span::new(start, end) });
                i = end;
            }
            b'\'' | b'"' => {
                let (text, end) = string(src, start)?;
                out.push(Token { tok: Tok::Str(text), span: Span::new(start, end) });
                i = end;
            }
            b',' => push(&mut out, single(Tok::Comma, 1), &mut i),
            b':' => push(&mut out, single(Tok::Colon, 1), &mut i),
            b';' => push(&mut out, single(Tok::Semicolon, 1), &mut i),
            b'(' => push(&mut out, single(Tok::LParen, 1), &mut i),
            b')' => push(&mut out, single(Tok::RParen, 1), &mut i),
            b'[' => push(&mut out, single(Tok::LBracket, 1), &mut i),
            b']' => push(&mut out, single(Tok::RBracket, 1), &mut i),
            b'=' => push(&mut out, single(Tok::Eq, 1), &mut i),
            b'!' if bytes.get(i + 1) == Some(&b'=') => push(&mut out, single(Tok::Ne, 2), &mut i),
            b'<' if bytes.get(i + 1) == Some(&b'=') => push(&mut out, single(Tok::Le, 2), &mut i),
            b'<' if bytes.get(i + 1) == Some(&b'>') => push(&mut out, single(Tok::Ne, 2), &mut i),
            b'<' => push(&mut out, single(Tok::Lt, 1), &mut i),
            b'>' if bytes.get(i + 1) == Some(&b'=') => push(&mut out, single(Tok::Ge, 2), &mut i),
            b'>' => push(&mut out, single(Tok::Gt, 1), &mut i),
            _ => {
                let ch = src[start..].chars().next().unwrap_or('?');
                return Err(ParseError::new(
                    src,
                    Span::new(start, start + ch.len_utf8()),
                    format!("unexpected character {ch:?}"),
                    Vec::new(),
                ));
            }
        }
    }
    out.push(Token { tok: Tok::Eof, span: Span::new(src.len(), src.len()) });
    Ok(out)
}

fn push(out: &mut Vec<Token>, token: Token, i: &mut usize) {
    *i = token.span.end;
    out.push(token);
}

fn digits(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// A number, a float or a duration starting at `start`.
fn number(src: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let bytes = src.as_bytes();
    let mut i = start;
    if bytes[i] == b'-' {
        i += 1;
    }
    let int_end = digits(bytes, i);
    if int_end == i {
        return Err(ParseError::new(src, Span::new(start, start + 1), "expected a digit after `-`".into(), Vec::new()));
    }
    i = int_end;
    let mut float = false;
    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i = digits(bytes, i + 1);
        float = true;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            i = digits(bytes, j);
            float = true;
        }
    }
    if !float && bytes.get(i).is_some_and(u8::is_ascii_alphabetic) && bytes[start] != b'-' {
        // A duration: digits and unit letters, `1h30m`.
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        return Ok((Tok::Duration(src[start..i].to_owned()), i));
    }
    if bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        let end = i + 1;
        return Err(ParseError::new(src, Span::new(start, end), "malformed number".into(), Vec::new()));
    }
    let text = src[start..i].to_owned();
    Ok((if float { Tok::Float(text) } else { Tok::Int(text) }, i))
}

/// A quoted string starting at `start`; the quote is doubled to escape it.
fn string(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let bytes = src.as_bytes();
    let quote = bytes[start];
    let mut out = String::new();
    let mut i = start + 1;
    let mut run = i;
    loop {
        match bytes.get(i) {
            None => {
                return Err(ParseError::new(
                    src,
                    Span::new(start, src.len()),
                    "unterminated string".into(),
                    vec![format!("a closing {}", quote as char)],
                ));
            }
            Some(&b) if b == quote => {
                out.push_str(&src[run..i]);
                if bytes.get(i + 1) == Some(&quote) {
                    out.push(quote as char);
                    i += 2;
                    run = i;
                } else {
                    return Ok((out, i + 1));
                }
            }
            Some(_) => i += 1,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Reason: test code fails loudly.
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_numbers_durations_strings() {
        assert_eq!(
            toks("SORT BY trending WINDOW 24h LIMIT -5 1.5e3 'it''s' \"a\"\"b\" -- note"),
            vec![
                Tok::Word("SORT".into()),
                Tok::Word("BY".into()),
                Tok::Word("trending".into()),
                Tok::Word("WINDOW".into()),
                Tok::Duration("24h".into()),
                Tok::Word("LIMIT".into()),
                Tok::Int("-5".into()),
                Tok::Float("1.5e3".into()),
                Tok::Str("it's".into()),
                Tok::Str("a\"b".into()),
                Tok::Eof,
            ]
        );
        assert_eq!(toks("a<=b<>c!=d>=e<f>g=h")[1], Tok::Le);
        assert_eq!(toks("a<>b")[1], Tok::Ne);
    }

    #[test]
    fn bad_input_is_positioned() {
        let e = lex("LIMIT 5 @").unwrap_err();
        assert_eq!(e.span, Span::new(8, 9));
        let e = lex("WHERE a = 'open").unwrap_err();
        assert_eq!(e.span.start, 10);
        assert!(lex("x = 1.5x").is_err());
        assert!(lex("x = - 1").is_err());
        let e = lex("é").unwrap_err();
        assert_eq!(e.span, Span::new(0, 2));
    }
}
