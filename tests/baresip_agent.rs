//! Issue 2 (SIP core) with a real softphone: baresip registers as agent
//! 1001 (digest auth, UDP) and auto-answers; a SIPp UAC on the carrier
//! profile calls sip:1001@.
//!
//! Pass/fail: baresip reports its registration accepted ("200 OK" for
//! its REGISTER) within 15 s; the SIPp call (`uac_call.xml`: INVITE, 200,
//! ACK, 500 ms, BYE, 200) exits 0 with 1 successful call; baresip's
//! output shows "Call established". With media (issue 3): see
//! `baresip_agent_hears_the_caller_through_the_switch`.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn baresip_agent_registers_and_answers_a_carrier_call() {
    let sw = Switch::start(SwitchOpts::new());
    let phone = Baresip::start_agent("1001", "pw1001", sw.agents_port, 60);

    let registered = phone.wait_for_any(&["} 200 OK", "binding]"], Duration::from_secs(15));
    assert!(
        registered,
        "baresip did not register as 1001 within 15 s; its output:\n{}",
        phone.output()
    );

    let r = SippClient::new(&sw.carrier(), "uac_call.xml", "20s")
        .media()
        .service("1001")
        .run(Duration::from_secs(30));
    assert!(
        r.ok() && r.successful == 1,
        "carrier call to baresip agent 1001:\n{}\n--- baresip ---\n{}",
        r.describe(),
        phone.output()
    );
    assert!(
        phone.wait_for_any(&["Call established"], Duration::from_secs(5)),
        "baresip never reported the call established:\n{}",
        phone.output()
    );
}

/// Issue 3 (media core) with a real softphone: a talking SIPp caller
/// (g711a.pcap speech) reaches baresip as agent 1001 through the anchored
/// media; baresip plays a 440 Hz tone.
///
/// Pass/fail: the call succeeds; baresip's `sndfile` recording of what it
/// received has the caller's speech (at least 5 s above the speech
/// threshold); the switch's recording has the caller on the left and
/// baresip's tone on the right, both for at least 5 s.
#[test]
fn baresip_agent_hears_the_caller_through_the_switch() {
    let sw = Switch::start(SwitchOpts::new());
    let phone = Baresip::start_agent("1001", "pw1001", sw.agents_port, 60);
    assert!(
        phone.wait_for_any(&["} 200 OK", "binding]"], Duration::from_secs(15)),
        "baresip did not register:\n{}",
        phone.output()
    );
    let r = talking_call_to(&sw.carrier(), "8", Duration::from_secs(40));
    assert!(
        r.ok(),
        "talking call to baresip:\n{}\n--- baresip ---\n{}",
        r.describe(),
        phone.output()
    );
    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    let call = &calls[0];
    assert_eq!(call["disposition"], "answered", "{call:#}");

    // What baresip heard: sndfile closes its file when the call ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let heard = loop {
        let spans = phone
            .received_audio_files()
            .last()
            .map(|f| speech_spans(&f.to_string_lossy(), 300.0));
        match spans {
            Some(s) if s[0].is_some() => break s[0],
            _ if std::time::Instant::now() >= deadline => break None,
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let (from, to) = heard.unwrap_or_else(|| {
        panic!(
            "baresip's received audio has no speech; files {:?}\n{}",
            phone.received_audio_files(),
            phone.output()
        )
    });
    assert!(
        to - from >= 5.0,
        "baresip heard the caller for {from}..{to} s"
    );

    let path = call["recordings"][0]["path"].as_str().expect("a recording");
    let spans = speech_spans(path, 300.0);
    let caller = spans[0].expect("caller on the left");
    let agent = spans[1].expect("baresip's tone on the right");
    assert!(caller.1 - caller.0 >= 5.0, "caller {caller:?}");
    assert!(agent.1 - agent.0 >= 5.0, "agent {agent:?}");
}

/// The caller's SDP: PCMU with telephone-event, session version `version`,
/// direction `dir`.
fn caller_sdp(port: u16, version: u32, dir: &str) -> String {
    format!(
        "v=0\r\no=- 1 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na={dir}\r\n"
    )
}

/// Sends `ms` of PCMU digital silence (20 ms packets) from the caller.
fn send_silence(caller: &RawCaller, seq: &mut u16, ts: &mut u32, ms: u64) {
    for _ in 0..ms / 20 {
        caller.send_rtp(0, *seq, *ts, false, &[0xff; 160]);
        *seq = seq.wrapping_add(1);
        *ts = ts.wrapping_add(160);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The demo's music on hold as the switch sends it to a PCMU leg: 20 ms
/// frames of mu-law.
fn music_frames() -> Vec<Vec<u8>> {
    let path = repo_root().join("prompts/music-on-hold.wav");
    let mut r = hound::WavReader::open(&path).expect("prompts/music-on-hold.wav");
    assert_eq!(r.spec().sample_rate, 8000, "the test expects 8 kHz music");
    let pcm: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    pcm.chunks_exact(160)
        .map(|f| {
            let mut out = vec![0u8; 160];
            switchboard::media::g711::encode_ulaw_into(f, &mut out);
            out
        })
        .collect()
}

/// Issue 3 (media core): music on hold to the held party, with a real
/// softphone holding. A raw caller reaches baresip (agent 1001), which
/// plays its 440 Hz tone; baresip holds (its `hold` command), and the
/// switch re-offers the caller a=sendonly; 3 s later baresip resumes.
///
/// Pass/fail: the caller's leg is re-offered sendonly on hold and sendrecv
/// on resume; on hold the caller receives the demo's music on hold, frame
/// for frame from its start (`prompts/music-on-hold.wav` in mu-law), and
/// no longer baresip's tone; after the resume baresip's tone again; the
/// CDR journal says hold, resume.
#[test]
fn caller_held_by_the_agent_hears_music_on_hold() {
    let sw = Switch::start(SwitchOpts::new());
    let phone = Baresip::start_agent("1001", "pw1001", sw.agents_port, 60);
    assert!(
        phone.wait_for_any(&["} 200 OK", "binding]"], Duration::from_secs(15)),
        "baresip did not register:\n{}",
        phone.output()
    );
    let music = music_frames();
    let mut caller = RawCaller::new(sw.carrier_addr(), "1001");
    let port = caller.rtp.local_addr().unwrap().port();
    let (status, answer) = caller.invite_sdp(&caller_sdp(port, 1, "sendrecv"));
    assert_eq!(status, 200, "{answer}\n--- baresip ---\n{}", phone.output());
    let (mut seq, mut ts) = (1u16, 0u32);
    send_silence(&caller, &mut seq, &mut ts, 1000);
    let before = caller.receive(Duration::from_millis(200), Duration::from_millis(500));
    assert!(
        before
            .iter()
            .any(|(pt, p)| *pt == 0 && p.iter().any(|&b| b != 0xff)),
        "baresip's tone before the hold: {} packets",
        before.len()
    );
    assert!(
        !before.iter().any(|(_, p)| music.contains(p)),
        "music before the hold"
    );

    phone.command("hold");
    let offer = caller
        .answer_reinvite(&caller_sdp(port, 2, "recvonly"), Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no hold re-INVITE to the caller\n{}", phone.output()));
    assert!(offer.contains("a=sendonly"), "hold offer:\n{offer}");
    let held = caller.receive(Duration::from_millis(300), Duration::from_secs(3));
    let first = held
        .iter()
        .position(|(_, p)| p == &music[0])
        .unwrap_or_else(|| {
            panic!(
                "the music's first frame never came ({} packets)",
                held.len()
            )
        });
    let played: Vec<&Vec<u8>> = held[first..].iter().map(|(_, p)| p).collect();
    assert!(
        played.len() >= 100,
        "{} frames of music in 3 s",
        played.len()
    );
    for (k, p) in played.iter().enumerate() {
        assert_eq!(*p, &music[k % music.len()], "music frame {k}");
    }

    phone.command("resume");
    let offer = caller
        .answer_reinvite(&caller_sdp(port, 3, "sendrecv"), Duration::from_secs(5))
        .expect("a resume re-INVITE to the caller");
    assert!(offer.contains("a=sendrecv"), "resume offer:\n{offer}");
    send_silence(&caller, &mut seq, &mut ts, 500);
    let after = caller.receive(Duration::from_millis(200), Duration::from_millis(800));
    assert!(
        after
            .iter()
            .any(|(_, p)| p.iter().any(|&b| b != 0xff) && !music.contains(p)),
        "baresip's tone after the resume: {} packets",
        after.len()
    );
    assert_eq!(caller.bye(), 200);

    let calls = sw.wait_calls_ended(1, Duration::from_secs(10));
    let kinds: Vec<&str> = calls[0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| *k == "hold" || *k == "resume")
        .collect();
    assert_eq!(kinds, ["hold", "resume"], "{:#}", calls[0]);
}
