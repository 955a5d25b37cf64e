//! The HTTP recognizer against a small transcription server written here:
//! plain std threads and sockets speaking HTTP/1.1, parsing the multipart
//! upload like a real `/v1/audio/transcriptions` endpoint (the WAV, the
//! model, the form fields) and answering what each case needs: verbose
//! JSON, plain JSON, slowness, 5xx, 4xx, 429, garbage.
//!
//! Every server stops accepting after its expected connections, when it is
//! dropped or after a deadline, and every connection thread ends by itself
//! (socket timeouts, bounded reads, interruptible delays).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard::qa::asr::http::{HttpAsr, HttpAsrConfig, MAX_RETRIES, MAX_RETRY_PAUSE};
use switchboard::qa::asr::{AsrError, Heard, Recognizer, Request};
use switchboard::qa::{Channel, ChannelAudio};

/// Longest a test server lives.
const SERVER_LIFE: Duration = Duration::from_secs(30);
/// Largest request a test server reads.
const MAX_REQUEST: usize = 8 * 1024 * 1024;

/// One part of a multipart form.
#[derive(Debug, Clone)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// A request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    parts: Vec<Part>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn fields(&self, name: &str) -> Vec<String> {
        self.parts
            .iter()
            .filter(|p| p.name == name && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
            .collect()
    }

    fn field(&self, name: &str) -> Option<String> {
        self.fields(name).into_iter().next()
    }

    fn file(&self) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == "file")
    }
}

/// What the server answers: raw HTTP, after a delay.
struct Answer {
    delay: Duration,
    raw: Vec<u8>,
}

impl Answer {
    fn now(raw: Vec<u8>) -> Self {
        Self {
            delay: Duration::ZERO,
            raw,
        }
    }
}

/// An HTTP/1.1 response closing the connection.
fn http(status: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ok_json(body: &str) -> Vec<u8> {
    http("200 OK", "", body)
}

fn openai_error(status: &str, message: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}
    });
    http(status, "", &body.to_string())
}

type Handler = dyn Fn(usize, &Result<Seen, String>) -> Answer + Send + Sync;

/// A transcription server on 127.0.0.1 that serves at most `max`
/// connections, one request each; `handler(n, request)` answers the n-th
/// (from 0). The requests read come out of `seen`.
struct Server {
    url: String,
    hits: Arc<AtomicUsize>,
    seen: mpsc::Receiver<Result<Seen, String>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(
        max: usize,
        handler: impl Fn(usize, &Result<Seen, String>) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, seen) = mpsc::channel();
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let hits = hits.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let deadline = Instant::now() + SERVER_LIFE;
                let mut workers = Vec::new();
                let mut served = 0;
                while served < max && !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let n = hits.fetch_add(1, Ordering::SeqCst);
                            served += 1;
                            let tx = tx.clone();
                            let handler = handler.clone();
                            let stop = stop.clone();
                            workers.push(std::thread::spawn(move || {
                                connection(stream, n, &*handler, &tx, &stop)
                            }));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
                drop(listener);
                for w in workers {
                    let _ = w.join();
                }
            })
        };
        Self {
            url,
            hits,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The next request read (waiting a little for its thread).
    fn next_seen(&self) -> Seen {
        match self.seen.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(seen)) => seen,
            Ok(Err(e)) => panic!("the server could not read the request: {e}"),
            Err(e) => panic!("no request seen: {e}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection: read the request, answer, close.
fn connection(
    mut stream: TcpStream,
    n: usize,
    handler: &Handler,
    tx: &mpsc::Sender<Result<Seen, String>>,
    stop: &AtomicBool,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let seen = read_request(&mut stream);
    let answer = handler(n, &seen);
    let _ = tx.send(seen);
    let until = Instant::now() + answer.delay;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = stream.write_all(&answer.raw);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn read_request(stream: &mut TcpStream) -> Result<Seen, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return Err("headers too long".into());
        }
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the headers ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_string();
    let path = request_line.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length")
        .ok_or("no Content-Length")?
        .parse()
        .map_err(|_| "bad Content-Length")?;
    if length > MAX_REQUEST {
        return Err("request too large".into());
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the body ended".into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let content_type = header("content-type").ok_or("no Content-Type")?;
    let boundary = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| {
            rest.split(';')
                .find_map(|p| p.trim().strip_prefix("boundary="))
        })
        .ok_or_else(|| format!("not multipart/form-data: {content_type}"))?
        .trim_matches('"')
        .to_string();
    let parts = multipart(&body, &boundary)?;
    Ok(Seen {
        method,
        path,
        headers,
        parts,
    })
}

/// The parts of a `multipart/form-data` body (RFC 7578).
fn multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}").into_bytes();
    let between = [b"\r\n".as_slice(), &delimiter].concat();
    let mut pos =
        memchr::memmem::find(body, &delimiter).ok_or("no first boundary")? + delimiter.len();
    let mut parts = Vec::new();
    for _ in 0..64 {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("no CRLF after a boundary")?;
        let end = memchr::memmem::find(rest, &between).ok_or("a part is not closed")?;
        let part = &rest[..end];
        let head_end = memchr::memmem::find(part, b"\r\n\r\n").ok_or("a part has no headers")?;
        let head = std::str::from_utf8(&part[..head_end]).map_err(|e| e.to_string())?;
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((h, v)) = line.split_once(':') else {
                continue;
            };
            if h.eq_ignore_ascii_case("content-disposition") {
                for param in v.split(';').map(str::trim) {
                    if let Some(n) = param.strip_prefix("name=") {
                        name = Some(n.trim_matches('"').to_string());
                    } else if let Some(f) = param.strip_prefix("filename=") {
                        filename = Some(f.trim_matches('"').to_string());
                    }
                }
            } else if h.eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_string());
            }
        }
        parts.push(Part {
            name: name.ok_or("a part has no name")?,
            filename,
            content_type,
            data: part[head_end + 4..].to_vec(),
        });
        pos = pos + 2 + end + between.len();
    }
    Err("too many parts".into())
}

/// What a WAV upload holds.
#[derive(Debug, PartialEq)]
struct WavInfo {
    rate: u32,
    samples: Vec<i16>,
}

/// Checks a request the way the transcription API would: a `file` that is
/// a mono 16-bit PCM WAV, a `model`, the verbose format with word and
/// segment timestamps. The error is what a server would answer with.
fn check_request(seen: &Result<Seen, String>, model: &str) -> Result<WavInfo, String> {
    let seen = seen.as_ref().map_err(Clone::clone)?;
    if seen.method != "POST" {
        return Err(format!("method {}", seen.method));
    }
    let file = seen.file().ok_or("no `file` part")?;
    if file.filename.is_none() {
        return Err("the `file` part has no filename".into());
    }
    let mut reader = hound::WavReader::new(std::io::Cursor::new(file.data.clone()))
        .map_err(|e| format!("the file is not a WAV: {e}"))?;
    let spec = reader.spec();
    if spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(format!("not mono 16-bit PCM: {spec:?}"));
    }
    let samples = reader
        .samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad samples: {e}"))?;
    if seen.field("model").as_deref() != Some(model) {
        return Err(format!("model {:?}", seen.field("model")));
    }
    if seen.field("response_format").as_deref() != Some("verbose_json") {
        return Err(format!(
            "response_format {:?}",
            seen.field("response_format")
        ));
    }
    let mut granularities = seen.fields("timestamp_granularities[]");
    granularities.sort();
    if granularities != ["segment", "word"] {
        return Err(format!("timestamp_granularities[] {granularities:?}"));
    }
    Ok(WavInfo {
        rate: spec.sample_rate,
        samples,
    })
}

/// A server that checks each request and answers `reply(n)` when it is
/// right (400 with what is wrong otherwise).
fn checking_server(
    max: usize,
    model: &'static str,
    reply: impl Fn(usize) -> Answer + Send + Sync + 'static,
) -> Server {
    Server::start(max, move |n, seen| match check_request(seen, model) {
        Ok(_) => reply(n),
        Err(e) => Answer::now(openai_error("400 Bad Request", &e)),
    })
}

/// A channel of `seconds` of a tone at `rate`.
fn tone(channel: Channel, rate: u32, seconds: f64) -> ChannelAudio {
    let n = (f64::from(rate) * seconds) as usize;
    let samples = (0..n)
        .map(|i| {
            ((i as f64 * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 8000.0) as i16
        })
        .collect();
    ChannelAudio {
        channel,
        rate,
        samples,
    }
}

fn config(url: &str) -> HttpAsrConfig {
    HttpAsrConfig {
        url: url.to_string(),
        model: "whisper-test".into(),
        timeout: Duration::from_secs(5),
        retries: 2,
        retry_backoff: Duration::from_millis(20),
        ..HttpAsrConfig::default()
    }
}

fn recognizer(config: HttpAsrConfig) -> HttpAsr {
    HttpAsr::new(config).unwrap()
}

fn transcribe() -> Request<'static> {
    Request {
        transcribe: true,
        ..Request::default()
    }
}

const VERBOSE_ZH: &str = r#"{
  "task": "transcribe", "language": "chinese", "duration": 1.5,
  "text": "您好，欢迎致电。请问有什么可以帮您？",
  "segments": [
    {"id": 0, "seek": 0, "start": 0.0, "end": 0.8, "text": " 您好，欢迎致电。", "tokens": [1, 2],
     "temperature": 0.0, "avg_logprob": -0.1, "compression_ratio": 1.2, "no_speech_prob": 0.02},
    {"id": 1, "seek": 0, "start": 0.8, "end": 1.5, "text": "请问有什么可以帮您？ ", "tokens": [3],
     "temperature": 0.0, "avg_logprob": -0.7, "compression_ratio": 1.1, "no_speech_prob": 0.05}
  ],
  "words": [
    {"word": "您好", "start": 0.0, "end": 0.3, "probability": 0.95},
    {"word": "欢迎", "start": 0.35, "end": 0.55, "probability": 0.9},
    {"word": "致电", "start": 0.55, "end": 0.8},
    {"word": "请问", "start": 0.85, "end": 1.0, "probability": 0.6},
    {"word": "帮您", "start": 1.2, "end": 1.45, "probability": 0.7}
  ]
}"#;

#[test]
fn a_verbose_reply_is_mapped_with_segments_and_words() {
    let server = checking_server(1, "whisper-test", |_| Answer::now(ok_json(VERBOSE_ZH)));
    let audio = tone(Channel::Agent, 16000, 1.5);
    let request = Request {
        language: Some("zh-CN"),
        ..transcribe()
    };
    let asr = recognizer(HttpAsrConfig {
        language: Some("en".into()),
        ..config(&server.url)
    });
    assert_eq!(asr.name(), "http");
    let t = asr.recognize(&audio, &request).unwrap();

    assert_eq!(t.channel, Channel::Agent);
    assert_eq!(t.backend, "http");
    assert_eq!(t.segments.len(), 2);
    let (a, b) = (&t.segments[0], &t.segments[1]);
    assert_eq!(a.text, "您好，欢迎致电。");
    assert_eq!(b.text, "请问有什么可以帮您？");
    assert_eq!((a.start, a.end), (0.0, 0.8));
    assert_eq!((b.start, b.end), (0.8, 1.5));
    assert_eq!(a.heard, Heard::Transcribed);
    assert!((a.confidence - (-0.1f32).exp()).abs() < 1e-5);
    assert!((b.confidence - (-0.7f32).exp()).abs() < 1e-5);
    let words = |s: &switchboard::qa::asr::Segment| -> Vec<String> {
        s.words.iter().map(|w| w.text.clone()).collect()
    };
    assert_eq!(words(a), ["您好", "欢迎", "致电"]);
    assert_eq!(words(b), ["请问", "帮您"]);
    assert_eq!(a.words[2].confidence, 1.0);
    assert!((b.words[0].confidence - 0.6).abs() < 1e-6);
    assert_eq!((b.words[1].start, b.words[1].end), (1.2, 1.45));

    assert_eq!(server.hits(), 1);
    let seen = server.next_seen();
    assert_eq!(seen.path, "/v1/audio/transcriptions");
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.field("language").as_deref(),
        Some("zh"),
        "the request's, as ISO 639-1"
    );
    let file = seen.file().unwrap();
    assert_eq!(file.filename.as_deref(), Some("agent.wav"));
    assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
    let wav = check_request(&Ok(seen.clone()), "whisper-test").unwrap();
    assert_eq!(wav.rate, 16000);
    assert_eq!(wav.samples.len(), 24000);
    assert_eq!(wav.samples, audio.samples, "the channel's own samples");
}

#[test]
fn a_plain_text_reply_is_one_segment_over_the_audio() {
    let server = checking_server(1, "whisper-test", |_| {
        Answer::now(ok_json(r#"{"text":"  Thank you for calling, goodbye.  "}"#))
    });
    let audio = tone(Channel::Caller, 8000, 2.0);
    let asr = recognizer(HttpAsrConfig {
        language: Some("en-US".into()),
        ..config(&server.url)
    });
    let t = asr.recognize(&audio, &transcribe()).unwrap();
    assert_eq!(t.channel, Channel::Caller);
    assert_eq!(t.segments.len(), 1);
    let s = &t.segments[0];
    assert_eq!(s.text, "Thank you for calling, goodbye.");
    assert_eq!((s.start, s.end), (0.0, 2.0));
    assert_eq!(s.confidence, 1.0);
    assert!(s.words.is_empty());

    let seen = server.next_seen();
    assert_eq!(
        seen.field("language").as_deref(),
        Some("en"),
        "the config's"
    );
    let wav = check_request(&Ok(seen), "whisper-test").unwrap();
    assert_eq!((wav.rate, wav.samples.len()), (8000, 16000));
}

#[test]
fn a_slow_server_gives_unavailable_in_bounded_time() {
    let server = Server::start(3, |_, _| Answer {
        delay: Duration::from_secs(10),
        raw: ok_json(r#"{"text":"too late"}"#),
    });
    let timeout = Duration::from_millis(300);
    let asr = recognizer(HttpAsrConfig {
        timeout,
        retries: 1,
        retry_backoff: Duration::from_millis(50),
        ..config(&server.url)
    });
    let start = Instant::now();
    let result = asr.recognize(&tone(Channel::Agent, 8000, 0.5), &transcribe());
    let took = start.elapsed();
    match result {
        Err(e @ AsrError::Unavailable(_)) => assert!(e.retryable()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Two attempts of 300 ms and one pause of 50 ms, with a margin.
    assert!(
        took < timeout * 2 + Duration::from_millis(1500),
        "took {took:?}"
    );
    assert!(took >= timeout * 2, "took {took:?}: did it wait at all?");
    assert_eq!(server.hits(), 2);
}

#[test]
fn a_server_error_is_retried_and_the_retry_succeeds() {
    let server = checking_server(2, "whisper-test", |n| {
        if n == 0 {
            Answer::now(http(
                "500 Internal Server Error",
                "",
                r#"{"error":{"message":"CUDA out of memory"}}"#,
            ))
        } else {
            Answer::now(ok_json(
                r#"{"text":"hello","segments":[{"start":0.1,"end":0.4,"text":"hello"}]}"#,
            ))
        }
    });
    let asr = recognizer(config(&server.url));
    let t = asr
        .recognize(&tone(Channel::Agent, 8000, 0.5), &transcribe())
        .unwrap();
    assert_eq!(t.segments.len(), 1);
    assert_eq!(t.segments[0].text, "hello");
    assert_eq!(server.hits(), 2);
}

#[test]
fn server_errors_every_time_give_unavailable_after_all_attempts() {
    let server = Server::start(10, |_, _| {
        Answer::now(http("503 Service Unavailable", "", "model loading"))
    });
    let asr = recognizer(HttpAsrConfig {
        retries: 2,
        ..config(&server.url)
    });
    match asr.recognize(&tone(Channel::Agent, 8000, 0.2), &transcribe()) {
        Err(AsrError::Unavailable(m)) => {
            assert!(m.contains("503"), "{m}");
            assert!(m.contains("model loading"), "{m}");
            assert!(m.contains("3 attempts"), "{m}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(server.hits(), 3);
}

#[test]
fn a_bad_request_is_rejected_with_the_message_and_not_retried() {
    let server = Server::start(3, |_, _| {
        Answer::now(openai_error(
            "400 Bad Request",
            "Invalid language 'xx'. Language parameter must be specified in ISO-639-1 format.",
        ))
    });
    let asr = recognizer(config(&server.url));
    match asr.recognize(&tone(Channel::Caller, 8000, 0.2), &transcribe()) {
        Err(e @ AsrError::Rejected(_)) => {
            assert!(!e.retryable());
            let m = e.to_string();
            assert!(m.contains("400"), "{m}");
            assert!(m.contains("Invalid language 'xx'"), "{m}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(server.hits(), 1);
}

#[test]
fn too_many_requests_is_retried_then_unavailable() {
    // 429 twice with a Retry-After of 0 s, then 429 again: no more tries.
    let server = Server::start(10, |_, _| {
        Answer::now(http(
            "429 Too Many Requests",
            "Retry-After: 0\r\n",
            r#"{"error":{"message":"Rate limit reached"}}"#,
        ))
    });
    let asr = recognizer(HttpAsrConfig {
        retries: 2,
        ..config(&server.url)
    });
    match asr.recognize(&tone(Channel::Agent, 8000, 0.2), &transcribe()) {
        Err(AsrError::Unavailable(m)) => assert!(m.contains("Rate limit reached"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(server.hits(), 3);

    let server = checking_server(2, "whisper-test", |n| {
        if n == 0 {
            Answer::now(http("429 Too Many Requests", "", "{}"))
        } else {
            Answer::now(ok_json(r#"{"text":"ok"}"#))
        }
    });
    let t = recognizer(config(&server.url))
        .recognize(&tone(Channel::Agent, 8000, 0.2), &transcribe())
        .unwrap();
    assert_eq!(t.segments[0].text, "ok");
    assert_eq!(server.hits(), 2);
}

#[test]
fn a_long_retry_after_is_left_to_the_job_queue() {
    // The server asks for more than a job waits: no retry in the job.
    let server = Server::start(3, |_, _| {
        Answer::now(http(
            "503 Service Unavailable",
            &format!("Retry-After: {}\r\n", MAX_RETRY_PAUSE.as_secs() + 50),
            "overloaded",
        ))
    });
    let asr = recognizer(HttpAsrConfig {
        retries: 2,
        ..config(&server.url)
    });
    let start = Instant::now();
    match asr.recognize(&tone(Channel::Agent, 8000, 0.2), &transcribe()) {
        Err(e @ AsrError::Unavailable(_)) => {
            assert!(e.retryable());
            let m = e.to_string();
            assert!(m.contains("job queue"), "{m}");
            assert!(m.contains("1 attempt)"), "{m}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(start.elapsed() < MAX_RETRY_PAUSE, "it waited");
    assert_eq!(server.hits(), 1);
}

#[test]
fn retries_in_a_job_are_bounded() {
    match HttpAsr::new(HttpAsrConfig {
        retries: MAX_RETRIES + 1,
        ..HttpAsrConfig::default()
    }) {
        Err(AsrError::Rejected(m)) => assert!(m.contains("job queue"), "{m}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(
        HttpAsr::new(HttpAsrConfig {
            retries: MAX_RETRIES,
            ..HttpAsrConfig::default()
        })
        .is_ok()
    );
}

#[test]
fn malformed_replies_are_bad_replies_without_retry() {
    const BODIES: [&str; 5] = [
        "this is not json",
        r#"{"text":"cut sho"#,
        r#"{"text": 12, "segments": "none"}"#,
        r#"{"segments":[{"start":"zero","end":1.0,"text":"x"}]}"#,
        r#"{"language":"en"}"#,
    ];
    let server = Server::start(BODIES.len(), |n, _| {
        Answer::now(ok_json(BODIES.get(n).copied().unwrap_or("{}")))
    });
    let asr = recognizer(config(&server.url));
    for (i, body) in BODIES.iter().enumerate() {
        match asr.recognize(&tone(Channel::Agent, 8000, 0.2), &transcribe()) {
            Err(e @ AsrError::BadReply(_)) => assert!(e.retryable()),
            other => panic!("{body:?} gave {other:?}"),
        }
        assert_eq!(server.hits(), i + 1, "{body:?} was not retried");
    }
}

#[test]
fn a_refused_connection_is_unavailable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let asr = recognizer(HttpAsrConfig {
        retries: 2,
        retry_backoff: Duration::from_millis(10),
        ..config(&format!("http://127.0.0.1:{port}"))
    });
    let start = Instant::now();
    match asr.recognize(&tone(Channel::Agent, 8000, 0.2), &transcribe()) {
        Err(e @ AsrError::Unavailable(_)) => {
            assert!(e.retryable());
            assert!(e.to_string().contains("3 attempts"), "{e}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn audio_over_the_limit_is_rejected_without_a_request() {
    let server = Server::start(1, |_, _| Answer::now(ok_json(r#"{"text":"x"}"#)));
    let asr = recognizer(HttpAsrConfig {
        max_upload_bytes: 2000,
        ..config(&server.url)
    });
    // 1000 samples: 2044 bytes as WAV.
    let audio = ChannelAudio {
        channel: Channel::Agent,
        rate: 8000,
        samples: vec![0; 1000],
    };
    match asr.recognize(&audio, &transcribe()) {
        Err(AsrError::Rejected(m)) => assert!(m.contains("2044"), "{m}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    // Just under the limit is sent.
    let audio = ChannelAudio {
        samples: vec![0; 978],
        ..audio
    };
    assert!(asr.recognize(&audio, &transcribe()).is_ok());
    assert_eq!(server.hits(), 1);
}

#[test]
fn an_empty_channel_needs_no_request() {
    let server = Server::start(1, |_, _| Answer::now(ok_json(r#"{"text":"x"}"#)));
    let audio = ChannelAudio {
        channel: Channel::Caller,
        rate: 8000,
        samples: Vec::new(),
    };
    let t = recognizer(config(&server.url))
        .recognize(&audio, &transcribe())
        .unwrap();
    assert!(t.segments.is_empty());
    assert_eq!(server.hits(), 0);
}

#[test]
fn the_key_is_sent_as_a_bearer_token_to_a_full_endpoint() {
    let server = checking_server(1, "whisper-1", |_| Answer::now(ok_json(r#"{"text":"hi"}"#)));
    let asr = recognizer(HttpAsrConfig {
        url: format!("{}/inference", server.url),
        model: "whisper-1".into(),
        api_key: Some("sk-test-123".into()),
        ..config(&server.url)
    });
    assert_eq!(asr.endpoint(), format!("{}/inference", server.url));
    let t = asr
        .recognize(&tone(Channel::Agent, 8000, 0.2), &transcribe())
        .unwrap();
    assert_eq!(t.segments[0].text, "hi");
    let seen = server.next_seen();
    assert_eq!(seen.path, "/inference");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(seen.field("language"), None, "no language known");
}

#[test]
fn a_bad_url_is_refused_up_front() {
    for url in ["", "not a url", "ftp://asr/v1"] {
        match HttpAsr::new(HttpAsrConfig {
            url: url.into(),
            ..HttpAsrConfig::default()
        }) {
            Err(AsrError::Rejected(_)) => {}
            other => panic!("{url:?} gave {other:?}"),
        }
    }
}
