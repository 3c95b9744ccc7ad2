//! The progress line of `facerec run` on stderr: done/total, rate, ETA, faces, failures.
//! Redrawn in place on a terminal; one plain line every few seconds otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct ProgressLine {
    total: usize,
    /// Jobs already done when this run started (a resumed run).
    done_before: usize,
    started: Instant,
    tty: bool,
    last_plain: Option<Instant>,
}

/// `1:05`, `1:02:03`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

impl ProgressLine {
    pub fn new(total: usize, done_before: usize) -> Self {
        Self {
            total,
            done_before,
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            last_plain: None,
        }
    }

    /// The line for `done` finished jobs (this run and before), `faces` found, `failed`.
    pub fn render(&self, done: usize, faces: usize, failed: usize) -> String {
        let elapsed = self.started.elapsed();
        let this_run = done.saturating_sub(self.done_before);
        let rate = this_run as f64 / elapsed.as_secs_f64().max(1e-3);
        let left = self.total.saturating_sub(done);
        let early = elapsed < Duration::from_secs(1) && left > 0;
        let eta = if left == 0 {
            "0:00".to_string()
        } else if this_run == 0 || early {
            "--:--".to_string()
        } else {
            clock(Duration::from_secs_f64(left as f64 / rate))
        };
        let pct = if self.total == 0 {
            100.0
        } else {
            100.0 * done as f64 / self.total as f64
        };
        let width = self.total.to_string().len();
        // A rate over less than a second is noise (an instantly failing job, say).
        let rate = if early {
            "--".to_string()
        } else {
            format!("{rate:.2}")
        };
        format!(
            "[{done:>width$}/{}] {pct:5.1}%  {rate} img/s  ETA {eta}  elapsed {}  faces {faces}  failed {failed}",
            self.total,
            clock(elapsed),
        )
    }

    /// Draw (a terminal: always, in place; otherwise at most every 2 s unless `last`).
    pub fn draw(&mut self, done: usize, faces: usize, failed: usize, last: bool) {
        let line = self.render(done, faces, failed);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            if last {
                let _ = writeln!(err);
            }
        } else if last
            || self
                .last_plain
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(2))
        {
            let _ = writeln!(err, "{line}");
            self.last_plain = Some(Instant::now());
        }
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_clock() {
        let p = ProgressLine::new(120, 20);
        let line = p.render(20, 3, 1);
        assert!(line.starts_with("[ 20/120]  16.7%"), "{line}");
        assert!(line.contains("ETA --:--"), "{line}");
        assert!(line.contains("faces 3  failed 1"), "{line}");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
        assert_eq!(clock(Duration::from_secs(65)), "1:05");
    }
}
