//! The command line: `check` and `serve` on good and bad configurations,
//! `--version`. A configuration problem is one line naming file, line and
//! field, and `serve` refuses to start with the same lines.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn switchboard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .expect("run switchboard")
}

/// The demo configuration as shipped, in a temporary folder.
fn demo_config() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    config_with_agents(&fs::read_to_string(root.join("sip-profiles/agents.toml")).unwrap())
}

/// A copy of the demo configuration with `agents.toml` replaced.
fn config_with_agents(agents: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::copy(
        root.join("switchboard.toml"),
        dir.path().join("switchboard.toml"),
    )
    .unwrap();
    fs::create_dir(dir.path().join("sip-profiles")).unwrap();
    fs::copy(
        root.join("sip-profiles/carrier.toml"),
        dir.path().join("sip-profiles/carrier.toml"),
    )
    .unwrap();
    fs::write(dir.path().join("sip-profiles/agents.toml"), agents).unwrap();
    // The prompts (music on hold, the demo flow's files), the flows and
    // the queues they name.
    copy_dir(&root.join("prompts"), &dir.path().join("prompts"));
    copy_dir(&root.join("ivr-flows"), &dir.path().join("ivr-flows"));
    copy_dir(
        &root.join("contact-center"),
        &dir.path().join("contact-center"),
    );
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

/// The demo configuration with `ivr-flows/demo.toml` edited by `edit`;
/// returns the folder and the edited text.
fn config_with_demo_flow(edit: impl Fn(&str) -> String) -> (tempfile::TempDir, String) {
    let dir = demo_config();
    let path = dir.path().join("ivr-flows/demo.toml");
    let text = edit(&fs::read_to_string(&path).unwrap());
    fs::write(&path, &text).unwrap();
    (dir, text)
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_with(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn check_errors(dir: &tempfile::TempDir) -> String {
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_is_printed() {
    let out = switchboard(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("switchboard {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_repository_root_is_a_valid_configuration() {
    let out = switchboard(&["check", "--config", env!("CARGO_MANIFEST_DIR")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("agents, carrier"), "{stdout}");
    assert!(
        stdout.contains(
            "IVR flows OK: 1 flow(s): demo; calendars: always-closed, always-open, office"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "QA rules OK: 10 item(s) in 4 categories: attitude, process, resolution, signal"
        ),
        "{stdout}"
    );
}

const BAD_AGENTS: &str = "kind = \"internal\"\n\
listen = [\"udp:127.0.0.1:5060\", \"sctp:127.0.0.1:5060\"]\n\
digest_algorithms = [\"SHA-1\"]\n\
\n\
[[users]]\n\
extension = \"10 01\"\n\
password = \"pw\"\n";

#[test]
fn check_names_file_line_and_field_of_each_problem() {
    let dir = config_with_agents(BAD_AGENTS);
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let expect = [
        "sip-profiles/agents.toml:2: listen[1]: unknown transport `sctp`; valid transports: udp, tcp",
        "sip-profiles/agents.toml:3: digest_algorithms[0]: unknown algorithm `SHA-1`; valid: SHA-256, MD5",
        "sip-profiles/agents.toml:6: users[0].extension: `10 01` is not a valid extension",
        "sip-profiles/agents.toml:7: users[0].password: too short",
    ];
    for e in expect {
        assert!(
            lines.iter().any(|l| l.starts_with(e)),
            "missing `{e}` in:\n{err}"
        );
    }
    assert_eq!(lines.len(), expect.len(), "one line per problem:\n{err}");
}

#[test]
fn unknown_keys_and_syntax_errors_are_located() {
    let dir = config_with_agents(
        "kind = \"internal\"\nlisten = [\"udp:127.0.0.1:5060\"]\nrelam = \"x\"\n",
    );
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("sip-profiles/agents.toml:3: relam: unknown field `relam`"),
        "{err}"
    );

    let dir = config_with_agents("kind = \"internal\"\nlisten = [\"udp:127.0.0.1:5060\"\n");
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.starts_with("sip-profiles/agents.toml:"), "{err}");
}

#[test]
fn serve_refuses_an_invalid_configuration_with_the_same_lines() {
    let dir = config_with_agents(BAD_AGENTS);
    let check = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    let serve = switchboard(&["serve", "--config", dir.path().to_str().unwrap()]);
    assert!(!serve.status.success());
    let serve_err = String::from_utf8_lossy(&serve.stderr);
    for line in String::from_utf8_lossy(&check.stderr).lines() {
        assert!(
            serve_err.contains(line),
            "serve did not print `{line}`:\n{serve_err}"
        );
    }
    assert!(
        !dir.path().join("switchboard.db").exists(),
        "nothing is created for a bad configuration"
    );
}

#[test]
fn bad_numbers_and_session_timers_are_located() {
    let dir = demo_config();
    let carrier = dir.path().join("sip-profiles/carrier.toml");
    let text = fs::read_to_string(&carrier)
        .unwrap()
        .replace("\"9196\" = \"echo\"", "\"9196\" = \"echoo\"");
    fs::write(&carrier, text).unwrap();
    let switch = dir.path().join("switchboard.toml");
    let text = fs::read_to_string(&switch)
        .unwrap()
        .replace("min_se_seconds = 90", "min_se_seconds = 1");
    fs::write(&switch, text).unwrap();
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line_of = |file: &Path, needle: &str| {
        fs::read_to_string(file)
            .unwrap()
            .lines()
            .position(|l| l.contains(needle))
            .unwrap()
            + 1
    };
    let numbers = format!(
        "sip-profiles/carrier.toml:{}: routing.numbers.9196: unknown application `echoo`; valid: echo, record-playback",
        line_of(&carrier, "echoo")
    );
    let timer = format!(
        "switchboard.toml:{}: session_timer.session_expires_seconds:",
        line_of(&switch, "session_expires_seconds")
    );
    for e in [numbers, timer] {
        assert!(
            err.lines().any(|l| l.starts_with(&e)),
            "missing `{e}` in:\n{err}"
        );
    }
}

#[test]
fn missing_music_on_hold_is_located() {
    let dir = demo_config();
    let switch = dir.path().join("switchboard.toml");
    let text = fs::read_to_string(&switch).unwrap().replace(
        "music_on_hold = \"prompts/music-on-hold.wav\"",
        "music_on_hold = \"prompts/no-such-music.wav\"",
    );
    fs::write(&switch, &text).unwrap();
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .position(|l| l.contains("no-such-music"))
        .unwrap()
        + 1;
    let want = format!("switchboard.toml:{line}: media.music_on_hold: `");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&want) && l.contains("no-such-music.wav` is not a file")),
        "missing `{want}` in:\n{err}"
    );
}

#[test]
fn unknown_and_repeated_codecs_of_a_profile_are_located() {
    let agents =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("sip-profiles/agents.toml"))
            .unwrap();
    let dir = config_with_agents(&format!(
        "{agents}\n[media]\ncodecs = [\"PCMA\", \"G729\",\n          \"pcma\"]\n"
    ));
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let codecs_line = agents.lines().count() + 3;
    let expect = [
        format!(
            "sip-profiles/agents.toml:{codecs_line}: media.codecs[1]: unknown codec `G729`; valid: PCMU, PCMA, G722, opus"
        ),
        format!(
            "sip-profiles/agents.toml:{}: media.codecs[2]: `pcma` is listed twice",
            codecs_line + 1
        ),
    ];
    for e in &expect {
        assert!(err.lines().any(|l| l == e), "missing `{e}` in:\n{err}");
    }
    assert_eq!(
        err.lines().count(),
        expect.len(),
        "one line per problem:\n{err}"
    );

    // Spelled in any case, the same codecs are fine.
    let dir = config_with_agents(&format!(
        "{agents}\n[media]\ncodecs = [\"pcma\", \"OPUS\"]\n"
    ));
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn agents_import_checks_every_entry_and_the_database_ones_are_listed() {
    let sip =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("sip-profiles/agents.toml"))
            .unwrap();
    // One more SIP user, 1006, who is an agent only in the database.
    let sip = format!(
        "{sip}\n[[users]]\nextension = \"1006\"\npassword = \"pw1006\"\ndisplay_name = \"Agent 1006\"\n"
    );
    let dir = config_with_agents(&sip);
    let cfg = dir.path().to_str().unwrap();
    let file = dir.path().join("more.toml");
    fs::write(
        &file,
        "[[agent]]\nid = \"1007\"\nname = \"Nobody\"\n\n[[agent]]\nid = \"1006\"\nname = \"Grace\"\nskills = { orders = 12 }\n",
    )
    .unwrap();
    let out = switchboard(&["agents", "import", file.to_str().unwrap(), "--config", cfg]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing imported"), "{err}");
    assert!(err.contains(":2: agent[0].id: no SIP user `1007`"), "{err}");
    assert!(
        err.contains(":8: agent[1].skills.orders: 12 is out of range"),
        "{err}"
    );

    fs::write(
        &file,
        "[[agent]]\nid = \"1006\"\nname = \"Grace\"\nteam = \"night\"\nskills = { orders = 7 }\n\n[[agent]]\nid = \"1005\"\nname = \"Lin (moved)\"\nteam = \"complaints\"\nskills = { complaints = 8 }\n",
    )
    .unwrap();
    let out = switchboard(&["agents", "import", file.to_str().unwrap(), "--config", cfg]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 2 agent(s)"),
        "{out:?}"
    );
    let out = switchboard(&["agents", "--json", "--config", cfg]);
    assert!(out.status.success(), "{out:?}");
    let agents: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = agents
        .iter()
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1001", "1002", "1003", "1004", "1005", "1006"]);
    assert_eq!(agents[4]["name"], "Lin (moved)", "the database's 1005 wins");
    assert_eq!(agents[5]["team"], "night");
    let raw = fs::read(dir.path().join("switchboard.db")).unwrap();
    assert!(
        !raw.windows(5).any(|w| w == b"Grace"),
        "agents' names are sealed"
    );
}

#[test]
fn customers_import_checks_every_entry_and_updates_by_number() {
    let dir = demo_config();
    let cfg = dir.path().to_str().unwrap();
    let bad = dir.path().join("bad.toml");
    fs::write(
        &bad,
        "[[customer]]\nnumber = \"+15550101\"\nname = \"A\"\n\n[[customer]]\nnumber = \"555-0102\"\nname = \"\"\n",
    )
    .unwrap();
    let out = switchboard(&[
        "customers",
        "import",
        bad.to_str().unwrap(),
        "--config",
        cfg,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing imported"), "{err}");
    assert!(
        err.contains(":5: customer[1].number: `555-0102` is not an E.164 number"),
        "{err}"
    );
    assert!(
        err.contains(":5: customer[1].name: must not be empty"),
        "{err}"
    );
    assert!(
        !dir.path().join("switchboard.db").exists(),
        "nothing was written"
    );

    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/customers.toml");
    for _ in 0..2 {
        let out = switchboard(&[
            "customers",
            "import",
            demo.to_str().unwrap(),
            "--config",
            cfg,
        ]);
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("imported 4 customer(s)") && text.contains("4 in the database"),
            "{text}"
        );
    }
}

#[test]
fn a_flow_syntax_error_is_located_and_its_numbers_not_reported_again() {
    let (dir, text) = config_with_demo_flow(|t| t.replace("type = \"lookup\"", "type = \"lookup"));
    let err = check_errors(&dir);
    let want = format!(
        "ivr-flows/demo.toml:{}: ",
        line_with(&text, "type = \"lookup")
    );
    assert!(err.starts_with(&want), "missing `{want}` in:\n{err}");
    assert_eq!(err.lines().count(), 1, "one line per problem:\n{err}");
}

#[test]
fn queue_and_callback_nodes_naming_unknown_queues_are_located() {
    let (dir, text) = config_with_demo_flow(|t| {
        t.replace("queue = \"orders\"", "queue = \"ordrs\"")
            .replace("queue = \"any_agent\"\nnext", "queue = \"anyone\"\nnext")
    });
    let err = check_errors(&dir);
    let queues = "queues: after_sales, any_agent, complaints, orders, vip";
    // A node's problems point at its `type` line.
    for want in [
        format!(
            "ivr-flows/demo.toml:{}: nodes.orders.queue: no queue `ordrs` in contact-center/queues.toml ({queues}) and no `agents` to ring",
            line_with(&text, "[nodes.orders]") + 1
        ),
        format!(
            "ivr-flows/demo.toml:{}: nodes.night.queue: no queue `anyone` in contact-center/queues.toml ({queues})",
            line_with(&text, "[nodes.night]") + 1
        ),
    ] {
        assert!(
            err.lines().any(|l| l == want),
            "missing `{want}` in:\n{err}"
        );
    }
    assert_eq!(err.lines().count(), 2, "one line per problem:\n{err}");
}

#[test]
fn a_flow_exit_to_a_missing_node_is_located_with_the_valid_nodes() {
    let (dir, text) =
        config_with_demo_flow(|t| t.replace("\"1\" = \"orders\"", "\"1\" = \"ordrs\""));
    let err = check_errors(&dir);
    let want = format!(
        "ivr-flows/demo.toml:{}: nodes.menu.choices.1: unknown node `ordrs`; nodes are: after_sales, any_agent, complaints, end, goodbye, hours, identify, menu, night, notice, orders, vip, vip_check, voicemail",
        line_with(&text, "ordrs")
    );
    assert!(
        err.lines().any(|l| l == want),
        "missing `{want}` in:\n{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line per problem:\n{err}");
}

#[test]
fn a_missing_prompt_file_is_located() {
    let (dir, text) =
        config_with_demo_flow(|t| t.replace("\"en/goodbye.wav\"", "\"en/good-bye.wav\""));
    let err = check_errors(&dir);
    let want = format!(
        "ivr-flows/demo.toml:{}: nodes.goodbye.prompt.en: missing prompt file `en/good-bye.wav`",
        line_with(&text, "good-bye")
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with(&want) && l.contains("en/goodbye.wav")),
        "missing `{want}` (and the files there) in:\n{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line per problem:\n{err}");
}

#[test]
fn numbers_naming_unknown_flows_or_calendars_are_located() {
    let (dir, _) = config_with_demo_flow(|t| t.to_string());
    let carrier = dir.path().join("sip-profiles/carrier.toml");
    let text = fs::read_to_string(&carrier)
        .unwrap()
        .replace("\"100\" = \"flow:demo\"", "\"100\" = \"flow:dmo\"")
        .replace("calendar = \"always-closed\"", "calendar = \"closed\"");
    fs::write(&carrier, &text).unwrap();
    let err = check_errors(&dir);
    let expect = [
        format!(
            "sip-profiles/carrier.toml:{}: routing.numbers.100: no flow `dmo`; flows (ivr-flows/*.toml): demo",
            line_with(&text, "flow:dmo")
        ),
        format!(
            "sip-profiles/carrier.toml:{}: routing.numbers.199: unknown calendar `closed`; calendars (ivr-flows/calendars.toml): always-closed, always-open, office",
            line_with(&text, "\"closed\"")
        ),
    ];
    for e in &expect {
        assert!(err.lines().any(|l| l == e), "missing `{e}` in:\n{err}");
    }
    assert_eq!(err.lines().count(), expect.len(), "{err}");
}

#[test]
fn transfers_through_a_trunk_without_a_proxy_are_located() {
    let (dir, _) = config_with_demo_flow(|t| t.to_string());
    let flow = r#"entry = "pick"

[nodes.pick]
type = "menu"
prompt = "en/goodbye.wav"
choices = { "1" = "out", "2" = "inside" }
exhausted = "out"

[nodes.out]
type = "transfer"
number = "+15557770"
trunk = "carrier"

[nodes.inside]
type = "transfer"
number = "1001"
trunk = "agents"
"#;
    fs::write(dir.path().join("ivr-flows/xfer.toml"), flow).unwrap();
    let err = check_errors(&dir);
    let expect = [
        format!(
            "ivr-flows/xfer.toml:{}: nodes.out.trunk: trunk profile `carrier` has no [outbound] proxy to call through; add one to sip-profiles/carrier.toml",
            line_with(flow, "[nodes.out]") + 1
        ),
        format!(
            "ivr-flows/xfer.toml:{}: nodes.inside.trunk: no trunk profile `agents`; trunk profiles: carrier",
            line_with(flow, "[nodes.inside]") + 1
        ),
    ];
    for e in &expect {
        assert!(err.lines().any(|l| l == e), "missing `{e}` in:\n{err}");
    }
    assert_eq!(err.lines().count(), expect.len(), "{err}");

    // With a proxy the flow is fine; a proxy that is not a sip: URI is not.
    let carrier = dir.path().join("sip-profiles/carrier.toml");
    let text = fs::read_to_string(&carrier).unwrap();
    let flow = flow.replace("\"2\" = \"inside\"", "\"2\" = \"out\"");
    let flow = &flow[..flow.find("[nodes.inside]").unwrap()];
    fs::write(dir.path().join("ivr-flows/xfer.toml"), flow).unwrap();
    let good = format!("{text}\n[outbound]\nproxy = \"sip:127.0.0.1:5090;transport=tcp\"\n");
    fs::write(&carrier, &good).unwrap();
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = format!("{text}\n[outbound]\nproxy = \"tel:+15550000\"\n");
    fs::write(&carrier, &bad).unwrap();
    let err = check_errors(&dir);
    let want = format!(
        "sip-profiles/carrier.toml:{}: outbound.proxy: `tel:+15550000` is not a sip: URI",
        line_with(&bad, "tel:+")
    );
    assert!(
        err.lines().any(|l| l.starts_with(&want)),
        "missing `{want}` in:\n{err}"
    );
}

/// A flow file being edited (and broken) does not lock the admin out of
/// the database: `customers import`, `calls` and `status` work; `reload` and `check` refuse
/// the broken flow with its line.
#[test]
fn read_commands_work_while_a_flow_file_is_broken() {
    let (dir, text) = config_with_demo_flow(|t| t.replace("[nodes.menu]", "[nodes.menu"));
    let config = dir.path().to_str().unwrap();
    let customers = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/customers.toml");
    let customers = customers.to_str().unwrap();
    for command in [
        vec!["customers", "import", customers],
        vec!["calls", "--json"],
        vec!["status"],
    ] {
        let mut args = command.clone();
        args.extend(["--config", config]);
        let out = switchboard(&args);
        assert!(
            out.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let calls = switchboard(&["calls", "--json", "--config", config]);
    let parsed: serde_json::Value = serde_json::from_slice(&calls.stdout).unwrap();
    assert_eq!(parsed, serde_json::json!([]), "no calls yet");
    let out = switchboard(&["reload", "--config", config]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let at = format!("ivr-flows/demo.toml:{}:", line_with(&text, "[nodes.menu"));
    assert!(err.contains(&at), "reload names `{at}`:\n{err}");
}

/// The demo's contact-center files with `edit` applied to one of them.
fn config_with_contact_center(
    file: &str,
    edit: impl Fn(&str) -> String,
) -> (tempfile::TempDir, String) {
    let (dir, _) = config_with_demo_flow(|t| t.to_string());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(
        &root.join("contact-center"),
        &dir.path().join("contact-center"),
    );
    let path = dir.path().join("contact-center").join(file);
    let text = edit(&fs::read_to_string(&path).unwrap());
    fs::write(&path, &text).unwrap();
    (dir, text)
}

#[test]
fn the_demo_contact_center_is_checked() {
    let (dir, _) = config_with_contact_center("queues.toml", |t| t.to_string());
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("contact center OK: 5 agent(s), 5 queue(s): after_sales, any_agent, complaints, orders, vip"),
        "{stdout}"
    );
}

#[test]
fn contact_center_mistakes_are_located() {
    let (dir, text) = config_with_contact_center("queues.toml", |t| {
        t.replace(
            "strategy = \"longest-idle\"\nrelax",
            "strategy = \"longest-wait\"\nrelax",
        )
        .replace("skills = { complaints = 7 }", "skills = { complaint = 7 }")
        .replace(
            "overflow = \"any_agent\"\nannounce_every_seconds = 20",
            "overflow = \"anyone\"\nannounce_every_seconds = 20",
        )
        .replacen("callback_digit = \"1\"", "callback_digit = \"12\"", 1)
    });
    let err = check_errors(&dir);
    let expect = [
        format!(
            "contact-center/queues.toml:{}: queue.orders.strategy: `longest-wait` is not a strategy; valid: longest-idle, best-skill, round-robin, fewest-calls, least-talk-time, ring-all",
            line_with(&text, "longest-wait")
        ),
        format!(
            "contact-center/queues.toml:{}: queue.complaints.skills.complaint: no agent has skill `complaint`; agents' skills (contact-center/agents.toml): after_sales, allergies, complaints, delivery, general, mandarin, orders, vip",
            line_with(&text, "complaint = 7")
        ),
        format!(
            "contact-center/queues.toml:{}: queue.vip.overflow: no queue `anyone`; queues: after_sales, any_agent, complaints, orders, vip",
            line_with(&text, "\"anyone\"")
        ),
        format!(
            "contact-center/queues.toml:{}: queue.orders.callback_digit: `12` is not one key (0-9, * or #)",
            line_with(&text, "\"12\"")
        ),
    ];
    for e in &expect {
        assert!(err.lines().any(|l| l == e), "missing `{e}` in:\n{err}");
    }
    assert_eq!(err.lines().count(), expect.len(), "{err}");

    let (dir, text) = config_with_contact_center("agents.toml", |t| {
        t.replace("id = \"1005\"", "id = \"1009\"")
            .replace("complaints = 5,", "complaints = 11,")
    });
    let err = check_errors(&dir);
    let expect = [
        format!(
            "contact-center/agents.toml:{}: agent[4].id: no SIP user `1009` on an internal profile (sip-profiles/); users: 1001, 1002, 1003, 1004, 1005",
            line_with(&text, "1009")
        ),
        format!(
            "contact-center/agents.toml:{}: agent[3].skills.complaints: 11 is out of range; valid: 1 to 10",
            line_with(&text, "complaints = 11")
        ),
    ];
    for e in &expect {
        assert!(err.lines().any(|l| l == e), "missing `{e}` in:\n{err}");
    }
    assert_eq!(err.lines().count(), expect.len(), "{err}");
}

/// The demo configuration with the demo `qa/rules.toml` edited by `edit`.
fn config_with_qa_rules(edit: impl Fn(&str) -> String) -> (tempfile::TempDir, String) {
    let (dir, _) = config_with_demo_flow(|t| t.to_string());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = edit(&fs::read_to_string(root.join("qa/rules.toml")).unwrap());
    fs::create_dir_all(dir.path().join("qa")).unwrap();
    fs::write(dir.path().join("qa/rules.toml"), &text).unwrap();
    (dir, text)
}

#[test]
fn qa_rules_are_optional_and_their_mistakes_located() {
    // Without qa/rules.toml: no QA rules, and nothing to report.
    let (dir, _) = config_with_demo_flow(|t| t.to_string());
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("QA rules"));

    let (dir, text) = config_with_qa_rules(|t| {
        t.replace("threshold = 0.8", "threshold = 1.2")
            .replace(
                "kind = \"banned\"\ndescription = \"The agent never",
                "kind = \"forbidden\"\ndescription = \"The agent never",
            )
            .replace("id = \"closing\"", "id = \"greeting\"")
            .replace("max_percent = 15", "max_percent = 15\nmax_seconds = 3")
            .replace("weight = 25", "weight = 0")
            .replace("[\"allergy\", \"allergic\"]", "[\"allergy\", \"\"]")
    });
    let err = check_errors(&dir);
    let expect = [
        format!(
            "qa/rules.toml:{}: matching.threshold: 1.2 is out of range; valid: more than 0 up to 1",
            line_with(&text, "threshold = 1.2")
        ),
        format!(
            "qa/rules.toml:{}: category[0].item[1].kind: `forbidden` is not a kind; valid: banned, required, resolution, silence, overtalk, hold",
            line_with(&text, "forbidden")
        ),
        format!(
            "qa/rules.toml:{}: category[1].item[1].when_caller_says[1]: empty phrase; write the words to listen for",
            line_with(&text, "when_caller_says = [")
        ),
        format!(
            "qa/rules.toml:{}: category[1].item[2].id: item `greeting` is already defined on line {}; ids are unique",
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("id = \"greeting\""))
                .nth(1)
                .unwrap()
                .0
                + 1,
            line_with(&text, "id = \"greeting\"")
        ),
        format!(
            "qa/rules.toml:{}: category[2].weight: 0 is out of range; valid: more than 0",
            line_with(&text, "weight = 0")
        ),
        format!(
            "qa/rules.toml:{}: category[3].item[1].max_seconds: `max_seconds` is not a field of `overtalk` items; theirs: max_percent",
            line_with(&text, "max_seconds = 3")
        ),
    ];
    for e in &expect {
        assert!(err.lines().any(|l| l == e), "missing `{e}` in:\n{err}");
    }
    assert_eq!(err.lines().count(), expect.len(), "{err}");
}

#[test]
fn bad_qa_settings_are_located() {
    let dir = demo_config();
    let switch = dir.path().join("switchboard.toml");
    let text = fs::read_to_string(&switch)
        .unwrap()
        .replace("recognizer = \"pocketsphinx\"", "recognizer = \"whisper\"");
    fs::write(&switch, &text).unwrap();
    let out = switchboard(&["check", "--config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .position(|l| l.starts_with("recognizer = \"whisper\""))
        .unwrap()
        + 1;
    let want = format!(
        "switchboard.toml:{line}: qa.recognizer: `whisper` is not a recognizer; valid: \"pocketsphinx\", \"http\""
    );
    assert!(
        err.lines().any(|l| l == want),
        "missing `{want}` in:\n{err}"
    );
}
