//! A minimal HTTP/1.1 client for the two link-local agents the worker talks to (the ECS
//! agent and the instance metadata service). Both speak plain HTTP on a local address
//! with tiny bodies, so one request per connection (`Connection: close`) is all we need —
//! no second HTTP stack beside the SDK's.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An `http://host:port` base plus path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEndpoint {
    pub host: String,
    pub port: u16,
    pub base_path: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid endpoint URL {0:?}: only http://host[:port][/path] is supported")]
    BadUrl(String),
    #[error("request to {0} failed: {1}")]
    Io(String, std::io::Error),
    #[error("request to {0} timed out")]
    Timeout(String),
    #[error("malformed response from {0}")]
    Malformed(String),
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

impl HttpEndpoint {
    /// Parse `http://host[:port][/path]`; `host` may be a bracketed IPv6 literal
    /// (`http://[fd00:ec2::254]`, IMDS's IPv6 endpoint).
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let bad = || HttpError::BadUrl(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let bracketed = authority.starts_with('[');
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            host.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            let port = match after {
                "" => 80,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(bad)?,
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
                None => (authority, 80),
            }
        };
        // An unbracketed host with a colon is an IPv6 literal missing its brackets.
        if host.is_empty() || host.contains(['[', ']', '@']) || (!bracketed && host.contains(':')) {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_string(),
            port,
            base_path: path.trim_end_matches('/').to_string(),
        })
    }

    /// `host:port` as it appears in a URL or `Host` header (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Send one request; `path` is appended to the endpoint's base path.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
        timeout: Duration,
    ) -> Result<HttpResponse, HttpError> {
        let target = format!("{}{}", self.base_path, path);
        let what = format!("{method} http://{}{target}", self.authority());
        let fut = async {
            let mut stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| HttpError::Io(what.clone(), e))?;
            let mut req = format!(
                "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
                self.authority()
            );
            for (k, v) in headers {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
            let body = body.unwrap_or("");
            if !body.is_empty() || method == "PUT" || method == "POST" {
                req.push_str("Content-Type: application/json\r\n");
                req.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            req.push_str("\r\n");
            req.push_str(body);
            stream
                .write_all(req.as_bytes())
                .await
                .map_err(|e| HttpError::Io(what.clone(), e))?;
            let mut raw = Vec::new();
            stream
                .read_to_end(&mut raw)
                .await
                .map_err(|e| HttpError::Io(what.clone(), e))?;
            parse_response(&raw).ok_or_else(|| HttpError::Malformed(what.clone()))
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| HttpError::Timeout(what.clone()))?
    }
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Some(HttpResponse { status, body })
}

fn dechunk(mut s: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        s = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_endpoints() {
        let e = HttpEndpoint::parse("http://169.254.170.2/api/abc/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("169.254.170.2", 80));
        assert_eq!(e.base_path, "/api/abc");
        assert_eq!(HttpEndpoint::parse("http://127.0.0.1:9").unwrap().port, 9);
        assert!(HttpEndpoint::parse("https://x").is_err());
        assert!(HttpEndpoint::parse("http://x:notaport").is_err());
        // IMDS's IPv6 endpoint (AWS_EC2_METADATA_SERVICE_ENDPOINT=http://[fd00:ec2::254]).
        let v6 = HttpEndpoint::parse("http://[fd00:ec2::254]").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("fd00:ec2::254", 80));
        assert_eq!(v6.authority(), "[fd00:ec2::254]:80");
        let v6 = HttpEndpoint::parse("http://[::1]:8080/latest/").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 8080));
        assert_eq!(v6.base_path, "/latest");
        assert!(HttpEndpoint::parse("http://[::1").is_err());
        assert!(HttpEndpoint::parse("http://[not-ip]:80").is_err());
        assert!(HttpEndpoint::parse("http://[::1]x").is_err());
        assert!(HttpEndpoint::parse("http://fd00:ec2::254").is_err());
    }

    #[test]
    fn parses_plain_and_chunked_responses() {
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\nnope").unwrap();
        assert_eq!((r.status, r.body.as_str()), (404, "nope"));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, "abcde");
    }
}
