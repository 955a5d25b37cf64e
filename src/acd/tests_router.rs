//! The routing decision: skills, priorities, strategies, relaxation.

use super::queue::{QueueSpec, Relaxation, Strategy};
use super::router::{AgentSkills, Router};

const ORDERS: usize = 0;
const COMPLAINTS: usize = 1;
const VIP: usize = 2;

fn agent(id: &str, skills: &[(usize, u8)]) -> AgentSkills {
    AgentSkills {
        id: id.into(),
        skills: skills.to_vec(),
    }
}

fn queue(name: &str, skills: &[(usize, u8)], strategy: Strategy) -> QueueSpec {
    QueueSpec {
        name: name.into(),
        skills: skills.to_vec(),
        strategy,
        relax: Vec::new(),
    }
}

/// Agents: 0 orders 5, 1 orders 9 + complaints 4, 2 complaints 8 + vip 10.
fn floor(strategy: Strategy) -> Router {
    Router::new(
        3,
        vec![
            agent("1001", &[(ORDERS, 5)]),
            agent("1002", &[(ORDERS, 9), (COMPLAINTS, 4)]),
            agent("1003", &[(COMPLAINTS, 8), (VIP, 10)]),
        ],
        vec![
            queue("orders", &[(ORDERS, 1)], strategy),
            queue("complaints", &[(COMPLAINTS, 5)], strategy),
            queue("vip", &[(VIP, 1)], strategy),
        ],
    )
}

fn all_available(r: &mut Router, since: &[i64]) {
    for (a, &t) in since.iter().enumerate() {
        r.set_available(a, Some(t));
    }
}

#[test]
fn callers_go_to_agents_with_the_skill() {
    let mut r = floor(Strategy::LongestIdle);
    all_available(&mut r, &[0, 0, 0]);
    r.enqueue(10, 1, 0, 100); // complaints needs proficiency 5: only 1003
    let d = r.decide(1_000).unwrap();
    assert_eq!((d.entry, d.queue, d.agents.as_slice()), (10, 1, &[2][..]));
    assert!(!r.is_available(2), "claimed");
    r.enqueue(11, 1, 0, 200);
    assert_eq!(r.decide(1_000), None, "1002 has complaints 4 < 5");
    assert_eq!(r.waiting(1), 1);
}

#[test]
fn higher_priority_first_then_longest_waiting_across_queues() {
    let mut r = Router::new(
        3,
        vec![agent("1002", &[(ORDERS, 9), (COMPLAINTS, 9)])],
        vec![
            queue("orders", &[(ORDERS, 1)], Strategy::LongestIdle),
            queue("complaints", &[(COMPLAINTS, 5)], Strategy::LongestIdle),
        ],
    );
    r.enqueue(1, ORDERS, 0, 100);
    r.enqueue(2, ORDERS, 0, 50);
    r.enqueue(3, ORDERS, 100, 900);
    r.enqueue(4, COMPLAINTS, 0, 10);
    let mut served = Vec::new();
    for _ in 0..4 {
        r.set_available(0, Some(0));
        served.push(r.decide(1_000).unwrap().entry);
    }
    assert_eq!(
        served,
        [3, 4, 2, 1],
        "the VIP first, then by time waited whatever the queue"
    );
    assert_eq!(r.decide(1_000), None);
}

#[test]
fn longest_idle_agent_first() {
    let mut r = floor(Strategy::LongestIdle);
    all_available(&mut r, &[300, 100, 200]);
    r.enqueue(1, ORDERS, 0, 0);
    assert_eq!(r.decide(1_000).unwrap().agents.as_slice(), &[1]);
    r.enqueue(2, ORDERS, 0, 0);
    assert_eq!(r.decide(1_000).unwrap().agents.as_slice(), &[0]);
}

#[test]
fn best_skill_then_round_robin_then_ring_all() {
    let mut r = floor(Strategy::BestSkill);
    all_available(&mut r, &[0, 500, 0]);
    r.enqueue(1, ORDERS, 0, 0);
    assert_eq!(r.decide(1_000).unwrap().agents.as_slice(), &[1], "orders 9");

    let mut r = floor(Strategy::RoundRobin);
    let mut offered = Vec::new();
    for e in 0..4 {
        all_available(&mut r, &[0, 0, 0]);
        r.enqueue(e, ORDERS, 0, 0);
        offered.push(r.decide(1_000).unwrap().agents[0]);
    }
    assert_eq!(offered, [0, 1, 0, 1], "the two orders agents in turn");

    let mut r = floor(Strategy::RingAll);
    all_available(&mut r, &[0, 0, 0]);
    r.enqueue(1, ORDERS, 0, 0);
    assert_eq!(r.decide(1_000).unwrap().agents.as_slice(), &[0, 1]);
    assert!(!r.is_available(0) && !r.is_available(1) && r.is_available(2));
}

#[test]
fn fewest_calls_and_least_talk_time() {
    let mut r = floor(Strategy::FewestCalls);
    all_available(&mut r, &[0, 100, 0]);
    r.note_answered(0);
    r.enqueue(1, ORDERS, 0, 0);
    assert_eq!(r.decide(1_000).unwrap().agents.as_slice(), &[1]);

    let mut r = floor(Strategy::LeastTalkTime);
    all_available(&mut r, &[0, 0, 0]);
    r.note_talk(1, 60_000);
    r.note_talk(0, 30_000);
    r.enqueue(1, ORDERS, 0, 0);
    assert_eq!(r.decide(1_000).unwrap().agents.as_slice(), &[0]);
}

#[test]
fn proficiency_relaxes_as_the_caller_waits() {
    let mut spec = queue("complaints", &[(COMPLAINTS, 7)], Strategy::LongestIdle);
    spec.relax = vec![
        Relaxation {
            after_ms: 30_000,
            min_proficiency: 3,
        },
        Relaxation {
            after_ms: 60_000,
            min_proficiency: 1,
        },
    ];
    let mut r = Router::new(
        3,
        vec![
            agent("a", &[(COMPLAINTS, 4)]),
            agent("b", &[(COMPLAINTS, 1)]),
        ],
        vec![spec],
    );
    r.set_available(0, Some(0));
    r.set_available(1, Some(0));
    r.enqueue(1, 0, 0, 0);
    assert_eq!(r.decide(29_999), None, "nobody has 7");
    assert_eq!(r.decide(30_000).unwrap().agents.as_slice(), &[0], "4 >= 3");
    r.enqueue(2, 0, 0, 0);
    assert_eq!(r.decide(59_999), None, "b has 1 < 3");
    assert_eq!(r.decide(60_000).unwrap().agents.as_slice(), &[1]);
}

/// A VIP who just joined cannot be served by the only agent yet (the
/// queue relaxes after 30 s); a standard caller of the same queue, who has
/// waited 40 s, can: the scan goes on to the next priority band.
#[test]
fn a_band_nobody_can_serve_does_not_block_the_next() {
    let mut spec = queue("complaints", &[(COMPLAINTS, 9)], Strategy::LongestIdle);
    spec.relax = vec![Relaxation {
        after_ms: 30_000,
        min_proficiency: 1,
    }];
    let mut r = Router::new(3, vec![agent("a", &[(COMPLAINTS, 2)])], vec![spec]);
    r.set_available(0, Some(0));
    r.enqueue(1, 0, 100, 39_000);
    r.enqueue(2, 0, 0, 0);
    assert_eq!(r.decide(40_000).unwrap().entry, 2);
}

#[test]
fn an_entry_put_back_keeps_its_place() {
    let mut r = floor(Strategy::LongestIdle);
    r.enqueue(1, ORDERS, 0, 100);
    r.enqueue(2, ORDERS, 0, 200);
    r.set_available(0, Some(0));
    assert_eq!(r.decide(1_000).unwrap().entry, 1);
    r.enqueue(3, ORDERS, 0, 300);
    r.enqueue(1, ORDERS, 0, 100); // the offer failed
    assert_eq!(r.position(1), Some(1));
    assert_eq!(r.position(3), Some(3));
    assert!(r.remove(2));
    assert!(!r.remove(2));
    assert_eq!(r.position(3), Some(2));
}
