//! The drill, small: 3 worker processes on a moto queue, one interrupted through its IMDS
//! stand-in. Same code as `cargo run -p facerec-spot-drill --release`, fewer and shorter
//! jobs.

use facerec_spot_drill::scenario::{run_drill, DrillOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_worker_releases_its_jobs_and_nothing_is_lost() {
    let opts = DrillOptions::from_args([
        "--jobs",
        "30",
        "--workers",
        "3",
        // Jobs of 2.5-3.5 s: the victim must read the notice while a job it received is
        // still unstarted, i.e. before a running one ends. With 1-2 s jobs, a loaded
        // machine (make test runs three binaries and the Terraform suite at once) once
        // delayed the notice that long and nothing was left to release.
        "--job-ms-min",
        "2500",
        "--job-ms-max",
        "3500",
        "--spot-poll",
        "0.2",
        "--notice-after-results",
        "6",
        "--sigterm-after",
        "10",
        "--timeout",
        "120",
        "--worker-exe",
        env!("CARGO_BIN_EXE_spot-drill"),
    ])
    .unwrap();
    let report = run_drill(&opts).await.expect("the drill runs");
    println!("{report}");
    let failed = report.violations();
    assert!(failed.is_empty(), "violated: {failed:#?}\n{report}");

    let v = &report.victim;
    // The notice came right after a receive with parallelism 2 < batch 3 and a poll far
    // shorter than a job: the victim held unstarted jobs, and running ones.
    assert!(v.fresh_batch_trigger);
    assert!(v.released >= 1, "nothing released: {v:#?}");
    assert!(
        v.finished_after_notice >= 1,
        "no running job finished: {v:#?}"
    );
    // Released within a poll interval plus one API call, not after the visibility timeout.
    assert!(v.release_s.unwrap() < 3.0, "{v:#?}");
    assert!(v.exit_s.unwrap() < 10.0, "{v:#?}");
    assert!(v.sigterm_sent_s.is_none(), "the notice path finished first");
    assert_eq!(report.redelivered.len() as u64, v.released);
    assert!(report.released_done_s.is_some());
    let victim_row = report.workers.iter().find(|w| w.victim).unwrap();
    assert_eq!(
        victim_row.results_stored,
        v.finished_before_notice + v.finished_after_notice
    );
    assert!(report
        .workers
        .iter()
        .filter(|w| !w.victim)
        .all(|w| w.results_stored > 0));
}
