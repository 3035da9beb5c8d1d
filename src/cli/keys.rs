//! `apoflow keys generate [--out DIR] [--force]`: a merchant key pair in the dashboard's format.
//!
//! Writes `merchant-private-key.txt` (base64 PKCS#8, one line, mode 0600) and
//! `merchant-public-key.txt` (base64 X.509, one line) and prints where. The private key is
//! never printed: it goes to the file only.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{Context, exit};
use crate::apo::keys::PrivateKey;
use crate::mask;

/// The file the private key is written to.
pub const PRIVATE_FILE: &str = "merchant-private-key.txt";
/// The file the public key is written to.
pub const PUBLIC_FILE: &str = "merchant-public-key.txt";

/// `apoflow keys …`
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// What to do with keys.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Generate a 2048-bit merchant key pair in APO's dashboard format (base64 PKCS#8 private
    /// key, base64 X.509 public key, one line each); upload the public key to Antom Dashboard.
    Generate {
        /// The directory to write the two files to (created if missing); the working directory
        /// when absent.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
}

/// Runs `apoflow keys`.
pub fn run(args: &KeysArgs, ctx: &Context) -> u8 {
    match &args.action {
        KeysAction::Generate { out, force } => {
            let dir = out
                .as_ref()
                .map_or_else(|| ctx.cwd.clone(), |d| ctx.cwd.join(d));
            match generate(&dir, *force) {
                Ok((private, public)) => {
                    println!(
                        "wrote the merchant private key to {} (mode 0600; keep it secret, never commit it)",
                        private.display()
                    );
                    println!(
                        "wrote the merchant public key to {} (upload it in Antom Dashboard → Developer → Quick start → Integration resources and tools)",
                        public.display()
                    );
                    exit::SUCCESS
                }
                Err(message) => {
                    crate::output::Sink::stderr().print(&format!("error: {message}\n"));
                    exit::INVALID
                }
            }
        }
    }
}

/// Generates the pair and writes both files; returns their paths.
fn generate(dir: &Path, force: bool) -> Result<(PathBuf, PathBuf), String> {
    let private_path = dir.join(PRIVATE_FILE);
    let public_path = dir.join(PUBLIC_FILE);
    if !force {
        for p in [&private_path, &public_path] {
            if p.exists() {
                return Err(format!(
                    "{} already exists; pass --force to overwrite it, or --out DIR to write elsewhere",
                    p.display()
                ));
            }
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("failed to create the directory {}: {e}", dir.display()))?;
    let key = PrivateKey::generate().map_err(|e| e.to_string())?;
    let private = key.to_pkcs8_base64().map_err(|e| e.to_string())?;
    mask::register_secret(&private);
    let public = key
        .public_key()
        .to_spki_base64()
        .map_err(|e| e.to_string())?;
    write_file(&private_path, &private, true, force)?;
    write_file(&public_path, &public, false, force)?;
    Ok((private_path, public_path))
}

/// Writes one line. The private key file is created 0600 (an existing one, with `force`, is
/// set to 0600 before anything is written). A symbolic link is never written through: the
/// key would land wherever it points.
fn write_file(path: &Path, text: &str, secret: bool, force: bool) -> Result<(), String> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let fail = |e: std::io::Error| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            format!(
                "refusing to write {}: it is a symbolic link; remove it or pass --out DIR",
                path.display()
            )
        } else {
            format!("failed to write {}: {e}", path.display())
        }
    };
    let mode = if secret { 0o600 } else { 0o644 };
    let mut options = std::fs::OpenOptions::new();
    options
        .write(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW);
    if force {
        options.create(true).truncate(true);
    } else {
        // O_EXCL: no file, and no link (even a dangling one), may be there already.
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(fail)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(fail)?;
    writeln!(file, "{text}").map_err(fail)
}
