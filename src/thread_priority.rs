//! The calling thread's scheduling priority (its nice value). On Linux the
//! nice value belongs to each thread, so one runtime's threads can run
//! below another's in the same process. The switch lowers a thread's
//! priority (raises its nice value), which needs no privilege, and, when
//! configured, puts its media threads in the real-time class, which does.

/// The highest nice value (the lowest priority).
pub const LOWEST: i32 = 19;

/// The nice value `steps` levels below the calling thread's priority
/// (capped at [`LOWEST`]). A thread starts with the nice value of the
/// thread that created it.
pub fn lowered_by(steps: i32) -> Option<i32> {
    nice().map(|now| now.saturating_add(steps).min(LOWEST))
}

/// Sets the calling thread's nice value. Best effort: a value below the
/// thread's own needs a privilege, and without it the thread keeps its
/// value.
pub fn set(value: i32) {
    // SAFETY: setpriority on our own thread id only changes this thread's
    // nice value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, value);
    }
}

/// Sets the calling thread's nice value to [`LOWEST`].
pub fn lowest() {
    set(LOWEST);
}

/// Puts the calling thread in the real-time round-robin class (SCHED_RR)
/// at `priority` (1 to 99): it then runs before every thread of the normal
/// class, whatever their nice values; threads it starts do not inherit
/// that. Needs CAP_SYS_NICE (or an RLIMIT_RTPRIO of at least `priority`);
/// the error says why it failed.
pub fn set_realtime(priority: u8) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // Threads it starts (a database connection's worker, say) begin in the
    // normal class instead of inheriting the real-time one.
    let policy = libc::SCHED_RR | libc::SCHED_RESET_ON_FORK;
    // SAFETY: on Linux, pid 0 is the calling thread; `param` lives for the
    // call.
    let rc = unsafe { libc::sched_setscheduler(0, policy, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The calling thread's nice value.
pub fn nice() -> Option<i32> {
    // SAFETY: gettid has no preconditions; getpriority only reads our own
    // thread's nice value. It may return -1 legitimately, so errno is
    // cleared first and checked after.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        *libc::__errno_location() = 0;
        let value = libc::getpriority(libc::PRIO_PROCESS, tid);
        (*libc::__errno_location() == 0).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_set_lower_leaves_its_creator_alone() {
        let here = nice().unwrap();
        let target = lowered_by(3).unwrap();
        assert_eq!(target, (here + 3).min(LOWEST));
        let (set, grandchild) = std::thread::spawn(move || {
            set(target);
            // A thread it creates starts where it is (what `serve` relies
            // on when it lowers its main thread before starting the rest).
            let grandchild = std::thread::spawn(|| nice().unwrap());
            (nice().unwrap(), grandchild.join().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!((set, grandchild), (target, target));
        assert_eq!(nice().unwrap(), here);
        assert_eq!(lowered_by(40), Some(LOWEST));
    }
}
