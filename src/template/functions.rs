//! The functions available in templates: `uuid()`, `now(format)`, `env(name, default=...)`,
//! `random_digits(n)`; and the filters apoflow adds to minijinja's: `fromjson`, `b64encode`,
//! `b64decode`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind};

/// The largest `random_digits(n)` accepted; longer strings are certainly a mistake.
const MAX_RANDOM_DIGITS: usize = 4096;

/// Adds the functions to `jinja`; `env` is what `env()` reads.
pub(super) fn register(jinja: &mut Environment<'static>, env: BTreeMap<String, String>) {
    jinja.add_function("uuid", uuid);
    jinja.add_function("now", now);
    jinja.add_function("random_digits", random_digits);
    jinja.add_function("env", move |name: &str, kwargs: Kwargs| {
        lookup_env(&env, name, &kwargs)
    });
    jinja.add_filter("fromjson", fromjson);
    jinja.add_filter("b64encode", b64encode);
    jinja.add_filter("b64decode", b64decode);
}

/// A random (v4) UUID, e.g. for `paymentRequestId`.
fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current local time, formatted with strftime `format` (default RFC 3339 with the
/// offset, e.g. `2026-11-25T12:36:35+08:00`, the form APO expects).
fn now(format: Option<&str>) -> Result<String, Error> {
    let format = format.unwrap_or("%Y-%m-%dT%H:%M:%S%:z");
    let at = jiff::ZonedDateTime::now();
    jiff::fmt::strtime::format(format, &at).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("now(): bad format `{format}`: {e}"),
        )
    })
}

/// `n` random decimal digits, as a string.
fn random_digits(n: usize) -> Result<String, Error> {
    if n > MAX_RANDOM_DIGITS {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("random_digits({n}): at most {MAX_RANDOM_DIGITS} digits"),
        ));
    }
    Ok((0..n).map(|_| fastrand::digit(10)).collect())
}

/// Parses a string as JSON (a response that carries JSON inside a string field).
fn fromjson(text: &str) -> Result<minijinja::Value, Error> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("fromjson: not JSON: {e}"),
        )
    })?;
    Ok(minijinja::Value::from(minijinja::value::Serde(v)))
}

/// Base64 (standard alphabet, padded) of a string's UTF-8 bytes.
fn b64encode(text: &str) -> String {
    B64.encode(text)
}

/// The text a base64 string encodes.
fn b64decode(text: &str) -> Result<String, Error> {
    let bytes = B64.decode(text.trim()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("b64decode: not base64: {e}"),
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            "b64decode: the decoded bytes are not UTF-8 text",
        )
    })
}

/// The value of an environment variable; an error when it is unset and no `default=` is given.
fn lookup_env(
    env: &BTreeMap<String, String>,
    name: &str,
    kwargs: &Kwargs,
) -> Result<String, Error> {
    let default: Option<String> = kwargs.get("default")?;
    kwargs.assert_all_used()?;
    match (env.get(name), default) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "environment variable `{name}` is not set (give env('{name}', default='...') or set it)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Templates;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    fn render(text: &str) -> Result<Value, String> {
        Templates::new(BTreeMap::from([("APO_X".to_owned(), "v".to_owned())]))
            .render_str(text, &json!({}))
            .map_err(|e| e.message)
    }

    #[test]
    fn uuid_is_a_v4_uuid() {
        let v = render("{{ uuid() }}").unwrap();
        let s = v.as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(s).unwrap().get_version_num(), 4);
    }

    #[test]
    fn now_defaults_to_rfc3339_with_offset() {
        let v = render("{{ now() }}").unwrap();
        let s = v.as_str().unwrap();
        assert!(s.parse::<jiff::Timestamp>().is_ok(), "{s}");
        assert_eq!(
            render("{{ now('%Y') }}").unwrap().as_str().unwrap().len(),
            4
        );
        assert!(
            render("{{ now('%Y %') }}")
                .unwrap_err()
                .contains("bad format")
        );
    }

    #[test]
    fn env_reads_the_snapshot_with_defaults() {
        assert_eq!(render("{{ env('APO_X') }}"), Ok(json!("v")));
        assert_eq!(render("{{ env('NOPE', default='d') }}"), Ok(json!("d")));
        let e = render("{{ env('NOPE') }}").unwrap_err();
        assert!(e.contains("`NOPE` is not set"), "{e}");
    }

    #[test]
    fn json_and_base64_filters() {
        assert_eq!(
            render("{{ '{\"a\": [1]}' | fromjson }}"),
            Ok(json!({"a": [1]}))
        );
        assert!(
            render("{{ 'nope' | fromjson }}")
                .unwrap_err()
                .contains("fromjson: not JSON")
        );
        assert_eq!(
            render("{{ 'user:pw' | b64encode }}"),
            Ok(json!("dXNlcjpwdw=="))
        );
        assert_eq!(
            render("{{ 'dXNlcjpwdw==' | b64decode }}"),
            Ok(json!("user:pw"))
        );
        assert!(
            render("{{ '***' | b64decode }}")
                .unwrap_err()
                .contains("not base64")
        );
    }

    #[test]
    fn random_digits_are_digits() {
        let v = render("{{ random_digits(12) }}").unwrap();
        let s = v.as_str().unwrap();
        assert_eq!(s.len(), 12);
        assert!(s.bytes().all(|b| b.is_ascii_digit()));
        assert!(render("{{ random_digits(100000) }}").is_err());
    }
}
