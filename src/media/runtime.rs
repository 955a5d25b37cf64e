//! The media runtime: the threads that run the media tasks (sessions,
//! relays, recorders) and drive their sockets and 20 ms ticks, apart from
//! the threads that run signalling.
//!
//! On two cores a burst of INVITEs or BYEs, or a batch of call records,
//! keeps the signalling workers busy for more than a packet time; media
//! tasks on the same workers then send late. `switchboard serve` therefore
//! builds this runtime ([`start`]), installs its handle, and runs
//! signalling at a lower priority ([`crate::thread_priority`]). The kernel
//! then shares the cores between the two by time slice, and a tick waits
//! at most a slice for a signalling burst. With `[media] realtime_priority`
//! the media threads go further, into the real-time class: no thread of
//! the normal class (signalling, the database, other programs) delays
//! them; under overload they can starve those, as Asterisk's `-p` and
//! FreeSWITCH's `-rp` can.
//!
//! Where nothing is installed (unit tests, one-shot commands), media tasks
//! run on the runtime of whoever starts them.

use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::{EnterGuard, Handle, Runtime};
use tokio::task::JoinHandle;

/// The installed media runtime's handle.
static MEDIA: OnceLock<Handle> = OnceLock::new();

/// Builds the media runtime, one worker thread per core (named "media"),
/// and installs its handle. With a `realtime_priority` (1 to 99) its
/// threads run in the real-time class (SCHED_RR) at that priority, when
/// the process may (root or CAP_SYS_NICE; a warning says when it may
/// not). Keep the runtime alive for as long as calls run; it may be built
/// once per process.
pub fn start(realtime_priority: u8) -> std::io::Result<Runtime> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(workers)
        .thread_name("media")
        .enable_all();
    if realtime_priority > 0 {
        static REFUSED: std::sync::Once = std::sync::Once::new();
        builder.on_thread_start(move || {
            if let Err(e) = crate::thread_priority::set_realtime(realtime_priority) {
                REFUSED.call_once(|| {
                    tracing::warn!(
                        "media threads left at normal priority: [media] realtime_priority = {realtime_priority} was refused ({e}); it needs CAP_SYS_NICE (or root with it) or an RLIMIT_RTPRIO of at least {realtime_priority}"
                    );
                });
            }
        });
    }
    let runtime = builder.build()?;
    MEDIA
        .set(runtime.handle().clone())
        .map_err(|_| std::io::Error::other("the media runtime is already installed"))?;
    Ok(runtime)
}

/// Spawns a media task on the media runtime, or on the current runtime
/// when none is installed.
pub fn spawn<F>(task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match MEDIA.get() {
        Some(media) => media.spawn(task),
        None => tokio::spawn(task),
    }
}

/// Enters the media runtime, if one is installed, until the guard drops:
/// sockets created meanwhile are driven by the media threads.
pub fn enter() -> Option<EnterGuard<'static>> {
    MEDIA.get().map(Handle::enter)
}
