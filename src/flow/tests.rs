//! Loading and checking flows: the demo, each rule with the line and field
//! it reports, and reloads.

use super::model::*;
use super::*;

/// A configuration folder with `ivr-flows/` holding `files` and a prompts
/// folder holding `beep.wav` and `en/hello.wav`.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("ivr-flows");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::create_dir_all(dir.path().join("prompts/en")).unwrap();
    std::fs::write(dir.path().join("prompts/beep.wav"), b"RIFF").unwrap();
    std::fs::write(dir.path().join("prompts/en/hello.wav"), b"RIFF").unwrap();
    for (name, text) in files {
        std::fs::write(flows.join(name), text).unwrap();
    }
    dir
}

fn load(dir: &tempfile::TempDir) -> Result<FlowSet, Vec<ConfigProblem>> {
    load_set(
        &dir.path().join("ivr-flows"),
        &dir.path().join("prompts"),
        Arc::default(),
    )
}

const CALENDARS: &str =
    "[calendars.open]\nalways = \"open\"\n[calendars.shut]\nalways = \"closed\"\n";

/// The problems of a folder with `calendars.toml` and these files, as
/// `file:line: field: message` lines.
fn problems(files: &[(&str, &str)]) -> Vec<String> {
    let mut all = vec![("calendars.toml", CALENDARS)];
    all.extend_from_slice(files);
    match load(&folder(&all)) {
        Ok(_) => Vec::new(),
        Err(p) => p.iter().map(|p| p.to_string()).collect(),
    }
}

fn one_problem(files: &[(&str, &str)]) -> String {
    let p = problems(files);
    assert_eq!(p.len(), 1, "{p:#?}");
    p[0].clone()
}

fn starts(line: &str, prefix: &str) {
    assert!(
        line.starts_with(prefix),
        "`{line}` does not start with `{prefix}`"
    );
}

#[test]
fn the_demo_flow_loads_as_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let flows = Flows::load(&root.join("ivr-flows"), &root.join("prompts")).unwrap();
    let demo = flows.get("demo").unwrap();
    assert_eq!(demo.entry, "notice");
    assert_eq!(demo.calendar.as_deref(), Some("always-open"));
    let NodeKind::Disclosure {
        prompts, opt_out, ..
    } = &demo.entry_node().kind
    else {
        panic!("the entry is the recording notice");
    };
    assert_eq!(*opt_out, Some('9'));
    let PromptItem::Say { voice, .. } = prompts[0].pick(Some("zh"), "en") else {
        panic!("spoken");
    };
    assert_eq!(voice, "cmn");
    let PromptItem::Say { voice, .. } = prompts[0].pick(Some("fr"), "en") else {
        panic!("spoken");
    };
    assert_eq!(voice, "en");
    let NodeKind::Menu(menu) = &demo.node("menu").unwrap().kind else {
        panic!("menu");
    };
    let choices: Vec<(char, &str)> = menu.choices.iter().map(|(k, n)| (*k, n.as_str())).collect();
    assert_eq!(
        choices,
        [
            ('0', "any_agent"),
            ('1', "orders"),
            ('2', "after_sales"),
            ('3', "complaints")
        ]
    );
    assert!(matches!(
        &demo.node("hours").unwrap().kind,
        NodeKind::Calendar { calendar: None, open, closed } if open == "menu" && closed == "night"
    ));
    let NodeKind::Branch { cases, .. } = &demo.node("vip_check").unwrap().kind else {
        panic!("branch");
    };
    let vip = |tier: &'static str| {
        move |name: &str| (name == "customer.tier").then(|| Value::Text(tier.into()))
    };
    assert!(cases[0].when.is_true(&vip("VIP")));
    assert!(!cases[0].when.is_true(&vip("regular")));
    let set = flows.current();
    let now = jiff::Timestamp::now();
    assert_eq!(set.calendars().is_open("always-open", now), Some(true));
    assert_eq!(set.calendars().is_open("always-closed", now), Some(false));
    assert!(set.calendars().get("office").is_some());
}

const SMALL: &str = "entry = \"hello\"\n\n[nodes.hello]\ntype = \"play\"\nprompt = \"en/hello.wav\"\nnext = \"bye\"\n\n[nodes.bye]\ntype = \"hangup\"\n";

#[test]
fn a_small_flow_is_valid() {
    assert_eq!(problems(&[("small.toml", SMALL)]), Vec::<String>::new());
}

#[test]
fn syntax_errors_and_unknown_keys_name_their_line() {
    let p = one_problem(&[("f.toml", "entry = \"a\"\n[nodes.a]\ntype = \"hangup\n")]);
    starts(&p, "ivr-flows/f.toml:3: ");
    let p = one_problem(&[(
        "f.toml",
        "entry = \"a\"\n[nodes.a]\ntype = \"hangup\"\nnxt = \"b\"\n",
    )]);
    starts(&p, "ivr-flows/f.toml:4: nxt: unknown field `nxt`");
    let p = one_problem(&[("f.toml", "entri = \"a\"\n")]);
    starts(&p, "ivr-flows/f.toml:1: entri: unknown field `entri`");
}

#[test]
fn unknown_types_and_keys_of_other_types_list_what_is_valid() {
    let p = one_problem(&[("f.toml", "entry = \"a\"\n[nodes.a]\ntype = \"hangupp\"\n")]);
    assert_eq!(
        p,
        format!(
            "ivr-flows/f.toml:3: nodes.a.type: unknown node type `hangupp`; valid: {}",
            NODE_TYPES.join(", ")
        )
    );
    let p = one_problem(&[(
        "f.toml",
        "entry = \"a\"\n[nodes.a]\ntype = \"hangup\"\n\nnext = \"a\"\n",
    )]);
    assert_eq!(
        p,
        "ivr-flows/f.toml:5: nodes.a.next: `next` is not a key of a `hangup` node; its keys: (none besides type)"
    );
}

#[test]
fn required_keys_are_named_at_the_node() {
    let p = one_problem(&[(
        "f.toml",
        "entry = \"a\"\n[nodes.a]\ntype = \"play\"\nnext = \"b\"\n[nodes.b]\ntype = \"hangup\"\n",
    )]);
    assert_eq!(
        p,
        "ivr-flows/f.toml:3: nodes.a.prompt: a `play` node needs `prompt`"
    );
}

#[test]
fn exits_and_the_entry_must_name_nodes() {
    let text = "entry = \"strt\"\n[nodes.start]\ntype = \"menu\"\nprompt = \"beep.wav\"\nexhausted = \"end\"\n\n[nodes.start.choices]\n\"1\" = \"start\"\n\"2\" = \"ordrs\"\n[nodes.end]\ntype = \"hangup\"\n";
    let p = problems(&[("f.toml", text)]);
    assert_eq!(
        p,
        [
            "ivr-flows/f.toml:1: entry: unknown node `strt`; nodes are: end, start",
            "ivr-flows/f.toml:9: nodes.start.choices.2: unknown node `ordrs`; nodes are: end, start",
        ]
    );
}

#[test]
fn unreachable_nodes_are_reported() {
    let text = format!("{SMALL}[nodes.orphan]\ntype = \"hangup\"\n");
    let p = one_problem(&[("f.toml", &text)]);
    starts(
        &p,
        "ivr-flows/f.toml:11: nodes.orphan: unreachable: no exit leads to `orphan`",
    );
}

#[test]
fn loops_without_caller_input_are_reported_once() {
    let text = "entry = \"a\"\n[nodes.a]\ntype = \"play\"\nprompt = \"beep.wav\"\nnext = \"b\"\n[nodes.b]\ntype = \"branch\"\ncases = [{ when = \"digits == '1'\", next = \"end\" }]\ndefault = \"a\"\n[nodes.end]\ntype = \"hangup\"\n";
    let p = one_problem(&[("f.toml", text)]);
    assert_eq!(
        p,
        "ivr-flows/f.toml:3: nodes.a: loop without caller input through `a`, `b`: a caller would go round forever; put a menu or collect in it, or end it"
    );
    // The same loop through a menu is fine: the caller chooses.
    let text = text.replace(
        "type = \"play\"\nprompt = \"beep.wav\"\nnext = \"b\"",
        "type = \"menu\"\nprompt = \"beep.wav\"\nchoices = { \"1\" = \"b\" }\nexhausted = \"end\"",
    );
    assert_eq!(problems(&[("f.toml", &text)]), Vec::<String>::new());
}

#[test]
fn nodes_with_no_way_out_are_reported() {
    let text = "entry = \"m\"\n[nodes.m]\ntype = \"menu\"\nprompt = \"beep.wav\"\nchoices = { \"1\" = \"m\" }\nexhausted = \"m\"\n";
    let p = one_problem(&[("f.toml", text)]);
    starts(&p, "ivr-flows/f.toml:3: nodes.m: no way out");
}

#[test]
fn missing_prompt_files_name_the_line_of_the_file() {
    let text = "entry = \"a\"\n[nodes.a]\ntype = \"play\"\nprompt = [\n  \"beep.wav\",\n  \"en/helo.wav\",\n  { say = \"Hi\" },\n]\nnext = \"b\"\n[nodes.b]\ntype = \"hangup\"\n";
    let p = one_problem(&[("f.toml", text)]);
    assert_eq!(
        p,
        format!(
            "ivr-flows/f.toml:6: nodes.a.prompt[1]: missing prompt file `en/helo.wav` ({} does not exist); files there: en/hello.wav",
            Path::new("prompts/en/helo.wav").display()
        )
    );
    let p = one_problem(&[("f.toml", &SMALL.replace("en/hello.wav", "../secret.wav"))]);
    starts(
        &p,
        "ivr-flows/f.toml:5: nodes.hello.prompt: `../secret.wav` must be a path inside the prompts folder",
    );
}

#[test]
fn spoken_and_per_language_prompts_are_checked() {
    let p = one_problem(&[(
        "f.toml",
        &SMALL.replace("\"en/hello.wav\"", "{ say = \"Bonjour\", voice = \"fr\" }"),
    )]);
    assert_eq!(
        p,
        "ivr-flows/f.toml:5: nodes.hello.prompt.voice: unknown voice `fr`; valid: en, en-gb, en-us, cmn"
    );
    let p = one_problem(&[(
        "f.toml",
        &SMALL.replace("\"en/hello.wav\"", "{ zh = { say = \"你好\" } }"),
    )]);
    starts(
        &p,
        "ivr-flows/f.toml:5: nodes.hello.prompt: no `en` variant",
    );
    let p = one_problem(&[(
        "f.toml",
        &SMALL.replace(
            "\"en/hello.wav\"",
            "{ en = \"en/hello.wav\", fr = { say = \"Bonjour\" } }",
        ),
    )]);
    starts(
        &p,
        "ivr-flows/f.toml:5: nodes.hello.prompt.fr: no voice for `fr`",
    );
    let p = one_problem(&[("f.toml", &SMALL.replace("\"en/hello.wav\"", "42"))]);
    starts(
        &p,
        "ivr-flows/f.toml:5: nodes.hello.prompt: a prompt is a file",
    );
}

#[test]
fn bad_expressions_and_regexes_name_line_and_column() {
    let text = "entry = \"b\"\n[nodes.b]\ntype = \"branch\"\ncases = [\n  { when = \"caller.number matches '^(+44'\", next = \"end\" },\n  { when = \"customer.tier == VIP\", next = \"end\" },\n]\ndefault = \"end\"\n[nodes.end]\ntype = \"hangup\"\n";
    let p = problems(&[("f.toml", text)]);
    assert_eq!(p.len(), 2, "{p:#?}");
    starts(
        &p[0],
        "ivr-flows/f.toml:5: nodes.b.cases[0].when: `caller.number matches '^(+44'`: column 23: bad regex",
    );
    starts(
        &p[1],
        "ivr-flows/f.toml:6: nodes.b.cases[1].when: `customer.tier == VIP`: column 18: unknown variable `VIP` (text must be quoted)",
    );
}

#[test]
fn set_takes_expressions_and_literals() {
    let text = "entry = \"s\"\n[nodes.s]\ntype = \"set\"\nvars = { route = \"'vip'\", n = 3, ok = true, copy = \"caller.number\" }\nnext = \"end\"\n[nodes.end]\ntype = \"hangup\"\n";
    let dir = folder(&[("f.toml", text)]);
    let set = load(&dir).unwrap();
    let flow = set.get("f").unwrap();
    let NodeKind::Set { vars, .. } = &flow.node("s").unwrap().kind else {
        panic!("set");
    };
    let caller = |name: &str| (name == "caller.number").then(|| Value::Text("+4420".into()));
    let values: Vec<(&str, String)> = vars
        .iter()
        .map(|(k, e)| (k.as_str(), e.value(&caller).text()))
        .collect();
    assert_eq!(
        values,
        [
            ("copy", "+4420".to_string()),
            ("n", "3".into()),
            ("ok", "true".into()),
            ("route", "vip".into())
        ]
    );
    let p = one_problem(&[("f.toml", &text.replace("\"'vip'\"", "\"vip\""))]);
    starts(
        &p,
        "ivr-flows/f.toml:4: nodes.s.vars.route: `vip`: column 1: unknown variable `vip`",
    );
}

#[test]
fn calendars_must_exist_and_a_calendar_branch_needs_one() {
    let branch = "[nodes.h]\ntype = \"branch\"\nopen = \"end\"\nclosed = \"end\"\n[nodes.end]\ntype = \"hangup\"\n";
    let p = one_problem(&[("f.toml", &format!("entry = \"h\"\n{branch}"))]);
    starts(
        &p,
        "ivr-flows/f.toml:3: nodes.h.calendar: no calendar: name one here",
    );
    let p = one_problem(&[(
        "f.toml",
        &format!("entry = \"h\"\ncalendar = \"offce\"\n{branch}"),
    )]);
    assert_eq!(
        p,
        "ivr-flows/f.toml:2: calendar: unknown calendar `offce`; calendars (ivr-flows/calendars.toml): open, shut"
    );
    let named = branch.replace("open = \"end\"", "calendar = \"nope\"\nopen = \"end\"");
    let p = one_problem(&[("f.toml", &format!("entry = \"h\"\n{named}"))]);
    starts(
        &p,
        "ivr-flows/f.toml:4: nodes.h.calendar: unknown calendar `nope`",
    );
    let ok = branch.replace("open = \"end\"", "calendar = \"shut\"\nopen = \"end\"");
    assert!(problems(&[("f.toml", &format!("entry = \"h\"\n{ok}"))]).is_empty());
    let both = branch.replace("open = \"end\"", "default = \"end\"\nopen = \"end\"");
    let p = one_problem(&[(
        "f.toml",
        &format!("entry = \"h\"\ncalendar = \"open\"\n{both}"),
    )]);
    starts(
        &p,
        "ivr-flows/f.toml:4: nodes.h.type: a branch is on `cases`",
    );
}

#[test]
fn goto_names_a_flow_and_its_node_and_makes_that_node_reachable() {
    let main = "entry = \"g\"\n[nodes.g]\ntype = \"goto\"\nflow = \"other\"\nnode = \"second\"\n";
    let other =
        "entry = \"first\"\n[nodes.first]\ntype = \"hangup\"\n[nodes.second]\ntype = \"hangup\"\n";
    assert!(problems(&[("main.toml", main), ("other.toml", other)]).is_empty());
    let p = one_problem(&[("main.toml", &main.replace("\"other\"", "\"othr\""))]);
    assert_eq!(
        p,
        "ivr-flows/main.toml:4: nodes.g.flow: unknown flow `othr`; flows (ivr-flows/*.toml): main"
    );
    // (`second`, no longer a goto's target, is then unreachable.)
    let p = problems(&[
        ("main.toml", &main.replace("\"second\"", "\"third\"")),
        ("other.toml", other),
    ]);
    assert_eq!(
        p[0],
        "ivr-flows/main.toml:5: nodes.g.node: flow `other` has no node `third`; its nodes: first, second"
    );
    // A loop of gotos between flows never waits for the caller.
    let ping = "entry = \"g\"\n[nodes.g]\ntype = \"goto\"\nflow = \"pong\"\n";
    let pong = "entry = \"g\"\n[nodes.g]\ntype = \"goto\"\nflow = \"ping\"\n";
    let p = one_problem(&[("ping.toml", ping), ("pong.toml", pong)]);
    starts(
        &p,
        "ivr-flows/ping.toml:3: nodes.g: loop without caller input through `g`, `g` (flow pong)",
    );
}

#[test]
fn menus_collects_and_callbacks_check_their_keys() {
    let menu = "entry = \"m\"\n[nodes.m]\ntype = \"menu\"\nprompt = \"beep.wav\"\nchoices = { \"12\" = \"end\", \"#\" = \"end\" }\nretries = 11\nexhausted = \"end\"\n[nodes.end]\ntype = \"hangup\"\n";
    let p = problems(&[("f.toml", menu)]);
    assert_eq!(
        p,
        [
            "ivr-flows/f.toml:5: nodes.m.choices.12: `12` is not one telephone key; valid: 0-9, *, #, A-D",
            "ivr-flows/f.toml:6: nodes.m.retries: 11 is out of range; valid: 0 to 10",
        ]
    );
    let collect = "entry = \"c\"\n[nodes.c]\ntype = \"collect\"\nprompt = \"beep.wav\"\nmin_digits = 5\nmax_digits = 4\nterminator = \"##\"\nnext = \"end\"\nexhausted = \"end\"\n[nodes.end]\ntype = \"hangup\"\n";
    let p = problems(&[("f.toml", collect)]);
    assert_eq!(
        p,
        [
            "ivr-flows/f.toml:5: nodes.c.min_digits: 5 is more than max_digits (4)",
            "ivr-flows/f.toml:7: nodes.c.terminator: `##` is not one telephone key; valid: 0-9, *, #, A-D",
        ]
    );
    let ok = collect
        .replace("min_digits = 5", "min_digits = 4")
        .replace("\"##\"", "\"\"");
    let dir = folder(&[("f.toml", &ok)]);
    let NodeKind::Collect(c) = &load(&dir).unwrap().get("f").unwrap().nodes["c"].kind else {
        panic!("collect");
    };
    assert_eq!((c.min_digits, c.max_digits, c.terminator), (4, 4, None));
    assert_eq!(
        (c.first_digit_timeout_ms, c.inter_digit_timeout_ms),
        (5000, 3000)
    );
    let callback = "entry = \"c\"\n[nodes.c]\ntype = \"callback\"\nprompt = \"beep.wav\"\nconfirm_digit = \"2\"\nnext = \"end\"\n[nodes.end]\ntype = \"hangup\"\n";
    let p = one_problem(&[("f.toml", callback)]);
    starts(
        &p,
        "ivr-flows/f.toml:5: nodes.c.change_digit: the same key as confirm_digit (`2`)",
    );
}

#[test]
fn crm_lookups_check_their_url_and_need_a_fallback() {
    let text = "entry = \"l\"\n[nodes.l]\ntype = \"lookup\"\nsource = \"crm\"\nurl = \"https://crm.example/find?n={caller.numbr}\"\nfound = \"end\"\nnot_found = \"end\"\n[nodes.end]\ntype = \"hangup\"\n";
    let p = problems(&[("f.toml", text)]);
    assert_eq!(p.len(), 2, "{p:#?}");
    starts(
        &p[0],
        "ivr-flows/f.toml:5: nodes.l.url: unknown variable `{caller.numbr}`",
    );
    starts(
        &p[1],
        "ivr-flows/f.toml:3: nodes.l.failed: a `crm` lookup needs `failed`",
    );
    let ok = text.replace("numbr", "number").replace(
        "not_found = \"end\"",
        "not_found = \"end\"\nfailed = \"end\"\ntimeout_ms = 1500",
    );
    let dir = folder(&[("f.toml", &ok)]);
    let NodeKind::Lookup(l) = &load(&dir).unwrap().get("f").unwrap().nodes["l"].kind else {
        panic!("lookup");
    };
    let LookupSource::Crm(crm) = &l.source else {
        panic!("crm");
    };
    assert_eq!(crm.placeholders, ["caller.number"]);
    assert_eq!(crm.timeout_ms, 1500);
    let p = one_problem(&[(
        "f.toml",
        &text.replace("source = \"crm\"", "source = \"ldap\""),
    )]);
    assert_eq!(
        p,
        "ivr-flows/f.toml:4: nodes.l.source: unknown source `ldap`; valid: customers, crm"
    );
}

#[test]
fn transfers_have_exactly_one_target() {
    let node = |target: &str| format!("entry = \"t\"\n[nodes.t]\ntype = \"transfer\"\n{target}\n");
    for ok in [
        "extension = \"1001\"",
        "uri = \"sip:desk@pbx.example.com\"",
        "number = \"+442071234567\"\ntrunk = \"carrier\"",
    ] {
        assert!(problems(&[("f.toml", &node(ok))]).is_empty(), "{ok}");
    }
    let p = one_problem(&[("f.toml", &node("extension = \"1001\"\nuri = \"sip:a@b.c\""))]);
    starts(
        &p,
        "ivr-flows/f.toml:3: nodes.t.type: a `transfer` node needs exactly one of",
    );
    let p = one_problem(&[("f.toml", &node("uri = \"tel:123\""))]);
    starts(
        &p,
        "ivr-flows/f.toml:4: nodes.t.uri: `tel:123` is not a SIP URI",
    );
    let p = one_problem(&[("f.toml", &node("number = \"+44 20\"\ntrunk = \"carrier\""))]);
    starts(
        &p,
        "ivr-flows/f.toml:4: nodes.t.number: `+44 20` is not a phone number",
    );
    let p = problems(&[("f.toml", &node("number = \"+4420\""))]);
    assert_eq!(
        p,
        [
            "ivr-flows/f.toml:4: nodes.t.trunk: a number needs `trunk`: the trunk profile to call it through"
        ]
    );
}

#[test]
fn a_missing_folder_is_no_flows() {
    let dir = tempfile::tempdir().unwrap();
    let flows = Flows::load(&dir.path().join("ivr-flows"), dir.path()).unwrap();
    assert!(flows.current().is_empty());
    assert!(flows.get("demo").is_none());
}

#[test]
fn reload_swaps_only_a_valid_set_and_calls_keep_their_version() {
    let dir = folder(&[("calendars.toml", CALENDARS), ("f.toml", SMALL)]);
    let flows = Flows::load(&dir.path().join("ivr-flows"), &dir.path().join("prompts")).unwrap();
    let call = flows.current(); // a call in progress
    assert!(flows.force_calendar("shut", Some(true)));
    assert!(!flows.force_calendar("nope", Some(true)));

    // A broken edit: the problems come back and the old version stays.
    let flow_file = dir.path().join("ivr-flows/f.toml");
    std::fs::write(&flow_file, SMALL.replace("next = \"bye\"", "next = \"by\"")).unwrap();
    let p = flows.reload().unwrap_err();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, 6);
    assert!(Arc::ptr_eq(&call, &flows.current()));

    // A good edit: new calls get it; the call in progress keeps its own.
    std::fs::write(&flow_file, SMALL.replace("en/hello.wav", "beep.wav")).unwrap();
    flows.reload().unwrap();
    let new = flows.get("f").unwrap();
    assert!(matches!(
        &new.nodes["hello"].kind,
        NodeKind::Play { prompts, .. } if prompts[0] == Prompt::One(PromptItem::File("beep.wav".into()))
    ));
    assert!(matches!(
        &call.get("f").unwrap().nodes["hello"].kind,
        NodeKind::Play { prompts, .. } if prompts[0] == Prompt::One(PromptItem::File("en/hello.wav".into()))
    ));
    // The admin's force outlives the reload.
    let now = jiff::Timestamp::now();
    assert_eq!(flows.current().calendars().is_open("shut", now), Some(true));
}
