//! The per-leg player: a sans-IO state machine over a [`Playlist`].
//!
//! The media task calls [`Player::next_frame`] once per ptime tick and sends
//! the payload it gets (setting the RTP marker bit when [`Frame::marker`] is
//! set); `None` means "nothing to play". DTMF received on the leg goes to
//! [`Player::on_dtmf`]. The IVR learns that a playlist ended from
//! [`Player::poll_event`] (or from [`Frame::last`] on the final frame).
//!
//! Rules:
//! * Items play in order; each item's first frame has `marker` set (also on
//!   every pass of a looping playlist). Empty prompts and 0 ms silences are
//!   skipped. A silence of `d` lasts `ceil(d / ptime)` frames.
//! * A non-looping playlist ends with its last frame: that frame has
//!   `last` set, [`PlayerEvent::Finished`] is queued and the player is idle
//!   from then on. A playlist with no frames at all finishes inside `play`.
//! * A looping playlist (music on hold) never ends by itself; `stop`,
//!   barge-in or a new `play` end it.
//! * Every playlist ends with exactly one event: `Finished`, `BargedIn` or
//!   `Stopped` (by [`Player::stop`] or by being replaced by `play`).
//! * `next_frame` never allocates: payloads are `Bytes` handles (reference
//!   count increments) to cached prompt frames or static silence. The event
//!   queue is allocated once and bounded (oldest events are dropped if the
//!   owner never polls).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{EncodedPrompt, OutputFormat, PlayerError};

/// Events kept when the owner does not poll; older ones are dropped.
const MAX_EVENTS: usize = 8;

/// One thing to play.
#[derive(Clone, Debug)]
pub enum PlayItem {
    /// A converted prompt (from [`super::PromptCache`]).
    Prompt(Arc<EncodedPrompt>),
    /// Silence for at least this long (rounded up to whole frames).
    Silence(Duration),
}

/// An ordered list of items with playback options.
#[derive(Clone, Debug, Default)]
pub struct Playlist {
    items: Vec<PlayItem>,
    looping: bool,
    barge_in: bool,
}

impl Playlist {
    /// An empty, non-looping playlist without barge-in.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a prompt.
    pub fn prompt(mut self, prompt: Arc<EncodedPrompt>) -> Self {
        self.items.push(PlayItem::Prompt(prompt));
        self
    }

    /// Appends a silence.
    pub fn silence(mut self, duration: Duration) -> Self {
        self.items.push(PlayItem::Silence(duration));
        self
    }

    /// Appends an item.
    pub fn push(&mut self, item: PlayItem) {
        self.items.push(item);
    }

    /// Restart from the first item after the last (music on hold).
    pub fn looping(mut self, on: bool) -> Self {
        self.looping = on;
        self
    }

    /// Stop playback when a DTMF digit arrives.
    pub fn barge_in(mut self, on: bool) -> Self {
        self.barge_in = on;
        self
    }

    /// The items.
    pub fn items(&self) -> &[PlayItem] {
        &self.items
    }

    /// Whether the playlist loops.
    pub fn is_looping(&self) -> bool {
        self.looping
    }

    /// Whether DTMF stops it.
    pub fn is_barge_in(&self) -> bool {
        self.barge_in
    }
}

/// Identifies one `play` call in events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlaybackId(pub u64);

/// How a playlist ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerEvent {
    /// All items were played (non-looping playlists only).
    Finished(PlaybackId),
    /// Barge-in: stopped by this DTMF digit.
    BargedIn {
        /// The playlist.
        id: PlaybackId,
        /// The digit that stopped it.
        digit: char,
    },
    /// Stopped by [`Player::stop`] or replaced by [`Player::play`].
    Stopped(PlaybackId),
}

/// One frame to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Encoded payload, one ptime long.
    pub payload: Bytes,
    /// First frame of an item: set the RTP marker bit.
    pub marker: bool,
    /// Index of the item in the playlist.
    pub item: usize,
    /// Final frame of a non-looping playlist (`Finished` is queued with it).
    pub last: bool,
}

#[derive(Debug)]
struct Active {
    id: PlaybackId,
    playlist: Playlist,
    item: usize,
    /// Frames already played of the current item.
    pos: usize,
    /// Frames left in a non-looping playlist.
    remaining: usize,
}

/// Plays playlists for one leg. Sans-IO: see the module doc.
#[derive(Debug)]
pub struct Player {
    format: OutputFormat,
    silence: Bytes,
    active: Option<Active>,
    events: VecDeque<PlayerEvent>,
    next_id: u64,
}

impl Player {
    /// An idle player for a leg sending `format`.
    pub fn new(format: OutputFormat) -> Self {
        Self {
            format,
            silence: format.silence_frame(),
            active: None,
            events: VecDeque::with_capacity(MAX_EVENTS),
            next_id: 1,
        }
    }

    /// The leg's format.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Starts `playlist`, replacing (and reporting `Stopped` for) any current
    /// one. Fails, leaving the current playback alone, if a prompt was
    /// converted for another format.
    pub fn play(&mut self, playlist: Playlist) -> Result<PlaybackId, PlayerError> {
        for item in &playlist.items {
            match item {
                PlayItem::Prompt(p) if p.format() != self.format => {
                    return Err(PlayerError::FormatMismatch {
                        path: p.source().to_path_buf(),
                        expected: self.format,
                        found: p.format(),
                    });
                }
                _ => {}
            }
        }
        self.stop();
        let id = PlaybackId(self.next_id);
        self.next_id += 1;
        let total: usize = playlist.items.iter().map(|i| self.item_len(i)).sum();
        if total == 0 {
            self.push_event(PlayerEvent::Finished(id));
        } else {
            self.active = Some(Active {
                id,
                playlist,
                item: 0,
                pos: 0,
                remaining: total,
            });
        }
        Ok(id)
    }

    /// The next frame to send, or `None` when idle. Call once per ptime.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let ptime = self.format.ptime();
        let a = self.active.as_mut()?;
        let items = &a.playlist.items;
        // Skip exhausted or empty items; terminates because the playlist
        // has at least one frame (checked in `play`).
        loop {
            if a.pos < item_len(&items[a.item], ptime) {
                break;
            }
            a.item += 1;
            a.pos = 0;
            if a.item == items.len() {
                a.item = 0;
            }
        }
        let payload = match &items[a.item] {
            PlayItem::Prompt(p) => p.frames()[a.pos].clone(),
            PlayItem::Silence(_) => self.silence.clone(),
        };
        let marker = a.pos == 0;
        let item = a.item;
        a.pos += 1;
        let mut last = false;
        if !a.playlist.looping {
            a.remaining -= 1;
            last = a.remaining == 0;
        }
        if last {
            let id = a.id;
            self.active = None;
            self.push_event(PlayerEvent::Finished(id));
        }
        Some(Frame {
            payload,
            marker,
            item,
            last,
        })
    }

    /// A DTMF digit arrived: stops playback if the playlist has barge-in.
    /// Returns whether it stopped.
    pub fn on_dtmf(&mut self, digit: char) -> bool {
        match &self.active {
            Some(a) if a.playlist.barge_in => {
                let id = a.id;
                self.active = None;
                self.push_event(PlayerEvent::BargedIn { id, digit });
                true
            }
            _ => false,
        }
    }

    /// Stops playback; returns whether something was playing.
    pub fn stop(&mut self) -> bool {
        match self.active.take() {
            Some(a) => {
                self.push_event(PlayerEvent::Stopped(a.id));
                true
            }
            None => false,
        }
    }

    /// Whether a playlist is active.
    pub fn is_playing(&self) -> bool {
        self.active.is_some()
    }

    /// The active playlist's id.
    pub fn current(&self) -> Option<PlaybackId> {
        self.active.as_ref().map(|a| a.id)
    }

    /// The oldest unread event.
    pub fn poll_event(&mut self) -> Option<PlayerEvent> {
        self.events.pop_front()
    }

    fn item_len(&self, item: &PlayItem) -> usize {
        item_len(item, self.format.ptime())
    }

    fn push_event(&mut self, event: PlayerEvent) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }
}

/// Frames in `item` at `ptime`.
fn item_len(item: &PlayItem, ptime: Duration) -> usize {
    match item {
        PlayItem::Prompt(p) => p.frames().len(),
        PlayItem::Silence(d) => d.as_nanos().div_ceil(ptime.as_nanos()) as usize,
    }
}
