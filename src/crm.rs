//! Caller lookup in an external CRM over HTTP(S), for the IVR's `lookup`
//! node. A URL template (`https://crm.example/api/customers?phone={caller.number}`)
//! is filled from the call's variables (each value percent-encoded), one
//! GET is made, and the answer is read as a JSON object of the customer's
//! fields.
//!
//! A CRM outage must never hang a call: the whole exchange (connect,
//! request, body) is bounded by the node's timeout, and anything but a
//! JSON object in a 2xx (or a 404, meaning "not a customer") is a failure
//! the flow takes its fallback exit on, with the reason for the journal.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are in a filled-in value (RFC 3986 unreserved).
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Largest answer read from a CRM.
const MAX_BODY: usize = 64 * 1024;

/// What a lookup found, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub outcome: Outcome,
    pub took: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The customer's fields, as strings (`name`, `tier`, `language`...).
    Found(BTreeMap<String, String>),
    /// The CRM answered 404: the caller is not a customer.
    NotFound,
    /// No usable answer in time: why, for the journal.
    Failed(String),
}

/// A template placeholder that names no variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{0}}}` names no variable")]
    Unknown(String),
    #[error("a `{{` is not closed")]
    Unclosed,
}

/// The `{name}` placeholders of `template`, in order (for checking flows).
pub fn placeholders(template: &str) -> Result<Vec<&str>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or(TemplateError::Unclosed)?;
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// `template` with each `{name}` replaced by `vars(name)`, percent-encoded.
pub fn fill(
    template: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or(TemplateError::Unclosed)?;
        let name = &after[..end];
        let value = vars(name).ok_or_else(|| TemplateError::Unknown(name.to_string()))?;
        out.extend(utf8_percent_encode(&value, VALUE));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Looks the caller up: GET `url`, all of it within `timeout`.
pub async fn lookup(client: &reqwest::Client, url: &str, timeout: Duration) -> Lookup {
    let start = Instant::now();
    let outcome = match tokio::time::timeout(timeout, fetch(client, url)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed(format!("no answer within {} ms", timeout.as_millis())),
    };
    Lookup {
        outcome,
        took: start.elapsed(),
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Outcome {
    let response = match client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("request failed: {e}")),
    };
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Outcome::NotFound;
    }
    if !status.is_success() {
        return Outcome::Failed(format!("the CRM answered {status}"));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Outcome::Failed("the answer is too large".into());
    }
    let body = match response.bytes().await {
        Ok(b) if b.len() <= MAX_BODY => b,
        Ok(_) => return Outcome::Failed("the answer is too large".into()),
        Err(e) => return Outcome::Failed(format!("reading the answer failed: {e}")),
    };
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(map)) => Outcome::Found(
            map.into_iter()
                .filter_map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((k, text))
                })
                .collect(),
        ),
        Ok(_) => Outcome::Failed("the answer is not a JSON object".into()),
        Err(e) => Outcome::Failed(format!("the answer is not JSON: {e}")),
    }
}

/// The HTTP client lookups share (connection reuse; no proxy from the
/// environment, so a lookup goes where the flow says).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client's TLS set-up")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An HTTP/1.1 response with `body` and its length.
    fn response(status: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    /// A tiny real HTTP server on 127.0.0.1: each connection gets, after
    /// `delay`, `response` (status line, headers and body); the request
    /// lines it saw are returned through the channel.
    async fn server(
        delay: Duration,
        response: String,
    ) -> (String, tokio::sync::mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let tx = tx.clone();
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).to_string();
                    let _ = tx.send(req.lines().next().unwrap_or("").to_string()).await;
                    tokio::time::sleep(delay).await;
                    let _ = s.write_all(response.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        (format!("http://{addr}"), rx)
    }

    fn vars(name: &str) -> Option<String> {
        match name {
            "caller.number" => Some("+1 555/0777".into()),
            _ => None,
        }
    }

    #[test]
    fn templates_are_filled_and_encoded() {
        assert_eq!(
            fill("http://h/c?n={caller.number}&x=1", &vars).unwrap(),
            "http://h/c?n=%2B1%20555%2F0777&x=1"
        );
        assert_eq!(
            fill("http://h/{nope}", &vars),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert_eq!(
            fill("http://h/{caller", &vars),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(placeholders("a{x}b{y.z}").unwrap(), vec!["x", "y.z"]);
    }

    #[tokio::test]
    async fn a_customer_is_found() {
        let (base, mut seen) = server(
            Duration::ZERO,
            response(
                "200 OK",
                r#"{"name":"Grace Hopper","tier":"VIP","orders":3,"x":null}"#,
            ),
        )
        .await;
        let url = fill(&format!("{base}/customers?number={{caller.number}}"), &vars).unwrap();
        let l = lookup(&client(), &url, Duration::from_secs(2)).await;
        let Outcome::Found(fields) = &l.outcome else {
            panic!("{l:?}");
        };
        assert_eq!(fields["name"], "Grace Hopper");
        assert_eq!(fields["tier"], "VIP");
        assert_eq!(fields["orders"], "3");
        assert!(!fields.contains_key("x"));
        assert_eq!(
            seen.recv().await.unwrap(),
            "GET /customers?number=%2B1%20555%2F0777 HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn a_slow_crm_fails_within_the_timeout() {
        let (base, _seen) = server(Duration::from_secs(5), response("200 OK", "{}")).await;
        let l = lookup(&client(), &base, Duration::from_millis(300)).await;
        assert!(
            matches!(&l.outcome, Outcome::Failed(why) if why.contains("300 ms")),
            "{l:?}"
        );
        assert!(l.took < Duration::from_millis(800), "{:?}", l.took);
    }

    #[tokio::test]
    async fn not_found_errors_and_garbage_are_told_apart() {
        let (base, _s) = server(Duration::ZERO, response("404 Not Found", "")).await;
        let l = lookup(&client(), &base, Duration::from_secs(2)).await;
        assert_eq!(l.outcome, Outcome::NotFound);

        let (base, _s) = server(Duration::ZERO, response("503 Service Unavailable", "")).await;
        let l = lookup(&client(), &base, Duration::from_secs(2)).await;
        assert!(
            matches!(&l.outcome, Outcome::Failed(w) if w.contains("503")),
            "{l:?}"
        );

        let (base, _s) = server(Duration::ZERO, response("200 OK", "not json!")).await;
        let l = lookup(&client(), &base, Duration::from_secs(2)).await;
        assert!(
            matches!(&l.outcome, Outcome::Failed(w) if w.contains("not JSON")),
            "{l:?}"
        );

        // Nobody listening: refused at once, a failure too.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let l = lookup(
            &client(),
            &format!("http://127.0.0.1:{port}/"),
            Duration::from_secs(2),
        )
        .await;
        assert!(
            matches!(&l.outcome, Outcome::Failed(w) if w.contains("request failed")),
            "{l:?}"
        );
    }
}
