//! What the scaler keeps between invocations in its SSM parameter: the rule's state and,
//! for the instances that are booting or draining, the first poll that saw them so (the
//! bounds of [`facerec_backlog_policy::capacity`] count from there: Auto Scaling and ECS
//! report no time of entering either state).
//!
//! `{"samples": […], "empty_since": …, "booting": {"i-…": t}, "draining": {"i-…": t}}`;
//! the last two are left out when empty, so a state written before them (and Terraform's
//! `{}`) reads as it did.

use std::collections::BTreeMap;

use facerec_backlog_policy::capacity::Registration;
use facerec_backlog_policy::PolicyState;
use serde::{Deserialize, Serialize};

/// An SSM Standard parameter's value holds at most 4096 characters.
pub const STATE_LIMIT_BYTES: usize = 4096;

/// Most instances whose first sighting is kept (booting and draining together): 16 ids
/// with their times take ~530 bytes of the 4 KB. An instance beyond them is tracked once
/// others leave; until then it is taken as just seen (booting: counted; draining: not a
/// zombie), so the cap can only delay a removal, never cause one.
pub const MAX_TRACKED: usize = 16;

/// When each tracked instance was first seen in its state (Unix seconds of the poll).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sightings {
    /// In the group without an ACTIVE or DRAINING container instance.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub booting: BTreeMap<String, u64>,
    /// With a DRAINING container instance.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub draining: BTreeMap<String, u64>,
}

impl Sightings {
    /// Records what a poll at `now` saw — each instance of the group (not leaving) with its
    /// registration — and forgets instances no longer in the state they were tracked in.
    pub fn observe<'a>(
        &mut self,
        now: u64,
        instances: impl IntoIterator<Item = (&'a str, Registration)>,
    ) {
        let mut booting = Vec::new();
        let mut draining = Vec::new();
        for (id, registration) in instances {
            match registration {
                Registration::Booting => booting.push(id),
                Registration::Draining => draining.push(id),
                _ => {}
            }
        }
        self.booting.retain(|id, _| booting.contains(&id.as_str()));
        self.draining
            .retain(|id, _| draining.contains(&id.as_str()));
        // Draining first: a zombie held untracked costs an idle instance; a booting one
        // untracked is only counted a little longer.
        for id in draining {
            if self.len() < MAX_TRACKED || self.draining.contains_key(id) {
                self.draining.entry(id.to_string()).or_insert(now);
            }
        }
        for id in booting {
            if self.len() < MAX_TRACKED || self.booting.contains_key(id) {
                self.booting.entry(id.to_string()).or_insert(now);
            }
        }
        self.trim();
    }

    fn len(&self) -> usize {
        self.booting.len() + self.draining.len()
    }

    /// Drops the newest entries beyond [`MAX_TRACKED`] (booting ones first).
    fn trim(&mut self) {
        while self.len() > MAX_TRACKED {
            let map = if self.booting.is_empty() {
                &mut self.draining
            } else {
                &mut self.booting
            };
            let newest = map
                .iter()
                .max_by_key(|(id, t)| (**t, (*id).clone()))
                .map(|(id, _)| id.clone());
            if let Some(id) = newest {
                map.remove(&id);
            }
        }
    }

    /// Seconds since the instance was first seen in `registration` (0 if untracked).
    pub fn seen_for(&self, now: u64, id: &str, registration: Registration) -> u64 {
        let map = match registration {
            Registration::Booting => &self.booting,
            Registration::Draining => &self.draining,
            _ => return 0,
        };
        map.get(id).map_or(0, |t| now.saturating_sub(*t))
    }

    /// Drops sightings from the future (a clock that stepped back). Returns how many.
    pub fn sanitize(&mut self, now: u64) -> usize {
        let before = self.len();
        self.booting.retain(|_, t| *t <= now);
        self.draining.retain(|_, t| *t <= now);
        self.trim();
        before - self.len()
    }
}

/// Everything in the SSM parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalerState {
    #[serde(flatten)]
    pub policy: PolicyState,
    #[serde(flatten)]
    pub sightings: Sightings,
}

impl From<PolicyState> for ScalerState {
    fn from(policy: PolicyState) -> Self {
        ScalerState {
            policy,
            sightings: Sightings::default(),
        }
    }
}

/// The state as JSON of at most [`STATE_LIMIT_BYTES`], and how many of its oldest samples
/// were dropped to fit. Within the configuration's limits (MAX_TASKS ≤ 1000, at most
/// [`crate::config::MAX_REMEMBERED_POLLS`] polls, [`MAX_TRACKED`] sightings) nothing is
/// dropped below ~10⁶ queued jobs; beyond that the oldest samples go rather than the save
/// failing on size (and, were that not enough, the sightings).
pub fn state_json(mut state: ScalerState) -> (String, usize) {
    let mut dropped = 0;
    loop {
        let json = serde_json::to_string(&state).expect("the state serialises");
        if json.len() <= STATE_LIMIT_BYTES {
            return (json, dropped);
        }
        if state.policy.samples.pop_front().is_some() {
            dropped += 1;
        } else if state.sightings != Sightings::default() {
            state.sightings = Sightings::default();
        } else {
            return (json, dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sightings_start_at_the_first_poll_and_end_with_the_state() {
        let mut s = Sightings::default();
        s.observe(
            100,
            [
                ("i-1", Registration::Booting),
                ("i-2", Registration::Draining),
                ("i-3", Registration::Active),
            ],
        );
        s.observe(
            110,
            [
                ("i-1", Registration::Booting),
                ("i-2", Registration::Draining),
            ],
        );
        assert_eq!(s.seen_for(130, "i-1", Registration::Booting), 30);
        assert_eq!(s.seen_for(130, "i-2", Registration::Draining), 30);
        assert_eq!(s.seen_for(130, "i-3", Registration::Active), 0);
        // i-2 set ACTIVE again, i-1 registered: both forgotten; draining again starts over.
        s.observe(
            120,
            [("i-1", Registration::Active), ("i-2", Registration::Active)],
        );
        assert_eq!(s, Sightings::default());
        s.observe(200, [("i-2", Registration::Draining)]);
        assert_eq!(s.seen_for(230, "i-2", Registration::Draining), 30);
    }

    #[test]
    fn at_most_max_tracked_and_draining_first() {
        let mut s = Sightings::default();
        let ids: Vec<String> = (0..40).map(|k| format!("i-{k:017}")).collect();
        s.observe(
            100,
            ids.iter().enumerate().map(|(k, id)| {
                let r = if k < 30 {
                    Registration::Booting
                } else {
                    Registration::Draining
                };
                (id.as_str(), r)
            }),
        );
        assert_eq!(s.draining.len(), 10);
        assert_eq!(s.booting.len(), MAX_TRACKED - 10);
        // Untracked: taken as just seen.
        assert_eq!(s.seen_for(500, &ids[29], Registration::Booting), 0);
    }

    /// The largest state the configuration allows (110 polls, MAX_TASKS = 1000, 10⁶ jobs
    /// queued at every poll) with the sightings at their cap still fits the parameter.
    #[test]
    fn a_full_state_with_full_sightings_fits() {
        use facerec_backlog_policy::PollSample;
        let mut state = ScalerState::default();
        for k in 0..crate::config::MAX_REMEMBERED_POLLS {
            state.policy.samples.push_back(PollSample {
                t: 1_767_225_600 + 10 * k,
                queued: 1_000_000,
                busy: 1000,
                want: 1000,
            });
        }
        state.policy.empty_since = Some(1_767_225_600);
        for k in 0..MAX_TRACKED {
            let map = if k % 2 == 0 {
                &mut state.sightings.booting
            } else {
                &mut state.sightings.draining
            };
            map.insert(format!("i-{k:017x}"), 1_767_225_600);
        }
        let (json, dropped) = state_json(state.clone());
        assert_eq!(dropped, 0, "{} bytes", json.len());
        assert_eq!(serde_json::from_str::<ScalerState>(&json).unwrap(), state);
    }

    #[test]
    fn the_old_state_format_still_reads_and_empty_sightings_are_left_out() {
        let old = r#"{"samples":[[1767225600,3,1,1]],"empty_since":null}"#;
        let state: ScalerState = serde_json::from_str(old).unwrap();
        assert_eq!(state.policy.samples.len(), 1);
        assert_eq!(serde_json::to_string(&state).unwrap(), old);
        let empty: ScalerState = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, ScalerState::default());
        assert!(serde_json::from_str::<ScalerState>(r#"{"samples": 12}"#).is_err());
    }
}
