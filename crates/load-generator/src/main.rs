//! `facerec-load`: the load generator on its own (the same as `facerec load`).

fn main() -> std::process::ExitCode {
    facerec_load_generator::cli::main_with("facerec-load", std::env::args_os())
}
