//! Which instances count as capacity: the rule the Lambda counts the fleet with (and the
//! simulator is to adopt), so "how many instances do we have" means one thing.
//!
//! An instance counts when it can run a task now or soon:
//! - it is in the Auto Scaling group, `Pending*` or `InService` (not on its way out);
//! - and its ECS container instance is ACTIVE, or it has none yet (still booting) and
//!   has been seen booting for at most [`InstanceBounds::registration_seconds`].
//!
//! A DRAINING container instance never counts: ECS places no task on it, whoever drained
//! it (an interrupted scale-in, the Spot handler). One that has run no task and been seen
//! DRAINING for [`InstanceBounds::draining_seconds`] is a *zombie*: nobody is going to
//! set it ACTIVE again, and the Lambda terminates it. Pure: the caller says how long it
//! has seen each instance in its state.

/// Where the instance is in its Auto Scaling group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// `Pending`, `Pending:Wait`, `Pending:Proceed`: launching.
    Launching,
    /// `InService`.
    InService,
    /// Terminating, detaching, standby, warm pool, or not in the group at all.
    Leaving,
}

impl Membership {
    /// From an Auto Scaling lifecycle state (`Pending:Wait`, `InService`, …).
    pub fn from_lifecycle_state(state: &str) -> Self {
        if state.starts_with("Pending") {
            Membership::Launching
        } else if state == "InService" {
            Membership::InService
        } else {
            Membership::Leaving
        }
    }
}

/// The instance's ECS container instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// None yet, or one that is not yet ACTIVE (REGISTERING, REGISTRATION_FAILED): the
    /// instance is still booting as far as capacity goes.
    Booting,
    /// ACTIVE: ECS places tasks on it.
    Active,
    /// DRAINING: ECS places no new task on it.
    Draining,
    /// DEREGISTERING, INACTIVE: leaving the cluster.
    Gone,
}

impl Registration {
    /// From a container instance's status; `None` when the instance has none.
    pub fn from_status(status: Option<&str>) -> Self {
        match status {
            None | Some("REGISTERING") | Some("REGISTRATION_FAILED") => Registration::Booting,
            Some("ACTIVE") => Registration::Active,
            Some("DRAINING") => Registration::Draining,
            Some(_) => Registration::Gone,
        }
    }
}

/// One instance as the rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceView {
    pub membership: Membership,
    pub registration: Registration,
    /// No task running or pending on it (always true without a container instance).
    pub idle: bool,
    /// How long it has been seen in its registration state (booting or draining), in
    /// seconds; 0 when first seen so. Only read for `Booting` and `Draining`.
    pub seen_for: u64,
}

/// How long an instance may stay booting or draining before it is given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceBounds {
    /// A booting instance counts as capacity for this long, then no more.
    pub registration_seconds: u64,
    /// An idle DRAINING instance in service becomes a zombie after this long.
    pub draining_seconds: u64,
}

impl InstanceBounds {
    /// The bounds for a fleet whose instances take `cold_start_seconds` from launch to a
    /// polling worker: booting for at most max(600 s, 3 × cold start) — the container
    /// instance registers before the image pull and model load that the cold start
    /// includes, so this is several times the expected wait, short enough that a broken
    /// instance costs minutes, not hours; draining for 120 s — two of the scaler's
    /// one-minute invocations, longer than its 60-s timeout, so an invocation that drained
    /// an instance to remove it has terminated it, set it ACTIVE again or been killed.
    pub fn for_cold_start(cold_start_seconds: u64) -> Self {
        InstanceBounds {
            registration_seconds: 600u64.max(cold_start_seconds.saturating_mul(3)),
            draining_seconds: 120,
        }
    }
}

/// What the instance is to the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceClass {
    /// ACTIVE and in the group: capacity, and removable when idle and in excess.
    Serving,
    /// In the group without an ACTIVE container instance yet, within the bound: capacity.
    Booting,
    /// Booting for longer than the bound: not capacity.
    Stuck,
    /// DRAINING: not capacity (tasks may still be stopping, or a removal is under way).
    Draining,
    /// DRAINING, idle, in service, for longer than the bound: not capacity, to terminate.
    Zombie,
    /// Leaving the group or the cluster: not capacity.
    Leaving,
}

/// The class of one instance.
pub fn classify(v: &InstanceView, bounds: &InstanceBounds) -> InstanceClass {
    if v.membership == Membership::Leaving {
        return InstanceClass::Leaving;
    }
    match v.registration {
        Registration::Active => InstanceClass::Serving,
        Registration::Booting if v.seen_for <= bounds.registration_seconds => {
            InstanceClass::Booting
        }
        Registration::Booting => InstanceClass::Stuck,
        Registration::Draining
            if v.idle
                && v.membership == Membership::InService
                && v.seen_for >= bounds.draining_seconds =>
        {
            InstanceClass::Zombie
        }
        Registration::Draining => InstanceClass::Draining,
        Registration::Gone => InstanceClass::Leaving,
    }
}

/// Whether the instance counts as capacity: serving, or booting within the bound.
pub fn counts_as_capacity(v: &InstanceView, bounds: &InstanceBounds) -> bool {
    matches!(
        classify(v, bounds),
        InstanceClass::Serving | InstanceClass::Booting
    )
}

/// The instances that count as capacity.
pub fn capacity<'a>(
    views: impl IntoIterator<Item = &'a InstanceView>,
    bounds: &InstanceBounds,
) -> u32 {
    views
        .into_iter()
        .filter(|v| counts_as_capacity(v, bounds))
        .count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: InstanceBounds = InstanceBounds {
        registration_seconds: 600,
        draining_seconds: 120,
    };

    fn view(
        membership: Membership,
        registration: Registration,
        idle: bool,
        seen_for: u64,
    ) -> InstanceView {
        InstanceView {
            membership,
            registration,
            idle,
            seen_for,
        }
    }

    #[test]
    fn only_active_and_recently_booting_instances_in_the_group_count() {
        use Membership::*;
        use Registration::*;
        let counted = [
            view(InService, Active, true, 0),
            view(Launching, Active, false, 0),
            view(Launching, Booting, true, 0),
            view(InService, Booting, true, 600),
        ];
        for v in &counted {
            assert!(counts_as_capacity(v, &B), "{v:?}");
        }
        let not_counted = [
            // A DRAINING instance never counts, however young and busy.
            view(InService, Draining, false, 0),
            view(InService, Draining, true, 0),
            view(InService, Draining, true, 10_000),
            // Booting past the bound: given up on.
            view(InService, Booting, true, 601),
            view(Launching, Booting, true, 601),
            // On its way out.
            view(Leaving, Active, true, 0),
            view(Leaving, Booting, true, 0),
            view(InService, Gone, true, 0),
        ];
        for v in &not_counted {
            assert!(!counts_as_capacity(v, &B), "{v:?}");
        }
        assert_eq!(capacity(counted.iter().chain(&not_counted), &B), 4);
    }

    #[test]
    fn a_zombie_is_idle_draining_in_service_past_the_bound() {
        use Membership::*;
        use Registration::*;
        assert_eq!(
            classify(&view(InService, Draining, true, 120), &B),
            InstanceClass::Zombie
        );
        // Too recent (a removal may be under way), still running a task, or not in service.
        assert_eq!(
            classify(&view(InService, Draining, true, 119), &B),
            InstanceClass::Draining
        );
        assert_eq!(
            classify(&view(InService, Draining, false, 9_999), &B),
            InstanceClass::Draining
        );
        assert_eq!(
            classify(&view(Launching, Draining, true, 9_999), &B),
            InstanceClass::Draining
        );
        assert_eq!(
            classify(&view(Leaving, Draining, true, 9_999), &B),
            InstanceClass::Leaving
        );
        assert_eq!(
            classify(&view(InService, Booting, true, 601), &B),
            InstanceClass::Stuck
        );
    }

    #[test]
    fn states_read_from_aws_strings() {
        assert_eq!(
            Membership::from_lifecycle_state("Pending:Wait"),
            Membership::Launching
        );
        assert_eq!(
            Membership::from_lifecycle_state("InService"),
            Membership::InService
        );
        assert_eq!(
            Membership::from_lifecycle_state("Terminating:Wait"),
            Membership::Leaving
        );
        assert_eq!(
            Membership::from_lifecycle_state("Standby"),
            Membership::Leaving
        );
        assert_eq!(Registration::from_status(None), Registration::Booting);
        assert_eq!(
            Registration::from_status(Some("REGISTERING")),
            Registration::Booting
        );
        assert_eq!(
            Registration::from_status(Some("ACTIVE")),
            Registration::Active
        );
        assert_eq!(
            Registration::from_status(Some("DRAINING")),
            Registration::Draining
        );
        assert_eq!(
            Registration::from_status(Some("DEREGISTERING")),
            Registration::Gone
        );
    }

    #[test]
    fn bounds_scale_with_a_long_cold_start() {
        assert_eq!(InstanceBounds::for_cold_start(165), B);
        assert_eq!(
            InstanceBounds::for_cold_start(300).registration_seconds,
            900
        );
    }
}
