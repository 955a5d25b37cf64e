//! The HTTP recognizer: one channel sent to a speech-to-text server that
//! speaks the OpenAI-compatible `POST /v1/audio/transcriptions` API
//! (OpenAI itself, whisper.cpp's server, faster-whisper servers, FunASR...).
//!
//! What it owns:
//! - the configuration ([`HttpAsrConfig`]): where the server is, which
//!   model, the key, the time and size bounds, the retries;
//! - the upload: the channel's own samples written in memory as a mono
//!   16-bit PCM WAV at the channel's rate, sent as `multipart/form-data`
//!   with `model`, `response_format=verbose_json`, word and segment
//!   timestamp granularities and the language when known;
//! - the reply: `verbose_json` (segments, and words either at the top level
//!   or inside each segment) or a plain `{"text": ...}`, mapped to a
//!   [`Transcript`] of [`Heard::Transcribed`] segments;
//! - the failures: what is worth retrying ([`AsrError::Unavailable`]),
//!   what never will succeed ([`AsrError::Rejected`]) and what the server
//!   got wrong ([`AsrError::BadReply`]).
//!
//! Retries, two layers:
//! - **here, a short budget for blips:** an attempt that failed in a
//!   retryable way (unreachable, timeout, 5xx, 429, 408) is made again at
//!   most [`HttpAsrConfig::retries`] times (never more than
//!   [`MAX_RETRIES`]), after a pause of [`HttpAsrConfig::retry_backoff`]
//!   doubling each time, or the server's `Retry-After`, never longer than
//!   [`MAX_RETRY_PAUSE`]. A server asking for a longer wait is not retried
//!   here. One channel's recognition so lasts at most
//!   `(retries + 1) × timeout + retries × MAX_RETRY_PAUSE`;
//! - **the job queue, for outages:** when the budget is spent the job's
//!   attempt fails with [`AsrError::Unavailable`] and
//!   [`crate::qa::jobs`] tries the whole job again after minutes
//!   (`qa.retry_seconds`, doubling, up to `qa.max_attempts`).
//!
//! Choices:
//! - The whole channel is sent even when [`Request::speech`] lists the
//!   spans the voice detector heard: the server's timestamps then are the
//!   recording's own, and Whisper-like models find their own silences.
//! - [`Request::phrases`] are not sent as a `prompt`: a prompt biases the
//!   model towards writing those very phrases, in silence too, which would
//!   make QA find what was never said. The phrases are matched in the
//!   transcript afterwards; the backend always transcribes.
//! - An empty channel (no samples) is not sent: its transcript is empty.
//!
//! The client is `reqwest`'s blocking one: build and use an [`HttpAsr`] on
//! a QA worker thread, never inside the switch's tokio runtime (the
//! blocking client refuses to run there).

use std::io::Read;
use std::time::Duration;

use serde::Deserialize;

use super::{AsrError, Heard, Recognizer, Request, Segment, Transcript, Word};
use crate::qa::{Channel, ChannelAudio};

/// The API path appended to a base URL.
const API_PATH: &str = "/v1/audio/transcriptions";

/// Largest reply read from the server (a long call's verbose JSON with
/// word timings stays far below).
const MAX_REPLY: u64 = 8 * 1024 * 1024;

/// Largest error body read for its message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Longest server message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// Most retries one recognition makes in a job; longer outages are the
/// job queue's to retry.
pub const MAX_RETRIES: u32 = 3;

/// Longest pause between two attempts in a job; a server whose
/// `Retry-After` asks for more is left to the job queue.
pub const MAX_RETRY_PAUSE: Duration = Duration::from_secs(10);

/// Bytes of a canonical WAV header before the samples.
const WAV_HEADER: u64 = 44;

/// Where and how to reach the transcription server.
#[derive(Clone)]
pub struct HttpAsrConfig {
    /// The server. Either a base URL, to which `/v1/audio/transcriptions`
    /// is appended (`http://asr:8080` or `https://api.openai.com/v1`: a
    /// base ending in `/v1` gets `/audio/transcriptions` only), or the full
    /// endpoint when the URL has any other path (`http://asr:8080/inference`
    /// for whisper.cpp's default, a gateway's `https://gw/asr/transcribe`).
    pub url: String,
    /// The model asked for (`whisper-1`; whisper.cpp ignores it).
    pub model: String,
    /// Sent as `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// Bound on one attempt: connect, upload, recognition and reply.
    pub timeout: Duration,
    /// Further attempts, in the same job, after an attempt that failed in a
    /// retryable way (unreachable, timeout, 5xx, 429, 408); at most
    /// [`MAX_RETRIES`].
    pub retries: u32,
    /// Pause before the first retry; doubled before each next one, never
    /// more than [`MAX_RETRY_PAUSE`].
    pub retry_backoff: Duration,
    /// Largest WAV sent; a longer channel is rejected without a request.
    pub max_upload_bytes: u64,
    /// The language asked for when the request gives none (`en`, `zh`).
    pub language: Option<String>,
}

impl Default for HttpAsrConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".into(),
            model: "whisper-1".into(),
            api_key: None,
            timeout: Duration::from_secs(120),
            retries: 2,
            retry_backoff: Duration::from_secs(2),
            max_upload_bytes: 25 * 1024 * 1024,
            language: None,
        }
    }
}

impl std::fmt::Debug for HttpAsrConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAsrConfig")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("language", &self.language)
            .finish()
    }
}

/// The HTTP recognizer.
pub struct HttpAsr {
    config: HttpAsrConfig,
    endpoint: reqwest::Url,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for HttpAsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAsr")
            .field("endpoint", &self.endpoint.as_str())
            .field("config", &self.config)
            .finish()
    }
}

impl HttpAsr {
    /// A recognizer for `config`. Fails with [`AsrError::Rejected`] when the
    /// URL is not an `http`/`https` URL, the retries are more than
    /// [`MAX_RETRIES`] or the client cannot be set up. Call it outside any
    /// tokio runtime.
    pub fn new(config: HttpAsrConfig) -> Result<Self, AsrError> {
        let endpoint = endpoint(&config.url)?;
        if config.retries > MAX_RETRIES {
            return Err(AsrError::Rejected(format!(
                "{} retries in a job; give 0 to {MAX_RETRIES} (the job queue retries longer outages)",
                config.retries
            )));
        }
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            // A redirected upload cannot be replayed: the URL must be the
            // final one.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AsrError::Rejected(format!("HTTP client set-up: {e}")))?;
        Ok(Self {
            config,
            endpoint,
            client,
        })
    }

    /// The URL requests are posted to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The configuration in use.
    pub fn config(&self) -> &HttpAsrConfig {
        &self.config
    }

    /// One attempt: post the WAV, read and map the reply.
    fn attempt(
        &self,
        wav: &[u8],
        language: Option<&str>,
        audio: &ChannelAudio,
    ) -> Result<Transcript, Failure> {
        let file = reqwest::blocking::multipart::Part::bytes(wav.to_vec())
            .file_name(format!("{}.wav", audio.channel.as_str()))
            .mime_str("audio/wav")
            .map_err(|e| Failure::Final(AsrError::Rejected(format!("multipart set-up: {e}"))))?;
        let mut form = reqwest::blocking::multipart::Form::new()
            .part("file", file)
            .text("model", self.config.model.clone())
            .text("response_format", "verbose_json")
            .text("timestamp_granularities[]", "word")
            .text("timestamp_granularities[]", "segment");
        if let Some(language) = language {
            form = form.text("language", language.to_string());
        }
        let mut request = self
            .client
            .post(self.endpoint.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .multipart(form);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().map_err(|e| {
            if e.is_builder() {
                Failure::Final(AsrError::Rejected(format!("request set-up: {e}")))
            } else {
                Failure::Retry {
                    reason: describe(&e),
                    retry_after: None,
                }
            }
        })?;
        let status = response.status();
        if status.is_success() {
            let body = read_reply(response)?;
            return parse_reply(&body, audio.channel, audio.duration()).map_err(Failure::Final);
        }
        let retry_after = retry_after(&response);
        let message = error_message(status, response);
        if status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
        {
            Err(Failure::Retry {
                reason: message,
                retry_after,
            })
        } else if status.is_client_error() || status.is_redirection() {
            Err(Failure::Final(AsrError::Rejected(message)))
        } else {
            Err(Failure::Final(AsrError::BadReply(message)))
        }
    }

    /// The pause before retry number `retry` (1 for the first), at most
    /// [`MAX_RETRY_PAUSE`]; `None` when the server asked for a longer one
    /// (no retry in this job).
    fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let doubled = self
            .config
            .retry_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(5))
            .min(MAX_RETRY_PAUSE);
        match retry_after {
            Some(asked) if asked > MAX_RETRY_PAUSE => None,
            Some(asked) => Some(doubled.max(asked)),
            None => Some(doubled),
        }
    }
}

impl Recognizer for HttpAsr {
    fn name(&self) -> &str {
        "http"
    }

    fn recognize(
        &self,
        audio: &ChannelAudio,
        request: &Request<'_>,
    ) -> Result<Transcript, AsrError> {
        if audio.samples.is_empty() {
            return Ok(Transcript {
                channel: audio.channel,
                backend: "http".into(),
                segments: Vec::new(),
            });
        }
        let size = wav_size(audio.samples.len());
        if size > self.config.max_upload_bytes {
            return Err(AsrError::Rejected(format!(
                "the {} channel is {size} bytes as WAV ({:.0} s), over the {} bytes the server takes",
                audio.channel.as_str(),
                audio.duration(),
                self.config.max_upload_bytes
            )));
        }
        let wav = wav(audio)?;
        let language = request
            .language
            .or(self.config.language.as_deref())
            .and_then(language_code);
        let attempts = self.config.retries.min(MAX_RETRIES).saturating_add(1);
        let mut made = 0;
        let last = loop {
            made += 1;
            let (reason, retry_after) = match self.attempt(&wav, language.as_deref(), audio) {
                Ok(transcript) => return Ok(transcript),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retry {
                    reason,
                    retry_after,
                }) => (reason, retry_after),
            };
            tracing::debug!(
                endpoint = %self.endpoint,
                attempt = made,
                attempts,
                %reason,
                "transcription attempt failed"
            );
            if made == attempts {
                break reason;
            }
            match self.backoff(made, retry_after) {
                Some(pause) => std::thread::sleep(pause),
                None => {
                    break format!(
                        "{reason}; the server asks to wait {} s, longer than a job waits: left to the job queue",
                        retry_after.unwrap_or_default().as_secs()
                    );
                }
            }
        };
        Err(AsrError::Unavailable(format!(
            "{last} (after {made} attempt{})",
            if made == 1 { "" } else { "s" }
        )))
    }
}

/// How one attempt failed.
enum Failure {
    /// Worth another attempt (after `retry_after` when the server said).
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Returned as it is.
    Final(AsrError),
}

/// The endpoint for a configured URL (see [`HttpAsrConfig::url`]).
fn endpoint(url: &str) -> Result<reqwest::Url, AsrError> {
    let mut parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| AsrError::Rejected(format!("the recognizer URL `{url}`: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(AsrError::Rejected(format!(
            "the recognizer URL `{url}` is not http or https"
        )));
    }
    let path = parsed.path().trim_end_matches('/').to_string();
    if path.is_empty() {
        parsed.set_path(API_PATH);
    } else if path.ends_with("/v1") {
        parsed.set_path(&format!("{path}/audio/transcriptions"));
    }
    Ok(parsed)
}

/// The ISO 639-1 code Whisper-like servers take, from `en`, `en-US`,
/// `zh_CN`...; `None` for an empty or odd value (the server then detects).
fn language_code(language: &str) -> Option<String> {
    let primary = language.trim().split(['-', '_']).next().unwrap_or("");
    if (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic()) {
        Some(primary.to_ascii_lowercase())
    } else {
        None
    }
}

/// Bytes of a mono 16-bit WAV of `samples` samples.
fn wav_size(samples: usize) -> u64 {
    WAV_HEADER.saturating_add((samples as u64).saturating_mul(2))
}

/// The channel as a canonical mono 16-bit PCM WAV (RIFF, `fmt `, `data`).
fn wav(audio: &ChannelAudio) -> Result<Vec<u8>, AsrError> {
    if audio.rate == 0 {
        return Err(AsrError::Rejected(format!(
            "the {} channel has no sample rate",
            audio.channel.as_str()
        )));
    }
    let data = u32::try_from(audio.samples.len())
        .ok()
        .and_then(|n| n.checked_mul(2))
        .filter(|n| n.checked_add(36).is_some())
        .ok_or_else(|| AsrError::Rejected("the channel is too long for a WAV".into()))?;
    let byte_rate = audio
        .rate
        .checked_mul(2)
        .ok_or_else(|| AsrError::Rejected(format!("sample rate {} too high", audio.rate)))?;
    let mut out = Vec::with_capacity(WAV_HEADER as usize + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&audio.rate.to_le_bytes());
    out.extend_from_slice(&byte_rate.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for sample in &audio.samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    Ok(out)
}

/// A transport error in words: its kind and innermost cause, short (not
/// reqwest's text, which repeats the URL).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        format!("cannot connect: {}", root_cause(e))
    } else {
        format!("request failed: {}", root_cause(e))
    }
}

/// The innermost cause of an error (`connection refused`...).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    let mut depth = 0;
    while let Some(next) = cause.source() {
        if depth >= 16 {
            break;
        }
        cause = next;
        depth += 1;
    }
    cause.to_string()
}

/// The successful reply's body, at most [`MAX_REPLY`] bytes.
fn read_reply(response: reqwest::blocking::Response) -> Result<Vec<u8>, Failure> {
    if response.content_length().is_some_and(|n| n > MAX_REPLY) {
        return Err(Failure::Final(AsrError::BadReply(format!(
            "the reply is larger than {MAX_REPLY} bytes"
        ))));
    }
    match read_bounded(response, MAX_REPLY) {
        Ok(Some(body)) => Ok(body),
        Ok(None) => Err(Failure::Final(AsrError::BadReply(format!(
            "the reply is larger than {MAX_REPLY} bytes"
        )))),
        Err(e) => Err(Failure::Retry {
            reason: format!("reading the reply: {}", root_cause(&e)),
            retry_after: None,
        }),
    }
}

/// Everything `reader` gives when that is at most `limit` bytes; `None`
/// when there is more.
fn read_bounded(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)?;
    if body.len() as u64 > limit {
        Ok(None)
    } else {
        Ok(Some(body))
    }
}

/// A `Retry-After` given in seconds.
fn retry_after(response: &reqwest::blocking::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// `the server answered 400 Bad Request: <its message>`, the message read
/// from a bounded part of the body.
fn error_message(status: reqwest::StatusCode, response: reqwest::blocking::Response) -> String {
    // What could be read: an error body cut short still has its message.
    let mut body = Vec::new();
    let _ = response.take(MAX_ERROR_BODY).read_to_end(&mut body);
    match server_message(&body) {
        Some(message) => format!("the server answered {status}: {message}"),
        None => format!("the server answered {status}"),
    }
}

/// The message in an error body: OpenAI's `{"error":{"message":...}}`,
/// `{"error":"..."}`, FastAPI's `{"detail":"..."}`, `{"message":"..."}`,
/// or else the body's text; trimmed and shortened.
fn server_message(body: &[u8]) -> Option<String> {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(String::from);
            text(v.pointer("/error/message"))
                .or_else(|| text(v.get("error")))
                .or_else(|| text(v.get("detail")))
                .or_else(|| text(v.pointer("/detail/0/msg")))
                .or_else(|| text(v.get("message")))
        });
    let message = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.is_empty() {
        return None;
    }
    let mut chars = message.chars();
    let short: String = chars.by_ref().take(MAX_MESSAGE_CHARS).collect();
    if chars.next().is_some() {
        Some(format!("{short}…"))
    } else {
        Some(short)
    }
}

/// `verbose_json` (or plain `json`) as the servers send it; fields not
/// listed are ignored, listed ones must have their type.
#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    segments: Option<Vec<ReplySegment>>,
    #[serde(default)]
    words: Option<Vec<ReplyWord>>,
}

#[derive(Debug, Deserialize)]
struct ReplySegment {
    start: f64,
    end: f64,
    text: String,
    #[serde(default)]
    avg_logprob: Option<f64>,
    /// whisper.cpp and some faster-whisper servers put the words here.
    #[serde(default)]
    words: Option<Vec<ReplyWord>>,
}

#[derive(Debug, Deserialize)]
struct ReplyWord {
    #[serde(alias = "text")]
    word: String,
    start: f64,
    end: f64,
    #[serde(default)]
    probability: Option<f64>,
}

/// Maps a reply to the channel's transcript. `audio_duration` spans a
/// text-only reply when the server gives no `duration`.
fn parse_reply(body: &[u8], channel: Channel, audio_duration: f64) -> Result<Transcript, AsrError> {
    let bad = |e: &dyn std::fmt::Display| {
        AsrError::BadReply(format!("not a transcription (verbose_json) reply: {e}"))
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(&e))?;
    // Serde would take `[...]` for a struct's fields in order: only
    // objects are replies, segments and words.
    if !objects_only(&value) {
        return Err(bad(&"a reply, segment or word is not a JSON object"));
    }
    let reply: Reply = serde_json::from_value(value).map_err(|e| bad(&e))?;
    let had_segments = reply.segments.is_some();
    let mut words: Vec<Word> = reply.words.into_iter().flatten().filter_map(word).collect();
    let mut segments: Vec<Segment> = Vec::new();
    for s in reply.segments.into_iter().flatten() {
        words.extend(s.words.into_iter().flatten().filter_map(word));
        let text = s.text.trim();
        if text.is_empty() {
            continue;
        }
        let (start, end) = times(s.start, s.end);
        segments.push(Segment {
            start,
            end,
            text: text.to_string(),
            confidence: s.avg_logprob.map_or(1.0, |lp| unit(lp.exp())),
            heard: Heard::Transcribed,
            words: Vec::new(),
        });
    }
    if segments.is_empty() {
        let text = match reply.text {
            Some(text) => text,
            // Segments all blank: silence.
            None if had_segments => String::new(),
            None => {
                return Err(AsrError::BadReply(
                    "the reply has neither `text` nor `segments`".into(),
                ));
            }
        };
        let text = text.trim();
        if !text.is_empty() {
            let duration = reply
                .duration
                .filter(|d| d.is_finite() && *d > 0.0)
                .unwrap_or(audio_duration);
            let end = words.iter().fold(duration, |end, w| end.max(w.end));
            segments.push(Segment {
                start: 0.0,
                end,
                text: text.to_string(),
                confidence: 1.0,
                heard: Heard::Transcribed,
                words: Vec::new(),
            });
        }
    }
    segments.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
    attach(&mut segments, words);
    Ok(Transcript {
        channel,
        backend: "http".into(),
        segments,
    })
}

/// Whether the reply, its segments and all words are JSON objects (the
/// lists themselves are checked by their types later).
fn objects_only(reply: &serde_json::Value) -> bool {
    let Some(reply) = reply.as_object() else {
        return false;
    };
    let all_objects = |list: Option<&serde_json::Value>| {
        list.and_then(|l| l.as_array())
            .is_none_or(|items| items.iter().all(|i| i.is_object()))
    };
    all_objects(reply.get("words"))
        && all_objects(reply.get("segments"))
        && reply
            .get("segments")
            .and_then(|l| l.as_array())
            .is_none_or(|segments| segments.iter().all(|s| all_objects(s.get("words"))))
}

/// A reply word as a [`Word`]; `None` when its text is blank.
fn word(w: ReplyWord) -> Option<Word> {
    let text = w.word.trim();
    if text.is_empty() {
        return None;
    }
    let (start, end) = times(w.start, w.end);
    Some(Word {
        text: text.to_string(),
        start,
        end,
        confidence: w.probability.map_or(1.0, unit),
    })
}

/// Start and end made sane: not before 0, the end not before the start.
fn times(start: f64, end: f64) -> (f64, f64) {
    let start = if start.is_finite() {
        start.max(0.0)
    } else {
        0.0
    };
    let end = if end.is_finite() {
        end.max(start)
    } else {
        start
    };
    (start, end)
}

/// A probability clamped to 0..1 (0 for NaN).
fn unit(p: f64) -> f32 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0) as f32
    }
}

/// Gives each word to the segment its middle falls in, or else to the
/// nearest segment; `segments` sorted by start. Words end up in time order.
fn attach(segments: &mut [Segment], mut words: Vec<Word>) {
    if segments.is_empty() {
        return;
    }
    words.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
    // Duplicates (a server giving words both at the top and in segments).
    words.dedup_by(|b, a| a.text == b.text && a.start == b.start && a.end == b.end);
    for w in words {
        let mid = (w.start + w.end) / 2.0;
        // First segment starting after the middle; the one before it is
        // the last that starts at or before it.
        let after = segments.partition_point(|s| s.start <= mid);
        let distance = |s: &Segment| {
            if mid < s.start {
                s.start - mid
            } else if mid > s.end {
                mid - s.end
            } else {
                0.0
            }
        };
        let index = match (
            after.checked_sub(1),
            (after < segments.len()).then_some(after),
        ) {
            (Some(before), Some(next)) => {
                if distance(&segments[before]) <= distance(&segments[next]) {
                    before
                } else {
                    next
                }
            }
            (Some(before), None) => before,
            (None, Some(next)) => next,
            (None, None) => return,
        };
        segments[index].words.push(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Transcript, AsrError> {
        parse_reply(body.as_bytes(), Channel::Agent, 10.0)
    }

    #[test]
    fn verbose_reply_with_top_level_words() {
        let t = parse(
            r#"{"task":"transcribe","language":"english","duration":6.0,
                "text":" Hello, thanks for calling. How can I help?",
                "segments":[
                  {"id":0,"start":0.0,"end":2.5,"text":" Hello, thanks for calling.","avg_logprob":-0.2,"no_speech_prob":0.01},
                  {"id":1,"start":3.0,"end":5.5,"text":" How can I help? ","avg_logprob":-0.5}
                ],
                "words":[
                  {"word":" How","start":3.0,"end":3.3,"probability":0.9},
                  {"word":" Hello,","start":0.0,"end":0.6,"probability":0.98},
                  {"word":" thanks","start":0.7,"end":1.1},
                  {"word":" help?","start":4.9,"end":5.4,"probability":1.7}
                ]}"#,
        )
        .unwrap();
        assert_eq!(t.channel, Channel::Agent);
        assert_eq!(t.backend, "http");
        assert_eq!(t.segments.len(), 2);
        let first = &t.segments[0];
        assert_eq!(first.text, "Hello, thanks for calling.");
        assert_eq!(first.heard, Heard::Transcribed);
        assert!((first.confidence - (-0.2f64).exp() as f32).abs() < 1e-6);
        let texts: Vec<_> = first.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Hello,", "thanks"]);
        assert_eq!(first.words[1].confidence, 1.0);
        let second = &t.segments[1];
        assert_eq!(second.text, "How can I help?");
        let texts: Vec<_> = second.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["How", "help?"]);
        assert_eq!(second.words[1].confidence, 1.0, "clamped to 1");
        assert!((second.words[0].start - 3.0).abs() < 1e-9);
    }

    #[test]
    fn words_inside_segments_whisper_cpp_style() {
        let t = parse(
            r#"{"text":"a b","segments":[
                {"start":0.0,"end":1.0,"text":"a","words":[{"word":"a","start":0.1,"end":0.4,"probability":0.5}]},
                {"start":1.0,"end":2.0,"text":"b","words":[{"text":" b","start":1.2,"end":1.5}]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(t.segments[0].words.len(), 1);
        assert_eq!(t.segments[0].words[0].confidence, 0.5);
        assert_eq!(t.segments[1].words[0].text, "b");
    }

    #[test]
    fn words_given_twice_are_kept_once() {
        let t = parse(
            r#"{"segments":[{"start":0,"end":1,"text":"a","words":[{"word":"a","start":0.1,"end":0.4}]}],
                "words":[{"word":" a","start":0.1,"end":0.4}]}"#,
        )
        .unwrap();
        assert_eq!(t.segments[0].words.len(), 1);
    }

    #[test]
    fn a_word_outside_every_segment_goes_to_the_nearest() {
        let t = parse(
            r#"{"segments":[{"start":1,"end":2,"text":"x"},{"start":5,"end":6,"text":"y"}],
                "words":[{"word":"early","start":0,"end":0.2},{"word":"gap","start":2.2,"end":2.4},
                         {"word":"gap2","start":4.5,"end":4.7},{"word":"late","start":9,"end":9.5}]}"#,
        )
        .unwrap();
        let words = |i: usize| -> Vec<String> {
            t.segments[i].words.iter().map(|w| w.text.clone()).collect()
        };
        assert_eq!(words(0), ["early", "gap"]);
        assert_eq!(words(1), ["gap2", "late"]);
    }

    #[test]
    fn chinese_text_passes_through() {
        let t = parse(
            r#"{"language":"zh","segments":[{"start":0.0,"end":2.0,"text":" 您好，欢迎致电。 ","avg_logprob":0.3}],
                "words":[{"word":"您好","start":0.0,"end":0.5,"probability":0.8},{"word":"，","start":0.5,"end":0.5}]}"#,
        )
        .unwrap();
        assert_eq!(t.segments[0].text, "您好，欢迎致电。");
        assert_eq!(t.segments[0].confidence, 1.0, "exp(0.3) clamped");
        assert_eq!(t.segments[0].words[0].text, "您好");
        assert_eq!(t.segments[0].words[1].text, "，");
    }

    #[test]
    fn plain_text_reply_spans_the_audio() {
        let t = parse(r#"{"text":"  just text  "}"#).unwrap();
        assert_eq!(t.segments.len(), 1);
        let s = &t.segments[0];
        assert_eq!(s.text, "just text");
        assert_eq!((s.start, s.end), (0.0, 10.0));
        assert_eq!(s.confidence, 1.0);
        assert!(s.words.is_empty());

        let t = parse(r#"{"text":"with duration","duration":4.5,"segments":[]}"#).unwrap();
        assert_eq!((t.segments[0].start, t.segments[0].end), (0.0, 4.5));

        let t = parse(r#"{"text":"a b","words":[{"word":"a","start":0.5,"end":0.7}]}"#).unwrap();
        assert_eq!(t.segments[0].words.len(), 1);
    }

    #[test]
    fn silence_is_no_segment() {
        assert!(parse(r#"{"text":""}"#).unwrap().segments.is_empty());
        assert!(
            parse(r#"{"text":"  ","segments":[]}"#)
                .unwrap()
                .segments
                .is_empty()
        );
        assert!(
            parse(r#"{"segments":[{"start":0,"end":1,"text":"  "}]}"#)
                .unwrap()
                .segments
                .is_empty()
        );
    }

    #[test]
    fn odd_times_are_made_sane_and_segments_sorted() {
        let t = parse(
            r#"{"segments":[{"start":4,"end":3,"text":"b"},{"start":-1,"end":1,"text":"a","avg_logprob":-1e308}]}"#,
        )
        .unwrap();
        assert_eq!(t.segments[0].text, "a");
        assert_eq!((t.segments[0].start, t.segments[0].end), (0.0, 1.0));
        assert_eq!(t.segments[0].confidence, 0.0);
        assert_eq!((t.segments[1].start, t.segments[1].end), (4.0, 4.0));
    }

    #[test]
    fn malformed_replies_are_bad_replies() {
        for body in [
            "",
            "not json",
            "<html>502</html>",
            r#"{"text":"trunc"#,
            r#"["text"]"#,
            r#"{}"#,
            r#"{"segments":null}"#,
            r#"{"text":42}"#,
            r#"{"segments":[{"start":"0","end":1,"text":"a"}]}"#,
            r#"{"segments":[{"start":0,"end":1}]}"#,
            r#"{"segments":{"start":0}}"#,
            r#"{"segments":[[0,1,"a"]]}"#,
            r#"{"text":"a","words":[["a",0,1]]}"#,
            r#"{"segments":[{"start":0,"end":1,"text":"a","words":[["a",0,1]]}]}"#,
            r#"{"text":"a","words":[{"word":"a","start":0}]}"#,
            r#"{"text":"a","segments":[{"start":0,"end":1,"text":"a","avg_logprob":"high"}]}"#,
        ] {
            match parse(body) {
                Err(AsrError::BadReply(_)) => {}
                other => panic!("{body:?} gave {other:?}"),
            }
        }
        assert!(matches!(
            parse_reply(&[0xff, 0xfe, b'{'], Channel::Caller, 1.0),
            Err(AsrError::BadReply(_))
        ));
    }

    #[test]
    fn null_optional_fields_are_absent() {
        let t = parse(
            r#"{"text":"a","duration":null,"segments":[{"start":0,"end":1,"text":"a","avg_logprob":null,"words":null}],
                "words":[{"word":"a","start":0,"end":1,"probability":null}]}"#,
        )
        .unwrap();
        assert_eq!(t.segments[0].confidence, 1.0);
        assert_eq!(t.segments[0].words[0].confidence, 1.0);
    }

    #[test]
    fn server_messages() {
        assert_eq!(
            server_message(
                br#"{"error":{"message":"Invalid file format.","type":"invalid_request_error"}}"#
            )
            .as_deref(),
            Some("Invalid file format.")
        );
        assert_eq!(
            server_message(br#"{"error":"model not loaded"}"#).as_deref(),
            Some("model not loaded")
        );
        assert_eq!(
            server_message(br#"{"detail":"Unsupported language"}"#).as_deref(),
            Some("Unsupported language")
        );
        assert_eq!(
            server_message(br#"{"detail":[{"loc":["body","file"],"msg":"field required"}]}"#)
                .as_deref(),
            Some("field required")
        );
        assert_eq!(
            server_message(b"  Bad\r\n  request ").as_deref(),
            Some("Bad request")
        );
        assert_eq!(server_message(b"   "), None);
        let long = "é".repeat(1000);
        let short = server_message(long.as_bytes()).unwrap();
        assert_eq!(short.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn endpoints() {
        let e = |u: &str| endpoint(u).map(|u| u.to_string());
        assert_eq!(
            e("http://asr:8080").unwrap(),
            "http://asr:8080/v1/audio/transcriptions"
        );
        assert_eq!(
            e("http://asr:8080/").unwrap(),
            "http://asr:8080/v1/audio/transcriptions"
        );
        assert_eq!(
            e("https://api.openai.com/v1/").unwrap(),
            "https://api.openai.com/v1/audio/transcriptions"
        );
        assert_eq!(
            e("http://asr:8080/v1/audio/transcriptions").unwrap(),
            "http://asr:8080/v1/audio/transcriptions"
        );
        assert_eq!(
            e("http://asr:8080/inference").unwrap(),
            "http://asr:8080/inference"
        );
        assert!(matches!(e("asr:8080"), Err(AsrError::Rejected(_))));
        assert!(matches!(e("ftp://asr/"), Err(AsrError::Rejected(_))));
        assert!(matches!(e(""), Err(AsrError::Rejected(_))));
    }

    #[test]
    fn languages() {
        assert_eq!(language_code("en").as_deref(), Some("en"));
        assert_eq!(language_code("en-US").as_deref(), Some("en"));
        assert_eq!(language_code("zh_CN").as_deref(), Some("zh"));
        assert_eq!(language_code(" ZH ").as_deref(), Some("zh"));
        assert_eq!(language_code("yue").as_deref(), Some("yue"));
        assert_eq!(language_code(""), None);
        assert_eq!(language_code("english"), None);
        assert_eq!(language_code("中文"), None);
    }

    #[test]
    fn wav_header_and_samples() {
        let audio = ChannelAudio {
            channel: Channel::Caller,
            rate: 8000,
            samples: vec![0, 1, -1, i16::MAX, i16::MIN],
        };
        let bytes = wav(&audio).unwrap();
        assert_eq!(bytes.len() as u64, wav_size(5));
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            36 + 10
        );
        assert_eq!(&bytes[8..16], b"WAVEfmt ");
        assert_eq!(
            u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]),
            8000
        );
        assert_eq!(
            u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]),
            16000
        );
        assert_eq!(&bytes[36..40], b"data");
        assert_eq!(
            u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]),
            10
        );
        let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, 8000, 16)
        );
        let back: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(back, audio.samples);

        let no_rate = ChannelAudio { rate: 0, ..audio };
        assert!(matches!(wav(&no_rate), Err(AsrError::Rejected(_))));
    }

    #[test]
    fn bounded_reads() {
        assert_eq!(read_bounded(&b"abc"[..], 3).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_bounded(&b"abcd"[..], 3).unwrap(), None);
        assert_eq!(read_bounded(&b""[..], 0).unwrap(), Some(Vec::new()));
    }

    #[test]
    fn backoff_doubles_and_honours_retry_after_within_the_job_bound() {
        let asr = HttpAsr {
            config: HttpAsrConfig {
                retry_backoff: Duration::from_millis(100),
                ..HttpAsrConfig::default()
            },
            endpoint: endpoint("http://127.0.0.1:9").unwrap(),
            client: reqwest::blocking::Client::new(),
        };
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(asr.backoff(1, None), ms(100));
        assert_eq!(asr.backoff(2, None), ms(200));
        assert_eq!(asr.backoff(3, None), ms(400));
        assert_eq!(asr.backoff(40, None), ms(3200));
        assert_eq!(asr.backoff(1, Some(Duration::from_secs(2))), ms(2000));
        assert_eq!(asr.backoff(1, Some(MAX_RETRY_PAUSE)), Some(MAX_RETRY_PAUSE));
        // A longer wait asked for is the job queue's.
        assert_eq!(asr.backoff(1, Some(Duration::from_secs(3600))), None);
        assert_eq!(asr.backoff(2, Some(Duration::ZERO)), ms(200));
        // However long the base, a pause in a job stays short.
        let slow = HttpAsr {
            config: HttpAsrConfig {
                retry_backoff: Duration::from_secs(60),
                ..HttpAsrConfig::default()
            },
            ..asr
        };
        assert_eq!(slow.backoff(1, None), Some(MAX_RETRY_PAUSE));
    }

    #[test]
    fn config_debug_hides_the_key() {
        let config = HttpAsrConfig {
            api_key: Some("sk-secret".into()),
            ..HttpAsrConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-secret"));
        assert!(shown.contains("(set)"));
    }

    #[test]
    fn defaults() {
        let c = HttpAsrConfig::default();
        assert_eq!(c.timeout, Duration::from_secs(120));
        assert_eq!(c.retries, 2);
        assert_eq!(c.max_upload_bytes, 25 * 1024 * 1024);
        assert_eq!(c.model, "whisper-1");
    }
}
