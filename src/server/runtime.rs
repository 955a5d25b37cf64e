//! A running profile: its validated configuration plus the live pieces
//! shared by its ingress and the core (the flood and scanner guard).

use std::sync::Arc;

use crate::config::Profile;
use crate::sip::security::Guard;
use crate::sip::transport::ProfileId;

/// One profile of the running switch. Profiles are indexed by their
/// [`ProfileId`] in the switch's profile list.
pub struct ProfileRuntime {
    pub id: ProfileId,
    pub profile: Profile,
    pub guard: Arc<Guard>,
}
