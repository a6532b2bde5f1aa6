//! A tiny YAML writer for files other tools read with YAML 1.1 parsers
//! (podman-compose, docker compose): block style, and every string
//! double-quoted with JSON escapes, which YAML reads identically. General
//! serializers leave `22:22` plain — a base-60 number to YAML 1.1.

use serde_json::Value;

pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_block(&mut out, v, 0);
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(serde_json::to_string(s).expect("string serialises")),
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
                let key = serde_json::to_string(k).expect("key serialises");
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
    fn every_string_is_quoted_and_reads_back_the_same() {
        let v = json!({
            "services": {"a": {"ports": ["22:22"], "x": "yes", "n": 3, "b": true,
                               "odd": "q\"\\\n$é", "empty": [], "m": {}}},
            "list": [{"k": "v"}, ["nested"]],
        });
        let text = to_string(&v);
        assert!(text.contains("- \"22:22\""), "{text}");
        assert!(text.contains("\"x\": \"yes\""), "{text}");
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
