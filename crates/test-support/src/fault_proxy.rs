//! A fault-injecting TCP proxy on loopback, switchable at run time: what a dependency
//! looks like to the worker when it is down.
//!
//! Modes ([`Fault`]):
//! * `Pass` — forward both ways;
//! * `Refuse` — new connections are reset at once (what a refused or unreachable
//!   endpoint looks like to a client: the connect or the first read fails), open ones are
//!   reset too;
//! * `Blackhole` — connections are accepted, bytes are swallowed, nothing ever comes back
//!   (a dropped route, a dead NAT entry); open connections go silent as well;
//! * `Slow(d)` — every chunk is forwarded after `d`;
//! * `ResetMidResponse` — requests are forwarded, then the connection is reset after the
//!   first bytes of the response (the server did the work, the answer is lost).
//!
//! No maintained crate fits all five on a plain TCP port (toxiproxy needs its own server
//! process; the Rust crates found proxy HTTP, not TCP), so it is a small tokio forwarder.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Refuse,
    Blackhole,
    Slow(Duration),
    ResetMidResponse,
}

/// The proxy: `endpoint` (`http://127.0.0.1:port`) in front of `upstream`.
pub struct FaultProxy {
    pub endpoint: String,
    mode: watch::Sender<Fault>,
    /// Connections accepted (all modes).
    accepted: Arc<Mutex<u64>>,
}

impl FaultProxy {
    /// A proxy in front of `upstream` (`http://host:port`), passing traffic.
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .unwrap_or(upstream)
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (mode, rx) = watch::channel(Fault::Pass);
        let accepted: Arc<Mutex<u64>> = Arc::default();
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                *count.lock().unwrap() += 1;
                let mode = *rx.borrow();
                match mode {
                    Fault::Refuse => reset(inbound),
                    _ => {
                        tokio::spawn(connection(inbound, upstream.clone(), rx.clone()));
                    }
                }
            }
        });
        FaultProxy {
            endpoint,
            mode,
            accepted,
        }
    }

    /// Switch mode; open connections follow at their next chunk (or at once for
    /// `Refuse`, which resets them).
    pub fn set(&self, fault: Fault) {
        self.mode.send_replace(fault);
    }

    pub fn mode(&self) -> Fault {
        *self.mode.borrow()
    }

    pub fn accepted(&self) -> u64 {
        *self.accepted.lock().unwrap()
    }
}

/// Close with a TCP reset (SO_LINGER 0), not a clean FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn connection(inbound: TcpStream, upstream: String, mut mode: watch::Receiver<Fault>) {
    let current = *mode.borrow();
    let upstream = match current {
        // Nothing to connect to in a black hole: swallow until the mode changes.
        Fault::Blackhole => None,
        _ => TcpStream::connect(&upstream).await.ok(),
    };
    let Some(outbound) = upstream else {
        let (mut r, _w) = inbound.into_split();
        let mut buf = [0u8; 8192];
        loop {
            tokio::select! {
                n = r.read(&mut buf) => if matches!(n, Ok(0) | Err(_)) { return },
                _ = mode.changed() => {
                    // Still black-holed connections never recover: the client gave up
                    // on them; a real dead route does not come back mid-request either.
                    if *mode.borrow() == Fault::Refuse {
                        return;
                    }
                }
            }
        }
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (ci, co) = inbound.into_split();
    let (ui, uo) = outbound.into_split();
    let up = tokio::spawn(pump(ci, uo, mode.clone(), false));
    let down = tokio::spawn(pump(ui, co, mode.clone(), true));
    // Either direction ending (or a reset) ends the connection.
    let (a, b) = (up.abort_handle(), down.abort_handle());
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
    a.abort();
    b.abort();
}

/// Copy `from` → `to` under the current mode. `response`: the upstream → client side.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Fault>,
    response: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            n = from.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = mode.changed() => {
                if *mode.borrow() == Fault::Refuse {
                    return; // both halves dropped by the caller: the client sees a reset
                }
                continue;
            }
        };
        let current = *mode.borrow();
        match current {
            Fault::Pass => {}
            Fault::Refuse => return,
            Fault::Blackhole => continue, // swallowed
            Fault::Slow(d) => tokio::time::sleep(d).await,
            Fault::ResetMidResponse if response => {
                // Some of the answer, then a reset: the request was served, the client
                // never learns it.
                let _ = to.write_all(&buf[..n.min(12)]).await;
                let _ = to.flush().await;
                let stream = to.reunite(from).ok();
                if let Some(s) = stream {
                    reset(s);
                }
                return;
            }
            Fault::ResetMidResponse => {}
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server that answers each read with `ok:` + what it read.
    async fn echo() -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        let mut out = b"ok:response-body:".to_vec();
                        out.extend_from_slice(&buf[..n]);
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn ask(endpoint: &str, within: Duration) -> Result<String, String> {
        let addr = endpoint.trim_start_matches("http://");
        let work = async {
            let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            s.write_all(b"ping").await.map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 1024];
            let mut got = Vec::new();
            loop {
                let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err(format!("closed after {:?}", String::from_utf8_lossy(&got)));
                }
                got.extend_from_slice(&buf[..n]);
                if got.ends_with(b"ping") {
                    return Ok(String::from_utf8_lossy(&got).to_string());
                }
            }
        };
        tokio::time::timeout(within, work)
            .await
            .map_err(|_| "timed out".to_string())?
    }

    #[tokio::test]
    async fn each_mode_does_what_it_says_and_switches_at_run_time() {
        let p = FaultProxy::start(&echo().await).await;
        let s = Duration::from_secs(2);
        assert_eq!(ask(&p.endpoint, s).await.unwrap(), "ok:response-body:ping");
        p.set(Fault::Refuse);
        assert!(ask(&p.endpoint, s).await.is_err());
        p.set(Fault::Blackhole);
        assert_eq!(
            ask(&p.endpoint, Duration::from_millis(300)).await,
            Err("timed out".into())
        );
        p.set(Fault::Slow(Duration::from_millis(300)));
        let t = std::time::Instant::now();
        assert!(ask(&p.endpoint, s).await.is_ok());
        assert!(
            t.elapsed() >= Duration::from_millis(600),
            "both ways slowed"
        );
        p.set(Fault::ResetMidResponse);
        let e = ask(&p.endpoint, s).await.unwrap_err();
        assert!(!e.contains("timed out"), "{e}");
        p.set(Fault::Pass);
        assert!(ask(&p.endpoint, s).await.is_ok());
        assert!(p.accepted() >= 6);
    }

    #[tokio::test]
    async fn an_open_connection_goes_silent_in_a_black_hole() {
        let p = FaultProxy::start(&echo().await).await;
        let mut s = TcpStream::connect(p.endpoint.trim_start_matches("http://"))
            .await
            .unwrap();
        s.write_all(b"a").await.unwrap();
        let mut buf = [0u8; 64];
        assert!(s.read(&mut buf).await.unwrap() > 0);
        p.set(Fault::Blackhole);
        s.write_all(b"b").await.unwrap();
        let r = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
        assert!(r.is_err(), "no answer through a black hole");
    }
}
