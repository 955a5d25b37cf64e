//! Issue 4, personal data at rest: the caller's number and the journal's
//! details are sealed in the database (AES-256-GCM, key outside it).
//!
//! Pass/fail: after a call from +15550777 (digits pressed, so the journal
//! has details) the raw bytes of the SQLite file and its write-ahead log
//! hold neither the number (in any of its spellings) nor the key; the key
//! file exists beside the configuration, readable by its owner only;
//! `switchboard calls` still shows the caller and the digit (it has the key).
//! The demo customers, imported with `switchboard customers import`, leave
//! no name, number or e-mail in clear either.

mod common;

use common::*;
use std::time::Duration;

fn raw_database(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["switchboard.db", "switchboard.db-wal"] {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn caller_numbers_and_digits_are_not_stored_in_clear() {
    let sw = Switch::start(SwitchOpts::new());
    let mut caller = RawCaller::new(sw.carrier_addr(), "9196");
    let (status, ok) = caller.invite("0 101", None);
    assert_eq!(status, 200, "{ok}");
    let mut seq = 1u16;
    caller.send_digit(7, &mut seq, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(caller.bye(), 200);
    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    assert_eq!(calls[0]["caller"], "+15550777", "{:#}", calls[0]);
    let digits: Vec<&str> = calls[0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "dtmf")
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert!(
        digits.iter().any(|d| d.starts_with("7 from caller")),
        "{digits:?}"
    );

    let dir = sw.config_dir();
    let import = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["customers", "import"])
        .arg(repo_root().join("demo/customers.toml"))
        .arg("--config")
        .arg(dir)
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");
    assert!(
        String::from_utf8_lossy(&import.stdout).contains("imported 4 customer(s)"),
        "{import:?}"
    );
    let key_file = dir.join("pii.key");
    let key = std::fs::read_to_string(&key_file).expect("the key file was created");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the key file is its owner's only: {mode:o}"
        );
    }
    let raw = raw_database(dir);
    assert!(
        raw.len() > 4096,
        "the database was read ({} bytes)",
        raw.len()
    );
    assert!(
        contains(&raw, "9196"),
        "the check can see clear text (the callee)"
    );
    for needle in [
        "+15550777",
        "15550777",
        "5550777",
        "7 from caller",
        key.trim(),
        "Grace Hopper",
        "Hopper",
        "15550101",
        "grace@example.com",
        "Li Wei",
    ] {
        assert!(
            !contains(&raw, needle),
            "`{needle}` is in the database in clear"
        );
    }
}
