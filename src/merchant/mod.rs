//! The merchant under test: its process, started for a run and always stopped.
//!
//! ```text
//! start(spec, env) ── port free? ── sh -c COMMAND (own process group, in the config's folder,
//!                                   APO_* variables) ── stdout/stderr ─► OutputLog (masked, bounded)
//! wait_ready ── GET url+ready every 100 ms until 2xx ── exited early / time-out ─► StartError
//! stop ── SIGTERM to the group, 5 s grace, SIGKILL ── (Drop does SIGKILL if stop was skipped)
//! ```
//! The whole process group is signalled, so a shell wrapper's children (a `python` under
//! `sh -c`, a server's workers) go too: nothing is left running.

mod credentials;
mod output;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub use credentials::{KeyFiles, Wiring};
pub use output::{MAX_LINE, MAX_LINES, OutputLog};

use crate::config::MerchantSpec;

/// How often readiness is polled: a local process that starts in a few hundred milliseconds
/// is seen ready within 20 ms of it.
const READY_EVERY: Duration = Duration::from_millis(20);
/// How long one readiness request may take.
const READY_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a merchant has to exit after SIGTERM before it gets SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// How many of its last output lines an error shows.
pub const ERROR_TAIL: usize = 20;

/// Why a merchant could not be started; each one ends the run with exit code 2 before any flow
/// runs.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its port is already taken, by another process.
    #[error(
        "merchant `{name}`: {addr} is already in use, so its server could not listen there\n  = hint: stop what listens on {addr} (`ss -ltnp 'sport = :{port}'` shows it), or change the merchant's url in apoflow.toml"
    )]
    PortTaken {
        /// The merchant's name.
        name: String,
        /// The address in use.
        addr: SocketAddr,
        /// Its port.
        port: u16,
    },
    /// The command could not be spawned.
    #[error("merchant `{name}`: failed to run `sh -c {command}`: {error}")]
    Spawn {
        /// The merchant's name.
        name: String,
        /// The command.
        command: String,
        /// Why.
        error: std::io::Error,
    },
    /// It exited before it was ready.
    #[error(
        "merchant `{name}` exited ({status}) before it was ready at {ready}{tail}\n  = hint: run its command by hand in the config's folder to see why"
    )]
    Exited {
        /// The merchant's name.
        name: String,
        /// How it exited.
        status: String,
        /// The readiness URL.
        ready: String,
        /// Its last output lines, formatted.
        tail: String,
    },
    /// It did not answer 2xx in time.
    #[error(
        "merchant `{name}` was not ready within {secs} s: GET {ready} {last}{tail}\n  = hint: raise ready_timeout in apoflow.toml, or check that `ready` names a path it answers with 2xx"
    )]
    NotReady {
        /// The merchant's name.
        name: String,
        /// The time-out in seconds.
        secs: u64,
        /// The readiness URL.
        ready: String,
        /// What the last poll saw.
        last: String,
        /// Its last output lines, formatted.
        tail: String,
    },
}

/// A running merchant. Dropping it kills its process group.
#[derive(Debug)]
pub struct Merchant {
    name: String,
    ready_url: String,
    ready_timeout: Duration,
    child: tokio::process::Child,
    /// The process group id (the child's pid: it leads its own group).
    group: Option<i32>,
    log: OutputLog,
}

impl Merchant {
    /// Starts the merchant's command with `env` added to apoflow's environment. Fails at once
    /// when its URL's port is taken (the merchant would then fail, or worse, another server
    /// would answer for it).
    pub fn start(spec: &MerchantSpec, env: &[(String, String)]) -> Result<Merchant, StartError> {
        if let Some(addr) = taken_port(&spec.url) {
            return Err(StartError::PortTaken {
                name: spec.name.clone(),
                addr,
                port: addr.port(),
            });
        }
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&spec.command)
            .current_dir(&spec.dir)
            .envs(spec.env.iter())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|error| StartError::Spawn {
            name: spec.name.clone(),
            command: spec.command.clone(),
            error,
        })?;
        let log = OutputLog::default();
        if let Some(out) = child.stdout.take() {
            log.follow("stdout", out);
        }
        if let Some(err) = child.stderr.take() {
            log.follow("stderr", err);
        }
        let group = child.id().and_then(|id| i32::try_from(id).ok());
        let base = spec.url.as_str().trim_end_matches('/');
        Ok(Merchant {
            name: spec.name.clone(),
            ready_url: format!("{base}{}", spec.ready),
            ready_timeout: spec.ready_timeout,
            child,
            group,
            log,
        })
    }

    /// Polls the readiness path until it answers 2xx; fails when the process exits first or
    /// the time-out passes, with its last output lines.
    pub async fn wait_ready(&mut self, http: &reqwest::Client) -> Result<(), StartError> {
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the readers catch the last lines it wrote.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(StartError::Exited {
                    name: self.name.clone(),
                    status: status.to_string(),
                    ready: self.ready_url.clone(),
                    tail: self.formatted_tail(),
                });
            }
            let last = match http
                .get(&self.ready_url)
                .timeout(READY_REQUEST_TIMEOUT)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => format!("answered {}", r.status()),
                Err(e) => format!("failed: {}", crate::apo::client::error_chain(&e)),
            };
            if Instant::now() >= deadline {
                return Err(StartError::NotReady {
                    name: self.name.clone(),
                    secs: self.ready_timeout.as_secs(),
                    ready: self.ready_url.clone(),
                    last,
                    tail: self.formatted_tail(),
                });
            }
            tokio::time::sleep(READY_EVERY).await;
        }
    }

    /// A handle that can kill the merchant's process group from elsewhere (a signal handler
    /// that ends the process, where no destructor runs).
    pub fn killer(&self) -> GroupKiller {
        GroupKiller(self.group)
    }

    /// Its output so far (masked, bounded).
    pub fn log(&self) -> &OutputLog {
        &self.log
    }

    /// Stops the whole process group: SIGTERM, then SIGKILL after [`STOP_GRACE`]. Returns how
    /// it ended.
    pub async fn stop(mut self) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            // The leader is gone; its group may still hold children.
            self.signal(Signal::Kill);
            return format!("had already exited ({status})");
        }
        self.signal(Signal::Term);
        let status = match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
            Ok(Ok(status)) => format!("stopped ({status})"),
            _ => {
                self.signal(Signal::Kill);
                let _ = self.child.wait().await;
                format!("killed after {} s", STOP_GRACE.as_secs())
            }
        };
        // Children that ignored SIGTERM while the leader exited.
        self.signal(Signal::Kill);
        self.group = None;
        status
    }

    fn formatted_tail(&self) -> String {
        let tail = self.log.tail(ERROR_TAIL);
        if tail.is_empty() {
            return "; it printed nothing".to_owned();
        }
        let mut out = format!("; its last {} output lines:", tail.len());
        for line in tail {
            out.push_str("\n  | ");
            out.push_str(&line);
        }
        out
    }

    fn signal(&self, signal: Signal) {
        if let Some(group) = self.group {
            signal_group(group, signal);
        }
    }
}

impl Drop for Merchant {
    fn drop(&mut self) {
        // A run that ended without `stop` (an error, Ctrl-C, a panic) still leaves nothing.
        self.signal(Signal::Kill);
    }
}

/// Kills a merchant's process group; see [`Merchant::killer`].
#[derive(Debug, Clone, Copy)]
pub struct GroupKiller(Option<i32>);

impl GroupKiller {
    /// Sends SIGKILL to the whole group.
    pub fn kill(self) {
        if let Some(group) = self.0 {
            signal_group(group, Signal::Kill);
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

fn signal_group(group: i32, signal: Signal) {
    let sig = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    // SAFETY: killpg only sends a signal; `group` is the pgid of a child we spawned as the
    // leader of its own group (process_group(0)), never 0 or our own group.
    unsafe {
        libc::killpg(group, sig);
    }
}

/// The merchant URL's socket address when something already listens there.
fn taken_port(url: &url::Url) -> Option<SocketAddr> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    match TcpListener::bind(addr) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Some(addr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(command: &str, url: &str) -> MerchantSpec {
        MerchantSpec {
            name: "t".into(),
            command: command.into(),
            dir: std::env::temp_dir(),
            url: url.parse().unwrap(),
            ready: "/".into(),
            ready_timeout: Duration::from_millis(300),
            api_timeout: Duration::from_secs(15),
            settle: Duration::from_secs(2),
            jobs: None,
            client_id: None,
            notify_url: None,
            keys: None,
            sandbox_listen: None,
            tls_dir: None,
            env: BTreeMap::new(),
        }
    }

    #[test]
    fn a_taken_port_is_found() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        assert!(taken_port(&url.parse().unwrap()).is_some());
        drop(l);
        assert!(taken_port(&url.parse().unwrap()).is_none());
    }

    #[tokio::test]
    async fn an_early_exit_reports_its_last_lines() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = spec(
            "echo starting; echo 'card 4054695723100768' >&2; exit 3",
            &format!("http://127.0.0.1:{port}"),
        );
        let mut m = Merchant::start(&s, &[]).unwrap();
        let err = m
            .wait_ready(&reqwest::Client::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("exited (exit status: 3)"), "{err}");
        assert!(err.contains("stdout: starting"), "{err}");
        assert!(
            err.contains("************0768") && !err.contains("4054695723100768"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn stop_ends_the_whole_group() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        // A shell whose child ignores SIGTERM: the group still ends (SIGKILL after the grace).
        let s = spec(
            &format!(
                "sh -c 'trap \"\" TERM; echo $$ > {}; sleep 60' & wait",
                pidfile.display()
            ),
            &format!("http://127.0.0.1:{port}"),
        );
        let m = Merchant::start(&s, &[]).unwrap();
        let mut pid = None;
        for _ in 0..50 {
            if let Ok(text) = std::fs::read_to_string(&pidfile)
                && let Ok(p) = text.trim().parse::<i32>()
            {
                pid = Some(p);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pid = pid.expect("the child wrote its pid");
        m.stop().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Gone, or a zombie waiting for its new parent to reap it.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'));
        assert!(!running, "the grandchild {pid} outlived stop(): {stat}");
    }
}
