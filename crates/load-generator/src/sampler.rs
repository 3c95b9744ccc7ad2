//! Recording: the queue's depth over time. Every `--sample-seconds` one
//! `GetQueueAttributes` reads the visible, in-flight and delayed counts; each sample is
//! a CSV row `t_seconds,sent,visible,in_flight,delayed`, flushed at once so the file
//! can be watched (or plotted) while the test runs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use facerec_aws_support::sqs::QueueDepth;
use facerec_aws_support::sqs::{self, QueueDepthError};

use crate::error::LoadError;
use crate::sender::describe;

pub const CSV_HEADER: &str = "t_seconds,sent,visible,in_flight,delayed";

/// One row of the recording.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthSample {
    /// Real seconds since the run started.
    pub t_seconds: f64,
    /// Jobs SQS had acknowledged when the counts came back. Batches whose answer is still
    /// on its way (at most `--concurrency` × 10 jobs) may already be counted by the queue.
    pub sent: u64,
    pub depth: QueueDepth,
}

/// Reads the queue's depth with one `GetQueueAttributes`.
pub async fn queue_depth(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<QueueDepth, LoadError> {
    sqs::queue_depth(client, queue_url)
        .await
        .map_err(|e| LoadError::QueueUnreadable {
            queue: queue_url.to_string(),
            detail: match e {
                QueueDepthError::Request(e) => describe(*e),
                e => e.to_string(),
            },
        })
}

/// Keeps the samples (for the summary) and writes them as CSV if asked to.
#[derive(Debug)]
pub struct DepthRecorder {
    csv: Option<(PathBuf, BufWriter<File>)>,
    samples: Vec<DepthSample>,
}

impl DepthRecorder {
    /// Creates (truncates) `out` and writes the header.
    pub fn create(out: Option<&Path>) -> Result<Self, LoadError> {
        let csv = match out {
            None => None,
            Some(path) => {
                let fail = |source| LoadError::Output {
                    path: path.to_path_buf(),
                    source,
                };
                let mut w = BufWriter::new(File::create(path).map_err(fail)?);
                writeln!(w, "{CSV_HEADER}").map_err(fail)?;
                w.flush().map_err(fail)?;
                Some((path.to_path_buf(), w))
            }
        };
        Ok(DepthRecorder {
            csv,
            samples: Vec::new(),
        })
    }

    pub fn record(&mut self, sample: DepthSample) -> Result<(), LoadError> {
        if let Some((path, w)) = &mut self.csv {
            let d = sample.depth;
            writeln!(
                w,
                "{:.3},{},{},{},{}",
                sample.t_seconds, sample.sent, d.visible, d.in_flight, d.delayed
            )
            .and_then(|()| w.flush())
            .map_err(|source| LoadError::Output {
                path: path.clone(),
                source,
            })?;
        }
        self.samples.push(sample);
        Ok(())
    }

    pub fn samples(&self) -> &[DepthSample] {
        &self.samples
    }

    /// The sample with the most visible messages (the first of equals).
    pub fn peak_visible(&self) -> Option<DepthSample> {
        self.samples.iter().copied().reduce(|best, s| {
            if s.depth.visible > best.depth.visible {
                s
            } else {
                best
            }
        })
    }
}

/// Parses a recording written by [`DepthRecorder`] (for tests and scripts).
pub fn parse_csv(text: &str) -> Result<Vec<DepthSample>, String> {
    let mut lines = text.lines();
    if lines.next() != Some(CSV_HEADER) {
        return Err(format!("first line must be {CSV_HEADER:?}"));
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || format!("line {}: {line:?}", i + 2);
            if f.len() != 5 {
                return Err(bad());
            }
            let n = |s: &str| s.parse::<u64>().map_err(|_| bad());
            Ok(DepthSample {
                t_seconds: f[0].parse().map_err(|_| bad())?,
                sent: n(f[1])?,
                depth: QueueDepth {
                    visible: n(f[2])?,
                    in_flight: n(f[3])?,
                    delayed: n(f[4])?,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_and_peak_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("depth.csv");
        let mut r = DepthRecorder::create(Some(&path)).unwrap();
        for (t, sent, visible) in [(0.0, 0, 0), (0.5, 20, 15), (1.0, 30, 15), (1.5, 30, 4)] {
            r.record(DepthSample {
                t_seconds: t,
                sent,
                depth: QueueDepth {
                    visible,
                    in_flight: 1,
                    delayed: 0,
                },
            })
            .unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("t_seconds,sent,visible,in_flight,delayed\n0.000,0,0,1,0\n"));
        let parsed = parse_csv(&text).unwrap();
        assert_eq!(parsed, r.samples());
        let peak = r.peak_visible().unwrap();
        assert_eq!((peak.t_seconds, peak.depth.visible), (0.5, 15));
        assert!(parse_csv("t,sent\n").is_err());
    }

    #[test]
    fn unwritable_output_is_a_clear_error() {
        let e = DepthRecorder::create(Some(Path::new("/nonexistent-dir/x.csv"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x.csv"), "{e}");
    }
}
