//! Test support shared by every crate whose tests talk to an AWS API.
//!
//! [`MotoServer::start`] runs `tools/moto/launch.py` (moto plus the patches that restore
//! real AWS behaviour, see that file) on a free port of 127.0.0.1 and waits for its
//! `MOTO_READY <url>` line; dropping the server kills it. Each test gets its own server,
//! so tests never share state and run in parallel safely.
//!
//! The Python comes from `$FACEREC_MOTO_PYTHON`, else the repository's `.venv`
//! (created by `scripts/bootstrap-venv.sh`, which `make test` runs first).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository root (this crate lives in `crates/moto-server`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A moto server on a free loopback port, killed on drop.
pub struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    /// Starts moto and returns once it accepts requests. Panics with the reason if it
    /// cannot (a test without its emulator has nothing to test).
    pub fn start() -> MotoServer {
        let python = std::env::var("FACEREC_MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join(".venv/bin/python"));
        let mut child = Command::new(&python)
            .arg(repo_root().join("tools/moto/launch.py"))
            .args(["--port", "0"])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto with {} (run scripts/bootstrap-venv.sh): {e}",
                    python.display()
                )
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("MOTO_READY ")
                    .map(|u| u.trim().to_string())
            });
        match ready {
            Some(endpoint) => MotoServer { child, endpoint },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("moto exited before printing MOTO_READY");
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
