//! An agent's feature code (`*21` ready, `*22` break, `*23` log out),
//! dialled from their softphone: the core authenticated the agent; the
//! switch answers, asks the ACD for the change, says what it did (spoken
//! by the TTS engine) and hangs up. The call's journal keeps the outcome.

use super::Call;
use super::app::{AppRun, Phase};
use super::media::Reject;
use crate::acd::feature::FeatureCode;
use crate::flow::model::PromptItem;
use crate::store::{CallEventKind, HangupBy};

impl Call {
    pub(super) async fn start_feature(&mut self, agent: &str, code: &FeatureCode) {
        let Some(acd) = self.ctx.acd.clone() else {
            let reason = "no contact center is configured".to_string();
            return self
                .reject_caller(Reject {
                    status: 404,
                    warning: None,
                    reason,
                })
                .await;
        };
        if !self
            .answer_for_app(&format!("feature:{}", code.dialled()))
            .await
        {
            return;
        }
        let outcome = acd.agent(agent, code.request()).await;
        let (detail, text) = match &outcome {
            Ok(state) => (
                format!("agent {agent}: {state}"),
                format!("Agent {agent}, {}.", spoken(state)),
            ),
            Err(why) => (
                format!("agent {agent}: refused: {why}"),
                format!("Agent {agent}, no change."),
            ),
        };
        self.journal_event(CallEventKind::Set, &detail).await;
        let say = [PromptItem::Say {
            text,
            voice: "en".into(),
        }];
        match self.play_flow_prompts(&say, false).await {
            Some(id) => {
                self.app = Some(AppRun {
                    phase: Phase::Confirm(id),
                    deadline: None,
                });
            }
            None => {
                self.note_end(HangupBy::Switch, "feature code confirmed", None);
                self.hang_up_both().await;
            }
        }
    }
}

/// How an agent state is said to the agent.
fn spoken(state: &str) -> &'static str {
    match state.split(' ').next().unwrap_or("") {
        "available" => "you are ready",
        "not_ready" => "you are on a break",
        "logged_out" => "you are logged out",
        "wrap_up" => "you are in wrap up",
        "on_call" | "reserved" | "ringing" => "you are on a call",
        _ => "done",
    }
}
