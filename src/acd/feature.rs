//! Agents' feature codes, dialled from their softphones: `*21` log in and
//! be ready (also ends a break or a wrap-up early), `*22` not ready for a
//! break (`*22` then digits: that reason code), `*23` log out.

use super::service::AgentRequest;

/// A feature code an agent dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureCode {
    Ready,
    /// A break with this reason.
    Break(String),
    LogOut,
}

impl FeatureCode {
    /// The code dialled as `user` (the Request-URI's user part), if any.
    pub fn parse(user: &str) -> Option<FeatureCode> {
        match user {
            "*21" => Some(FeatureCode::Ready),
            "*22" => Some(FeatureCode::Break("break".into())),
            "*23" => Some(FeatureCode::LogOut),
            _ => {
                let code = user.strip_prefix("*22")?;
                (code.len() <= 4 && code.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| FeatureCode::Break(format!("break code {code}")))
            }
        }
    }

    /// As dialled (for the call's record).
    pub fn dialled(&self) -> String {
        match self {
            FeatureCode::Ready => "*21".into(),
            FeatureCode::Break(r) => match r.strip_prefix("break code ") {
                Some(code) => format!("*22{code}"),
                None => "*22".into(),
            },
            FeatureCode::LogOut => "*23".into(),
        }
    }

    pub fn request(&self) -> AgentRequest {
        match self {
            FeatureCode::Ready => AgentRequest::Ready,
            FeatureCode::Break(reason) => AgentRequest::NotReady {
                reason: reason.clone(),
            },
            FeatureCode::LogOut => AgentRequest::LogOut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_and_written_back() {
        for (dialled, code) in [
            ("*21", FeatureCode::Ready),
            ("*22", FeatureCode::Break("break".into())),
            ("*2207", FeatureCode::Break("break code 07".into())),
            ("*23", FeatureCode::LogOut),
        ] {
            assert_eq!(FeatureCode::parse(dialled), Some(code.clone()));
            assert_eq!(code.dialled(), dialled);
        }
        for other in ["*2", "*24", "*22x", "*2212345", "21", ""] {
            assert_eq!(FeatureCode::parse(other), None, "{other}");
        }
    }
}
