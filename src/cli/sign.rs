//! `apoflow sign`: print a signed APO request as a curl command, to replay by hand.
//!
//! By default the signature and any card data are masked (secrets are masked unless asked),
//! so the command is for reading; `--show-secrets` prints the exact, runnable command. The
//! private key itself is never printed.

use std::io::Read as _;
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use url::Url;

use super::run::parse_var;
use super::{Context, exit};
use crate::apo::client::{CallOptions, SentRequest, prepare};
use crate::apo::{Endpoint, Target};
use crate::config::{Config, DEFAULT_FILE};
use crate::diag::Diagnostic;
use crate::mask;
use crate::template::{Templates, is_template};

/// `apoflow sign …`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("where").required(true).args(["target", "embedded"])))]
pub struct SignArgs {
    /// A target named in apoflow.toml.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// The embedded sandbox's default merchant, at this URL (where `apoflow sandbox` listens).
    #[arg(long, value_name = "URL")]
    pub embedded: Option<Url>,
    /// The config file naming the targets.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_FILE)]
    pub config: PathBuf,
    /// The API: pay, inquiryPayment, capture, cancel, refund, inquiryRefund.
    #[arg(long, value_name = "API")]
    pub api: Endpoint,
    /// The request body (`-` for standard input): sent byte for byte, or, when it holds
    /// templates (`{{ … }}`), JSON whose strings are rendered first, as a flow's `body_file`.
    #[arg(long, value_name = "FILE")]
    pub body: PathBuf,
    /// A variable for the body's templates (repeatable), e.g. `--var redirect_url=https://…`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// The literal request-time to sign (epoch milliseconds now when absent).
    #[arg(long, value_name = "TIME")]
    pub request_time: Option<String>,
    /// Print the real signature and body, so the command can be run.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Runs `apoflow sign`.
pub fn run(args: &SignArgs, ctx: &Context) -> u8 {
    match build(args, ctx) {
        Ok(request) => {
            println!("{}", curl(&request, args.show_secrets));
            if !args.show_secrets {
                eprintln!(
                    "note: the signature and any card data are masked; add --show-secrets to print a command you can run"
                );
            }
            exit::SUCCESS
        }
        Err(diag) => {
            eprint!("{}", diag.render(ctx.color_stderr()));
            exit::INVALID
        }
    }
}

/// The signed request, or the error: a config error located in its file, anything else plain.
fn build(args: &SignArgs, ctx: &Context) -> Result<SentRequest, Box<Diagnostic>> {
    let target = match (&args.target, &args.embedded) {
        (Some(name), _) => Config::load(&ctx.cwd.join(&args.config))
            .and_then(|config| config.target(name, &|var| ctx.var(var).map(str::to_owned)))
            .map_err(|e| Box::new(e.to_diagnostic()))?,
        (None, Some(url)) => Target::embedded(url.clone()),
        (None, None) => {
            return Err(Box::new(Diagnostic::plain(
                "give --target NAME or --embedded URL",
            )));
        }
    };
    build_for(&target, args, ctx).map_err(|message| Box::new(Diagnostic::plain(message)))
}

fn build_for(target: &Target, args: &SignArgs, ctx: &Context) -> Result<SentRequest, String> {
    let body = read_body(args, ctx)?;
    let Ok(text) = std::str::from_utf8(&body) else {
        return Err("the body is not UTF-8 text; APO request bodies are UTF-8 JSON".to_owned());
    };
    let body = if is_template(text) {
        render_body(text, args, ctx)?
    } else {
        body
    };
    let options = CallOptions {
        request_time: args.request_time.clone(),
        ..CallOptions::default()
    };
    Ok(prepare(target, args.api, body, &options))
}

/// Renders a body that holds templates: JSON whose strings are templates, with the `--var`
/// values and the template functions (`uuid()`, `now()`, …); compact JSON out.
fn render_body(text: &str, args: &SignArgs, ctx: &Context) -> Result<Vec<u8>, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "the body holds templates (`{{{{ … }}}}`) but is not JSON ({e}); a body with \
             templates is JSON whose strings are templates, as a flow's `body_file`"
        )
    })?;
    let mut vars = serde_json::Map::new();
    for raw in &args.vars {
        let (name, value) = parse_var(raw).map_err(|d| d.title.clone())?;
        vars.insert(name, serde_json::Value::String(value));
    }
    let rendered = Templates::new(ctx.env.clone())
        .render_value(&json, &serde_json::Value::Object(vars))
        .map_err(|e| {
            let hint = if e.message.contains("undefined") {
                "pass each variable the body reads with `--var NAME=VALUE`, e.g. \
                 `--var redirect_url=https://shop.example/return`"
                    .to_owned()
            } else {
                e.hint.clone().unwrap_or_default()
            };
            format!("a template in the body failed: {}; {hint}", e.message)
        })?;
    serde_json::to_vec(&rendered).map_err(|e| format!("failed to write the rendered body: {e}"))
}

fn read_body(args: &SignArgs, ctx: &Context) -> Result<Vec<u8>, String> {
    if args.body.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .map_err(|e| format!("failed to read the body from standard input: {e}"))?;
        return Ok(body);
    }
    let path = ctx.cwd.join(&args.body);
    std::fs::read(&path).map_err(|e| format!("failed to read the body {}: {e}", path.display()))
}

/// Quotes a string for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The curl command of a request; masked unless `show_secrets`.
fn curl(request: &SentRequest, show_secrets: bool) -> String {
    let mut out = format!(
        "curl -sS -X {} {}",
        request.method,
        shell_quote(request.url.as_str())
    );
    for (name, value) in &request.headers {
        let value = if show_secrets {
            value.clone()
        } else if name.eq_ignore_ascii_case("signature") {
            match value.split_once("signature=") {
                Some((head, _)) => format!("{head}signature={}", mask::MASKED),
                None => mask::MASKED.to_owned(),
            }
        } else {
            mask::mask_text(value).into_owned()
        };
        out.push_str(" \\\n  -H ");
        out.push_str(&shell_quote(&format!("{name}: {value}")));
    }
    let body = String::from_utf8_lossy(&request.body);
    let body = if show_secrets {
        body.into_owned()
    } else {
        match serde_json::from_slice::<serde_json::Value>(&request.body) {
            Ok(json) if mask::masked_json(&json) != json => {
                serde_json::to_string(&mask::masked_json(&json)).unwrap_or_default()
            }
            _ => mask::mask_text(&body).into_owned(),
        }
    };
    out.push_str(" \\\n  --data-binary ");
    out.push_str(&shell_quote(&body));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
