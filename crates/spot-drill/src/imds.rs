//! A loopback stand-in for one instance's IMDSv2, enough for the worker's Spot watcher:
//! `PUT /latest/api/token` (needs the TTL header) issues a token; `GET
//! /latest/meta-data/spot/instance-action` needs that token (401 otherwise, counted) and
//! answers 404 until [`ImdsStandIn::announce_interruption`], then 200 with the notice EC2
//! posts two minutes before reclaiming the instance.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::primitives::{DateTime, DateTimeFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "drill-imds-token";
const NOTICE_PATH: &str = "/latest/meta-data/spot/instance-action";

#[derive(Debug, Default)]
struct State {
    notice: Option<String>,
    announced_at: Option<SystemTime>,
    /// When the worker first read the notice: the end of its poll latency.
    first_served_at: Option<SystemTime>,
    polls: u64,
    unauthorized: u64,
}

/// What the stand-in saw, for the report.
#[derive(Debug, Clone, Default)]
pub struct ImdsObservations {
    pub announced_at: Option<SystemTime>,
    pub first_served_at: Option<SystemTime>,
    pub notice: Option<String>,
    pub polls: u64,
    pub unauthorized: u64,
}

pub struct ImdsStandIn {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl ImdsStandIn {
    pub async fn start() -> std::io::Result<ImdsStandIn> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state: Arc<Mutex<State>> = Arc::default();
        let s = state.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, s.clone()));
            }
        });
        Ok(ImdsStandIn {
            endpoint,
            state,
            server,
        })
    }

    /// Post a Spot `terminate` notice for `lead` from now (EC2 gives two minutes).
    /// Returns the notice body.
    pub fn announce_interruption(&self, lead: Duration) -> String {
        let now = SystemTime::now();
        let at = now.duration_since(UNIX_EPOCH).unwrap_or_default() + lead;
        let time = DateTime::from_secs(at.as_secs() as i64)
            .fmt(DateTimeFormat::DateTime)
            .unwrap_or_default();
        let body = serde_json::json!({"action": "terminate", "time": time}).to_string();
        let mut st = self.state.lock().unwrap();
        st.notice = Some(body.clone());
        st.announced_at = Some(now);
        body
    }

    pub fn observations(&self) -> ImdsObservations {
        let st = self.state.lock().unwrap();
        ImdsObservations {
            announced_at: st.announced_at,
            first_served_at: st.first_served_at,
            notice: st.notice.clone(),
            polls: st.polls,
            unauthorized: st.unauthorized,
        }
    }
}

impl Drop for ImdsStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    // Requests here carry no body; read the head only.
    let head = loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    };
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let (status, body) = match (method, path) {
        ("put", "/latest/api/token") => {
            if head.contains("x-aws-ec2-metadata-token-ttl-seconds:") {
                (200, TOKEN.to_string())
            } else {
                (400, String::new())
            }
        }
        ("get", NOTICE_PATH) => {
            let mut st = state.lock().unwrap();
            st.polls += 1;
            if !head.contains(&format!("x-aws-ec2-metadata-token: {TOKEN}")) {
                st.unauthorized += 1;
                (401, String::new())
            } else if let Some(notice) = st.notice.clone() {
                st.first_served_at.get_or_insert_with(SystemTime::now);
                (200, notice)
            } else {
                (404, String::new())
            }
        }
        _ => (404, String::new()),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        _ => "Not Found",
    };
    let out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(out.as_bytes()).await;
}
