//! The floor: agents' states and callers kept consistent, by example and
//! by a property test over random event sequences.

use proptest::prelude::*;

use super::agent::{AgentEvent, AgentState, EntryId};
use super::floor::{Floor, Order, Stage};
use super::queue::{QueueSpec, Strategy as Routing};
use super::router::{AgentSkills, Router};

fn floor(strategy: Routing, max_missed: u32) -> Floor {
    let agents = (0..4)
        .map(|i| AgentSkills {
            id: format!("10{i:02}"),
            skills: vec![(i % 2, 5), (2, 1 + i as u8)],
        })
        .collect();
    let queues = vec![
        QueueSpec {
            name: "orders".into(),
            skills: vec![(0, 1)],
            strategy,
            relax: vec![],
        },
        QueueSpec {
            name: "complaints".into(),
            skills: vec![(1, 1)],
            strategy,
            relax: vec![],
        },
        QueueSpec {
            name: "any".into(),
            skills: vec![(2, 1)],
            strategy,
            relax: vec![],
        },
    ];
    Floor::new(
        Router::new(3, agents, queues),
        max_missed,
        vec![5_000, 0, 1_000],
    )
}

fn offers(orders: &[Order]) -> Vec<(EntryId, Vec<usize>)> {
    orders
        .iter()
        .filter_map(|o| match o {
            Order::Offer { entry, agents } => Some((*entry, agents.to_vec())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_caller_reaches_a_ready_agent_and_wrap_up_holds_them() {
    let mut f = floor(Routing::LongestIdle, 3);
    assert!(
        offers(&f.join(1, 0, 0, 0, 0)).is_empty(),
        "nobody is logged in"
    );
    let o = f.on_agent(0, AgentEvent::Ready, 10).unwrap();
    assert_eq!(offers(&o), [(1, vec![0])]);
    assert_eq!(f.agent(0).state, AgentState::Reserved { entry: 1 });
    f.on_agent(0, AgentEvent::Ring { entry: 1 }, 20).unwrap();
    f.on_agent(0, AgentEvent::Answer { entry: 1 }, 30).unwrap();
    assert!(matches!(
        f.entry(1).unwrap().stage,
        Stage::Connected { agent: 0, .. }
    ));
    f.join(2, 0, 0, 40, 40);
    let o = f.leave(1, 1_000);
    assert!(offers(&o).is_empty(), "wrap-up holds the agent");
    assert_eq!(f.agent(0).state, AgentState::WrapUp { until: 6_000 });
    assert!(offers(&f.tick(5_999)).is_empty());
    assert_eq!(offers(&f.tick(6_000)), [(2, vec![0])]);
}

#[test]
fn a_direct_offer_rings_that_agent_and_falls_back_to_the_queue() {
    let mut f = floor(Routing::LongestIdle, 3);
    f.on_agent(0, AgentEvent::Ready, 0).unwrap();
    f.on_agent(2, AgentEvent::Ready, 5).unwrap();
    assert!(
        f.join_direct(1, 0, 0, 10, 1, 10).is_none(),
        "1 is logged out"
    );
    let o = f.join_direct(1, 0, 0, 10, 2, 10).unwrap();
    assert_eq!(
        offers(&o),
        [(1, vec![2])],
        "not the longest idle: the one named"
    );
    assert_eq!(f.agent(2).state, AgentState::Reserved { entry: 1 });
    assert!(
        f.join_direct(2, 0, 0, 10, 2, 10).is_none(),
        "2 is taken now"
    );
    // No answer: the caller waits in queue 0, where agent 0 takes them.
    let o = f
        .on_agent(2, AgentEvent::NoAnswer { entry: 1 }, 20)
        .unwrap();
    assert_eq!(offers(&o), [(1, vec![0])]);
    f.on_agent(0, AgentEvent::Answer { entry: 1 }, 30).unwrap();
    let o = f.leave(1, 40);
    assert!(offers(&o).is_empty());
    assert!(matches!(f.agent(0).state, AgentState::WrapUp { .. }));
}

#[test]
fn missed_offers_go_to_the_next_agent_then_make_the_agent_not_ready() {
    let mut f = floor(Routing::LongestIdle, 2);
    f.on_agent(0, AgentEvent::Ready, 0).unwrap();
    f.on_agent(2, AgentEvent::Ready, 5).unwrap();
    assert_eq!(offers(&f.join(1, 0, 0, 10, 10)), [(1, vec![0])]);
    let o = f
        .on_agent(0, AgentEvent::NoAnswer { entry: 1 }, 20)
        .unwrap();
    assert_eq!(
        offers(&o),
        [(1, vec![2])],
        "the next agent (0 is idle since 20)"
    );
    let o = f
        .on_agent(2, AgentEvent::NoAnswer { entry: 1 }, 30)
        .unwrap();
    assert_eq!(offers(&o), [(1, vec![0])]);
    f.on_agent(0, AgentEvent::NoAnswer { entry: 1 }, 40)
        .unwrap();
    assert_eq!(
        f.agent(0).state,
        AgentState::NotReady {
            reason: "missed 2 offers".into()
        }
    );
    assert_eq!(f.agent(2).state, AgentState::Reserved { entry: 1 });
}

#[test]
fn ring_all_connects_the_first_to_answer_and_frees_the_others() {
    let mut f = floor(Routing::RingAll, 3);
    for a in 0..4 {
        f.on_agent(a, AgentEvent::Ready, 0).unwrap();
    }
    assert_eq!(offers(&f.join(1, 2, 0, 0, 0)), [(1, vec![0, 1, 2, 3])]);
    let o = f.on_agent(2, AgentEvent::Answer { entry: 1 }, 10).unwrap();
    let stopped: Vec<usize> = o
        .iter()
        .filter_map(|o| match o {
            Order::StopRinging { agent, .. } => Some(*agent),
            _ => None,
        })
        .collect();
    assert_eq!(stopped, [0, 1, 3]);
    assert!(matches!(f.agent(1).state, AgentState::Available { .. }));
    assert_eq!(f.agent(1).missed, 0, "withdrawn, not missed");
}

#[test]
fn logging_out_mid_ring_puts_the_caller_back_in_line() {
    let mut f = floor(Routing::LongestIdle, 3);
    f.on_agent(0, AgentEvent::Ready, 0).unwrap();
    f.join(1, 0, 0, 0, 0);
    f.on_agent(0, AgentEvent::Ring { entry: 1 }, 1).unwrap();
    let o = f.on_agent(0, AgentEvent::LogOut, 2).unwrap();
    assert!(o.contains(&Order::StopRinging { entry: 1, agent: 0 }));
    assert_eq!(f.entry(1).unwrap().stage, Stage::Waiting);
    assert_eq!(f.router().position(1), Some(1));
    assert!(f.on_agent(0, AgentEvent::Answer { entry: 1 }, 3).is_err());
}

#[test]
fn a_break_asked_for_during_a_call_starts_when_it_ends() {
    let mut f = floor(Routing::LongestIdle, 3);
    f.on_agent(0, AgentEvent::Ready, 0).unwrap();
    f.join(1, 0, 0, 0, 0);
    f.on_agent(0, AgentEvent::Answer { entry: 1 }, 1).unwrap();
    let reason = "lunch".to_string();
    f.on_agent(
        0,
        AgentEvent::NotReady {
            reason: reason.clone(),
        },
        2,
    )
    .unwrap();
    assert_eq!(f.agent(0).state, AgentState::OnCall { entry: 1 });
    f.on_agent(
        0,
        AgentEvent::CallEnded {
            entry: 1,
            wrap_up_ms: 0,
        },
        3,
    )
    .unwrap();
    assert_eq!(f.agent(0).state, AgentState::NotReady { reason });
}

/// One random step of the property test.
#[derive(Debug, Clone)]
enum Step {
    Join { queue: usize, priority: u8 },
    Leave(usize),
    Agent(usize, Ev),
    Tick(i64),
    Restart,
}

/// An agent event; the entry (when it takes one) is the agent's own, or
/// a random one to try events that must be refused.
#[derive(Debug, Clone)]
enum Ev {
    Ready,
    Break,
    LogOut,
    Ring(Option<usize>),
    Answer(Option<usize>),
    NoAnswer(Option<usize>),
    Withdraw(Option<usize>),
    Hangup(Option<usize>),
    Extend,
    EndpointLost,
}

fn step() -> impl Strategy<Value = Step> {
    let entry = proptest::option::of(0usize..12);
    let ev = prop_oneof![
        3 => Just(Ev::Ready),
        1 => Just(Ev::Break),
        1 => Just(Ev::LogOut),
        2 => entry.clone().prop_map(Ev::Ring),
        3 => entry.clone().prop_map(Ev::Answer),
        2 => entry.clone().prop_map(Ev::NoAnswer),
        1 => entry.clone().prop_map(Ev::Withdraw),
        2 => entry.prop_map(Ev::Hangup),
        1 => Just(Ev::Extend),
        1 => Just(Ev::EndpointLost),
    ];
    prop_oneof![
        3 => (0usize..3, prop_oneof![Just(0u8), Just(100u8)])
            .prop_map(|(queue, priority)| Step::Join { queue, priority }),
        2 => (0usize..12).prop_map(Step::Leave),
        8 => (0usize..4, ev).prop_map(|(a, e)| Step::Agent(a, e)),
        2 => (0i64..8_000).prop_map(Step::Tick),
        1 => Just(Step::Restart),
    ]
}

/// Every agent held for a caller is held by a caller who is there, and
/// the other way round; waiting callers are in line; availability agrees
/// with the router; no offer that could be made is left unmade.
fn check(f: &Floor, now: i64) -> Result<(), TestCaseError> {
    for a in 0..4 {
        let st = &f.agent(a).state;
        if let Some(e) = st.entry() {
            let entry = f.entry(e);
            prop_assert!(entry.is_some(), "agent {a} {st:?} for a caller who left");
            match (&entry.unwrap().stage, st) {
                (
                    Stage::Offered(agents),
                    AgentState::Reserved { .. } | AgentState::Ringing { .. },
                ) => {
                    prop_assert!(agents.contains(&a), "agent {a} {st:?} not among {agents:?}")
                }
                (Stage::Connected { agent, .. }, AgentState::OnCall { .. }) => {
                    prop_assert_eq!(*agent, a)
                }
                (stage, st) => prop_assert!(false, "agent {a} {st:?} but the caller is {stage:?}"),
            }
        }
        let available = matches!(st, AgentState::Available { .. });
        prop_assert_eq!(available, f.router().is_available(a), "agent {}", a);
    }
    for (id, e) in f.entries() {
        match &e.stage {
            Stage::Waiting => prop_assert!(f.router().position(*id).is_some(), "{id} out of line"),
            Stage::Offered(agents) => {
                prop_assert!(!agents.is_empty());
                for a in agents {
                    prop_assert!(
                        f.agent(*a).state.is_offered() && f.agent(*a).state.entry() == Some(*id)
                    );
                }
            }
            Stage::Connected { agent, .. } => {
                prop_assert_eq!(&f.agent(*agent).state, &AgentState::OnCall { entry: *id })
            }
        }
    }
    prop_assert_eq!(f.router().clone().decide(now), None, "an offer left unmade");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn no_agent_is_ever_stranded(
        steps in proptest::collection::vec(step(), 1..120),
        ring_all in any::<bool>(),
    ) {
        let strategy = if ring_all { Routing::RingAll } else { Routing::LongestIdle };
        let mut f = floor(strategy, 2);
        let mut now = 0i64;
        let mut next_entry: EntryId = 0;
        for s in steps {
            now += 7;
            let pick = |f: &Floor, a: usize, e: Option<usize>| {
                e.map_or_else(|| f.agent(a).state.entry().unwrap_or(99), |e| e as EntryId)
            };
            match s {
                Step::Join { queue, priority } => {
                    f.join(next_entry, queue, priority, now, now);
                    next_entry += 1;
                }
                Step::Leave(e) => {
                    f.leave(e as EntryId, now);
                }
                Step::Agent(a, ev) => {
                    let event = match ev {
                        Ev::Ready => AgentEvent::Ready,
                        Ev::Break => AgentEvent::NotReady { reason: "break".into() },
                        Ev::LogOut => AgentEvent::LogOut,
                        Ev::Ring(e) => AgentEvent::Ring { entry: pick(&f, a, e) },
                        Ev::Answer(e) => AgentEvent::Answer { entry: pick(&f, a, e) },
                        Ev::NoAnswer(e) => AgentEvent::NoAnswer { entry: pick(&f, a, e) },
                        Ev::Withdraw(e) => AgentEvent::Withdraw { entry: pick(&f, a, e) },
                        Ev::Hangup(e) => AgentEvent::CallEnded { entry: pick(&f, a, e), wrap_up_ms: 0 },
                        Ev::Extend => AgentEvent::ExtendWrapUp { ms: 1_000 },
                        Ev::EndpointLost => AgentEvent::EndpointLost,
                    };
                    let _ = f.on_agent(a, event, now);
                }
                Step::Tick(ms) => {
                    now += ms;
                    f.tick(now);
                }
                Step::Restart => {
                    f.restarted(now);
                }
            }
            check(&f, now)?;
        }
    }
}
