//! A tiny YAML writer for files people read and other tools parse with
//! YAML 1.1 parsers (podman-compose's PyYAML, docker compose): block style,
//! keys and strings plain wherever that reads back as the same string, and
//! double-quoted otherwise. General serializers leave `22:22` plain — a
//! base-60 number to YAML 1.1 — so the rule of what to quote is this
//! module's own ([`needs_quotes`]), written for YAML 1.1 and 1.2 alike.

use serde_json::Value;

pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_block(&mut out, v, 0);
    out
}

/// `s` as a YAML scalar: plain when every YAML 1.1 and 1.2 reader reads
/// that back as this same string, else double-quoted.
pub fn string(s: &str) -> String {
    if needs_quotes(s) {
        quoted(s)
    } else {
        s.to_string()
    }
}

/// Whether the plain form of `s` could be misread: as another type (a
/// boolean, null, a number in any base — base 60 included —, a float, a
/// date), as syntax (an indicator first, `: ` or ` #` inside, a `:` last),
/// or with different characters (empty, leading or trailing white space,
/// control and non-printable characters, line breaks YAML 1.1 knows).
pub fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    s.trim() != s
        || s.chars().any(|c| !plain_char(c))
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || resolves_to_another_type(s)
}

/// Characters a plain scalar may hold: printable, and no line break or
/// tab (YAML 1.1 breaks lines at NEL, LS and PS too; a BOM is a marker).
fn plain_char(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace() && c != ' '
        || matches!(c, '\u{feff}' | '\u{fffe}' | '\u{ffff}'))
}

/// The implicit types of YAML 1.1 (booleans of any case, `y`/`n`
/// included; null; ints in base 2, 8, 10, 16 and 60; floats; timestamps;
/// merge and value keys) and the 1.2 core schema (`0o17`, `1e3`).
fn resolves_to_another_type(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "yes" | "n" | "no" | "true" | "false" | "on" | "off" | "null" | "~" | "<<" | "="
    ) {
        return true;
    }
    let body = lower.strip_prefix(['-', '+']).unwrap_or(lower.as_str());
    if matches!(body, ".inf" | ".nan") {
        return true;
    }
    let digits = |t: &str, ok: fn(char) -> bool| !t.is_empty() && t.chars().all(ok);
    if let Some(hex) = body.strip_prefix("0x") {
        return digits(hex, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(bin) = body.strip_prefix("0b") {
        return digits(bin, |c| matches!(c, '0' | '1' | '_'));
    }
    if let Some(oct) = body.strip_prefix("0o") {
        return digits(oct, |c| matches!(c, '0'..='7' | '_'));
    }
    // Decimal ints and floats, base 60 (`22:22`, `1:20:30.5`) and the
    // YAML 1.1 float that is only digits and dots (`1.2.3`, `.`), with an
    // optional exponent.
    let mantissa = match body.split_once('e') {
        Some((m, exp)) => {
            let exp = exp.strip_prefix(['-', '+']).unwrap_or(exp);
            if !digits(exp, |c| c.is_ascii_digit()) {
                return timestamp(s);
            }
            m
        }
        None => body,
    };
    // (`_0` too: YAML 1.1 allows `_` between digits, and a reader that
    // skips every `_` reads it as 0.)
    let numeric = mantissa.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '_')
        && mantissa.contains(|c: char| c.is_ascii_digit() || c == '.')
        && digits(mantissa, |c| {
            c.is_ascii_digit() || matches!(c, '.' | '_' | ':')
        });
    numeric || timestamp(s)
}

/// A YAML 1.1 timestamp starts `YYYY-M-D` (then the end, or a time).
fn timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if !((0..4).all(digit) && b.get(4) == Some(&b'-') && digit(5)) {
        return false;
    }
    let mut i = if digit(6) { 7 } else { 6 };
    if b.get(i) != Some(&b'-') || !digit(i + 1) {
        return false;
    }
    i += if digit(i + 2) { 3 } else { 2 };
    matches!(b.get(i), None | Some(b'T' | b't' | b' ' | b'\t'))
}

/// A double-quoted scalar: `"` and `\` escaped, and every character a
/// YAML reader would not take literally inside quotes (controls, line
/// breaks, non-printables) as an escape.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// YAML's printable set (`c-printable`), less the line breaks and the
/// BOM, which a reader would not keep as they are inside quotes.
fn printable(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7e | 0xa0..=0xd7ff | 0xe000..=0xfffd | 0x10000..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(string(s)),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(o) if o.is_empty() => Some("{}".into()),
        _ => None,
    }
}

fn write_block(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, val) in map {
                let key = string(k);
                match scalar(val) {
                    Some(s) => out.push_str(&format!("{pad}{key}: {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        write_block(out, val, indent + 2);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                match scalar(item) {
                    Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}-\n"));
                        write_block(out, item, indent + 2);
                    }
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other).unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_ordinary_strings_are_plain_and_everything_reads_back_the_same() {
        let v = json!({
            "services": {"a": {"ports": ["22:22"], "x": "yes", "n": 3, "b": true,
                               "odd": "q\"\\\n$é", "empty": [], "m": {}}},
            "list": [{"k": "v"}, ["nested"]],
        });
        let text = to_string(&v);
        assert_eq!(
            text,
            "services:\n\
             \x20 a:\n\
             \x20   ports:\n\
             \x20     - \"22:22\"\n\
             \x20   x: \"yes\"\n\
             \x20   \"n\": 3\n\
             \x20   b: true\n\
             \x20   odd: \"q\\\"\\\\\\n$é\"\n\
             \x20   empty: []\n\
             \x20   m: {}\n\
             list:\n\
             \x20 -\n\
             \x20   k: v\n\
             \x20 -\n\
             \x20   - nested\n"
        );
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    /// The forms only YAML 1.1 resolves to another type (a 1.2 reader
    /// such as serde-saphyr reads most of them back as strings, so the
    /// round trip alone would not catch them), and the 1.2 ones.
    #[test]
    fn what_a_yaml_1_1_reader_would_misread_is_quoted() {
        for s in [
            "y",
            "Y",
            "n",
            "N",
            "yes",
            "Yes",
            "YES",
            "yEs",
            "no",
            "NO",
            "on",
            "On",
            "ON",
            "off",
            "Off",
            "true",
            "True",
            "FALSE",
            "null",
            "Null",
            "NULL",
            "~",
            "",
            "<<",
            "=",
            "22:22",
            "0:0",
            "1:20",
            "190:20:30",
            "1:20:30.5",
            "-1:20",
            "010",
            "0777",
            "0b1010",
            "-0b1",
            "0x1F",
            "0x_1f",
            "0o17",
            "1_000",
            "_0",
            "_1_000",
            "+12",
            "-0",
            "3",
            "1.5",
            "1.",
            ".5",
            "1.2.3",
            "10.9.0.1",
            ".",
            "1e3",
            "1E-3",
            "6.8523015e+5",
            ".inf",
            "-.Inf",
            "+.INF",
            ".NaN",
            "2024-01-02",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2002-1-2",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "key:",
            "-",
            "- x",
            "-x",
            "?x",
            ":x",
            ",x",
            "[x",
            "]x",
            "{x",
            "}x",
            "#x",
            "&x",
            "*x",
            "!x",
            "|x",
            ">x",
            "'x",
            "\"x",
            "%x",
            "@x",
            "`x",
            "a\nb",
            "a\tb",
            "a\rb",
            "a\u{85}b",
            "a\u{2028}b",
            "a\u{2029}b",
            "a\u{feff}b",
            "a\u{7f}b",
            "a\u{1}b",
            "a\u{9f}b",
        ] {
            assert!(needs_quotes(s), "{s:?} must be quoted");
            assert!(to_string(&json!(s)).starts_with('"'), "{s:?}");
        }
    }

    #[test]
    fn what_every_reader_reads_as_the_same_string_stays_plain() {
        for s in [
            "services",
            "read_only",
            "vault-agent",
            "no-new-privileges:true",
            "https://vault.lan:22300",
            "${VAULTNET_BUNDLE:-./vaultnet}:/vaultnet:ro",
            "vaultnet-secrets:/secrets:ro",
            "/agent:mode=0700",
            "localhost/bao:test",
            "docker.io/library/busybox:1.36",
            "ALL",
            "on-failure",
            "yess",
            "online",
            "nobody",
            "10.9.0.1a",
            "1.2.3-beta",
            "v1.0",
            "0xg",
            "2024-01-02x",
            "vault.lan:host-gateway",
            "a b",
            "it's",
            "a#b",
            "a:b",
            "é",
            "$$x",
        ] {
            assert!(!needs_quotes(s), "{s:?} need not be quoted");
            assert_eq!(to_string(&json!([s])), format!("- {s}\n"));
        }
    }

    #[test]
    fn quoted_strings_escape_what_a_reader_would_not_keep() {
        assert_eq!(
            quoted("a\"b\\c\nd\te\u{85}f\u{2028}g\u{feff}h\u{1}i"),
            r#""a\"b\\c\nd\te\u0085f\u2028g\ufeffh\u0001i""#
        );
        let back: String = serde_saphyr::from_str(&quoted("x\u{85}\u{2029}\u{7f}y")).unwrap();
        assert_eq!(back, "x\u{85}\u{2029}\u{7f}y");
    }
}
