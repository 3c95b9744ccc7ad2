//! Loopback stand-ins for what the worker talks to besides AWS APIs (documented in
//! docs/jobs.md § Testing):
//! * [`AgentStandIn`] — answers `PUT /task-protection/v1/state` like the ECS agent and
//!   records every request body.
//! * [`ImdsStandIn`] — IMDSv2: `PUT /latest/api/token` issues a token; `GET
//!   /latest/meta-data/spot/instance-action` needs it and answers 404 until a notice is
//!   posted with [`ImdsStandIn::post_notice`]. [`ImdsStandIn::start_down`] answers 503 to
//!   everything until [`ImdsStandIn::come_up`] (a metadata service slow at boot).
//! * [`OutageProxy`] — a pausable TCP forwarder (an endpoint that goes away).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP forwarder that can be switched off (refusing and cutting connections) to play
/// an endpoint outage between the worker and moto.
pub struct OutageProxy {
    pub endpoint: String,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl OutageProxy {
    pub async fn start(upstream: &str) -> OutageProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(inbound); // connection reset: the endpoint is "gone"
                    continue;
                }
                let upstream = upstream.clone();
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                c.lock().unwrap().push(h.abort_handle());
            }
        });
        OutageProxy {
            endpoint,
            down,
            conns,
        }
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            for h in self.conns.lock().unwrap().drain(..) {
                h.abort();
            }
        }
    }
}

type Responder = Arc<dyn Fn(&str, &str, &str, &str) -> (u16, String) + Send + Sync>;

/// Minimal HTTP server loop for the stand-ins: calls `respond(method, path, headers, body)`.
async fn serve(listener: TcpListener, respond: Responder) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let respond = respond.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut tmp = [0u8; 4096];
            // Read head, then Content-Length bytes of body.
            let (head, body) = loop {
                let n = match s.read(&mut tmp).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&tmp[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())
                                .flatten()
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            let mut first = head.lines().next().unwrap_or("").split_whitespace();
            let method = first.next().unwrap_or("").to_string();
            let path = first.next().unwrap_or("").to_string();
            let (status, resp) = respond(&method, &path, &head, &body);
            let out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
                resp.len()
            );
            let _ = s.write_all(out.as_bytes()).await;
        });
    }
}

/// Stand-in for the ECS agent's task protection endpoint.
pub struct AgentStandIn {
    pub uri: String,
    pub requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl AgentStandIn {
    pub async fn start() -> AgentStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/api/task-1", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let r = requests.clone();
        tokio::spawn(serve(
            listener,
            Arc::new(move |method, path, _h, body| {
                if method != "PUT" || path != "/api/task-1/task-protection/v1/state" {
                    return (404, "{}".into());
                }
                let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                r.lock().unwrap().push(v.clone());
                (
                    200,
                    serde_json::json!({"protection": {"ProtectionEnabled": v["ProtectionEnabled"]}})
                        .to_string(),
                )
            }),
        ));
        AgentStandIn { uri, requests }
    }

    pub fn states(&self) -> Vec<bool> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["ProtectionEnabled"].as_bool().unwrap_or(false))
            .collect()
    }
}

/// Stand-in for IMDSv2 with a switchable Spot notice.
pub struct ImdsStandIn {
    pub endpoint: String,
    notice: Arc<Mutex<Option<String>>>,
    pub unauthorized: Arc<Mutex<u32>>,
    /// While set, every request is answered 503 (the metadata service not up yet).
    down: Arc<AtomicBool>,
    /// Requests answered while down.
    pub refused: Arc<Mutex<u32>>,
}

impl ImdsStandIn {
    pub async fn start() -> ImdsStandIn {
        Self::start_with(false).await
    }

    /// A stand-in that refuses (503) until [`ImdsStandIn::come_up`].
    pub async fn start_down() -> ImdsStandIn {
        Self::start_with(true).await
    }

    pub fn come_up(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    async fn start_with(down: bool) -> ImdsStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let notice: Arc<Mutex<Option<String>>> = Arc::default();
        let unauthorized: Arc<Mutex<u32>> = Arc::default();
        let down = Arc::new(AtomicBool::new(down));
        let refused: Arc<Mutex<u32>> = Arc::default();
        let (n, u, d, r) = (
            notice.clone(),
            unauthorized.clone(),
            down.clone(),
            refused.clone(),
        );
        tokio::spawn(serve(
            listener,
            Arc::new(move |method, path, head, _body| {
                if d.load(Ordering::SeqCst) {
                    *r.lock().unwrap() += 1;
                    return (503, String::new());
                }
                let head = head.to_ascii_lowercase();
                match (method, path) {
                    ("PUT", "/latest/api/token") => {
                        if head.contains("x-aws-ec2-metadata-token-ttl-seconds:") {
                            (200, "stand-in-token".into())
                        } else {
                            (400, String::new())
                        }
                    }
                    ("GET", "/latest/meta-data/spot/instance-action") => {
                        if !head.contains("x-aws-ec2-metadata-token: stand-in-token") {
                            *u.lock().unwrap() += 1;
                            return (401, String::new());
                        }
                        match n.lock().unwrap().clone() {
                            Some(body) => (200, body),
                            None => (404, String::new()),
                        }
                    }
                    _ => (404, String::new()),
                }
            }),
        ));
        ImdsStandIn {
            endpoint,
            notice,
            unauthorized,
            down,
            refused,
        }
    }

    pub fn post_notice(&self) {
        *self.notice.lock().unwrap() =
            Some(r#"{"action":"terminate","time":"2026-11-27T18:00:00Z"}"#.into());
    }
}
