//! `facerec simulate --trace FILE`: anyone's traffic. The file is CSV, one job per line,
//! `arrival_seconds,job_seconds` (both ≥ 0; arrival from the start of the trace, any
//! order; job seconds of processing, at least 1 counted); an optional header line whose
//! first field is not a number, blank lines and lines starting with `#` are skipped.
//! A bad line is a one-line error naming the file and the line.

use std::path::Path;

use anyhow::{bail, Context};

use crate::trace::Trace;

/// Reads a trace file (module docs for the format).
pub fn read(path: &Path) -> anyhow::Result<Trace> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read trace {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Parses the text of a trace file; `name` is what errors and the trace are called.
pub fn parse(text: &str, name: &str) -> anyhow::Result<Trace> {
    let mut jobs = Vec::new();
    for (k, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if jobs.is_empty() && k == first_data_line(text) && fields[0].parse::<f64>().is_err() {
            continue; // header
        }
        let number = |i: usize, what: &str| -> anyhow::Result<f64> {
            let Some(f) = fields.get(i) else {
                bail!(
                    "{name}:{}: expected `arrival_seconds,job_seconds`, got {line:?}",
                    k + 1
                );
            };
            match f.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => bail!("{name}:{}: {what} must be a number ≥ 0, got {f:?}", k + 1),
            }
        };
        if fields.len() != 2 {
            bail!(
                "{name}:{}: expected `arrival_seconds,job_seconds`, got {line:?}",
                k + 1
            );
        }
        let arrival = number(0, "arrival_seconds")?;
        let seconds = number(1, "job_seconds")?;
        jobs.push((arrival.round() as u64, seconds.round() as u64));
    }
    if jobs.is_empty() {
        bail!("{name}: no jobs (expected lines `arrival_seconds,job_seconds`)");
    }
    Ok(Trace::with_job_seconds(name, "a trace file", jobs))
}

fn first_data_line(text: &str) -> usize {
    text.lines()
        .position(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_comments_and_any_order() {
        let t = parse("# mine\narrival,seconds\n30,6\n\n0,1200.4\n", "t.csv").unwrap();
        assert_eq!(t.arrivals, vec![0, 30]);
        assert_eq!(t.job_seconds, Some(vec![1200, 6]));
    }

    #[test]
    fn bad_lines_are_one_line_errors_with_the_line_number() {
        for (text, want) in [
            (
                "0,6\n5\n",
                "t.csv:2: expected `arrival_seconds,job_seconds`",
            ),
            (
                "0,6\n5,x\n",
                "t.csv:2: job_seconds must be a number ≥ 0, got \"x\"",
            ),
            (
                "0,6\n-1,6\n",
                "t.csv:2: arrival_seconds must be a number ≥ 0",
            ),
            ("0,6,7\n", "t.csv:1: expected"),
            ("# nothing\n", "t.csv: no jobs"),
            ("a,b\nc,d\n", "t.csv:2: arrival_seconds must be a number"),
        ] {
            let e = parse(text, "t.csv").unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
