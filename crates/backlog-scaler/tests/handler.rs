//! The handler over an in-memory fleet, in paused tokio time: what each invocation asks
//! of AWS, in which order, and what it refuses to do.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use facerec_backlog_policy::{BacklogPolicy, Observation, PolicyState};
use facerec_backlog_scaler::{
    state_json, QueueDepth, ScalerConfig, ScalerError, TokioClock, STATE_LIMIT_BYTES,
};
use support::fake::{
    assert_first_instance_set_active_again, ci, count, fresh, in_service, on, one_idle_instance,
    scaler, up_to_ten, writes, FakeFleet, MemoryStore, World, T0_MS,
};

/// One invocation polls at 0, 10 … 50 s of (paused) time, and the rule's samples carry
/// those times into the saved state.
#[tokio::test(start_paused = true)]
async fn an_invocation_polls_every_10_seconds_for_50_seconds() {
    let s = fresh(up_to_ten());
    let started = tokio::time::Instant::now();
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(50));
    let t0 = (T0_MS / 1000) as u64;
    let at: Vec<u64> = s.fleet().world.lock().unwrap().polled_at.clone();
    assert_eq!(at, (0..6).map(|k| t0 + 10 * k).collect::<Vec<_>>());
    assert_eq!(report.polls.len(), 6);
    assert!(report.failed_polls.is_empty());
    assert_eq!(
        report.fresh_state.as_deref(),
        Some("state parameter does not exist")
    );
    let saved: PolicyState =
        serde_json::from_str(s.store().value.lock().unwrap().as_deref().unwrap()).unwrap();
    assert_eq!(saved.samples.iter().map(|p| p.t).collect::<Vec<_>>(), at);
    // Nothing to do in an empty, idle system: no write call at all.
    let calls = s.fleet().calls();
    for op in [
        "UpdateService",
        "SetDesiredCapacity",
        "UpdateContainerInstancesState",
        "Terminate",
    ] {
        assert_eq!(count(&calls, op), 0, "{op}: {calls:?}");
    }
}

/// 40 visible jobs from zero: ceil(40 × 6 / (300 − 165)) = 2 tasks, and the group raised
/// to 2 at the first poll; the later polls see the new desired count and change nothing.
#[tokio::test(start_paused = true)]
async fn a_backlog_raises_the_service_and_the_group_once() {
    let s = fresh(World {
        depth: QueueDepth {
            visible: 40,
            in_flight: 0,
        },
        ..up_to_ten()
    });
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert_eq!(report.polls[0].want, 2);
    assert_eq!(report.polls[0].desired_tasks, 2);
    let calls = s.fleet().calls();
    assert_eq!(count(&calls, "UpdateService"), 1, "{calls:?}");
    assert!(calls.contains(&"UpdateService 2".to_string()));
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("SetDesiredCapacity"))
            .collect::<Vec<_>>(),
        ["SetDesiredCapacity 2"]
    );
    let metrics = s.metrics().records_with("DesiredTasks");
    assert_eq!(metrics.len(), 6);
    assert_eq!(metrics[0]["Visible"], 40.0);
    assert_eq!(metrics[0]["WantTasks"], 2.0);
    assert_eq!(metrics[0]["DesiredTasks"], 2.0);
    assert_eq!(metrics[0]["ServiceName"], "facerec-service");
    assert_eq!(s.metrics().records_with("PollErrors")[0]["PollErrors"], 0.0);
}

/// The group's desired capacity is only ever raised: with 5 wanted by the group and 2 by
/// the rule, no SetDesiredCapacity call; the raise is capped at the group's max_size.
#[tokio::test(start_paused = true)]
async fn the_group_is_never_lowered_with_set_desired_capacity() {
    let s = fresh(World {
        depth: QueueDepth {
            visible: 40,
            in_flight: 0,
        },
        service_desired: 2,
        group_desired: 5,
        ..up_to_ten()
    });
    s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert_eq!(count(&s.fleet().calls(), "SetDesiredCapacity"), 0);

    let s = fresh(World {
        depth: QueueDepth {
            visible: 1000,
            in_flight: 0,
        },
        max_size: 3,
        ..World::default()
    });
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert_eq!(report.polls[0].desired_tasks, 5);
    let calls = s.fleet().calls();
    assert!(
        calls.contains(&"SetDesiredCapacity 3".to_string()),
        "{calls:?}"
    );
    assert_eq!(count(&calls, "SetDesiredCapacity"), 1);
}

/// An empty system with three instances: the two without a task are claimed (DRAINING),
/// re-checked and terminated (decrementing the group), in that order, after the state
/// is saved; the one running a task and the one still booting (no container instance
/// yet) are left alone.
#[tokio::test(start_paused = true)]
async fn scale_in_drains_then_terminates_only_empty_instances() {
    let mut group = in_service(&[1, 2, 3]);
    group.push(("i-4".into(), "Pending".into()));
    let fleet = FakeFleet::new(World {
        service_desired: 3,
        group_desired: 4,
        group,
        container_instances: vec![ci(1, 0), ci(2, 1), ci(3, 0)],
        ..up_to_ten()
    });
    let s = on(fleet.clone(), MemoryStore::journaled(&fleet));
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    // Nothing visible, in flight or busy, arrivals rare: 0 at the first poll.
    assert_eq!(report.polls[0].desired_tasks, 0);
    assert_eq!(report.polls[0].capacity, 4, "3 ACTIVE + 1 booting");
    assert_eq!(report.polls[0].terminated, ["i-3", "i-1"]);
    let arn = |n: usize| ci(n, 0).arn;
    assert_eq!(
        writes(&s.fleet().calls())[..6],
        [
            "UpdateService 0".to_string(),
            "PutParameter".to_string(),
            format!("UpdateContainerInstancesState {} DRAINING", arn(3)),
            "TerminateInstanceInAutoScalingGroup i-3".to_string(),
            format!("UpdateContainerInstancesState {} DRAINING", arn(1)),
            "TerminateInstanceInAutoScalingGroup i-1".to_string(),
        ]
    );
    let w = s.fleet().world();
    assert_eq!(w.group_desired, 2, "each termination decremented the group");
    assert_eq!(
        w.group
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["i-2", "i-4"]
    );
    assert_eq!(w.container_instances[0].status, "ACTIVE", "i-2 runs a task");
    let terminated = s.metrics().records_with("InstancesTerminated");
    assert_eq!(terminated[0]["InstancesTerminated"], 2.0);
}

/// Never more instances than (instances − desired): with 2 busy tasks the rule keeps 2,
/// so of three empty-looking instances in a group of four only two go.
#[tokio::test(start_paused = true)]
async fn never_removes_more_than_the_excess_nor_goes_below_the_busy_tasks() {
    let s = fresh(World {
        depth: QueueDepth {
            visible: 0,
            in_flight: 2,
        },
        busy: 2,
        service_desired: 4,
        group_desired: 4,
        group: in_service(&[1, 2, 3, 4]),
        container_instances: vec![ci(1, 0), ci(2, 0), ci(3, 0), ci(4, 1)],
        ..up_to_ten()
    });
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    for poll in &report.polls {
        assert!(poll.desired_tasks >= 2, "{poll:?}");
    }
    let terminated: Vec<&String> = report.polls.iter().flat_map(|p| &p.terminated).collect();
    assert_eq!(
        terminated.len(),
        0,
        "the desired count stays 4 for the 60-s window"
    );
    // A fresh window later: the busy mean is 2, so 2 tasks; 4 instances − 2 = 2 go.
    let again = s
        .invoke(&TokioClock::anchored_at(T0_MS + 60_000))
        .await
        .unwrap();
    let terminated: Vec<&String> = again.polls.iter().flat_map(|p| &p.terminated).collect();
    assert_eq!(terminated.len(), 2, "{again:?}");
    assert!(again.polls.iter().all(|p| p.desired_tasks >= 2));
    assert_eq!(again.polls.last().unwrap().desired_tasks, 2);
}

/// A task placed between the listing and the drain: the re-read sees it, the instance is
/// set ACTIVE again and not terminated.
#[tokio::test(start_paused = true)]
async fn an_instance_that_gains_a_task_while_draining_is_kept() {
    let s = fresh(World {
        service_desired: 1,
        task_lands_on: Some(ci(1, 0).arn),
        ..one_idle_instance()
    });
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert!(report.polls.iter().all(|p| p.terminated.is_empty()));
    let calls = s.fleet().calls();
    assert_eq!(count(&calls, "TerminateInstanceInAutoScalingGroup"), 0);
    assert_first_instance_set_active_again(&s, &calls);
}

/// A failed termination sets the drained instance ACTIVE again and skips the poll.
#[tokio::test(start_paused = true)]
async fn a_failed_termination_undoes_the_drain() {
    let s = fresh(World {
        fail: vec!["TerminateInstanceInAutoScalingGroup"],
        ..one_idle_instance()
    });
    // Every poll tries, fails and undoes: the invocation is an error naming the call.
    match s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap_err() {
        ScalerError::AllPollsFailed { polls, last } => {
            assert_eq!(polls, 6);
            assert_eq!(last.operation, "TerminateInstanceInAutoScalingGroup");
        }
        other => panic!("{other:?}"),
    }
    let calls = s.fleet().calls();
    assert_eq!(count(&calls, "TerminateInstanceInAutoScalingGroup"), 6);
    assert_first_instance_set_active_again(&s, &calls);
}

/// Some polls failing is logged and survived; every poll failing is an error (the Errors
/// alarm), and the state is still saved.
#[tokio::test(start_paused = true)]
async fn every_poll_failing_is_an_invocation_error() {
    let s = fresh(World {
        fail: vec!["GetTaskProtection"],
        ..up_to_ten()
    });
    let err = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap_err();
    match &err {
        ScalerError::AllPollsFailed { polls, last } => {
            assert_eq!(*polls, 6);
            assert_eq!(last.operation, "GetTaskProtection");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("every one of the 6 polls failed"),
        "{err}"
    );
    assert_eq!(s.metrics().records_with("PollErrors")[0]["PollErrors"], 6.0);
    // Nothing was decided on missing observations.
    assert_eq!(count(&s.fleet().calls(), "UpdateService"), 0);

    // One poll of six failing: the invocation succeeds, and the next poll acts on what
    // the failed one could not (here: raising the service for a backlog).
    let s = fresh(World {
        depth: QueueDepth {
            visible: 40,
            in_flight: 0,
        },
        fail_once: vec!["UpdateService"],
        ..up_to_ten()
    });
    let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    assert_eq!(report.failed_polls.len(), 1, "{report:?}");
    assert!(report.failed_polls[0].contains("UpdateService"));
    assert_eq!(report.polls.len(), 5);
    assert_eq!(s.fleet().world.lock().unwrap().service_desired, 2);
    assert_eq!(s.metrics().records_with("PollErrors")[0]["PollErrors"], 1.0);
}

/// The state written by one invocation is the next one's history (the scale-down window
/// spans invocations); a garbled or unreadable state starts fresh and says why; a state
/// that cannot be saved fails the invocation.
#[tokio::test(start_paused = true)]
async fn state_round_trips_between_invocations() {
    let world = World {
        depth: QueueDepth {
            visible: 0,
            in_flight: 3,
        },
        busy: 3,
        service_desired: 3,
        group_desired: 3,
        group: in_service(&[1, 2, 3]),
        container_instances: vec![ci(1, 1), ci(2, 1), ci(3, 1)],
        ..up_to_ten()
    };
    let s = fresh(world);
    s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
    let first: PolicyState =
        serde_json::from_str(s.store().value.lock().unwrap().as_deref().unwrap()).unwrap();
    assert_eq!(first.samples.len(), 6);
    // The load falls to 1 busy task, and an invocation runs 2 minutes after the first:
    // its first poll wants 1, and the remembered polls reach back past its 60-s window,
    // so it goes down at once. One invocation alone spans 50 s: without the history no
    // poll could ever see a whole window of lower wants.
    let lower = |w: &mut World| {
        w.busy = 1;
        w.depth.in_flight = 1;
    };
    lower(&mut s.fleet().world.lock().unwrap());
    let second = s
        .invoke(&TokioClock::anchored_at(T0_MS + 120_000))
        .await
        .unwrap();
    assert_eq!(second.fresh_state, None);
    assert_eq!(second.polls[0].desired_tasks, 1, "{second:?}");
    let saved: PolicyState =
        serde_json::from_str(s.store().value.lock().unwrap().as_deref().unwrap()).unwrap();
    assert_eq!(saved.samples.len(), 12);
    assert_eq!(saved.samples[0], first.samples[0]);
    let mut world = World {
        depth: QueueDepth {
            visible: 0,
            in_flight: 3,
        },
        busy: 3,
        service_desired: 3,
        group_desired: 3,
        group: in_service(&[1, 2, 3]),
        container_instances: vec![ci(1, 1), ci(2, 1), ci(3, 1)],
        ..up_to_ten()
    };
    lower(&mut world);
    let amnesiac = fresh(world);
    let report = amnesiac
        .invoke(&TokioClock::anchored_at(T0_MS + 120_000))
        .await
        .unwrap();
    assert!(
        report.polls.iter().all(|p| p.desired_tasks == 3),
        "{report:?}"
    );

    for (store, why) in [
        (
            MemoryStore {
                value: Mutex::new(Some("{\"samples\": 12}".into())),
                ..MemoryStore::default()
            },
            "not valid JSON state",
        ),
        (
            MemoryStore {
                fail_load: true,
                ..MemoryStore::default()
            },
            "state not read",
        ),
    ] {
        let s = scaler(up_to_ten(), store);
        let report = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap();
        assert!(
            report
                .fresh_state
                .as_deref()
                .is_some_and(|f| f.contains(why)),
            "{report:?}"
        );
        assert_eq!(report.polls.len(), 6);
    }

    let s = scaler(
        up_to_ten(),
        MemoryStore {
            fail_save: true,
            ..MemoryStore::default()
        },
    );
    match s.invoke(&TokioClock::anchored_at(T0_MS)).await {
        Err(ScalerError::StateNotSaved(e)) => assert_eq!(e.operation, "ssm:PutParameter"),
        other => panic!("{other:?}"),
    }
}

/// The saved state fits an SSM Standard parameter (4 KB) at the largest configuration the
/// function accepts: MAX_TASKS = 1000 and the longest window that passes the config check
/// (110 polls), with 10⁷ jobs queued at every poll; absurd depths drop the oldest samples
/// instead of failing the save.
#[test]
fn the_state_fits_the_ssm_parameter_at_max_tasks_and_the_longest_window() {
    let env = |name: &str| -> Option<String> {
        let v = match name {
            "QUEUE_URL" => "https://sqs.example/123456789012/jobs",
            "CLUSTER_NAME" | "SERVICE_NAME" | "AUTOSCALING_GROUP_NAME" => "facerec",
            "STATE_PARAMETER" => "/facerec/backlog-scaler/state",
            "JOB_SECONDS" => "6",
            "ACCEPTABLE_LATENCY_SECONDS" => "300",
            "TARGET_UTILIZATION" => "1",
            "MIN_TASKS" => "0",
            "MAX_TASKS" => "1000",
            "ACTIVITY_WINDOW_SECONDS" => "1090",
            _ => return None,
        };
        Some(v.to_string())
    };
    let c = ScalerConfig::from_lookup(env).unwrap();
    // One more second of window would keep 111 polls: refused.
    assert!(
        ScalerConfig::from_lookup(|n| if n == "ACTIVITY_WINDOW_SECONDS" {
            Some("1100".into())
        } else {
            env(n)
        })
        .is_err()
    );

    let run = |visible: u64| {
        let mut p = BacklogPolicy::new(c.policy.clone());
        for k in 0..300u64 {
            p.poll(&Observation {
                t: 1_767_225_600 + 10 * k,
                visible,
                in_flight: 120_000, // SQS's in-flight limit for a standard queue
                busy_tasks: 1000,
                desired_tasks: 1000,
            });
        }
        p.into_state()
    };
    let state = run(9_880_000);
    assert_eq!(state.samples.len(), 110);
    assert!(state
        .samples
        .iter()
        .all(|s| s.want == 1000 && s.busy == 1000));
    let (json, dropped) = state_json(state.clone().into());
    assert_eq!(dropped, 0);
    assert!(json.len() < STATE_LIMIT_BYTES, "{} bytes", json.len());
    assert_eq!(serde_json::from_str::<PolicyState>(&json).unwrap(), state);

    let state = run(u64::MAX / 2);
    let (json, dropped) = state_json(state.clone().into());
    assert!(dropped > 0);
    assert!(json.len() <= STATE_LIMIT_BYTES, "{} bytes", json.len());
    let kept: PolicyState = serde_json::from_str(&json).unwrap();
    assert_eq!(kept.samples.len() + dropped, state.samples.len());
    assert_eq!(kept.samples.back(), state.samples.back());
}

/// A call that hangs: each poll is cut at the next one's start and the last one before
/// the invocation's end, which leaves time for the state save; the polls keep their
/// schedule, and the invocation returns before the function's 60-s timeout.
#[tokio::test(start_paused = true)]
async fn a_hanging_call_is_cut_and_the_invocation_ends_before_its_timeout() {
    let s = fresh(World {
        slow: vec![("GetTaskProtection", Duration::from_secs(1000))],
        ..up_to_ten()
    });
    let started = tokio::time::Instant::now();
    let err = s.invoke(&TokioClock::anchored_at(T0_MS)).await.unwrap_err();
    let took = started.elapsed();
    assert!(took <= Duration::from_secs(59), "{took:?}");
    // The last poll (at 50 s) is cut at 60 − 1 − 4 = 55 s; the save takes no time here.
    assert_eq!(took, Duration::from_secs(55));
    match err {
        ScalerError::AllPollsFailed { polls, last } => {
            assert_eq!(polls, 6);
            assert_eq!(last.operation, "deadline");
        }
        other => panic!("{other:?}"),
    }
    let t0 = (T0_MS / 1000) as u64;
    let at = s.fleet().world().polled_at.clone();
    assert_eq!(at, (0..6).map(|k| t0 + 10 * k).collect::<Vec<_>>());
    assert_eq!(
        s.store().saves.lock().unwrap().len(),
        1,
        "the state was saved"
    );
}

/// A save that hangs is given up at the invocation's end, 1 s before the timeout.
#[tokio::test(start_paused = true)]
async fn a_hanging_save_is_given_up_before_the_timeout() {
    let s = scaler(
        up_to_ten(),
        MemoryStore {
            slow_save: Some(Duration::from_secs(1000)),
            ..MemoryStore::default()
        },
    );
    let started = tokio::time::Instant::now();
    match s.invoke(&TokioClock::anchored_at(T0_MS)).await {
        Err(ScalerError::StateNotSaved(e)) => assert_eq!(e.operation, "ssm:PutParameter"),
        other => panic!("{other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_secs(59));
}

/// The Lambda's deadline, when earlier than the configuration's, bounds the invocation:
/// the polls that would start too late are skipped (and counted as failed).
#[tokio::test(start_paused = true)]
async fn the_lambda_deadline_bounds_the_invocation() {
    let s = fresh(up_to_ten());
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(30);
    let report = s
        .invoke_until(&TokioClock::anchored_at(T0_MS), Some(deadline))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(report.polls.len(), 3, "at 0, 10 and 20 s");
    assert_eq!(report.failed_polls.len(), 3, "{report:?}");
    assert!(report.failed_polls[0].contains("skipped"));
    assert_eq!(s.store().saves.lock().unwrap().len(), 1);
}

/// The Lambdas' SDK clients give up on a call well within a poll: every call has an
/// attempt and an operation timeout, the operation's shorter than the poll interval and
/// than what an invocation keeps for its save plus its last poll.
#[test]
fn sdk_timeouts_fit_the_polls() {
    use facerec_aws_support::lambda;
    use facerec_backlog_scaler::handler::{END_MARGIN, FUNCTION_TIMEOUT, SAVE_RESERVE};
    let t = lambda::timeouts();
    let operation = t.operation_timeout().expect("an operation timeout");
    let attempt = t.operation_attempt_timeout().expect("an attempt timeout");
    assert!(t.connect_timeout().is_some());
    assert!(attempt < operation);
    let c = ScalerConfig::from_lookup(|name| match name {
        "QUEUE_URL"
        | "CLUSTER_NAME"
        | "SERVICE_NAME"
        | "AUTOSCALING_GROUP_NAME"
        | "STATE_PARAMETER" => Some("x".into()),
        "JOB_SECONDS" => Some("6".into()),
        "ACCEPTABLE_LATENCY_SECONDS" => Some("300".into()),
        "TARGET_UTILIZATION" => Some("1".into()),
        "MIN_TASKS" => Some("0".into()),
        "MAX_TASKS" => Some("5".into()),
        _ => None,
    })
    .unwrap();
    assert!(operation < c.poll_interval);
    // The last poll starts at RUN_SECONDS and has until the save's reserve.
    let last_poll = FUNCTION_TIMEOUT - END_MARGIN - SAVE_RESERVE - c.run_for;
    assert!(attempt <= last_poll, "{attempt:?} > {last_poll:?}");
}
