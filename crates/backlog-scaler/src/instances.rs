//! The group's instances joined with their container instances, and counted with
//! [`facerec_backlog_policy::capacity`] (the rule the simulator is to share).

use facerec_backlog_policy::capacity::{
    self, InstanceBounds, InstanceClass, InstanceView, Membership, Registration,
};

use crate::fleet::{ContainerInstance, GroupState};
use crate::state::Sightings;

/// One instance of the group with its container instance, if it has one.
#[derive(Clone, Copy, Debug)]
pub struct Member<'a> {
    pub id: &'a str,
    pub membership: Membership,
    pub container: Option<&'a ContainerInstance>,
}

impl Member<'_> {
    pub fn registration(&self) -> Registration {
        Registration::from_status(self.container.map(|ci| ci.status.as_str()))
    }

    /// The rule's view of it at `now`, with how long `sightings` has seen it so.
    pub fn view(&self, now: u64, sightings: &Sightings) -> InstanceView {
        let registration = self.registration();
        InstanceView {
            membership: self.membership,
            registration,
            idle: self.container.is_none_or(ContainerInstance::is_empty),
            seen_for: sightings.seen_for(now, self.id, registration),
        }
    }

    pub fn class(&self, now: u64, sightings: &Sightings, bounds: &InstanceBounds) -> InstanceClass {
        capacity::classify(&self.view(now, sightings), bounds)
    }
}

/// The group's instances, each with its container instance: the ACTIVE one if there are
/// several (an instance that registered again), else DRAINING, else any.
pub fn members<'a>(group: &'a GroupState, containers: &'a [ContainerInstance]) -> Vec<Member<'a>> {
    let rank = |ci: &ContainerInstance| match ci.status.as_str() {
        "ACTIVE" => 0,
        "DRAINING" => 1,
        _ => 2,
    };
    group
        .instances
        .iter()
        .map(|i| Member {
            id: i.instance_id.as_str(),
            membership: Membership::from_lifecycle_state(&i.lifecycle_state),
            container: containers
                .iter()
                .filter(|ci| ci.ec2_instance_id == i.instance_id)
                .min_by_key(|ci| rank(ci)),
        })
        .collect()
}

/// How many of `members` count as capacity at `now`.
pub fn capacity_of(
    members: &[Member<'_>],
    now: u64,
    sightings: &Sightings,
    bounds: &InstanceBounds,
) -> u32 {
    let views: Vec<InstanceView> = members.iter().map(|m| m.view(now, sightings)).collect();
    capacity::capacity(&views, bounds)
}

/// Records in `sightings` what a poll at `now` saw of the group's members.
pub fn observe(sightings: &mut Sightings, now: u64, members: &[Member<'_>]) {
    sightings.observe(
        now,
        members
            .iter()
            .filter(|m| m.membership != Membership::Leaving)
            .map(|m| (m.id, m.registration())),
    );
}
