//! Instances stuck in a state, and invocations that overlap, over the in-memory fleet in
//! paused tokio time: what counts as capacity (facerec_backlog_policy::capacity), what is
//! terminated and when, and that two invocations at once remove no more than the excess.

mod support;

use facerec_backlog_scaler::{QueueDepth, ScalerState, TokioClock};
use support::fake::{
    ci, count, draining, fresh, in_service, on, one_idle_instance, scaler, terminated, up_to_ten,
    FakeFleet, MemoryStore, World, T0, T0_MS,
};

/// An instance left DRAINING and idle in service (an invocation killed between the drain
/// and the termination, or the Spot handler on a rebalance recommendation) does not count
/// as capacity, and is terminated once seen so for 120 s — the sighting carried from one
/// invocation to the next in the state, which is saved before the termination. DRAINING
/// instances still running a task, or already leaving the group, are left alone.
#[tokio::test(start_paused = true)]
async fn a_zombie_is_terminated_once_seen_draining_for_two_minutes() {
    let mut group = in_service(&[1, 2, 3]);
    group.push(("i-4".into(), "Terminating:Wait".into()));
    let fleet = FakeFleet::new(World {
        depth: QueueDepth {
            visible: 0,
            in_flight: 1,
        },
        busy: 1,
        service_desired: 1,
        group_desired: 3,
        group,
        container_instances: vec![ci(1, 1), draining(2, 0), draining(3, 1), draining(4, 0)],
        ..up_to_ten()
    });
    let s = on(fleet.clone(), MemoryStore::journaled(&fleet));
    for minute in 0..2 {
        let report = s
            .invoke(&TokioClock::anchored_at(T0_MS + minute * 60_000))
            .await
            .unwrap();
        assert!(
            terminated(&report).is_empty(),
            "minute {minute}: {report:?}"
        );
        assert!(report.polls.iter().all(|p| p.capacity == 1), "{report:?}");
    }
    let state: ScalerState =
        serde_json::from_str(s.store().value.lock().unwrap().as_deref().unwrap()).unwrap();
    assert_eq!(state.sightings.draining.get("i-2"), Some(&T0));
    let saves_before = s.store().saves.lock().unwrap().len();

    let report = s
        .invoke(&TokioClock::anchored_at(T0_MS + 120_000))
        .await
        .unwrap();
    assert_eq!(terminated(&report), ["i-2"]);
    assert_eq!(
        report.polls[0].terminated,
        ["i-2"],
        "at the first poll 120 s on"
    );
    let calls = s.fleet().calls();
    let terminate = calls
        .iter()
        .position(|c| c == "TerminateInstanceInAutoScalingGroup i-2")
        .unwrap();
    assert_eq!(calls[terminate - 2], "PutParameter", "{calls:?}");
    assert_eq!(
        calls[terminate - 1],
        format!("DescribeContainerInstances {}", ci(2, 0).arn),
        "re-read just before"
    );
    // The save before the termination holds the poll that decided it.
    let saved: ScalerState =
        serde_json::from_str(&s.store().saves.lock().unwrap()[saves_before]).unwrap();
    assert_eq!(saved.policy.samples.back().unwrap().t, T0 + 120);
    let w = s.fleet().world();
    assert_eq!(w.group_desired, 2);
    assert_eq!(count(&w.calls, "TerminateInstanceInAutoScalingGroup"), 1);
    assert_eq!(count(&w.calls, "UpdateContainerInstancesState"), 0);
}

/// A DRAINING instance is not capacity: with two empty ACTIVE instances for a decision
/// of two, and a third instance just drained by someone else, nothing is in excess (the
/// old count, every Pending or InService instance, saw one and removed an ACTIVE one).
#[tokio::test(start_paused = true)]
async fn a_draining_instance_is_not_capacity() {
    let s = fresh(World {
        depth: QueueDepth {
            visible: 40,
            in_flight: 0,
        },
        service_desired: 2,
        group_desired: 3,
        group: in_service(&[1, 2, 3]),
        container_instances: vec![ci(1, 0), ci(2, 0), draining(3, 0)],
        ..up_to_ten()
    });
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert!(report.polls.iter().all(|p| p.desired_tasks == 2));
    assert!(report.polls.iter().all(|p| p.capacity == 2), "{report:?}");
    assert!(terminated(&report).is_empty(), "{report:?}");
    assert_eq!(
        count(&s.fleet().calls(), "UpdateContainerInstancesState"),
        0
    );
}

/// An instance in service that never registers counts as booting capacity for
/// max(600 s, 3 × cold start), then is terminated (decrementing), and the group is raised
/// again by the normal rule so a replacement launches.
#[tokio::test(start_paused = true)]
async fn an_instance_that_never_registers_is_given_up_after_the_bound() {
    let world = |since: u64| {
        let store = MemoryStore::holding(&format!(r#"{{"booting":{{"i-9":{since}}}}}"#));
        scaler(
            World {
                depth: QueueDepth {
                    visible: 0,
                    in_flight: 1,
                },
                busy: 1,
                service_desired: 2,
                group_desired: 2,
                group: in_service(&[1, 9]),
                container_instances: vec![ci(1, 1)],
                ..up_to_ten()
            },
            store,
        )
    };
    // Seen booting for 500 s: still counted (and kept) through the invocation.
    let s = world(T0 - 500);
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert!(terminated(&report).is_empty(), "{report:?}");
    assert!(report.polls.iter().all(|p| p.capacity == 2), "{report:?}");

    // For 700 s: not capacity, terminated, and the group raised back to the decision.
    let s = world(T0 - 700);
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert_eq!(report.polls[0].capacity, 1);
    assert_eq!(report.polls[0].terminated, ["i-9"]);
    let calls = s.fleet().calls();
    let terminate = calls
        .iter()
        .position(|c| c == "TerminateInstanceInAutoScalingGroup i-9")
        .unwrap();
    let raise = calls
        .iter()
        .position(|c| c == "SetDesiredCapacity 2")
        .expect("raised again");
    assert!(terminate < raise, "{calls:?}");
    assert_eq!(s.fleet().world().group_desired, 2);
}

/// Two invocations at once over one fleet (5 empty instances, a decision of 2), their
/// calls interleaved at various phases: together they terminate exactly the excess of 3,
/// never leave fewer than 2 ACTIVE instances, and neither raises the group nor changes
/// the service's count (no fight).
#[tokio::test(start_paused = true)]
async fn overlapping_invocations_remove_no_more_than_the_excess() {
    for (ya, yb) in [
        (0, 0),
        (1, 1),
        (1, 2),
        (2, 1),
        (1, 3),
        (3, 1),
        (0, 1),
        (2, 5),
    ] {
        let fleet = FakeFleet::new(World {
            depth: QueueDepth {
                visible: 40,
                in_flight: 0,
            },
            service_desired: 2,
            group_desired: 5,
            group: in_service(&[1, 2, 3, 4, 5]),
            container_instances: (1..=5).map(|n| ci(n, 0)).collect(),
            ..up_to_ten()
        });
        let a = on(fleet.with_yields(ya), MemoryStore::default());
        let b = on(fleet.with_yields(yb), MemoryStore::default());
        let (ca, cb) = (
            TokioClock::anchored_at(T0_MS),
            TokioClock::anchored_at(T0_MS),
        );
        let (ra, rb) = tokio::join!(a.invoke(&ca), b.invoke(&cb));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let w = fleet.world();
        let phase = format!("yields {ya}/{yb}: {:?}", w.calls);
        assert!(
            w.active_after_terminations.iter().all(|n| *n >= 2),
            "{:?} {phase}",
            w.active_after_terminations
        );
        let mut gone: Vec<String> = terminated(&ra).into_iter().chain(terminated(&rb)).collect();
        gone.sort();
        gone.dedup();
        assert_eq!(gone.len(), 3, "{gone:?} {phase}");
        assert_eq!(w.group.len(), 2, "{phase}");
        assert_eq!(w.group_desired, 2, "{phase}");
        assert!(
            w.container_instances.iter().all(|c| c.status == "ACTIVE"),
            "none left DRAINING: {phase}"
        );
        assert_eq!(count(&w.calls, "SetDesiredCapacity"), 0, "{phase}");
        assert_eq!(count(&w.calls, "UpdateService"), 0, "{phase}");
    }
}

/// A removal interrupted between the drain and the termination (here: the termination
/// fails and so does the undo, as if the invocation were killed) leaves the instance
/// DRAINING; later polls count it out and, 120 s after first seeing it so, terminate it.
#[tokio::test(start_paused = true)]
async fn an_interrupted_removal_is_finished_by_the_zombie_rule() {
    let s = fresh(World {
        fail_once: vec!["TerminateInstanceInAutoScalingGroup"],
        fail_undo: true,
        ..one_idle_instance()
    });
    let first = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert_eq!(first.failed_polls.len(), 1, "{first:?}");
    assert!(terminated(&first).is_empty());
    assert_eq!(s.fleet().world().container_instances[0].status, "DRAINING");
    assert!(first.polls.iter().all(|p| p.capacity == 0));
    // First seen DRAINING at the poll 10 s in: a zombie from 130 s on.
    let later = s
        .invoke(&TokioClock::anchored_at(T0_MS + 120_000))
        .await
        .unwrap();
    assert_eq!(later.polls[0].terminated, Vec::<String>::new());
    assert_eq!(later.polls[1].terminated, ["i-1"], "{later:?}");
    assert_eq!(s.fleet().world().group_desired, 0);
}
