//! When each job is sent: arrival offsets (trace seconds) from the simulator's named
//! traces or from a file, turned into a real-time [`Schedule`] by `--speedup`,
//! `--limit` and `--skip-leading-idle`.

use std::path::Path;
use std::time::Duration;

use facerec_fleet_sim::params::ScalingParams;
use facerec_fleet_sim::trace::{self, TRACE_NAMES};

use crate::error::LoadError;

/// Arrival offsets of the simulator's trace `name`: the exact arrivals `fleet-sim`
/// judges for the same parameters and seed. Spot storms are not reproduced (a load
/// generator cannot interrupt instances), so only arrivals are returned.
pub fn from_trace(name: &str, params: &ScalingParams, seed: u64) -> Result<Vec<f64>, LoadError> {
    let trace = trace::build(name, params, seed).ok_or_else(|| LoadError::UnknownTrace {
        name: name.to_string(),
        known: TRACE_NAMES.join(", "),
    })?;
    Ok(trace.arrivals.iter().map(|&t| t as f64).collect())
}

/// Reads arrival offsets (seconds from the start, fractions allowed) from a file: JSON
/// (an array of numbers, or an object with an `arrivals` array, as the simulator's
/// `Trace` serializes) or CSV (first column, one arrival per line; a header line and
/// `#` comments are skipped).
pub fn from_file(path: &Path) -> Result<Vec<f64>, LoadError> {
    let bad = |reason: String| LoadError::BadArrivals {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let offsets = parse(&text).map_err(bad)?;
    if offsets.is_empty() {
        return Err(bad("holds no arrivals".into()));
    }
    Ok(offsets)
}

/// Parses the text of an arrivals file (see [`from_file`]); offsets come back sorted.
pub fn parse(text: &str) -> Result<Vec<f64>, String> {
    let trimmed = text.trim_start();
    let mut offsets = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        parse_json(trimmed)?
    } else {
        parse_csv(text)?
    };
    offsets.sort_by(f64::total_cmp);
    Ok(offsets)
}

fn check(value: f64, place: &str) -> Result<f64, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!(
            "{place}: arrival offset {value} must be a finite number of seconds >= 0"
        ))
    }
}

fn parse_json(text: &str) -> Result<Vec<f64>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let array = match &value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("arrivals") {
            Some(serde_json::Value::Array(a)) => a,
            _ => return Err("a JSON object needs an \"arrivals\" array of seconds".into()),
        },
        _ => return Err("expected a JSON array of seconds".into()),
    };
    array
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let n = v
                .as_f64()
                .ok_or_else(|| format!("arrivals[{i}] is {v}, not a number"))?;
            check(n, &format!("arrivals[{i}]"))
        })
        .collect()
}

fn parse_csv(text: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let field = line.split(',').next().unwrap_or("").trim();
        match field.parse::<f64>() {
            Ok(v) => out.push(check(v, &format!("line {}", i + 1))?),
            // A header is allowed, but only before the first number.
            Err(_) if out.is_empty() && !field.starts_with(|c: char| c.is_ascii_digit()) => {}
            Err(_) => return Err(format!("line {}: {field:?} is not a number", i + 1)),
        }
    }
    Ok(out)
}

/// How trace time maps to real time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// Trace seconds per real second (> 0).
    pub speedup: f64,
    /// Send only the first `limit` arrivals.
    pub limit: Option<usize>,
    /// Start the clock at the first arrival instead of trace time 0.
    pub skip_leading_idle: bool,
}

impl Pacing {
    pub fn new(
        speedup: f64,
        limit: Option<usize>,
        skip_leading_idle: bool,
    ) -> Result<Self, LoadError> {
        if !(speedup.is_finite() && speedup > 0.0) {
            return Err(LoadError::BadNumber {
                flag: "speedup",
                rule: "> 0",
                value: speedup,
            });
        }
        if limit == Some(0) {
            return Err(LoadError::NothingToSend("--limit is 0".into()));
        }
        Ok(Pacing {
            speedup,
            limit,
            skip_leading_idle,
        })
    }
}

/// Real-time send offsets from the start of the run, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub offsets: Vec<Duration>,
    /// Trace seconds covered (first offset .. last arrival), before the speedup.
    pub trace_span_seconds: f64,
}

impl Schedule {
    pub fn new(mut trace_offsets: Vec<f64>, pacing: Pacing) -> Result<Self, LoadError> {
        trace_offsets.sort_by(f64::total_cmp);
        if let Some(limit) = pacing.limit {
            trace_offsets.truncate(limit);
        }
        let Some(&first) = trace_offsets.first() else {
            return Err(LoadError::NothingToSend("the trace has no arrivals".into()));
        };
        let origin = if pacing.skip_leading_idle { first } else { 0.0 };
        let offsets = trace_offsets
            .iter()
            .map(|t| Duration::from_secs_f64((t - origin) / pacing.speedup))
            .collect();
        let trace_span_seconds = trace_offsets.last().map_or(0.0, |last| last - origin);
        Ok(Schedule {
            offsets,
            trace_span_seconds,
        })
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ScalingParams {
        ScalingParams::from_json_str(include_str!("../../../terraform/scaling.json")).unwrap()
    }

    #[test]
    fn named_traces_are_the_simulators() {
        let p = params();
        for name in TRACE_NAMES {
            let ours = from_trace(name, &p, 7).unwrap();
            let sim = trace::build(name, &p, 7).unwrap().arrivals;
            assert_eq!(ours.len(), sim.len(), "{name}");
            assert!(ours.iter().zip(&sim).all(|(a, &b)| *a == b as f64));
        }
        let err = from_trace("stedy", &p, 7).unwrap_err();
        assert!(matches!(err, LoadError::UnknownTrace { .. }));
        assert!(err.to_string().contains("spot-storm"), "{err}");
    }

    #[test]
    fn parses_csv_and_json() {
        assert_eq!(
            parse("offset_seconds,note\n# comment\n3,a\n1.5\n\n2\n").unwrap(),
            vec![1.5, 2.0, 3.0]
        );
        assert_eq!(parse("[2, 0.25, 1]").unwrap(), vec![0.25, 1.0, 2.0]);
        assert_eq!(
            parse(r#"{"name":"x","arrivals":[5,4]}"#).unwrap(),
            vec![4.0, 5.0]
        );
        assert!(parse("1\nabc\n").unwrap_err().contains("line 2"));
        assert!(parse("1\n-3\n").unwrap_err().contains(">= 0"));
        assert!(parse("[1, \"x\"]").unwrap_err().contains("arrivals[1]"));
        assert!(parse(r#"{"times":[1]}"#).is_err());
    }

    #[test]
    fn pacing_compresses_limits_and_skips_idle() {
        let trace = vec![600.0, 660.0, 600.0, 7800.0];
        let s = Schedule::new(trace.clone(), Pacing::new(60.0, None, false).unwrap()).unwrap();
        let secs: Vec<f64> = s.offsets.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(secs, vec![10.0, 10.0, 11.0, 130.0]);
        assert_eq!(s.trace_span_seconds, 7800.0);

        let s = Schedule::new(trace, Pacing::new(2.0, Some(3), true).unwrap()).unwrap();
        let secs: Vec<f64> = s.offsets.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(secs, vec![0.0, 0.0, 30.0]);
        assert_eq!(s.trace_span_seconds, 60.0);
    }

    #[test]
    fn rejects_bad_pacing() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = Pacing::new(bad, None, false).unwrap_err();
            assert!(e.to_string().contains("--speedup"), "{e}");
        }
        assert!(Pacing::new(1.0, Some(0), false).is_err());
        assert!(Schedule::new(vec![], Pacing::new(1.0, None, false).unwrap()).is_err());
    }
}
