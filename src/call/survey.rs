//! The post-call survey (CSAT): in a queue with `survey = true`, when the
//! agent hangs up the caller stays on the line. The relay gives the
//! caller's leg back to the switch's own session (same port, same codec),
//! the agent goes to wrap-up, and the caller is asked to rate the call
//! from 1 to 5. A key 1-5 is stored with the call (`calls.csat`) and
//! journaled; no key (asked twice) or a caller hanging up stores nothing.
//! Then the switch says goodbye and hangs up.

use std::time::Duration;

use tokio::time::Instant;

use super::Call;
use super::app::{AppRun, Phase};
use crate::flow::model::PromptItem;
use crate::media::player::PlaybackId;
use crate::store::{CallEventKind, HangupBy};

/// How long the caller has to key a rating once asked.
const ANSWER_TIME: Duration = Duration::from_secs(8);
/// How many times the caller is asked.
const ASKS: u32 = 2;

/// Where a survey stands.
#[derive(Debug)]
pub struct SurveyRun {
    /// The question playing (keys may interrupt it).
    asking: Option<PlaybackId>,
    asked: u32,
    chinese: bool,
}

impl Call {
    /// Whether the agent hanging up now starts a survey: an ACD call whose
    /// queue asks for one, its caller still there.
    pub(super) fn survey_due(&self) -> bool {
        self.origin.is_none()
            && self.ending_since.is_none()
            && self
                .queue
                .as_ref()
                .is_some_and(|w| w.survey && w.answered_by.is_some())
    }

    /// The agent hung up: the agent's side is over (wrap-up starts), the
    /// caller is taken back from the relay and asked for a rating.
    pub(super) async fn start_survey(&mut self) {
        let chinese = self.queue.as_ref().is_some_and(|w| w.chinese);
        if let Err(why) = self.keep_caller_without_agent().await {
            let why = format!("not possible: {why}");
            self.journal_event(CallEventKind::Survey, &why).await;
            self.send_bye(super::Side::Caller).await;
            self.end();
            return;
        }
        self.app = Some(AppRun {
            phase: Phase::Survey(SurveyRun {
                asking: None,
                asked: 0,
                chinese,
            }),
            deadline: None,
        });
        self.ask_rating().await;
    }

    fn survey_run(&mut self) -> Option<&mut SurveyRun> {
        match self.app.as_mut().map(|a| &mut a.phase) {
            Some(Phase::Survey(run)) => Some(run),
            _ => None,
        }
    }

    /// Asks (again) for a rating, or ends the survey after [`ASKS`].
    async fn ask_rating(&mut self) {
        let Some(run) = self.survey_run() else { return };
        if run.asked >= ASKS {
            return self.end_survey(None).await;
        }
        run.asked += 1;
        let (text, voice) = if run.chinese {
            (
                "感谢您的来电。请为我们的服务打分，1分为差，5分为非常好。",
                "cmn",
            )
        } else {
            (
                "Thank you for your call. Please rate our service from 1, poor, to 5, excellent.",
                "en",
            )
        };
        let say = [PromptItem::Say {
            text: text.into(),
            voice: voice.into(),
        }];
        let id = self.play_flow_prompts(&say, true).await;
        if let Some(run) = self.survey_run() {
            run.asking = id;
        }
        if id.is_none() {
            self.end_survey(None).await;
        }
    }

    /// A key from the caller during the survey.
    pub(super) async fn survey_digit(&mut self, digit: char) {
        if let Some(a) = self.app.as_mut() {
            a.deadline = None;
        }
        match digit.to_digit(10) {
            Some(r @ 1..=5) => self.end_survey(Some(r as u8)).await,
            _ => self.ask_rating().await,
        }
    }

    /// A playlist ended: after the question, the caller has
    /// [`ANSWER_TIME`] to answer.
    pub(super) async fn survey_playback_done(&mut self, id: PlaybackId) {
        let Some(run) = self.survey_run() else { return };
        if run.asking != Some(id) {
            return;
        }
        run.asking = None;
        if let Some(a) = self.app.as_mut() {
            a.deadline = Some(Instant::now() + ANSWER_TIME);
        }
    }

    /// No key in time: asked again, or the survey ends.
    pub(super) async fn survey_timeout(&mut self) {
        self.ask_rating().await;
    }

    /// Stores the rating (if any), thanks the caller and hangs up.
    async fn end_survey(&mut self, rating: Option<u8>) {
        let chinese = self.survey_run().is_some_and(|r| r.chinese);
        if let Some(a) = self.app.as_mut() {
            a.phase = Phase::Done;
            a.deadline = None;
        }
        match rating {
            Some(r) => {
                self.journal_event(CallEventKind::Survey, &format!("rated {r}"))
                    .await;
                if let Some(cdr) = &self.ctx.cdr {
                    cdr.flush().await;
                }
                if let Some(store) = self.store()
                    && let Err(e) = store.set_csat(&self.caller.call_id, r).await
                {
                    tracing::error!(call_id = %self.caller.call_id, "survey rating not stored: {e}");
                }
            }
            None => self.journal_event(CallEventKind::Survey, "no rating").await,
        }
        if let Some(s) = self.media.as_ref().and_then(|m| m.session()) {
            let _ = s.stop_playback().await;
        }
        let (text, voice) = if chinese {
            ("谢谢，再见。", "cmn")
        } else {
            ("Thank you. Goodbye.", "en")
        };
        let say = [PromptItem::Say {
            text: text.into(),
            voice: voice.into(),
        }];
        match self.play_flow_prompts(&say, false).await {
            Some(id) => self.hangup_after = Some(id),
            None => {
                self.note_end(HangupBy::Switch, "survey over", None);
                self.hang_up_both().await;
            }
        }
    }
}
