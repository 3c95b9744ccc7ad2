//! `fleet-sim`: thin binary over [`facerec_fleet_sim::run`].

fn main() -> std::process::ExitCode {
    match facerec_fleet_sim::run(std::env::args_os()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
