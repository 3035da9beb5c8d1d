//! The merchant's captured output: its stdout and stderr lines, masked as they arrive, the most
//! recent [`MAX_LINES`] kept (each cut at [`MAX_LINE`] bytes), so a chatty merchant cannot grow
//! the runner's memory.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// How many lines are kept; older ones are dropped (and counted).
pub const MAX_LINES: usize = 2000;
/// How long a kept line may be, in bytes; the rest is cut with a marker.
pub const MAX_LINE: usize = 4096;

#[derive(Debug, Default)]
struct Lines {
    kept: VecDeque<String>,
    dropped: u64,
}

/// A bounded, masked log shared by the reader tasks and the runner. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OutputLog {
    lines: Arc<Mutex<Lines>>,
}

impl OutputLog {
    /// Adds one line: masked (card numbers, CVVs, registered secrets), cut, and the oldest line
    /// dropped when full.
    pub fn push(&self, stream: &str, line: &str) {
        let mut text = crate::mask::mask_text(line.trim_end_matches(['\r', '\n'])).into_owned();
        if text.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str(" […cut]");
        }
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.kept.len() == MAX_LINES {
            lines.kept.pop_front();
            lines.dropped += 1;
        }
        lines.kept.push_back(format!("{stream}: {text}"));
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let skip = lines.kept.len().saturating_sub(n);
        lines.kept.iter().skip(skip).cloned().collect()
    }

    /// Everything kept, one line each, with a first line saying how many were dropped.
    pub fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        if lines.dropped > 0 {
            out.push_str(&format!(
                "[{} earlier lines dropped; the last {MAX_LINES} are kept]\n",
                lines.dropped
            ));
        }
        for line in &lines.kept {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Reads `source` line by line into the log until it closes (a task per stream).
    pub fn follow<R: AsyncRead + Unpin + Send + 'static>(&self, stream: &'static str, source: R) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(source);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                // A line longer than the cap is still read whole (then cut): a bounded read
                // would split it into several log lines.
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => log.push(stream, &String::from_utf8_lossy(&buf)),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_masked_cut_and_bounded() {
        let log = OutputLog::default();
        log.push("stdout", "paid with 4054695723100768\n");
        assert_eq!(log.tail(1), ["stdout: paid with ************0768"]);
        log.push("stderr", &"x".repeat(MAX_LINE + 10));
        assert!(log.tail(1)[0].ends_with(" […cut]"));
        for i in 0..MAX_LINES {
            log.push("stdout", &format!("line {i}"));
        }
        assert_eq!(
            log.tail(2),
            [
                format!("stdout: line {}", MAX_LINES - 2),
                format!("stdout: line {}", MAX_LINES - 1)
            ]
        );
        assert!(log.text().starts_with("[2 earlier lines dropped"));
    }
}
