//! The functions available in templates: `uuid()`, `now(format)`, `env(name, default=...)`,
//! `random_digits(n)`.

use std::collections::BTreeMap;

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
    fn random_digits_are_digits() {
        let v = render("{{ random_digits(12) }}").unwrap();
        let s = v.as_str().unwrap();
        assert_eq!(s.len(), 12);
        assert!(s.bytes().all(|b| b.is_ascii_digit()));
        assert!(render("{{ random_digits(100000) }}").is_err());
    }
}
