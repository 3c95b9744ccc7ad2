//! moto for tests (through `facerec-test-support`) and for the Spot drill, which runs it
//! at run time.
//!
//! [`MotoServer::start`] runs `tools/moto/launch.py` (moto plus the patches that restore
//! real AWS behaviour, see that file) on a free port of 127.0.0.1 and waits for its
//! `MOTO_READY <url>` line; dropping the server kills it. Each test gets its own server,
//! so tests never share state and run in parallel safely.
//!
//! The Python comes from `$FACEREC_MOTO_PYTHON`, else the repository's `.venv`
//! (created by `scripts/bootstrap-venv.sh`, which `make test` runs first). The launcher is
//! `$FACEREC_MOTO_LAUNCHER` if set: the repository path below is compiled in, and a build
//! shared between two checkouts (one target dir) would otherwise run the other's launcher.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository root (this crate lives in `crates/moto-server`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tools/moto/launch.py`, or `$FACEREC_MOTO_LAUNCHER`.
pub fn launcher() -> PathBuf {
    std::env::var_os("FACEREC_MOTO_LAUNCHER")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tools/moto/launch.py"))
}

/// A moto server on a free loopback port, killed on drop.
pub struct MotoServer {
    child: Child,
    endpoint: String,
}

/// Why moto could not be started.
#[derive(Debug)]
pub enum MotoStartError {
    /// The Python interpreter could not be run.
    Spawn {
        python: PathBuf,
        source: std::io::Error,
    },
    /// The launcher exited without announcing `MOTO_READY`.
    NotReady,
}

impl std::fmt::Display for MotoStartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MotoStartError::Spawn { python, source } => write!(
                f,
                "cannot start moto with {} (set FACEREC_MOTO_PYTHON or run scripts/bootstrap-venv.sh): {source}",
                python.display()
            ),
            MotoStartError::NotReady => f.write_str("moto exited before printing MOTO_READY"),
        }
    }
}

impl std::error::Error for MotoStartError {}

/// The Python that runs the launcher: `$FACEREC_MOTO_PYTHON`, else the repository's `.venv`.
pub fn default_python() -> PathBuf {
    std::env::var_os("FACEREC_MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"))
}

impl MotoServer {
    /// Starts moto with [`default_python`] and returns once it accepts requests. Panics
    /// with the reason if it cannot (a test without its emulator has nothing to test).
    pub fn start() -> MotoServer {
        MotoServer::try_start_with(&default_python()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts moto with the given Python; for tools, which report instead of panicking.
    /// Blocks until moto is ready (about a second).
    pub fn try_start_with(python: &Path) -> Result<MotoServer, MotoStartError> {
        let mut child = Command::new(python)
            .arg(launcher())
            .args(["--port", "0"])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| MotoStartError::Spawn {
                python: python.to_path_buf(),
                source,
            })?;
        let stdout = child.stdout.take().expect("piped stdout");
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("MOTO_READY ")
                    .map(|u| u.trim().to_string())
            });
        match ready {
            Some(endpoint) => Ok(MotoServer { child, endpoint }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(MotoStartError::NotReady)
            }
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment a process talking to a moto at `endpoint` gets: the loopback endpoint,
/// dummy credentials, a fixed region, and no instance metadata lookups for credentials or
/// region.
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::MotoServer;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    #[test]
    fn starts_on_loopback_answers_and_stops_on_drop() {
        let moto = MotoServer::start();
        let addr = moto.endpoint().strip_prefix("http://").unwrap().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        let mut conn = TcpStream::connect(&addr).unwrap();
        conn.write_all(b"GET /moto-api/ HTTP/1.0\r\n\r\n").unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1."), "{reply:.80}");
        drop(moto);
        assert!(
            TcpStream::connect(&addr).is_err(),
            "moto still listening after drop"
        );
    }
}
