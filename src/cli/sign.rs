//! `apoflow sign`: print a signed APO request as a curl command, to replay by hand.
//!
//! By default the signature and any card data are masked (secrets are masked unless asked),
//! so the command is for reading; `--show-secrets` prints the exact, runnable command. The
//! private key itself is never printed.

use std::io::Read as _;
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use url::Url;

use super::{Context, exit};
use crate::apo::client::{CallOptions, SentRequest, prepare};
use crate::apo::{Endpoint, Target};
use crate::config::{Config, DEFAULT_FILE};
use crate::mask;

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
    /// The request body, sent byte for byte (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub body: PathBuf,
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
        Err(message) => {
            eprintln!("error: {}", mask::mask_text(&message));
            exit::INVALID
        }
    }
}

fn build(args: &SignArgs, ctx: &Context) -> Result<SentRequest, String> {
    let target = match (&args.target, &args.embedded) {
        (Some(name), _) => {
            let config = Config::load(&ctx.cwd.join(&args.config)).map_err(|e| e.to_string())?;
            config
                .target(name, &|var| ctx.var(var).map(str::to_owned))
                .map_err(|e| e.to_string())?
        }
        (None, Some(url)) => Target::embedded(url.clone()),
        (None, None) => return Err("give --target NAME or --embedded URL".to_owned()),
    };
    let body = read_body(args, ctx)?;
    if std::str::from_utf8(&body).is_err() {
        return Err("the body is not UTF-8 text; APO request bodies are UTF-8 JSON".to_owned());
    }
    let options = CallOptions {
        request_time: args.request_time.clone(),
        ..CallOptions::default()
    };
    Ok(prepare(&target, args.api, body, &options))
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
