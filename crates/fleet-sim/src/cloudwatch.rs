//! CloudWatch as the scalers see it: one-minute datapoints that become visible some
//! time after their minute closes, and alarms that need N consecutive breaching
//! datapoints.
//!
//! Alarm evaluation: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarm-evaluation>
//! ("Datapoints to Alarm" M out of N; here always M = N, as target tracking and our
//! step alarms use). Missing datapoints: with the default `treatMissingData = missing`
//! an alarm whose every datapoint in the range is missing goes to INSUFFICIENT_DATA,
//! and Application Auto Scaling cannot scale on it:
//! <https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html>
//! Auto Scaling alarm actions are re-invoked every minute while the alarm stays in
//! ALARM, so a sustained breach keeps invoking the policy (cooldowns then decide):
//! <https://docs.aws.amazon.com/autoscaling/application/userguide/step-scaling-policy-overview.html>

/// One metric at one-minute resolution; index = minute since the start. `None` = no data
/// (e.g. a metric-math division by zero).
#[derive(Debug, Clone, Default)]
pub struct MinuteSeries {
    pub points: Vec<Option<f64>>,
}

impl MinuteSeries {
    pub fn push(&mut self, value: Option<f64>) {
        self.points.push(value);
    }

    /// Datapoints an alarm can see at time `t` (seconds) when a minute's datapoint is
    /// published `delay` seconds after the minute closes: minutes `0..visible_len`.
    pub fn visible_len(&self, t: u64, delay: u64) -> usize {
        let published = t.saturating_sub(delay) / 60; // minutes fully closed and published
        (published as usize).min(self.points.len())
    }

    /// Latest visible datapoint, if any.
    pub fn latest(&self, t: u64, delay: u64) -> Option<f64> {
        let n = self.visible_len(t, delay);
        if n == 0 {
            None
        } else {
            self.points[n - 1]
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    GreaterThan,
    LessThan,
    LessThanOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// A CloudWatch alarm on a one-minute metric: `datapoints` consecutive breaching
/// datapoints (the most recent visible ones) put it in ALARM.
#[derive(Debug, Clone, Copy)]
pub struct AlarmRule {
    pub comparison: Comparison,
    pub threshold: f64,
    pub datapoints: usize,
    /// Seconds after a minute closes before its datapoint is visible.
    pub delay: u64,
}

impl AlarmRule {
    fn breaches(&self, v: f64) -> bool {
        match self.comparison {
            Comparison::GreaterThan => v > self.threshold,
            Comparison::LessThan => v < self.threshold,
            Comparison::LessThanOrEqual => v <= self.threshold,
        }
    }

    pub fn evaluate(&self, series: &MinuteSeries, t: u64) -> AlarmState {
        let n = series.visible_len(t, self.delay);
        if n == 0 {
            return AlarmState::InsufficientData;
        }
        let window = &series.points[n.saturating_sub(self.datapoints)..n];
        if window.iter().all(Option::is_none) {
            return AlarmState::InsufficientData;
        }
        // Missing datapoints inside a partly filled window count as not breaching
        // (a conservative reading of `treatMissingData = missing`).
        let breaching = window
            .iter()
            .filter(|v| v.is_some_and(|v| self.breaches(v)))
            .count();
        if window.len() == self.datapoints && breaching == self.datapoints {
            AlarmState::Alarm
        } else {
            AlarmState::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datapoint_is_visible_only_after_its_delay() {
        let mut s = MinuteSeries::default();
        s.push(Some(1.0)); // minute 0 = [0, 60)
        s.push(Some(2.0)); // minute 1
        assert_eq!(s.latest(60, 120), None);
        assert_eq!(s.latest(179, 120), None);
        assert_eq!(s.latest(180, 120), Some(1.0));
        assert_eq!(s.latest(240, 120), Some(2.0));
    }

    #[test]
    fn needs_all_datapoints_breaching() {
        let rule = AlarmRule {
            comparison: Comparison::GreaterThan,
            threshold: 50.0,
            datapoints: 3,
            delay: 0,
        };
        let mut s = MinuteSeries::default();
        for v in [60.0, 60.0] {
            s.push(Some(v));
        }
        assert_eq!(
            rule.evaluate(&s, 120),
            AlarmState::Ok,
            "only two datapoints"
        );
        s.push(Some(60.0));
        assert_eq!(rule.evaluate(&s, 180), AlarmState::Alarm);
        s.push(Some(50.0));
        assert_eq!(rule.evaluate(&s, 240), AlarmState::Ok, "50 is not > 50");
        let mut empty = MinuteSeries::default();
        empty.push(None);
        assert_eq!(rule.evaluate(&empty, 60), AlarmState::InsufficientData);
    }
}
